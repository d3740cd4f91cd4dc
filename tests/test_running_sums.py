"""Tents (`imgconv.kernels.tent`) and the ``running-sums`` strategy for boxes and tents,
against scipy.ndimage in float64 (numpy.pad's extension filtered a kernel row at a time
for the tents of 41 and 61 taps: 0.05 s where scipy's 2-D filter took 0.6 s a case) and
hand-computed weights: every boundary mode, odd and even sizes, every sample type, 8-bit
outputs rounded, whole-height bands and threads."""

import math

import numpy as np
import pytest
import scipy.ndimage as ndi
from helpers import assert_rounded_from, padded_reference, reference

import imgconv
from imgconv.engine import choose_method, plan
from imgconv.engine.running_sums import box_chain
from imgconv.vocabulary import MODES

K = imgconv.kernels
RNG = np.random.default_rng(27)
# Kernels that are one outer product of boxes and tents, odd and even, square or not,
# anchored off centre (a zero border), and scaled.
TRAPEZOID = np.convolve(np.ones(3), np.ones(5))  # 1 2 3 3 3 2 1
KERNELS = {
    "tent r=3": K.tent(radius=3),
    "tent size 6": K.tent(size=6),
    "box 5": K.box(radius=2),
    "box 4": K.box(size=4),
    "box 3 x tent 7": np.outer(np.ones(3), K.tent(radius=3)[3]),
    "trapezoid x box 2": np.outer(TRAPEZOID, [0.5, 0.5]),
    "tent with zero border": np.pad(K.tent(radius=2), ((2, 0), (0, 1))),
    "negative box 2x7": np.full((2, 7), -0.25),
}
# float32 rounding of the largest partial sum (as tests/test_engine.py's `tolerance`);
# the sums run in float64, so float64 images get float64's.
FLOAT32 = 1e-6
FLOAT64 = 1e-12


def tolerance(image, kernel, dtype):
    scale = np.abs(kernel).sum() * max(1.0, np.abs(image.astype(np.float64)).max())
    return (FLOAT64 if dtype == np.float64 else FLOAT32) * scale


def image_of(dtype, shape=(37, 29, 3)):
    if dtype == np.float32 or dtype == np.float64:
        return RNG.normal(scale=50, size=shape).astype(dtype)
    if dtype is bool:
        return RNG.integers(0, 2, size=shape).astype(bool)
    info = np.iinfo(dtype)
    return RNG.integers(info.min, int(info.max) + 1, size=shape).astype(dtype)


def test_tent_weights_by_hand():
    t = np.array([1, 2, 3, 2, 1]) / 9
    np.testing.assert_allclose(K.tent(radius=2), np.outer(t, t), rtol=0, atol=1e-17)
    even = np.array([1, 2, 3, 3, 2, 1]) / 12
    np.testing.assert_allclose(K.tent(size=6), np.outer(even, even), rtol=0, atol=1e-17)
    assert K.tent(radius=0).tolist() == [[1.0]]
    assert np.array_equal(K.separable_tent(radius=40).dense(), K.tent(radius=40))
    assert K.separable_tent(radius=100_000).shape == (200_001, 200_001)


@pytest.mark.parametrize("arguments, message", [({}, "exactly one"), ({"radius": 1, "size": 3}, "exactly one"),
                                                ({"radius": 1.5}, "whole number"), ({"size": 0}, ">= 1"),
                                                ({"radius": 513}, "largest dense kernel is 1025x1025")])
def test_tent_refusals(arguments, message):
    with pytest.raises((imgconv.InvalidInputError, imgconv.KernelError), match=message):
        K.tent(**arguments)


@pytest.mark.parametrize("taps, expected", [
    ([0, 1, 2, 3, 2, 1, 0], (1, (3, 3), 1.0)),
    ([2, 4, 4, 2], (0, (2, 3), 2.0)),
    ([0, 0, -3, -3], (2, (2,), -3.0)),
    (list(TRAPEZOID / 15), (0, (3, 5), 1 / 15)),
    ([1, 2, 1, 2], None),
    ([1, 2, 2, 2], None),
    ([1, 3, 1], None),
    ([0.0, 0.0], None),
])
def test_box_chains_by_hand(taps, expected):
    found = box_chain(np.array(taps, dtype=np.float64))
    if expected is None:
        assert found is None
    else:
        first, lengths, scale = found
        assert (first, lengths) == expected[:2] and scale == pytest.approx(expected[2], rel=1e-15)


