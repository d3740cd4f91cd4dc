"""CMYK through the Python API: `imgconv.imread` gives sRGB unless ``cmyk=True`` asks for
the inks, and `imgconv.imwrite(..., cmyk=True)` writes inks back as CMYK, so that an
array's four channels are never taken for RGBA without a word."""

import numpy as np
import pytest
import tifffile
from PIL import Image
from test_cmyk import _inks, _naive, _srgb, _tiff, _within, cmyk_profile

import imgconv


def test_imread_gives_a_cmyk_file_as_srgb_through_its_profile_or_its_inks_when_asked(tmp_path, rng):
    inks = _inks(rng)
    _tiff(tmp_path / "in.tif", inks, cmyk_profile())
    _within(imgconv.imread(tmp_path / "in.tif"), _srgb(inks), 1)
    assert np.array_equal(imgconv.imread(tmp_path / "in.tif", cmyk=True), inks)


def test_imread_gives_cmyk_without_a_profile_as_pillow_converts_it(tmp_path, rng):
    inks = _inks(rng)
    _tiff(tmp_path / "in.tif", inks)
    assert np.array_equal(imgconv.imread(tmp_path / "in.tif"), _naive(inks))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_inks_read_filtered_and_written_with_cmyk_true_stay_cmyk(tmp_path, rng, dtype):
    inks = _inks(rng, dtype, channels=5)
    _tiff(tmp_path / "in.tif", inks)
    read = imgconv.imread(tmp_path / "in.tif", cmyk=True)
    imgconv.imwrite(tmp_path / "out.tif", read, cmyk=True)
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        page = tif.pages[0]
        assert page.photometric == tifffile.PHOTOMETRIC.SEPARATED
        assert np.array_equal(page.asarray(), inks)


def test_inks_written_with_cmyk_true_to_png_are_converted_as_pillow_converts(tmp_path, rng):
    inks = _inks(rng)
    imgconv.imwrite(tmp_path / "out.png", inks, cmyk=True)
    with Image.open(tmp_path / "out.png") as out:
        assert out.mode == "RGB"
        assert np.array_equal(np.asarray(out), _naive(inks))


def test_cmyk_true_refuses_an_array_that_cannot_be_inks(tmp_path):
    with pytest.raises(imgconv.InvalidInputError, match=r"cmyk=True takes 8- or 16-bit inks.*3 channel"):
        imgconv.imwrite(tmp_path / "out.tif", np.zeros((4, 4, 3), np.uint8), cmyk=True)
    assert not (tmp_path / "out.tif").exists()
