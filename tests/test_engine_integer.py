"""The ``integer`` strategy (exact 16-bit sums for 8-bit images and integer kernels)
against scipy.ndimage in float64: every boundary mode, odd and even kernel sizes, grey
and RGB, the 8-bit limits, and thread counts."""

import numpy as np
import pytest
import scipy.ndimage as ndi

import imgconv
from imgconv.engine import plan
from imgconv.errors import KernelError

K = imgconv.kernels
MODES = ["reflect", "mirror", "nearest", "wrap", "constant"]
RNG = np.random.default_rng(17)
# Integer kernels of every shape the strategy takes: rank one with integer factors
# (Sobel, Prewitt, Scharr, boxes: two passes) and not (one pass of 2-D shifts), odd and
# even sizes, negative weights, scales of 1, 1/d with d odd, 1/d with d even, and 1/2.
KERNELS = {
    "sobel x": K.sobel("x"),
    "sobel y": K.sobel("y"),
    "prewitt x": K.prewitt("x"),
    "scharr y": K.scharr("y"),
    "sharpen": K.sharpen(),
    "sharpen 0.5": K.sharpen(0.5),
    "laplacian 8": K.laplacian(diagonals=True),
    "emboss": K.emboss(),
    "box 3": K.box(radius=1),
    "box 4": K.box(size=4),
    "box 6": K.box(size=6),
    "box 15": K.box(radius=7),
    "row 1x4": np.array([[1.0, -3.0, 2.0, 5.0]]),
    "random 4x5": RNG.integers(-4, 5, size=(4, 5)).astype(float),
    "random 3x2 / 7": RNG.integers(-6, 7, size=(3, 2)) / 7.0,
}
PHOTO = RNG.integers(0, 256, size=(45, 38, 3), dtype=np.uint8)


def reference(image, kernel, mode, cval=0.0):
    """scipy.ndimage's float64 convolution, channel by channel."""
    planes = np.atleast_3d(image).astype(np.float64)
    out = np.stack([ndi.convolve(planes[..., c], kernel, mode=mode, cval=cval) for c in range(planes.shape[2])], -1)
    return out.reshape(image.shape)


def rounded(values, dtype=np.uint8):
    info = np.iinfo(dtype)
    return np.clip(np.rint(values), info.min, info.max).astype(dtype)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", KERNELS)