@pytest.mark.parametrize("convolution", [True, False], ids=["convolve", "correlate"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", KERNELS)
def test_matches_scipy_for_every_mode(name, mode, convolution):
    kernel, image = KERNELS[name], image_of(np.uint8)
    function = imgconv.convolve if convolution else imgconv.correlate
    result = function(image, kernel, mode=mode, cval=17.5, method="running-sums")
    expected = reference(image, kernel, mode, 17.5, correlate=not convolution)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, expected, rtol=0, atol=tolerance(image, kernel, np.float32))
    rounded = function(image, kernel, mode=mode, cval=17.5, method="running-sums", output=np.uint8)
    assert_rounded_from(rounded, expected)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64, bool])
@pytest.mark.parametrize("mode", MODES)
def test_every_sample_type(dtype, mode):
    kernel, image = K.tent(size=6), image_of(dtype, (23, 31, 2))
    result = imgconv.convolve(image, kernel, mode=mode, cval=3.0, method="running-sums")
    expected = reference(image, kernel, mode, 3.0)
    np.testing.assert_allclose(result, expected, rtol=0, atol=tolerance(image, kernel, result.dtype))
    if np.dtype(dtype).kind in "iu":
        assert_rounded_from(imgconv.convolve(image, kernel, mode=mode, cval=3.0, method="running-sums", output=dtype),
                            expected, dtype)


@pytest.mark.parametrize("mode", MODES)
def test_a_box_wider_than_the_image(mode):
    """Reaching beyond the far edge, repeated extensions included, on a 2-D image."""
    image, kernel = image_of(np.uint8, (9, 7)), K.box(size=18)
    result = imgconv.correlate(image, kernel, mode=mode, cval=9, method="running-sums")
    np.testing.assert_allclose(result, reference(image, kernel, mode, 9, correlate=True), rtol=0,
                               atol=tolerance(image, kernel, np.float32))


@pytest.mark.parametrize("mode", MODES)
def test_whole_height_bands_are_bit_identical_whatever_the_thread_count(mode):
    """A kernel of more than a quarter of the image's height runs as one band a channel,
    each pass split over the threads."""
    image, kernel = image_of(np.uint16, (90, 140, 3)), K.separable_tent(radius=30)
    assert plan(image.shape, kernel, mode, method="running-sums").layout.one_channel
    results = [imgconv.convolve(image, kernel, mode=mode, cval=100, method="running-sums", threads=n)
               for n in (1, 2, 3)]
    assert np.array_equal(results[0], results[1]) and np.array_equal(results[0], results[2])
    np.testing.assert_allclose(results[0], padded_reference(image, K.tent(radius=30), mode, 100), rtol=0,
                               atol=tolerance(image, K.tent(radius=30), np.float32))


@pytest.mark.parametrize("mode", MODES)
def test_whole_channels_with_a_tent_read_beyond_the_edges_themselves(mode):
    """Outside constant mode, no reach is gathered for them: the index maps of the
    boundary mode are read in place, also for a tent anchored off its centre."""
    image, kernel = image_of(np.uint8, (60, 90, 3)), K.separable_tent(radius=20)
    planned = plan(image.shape, kernel, mode, method="running-sums", dtype=np.uint8)
    assert planned.layout.one_channel
    assert planned.layout.reach == (((20, 20), (20, 20)) if mode == "constant" else ((0, 0), (0, 0)))
    shifted = np.pad(K.tent(radius=20), ((3, 0), (0, 5)))
    for weights in (kernel, shifted):
        result = imgconv.correlate(image, weights, mode=mode, cval=40, method="running-sums", output=np.uint8)
        dense = weights.dense() if hasattr(weights, "dense") else weights
        assert_rounded_from(result, padded_reference(image, dense, mode, 40, correlate=True))


def test_a_box_larger_than_a_dense_kernel_against_scipys_running_sums():
    """Factors of 1101 taps, held as a `SeparableKernel`: against uniform_filter1d,
    scipy's own running sums, along both axes."""
    image = image_of(np.uint8, (1300, 1250))
    kernel = K.separable_box(size=1101)
    expected = ndi.uniform_filter1d(ndi.uniform_filter1d(image.astype(np.float64), 1101, 0, mode="reflect"), 1101, 1,
                                    mode="reflect")
    result = imgconv.correlate(image, kernel, method="running-sums")
    np.testing.assert_allclose(result, expected, rtol=0, atol=FLOAT32 * 255)


