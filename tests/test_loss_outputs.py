"""What an output holds beside its pixels, read back by other codecs: a streamed tiled
TIFF keeps its input's resolution (tifffile), a BMP of an input without one says none
(Pillow), JPEG 2000 keeps 16-bit grey (imagecodecs)."""

import struct

import numpy as np
import pytest
import tifffile
from helpers import assert_one_line_error, run
from PIL import Image

ACROSS, DOWN = 300, 150  # unequal, so that a swap shows


@pytest.fixture
def grey16():
    """Every 16-bit level's extremes and a spread between them, unequal sides."""
    levels = np.linspace(0, 65535, 12 * 20).round().astype(np.uint16)
    return np.random.default_rng(5).permutation(levels).reshape(12, 20)


def resolution_tags(path):
    with tifffile.TiffFile(path) as tiff:
        page = tiff.pages[0]
        assert page.is_tiled  # the streamed writer's tiles, not a whole image's strips
        return tuple(page.tags.valueof(tag) for tag in (282, 283, 296))


@pytest.mark.parametrize(("unit", "dpi"), [("INCH", (ACROSS, DOWN)), ("CENTIMETER", (ACROSS * 2.54, DOWN * 2.54))])
def test_a_streamed_tiff_keeps_the_resolution_in_dots_per_inch(tmp_path, unit, dpi):
    pixels = np.arange(48 * 64, dtype=np.uint16).reshape(48, 64)
    tifffile.imwrite(tmp_path / "in.tif", pixels, tile=(16, 16), resolution=(ACROSS, DOWN), resolutionunit=unit)
    assert run("blur", "-s", 1, tmp_path / "in.tif", tmp_path / "out.tif").exit_code == 0
    across, down, kept = resolution_tags(tmp_path / "out.tif")
    assert kept == 2 and (across[0] / across[1], down[0] / down[1]) == pytest.approx(dpi, rel=1e-6)
    # What Pillow reads of the same tags, as the whole-image path keeps it.
    with Image.open(tmp_path / "in.tif") as image:
        assert image.info["dpi"] == pytest.approx(dpi, rel=1e-6)


def test_a_streamed_tiff_leaves_out_a_resolution_of_no_unit_and_with_strip(tmp_path):
    pixels = np.arange(48 * 64, dtype=np.uint8).reshape(48, 64)
    tifffile.imwrite(tmp_path / "none.tif", pixels, tile=(16, 16), resolution=(ACROSS, DOWN), resolutionunit="NONE")
    tifffile.imwrite(tmp_path / "inch.tif", pixels, tile=(16, 16), resolution=(ACROSS, DOWN), resolutionunit="INCH")
    assert run("identity", tmp_path / "none.tif", tmp_path / "out.tif").exit_code == 0
    assert resolution_tags(tmp_path / "out.tif")[2] == 1  # tifffile's "no unit", as it writes without one
    assert run("identity", "--strip", tmp_path / "inch.tif", tmp_path / "stripped.tif").exit_code == 0
    assert resolution_tags(tmp_path / "stripped.tif") == ((1, 1), (1, 1), 1)


def test_a_bmp_of_an_input_without_resolution_says_none(tmp_path):
    pixels = np.arange(12 * 20, dtype=np.uint8).reshape(12, 20)
    Image.fromarray(pixels).save(tmp_path / "in.png")  # no pHYs chunk
    assert run("identity", tmp_path / "in.png", tmp_path / "out.bmp").exit_code == 0
    data = (tmp_path / "out.bmp").read_bytes()
    assert struct.unpack("<ii", data[38:46]) == (0, 0)  # BITMAPINFOHEADER's pixels per metre: unspecified
    with Image.open(tmp_path / "out.bmp") as image:
        assert "dpi" not in image.info and np.array_equal(np.asarray(image), pixels)


@pytest.mark.parametrize("ext", ["jp2", "j2k"])
def test_jpeg_2000_keeps_16_bit_grey(tmp_path, grey16, ext):
    import imagecodecs

    tifffile.imwrite(tmp_path / "in.tif", grey16)
    result = run("identity", tmp_path / "in.tif", tmp_path / f"out.{ext}")
    assert (result.exit_code, result.stderr) == (0, "")
    decoded = imagecodecs.jpeg2k_decode((tmp_path / f"out.{ext}").read_bytes())
    assert decoded.dtype == np.uint16 and np.array_equal(decoded, grey16)


def test_jpeg_2000_refuses_16_bit_rgb_naming_what_it_holds(tmp_path, grey16):
    tifffile.imwrite(tmp_path / "in.tif", np.dstack([grey16, grey16[::-1], grey16[:, ::-1]]))
    result = run("identity", tmp_path / "in.tif", tmp_path / "out.jp2")
    assert_one_line_error(result, 1, "JPEG2000 holds 16 bits a sample only as 16-bit grey",
                          "write PNG, TIFF or .npy to keep 16 bits")
    assert not (tmp_path / "out.jp2").exists()

