"""The engine against scipy.ndimage, the independent reference, and hand-computed cases."""

import hashlib

import numpy as np
import pytest
import scipy.ndimage as ndi
from helpers import assert_rounded_from, padded_reference, reference, symmetric_taps
from hypothesis import given, settings
from hypothesis import strategies as st

import imgconv
from imgconv.engine import plan, separable_terms
from imgconv.vocabulary import ALIASES, MODES

KERNEL_SHAPES = [(1, 1), (3, 3), (4, 4), (2, 5), (5, 2), (7, 7), (1, 4), (6, 3)]
ALL_NAMES = list(MODES) + [a for a in ALIASES if a != "zero"]

# Tolerances, all judgements: far above the rounding seen, far below any real mistake
# (a wrong tap or boundary sample moves a result by the size of a sample).
# float32 results may differ from scipy's float64 ones by rounding: FLOAT32, about 8
# float32 ulps (eps 1.2e-7), of the largest partial sum (`tolerance`).
FLOAT32 = 1e-6
# float64 results on samples and weights of order 1: some 4500 float64 ulps (eps
# 2.2e-16), room for sums of thousands of terms taken in another order and for the
# FFT's transforms, which err by about log2(n) ulps.
FLOAT64 = 1e-12
# float64 results whose partial sums reach tens or hundreds (8-bit photographs, random
# normal samples and weights).
FLOAT64_LARGE = 1e-9


def tolerance(image, kernel):
    """float32 rounding: a few ulps of the largest partial sum the filter can form."""
    return FLOAT32 * np.abs(kernel).sum() * max(1.0, np.abs(image).max())


@pytest.mark.parametrize("convolution", [True, False], ids=["convolve", "correlate"])
@pytest.mark.parametrize("shape", KERNEL_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["direct", "shifted-views", "kernel-columns", "separable", "fft", "auto"])
def test_matches_scipy_for_every_mode_and_kernel_shape(rng, convolution, shape, mode, method):
    image = rng.integers(0, 256, size=(11, 9, 3)).astype(np.uint8)
    kernel = rng.normal(size=shape)  # asymmetric
    function = imgconv.convolve if convolution else imgconv.correlate
    result = function(image, kernel, mode=mode, cval=17.0, method=method)
    expected = reference(image, kernel, mode, 17.0, correlate=not convolution)
    assert result.dtype == np.float32 and result.shape == image.shape
    np.testing.assert_allclose(result, expected, rtol=0, atol=tolerance(image, kernel))


@pytest.mark.parametrize("convolution", [True, False], ids=["convolve", "correlate"])
@pytest.mark.parametrize("name", ALL_NAMES)
def test_aliases_equal_their_mode_on_2d_float64(rng, convolution, name):
    image = rng.random((8, 10))
    kernel = rng.normal(size=(3, 4))
    function = imgconv.convolve if convolution else imgconv.correlate
    result = function(image, kernel, mode=name, cval=-2.5)
    canonical = name if name in MODES else ALIASES[name]
    expected = reference(image, kernel, canonical, -2.5, correlate=not convolution)
    assert result.dtype == np.float64
    np.testing.assert_allclose(result, expected, rtol=FLOAT64, atol=FLOAT64)


def test_zero_is_constant_with_cval_zero(rng):
    image = rng.random((6, 6)) + 1
    kernel = rng.random((3, 3))
    result = imgconv.correlate(image, kernel, mode="zero", cval=99.0)
    np.testing.assert_allclose(result, ndi.correlate(image, kernel, mode="constant", cval=0.0))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kernel_shape", [(7, 7), (8, 8), (7, 2)])
def test_kernel_wider_than_the_image(rng, mode, kernel_shape):
    image = rng.random((3, 3))
    kernel = rng.normal(size=kernel_shape)
    for convolution, function in ((True, imgconv.convolve), (False, imgconv.correlate)):
        expected = reference(image, kernel, mode, 0.5, correlate=not convolution)
        np.testing.assert_allclose(function(image, kernel, mode=mode, cval=0.5), expected, atol=FLOAT64)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kernel_shape", [(61, 1), (25, 43), (3, 101)], ids=str)
