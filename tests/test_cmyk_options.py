"""Filter options on CMYK kept as inks: ``unsharp --threshold`` per ink (against the
mask computed by hand from scipy.ndimage's blur), and ``--luminance``, which inks do
not have, refused in one line saying what to do."""

import numpy as np
import pytest
import scipy.ndimage as ndi
import tifffile
from helpers import assert_one_line_error, run
from PIL import Image


def test_unsharp_threshold_leaves_each_ink_where_it_differs_little_from_its_blur(tmp_path, rng):
    inks = (rng.integers(0, 256, (20, 24, 4)) * 257).astype(np.uint16)
    inks[:, :12] = inks[:, :12] // 64 + 30000  # a low-contrast half, left as it is
    tifffile.imwrite(tmp_path / "in.tif", inks, photometric="separated")
    result = run("unsharp", "-r", "2", "-s", "1", "--threshold", "1000", tmp_path / "in.tif", tmp_path / "out.tif")
    assert result.exit_code == 0 and result.stderr == "", result.stderr
    out = tifffile.imread(tmp_path / "out.tif")
    g = np.exp(-np.arange(-2, 3) ** 2 / 2.0)
    kernel = np.outer(g, g) / g.sum() ** 2
    samples = inks.astype(np.float64)
    blurred = np.stack([ndi.convolve(samples[..., c], kernel, mode="reflect") for c in range(4)], -1)
    sharp = np.clip(np.round(2 * samples - blurred), 0, 65535)
    difference = np.abs(samples - blurred)
    decided = np.abs(difference - 1000) > 1e-3  # samples on the threshold itself left out
    expected = np.where(difference < 1000, samples, sharp)
    assert out.dtype == np.uint16 and out.shape == inks.shape
    assert np.abs(out - expected)[decided].max() <= 1
    assert np.array_equal(out[:, :10], inks[:, :10])


@pytest.mark.parametrize("source", ["in.tif", "in.jpg"])
def test_luminance_on_cmyk_kept_as_inks_is_refused_saying_what_to_do(tmp_path, rng, source):
    inks = rng.integers(0, 256, (12, 12, 4), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "in.tif", inks, photometric="separated")
    Image.frombuffer("CMYK", (12, 12), inks, "raw", "CMYK", 0, 1).save(tmp_path / "in.jpg")
    output = tmp_path / ("out" + source[2:])
    result = run("blur", "-s", "1", "--luminance", tmp_path / source, output)
    assert_one_line_error(result, 2, f"{source}: luminance-only filtering takes grey or RGB, and the image is 8-bit "
                                     "CMYK, whose inks have no Y'", "write PNG")
    assert not output.exists()
    converted = run("blur", "-s", "1", "--luminance", tmp_path / source, tmp_path / "out.png")
    assert converted.exit_code == 0 and converted.stderr == "", converted.stderr


def test_16_bit_cmyk_to_a_format_of_no_16_bit_colour_is_refused_before_its_conversion(tmp_path, rng, monkeypatch):
    from imgconv.io import cmyk

    def converted(picture):
        raise AssertionError("converted before the refusal")

    monkeypatch.setattr(cmyk, "to_srgb", converted)
    tifffile.imwrite(tmp_path / "in.tif", (rng.integers(0, 256, (8, 8, 5)) * 257).astype(np.uint16),
                     photometric="separated", extrasamples=["unassalpha"])
    result = run("identity", tmp_path / "in.tif", tmp_path / "out.webp")
    assert_one_line_error(result, 1, "in.tif: WEBP holds no 16-bit colour and the input is 16-bit CMYK with alpha; "
                                     "write TIFF or .npy to keep its inks, or PNG to keep 16 bits as sRGB, or give "
                                     "--depth 8")
    assert not (tmp_path / "out.webp").exists()


@pytest.mark.parametrize("subsampling", ["4:2:2", "4:2:0"])
def test_chroma_subsampling_of_a_cmyk_jpeg_is_refused_as_it_would_halve_black(tmp_path, subsampling):
    checker = (np.indices((16, 16)).sum(0) % 2 * 255).astype(np.uint8)
    inks = np.stack([checker, checker // 3, 255 - checker, checker], -1)
    tifffile.imwrite(tmp_path / "in.tif", inks, photometric="separated")
    result = run("identity", "--subsampling", subsampling, tmp_path / "in.tif", tmp_path / "out.jpg")
    assert_one_line_error(result, 1, f"in.tif: --subsampling {subsampling} halves a JPEG's chroma, and a CMYK JPEG "
                                     "has none")
    assert not (tmp_path / "out.jpg").exists()
    kept = run("identity", "--subsampling", "4:4:4", "--quality", "100", tmp_path / "in.tif", tmp_path / "out.jpg")
    assert kept.exit_code == 0 and kept.stderr == "", kept.stderr
    with Image.open(tmp_path / "out.jpg") as jpeg:
        assert jpeg.mode == "CMYK"
        assert np.abs(np.asarray(jpeg, np.int16) - inks).max() <= 2  # every ink whole: JPEG's loss at 100 only
