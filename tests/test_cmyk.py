"""CMYK read and written right: kept as four inks (filtered as four channels alike, the
profile kept) in JPEG and TIFF outputs, converted through its ICC profile to sRGB for
the others (against LittleCMS called through imagecodecs, and Pillow's ImageCms for
16 bits), refused in one line where its profile cannot convert it.

The CMYK profile is made here: Pillow and imagecodecs make only profiles of RGB, grey,
Lab and XYZ, and the public ones are large and licensed. An ICC v2 output profile
(class ``prtr``, data CMYK, connection space Lab) of two 8-bit lookup tables
(lut8Type): A2B0 from inks to Lab, a grid of 5 points an ink, and B2A0 from Lab back
to inks, 9 points an axis. Its press is made up and unlike the naive ``R = (1 - C)(1 -
K)``: its cyan takes some green, its magenta some blue, its full black is a dark grey,
so that a conversion through it and the naive one differ by tens of levels."""

import functools
import io
import struct

import imagecodecs
import numpy as np
import pytest
import tifffile
from helpers import assert_one_line_error, reference, run
from PIL import Image, ImageCms

_D50 = (0.9642, 1.0, 0.8249)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _lab_of_rgb(rgb: np.ndarray) -> np.ndarray:
    """Lab (D50) of linear-light RGB of sRGB's primaries, adapted to D50 (Bradford)."""
    matrix = np.array([[0.4360747, 0.3850649, 0.1430804], [0.2225045, 0.7168786, 0.0606169],
                       [0.0139322, 0.0971045, 0.7141733]])
    xyz = rgb @ matrix.T / np.array(_D50)
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def _press_lab(inks: np.ndarray) -> np.ndarray:
    """The made-up press's Lab of inks in 0-1 (..., 4)."""
    c, m, y, k = (inks[..., i] for i in range(4))
    light = np.stack([(1 - 0.9 * c) * (1 - 0.05 * m), (1 - 0.3 * c) * (1 - 0.85 * m) * (1 - 0.08 * y),
                      (1 - 0.25 * m) * (1 - 0.9 * y)], -1) * (1 - 0.95 * k)[..., None]
    return _lab_of_rgb(np.clip(light, 0, 1) * 0.92)


def _lab_bytes(lab: np.ndarray) -> np.ndarray:
    """Lab as lut8Type's 8-bit encoding: L* 0-100 to 0-255, a* and b* plus 128."""
    encoded = np.stack([lab[..., 0] * 255 / 100, lab[..., 1] + 128, lab[..., 2] + 128], -1)
    return np.clip(np.round(encoded), 0, 255).astype(np.uint8)


def _lut8(inputs: int, outputs: int, grid: int, table: np.ndarray) -> bytes:
    identity = bytes(range(256))
    matrix = b"".join(_s15(1.0 if row == column else 0.0) for row in range(3) for column in range(3))
    return (b"mft1" + bytes(4) + bytes([inputs, outputs, grid, 0]) + matrix + identity * inputs
            + table.astype(np.uint8).tobytes() + identity * outputs)


def _text_description(text: str) -> bytes:
    ascii_text = text.encode() + b"\0"
    return b"desc" + bytes(4) + struct.pack(">I", len(ascii_text)) + ascii_text + bytes(4 + 4 + 2 + 1 + 67)