@pytest.mark.parametrize("method", ["direct", "separable", "fft"])
def test_kernel_many_times_the_image(rng, mode, kernel_shape, method):
    # Far beyond scipy.ndimage.correlate's reach in reflect mode (it reads outside the
    # image there), so the reference is numpy.pad's repeated extension, and correlate1d
    # for the column kernel.
    image = rng.random((3, 4))
    kernel = rng.random(kernel_shape)
    expected = padded_reference(image, kernel, mode, 0.5, correlate=True)
    result = imgconv.correlate(image, kernel, mode=mode, cval=0.5, method=method)
    np.testing.assert_allclose(result, expected, rtol=FLOAT64, atol=FLOAT64)
    if kernel_shape[1] == 1:
        np.testing.assert_allclose(result, ndi.correlate1d(image, kernel[:, 0], axis=0, mode=mode, cval=0.5),
                                   rtol=FLOAT64, atol=FLOAT64)


@pytest.mark.parametrize("mode", MODES)
def test_single_row_and_single_pixel_images(rng, mode):
    for shape in [(1, 9), (9, 1), (1, 1)]:
        image = rng.random(shape)
        kernel = rng.normal(size=(5, 4))
        expected = reference(image, kernel, mode, 0.0)
        np.testing.assert_allclose(imgconv.convolve(image, kernel, mode=mode), expected, atol=FLOAT64)


@pytest.mark.parametrize("radius, sigma, output", [(5, 3, None), (30, 10, None), (30, 10, np.float64)])
@pytest.mark.slow
def test_symmetric_gaussian_on_a_real_photograph(camera, radius, sigma, output):
    # radius 30 takes the planar path; float64 checks it keeps the precision.
    kernel = imgconv.kernels.gaussian(radius=radius, sigma=sigma)
    image = camera if output is None else camera.astype(output)
    result = imgconv.convolve(image, kernel)
    assert result.dtype == (np.float32 if output is None else output)
    atol = tolerance(camera, kernel) if output is None else FLOAT64_LARGE
    np.testing.assert_allclose(result, reference(camera, kernel), atol=atol)


def test_hand_computed_correlation_versus_convolution():
    # An impulse correlated with a kernel draws the kernel rotated by 180 degrees;
    # convolved, it draws the kernel itself. That is the definition of the two.
    impulse = np.zeros((5, 5))
    impulse[2, 2] = 1
    kernel = np.arange(1.0, 10.0).reshape(3, 3)
    assert np.array_equal(imgconv.convolve(impulse, kernel, mode="constant")[1:4, 1:4], kernel)
    assert np.array_equal(imgconv.correlate(impulse, kernel, mode="constant")[1:4, 1:4], kernel[::-1, ::-1])


def test_hand_computed_even_kernel_anchoring():
    # Kernel [1, 10] at origin 0 is centred on its second tap (index n//2 = 1).
    row = np.array([[1.0, 2.0, 3.0, 4.0]])
    kernel = np.array([[1.0, 10.0]])
    # correlate: out[i] = 1*in[i-1] + 10*in[i]
    assert np.array_equal(imgconv.correlate(row, kernel, mode="constant"), [[10, 21, 32, 43]])
    # convolve: out[i] = 1*in[i+1] + 10*in[i]
    assert np.array_equal(imgconv.convolve(row, kernel, mode="constant"), [[12, 23, 34, 40]])


