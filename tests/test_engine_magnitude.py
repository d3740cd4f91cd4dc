"""`imgconv.engine.magnitude`: the norm of several kernels' responses, band by band,
against scipy.ndimage's responses combined by numpy."""

import tracemalloc

import numpy as np
import pytest
import scipy.ndimage as ndi
from helpers import assert_rounded_from

import imgconv
from imgconv.engine import magnitude
from imgconv.engine.norm import hypot
from imgconv.errors import InvalidInputError

K = imgconv.kernels
MODES = ["reflect", "mirror", "nearest", "wrap", "constant"]
RNG = np.random.default_rng(5)
IMAGE = RNG.integers(0, 256, size=(70, 53, 3), dtype=np.uint8)


def responses(image, kernels, mode, cval=0.0):
    """scipy.ndimage's float64 correlation with each kernel, channel by channel."""
    planes = np.atleast_3d(image).astype(np.float64)
    return [np.stack([ndi.correlate(planes[..., c], k, mode=mode, cval=cval) for c in range(planes.shape[2])],
                     -1).reshape(image.shape) for k in kernels]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("operator", [K.sobel, K.prewitt, K.scharr])
def test_gradient_magnitude(operator, mode):
    kernels = [operator("x"), operator("y")]
    for image in (IMAGE, IMAGE[..., 0], IMAGE.astype(np.float32) / 255):
        gx, gy = responses(image, kernels, mode, cval=9.0)
        expected = np.hypot(gx, gy)
        result = magnitude(image, kernels, mode=mode, cval=9.0)
        assert result.dtype == np.float32 and result.shape == image.shape
        np.testing.assert_allclose(result, expected, rtol=1e-6, atol=1e-4 * np.abs(expected).max())
        if image.dtype == np.uint8:
            assert_rounded_from(magnitude(image, kernels, mode=mode, cval=9.0, output=np.uint8), expected)


def test_convolution_one_kernel_offsets_and_limits():
    """``convolution`` turns each kernel; one kernel gives the absolute response; an
    offset is added to its response before the norm; 8-bit limits clip."""
    sobel = K.sobel("x")
    gx, gy = responses(IMAGE, [sobel[::-1, ::-1], K.sobel("y")[::-1, ::-1]], "reflect")
    np.testing.assert_allclose(magnitude(IMAGE, [sobel, K.sobel("y")], convolution=True), np.hypot(gx, gy), atol=1e-3)
    np.testing.assert_allclose(magnitude(IMAGE, [sobel], convolution=True), np.abs(gx), atol=1e-3)
    shifted = imgconv.Kernel(sobel, offset=-300)
    (plain,) = responses(IMAGE, [sobel], "reflect")
    assert_rounded_from(magnitude(IMAGE, [shifted, K.laplacian()], output=np.uint8),
                        np.hypot(plain - 300, responses(IMAGE, [K.laplacian()], "reflect")[0]))
    for level in (0, 255):
        flat = np.full((20, 30, 3), level, np.uint8)
        np.testing.assert_array_equal(magnitude(flat, [sobel, K.sobel("y")], output=np.uint8), 0)
    checkerboard = (np.indices((20, 30)).sum(axis=0) % 2 * 255).astype(np.uint8)
    ex, ey = responses(checkerboard, [K.laplacian(), K.laplacian(True)], "wrap")
    assert_rounded_from(magnitude(checkerboard, [K.laplacian(), K.laplacian(True)], mode="wrap", output=np.uint8),
                        np.hypot(ex, ey))


def test_scaled_integer_kernels():
    """Integer kernels with a scale (a box's 1/9, half a sharpen) and three of them."""
    kernels = [K.box(radius=1), K.sharpen(0.5), K.emboss()]
    for mode in MODES:
        responses_ = responses(IMAGE, kernels, mode)
        expected = np.sqrt(sum(r**2 for r in responses_))
        result = magnitude(IMAGE, kernels, mode=mode)
        np.testing.assert_allclose(result, expected, rtol=1e-6, atol=1e-4)
        assert_rounded_from(magnitude(IMAGE, kernels, mode=mode, output=np.uint8), expected)