def test_auto_takes_running_sums_where_its_estimate_is_lowest():
    """Large boxes; even sizes, which the FFT on whole channels cannot take (not
    symmetric about their anchor); nearest mode, where its frames grow; tents of radius
    100, by prefix sums. Small boxes go to the integer sums, tents of radius 50 to the
    separable passes, Gaussians never here."""
    photo = (2160, 3840)
    for kernel, mode in ((K.separable_box(radius=100), "reflect"), (K.separable_box(size=1000), "reflect"),
                         (K.separable_box(radius=500), "reflect"),
                         (K.separable_tent(size=1000), "reflect"), (K.separable_box(radius=500), "nearest"),
                         (K.separable_tent(radius=100), "nearest"), (K.separable_tent(radius=100), "reflect"),
                         (K.separable_tent(radius=500), "reflect")):
        assert choose_method(kernel, mode, shape=photo, dtype=np.uint8) == "running-sums", (kernel.shape, mode)
    assert choose_method(K.box(radius=2), shape=photo, dtype=np.uint8) == "integer"
    assert choose_method(K.separable_tent(radius=50), shape=photo, dtype=np.uint8) == "separable"
    assert choose_method(K.gaussian(radius=100), "nearest", shape=photo, dtype=np.uint8) != "running-sums"


def test_kernels_that_are_not_boxes_or_tents_are_refused():
    image = image_of(np.uint8)
    for kernel in (K.gaussian(radius=3), K.sobel(), K.sharpen(), K.box(radius=2) + K.tent(radius=2)):
        with pytest.raises(imgconv.KernelError, match="'running-sums' takes one outer product of boxes and tents"):
            imgconv.correlate(image, kernel, method="running-sums")


def test_integer_sums_wrap_around_and_come_out_exact():
    """16-bit samples summed in int32: a box of 101 x 101 at 65535 sums to 6.7e8, which
    fits, while the prefix sums along 1100 columns pass 2**31 and wrap around."""
    image = np.full((200, 1000), 65535, np.uint16)
    image[50:60, 100:900] = 0
    kernel = K.separable_box(size=101)
    result = imgconv.correlate(image, kernel, method="running-sums", output=np.uint16)
    expected = ndi.uniform_filter(image.astype(np.float64), 101, mode="reflect")
    assert_rounded_from(result, expected, np.uint16)
    assert result.max() == 65535


@pytest.mark.parametrize("mode, cval", [("reflect", 0.0), ("constant", 40000.0)])
def test_integer_sums_in_int64_where_int32_could_overflow(mode, cval):
    """A tent of 61 taps on 16-bit samples: sums up to 65535 * 31**4 = 6.1e10."""
    image = image_of(np.uint16, (48, 52, 2))
    kernel = K.separable_tent(radius=30)
    result = imgconv.correlate(image, kernel, mode=mode, cval=cval, method="running-sums", output=np.uint16)
    # The results come in float32, whose spacing near 65535 is 2**-8.
    assert_rounded_from(result, padded_reference(image, K.tent(radius=30), mode, cval, correlate=True), np.uint16,
                        2**-8)


def test_integer_sums_are_taken_only_where_they_are_exact():
    from imgconv.engine.running_sums import RunningSums, WholeRunningSums
    from imgconv.engine.strategy import Samples
    from imgconv.engine.taps import Taps

    def cost(kernel, dtype, mode="reflect", cval=0.0, shape=(2160, 3840), strategy=WholeRunningSums):
        taps = Taps.factored(kernel.terms, False, mode, shape)
        return strategy.cost(taps, mode, shape, float("inf"), Samples(np.dtype(dtype), cval))

    tent = K.separable_tent(radius=500)
    assert cost(tent, np.uint8) is not None and cost(tent, np.uint16) is not None
    assert cost(tent, np.uint8, "constant", 255.0) is not None
    for dtype, mode, cval in ((np.float32, "reflect", 0), (np.int16, "reflect", 0), (np.uint8, "constant", 17.5),
                              (np.uint8, "constant", -1.0)):
        assert cost(tent, dtype, mode, cval) is None, (dtype, mode, cval)
    # 65535 * 4001**4 passes 2**63 (on an image large enough to hold the tent unfolded):
    # such sums are left to the float64 ones.
    huge, shape = K.separable_tent(radius=4000), (20000, 20000)
    assert cost(huge, np.uint16, shape=shape) is None and cost(huge, np.uint8, shape=shape) is not None
    assert cost(huge, np.uint16, shape=shape, strategy=RunningSums) is not None


