"""``--background`` on CMYK with alpha where the output keeps CMYK (TIFF, JPEG): the
colour's inks (through the file's profile, by Pillow's ImageCms here; without one, the
inverse of the naive conversion, computed by hand), the inks composited over them
as ``ink * a + background * (1 - a)``, the alpha gone, depth and profile kept."""

import io

import numpy as np
import pytest
import tifffile
from helpers import assert_one_line_error, run
from PIL import Image, ImageCms
from test_cmyk import cmyk_profile

COLOUR = "#336699"  # (51, 102, 153)
# Its inks without a profile, by hand: K = 1 - 153/255 = 0.4, C = (1 - 0.2 - 0.4) / 0.6,
# M = (1 - 0.4 - 0.4) / 0.6, Y = 0.
NAIVE = np.array([2 / 3, 1 / 3, 0.0, 0.4])


def _inks_with_alpha(rng, dtype=np.uint8):
    """Random inks (12 x 16) with an alpha from 0 to full along each row."""
    inks = rng.integers(0, 256, (12, 16, 4), dtype=np.uint8).astype(np.float64)
    alpha = np.broadcast_to(np.linspace(0, 255, 16).round(), (12, 16))[..., None]
    top = 255 if dtype == np.uint8 else 65535
    return (np.concatenate([inks, alpha], -1) * (top / 255)).astype(dtype)


def _tiff(path, samples, profile=None):
    tifffile.imwrite(path, samples, photometric="separated", extrasamples=["unassalpha"], iccprofile=profile)
    return path


def _flattened(samples, background):
    """``ink * a + background * (1 - a)`` in float64, ``background`` in sample units."""
    top = np.iinfo(samples.dtype).max
    coverage = samples[..., 4:].astype(np.float64) / top
    return samples[..., :4] * coverage + np.asarray(background) * (1 - coverage)


def _profile_inks(profile):
    """The inks of COLOUR through ``profile`` by Pillow's ImageCms (8-bit), relative
    colorimetric with black-point compensation."""
    transform = ImageCms.buildTransform(ImageCms.createProfile("sRGB"), ImageCms.ImageCmsProfile(io.BytesIO(profile)),
                                        "RGB", "CMYK", renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
                                        flags=ImageCms.Flags.BLACKPOINTCOMPENSATION)
    return np.asarray(ImageCms.applyTransform(Image.new("RGB", (1, 1), COLOUR), transform), np.float64)[0, 0]


def _ok(result):
    assert result.exit_code == 0 and result.stderr == "", result.stderr


def test_cmyk_with_alpha_flattened_to_tiff_over_the_colour_through_its_profile(tmp_path, rng):
    samples = _inks_with_alpha(rng)
    _ok(run("identity", "--background", COLOUR, _tiff(tmp_path / "in.tif", samples, cmyk_profile()),
            tmp_path / "out.tif"))
    with tifffile.TiffFile(tmp_path / "out.tif") as tiff:
        page = tiff.pages[0]
        out = page.asarray()
        assert page.photometric == tifffile.PHOTOMETRIC.SEPARATED and out.dtype == np.uint8
        assert bytes(page.tags["InterColorProfile"].value) == cmyk_profile()
    assert out.shape == (12, 16, 4)
    background = _profile_inks(cmyk_profile())
    assert background[3] > 10  # the made-up press prints this blue with some black
    # ImageCms's 8-bit inks against LittleCMS's 16-bit ones: within a level.
    assert np.abs(out - _flattened(samples, background)).max() <= 1.0
    assert np.array_equal(out[:, -1], samples[:, -1, :4])  # opaque: the inks as they were


def test_16_bit_cmyk_with_alpha_without_a_profile_flattened_over_the_naive_inks(tmp_path, rng):
    samples = _inks_with_alpha(rng, np.uint16)
    _ok(run("identity", "--background", COLOUR, _tiff(tmp_path / "in.tif", samples), tmp_path / "out.tif"))
    out = tifffile.imread(tmp_path / "out.tif")
    assert out.dtype == np.uint16 and out.shape == (12, 16, 4)
    assert np.abs(out - _flattened(samples, NAIVE * 65535)).max() <= 0.5 + 1e-3
    assert np.array_equal(out[:, 0], np.broadcast_to(np.round(NAIVE * 65535), (12, 4)))


def test_cmyk_with_alpha_flattened_to_jpeg_and_shown_side_by_side(tmp_path, rng):
    """A smooth picture (JPEG's loss on it is small) blurred and flattened into a CMYK
    JPEG beside its original, parted by paper white."""
    samples = _inks_with_alpha(rng)
    samples[..., :4] = np.array([200, 40, 120, 30], np.uint8)
    _tiff(tmp_path / "in.tif", samples)
    _ok(run("blur", "-s", "1", "--quality", "100", "--subsampling", "4:4:4", "--view", "side-by-side",
            "--background", COLOUR, tmp_path / "in.tif", tmp_path / "out.jpg"))
    with Image.open(tmp_path / "out.jpg") as jpeg:
        assert jpeg.mode == "CMYK" and jpeg.size == (16 + 4 + 16, 12)
        out = np.asarray(jpeg, np.float64)
    expected = _flattened(samples, NAIVE * 255)
    assert np.abs(out[2:-2, 2:14] - expected[2:-2, 2:14]).max() <= 3  # JPEG's loss at quality 100
    assert np.abs(out[2:-2, 20 + 3 : -3] - expected[2:-2, 3:-3]).max() <= 3  # the blur of a linear ramp
    assert np.abs(out[:, 17:19]).max() <= 3  # the gap: no ink


def test_cmyk_with_alpha_to_jpeg_without_background_names_it(tmp_path, rng):
    _tiff(tmp_path / "in.tif", _inks_with_alpha(rng, np.uint16))
    result = run("identity", tmp_path / "in.tif", tmp_path / "out.jpg")
    assert_one_line_error(result, 1, "in.tif: JPEG holds CMYK without alpha and the input's alpha is not opaque "
                                     "everywhere; give --background COLOR", "write TIFF to keep it, or PNG to convert")
    assert not (tmp_path / "out.jpg").exists()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_profile_without_a_table_to_inks_refuses_the_background_in_one_line(tmp_path, rng, dtype):
    """An input profile may describe inks to colours only: the colour has no inks."""
    profile = cmyk_profile().replace(b"B2A0", b"priv", 1)  # the table now an unknown private tag
    result = run("identity", "--background", "white", _tiff(tmp_path / "in.tif", _inks_with_alpha(rng, dtype), profile),
                 tmp_path / "out.tif")
    assert_one_line_error(result, 1, "in.tif: --background cannot be converted to the file's CMYK inks", "write PNG")
    assert not (tmp_path / "out.tif").exists()
    _ok(run("identity", "--background", "white", tmp_path / "in.tif", tmp_path / "out.png"))