def test_no_kernel_is_refused():
    with pytest.raises(InvalidInputError, match="at least one kernel"):
        magnitude(IMAGE, [])


@pytest.mark.slow
def test_kernels_that_cannot_share_bands():
    """Large kernels (FFT strategies) are combined from whole responses, still right."""
    kernels = [RNG.normal(size=(41, 41)), K.gaussian(radius=30)]
    for method in ("auto", "fft"):
        result = magnitude(IMAGE[..., :2], kernels, mode="nearest", method=method)
        expected = np.hypot(*responses(IMAGE[..., :2], kernels, "nearest"))
        np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-3 * np.abs(expected).max())


def test_bit_identical_for_any_thread_count():
    image = RNG.integers(0, 256, size=(257, 90, 3), dtype=np.uint8)
    for kernels in ([K.sobel("x"), K.sobel("y")], [K.gaussian(radius=3), K.sharpen()]):
        results = [magnitude(image, kernels, output=np.uint8, threads=threads) for threads in (1, 2, 3)]
        assert all(np.array_equal(results[0], other) for other in results[1:])


def test_no_full_size_response_is_held():
    """Each band is combined before it is written: the peak is the output and a few
    bands, not the two float32 responses (4 bytes a sample each) and their norm."""
    image = np.ascontiguousarray(np.broadcast_to(IMAGE[:50, :50], (40, 30, 50, 50, 3)).transpose(0, 2, 1, 3, 4)
                                 .reshape(2000, 1500, 3))
    kernels = [K.sobel("x"), K.sobel("y")]
    magnitude(image[:100], kernels, output=np.uint8)  # warm-up: thread pool, caches
    tracemalloc.start()
    try:
        result = magnitude(image, kernels, output=np.uint8)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < result.nbytes + image.size * 4 / 2, f"peak {peak / 2**20:.1f} MiB"


@pytest.mark.parametrize("mode", MODES)
def test_one_method_per_kernel(mode):
    """A sequence of methods gives each kernel its own (the streamed path fixes each
    kernel's ``auto`` choice), the same result as ``auto`` where those are its choices."""
    image = IMAGE.astype(np.float32)
    kernels = [K.sobel("x"), K.sobel("y")]
    methods = [imgconv.engine.choose_method(k, mode) for k in kernels]
    assert methods == ["direct", "separable"]  # kernel columns for x; y fills all three columns
    result = magnitude(image, kernels, mode=mode, method=methods)
    assert np.array_equal(result, magnitude(image, kernels, mode=mode))
    np.testing.assert_allclose(result, np.hypot(*responses(image, kernels, mode)), rtol=1e-6, atol=1e-3)
    assert np.array_equal(magnitude(image, kernels, mode=mode, method=["fft", "fft"]),
                          magnitude(image, kernels, mode=mode, method="fft"))
    with pytest.raises(InvalidInputError, match="1 methods for 2 kernels"):
        magnitude(image, kernels, mode=mode, method=["direct"])
    with pytest.raises(InvalidInputError, match="unknown method 'magic'"):
        magnitude(image, kernels, mode=mode, method=["direct", "magic"])


@pytest.mark.parametrize("scale", [1e-30, 1e-3, 1.0, 300.0, 1e19, 1e30])
@pytest.mark.parametrize("shape", [(70, 3000, 3), (5, 7, 1), (9,)])
def test_hypot_of_float32_is_the_float64_norm_rounded_once(scale, shape):
    """Chunks of rows, one row longer than a chunk, squares that overflow or vanish in
    float32: the norm is that of float64, rounded once, as np.hypot's."""
    x, y = (RNG.standard_normal((2, *shape)) * scale).astype(np.float32)
    expected = np.hypot(x.astype(np.float64), y.astype(np.float64)).astype(np.float32)
    total = x.copy()
    assert hypot(total, y) is total
    np.testing.assert_array_equal(total, expected)
    np.testing.assert_array_equal(hypot(x.astype(np.float64), y), np.hypot(x, y.astype(np.float64)))