@functools.cache
def cmyk_profile() -> bytes:
    """The profile's bytes."""
    points = np.linspace(0, 1, 5)
    inks = np.stack(np.meshgrid(points, points, points, points, indexing="ij"), -1).reshape(-1, 4)
    a2b = _lut8(4, 3, 5, _lab_bytes(_press_lab(inks)))
    # Lab to inks: the lightness and colour of each grid point as grey component
    # replacement would put them, roughly (only its shape matters to LittleCMS's black
    # point detection, which reads it).
    axis = np.linspace(0, 1, 9)
    lab = np.stack(np.meshgrid(axis * 100, axis * 255 - 128, axis * 255 - 128, indexing="ij"), -1).reshape(-1, 3)
    grey = 1 - lab[:, 0] / 100
    colour = np.clip(np.stack([-lab[:, 1], lab[:, 1], lab[:, 2]], -1) / 128, 0, 1)
    b2a = _lut8(3, 4, 9, np.round(np.column_stack([colour * (1 - grey[:, None]), grey]) * 255))
    tags = [(b"desc", _text_description("imgconv test press")),
            (b"wtpt", b"XYZ " + bytes(4) + b"".join(map(_s15, _D50))),
            (b"cprt", b"text" + bytes(4) + b"No copyright: made by imgconv's tests\0"),
            (b"A2B0", a2b), (b"B2A0", b2a)]
    offset, table, data = 128 + 4 + 12 * len(tags), b"", b""
    for signature, body in tags:
        body += bytes(-len(body) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (struct.pack(">I", size) + b"lcms" + bytes([2, 0x10, 0, 0]) + b"prtrCMYKLab " + bytes(12) + b"acsp"
              + bytes(24) + struct.pack(">I", 0) + b"".join(map(_s15, _D50)) + bytes(48))
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


# ``imgconv blur -r 2 -s 1``'s kernel.
_G = np.exp(-np.arange(-2, 3) ** 2 / 2.0)
_KERNEL = np.outer(_G, _G) / _G.sum() ** 2
BLUR = ["blur", "-r", "2", "-s", "1"]


def _inks(rng, dtype=np.uint8, channels=4):
    """Random inks (20 x 24), 16-bit ones multiples of 257 (their 8-bit values exact)."""
    values = rng.integers(0, 256, (20, 24, channels), dtype=np.uint8)
    return values if dtype == np.uint8 else values.astype(np.uint16) * np.uint16(257)


def _tiff(path, inks, profile=None, **options):
    extra = {"extrasamples": ["unassalpha"]} if inks.shape[2] == 5 else {}
    tifffile.imwrite(path, inks, photometric="separated", iccprofile=profile, **extra, **options)
    return path


def _srgb(inks):
    """LittleCMS's sRGB of 8-bit inks through the made profile, relative colorimetric
    with black-point compensation, called through imagecodecs."""
    return imagecodecs.cms_transform(inks, cmyk_profile(), imagecodecs.cms_profile("srgb"), colorspace="cmyk",
                                     outcolorspace="rgb", intent=imagecodecs.CMS.INTENT.RELATIVE_COLORIMETRIC,
                                     flags=imagecodecs.CMS.FLAGS.BLACKPOINTCOMPENSATION)


def _naive(inks):
    return np.asarray(Image.frombuffer("CMYK", inks.shape[1::-1], np.ascontiguousarray(inks), "raw", "CMYK", 0, 1)
                      .convert("RGB"))


def _within(actual, expected, levels):
    error = np.abs(actual.astype(np.float64) - expected).max()
    assert error <= levels, f"off by {error:.3f} levels"


def _ok(result):
    assert result.exit_code == 0 and result.stderr == "", result.stderr


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_cmyk_tiff_blurred_to_tiff_keeps_its_four_inks_depth_and_profile(tmp_path, rng, dtype):
    """Each ink filtered on its own (black is no alpha), as scipy filters a channel."""
    inks = _inks(rng, dtype)
    _ok(run(*BLUR, _tiff(tmp_path / "in.tif", inks, cmyk_profile()), tmp_path / "out.tif"))
    with tifffile.TiffFile(tmp_path / "out.tif") as tiff:
        page = tiff.pages[0]
        out, photometric, profile = page.asarray(), page.photometric, page.tags["InterColorProfile"].value
    assert photometric == tifffile.PHOTOMETRIC.SEPARATED and out.dtype == dtype and out.shape == inks.shape
    assert bytes(profile) == cmyk_profile()
    _within(out, reference(inks, _KERNEL), 0.5 + (1e-3 if dtype == np.uint8 else 1e-2))  # float32's rounding


def test_cmyk_jpeg_to_jpeg_stays_cmyk_with_its_profile_and_to_png_goes_through_it(tmp_path, rng):
    inks = _inks(rng)
    image = Image.frombuffer("CMYK", (24, 20), inks, "raw", "CMYK", 0, 1)
    image.save(tmp_path / "in.jpg", quality=100, icc_profile=cmyk_profile())
    with Image.open(tmp_path / "in.jpg") as read:
        decoded = np.asarray(read)  # JPEG's loss, as Pillow decodes it
    _ok(run(*BLUR, "--quality", "100", tmp_path / "in.jpg", tmp_path / "out.jpg"))
    with Image.open(tmp_path / "out.jpg") as out:
        assert out.mode == "CMYK" and out.info["icc_profile"] == cmyk_profile()
        _within(np.asarray(out), reference(decoded, _KERNEL), 3)  # quality 100 quantises by a level or two
    _ok(run("identity", tmp_path / "in.jpg", tmp_path / "out.png"))
    png = imagecodecs.png_decode((tmp_path / "out.png").read_bytes())
    _within(png, _srgb(decoded), 1)
    assert np.abs(_srgb(decoded).astype(int) - _naive(decoded)).max() > 40  # the naive conversion fails this test


def test_cmyk_blurred_to_png_is_converted_to_srgb_then_blurred_and_carries_no_profile(tmp_path, rng):
    """Converted first, the blur works on sRGB as it does for any RGB input."""
    inks = _inks(rng)
    _ok(run(*BLUR, _tiff(tmp_path / "in.tif", inks, cmyk_profile()), tmp_path / "out.png"))
    with Image.open(tmp_path / "out.png") as out:
        assert out.mode == "RGB" and "icc_profile" not in out.info
        _within(np.asarray(out), reference(_srgb(inks), _KERNEL), 1.5)  # the two bindings differ by a level


def test_16_bit_cmyk_to_png_is_16_bit_srgb_through_its_profile(tmp_path, rng):
    """ImageCms has no 16-bit CMYK: the 8-bit inks' conversion, by Pillow's binding of
    LittleCMS, is the reference, at 8 bits."""
    inks = _inks(rng, np.uint16)
    _ok(run("identity", _tiff(tmp_path / "in.tif", inks, cmyk_profile()), tmp_path / "out.png"))
    out = imagecodecs.png_decode((tmp_path / "out.png").read_bytes())
    transform = ImageCms.buildTransform(ImageCms.ImageCmsProfile(io.BytesIO(cmyk_profile())),
                                        ImageCms.createProfile("sRGB"), "CMYK", "RGB",
                                        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
                                        flags=ImageCms.Flags.BLACKPOINTCOMPENSATION)
    eight = Image.frombuffer("CMYK", (24, 20), np.ascontiguousarray(inks // 257).astype(np.uint8), "raw", "CMYK", 0, 1)
    expected = np.asarray(ImageCms.applyTransform(eight, transform))
    assert out.dtype == np.uint16 and (out % 257).any()  # 16-bit results, not 8-bit ones widened
    _within(out / 257, expected, 1)


def test_cmyk_without_a_profile_stays_cmyk_in_tiff_and_goes_to_png_as_pillow_converts_it(tmp_path, rng):
    inks = _inks(rng)
    _tiff(tmp_path / "in.tif", inks)
    _ok(run("identity", tmp_path / "in.tif", tmp_path / "out.tif"))
    _ok(run("identity", tmp_path / "in.tif", tmp_path / "out.png"))
    assert np.array_equal(tifffile.imread(tmp_path / "out.tif"), inks)
    assert np.array_equal(imagecodecs.png_decode((tmp_path / "out.png").read_bytes()), _naive(inks))


@pytest.mark.parametrize("tile", [None, (16, 16)])
def test_cmyk_with_alpha_stays_so_in_tiff_its_inks_premultiplied_as_colour_is(tmp_path, rng, tile):
    """Premultiplied, a pixel's inks go towards the paper (no ink) as its alpha does;
    streamed tile by tile (``tile``) or whole."""
    inks = rng.integers(0, 256, (40, 48, 5), dtype=np.uint8)
    _ok(run(*BLUR, _tiff(tmp_path / "in.tif", inks, cmyk_profile(), tile=tile), tmp_path / "out.tif"))
    with tifffile.TiffFile(tmp_path / "out.tif") as tiff:
        page = tiff.pages[0]
        assert page.photometric == tifffile.PHOTOMETRIC.SEPARATED and tuple(page.extrasamples) == (2,)
        out = page.asarray()
    alpha = reference(inks[..., 4:], _KERNEL)
    colour = reference(inks[..., :4] * (inks[..., 4:] / 255.0), _KERNEL) * 255 / np.maximum(alpha, 1e-9)
    _within(out[..., 4:], alpha, 0.5 + 1e-3)
    _within(out[..., :4][alpha[..., 0] >= 1], colour[alpha[..., 0] >= 1], 0.5 + 1e-2)


def test_cmyk_with_alpha_goes_to_srgb_with_its_alpha_and_to_jpeg_only_where_opaque(tmp_path, rng):
    inks = _inks(rng, channels=5)
    _tiff(tmp_path / "in.tif", inks, cmyk_profile())
    _ok(run("identity", tmp_path / "in.tif", tmp_path / "out.png"))
    out = imagecodecs.png_decode((tmp_path / "out.png").read_bytes())
    _within(out[..., :3], _srgb(np.ascontiguousarray(inks[..., :4])), 1)
    assert np.array_equal(out[..., 3], inks[..., 4])
    result = run("identity", tmp_path / "in.tif", tmp_path / "out.jpg")
    assert_one_line_error(result, 1, "in.tif: JPEG holds CMYK without alpha and the input's alpha is not opaque "
                                     "everywhere; give --background COLOR", "write TIFF to keep it, or PNG, ")
    assert not (tmp_path / "out.jpg").exists()
    inks[..., 4] = 255
    _ok(run("identity", "--quality", "100", _tiff(tmp_path / "opaque.tif", inks), tmp_path / "out.jpg"))
    with Image.open(tmp_path / "out.jpg") as jpeg:
        assert jpeg.mode == "CMYK"
        _within(np.asarray(jpeg), inks[..., :4], 2)  # JPEG's loss at quality 100


def _profiles():
    profile = cmyk_profile()
    rgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return {
        "damaged tables": profile[:132] + bytes(range(256)) * ((len(profile) - 132) // 256 + 1),
        "truncated": profile[:1000],
        "an RGB profile": rgb,
        "a grey profile": imagecodecs.cms_profile("gray"),
        "a header alone": profile[:128],
        "a few bytes": b"CMYK",
        "a device link": profile[:12] + b"link" + profile[16:],
    }


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("kind", list(_profiles()))
def test_a_cmyk_file_whose_profile_cannot_convert_it_is_refused_in_one_line(tmp_path, rng, kind, dtype):
    _tiff(tmp_path / "in.tif", _inks(rng, dtype), _profiles()[kind])
    result = run("identity", tmp_path / "in.tif", tmp_path / "out.png")
    keep = "TIFF, JPEG or .npy" if dtype == np.uint8 else "TIFF or .npy"  # JPEG holds 8-bit inks alone
    assert_one_line_error(result, 1, "in.tif: its CMYK cannot be converted to sRGB for a PNG output: its ICC "
                          "profile ", f"; write {keep} to keep its inks")
    assert not (tmp_path / "out.png").exists()


def test_linear_light_is_refused_on_inks_and_applies_to_their_srgb(tmp_path, rng):
    _tiff(tmp_path / "in.tif", _inks(rng), cmyk_profile())
    result = run(*BLUR, "--linear", tmp_path / "in.tif", tmp_path / "out.tif")
    assert_one_line_error(result, 2, "in.tif: linear light converts 8- and 16-bit sRGB samples; the image is "
                                     "8-bit CMYK; write PNG to filter its sRGB in linear light")
    _ok(run(*BLUR, "--linear", tmp_path / "in.tif", tmp_path / "out.png"))


def test_a_tiled_cmyk_tiff_is_streamed_as_four_inks(tmp_path, rng):
    """Streamed tile by tile, black is no alpha either."""
    inks = rng.integers(0, 256, (40, 48, 4), dtype=np.uint8)
    _tiff(tmp_path / "in.tif", inks, cmyk_profile(), tile=(16, 16))
    _ok(run(*BLUR, tmp_path / "in.tif", tmp_path / "out.tif"))
    with tifffile.TiffFile(tmp_path / "out.tif") as tiff:
        assert tiff.pages[0].photometric == tifffile.PHOTOMETRIC.SEPARATED
        _within(tiff.pages[0].asarray(), reference(inks, _KERNEL), 0.5 + 1e-3)


def test_a_tiled_cmyk_tiff_streams_to_no_zarr(tmp_path, rng):
    _tiff(tmp_path / "in.tif", _inks(rng), tile=(16, 16))
    result = run(*BLUR, tmp_path / "in.tif", tmp_path / "out.zarr")
    assert_one_line_error(result, 2, "out.zarr: a Zarr store cannot say its four channels are CMYK inks; write TIFF")
    assert not (tmp_path / "out.zarr").exists()


def test_16_bit_cmyk_to_jpeg_is_refused_naming_depth_which_keeps_it_cmyk(tmp_path, rng):
    inks = _inks(rng, np.uint16)
    _tiff(tmp_path / "in.tif", inks, cmyk_profile())
    result = run("identity", tmp_path / "in.tif", tmp_path / "out.jpg")
    assert_one_line_error(result, 1, "out.jpg: JPEG holds 8 bits a sample and the input is 16-bit CMYK; write TIFF",
                          "--depth 8")
    _ok(run("identity", "--depth", "8", "--quality", "100", tmp_path / "in.tif", tmp_path / "out.jpg"))
    with Image.open(tmp_path / "out.jpg") as out:
        assert out.mode == "CMYK" and out.info["icc_profile"] == cmyk_profile()
        _within(np.asarray(out), inks // 257, 2)  # JPEG's loss at quality 100


def test_side_by_side_cmyk_is_parted_by_paper_white_not_by_every_ink_at_full(tmp_path, rng):
    inks = _inks(rng)
    _ok(run("identity", "--view", "side-by-side", _tiff(tmp_path / "in.tif", inks), tmp_path / "out.tif"))
    out = tifffile.imread(tmp_path / "out.tif")
    assert out.shape == (20, 24 + 4 + 24, 4)
    assert np.array_equal(out[:, :24], inks) and not out[:, 24:28].any() and np.array_equal(out[:, 28:], inks)