@pytest.mark.parametrize(
    "mode, left, right",
    [
        # Row a b c d = 1 2 3 4. Kernel [1, 0, 0, 0, 0] correlated makes each output the
        # sample two to the left, [0, 0, 0, 0, 1] the sample two to the right, so the
        # first two outputs of one and the last two of the other show the extension,
        # two samples deep, where every mode differs.
        ("reflect", [2, 1, 1, 2], [3, 4, 4, 3]),  # b a | a b c d | d c
        ("mirror", [3, 2, 1, 2], [3, 4, 3, 2]),  # c b | a b c d | c b
        ("nearest", [1, 1, 1, 2], [3, 4, 4, 4]),  # a a | a b c d | d d
        ("wrap", [3, 4, 1, 2], [3, 4, 1, 2]),  # c d | a b c d | a b
        ("constant", [9, 9, 1, 2], [3, 4, 9, 9]),  # cval 9
    ],
)
def test_hand_computed_boundary_extension(mode, left, right):
    row = np.array([[1.0, 2.0, 3.0, 4.0]])
    assert np.array_equal(imgconv.correlate(row, [[1.0, 0.0, 0.0, 0.0, 0.0]], mode=mode, cval=9), [left])
    assert np.array_equal(imgconv.correlate(row, [[0.0, 0.0, 0.0, 0.0, 1.0]], mode=mode, cval=9), [right])


def test_kernel_object_offset_is_added():
    image = np.full((4, 4), 10.0)
    kernel = imgconv.Kernel(np.ones((3, 3)) / 9, offset=128.0)
    np.testing.assert_allclose(imgconv.convolve(image, kernel), 138.0)


@pytest.mark.parametrize("method", ["direct", "separable", "fft"])
@pytest.mark.parametrize("shape", [(3, 3), (5, 45)], ids=str)  # 45 taps: rows on planes
def test_offset_reaches_every_channel_with_every_method(rng, method, shape):
    image = rng.integers(0, 200, size=(40, 70, 3)).astype(np.uint8)
    weights = rng.random(shape)
    result = imgconv.convolve(image, imgconv.Kernel(weights, offset=-20.5), method=method)
    np.testing.assert_allclose(result, reference(image, weights) - 20.5, rtol=0,
                               atol=tolerance(image, weights))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32, bool])
def test_result_dtype_is_float32_unless_float64(dtype):
    image = np.ones((4, 5, 2), dtype=dtype)
    result = imgconv.correlate(image, np.ones((3, 3)))
    assert result.dtype == np.float32 and result.shape == (4, 5, 2)
    np.testing.assert_allclose(result, 9.0, rtol=FLOAT32)


@pytest.mark.parametrize("dtype", [np.int32, np.uint32, np.int64, np.uint64])
@pytest.mark.parametrize("method", ["direct", "separable", "fft"])
def test_integers_wider_than_16_bits_are_filtered_in_float64(rng, dtype, method):
    """float32's 24-bit significand would round 32-bit samples by up to 256 levels."""
    image = rng.integers(2**31 - 2**20, 2**31, (30, 40), dtype=np.int64).astype(dtype)
    kernel = imgconv.kernels.gaussian(1.5, radius=3)
    result = imgconv.correlate(image, kernel, method=method)
    assert result.dtype == np.float64 and imgconv.engine.work_dtype(dtype) == np.float64
    np.testing.assert_allclose(result, reference(image, kernel, correlate=True), rtol=FLOAT64, atol=0)
    rounded = imgconv.correlate(image, kernel, method=method, output=dtype)
    assert_rounded_from(rounded, reference(image, kernel, correlate=True), dtype=dtype)


def test_separable_terms_rebuild_the_kernel(rng):
    gaussian = imgconv.kernels.gaussian(radius=4, sigma=2)
    assert len(separable_terms(gaussian)) == 1
    dense = rng.normal(size=(5, 5))
    terms = separable_terms(dense)
    assert len(terms) == 5
    np.testing.assert_allclose(sum(np.outer(c, r) for c, r in terms), dense, atol=FLOAT64)