def test_equals_the_rounded_float64_reference(name, mode):
    kernel = KERNELS[name]
    for image in (PHOTO, PHOTO[..., 1]):
        cval = 200.0 if mode == "constant" else 0.0
        assert plan(image.shape, kernel, mode, convolution=True, dtype=np.uint8, cval=cval).strategy == "integer"
        expected = reference(image, kernel, mode, cval)
        result = imgconv.convolve(image, kernel, mode=mode, cval=cval, output=np.uint8)
        if "box 6" in name:  # 1/36 in float32: a sum over 36 that is a half may round either way
            assert np.abs(result.astype(float) - rounded(expected)).max() <= 1
            assert np.count_nonzero(result != rounded(expected)) <= np.count_nonzero(np.abs(expected % 1 - 0.5) < 1e-6)
        else:
            np.testing.assert_array_equal(result, rounded(expected))
        floats = imgconv.convolve(image, kernel, mode=mode, cval=cval)
        assert floats.dtype == np.float32
        np.testing.assert_allclose(floats, expected, rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("name", ["sobel x", "emboss", "box 15", "random 4x5", "laplacian 8"])
@pytest.mark.parametrize("level", [0, 255])
def test_eight_bit_limits(name, level):
    """Flat images at 0 and 255, and a checkerboard of both, which drives every sum to
    the ends of its range."""
    kernel = KERNELS[name]
    checkerboard = (np.indices((30, 31)).sum(axis=0) % 2 * 255).astype(np.uint8)
    for image in (np.full((30, 31, 3), level, np.uint8), checkerboard if level else 255 - checkerboard):
        for mode in MODES:
            expected = reference(image, kernel, mode)
            np.testing.assert_array_equal(imgconv.convolve(image, kernel, mode=mode, output=np.uint8),
                                          rounded(expected))
            np.testing.assert_array_equal(imgconv.convolve(image, kernel, mode=mode, output=np.int16),
                                          rounded(expected, np.int16))


def test_sums_at_the_top_of_sixteen_bits():
    """A 1x255 box on white: sums of 255 * 255 plus the 127 that rounding adds, in
    uint16 (65152 of 65535); one tap more would not fit, and takes the float path."""
    row = np.ones((1, 255)) / 255
    white = np.full((3, 300, 3), 255, np.uint8)
    assert plan(white.shape, row, dtype=np.uint8).strategy == "integer"
    np.testing.assert_array_equal(imgconv.convolve(white, row, output=np.uint8), white)
    ramp = np.tile(np.arange(256, dtype=np.uint8), (4, 2))[:, :300]
    expected = rounded(reference(ramp, row, "reflect"))
    np.testing.assert_array_equal(imgconv.convolve(ramp, row, output=np.uint8), expected)
    assert plan(white.shape, np.ones((1, 257)) / 257, dtype=np.uint8).strategy != "integer"


def test_signed_outputs_and_offsets():
    """Signed types keep negative sums; a Kernel's offset is added before rounding."""
    image = PHOTO[..., 0]
    sobel = KERNELS["sobel y"]
    np.testing.assert_array_equal(imgconv.correlate(image, sobel, output=np.int16),
                                  rounded(ndi.correlate(image.astype(float), sobel, mode="reflect"), np.int16))
    emboss = imgconv.Kernel(K.emboss(), offset=127.5)
    expected = reference(image, K.emboss(), "reflect") + 127.5
    result = imgconv.convolve(image, emboss, output=np.uint8)
    # An offset of a half makes every sum a tie, rounded to even by both.
    np.testing.assert_array_equal(result, rounded(expected))


@pytest.mark.parametrize("name", ["sobel x", "box 15", "random 4x5", "sharpen"])
def test_bit_identical_for_any_thread_count(name):
    image = RNG.integers(0, 256, size=(301, 97, 3), dtype=np.uint8)
    results = [imgconv.convolve(image, KERNELS[name], output=output, threads=threads)
               for output in (np.uint8, np.float32) for threads in (1, 2, 3)]
    for output in (results[:3], results[3:]):
        for other in output[1:]:
            assert np.array_equal(output[0], other)


def test_bit_identical_for_any_band_height(monkeypatch):
    """imgconv.dask cuts arrays on the engine's bands; exact sums do not depend on them."""
    from imgconv.engine import integer

    image = RNG.integers(0, 256, size=(150, 61, 3), dtype=np.uint8)
    kernels = [KERNELS[name] for name in ("box 15", "emboss", "random 3x2 / 7")]
    expected = [imgconv.convolve(image, kernel, output=output) for kernel in kernels for output in (np.uint8, None)]
    for height in (1, 7, 150):
        monkeypatch.setattr(integer, "BAND_HEIGHT", height)
        results = [imgconv.convolve(image, kernel, output=output) for kernel in kernels for output in (np.uint8, None)]
        assert all(np.array_equal(a, b) for a, b in zip(results, expected, strict=True))


def test_only_where_it_applies():
    """Other sample types, non-integer kernels, sums beyond 16 bits and a cval that is
    no sample value take the float strategies; ``method='integer'`` is refused there."""
    shape = (40, 40, 3)
    assert plan(shape, K.sobel(), dtype=np.uint16).strategy != "integer"
    assert plan(shape, K.gaussian(radius=1), dtype=np.uint8).strategy != "integer"
    assert plan(shape, K.box(radius=8), dtype=np.uint8).strategy != "integer"  # 289 * 255 > 65535
    assert plan(shape, K.sobel(), "constant", dtype=np.uint8, cval=0.5).strategy != "integer"
    assert plan(shape, K.sobel(), "constant", dtype=np.uint8, cval=256).strategy != "integer"
    image = RNG.integers(0, 256, size=shape, dtype=np.uint8)
    box = K.box(radius=8)
    expected = rounded(reference(image, box, "reflect"))
    np.testing.assert_array_equal(imgconv.convolve(image, box, output=np.uint8), expected)
    with pytest.raises(KernelError, match="method 'integer' needs an 8-bit image"):
        imgconv.convolve(image.astype(np.uint16), K.sobel(), method="integer")
    with pytest.raises(KernelError, match="method 'integer' needs an 8-bit image"):
        imgconv.convolve(image, K.gaussian(radius=2), method="integer")


def test_a_kernel_with_a_subnormal_weight_is_filtered_not_refused():
    # 1 / scale was infinite where the integer form was looked for.
    kernel = np.full((5, 5), 0.2)
    kernel[0, 1] = 1.39e-309
    got = imgconv.convolve(PHOTO, kernel, output=np.uint8)
    want = np.clip(np.rint(reference(PHOTO, kernel, "reflect")), 0, 255)
    assert np.abs(got.astype(float) - want).max() <= 1
