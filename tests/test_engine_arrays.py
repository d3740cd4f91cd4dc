"""The engine's arguments in scipy.ndimage's and scikit-image's words: ``origin``,
``channel_axis`` and ``output`` (a type or an array), against scipy.ndimage channel by
channel, and the refusals at their limits."""

import dask.array as da
import numpy as np
import pytest
import scipy.ndimage as ndi

import imgconv
import imgconv.dask as idask
from imgconv.engine import SeparableKernel, plan
from imgconv.vocabulary import MODES

# float64 results on samples and weights of order 1, as in test_engine.py: room for
# sums taken in another order and for the FFT's rounding, far below a wrong tap.
FLOAT64 = 1e-10


def scipy_per_channel(image, kernel, *, convolution=False, mode="reflect", cval=0.0, origin=0, axis=2):
    """scipy.ndimage on each channel of ``image`` (channels on ``axis``; None: 2-D)."""
    function = ndi.convolve if convolution else ndi.correlate
    if axis is None:
        return function(image, kernel, mode=mode, cval=cval, origin=origin)
    planes = [function(plane, kernel, mode=mode, cval=cval, origin=origin) for plane in np.moveaxis(image, axis, 0)]
    return np.moveaxis(np.stack(planes), 0, axis)


def origins(shape):
    """Every origin scipy accepts for a kernel of ``shape``, at the limits and inside."""
    (kh, kw) = shape
    rows = sorted({-(kh // 2), 0, (kh - 1) // 2})
    columns = sorted({-(kw // 2), 0, (kw - 1) // 2})
    return [(r, c) for r in rows for c in columns]


@pytest.mark.parametrize("convolution", [False, True], ids=["correlate", "convolve"])
@pytest.mark.parametrize("method", ["shifted-views", "kernel-columns", "separable", "banded-fft"])
@pytest.mark.parametrize("shape", [(3, 3), (4, 5), (1, 6), (2, 1)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_origin_matches_scipy_for_every_strategy_mode_and_limit(rng, convolution, method, shape):
    image = rng.random((37, 29, 2))
    kernel = rng.normal(size=shape)
    if method == "separable":
        kernel = np.outer(rng.normal(size=shape[0]), rng.normal(size=shape[1]))
    function = imgconv.convolve if convolution else imgconv.correlate
    for origin in origins(shape):
        for mode in MODES:
            result = function(image, kernel, mode=mode, cval=0.5, origin=origin, method=method)
            expected = scipy_per_channel(image, kernel, convolution=convolution, mode=mode, cval=0.5, origin=origin)
            np.testing.assert_allclose(result, expected, rtol=0, atol=FLOAT64, err_msg=f"{origin} {mode}")


@pytest.mark.parametrize("convolution", [False, True], ids=["correlate", "convolve"])
def test_origin_on_8_bit_images_by_the_integer_sums(rng, convolution):
    image = rng.integers(0, 256, (40, 33), dtype=np.uint8)
    kernel = np.array([[1.0, 2.0, 1.0, 0.0], [0.0, -1.0, 3.0, 1.0]])
    function = imgconv.convolve if convolution else imgconv.correlate
    for origin in origins(kernel.shape):
        assert plan(image.shape, kernel, "nearest", convolution=convolution, dtype=np.uint8, origin=origin
                    ).strategy == "integer"
        result = function(image, kernel, output=np.int16, mode="nearest", origin=origin)
        expected = scipy_per_channel(image.astype(np.int16), kernel, convolution=convolution, mode="nearest",
                                     origin=origin, axis=None)
        np.testing.assert_array_equal(result, expected)


@pytest.mark.slow
@pytest.mark.parametrize("convolution", [False, True], ids=["correlate", "convolve"])
def test_origin_of_boxes_and_tents_by_running_sums(rng, convolution):
    image = rng.random((45, 38, 3))
    function = imgconv.convolve if convolution else imgconv.correlate
    for kernel in (imgconv.kernels.box(size=4), imgconv.kernels.tent(radius=2), np.outer(np.ones(3), np.ones(6)) / 18):
        for origin in origins(kernel.shape):
            for mode in MODES:
                result = function(image, kernel, mode=mode, cval=2.0, origin=origin, method="running-sums")
                expected = scipy_per_channel(image, kernel, convolution=convolution, mode=mode, cval=2.0,
                                             origin=origin)
                np.testing.assert_allclose(result, expected, rtol=0, atol=FLOAT64, err_msg=f"{origin} {mode}")


@pytest.mark.parametrize("convolution", [False, True], ids=["correlate", "convolve"])
def test_origin_with_truncate_and_per_channel_kernels(rng, convolution):
    """The truncated mean divides by the weights inside the image about the moved
    anchor; per-channel kernels each take the origin."""
    image = rng.random((30, 26, 2))
    kernel = rng.random((4, 5))
    function = imgconv.convolve if convolution else imgconv.correlate
    for origin in origins(kernel.shape):
        result = function(image, kernel, mode="truncate", origin=origin)
        inside = scipy_per_channel(np.ones((30, 26)), kernel, convolution=convolution, mode="constant",
                                   origin=origin, axis=None)
        expected = scipy_per_channel(image, kernel, convolution=convolution, mode="constant", origin=origin)
        np.testing.assert_allclose(result, expected / inside[..., np.newaxis], atol=FLOAT64, err_msg=str(origin))
        both = function(image, [kernel, kernel[::-1]], mode="nearest", origin=origin)
        np.testing.assert_allclose(both[..., 1], scipy_per_channel(image[..., 1], kernel[::-1], mode="nearest",
                                                                   convolution=convolution, origin=origin, axis=None),
                                   atol=FLOAT64)


def test_origin_moves_the_anchor_of_a_whole_channel_fft(rng):
    """The whole-channel FFT needs a kernel symmetric about its anchor: one symmetric
    about the tap an origin moves the anchor to takes it, and one that is not, in any
    mode but wrap, is refused by it."""
    taps = np.array([0.0, 0.0, 1.0, 3.0, 1.0])  # symmetric about index 3 = 5 // 2 + 1
    kernel = np.outer(taps, taps)
    image = rng.random((60, 70))
    assert plan(image.shape, kernel, "mirror", method="whole-channel-fft", origin=1).strategy == "whole-channel-fft"
    result = imgconv.correlate(image, kernel, mode="mirror", origin=1, method="whole-channel-fft")
    np.testing.assert_allclose(result, ndi.correlate(image, kernel, mode="mirror", origin=1), atol=FLOAT64)
    with pytest.raises(imgconv.KernelError, match="cannot filter a 5x5 kernel"):
        imgconv.correlate(image, kernel, mode="mirror", origin=0, method="whole-channel-fft")
    wrapped = imgconv.convolve(image, kernel, mode="wrap", origin=(-2, 1), method="whole-channel-fft")
    np.testing.assert_allclose(wrapped, ndi.convolve(image, kernel, mode="wrap", origin=(-2, 1)), atol=FLOAT64)


def test_origin_of_a_factored_kernel_longer_than_a_dense_one(rng):
    """A SeparableKernel of 1101 taps is folded onto the image, never made dense; its
    origin moves the anchor as scipy's does, here by two correlate1d passes."""
    column, row = rng.random(1101), rng.random(1101)
    image = rng.random((300, 280))
    for mode in ("reflect", "nearest", "wrap"):
        result = imgconv.correlate(image, SeparableKernel([(column, row)]), mode=mode, origin=(550, -550))
        expected = ndi.correlate1d(ndi.correlate1d(image, column, axis=0, mode=mode, origin=550), row, axis=1,
                                   mode=mode, origin=-550)
        np.testing.assert_allclose(result, expected, rtol=1e-9, err_msg=mode)


@pytest.mark.parametrize("origin, message", [
    (2, "origin 2 along the rows puts the anchor off the kernel: with 4 taps it must lie in -2..1"),
    ((-3, 0), "origin -3 along the rows .* with 4 taps it must lie in -2..1"),
    ((0, -2), "origin -2 along the columns .* with 3 taps it must lie in -1..1"),
    ((1, 2), "origin 2 along the columns .* with 3 taps it must lie in -1..1"),
])
def test_an_origin_off_the_kernel_is_refused_as_scipy_refuses_it(origin, message):
    kernel = np.ones((4, 3))
    for function in (imgconv.correlate, imgconv.convolve, idask.correlate, idask.convolve):
        with pytest.raises(imgconv.InvalidInputError, match=message):
            function(np.ones((8, 8)), kernel, origin=origin)
    for function in (ndi.correlate, ndi.convolve):
        with pytest.raises(ValueError, match="Invalid origin"):
            function(np.ones((8, 8)), kernel, origin=origin)


@pytest.mark.parametrize("origin", [(1, 1, 1), 0.5, "1", [[0, 1]]])
def test_an_origin_that_is_not_one_or_two_ints_is_refused(origin):
    with pytest.raises(imgconv.InvalidInputError, match="origin must be an int or a pair of ints"):
        imgconv.correlate(np.ones((8, 8)), np.ones((3, 3)), origin=origin)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_channel_axis_takes_any_layout_and_keeps_it(rng, axis):
    shape = [20, 30]
    shape.insert(axis % 3, 3)
    image = rng.random(shape)
    kernel = rng.normal(size=(3, 4))
    result = imgconv.convolve(image, kernel, mode="wrap", origin=(1, 0), channel_axis=axis)
    assert result.shape == image.shape and result.flags.c_contiguous
    expected = scipy_per_channel(image, kernel, convolution=True, mode="wrap", origin=(1, 0), axis=axis % 3)
    np.testing.assert_allclose(result, expected, atol=FLOAT64)


def test_channel_first_gradient_magnitude_equals_each_channels(rng):
    image = rng.integers(0, 256, (3, 40, 50), dtype=np.uint8)
    gx, gy = imgconv.kernels.sobel("x"), imgconv.kernels.sobel("y")
    result = imgconv.engine.magnitude(image, [gx, gy], output=np.uint8, channel_axis=0)
    for c in range(3):
        plane = image[c].astype(np.float64)
        expected = np.hypot(ndi.correlate(plane, gx), ndi.correlate(plane, gy))
        np.testing.assert_array_equal(result[c], np.clip(np.rint(expected), 0, 255))


def test_the_default_takes_channels_last_and_refuses_channel_first(rng):
    rgb = rng.random((16, 12, 3))
    np.testing.assert_array_equal(imgconv.correlate(rgb, np.ones((3, 3))),
                                  imgconv.correlate(rgb, np.ones((3, 3)), channel_axis=-1))
    with pytest.raises(imgconv.InvalidInputError,
                       match=r"a \(3, 64, 64\) array has 64 samples along its last axis.*channel_axis=0 if axis 0 "
                             r"holds the channels .*channel_axis=-1 to filter 64 channels, each an image 3 rows high"):
        imgconv.correlate(np.zeros((3, 64, 64)), np.ones((3, 3)))
    many = rng.random((10, 12, 64))  # 64 channels, when said so
    np.testing.assert_allclose(imgconv.correlate(many, [[1.0, -1.0]], channel_axis=-1),
                               scipy_per_channel(many, [[1.0, -1.0]]), atol=FLOAT64)


@pytest.mark.parametrize("shape, axis, message", [
    ((4, 5, 3), None, r"channel_axis=None takes a 2-D image, got shape \(4, 5, 3\)"),
    ((4, 5), 0, r"channel_axis=0 takes a 3-D array .* got shape \(4, 5\)"),
    ((4, 5, 3), 3, "channel_axis=3 is out of range"),
    ((4, 5, 3), "first", "channel_axis must be an int, None or 'auto'"),
    ((2, 4, 5, 3), "auto", r"image must be 2-D \(H, W\), or 3-D with an axis of channels"),
    ((7,), "auto", "image must be 2-D"),
])
def test_a_channel_axis_that_does_not_fit_is_refused(shape, axis, message):
    with pytest.raises(imgconv.InvalidInputError, match=message):
        imgconv.correlate(np.zeros(shape), np.ones((3, 3)), channel_axis=axis)


def test_output_array_is_filled_and_returned(rng):
    image = rng.integers(0, 256, (3, 50, 40), dtype=np.uint8)
    out = np.full((3, 50, 40), 7, np.int16)
    kernel = np.array([[0.0, -1.0, 0.0], [-1.0, 4.5, -1.0], [0.0, -1.0, 0.0]])
    result = imgconv.correlate(image, kernel, out, "mirror", channel_axis=0)
    assert result is out
    expected = scipy_per_channel(image.astype(np.float64), kernel, mode="mirror", axis=0)
    np.testing.assert_array_equal(out, np.clip(np.rint(expected), -32768, 32767))


@pytest.mark.parametrize("method", ["shifted-views", "separable", "banded-fft"])
def test_output_may_be_the_input_itself(rng, method):
    """Bands read rows beyond their own, which a result written over the input in place
    would have changed already: the result goes through a copy, as in scipy."""
    image = rng.random((150, 40))
    original = image.copy()
    kernel = np.outer([1.0, 2.0, 1.0, 0.5, 0.25], [1.0, -1.0, 2.0])
    result = imgconv.convolve(image, kernel, image, "nearest", threads=1, method=method)
    assert result is image
    np.testing.assert_allclose(image, ndi.convolve(original, kernel, mode="nearest"), atol=FLOAT64)


@pytest.mark.parametrize("output, message", [
    (np.zeros((5, 6)), r"output has shape \(5, 6\), and the input \(6, 5\)"),
    (np.zeros((6, 5), np.complex64), "output must hold integers or floats, got complex64"),
    (np.bool_, "output must hold integers or floats, got bool"),
    ("nearest", "output must be a NumPy type or an array to fill, got 'nearest'; the boundary mode is the fourth "
                "argument, or mode="),
    ("mirrored", "output must be a NumPy type or an array to fill, got 'mirrored'$"),
])
def test_an_output_that_cannot_take_the_result_is_refused(output, message):
    for function in (imgconv.correlate, imgconv.convolve):
        with pytest.raises(imgconv.InvalidInputError, match=message):
            function(np.zeros((6, 5)), np.ones((3, 3)), output)


def test_a_read_only_output_is_refused_before_anything_is_written():
    out = np.zeros((6, 5))
    out.flags.writeable = False
    with pytest.raises(imgconv.InvalidInputError, match="output is a read-only array"):
        imgconv.correlate(np.ones((6, 5)), np.ones((3, 3)), out)


def test_dask_takes_origin_and_channel_axis_as_the_engine_does(rng):
    image = rng.integers(0, 256, (3, 170, 60), dtype=np.uint8)
    kernel = rng.normal(size=(6, 5))
    for flip, function in ((False, idask.correlate), (True, idask.convolve)):
        for origin in [(-3, 2), (2, -2), (0, 0)]:
            lazy = function(da.from_array(image, chunks=(1, 16, 16)), kernel, np.float32, "reflect", origin=origin,
                            channel_axis=0, method="direct", block_rows=1)
            whole = (imgconv.convolve if flip else imgconv.correlate)(image, kernel, np.float32, "reflect",
                                                                      origin=origin, channel_axis=0, method="direct")
            assert lazy.shape == image.shape
            np.testing.assert_array_equal(lazy.compute(), whole, err_msg=f"{flip} {origin}")
    with pytest.raises(imgconv.InvalidInputError, match="output as a type, not an array"):
        idask.correlate(image, kernel, np.empty(image.shape), channel_axis=0)
