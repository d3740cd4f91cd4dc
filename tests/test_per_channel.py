"""Per-channel kernels and per-channel values beyond the edges, against scipy.ndimage
channel by channel: every boundary mode, RGB and RGBA, kernels that take different
strategies, magnitudes, integer outputs and the refusals."""

import numpy as np
import pytest
import scipy.ndimage as ndi
from helpers import assert_rounded_from

import imgconv
from imgconv.engine import Kernel, SeparableKernel, magnitude
from imgconv.vocabulary import MODES

K = imgconv.kernels
RNG = np.random.default_rng(2027)
# One kernel per channel, each suiting another strategy: integer (Sobel), running sums
# (a tent), FFT or separable (a large Gaussian), direct (a random asymmetric kernel).
RGBA_KERNELS = [K.sobel("x"), K.tent(radius=4), K.gaussian(radius=9), RNG.normal(size=(4, 3))]
FLOAT32 = 1e-6  # float32 rounding of the largest partial sum, as in tests/test_engine.py


def per_channel(image, kernels, mode, cvals, correlate=False):
    """scipy.ndimage in float64, channel c with kernel c and cval c."""
    function = ndi.correlate if correlate else ndi.convolve
    planes = np.atleast_3d(image).astype(np.float64)
    return np.stack([function(planes[..., c], np.asarray(kernels[c], np.float64), mode=mode, cval=cvals[c])
                     for c in range(planes.shape[2])], -1).reshape(image.shape)


def tolerance(kernels):
    return FLOAT32 * max(np.abs(np.asarray(k)).sum() for k in kernels) * 300


