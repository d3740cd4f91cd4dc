"""The ``kernel-columns`` strategy (a kernel's columns in one BLAS product, then shifted
additions) against scipy.ndimage in float64: every boundary mode, kernel shapes up to
its widest, columns of zeros, 8-bit limits with negative weights, float64 images,
thread counts and band heights, and what ``auto`` and ``method="direct"`` take."""

import numpy as np
import pytest
from helpers import assert_rounded_from, reference

import imgconv
from imgconv.engine import plan
from imgconv.engine.kernel_columns import MAX_WIDTH
from imgconv.errors import KernelError

MODES = ["reflect", "mirror", "nearest", "wrap", "constant"]
RNG = np.random.default_rng(23)
SHAPES = [(1, 2), (3, 1), (3, 3), (2, 5), (5, 4), (7, 7), (1, 9), (12, 9)]


def tolerance(image, kernel, dtype=np.float32):
    """A few ulps of the largest partial sum."""
    return 8 * np.finfo(dtype).eps * np.abs(kernel).sum() * max(1.0, np.abs(image).max())


@pytest.mark.parametrize("convolution", [True, False], ids=["convolve", "correlate"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_equals_scipy_in_every_mode(shape, mode, convolution):
    image = RNG.integers(0, 256, size=(70, 23, 3)).astype(np.uint8)  # three bands of 32 rows
    kernel = RNG.normal(size=shape)
    function = imgconv.convolve if convolution else imgconv.correlate
    result = function(image, kernel, mode=mode, cval=-3.5, method="kernel-columns")
    expected = reference(image, kernel, mode, -3.5, correlate=not convolution)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, expected, rtol=0, atol=tolerance(image, kernel))


@pytest.mark.parametrize("mode", MODES)
def test_grey_and_float64_images(mode):
    image = RNG.normal(size=(40, 31))
    kernel = RNG.normal(size=(5, 6))
    result = imgconv.correlate(image, kernel, mode=mode, cval=0.25, method="kernel-columns")
    assert result.dtype == np.float64
    np.testing.assert_allclose(result, reference(image, kernel, mode, 0.25, correlate=True), rtol=0,
                               atol=tolerance(image, kernel, np.float64))


def test_columns_of_zeros_are_skipped_and_a_zero_kernel_gives_zeros():
    image = RNG.integers(0, 256, size=(35, 40, 3)).astype(np.uint8)
    kernel = RNG.normal(size=(3, 7))
    kernel[:, [0, 2, 3, 6]] = 0  # the first and the last column among them
    result = imgconv.correlate(image, kernel, method="kernel-columns")
    np.testing.assert_allclose(result, reference(image, kernel, correlate=True), rtol=0,
                               atol=tolerance(image, kernel))
    zero = imgconv.correlate(image, np.zeros((3, 3)), method="kernel-columns", output=np.uint8)
    assert zero.dtype == np.uint8 and not zero.any()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("value", [0, 255])
def test_8_bit_limits_with_negative_weights(mode, value):
    # Flat images at both limits, and a photo of extremes: results far outside 0-255
    # both ways, clipped as the rounded float64 reference is.
    kernel = np.array([[-1.5, 2.25, -0.75], [3.0, -4.5, 1.0], [0.5, -2.0, 6.0]])
    flat = np.full((40, 30, 3), value, np.uint8)
    extremes = np.where(RNG.random((40, 30, 3)) < 0.5, 0, 255).astype(np.uint8)
    for image in (flat, extremes):
        cval = 255 - value if mode == "constant" else 0.0
        result = imgconv.convolve(image, kernel, mode=mode, cval=cval, method="kernel-columns", output=np.uint8)
        assert_rounded_from(result, reference(image, kernel, mode, cval))
    # Every sum of a flat image is the value times the weights' sum.
    assert np.all(imgconv.convolve(flat, kernel, mode="nearest", method="kernel-columns", output=np.uint8)
                  == np.clip(np.rint(value * kernel.sum()), 0, 255))


@pytest.mark.parametrize("threads", [2, 3])
def test_bit_identical_for_every_thread_count(threads):
    image = RNG.integers(0, 256, size=(300, 77, 3)).astype(np.uint8)
    kernel = RNG.normal(size=(7, 9))
    one = imgconv.correlate(image, kernel, method="kernel-columns", threads=1)
    assert np.array_equal(one, imgconv.correlate(image, kernel, method="kernel-columns", threads=threads))


def test_wider_kernels_are_refused_by_name_and_left_to_others():
    image = np.zeros((20, 20))
    wide = RNG.normal(size=(3, MAX_WIDTH + 1))
    with pytest.raises(KernelError, match=f"'kernel-columns'.*{MAX_WIDTH} columns.*{MAX_WIDTH + 1}x3"):
        imgconv.correlate(image, wide, method="kernel-columns")
    assert plan((2160, 3840, 3), wide, method="direct").strategy == "shifted-views"


def test_what_auto_and_direct_take():
    photo = (2160, 3840, 3)
    K = imgconv.kernels
    # Measured on the 4K photo, 8-bit out, two threads (2026-11-27, auto_choices.py; ms):
    assert plan(photo, RNG.normal(size=(7, 7))).strategy == "kernel-columns"  # 42; banded FFT 115
    assert plan(photo, K.gaussian(radius=1), dtype=np.uint8).strategy == "separable"  # 18; kernel-columns 20
    assert plan(photo, K.gaussian(radius=2), dtype=np.uint8).strategy == "separable"  # 19; kernel-columns 33
    assert plan(photo, K.sobel("x"), dtype=np.uint8).strategy == "integer"  # 10; kernel-columns 18
    # One thread, a 16-bit photo: 34.0 ms; shifted views 38.2.
    assert plan(photo, K.laplacian(), dtype=np.uint16).strategy == "kernel-columns"
    assert plan(photo, K.motion(15, 30), dtype=np.uint16).strategy == "shifted-views"  # 15 wide
    # method="direct" takes the quicker of its two forms.
    assert plan(photo, RNG.normal(size=(5, 5)), method="direct").strategy == "kernel-columns"
    assert plan(photo, K.motion(15, 30), method="direct").strategy == "shifted-views"
