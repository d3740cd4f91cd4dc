"""A PNG's gAMA and cHRM, where they declare other than sRGB, go to TIFF, JPEG, WebP and
AVIF outputs as an ICC profile: read back by Pillow and tifffile, the profile turns the
output's samples into the sRGB that the textbook formulas make of the same samples
(decoded by the power curve, XYZ of the primaries, Bradford's adaptation to sRGB's
white point), computed here in float64. Formats that carry no profile refuse them."""

import io
import struct
import zlib

import imagecodecs
import numpy as np
import pytest
import tifffile
from helpers import assert_one_line_error, run
from PIL import Image, ImageCms

from imgconv.io import formats

SRGB_POINTS = (31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000)
WIDE_POINTS = (34570, 35850, 73470, 26530, 15960, 84040, 3660, 100)  # D50, wide-gamut primaries
BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])


def png_bytes(samples, chunks):
    """A PNG of grey or RGB ``samples`` (uint8 or uint16) with the chunks ``{type:
    data}`` before its pixels, written by hand."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    height, width = samples.shape[:2]
    header = struct.pack(">IIBBBBB", width, height, samples.itemsize * 8, 0 if samples.ndim == 2 else 2, 0, 0, 0)
    rows = samples.astype(samples.dtype.newbyteorder(">")).reshape(height, -1).view(np.uint8)
    pixels = zlib.compress(np.hstack([np.zeros((height, 1), np.uint8), rows]).tobytes())
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + b"".join(chunk(k, v) for k, v in chunks.items()) \
        + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def chunks(gamma=None, points=None):
    """gAMA (times 100000) and cHRM chunks."""
    found = {b"gAMA": struct.pack(">I", gamma)} if gamma else {}
    return found | ({b"cHRM": struct.pack(">8I", *points)} if points else {})


def to_xyz(points):
    """The matrix from linear RGB to XYZ of the white point and primaries ``points``
    (cHRM's integers), the white point at Y = 1; and that white point's XYZ."""
    x, y = np.array(points[0::2]) / 100000, np.array(points[1::2]) / 100000
    xyz = np.array([x / y, np.ones(4), (1 - x - y) / y])
    return xyz[:, 1:] * np.linalg.solve(xyz[:, 1:], xyz[:, 0]), xyz[:, 0]


def expected_srgb(samples, gamma, points):
    """``samples`` (0-1, grey or RGB) as 8-bit sRGB, by the textbook: decoded by the
    power 100000 / ``gamma`` (sRGB's curve where None), to XYZ by the primaries, to
    sRGB's white by Bradford's transform, to linear sRGB, clipped, encoded."""
    if gamma is None:
        linear = np.where(samples <= 0.04045, samples / 12.92, ((samples + 0.055) / 1.055) ** 2.4)
    else:
        linear = samples ** (100000 / gamma)
    if samples.ndim == 2:  # grey: the white point's own colour, which is sRGB's white
        rgb = np.repeat(linear[..., None], 3, -1)
    else:
        matrix, white = to_xyz(points or SRGB_POINTS)
        srgb_matrix, d65 = to_xyz(SRGB_POINTS)
        adapt = np.linalg.inv(BRADFORD) @ np.diag((BRADFORD @ d65) / (BRADFORD @ white)) @ BRADFORD
        rgb = linear @ (np.linalg.inv(srgb_matrix) @ adapt @ matrix).T
    rgb = np.clip(rgb, 0, 1)
    return 255 * np.where(rgb <= 0.0031308, 12.92 * rgb, 1.055 * rgb ** (1 / 2.4) - 0.055)


def samples(grey=False, dtype=np.uint8):
    """Random samples over the whole range, 16x16."""
    peak = np.iinfo(dtype).max
    return np.random.default_rng(7).integers(0, peak + 1, (16, 16) if grey else (16, 16, 3), dtype=dtype,
                                             endpoint=False)


def writable(ext):
    fmt = formats.format_of_extension(f".{ext}")
    if fmt not in formats.available():
        pytest.skip(f"this Pillow writes no {fmt}")


@pytest.mark.parametrize("gamma, points, ext", [
    (100000, None, "jpg"), (100000, None, "tif"), (100000, None, "webp"), (100000, None, "avif"),
    (55555, WIDE_POINTS, "tif"), (55555, WIDE_POINTS, "webp"),
    (None, WIDE_POINTS, "jpg"),  # no gAMA: sRGB's curve
    (45455, WIDE_POINTS, "tif"),  # the gamma sRGB's curve approximates, of other primaries: a power still
])
def test_the_profile_shows_the_output_as_the_png_declares(tmp_path, gamma, points, ext):
    writable(ext)
    rgb = samples()
    (tmp_path / "in.png").write_bytes(png_bytes(rgb, chunks(gamma, points)))
    out = tmp_path / f"out.{ext}"
    assert run("identity", tmp_path / "in.png", out).exit_code == 0
    with Image.open(out) as image:
        written, profile = np.asarray(image.convert("RGB")), image.info["icc_profile"]
        shown = ImageCms.profileToProfile(image.convert("RGB"), ImageCms.ImageCmsProfile(io.BytesIO(profile)),
                                          ImageCms.createProfile("sRGB"), outputMode="RGB")
    if ext == "tif":
        assert np.array_equal(written, rgb) and tifffile.TiffFile(out).pages[0].iccprofile == profile
    assert profile[16:20] == b"RGB " and profile[24:36] == bytes(12)  # no date: the same bytes each time
    difference = np.abs(np.asarray(shown, float) - expected_srgb(written / 255, gamma, points))
    assert difference.max() <= 1


@pytest.mark.parametrize("ext", ["tif", "jpg", "webp"])
def test_grey_gets_a_grey_profile_or_rgb_where_the_format_stores_rgb(tmp_path, ext):
    grey = samples(grey=True)
    (tmp_path / "in.png").write_bytes(png_bytes(grey, chunks(55555, WIDE_POINTS)))
    out = tmp_path / f"out.{ext}"
    assert run("identity", "--strip", tmp_path / "in.png", out).exit_code == 0  # the colours stay all the same
    with Image.open(out) as image:
        assert image.mode == ("RGB" if ext == "webp" else "L")  # Pillow's WebP writer stores RGB
        profile = image.info["icc_profile"]
        # LittleCMS's optimised grey-to-RGB transform is off by up to 9.7 levels in a
        # linear grey's shadows (its coarse table, not the profile): unoptimised, 0.5.
        shown = ImageCms.profileToProfile(image, ImageCms.ImageCmsProfile(io.BytesIO(profile)),
                                          ImageCms.createProfile("sRGB"), outputMode="RGB",
                                          flags=ImageCms.Flags.NOOPTIMIZE)
        written = np.asarray(image)
    assert profile[16:20] == (b"RGB " if ext == "webp" else b"GRAY")
    # WebP's lossy RGB is near grey, not grey: its profile's primaries are the cHRM's
    difference = np.abs(np.asarray(shown, float) - expected_srgb(written / 255, 55555, WIDE_POINTS))
    assert difference.max() <= 1


@pytest.mark.parametrize("grey", [False, True])
def test_sixteen_bits_stay_exact_in_tiff_beside_the_profile(tmp_path, grey):
    deep = samples(grey, np.uint16)
    (tmp_path / "in.png").write_bytes(png_bytes(deep, chunks(80000, WIDE_POINTS)))
    assert run("identity", tmp_path / "in.png", tmp_path / "out.tif").exit_code == 0
    with tifffile.TiffFile(tmp_path / "out.tif") as tiff:
        written, profile = tiff.asarray(), tiff.pages[0].iccprofile
    assert written.dtype == np.uint16 and np.array_equal(written, deep)
    space = "gray" if grey else "rgb"
    shown = imagecodecs.cms_transform(written, profile, imagecodecs.cms_profile("srgb"), colorspace=space,
                                      outcolorspace="rgb", outdtype=np.uint16, flags=imagecodecs.CMS.FLAGS.NOOPTIMIZE)
    expected = expected_srgb(written / 65535, 80000, WIDE_POINTS) * 257
    assert np.abs(shown.astype(float) - expected).max() <= 257


def test_every_page_and_frame_carries_it(tmp_path):
    rgb = samples()
    frames = [Image.fromarray(rgb), Image.fromarray(rgb[::-1])]
    frames[0].save(tmp_path / "in.png", save_all=True, append_images=frames[1:])  # an APNG
    data = (tmp_path / "in.png").read_bytes()
    at = data.index(b"IHDR") + 21  # gAMA after IHDR, by hand
    (tmp_path / "in.png").write_bytes(data[:at] + png_bytes(rgb, chunks(100000))[33:49] + data[at:])
    for ext in ("tif", "webp"):
        assert run("identity", tmp_path / "in.png", tmp_path / f"out.{ext}").exit_code == 0
    with tifffile.TiffFile(tmp_path / "out.tif") as tiff:
        profiles = [page.iccprofile for page in tiff.pages]
    with Image.open(tmp_path / "out.webp") as image:
        assert image.n_frames == 2 and image.info["icc_profile"] == profiles[0]
    assert len(profiles) == 2 and profiles[0] == profiles[1] and profiles[0][16:20] == b"RGB "


@pytest.mark.parametrize("ext", ["bmp", "gif", "jp2"])
def test_formats_without_a_profile_refuse_them_unless_stripped(tmp_path, ext):
    writable(ext)
    (tmp_path / "in.png").write_bytes(png_bytes(samples(), chunks(100000)))
    out = tmp_path / f"out.{ext}"
    result = run("identity", tmp_path / "in.png", out)
    assert_one_line_error(result, 1, str(out), "gamma 1 ", "write PNG, TIFF, JPEG", "--strip")
    assert not out.exists()
    assert run("identity", "--strip", tmp_path / "in.png", out).exit_code == 0


@pytest.mark.parametrize("points", [
    (90000, 5000, *SRGB_POINTS[2:]),  # a white point outside the primaries' triangle, which libpng ignores
    (40000, 40000, 40001, 40000, 40000, 40001, 39999, 39999),  # a triangle LittleCMS takes as flat
])
def test_chromaticities_that_say_no_colours_make_no_profile(tmp_path, points):
    (tmp_path / "in.png").write_bytes(png_bytes(samples(), chunks(None, points)))
    assert run("identity", tmp_path / "in.png", tmp_path / "out.jpg").exit_code == 0
    assert run("identity", tmp_path / "in.png", tmp_path / "out.bmp").exit_code == 0
    with Image.open(tmp_path / "out.jpg") as image:
        assert "icc_profile" not in image.info