@pytest.mark.parametrize("convolution", [True, False], ids=["convolve", "correlate"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("form", ["list", "array"])
def test_rgba_kernels_per_channel_match_scipy(form, mode, convolution):
    image = RNG.integers(0, 256, size=(41, 53, 4)).astype(np.uint8)
    kernels = [np.pad(k, ((0, 19 - k.shape[0]), (0, 19 - k.shape[1]))) for k in RGBA_KERNELS]  # one (kh, kw)
    given = kernels if form == "list" else np.stack(kernels, axis=-1)
    function = imgconv.convolve if convolution else imgconv.correlate
    result = function(image, given, mode=mode, cval=40.0)
    expected = per_channel(image, kernels, mode, [40.0] * 4, correlate=not convolution)
    assert result.shape == image.shape and result.dtype == np.float32
    np.testing.assert_allclose(result, expected, rtol=0, atol=tolerance(kernels))


@pytest.mark.parametrize("mode", MODES)
def test_kernels_of_different_sizes_and_types(mode):
    """A list may mix sizes, `Kernel`s with offsets and `SeparableKernel`s."""
    image = RNG.integers(0, 65536, size=(30, 26, 3)).astype(np.uint16)
    box = K.separable_box(radius=3)
    kernels = [Kernel(K.sharpen(), offset=-100.0), box, np.array([[1.0, -2.0, 0.5, 3.0]])]
    result = imgconv.convolve(image, kernels, mode=mode, cval=7.0)
    expected = per_channel(image, [K.sharpen(), box.dense(), kernels[2]], mode, [7.0] * 3)
    expected[..., 0] -= 100.0
    np.testing.assert_allclose(result, expected, rtol=0, atol=FLOAT32 * 7 * 65535)


@pytest.mark.parametrize("convolution", [True, False], ids=["convolve", "correlate"])
def test_cval_per_channel_in_constant_mode(convolution):
    image = RNG.integers(0, 256, size=(19, 23, 3)).astype(np.uint8)
    kernel, cvals = K.box(radius=3), [255.0, 0.0, 127.5]
    function = imgconv.convolve if convolution else imgconv.correlate
    result = function(image, kernel, mode="constant", cval=cvals)
    expected = per_channel(image, [kernel] * 3, "constant", cvals, correlate=not convolution)
    np.testing.assert_allclose(result, expected, rtol=0, atol=FLOAT32 * 255)
    assert result[0, 0, 0] > image[:4, :4, 0].mean() - 1 and result[0, 0, 1] < image[:4, :4, 1].mean()  # seen
    assert_rounded_from(function(image, kernel, mode="constant", cval=cvals, output=np.uint8), expected)


def test_cval_and_kernels_per_channel_together():
    image = RNG.normal(size=(17, 15, 4)).astype(np.float64)
    cvals = np.array([1.0, -2.0, 3.5, 0.0])
    result = imgconv.correlate(image, RGBA_KERNELS, mode="constant", cval=cvals)
    expected = per_channel(image, RGBA_KERNELS, "constant", cvals, correlate=True)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("mode", [m for m in MODES if m != "constant"])
def test_cval_per_channel_is_unused_outside_constant_mode(mode):
    image = RNG.integers(0, 256, size=(20, 21, 3)).astype(np.uint8)
    result = imgconv.convolve(image, K.gaussian(radius=3), mode=mode, cval=[10, 20, 30], output=np.uint8)
    assert np.array_equal(result, imgconv.convolve(image, K.gaussian(radius=3), mode=mode, output=np.uint8))


def test_zero_mode_overrides_cval_per_channel():
    image = np.full((9, 9, 3), 90, np.uint8)
    result = imgconv.convolve(image, K.box(radius=1), mode="zero", cval=[200, 50, 7])
    np.testing.assert_allclose(result[0, 0], [40.0, 40.0, 40.0], rtol=1e-6)  # 4 of 9 samples inside


def test_magnitude_per_channel():
    image = RNG.integers(0, 256, size=(25, 27, 3)).astype(np.uint8)
    xs = np.stack([K.sobel("x"), K.prewitt("x"), K.scharr("x")], -1)
    ys = np.stack([K.sobel("y"), K.prewitt("y"), K.scharr("y")], -1)
    result = magnitude(image, [xs, ys], mode="constant", cval=[0, 100, 255])
    gx = per_channel(image, list(np.moveaxis(xs, -1, 0)), "constant", [0, 100, 255], correlate=True)
    gy = per_channel(image, list(np.moveaxis(ys, -1, 0)), "constant", [0, 100, 255], correlate=True)
    np.testing.assert_allclose(result, np.hypot(gx, gy), rtol=1e-6, atol=1e-3)


def test_a_grey_image_takes_one_kernel_in_a_list():
    image = RNG.integers(0, 256, size=(12, 14)).astype(np.uint8)
    result = imgconv.correlate(image, np.ones((3, 3, 1)), mode="constant", cval=[5.0])
    np.testing.assert_allclose(result, ndi.correlate(image.astype(float), np.ones((3, 3)), mode="constant", cval=5.0),
                               rtol=1e-6)


@pytest.mark.parametrize("kernel, cval, error, message", [
    ([K.sobel(), K.sobel()], 0.0, imgconv.KernelError, "a list of kernels gives 2 kernels, but the image has 3"),
    (np.ones((3, 3, 4)), 0.0, imgconv.KernelError, "a 3-D kernel's last axis gives 4 kernels, but the image has 3"),
    (K.box(radius=1), [1, 2], imgconv.InvalidInputError, "cval gives 2 values, but the image has 3 channels"),
    (K.box(radius=1), [[1, 2, 3]], imgconv.InvalidInputError, "cval gives 3 values"),
    (K.box(radius=1), ["a", "b", "c"], imgconv.InvalidInputError, "cval must be a number or one number per channel"),
    ([K.sobel(), np.ones((2, 2)), [[np.nan]]], 0.0, imgconv.KernelError, "NaN or infinite"),
    (K.box(radius=1), [1, np.inf, 3], imgconv.InvalidInputError, "cval must be finite, got 1.0, inf, 3.0"),
])
def test_refusals(kernel, cval, error, message, monkeypatch):
    """Refused before any channel is filtered."""
    image = np.zeros((8, 8, 3), np.uint8)
    monkeypatch.setattr("imgconv.engine.bands.filter_image", None)  # a call would raise TypeError
    with pytest.raises(error, match=message):
        imgconv.convolve(image, kernel, mode="constant", cval=cval)


def test_separable_kernels_per_channel_larger_than_dense():
    """Each channel's plan is its own: a factor of 1201 taps on one channel, a 3x3 on
    the other."""
    image = RNG.integers(0, 256, size=(40, 30, 2)).astype(np.uint8)
    big = SeparableKernel([(np.full(1201, 1 / 1201), np.ones(1))])
    result = imgconv.correlate(image, [big, K.laplacian()], mode="wrap")
    column = ndi.correlate1d(image[..., 0].astype(float), np.full(1201, 1 / 1201), axis=0, mode="wrap")
    np.testing.assert_allclose(result[..., 0], column, rtol=0, atol=FLOAT32 * 255)
    np.testing.assert_allclose(result[..., 1], ndi.correlate(image[..., 1].astype(float), K.laplacian(), mode="wrap"),
                               rtol=0, atol=FLOAT32 * 8 * 255)