@pytest.mark.parametrize(
    "kernel, message",
    [
        (np.zeros((0, 3)), "empty"),
        (np.ones(3), "2-D"),
        (np.ones((2, 2, 2)), "2-D"),
        ([[1.0, np.nan]], "NaN or infinite"),
        ([[1.0, np.inf]], "NaN or infinite"),
        (np.ones((1, 1026)), "largest kernel"),
        ([["a"]], "not an array of numbers"),
    ],
)
def test_invalid_kernels_raise_value_errors(kernel, message):
    with pytest.raises(imgconv.KernelError, match=message) as info:
        imgconv.convolve(np.ones((4, 4)), kernel)
    assert isinstance(info.value, ValueError)


def test_unknown_mode_lists_the_valid_names():
    with pytest.raises(imgconv.BoundaryError) as info:
        imgconv.convolve(np.ones((4, 4)), np.ones((3, 3)), mode="bogus")
    assert isinstance(info.value, ValueError)
    for name in MODES:
        assert name in str(info.value)


@pytest.mark.parametrize("image", [np.ones(5), np.ones((2, 2, 2, 2)), np.zeros((0, 4)), np.ones((3, 3), complex)])
def test_invalid_images_raise_value_errors(image):
    with pytest.raises(ValueError):
        imgconv.convolve(image, np.ones((3, 3)))


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="direct"):
        imgconv.convolve(np.ones((3, 3)), np.ones((3, 3)), method="magic")


@settings(max_examples=150, deadline=None)
@given(
    height=st.integers(1, 12),
    width=st.integers(1, 12),
    channels=st.sampled_from([None, 1, 3]),
    kh=st.integers(1, 9),
    kw=st.integers(1, 9),
    mode=st.sampled_from(MODES),
    convolution=st.booleans(),
    method=st.sampled_from(["shifted-views", "kernel-columns", "separable", "fft"]),
    seed=st.integers(0, 2**32 - 1),
)
@pytest.mark.slow
def test_random_cases_match_scipy(height, width, channels, kh, kw, mode, convolution, method, seed):
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels is None else (height, width, channels)
    image = rng.normal(size=shape)
    kernel = rng.normal(size=(kh, kw))
    function = imgconv.convolve if convolution else imgconv.correlate
    result = function(image, kernel, mode=mode, cval=1.5, method=method)
    expected = reference(image, kernel, mode, 1.5, correlate=not convolution)
    np.testing.assert_allclose(result, expected, atol=FLOAT64_LARGE)


def _kernel_of_rank(rng, shape, rank):
    return sum(np.outer(rng.normal(size=shape[0]), rng.normal(size=shape[1])) for _ in range(rank))


# scipy's reference takes three quarters of the time of the test below (0.57 s of a
# 45x41 kernel's 0.93 s with its three methods), and the methods of a case, which run
# one after another, have the same image and kernel: they share one, found by content.
_LAST_REFERENCE: dict[tuple, np.ndarray] = {}


def reference_shared_by_the_methods(image, kernel, mode, cval):
    key = (hashlib.sha256(image.tobytes() + kernel.tobytes()).digest(), image.shape, kernel.shape, mode, cval)
    if key not in _LAST_REFERENCE:
        _LAST_REFERENCE.clear()
        _LAST_REFERENCE[key] = reference(image, kernel, mode, cval)
    return _LAST_REFERENCE[key]


