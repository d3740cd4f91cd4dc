"""The lecture's commands on CMYK: ``learn`` works on the inks (as ``convolve`` filters
them into a CMYK output) and refuses CMYK against another kind; ``conv-layer`` sees the
picture, CMYK converted to sRGB through its profile (Pillow's ImageCms here), its
grey by BT.601, correlated as scipy.ndimage correlates."""

import io

import numpy as np
import scipy.ndimage as ndi
import tifffile
from helpers import assert_one_line_error, run
from PIL import Image, ImageCms
from test_cmyk import cmyk_profile

SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float64)


def _ok(result):
    """Success, and nothing on stderr but learn's fit."""
    assert result.exit_code == 0, result.stderr
    assert all(line.startswith("fit: ") for line in result.stderr.splitlines()), result.stderr


def test_learn_on_cmyk_learns_the_kernel_of_the_inks(tmp_path, rng):
    kernel = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], np.float64) / 8
    inks = rng.integers(0, 256, (24, 28, 4), dtype=np.uint8)
    blurred = np.stack([ndi.convolve(inks[..., c].astype(np.float64), kernel, mode="reflect") for c in range(4)], -1)
    tifffile.imwrite(tmp_path / "in.tif", inks, photometric="separated")
    tifffile.imwrite(tmp_path / "target.tif", np.round(blurred).astype(np.uint8), photometric="separated")
    _ok(run("learn", "--kernel-size", "3", tmp_path / "in.tif", tmp_path / "target.tif", tmp_path / "k.txt"))
    learned = np.loadtxt(tmp_path / "k.txt")
    assert np.abs(learned - kernel).max() < 0.01  # the target's rounding only


def test_learn_refuses_cmyk_against_rgba_of_as_many_channels(tmp_path, rng):
    inks = rng.integers(0, 256, (16, 16, 4), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "in.tif", inks, photometric="separated")
    Image.fromarray(inks, "RGBA").save(tmp_path / "target.png")
    result = run("learn", "--kernel-size", "3", tmp_path / "in.tif", tmp_path / "target.png", tmp_path / "k.txt")
    assert_one_line_error(result, 2, "INPUT is 8-bit CMYK and TARGET 8-bit RGB with alpha", "give both as CMYK")
    assert not (tmp_path / "k.txt").exists()


def test_conv_layer_on_a_cmyk_jpeg_sees_its_srgb_through_its_profile(tmp_path, rng):
    inks = rng.integers(0, 256, (18, 20, 4), dtype=np.uint8)
    Image.frombuffer("CMYK", (20, 18), inks, "raw", "CMYK", 0, 1).save(tmp_path / "in.jpg", quality=95,
                                                                       icc_profile=cmyk_profile())
    _ok(run("conv-layer", "-k", "-1 0 1; -2 0 2; -1 0 1", tmp_path / "in.jpg", tmp_path / "maps.npy"))
    with Image.open(tmp_path / "in.jpg") as jpeg:
        transform = ImageCms.buildTransform(ImageCms.ImageCmsProfile(io.BytesIO(cmyk_profile())),
                                            ImageCms.createProfile("sRGB"), "CMYK", "RGB",
                                            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
                                            flags=ImageCms.Flags.BLACKPOINTCOMPENSATION)
        rgb = np.asarray(ImageCms.applyTransform(jpeg, transform), np.float64)
    grey = rgb @ np.array([0.299, 0.587, 0.114])
    expected = ndi.correlate(grey, SOBEL_X)[1:-1, 1:-1]  # valid padding
    maps = np.load(tmp_path / "maps.npy")
    assert maps.shape == (1, 16, 18)
    assert np.abs(maps[0] - expected).max() < 1e-3


def test_conv_layer_weights_over_four_inks_are_refused_naming_srgb(tmp_path, rng):
    tifffile.imwrite(tmp_path / "in.tif", rng.integers(0, 256, (10, 10, 4), dtype=np.uint8), photometric="separated")
    np.save(tmp_path / "w.npy", np.ones((2, 4, 3, 3)))
    result = run("conv-layer", "--weights", tmp_path / "w.npy", tmp_path / "in.tif", tmp_path / "maps.npy")
    assert_one_line_error(result, 2, "in.tif: the weights have 4 channel(s), and the image's 8-bit CMYK is read as "
                                     "sRGB, 3 channels")
    assert not (tmp_path / "maps.npy").exists()