def test_a_narrow_gaussian_with_a_wide_radius_is_no_box_chain_and_filters():
    """sigma 0.5, radius 30: the edge weights are subnormal, so dividing by the first one
    overflows; that is no box, and the blur still equals scipy's."""
    taps = np.asarray(imgconv.kernels.separable_gaussian(0.5, radius=30).terms[0][0], np.float64)
    first = taps[np.flatnonzero(taps)[0]]
    with np.errstate(over="ignore"):
        assert not np.isfinite(taps.max() / first)
    assert box_chain(taps) is None
    image = np.random.default_rng(3).integers(0, 256, (40, 70), np.uint8)
    expected = ndi.gaussian_filter(image.astype(np.float64), 0.5, radius=30, mode="reflect")
    np.testing.assert_allclose(imgconv.blur(image, 0.5, radius=30, output=np.float64), expected, atol=1e-4)


@pytest.mark.parametrize("count", [1, 2])
def test_chunked_prefix_sums_equal_numpys_cumulative_sums(count):
    """Float64 matrix products over chunks against integer cumulative sums: rows of
    samples up to 2**26 (a tent's window sums down 8-bit columns reach 255 * 501**2),
    lengths that fill no whole chunk, and the bound past which float64 would round."""
    from imgconv.engine.prefix_sums import CHUNK, ChunkedPrefix

    generator = np.random.default_rng(count)
    for length in (1, CHUNK - count, 1001):
        chunked = ChunkedPrefix(count, length)
        samples = np.zeros((5, chunked.width), np.int64)
        samples[:, count : count + length] = generator.integers(0, 2**26, (5, length))
        expected = samples
        for _ in range(count):
            expected = np.cumsum(expected, axis=1)
        assert chunked.exact(2**26)
        out = np.empty(samples.shape)
        chunked(samples, out)
        assert np.array_equal(out, expected.astype(np.float64)), length
    wide = ChunkedPrefix(count, 4840)
    largest = (2**53 - 1) // math.comb(wide.width + count - 1, count)
    assert wide.exact(largest) and not wide.exact(largest + 1)


def test_window_sums_of_prefix_sums_are_boxes_in_turn():
    """Against numpy.convolve of the boxes, for one box, a tent and trapezoids (taken one
    difference at a time, and as four prefix sums where the boxes are longer than the
    windows are many), in int32 prefix sums that wrap around."""
    from imgconv.engine.prefix_sums import prefix_rows, window_sums

    samples = np.random.default_rng(5).integers(0, 65536, (1, 400, 3)).astype(np.uint16)
    for lengths in ((7,), (31, 31), (4, 9), (150, 200)):
        prefix = np.empty((1, 400 + len(lengths), 3), np.int32)
        prefix_rows(samples, len(lengths), prefix)
        count = 400 - sum(lengths) + len(lengths)
        out = np.empty((1, count, 3), np.int32)
        window_sums(prefix, lengths, 1, count, out)
        taps = np.ones(1)
        for length in lengths:
            taps = np.convolve(taps, np.ones(length))
        for column in range(3):
            expected = np.convolve(samples[0, :, column].astype(np.float64), taps, mode="valid")
            assert np.array_equal(out[0, :, column], expected), (lengths, column)


def test_16_bit_tents_whose_prefix_sums_float64_would_round_sum_in_integers():
    """A tent of radius 500 on 16-bit rows of 1100 samples: twice-summed prefix sums up
    to 65535 * 501**2 * 2102**2 / 2, past 2**53, so the rows take the int64 prefix sums
    instead of the float64 chunks; their results against scipy."""
    from imgconv.engine.prefix_sums import ChunkedPrefix

    assert not ChunkedPrefix(2, 1100 + 1000).exact(65535 * 501**2)
    image = np.random.default_rng(9).integers(0, 65536, (1010, 1100)).astype(np.uint16)
    image[:, 500:] //= 16  # a step, so that the sums are not nearly flat
    result = imgconv.correlate(image, K.separable_tent(radius=500), method="running-sums", output=np.uint16)
    taps = K.separable_tent(radius=500).terms[0][0]
    expected = ndi.correlate1d(ndi.correlate1d(image.astype(np.float64), taps, 0, mode="reflect"), taps, 1,
                               mode="reflect")
    assert_rounded_from(result, expected, np.uint16, 2**-8)