@pytest.mark.parametrize("method", ["direct", "separable", "fft"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "shape, rank",
    # Rows up to 40 taps run interleaved, longer ones on planes; columns up to 25 taps
    # as vector products, longer ones as Toeplitz blocks: every pairing is here.
    [((3, 3), 3), ((21, 21), 1), ((9, 31), 2), ((40, 17), 17), ((1, 25), 1), ((25, 1), 1), ((7, 61), 2),
     ((45, 41), 1), ((33, 45), 2)],
    ids=lambda v: "x".join(map(str, v)) if isinstance(v, tuple) else f"rank{v}",
)
@pytest.mark.slow
def test_many_bands_long_rows_and_every_method(rng, method, mode, shape, rank):
    # Taller than every strategy's band, wider than a Toeplitz row block.
    image = rng.integers(0, 256, size=(300, 150, 2)).astype(np.uint8)
    kernel = _kernel_of_rank(rng, shape, rank)
    result = imgconv.convolve(image, kernel, mode=mode, cval=50.0, method=method)
    expected = reference_shared_by_the_methods(image, kernel, mode, 50.0)
    np.testing.assert_allclose(result, expected, rtol=0, atol=tolerance(image, kernel))


@pytest.mark.parametrize(
    # fft 61: two bands, run one after the other with each transform on every thread.
    "method, size",
    [("direct", 13), ("kernel-columns", 9), ("separable", 13), ("separable", 45), ("fft", 13), ("fft", 61)], ids=str
)
@pytest.mark.slow
def test_results_are_bit_identical_whatever_the_thread_count(rng, method, size):
    image = rng.integers(0, 256, size=(700, 90, 3)).astype(np.uint8)
    kernel = _kernel_of_rank(rng, (size, size), 2)
    results = [imgconv.convolve(image, kernel, method=method, threads=n) for n in (1, 2, 3)]
    for other in results[1:]:
        assert np.array_equal(results[0], other)
    assert np.abs(results[0] - reference(image, kernel)).max() <= tolerance(image, kernel)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16])
def test_integer_output_is_rounded_and_clipped(rng, dtype):
    image = rng.integers(0, 256, size=(80, 60, 3)).astype(np.uint8)
    kernel = imgconv.kernels.sharpen(3.0)  # overshoots both ways
    floats = reference(image, kernel)
    result = imgconv.convolve(image, kernel, output=dtype)
    info = np.iinfo(dtype)
    assert result.dtype == dtype and result.min() == max(info.min, floats.min().round())
    error = np.abs(result - np.clip(floats, info.min, info.max))
    assert error.max() <= 0.5 + 1e-3


def test_int32_output_clips_without_wrapping():
    huge = np.full((4, 4), 3e9, np.float32)
    assert np.all(imgconv.convolve(huge, [[1.0]], output=np.int32) == 2**31 - 128)  # float32 below 2**31
    assert np.all(imgconv.convolve(-huge, [[1.0]], output=np.int32) == -(2**31))


def test_auto_chooses_by_kernel_shape():
    from imgconv.engine import choose_method

    # 16-bit 4K photo, one thread: kernel columns 34 and 28 ms, separable 59 and 36.
    assert choose_method(imgconv.kernels.laplacian()) == "direct"  # rank 2, 5 taps
    assert choose_method(imgconv.kernels.sobel("x")) == "direct"  # rank 1
    assert choose_method(imgconv.kernels.gaussian(3, radius=5)) == "separable"
    # Whole-channel FFT on the 4K photo: about 150-180 ms at any radius in reflect mode.
    photo = (2160, 3840)
    assert choose_method(imgconv.kernels.gaussian(20, radius=60), shape=photo) == "separable"  # 146-165 ms, fft 166-170
    assert choose_method(imgconv.kernels.gaussian(30, radius=90), shape=photo) == "fft"  # 174 ms, separable 206
    assert choose_method(imgconv.kernels.gaussian(167, radius=500), shape=photo) == "fft"  # decided without the SVD
    # Other modes frame the image with the kernel's reach.
    assert choose_method(imgconv.kernels.gaussian(20, radius=60), "nearest", photo) == "separable"  # 148 ms, fft 175
    assert choose_method(imgconv.kernels.gaussian(40, radius=120), "nearest", photo) == "fft"  # 246 ms, separable 262
    assert choose_method(imgconv.kernels.gaussian(83, radius=250), "mirror", photo) == "fft"  # 262 ms, separable 531
    # 2161 and 3847 are primes: extended to 2240 x 3920, 6% more samples, and slower.
    assert choose_method(imgconv.kernels.gaussian(20, radius=60), shape=(2161, 3847)) == "separable"  # 166 ms, fft 246
    rng = np.random.default_rng(0)
    assert choose_method(rng.normal(size=(5, 5))) == "direct"  # kernel columns
    assert choose_method(rng.normal(size=(7, 7))) == "direct"  # kernel columns: 43 ms, fft 109
    assert choose_method(rng.normal(size=(11, 11))) == "fft"  # too wide for kernel columns
    assert choose_method(rng.normal(size=(31, 31))) == "fft"


