"""--linear on a PNG whose gAMA declares other than sRGB: its samples decoded by the
power 1/gAMA, filtered, encoded by gAMA and rounded once, against the same computed in
float64 with scipy.ndimage; a cHRM's primaries, other than sRGB's, change nothing."""

import struct

import numpy as np
import pytest
from helpers import run
from PIL import Image, PngImagePlugin
from test_linear_icc import assert_within_rounding
from test_linear_icc import reference as curve_reference

from imgconv.filters import kernel_filter, preset_filter
from imgconv.io.picture import Picture
from imgconv.kernels import gaussian, identity, separable_gaussian
from imgconv.linear import filter_linear

WIDE_POINTS = (34570, 35850, 73470, 26530, 15960, 84040, 3660, 100)


def declaring(samples, mode, gamma, points=None):
    """A PNG's picture whose gAMA is ``gamma`` (times 100000), with a cHRM of ``points``."""
    colour = {b"gAMA": struct.pack(">I", gamma)} | ({b"cHRM": struct.pack(">8I", *points)} if points else {})
    return Picture([samples], mode, "PNG", metadata={"png_colour": colour}, name="gamma.png")


def reference(samples, kernel, peak, gamma, alpha=False):
    """`test_linear_icc.reference` through the power 100000 / gamma and back."""
    return curve_reference(samples, kernel, peak, (lambda v: v ** (100000 / gamma), lambda v: v ** (gamma / 100000)),
                           alpha)


@pytest.fixture
def rgb():
    return np.random.default_rng(22).integers(0, 256, (30, 34, 3)).astype(np.uint8)


@pytest.mark.parametrize("gamma", [100000, 55555, 250000])
def test_rgb_blurred_in_the_light_its_gamma_declares(rgb, gamma):
    kernel = gaussian(sigma=1.5)
    ours = filter_linear(declaring(rgb, "RGB", gamma), preset_filter(kernel), np.uint8)
    assert_within_rounding(ours, reference(rgb, kernel[::-1, ::-1], 255, gamma))


def test_alpha_premultiplied_in_that_light(rgb):
    rgba = np.dstack([rgb, np.random.default_rng(5).integers(0, 256, rgb.shape[:2])]).astype(np.uint8)
    kernel = gaussian(sigma=1)
    ours = filter_linear(declaring(rgba, "RGBA", 70000), preset_filter(kernel), np.uint8)
    theirs = reference(rgba, kernel[::-1, ::-1], 255, 70000, alpha=True)
    visible = theirs[..., 3] > 0
    assert_within_rounding(ours[visible], theirs[visible])


def test_sixteen_bit_grey_and_raw_results():
    grey = np.random.default_rng(6).integers(0, 65536, (25, 31)).astype(np.uint16)
    kernel = separable_gaussian(sigma=2)
    picture = declaring(grey, "I;16", 45000)
    ours = filter_linear(picture, preset_filter(kernel), np.uint16)
    assert ours.dtype == np.uint16
    assert_within_rounding(ours, reference(grey, kernel.dense()[::-1, ::-1], 65535, 45000))
    raw = filter_linear(picture, kernel_filter(identity()))  # encoded floats, unrounded
    assert raw.dtype == np.float32 and np.abs(raw - grey).max() < 0.02


def test_other_primaries_are_filtered_in_the_light_of_the_gamma(rgb):
    """Each channel filtered alike in linear light: a change of primaries (a matrix on
    linear light) commutes with it; with no gAMA, the curve is sRGB's."""
    kernel = gaussian(sigma=1)
    ours = filter_linear(declaring(rgb, "RGB", 100000, WIDE_POINTS), preset_filter(kernel), np.uint8)
    assert_within_rounding(ours, reference(rgb, kernel[::-1, ::-1], 255, 100000))
    no_gamma = Picture([rgb], "RGB", "PNG", metadata={"png_colour": {b"cHRM": struct.pack(">8I", *WIDE_POINTS)}})
    srgb = filter_linear(Picture([rgb], "RGB", "PNG"), preset_filter(kernel), np.uint8)
    np.testing.assert_array_equal(filter_linear(no_gamma, preset_filter(kernel), np.uint8), srgb)


def test_the_command_line_filters_it_and_keeps_the_gamma(tmp_path, rgb):
    info = PngImagePlugin.PngInfo()
    info.add(b"gAMA", struct.pack(">I", 100000))
    Image.fromarray(rgb).save(tmp_path / "in.png", pnginfo=info)
    assert run("blur", "-s", "1", "--linear", tmp_path / "in.png", tmp_path / "out.png").exit_code == 0
    with Image.open(tmp_path / "out.png") as image:
        assert image.info["gamma"] == 1.0 and image.size == (34, 30)
    info.add(b"cHRM", struct.pack(">8I", *WIDE_POINTS))
    Image.fromarray(rgb).save(tmp_path / "wide.png", pnginfo=info)
    assert run("blur", "-s", "1", "--linear", tmp_path / "wide.png", tmp_path / "wide-out.png").exit_code == 0
    with Image.open(tmp_path / "wide-out.png") as image:
        assert image.info["gamma"] == 1.0
        assert [round(v * 100000) for v in image.info["chromaticity"]] == list(WIDE_POINTS)
        assert np.array_equal(np.asarray(image), np.asarray(Image.open(tmp_path / "out.png")))