def test_rank_one_kernels_of_small_integers_stay_exact(rng):
    image = rng.integers(0, 256, size=(40, 50, 3)).astype(np.uint8)
    for kernel in (imgconv.kernels.sobel("y"), imgconv.kernels.prewitt("x"), np.ones((3, 5))):
        separable = imgconv.correlate(image, kernel, method="separable")
        assert np.array_equal(separable, imgconv.correlate(image, kernel, method="direct"))
        assert np.array_equal(separable, reference(image, kernel, correlate=True))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16])
def test_blurs_skip_clipping_without_wrapping_around(dtype):
    # A blur of a constant image at the type's limits must stay exactly at the limit:
    # float32 sums a hair above 1 must not wrap 255 round to 0 when clipping is skipped.
    info = np.iinfo(dtype)
    for value in (info.min, info.max):
        image = np.full((70, 90, 3), value, dtype)
        for kernel in (imgconv.kernels.gaussian(3, radius=5), imgconv.kernels.box(size=4),
                       imgconv.kernels.motion(7, 30)):
            result = imgconv.convolve(image, kernel, output=dtype)
            assert result.dtype == dtype and np.all(result == value)


def test_constant_boundary_beyond_the_range_is_clipped():
    image = np.full((20, 20), 200, np.uint8)
    result = imgconv.convolve(image, imgconv.kernels.box(radius=2), mode="constant", cval=1000, output=np.uint8)
    assert result[0, 0] == 255 and result[10, 10] == 200


def test_blas_runs_on_one_thread_inside_the_engine(rng, monkeypatch):
    # The bands are the engine's threads; BLAS threads of its own would compete with
    # them and could change how products round.
    from threadpoolctl import threadpool_info

    from imgconv.engine.separable import Separable

    seen = []
    original = Separable.__call__

    def spy(self, extended, workers, into=None):
        seen.extend(info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas")
        return original(self, extended, workers, into)

    monkeypatch.setattr(Separable, "__call__", spy)
    image = rng.integers(0, 256, size=(200, 60, 3)).astype(np.uint8)
    imgconv.convolve(image, imgconv.kernels.gaussian(8, radius=25), method="separable", threads=2)
    assert seen and set(seen) == {1}


# The whole-channel FFT (imgconv.engine.whole_channel_fft): auto and fft take it where
# they expect it to be quicker, which is for kernels of more than 64 rows in reflect and
# mirror mode and more than 137 rows in wrap mode, so these kernels are that tall.
# `imgconv.engine.plan` says which strategy and frame a call takes, and method=
# "whole-channel-fft" forces it.


def _whole_channel_frame(image_shape, kernel, mode="reflect", method="fft"):
    """The shape of the frame the whole-channel FFT transforms when correlating an image
    of ``image_shape`` with ``kernel``, or None if the call takes another strategy."""
    planned = plan(image_shape, kernel, mode, method)
    if planned.strategy != "whole-channel-fft":
        return None
    (above, below), (left, right) = planned.layout.reach
    return image_shape[0] + above + below, image_shape[1] + left + right


def _whole_channels_where_possible(image_shape, kernel, mode, convolution=False):
    """The method that takes ``fft`` on whole channels wherever it can run, quicker or
    not, and FFT bands elsewhere."""
    try:
        plan(image_shape, kernel, mode, "whole-channel-fft", convolution)
    except imgconv.KernelError:
        return "banded-fft"
    return "whole-channel-fft"


def _symmetric(rng, shape, rank):
    """A kernel of this rank, symmetric about its anchor along both axes; an even size
    gets a zero first row or column, so that the rest is symmetric about n // 2."""
    return sum(np.outer(symmetric_taps(rng, shape[0]), symmetric_taps(rng, shape[1])) for _ in range(rank))


@pytest.mark.parametrize("convolution", [True, False], ids=["convolve", "correlate"])
# 13, 17, 89 (mirror's DCT-I: 90 - 1), 103, 199 and 109 are primes, whose transforms
# would be slow: the image is extended to a quicker length.
@pytest.mark.parametrize("image_shape", [(90, 110, 2), (13, 17, 2), (7, 200), (1, 90), (90, 1), (103, 3), (1, 1)],
                         ids=str)
@pytest.mark.parametrize(
    "mode, kernel_shape, rank",
    [("reflect", (67, 71), 1), ("reflect", (69, 65), 3), ("reflect", (68, 68), 2), ("mirror", (67, 71), 1),
     ("mirror", (69, 5), 2), ("nearest", (68, 68), 2), ("constant", (67, 5), 1), ("wrap", (141, 5), None),
     ("wrap", (139, 139), 1)],
    ids=str,
)
@pytest.mark.slow
def test_whole_channel_fft_matches_numpy_pad(rng, convolution, image_shape, mode, kernel_shape, rank):
    # Kernels from smaller than the image to many times its size, rank one (multiplied
    # by an outer product of transforms) and not, even sizes, single rows and pixels.
    image = rng.random(image_shape)
    kernel = rng.normal(size=kernel_shape) if rank is None else _symmetric(rng, kernel_shape, rank)
    function = imgconv.convolve if convolution else imgconv.correlate
    method = _whole_channels_where_possible(image_shape, kernel, mode, convolution)
    result = function(image, kernel, mode=mode, method=method)
    # wrap's period is the image's, which cannot be extended: slow lengths take bands.
    assert (method == "whole-channel-fft") != (mode == "wrap" and image_shape[:2] in [(13, 17), (103, 3)])
    expected = padded_reference(image, kernel, mode, correlate=not convolution)
    np.testing.assert_allclose(result, expected, rtol=0, atol=FLOAT64 * np.abs(kernel).sum())


def test_whole_channel_fft_in_float32_and_8_bit_on_a_real_photograph(camera):
    kernel = imgconv.kernels.gaussian(33, radius=100)
    taps = kernel[100] / kernel[100].sum()
    expected = ndi.correlate1d(ndi.correlate1d(camera.astype(np.float64), taps, axis=0), taps, axis=1)
    floats = imgconv.correlate(camera, kernel)
    assert _whole_channel_frame(camera.shape, kernel) and floats.dtype == np.float32
    np.testing.assert_allclose(floats, expected, rtol=0, atol=tolerance(camera, kernel))
    assert_rounded_from(imgconv.correlate(camera, kernel, output=np.uint8), expected)


@pytest.mark.parametrize("mode", MODES)
def test_whole_channel_fft_is_bit_identical_whatever_the_thread_count(rng, mode):
    # 301 rows (7 x 43): a frame longer than the image; wrap, which cannot have one, takes bands.
    image = rng.integers(0, 256, size=(301, 200, 3)).astype(np.uint8)
    kernel = imgconv.kernels.gaussian(radius=40)
    method = _whole_channels_where_possible(image.shape, kernel, mode, convolution=True)
    results = [imgconv.convolve(image, kernel, mode=mode, method=method, threads=n) for n in (1, 2, 3)]
    assert (method == "whole-channel-fft") == (mode != "wrap")
    for other in results[1:]:
        assert np.array_equal(results[0], other)


@pytest.mark.slow
def test_whole_channel_fft_only_where_it_applies_and_pays(rng):
    def fft(image, kernel, mode):
        """Filter with fft; the whole-channel frame it took, if any."""
        imgconv.correlate(image, kernel, mode=mode, method="fft")
        return _whole_channel_frame(image.shape, kernel, mode)

    image = rng.random((40, 50))
    runs = [fft(image, rng.normal(size=(81, 81)), "reflect"),  # not symmetric
            fft(image, imgconv.kernels.gaussian(radius=10), "reflect"),  # bands are quicker
            fft(image, rng.normal(size=(101, 101)), "wrap"),  # bands are quicker
            fft(rng.random((13, 60)), rng.normal(size=(151, 3)), "wrap"),  # 13: prime
            # A frame with the kernel's reach on both sides, 120x132: bands are quicker.
            fft(image, imgconv.kernels.gaussian(radius=40), "nearest")]
    assert runs == [None] * 5
    runs = [fft(rng.random((1997, 2000)), imgconv.kernels.gaussian(radius=150), "mirror"),
            # 997 rows are extended past the far end, by the kernel's reach and on to 1100
            # (2 x 2 x 5 x 5 x 11).
            fft(rng.random((997, 60)), imgconv.kernels.gaussian(radius=100), "reflect"),
            fft(image, rng.normal(size=(151, 3)), "wrap")]
    assert runs == [(2304, 2304), (1100, 60), (40, 50)]


@pytest.mark.slow
def test_whole_channel_fft_adds_the_offset_to_every_channel(rng):
    image = rng.integers(0, 200, size=(60, 70, 3)).astype(np.uint8)
    weights = imgconv.kernels.gaussian(radius=40)
    expected = padded_reference(image, weights, "reflect", correlate=True) + 7.25
    result = imgconv.correlate(image, imgconv.Kernel(weights, offset=7.25), method="fft")
    assert _whole_channel_frame(image.shape, weights) == (60, 70)
    np.testing.assert_allclose(result, expected, rtol=0, atol=tolerance(image, weights))


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("mode", MODES)
def test_whole_channel_fft_of_a_zero_kernel_is_zero(rng, mode):
    result = imgconv.correlate(rng.random((20, 30, 3)), np.zeros((9, 9)), mode=mode, cval=5.0,
                               method="whole-channel-fft")
    assert np.array_equal(result, np.zeros((20, 30, 3)))


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("kw", [3, 11, 31])
def test_interleaved_rows_end_with_a_partial_run(rng, channels, kw):
    # Runs of 16 // channels output pixels (16, 8, 5, 4): widths that leave 1 to 15
    # pixels over.
    for width in (1, 7, 37, 53):
        image = rng.random((9, width, channels))
        kernel = np.outer(rng.normal(size=5), rng.normal(size=kw))
        result = imgconv.correlate(image, kernel, method="separable")
        np.testing.assert_allclose(result, padded_reference(image, kernel, "reflect", correlate=True), atol=FLOAT64)


@pytest.mark.parametrize("depth", [np.uint8, np.uint16])
def test_a_flat_white_image_stays_white_through_a_wide_box(depth):
    # float32 sums of 1025 samples of 65535 overshoot by 0.73: unclipped, they would
    # round to 65536 and wrap to black.
    white = np.iinfo(depth).max
    image = np.full((4, 1500), white, depth)
    boxed = imgconv.box(image, size=1025, method="separable", mode="nearest", output=depth)
    np.testing.assert_array_equal(boxed, image)


def test_many_weights_summed_directly_stay_within_a_level(rng):
    # One weight at a time, float32 sums of 40,401 shifted views of 65535 lost 11.6 levels.
    white = np.full((3, 3), 65535, np.uint16)
    boxed = imgconv.correlate(white, np.full((201, 201), 1 / 201**2), mode="nearest", method="direct",
                              output=np.uint16)
    np.testing.assert_array_equal(boxed, white)
    image = rng.integers(0, 65536, (12, 14)).astype(np.uint16)
    kernel = rng.random((17, 19))
    kernel /= kernel.sum()
    expected = ndi.correlate(image.astype(np.float64), kernel, mode="reflect")
    got = imgconv.correlate(image, kernel, mode="reflect", method="direct", output=np.float32)
    np.testing.assert_allclose(got, expected, rtol=0, atol=65535 * 2e-6)
