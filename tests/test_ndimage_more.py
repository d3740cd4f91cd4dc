"""imgconv.dog, log, gradient and deconvolve: equal to what their commands write, to
scipy.ndimage's Gaussian filters in every boundary mode, and to scikit-image's
difference_of_gaussians, richardson_lucy and wiener where the choices agree."""

import tracemalloc

import numpy as np
import pytest
import scipy.ndimage as ndi
import skimage.filters
from helpers import SAMPLES, load, run

import imgconv
from imgconv import kernels
from imgconv.vocabulary import MODES

CHELSEA = imgconv.imread(SAMPLES / "chelsea.png")[:120, :150]  # RGB, uint8
PHOTO = CHELSEA.astype(np.float64)


def per_channel(function, image, *args, **options):
    return np.stack([function(image[..., c], *args, **options) for c in range(image.shape[2])], -1)


def assert_float32_close(ours, theirs):
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=2e-6 * np.abs(theirs).max())


@pytest.mark.parametrize("mode", MODES)
def test_the_scale_space_functions_equal_scipy_ndimage(mode):
    """On 8-bit samples, as float32 (the default result's type), to float32 precision;
    with cval 0 (scipy's derivatives extend each 1-D pass with cval, which equals the
    2-D kernel's extension only for 0)."""
    first = per_channel(ndi.gaussian_filter, PHOTO, 1.5, radius=7, mode=mode)
    second = per_channel(ndi.gaussian_filter, PHOTO, 3.0, radius=7, mode=mode)
    assert_float32_close(imgconv.dog(CHELSEA, 1.5, 3, radius=7, mode=mode), first - second)
    assert_float32_close(imgconv.log(CHELSEA, 2, radius=8, mode=mode),
                         per_channel(ndi.gaussian_laplace, PHOTO, 2.0, radius=8, mode=mode))
    assert_float32_close(imgconv.gradient(CHELSEA, 2, radius=8, mode=mode),
                         per_channel(ndi.gaussian_gradient_magnitude, PHOTO, 2.0, radius=8, mode=mode))


def test_a_difference_of_gaussians_takes_cval_in_constant_mode():
    ours = imgconv.dog(PHOTO, 1, 2, radius=6, mode="constant", cval=200)
    theirs = (per_channel(ndi.gaussian_filter, PHOTO, 1.0, radius=6, mode="constant", cval=200)
              - per_channel(ndi.gaussian_filter, PHOTO, 2.0, radius=6, mode="constant", cval=200))
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


@pytest.mark.parametrize("mode", MODES)
def test_dog_equals_scikit_images_difference_of_gaussians(mode):
    """Each Gaussian with its own radius, ceil(3 sigma) here and round(truncate sigma)
    there: the same for truncate=3 and sigmas whose triples are whole. scikit-image
    takes floats in 0-1."""
    image = PHOTO / 255
    ours = imgconv.dog(image, 1, 2, mode=mode)
    theirs = skimage.filters.difference_of_gaussians(image, 1, 2, truncate=3, mode=mode, channel_axis=-1)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


@pytest.mark.parametrize("command, function, options", [
    (["dog", "--sigma", "1", "--sigma2", "2.5", "-b", "nearest"], "dog",
     {"sigma": 1, "sigma2": 2.5, "mode": "nearest"}),
    (["dog", "-s", "1", "--sigma2", "2", "-r", "4"], "dog", {"sigma": 1, "sigma2": 2, "radius": 4}),
    (["log", "--sigma", "2", "-b", "wrap"], "log", {"sigma": 2, "mode": "wrap"}),
    (["gradient", "--sigma", "1.5", "--radius", "3"], "gradient", {"sigma": 1.5, "radius": 3}),
    (["gradient", "--sigma", "20"], "gradient", {"sigma": 20}),  # an FFT per derivative
])
def test_each_function_equals_its_commands_outputs(tmp_path, command, function, options):
    """The .npy output is the function's result; the image shows its absolute value
    (a magnitude is never negative), rounded once."""
    source = tmp_path / "in.png"
    imgconv.imwrite(source, CHELSEA)
    assert run(*command, source, tmp_path / "out.npy").exit_code == 0
    assert run(*command, source, tmp_path / "out.png").exit_code == 0
    result = getattr(imgconv, function)(CHELSEA, **options)
    np.testing.assert_array_equal(result, np.load(tmp_path / "out.npy"))
    np.testing.assert_array_equal(np.clip(np.rint(np.abs(result)), 0, 255), load(tmp_path / "out.png")[1])


@pytest.mark.parametrize("arguments, options", [
    (["-k", "gaussian:s=1.5,r=4", "--iterations", "5"], {"psf": kernels.gaussian(1.5, radius=4), "iterations": 5}),
    (["-k", "1 2 1; 2 6 2; 1 2 1", "--iterations", "3", "-b", "wrap"],
     {"psf": [[1, 2, 1], [2, 6, 2], [1, 2, 1]], "iterations": 3, "mode": "wrap"}),
    (["-k", "gaussian:s=1.5", "--algorithm", "wiener", "--balance", "0.001", "-b", "mirror"],
     {"psf": kernels.gaussian(1.5), "algorithm": "wiener", "balance": 0.001, "mode": "mirror"}),
])
def test_deconvolve_equals_its_commands_outputs(tmp_path, arguments, options):
    source = tmp_path / "in.png"
    imgconv.imwrite(source, CHELSEA)
    assert run("deconvolve", *arguments, source, tmp_path / "out.npy").exit_code == 0
    assert run("deconvolve", *arguments, source, tmp_path / "out.png").exit_code == 0
    result = imgconv.deconvolve(CHELSEA, **options)
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, np.load(tmp_path / "out.npy"))
    rounded = imgconv.deconvolve(CHELSEA, **options, output=np.uint8)
    np.testing.assert_array_equal(rounded, load(tmp_path / "out.png")[1])


def blurred_unit_image():
    """A photograph's grey in 0..1, spanning it exactly (so that clipping to -1..1 and
    to the image's range cut the same), blurred by an asymmetric psf (a flip would
    show), and the psf, odd-sized and summing to 1."""
    grey = CHELSEA[..., 1].astype(np.float64)
    grey = (grey - grey.min()) / (grey.max() - grey.min())
    psf = np.outer([1.0, 3.0, 2.0], [1.0, 4.0, 2.0, 1.0, 0.5])
    psf /= psf.sum()
    blurred = ndi.convolve(grey, psf, mode="constant")
    return (blurred - blurred.min()) / (blurred.max() - blurred.min()), psf


@pytest.fixture(scope="module")
def restoration():
    """skimage.restoration, with scipy.signal, which it loads on first use: 0.5 s of CPU
    paid once by the worker that runs these tests, not by every worker's collection."""
    import scipy.signal  # noqa: F401
    import skimage.restoration

    return skimage.restoration


def test_richardson_lucy_equals_scikit_image_from_its_start_with_zero_padding(restoration):
    image, psf = blurred_unit_image()
    ours = imgconv.deconvolve(image, psf, 15, start=0.5, mode="constant")
    np.testing.assert_allclose(ours, restoration.richardson_lucy(image, psf, 15), rtol=1e-9, atol=1e-10)
    # Without scikit-image's clip, once clipped to the image's range.
    theirs = np.clip(restoration.richardson_lucy(image, psf, 15, clip=False), 0, 1)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-10)
    # The choices matter: imgconv's own start, or its reflect default, give another result.
    for other in (imgconv.deconvolve(image, psf, 15, mode="constant"), imgconv.deconvolve(image, psf, 15, start=0.5)):
        assert np.abs(other - theirs).max() > 1e-3


def test_richardson_lucy_on_colour_equals_scikit_image_channel_by_channel(restoration):
    """The range imgconv clips to is the whole image's: 0..1 here, as every channel's."""
    image = PHOTO / 255
    image[0, 0], image[1, 1] = 0, 1
    psf = kernels.gaussian(1, radius=2)
    ours = imgconv.deconvolve(np.moveaxis(image, 2, 0), psf, 5, start=0.5, mode="constant", channel_axis=0)
    theirs = per_channel(restoration.richardson_lucy, image, psf, 5, clip=False)
    np.testing.assert_allclose(np.moveaxis(ours, 0, 2), np.clip(theirs, 0, 1), rtol=1e-9, atol=1e-10)


IMPULSE = np.ones((1, 1))  # scikit-image's regulariser as an impulse: |reg|² = 1, a constant


@pytest.mark.parametrize("mode, pad", [("wrap", None), ("reflect", "symmetric"), ("mirror", "reflect"),
                                       ("nearest", "edge"), ("constant", "constant")])
def test_wiener_equals_scikit_images_with_a_constant_regulariser(restoration, mode, pad):
    """scikit-image's FFT wraps the image around: imgconv's wrap mode. The other modes
    extend the image by twice the psf's size each side first (as documented), which
    np.pad does for scikit-image here."""
    image, psf = blurred_unit_image()
    ours = imgconv.deconvolve(image, psf, algorithm="wiener", balance=0.003, mode=mode)
    margin = 0 if pad is None else (2 * psf.shape[0], 2 * psf.shape[1])
    extended = image if pad is None else np.pad(image, [(m, m) for m in margin], mode=pad)
    theirs = restoration.wiener(extended, psf, 0.003, reg=IMPULSE, clip=False)
    # scikit-image's default regulariser, a Laplacian, gives another result.
    assert np.abs(restoration.wiener(extended, psf, 0.003, clip=False) - theirs).max() > 1e-3
    if pad is not None:
        theirs = theirs[margin[0]:-margin[0], margin[1]:-margin[1]]
    np.testing.assert_allclose(ours, np.clip(theirs, 0, 1), rtol=0, atol=1e-12)


def test_wiener_equals_a_numpy_fft_division():
    """By hand: conj(H) Y / (|H|² + balance) on the periodic image, H the transfer
    function of the psf (summing to 1) centred on (0, 0)."""
    image, psf = blurred_unit_image()
    image = image[:60, :77] * 200  # any range: the division is linear
    shifted = np.zeros(image.shape)
    shifted[:3, :5] = psf * 7  # divided by its sum
    transfer = np.fft.fft2(np.roll(shifted / 7, (-1, -2), axis=(0, 1)))
    expected = np.fft.ifft2(np.conj(transfer) * np.fft.fft2(image) / (np.abs(transfer) ** 2 + 0.01)).real
    ours = imgconv.deconvolve(image, psf * 7, algorithm="wiener", mode="wrap")
    np.testing.assert_allclose(ours, np.clip(expected, image.min(), image.max()), rtol=0, atol=1e-9)


@pytest.mark.parametrize("call, message", [
    (lambda: imgconv.dog(CHELSEA, 2, 1), r"dog needs sigma2 larger than sigma \(sigma < sigma2\), got 2 and 1"),
    (lambda: imgconv.dog(CHELSEA, 2, 2), "dog needs sigma2 larger than sigma"),
    (lambda: imgconv.dog(CHELSEA, -1, 2), "sigma must be > 0"),
    (lambda: imgconv.log(CHELSEA, (1, 2)), r"sigma takes one number, the same along both axes, got \(1, 2\)"),
    (lambda: imgconv.gradient(CHELSEA, 1, radius=(2, 3)), "radius takes one number"),
    (lambda: imgconv.gradient(CHELSEA, 1, mode="sideways"), "unknown boundary mode 'sideways'"),
    (lambda: imgconv.deconvolve(CHELSEA, [[1, 1]], start=0), "start must be a number > 0"),
    (lambda: imgconv.deconvolve(CHELSEA, [[1, 1]], start=np.nan), "start must be a number > 0"),
    (lambda: imgconv.deconvolve(CHELSEA, [[1, 1]], algorithm="blind"), "method must be one of richardson-lucy"),
    (lambda: imgconv.deconvolve(CHELSEA, [[1, 1]], output=np.zeros((5, 5))), "output has shape"),
    (lambda: imgconv.deconvolve(np.zeros((3, 40, 40)), [[1, 1]], algorithm="wiener"), "channel_axis=0"),
])
def test_bad_options_are_refused_in_one_message(call, message):
    with pytest.raises(imgconv.InvalidInputError, match=message):
        call()


# Output arrays: every array function fills the array it is given, and returns it.
FUNCTIONS = {
    "blur": lambda image, **k: imgconv.blur(image, 2, **k),
    "box": lambda image, **k: imgconv.box(image, radius=2, **k),
    "tent": lambda image, **k: imgconv.tent(image, radius=3, **k),
    "sharpen": lambda image, **k: imgconv.sharpen(image, 0.5, **k),
    "unsharp": lambda image, **k: imgconv.unsharp(image, 1.5, **k),
    "laplacian": lambda image, **k: imgconv.laplacian(image, **k),
    "emboss": lambda image, **k: imgconv.emboss(image, **k),
    "motion": lambda image, **k: imgconv.motion(image, 5, 30, **k),
    "identity": lambda image, **k: imgconv.identity(image, **k),
    "sobel": lambda image, **k: imgconv.sobel(image, **k),
    "prewitt x": lambda image, **k: imgconv.prewitt(image, "x", **k),
    "scharr": lambda image, **k: imgconv.scharr(image, method="fft", **k),
    "dog": lambda image, **k: imgconv.dog(image, 1, 2, **k),
    "log": lambda image, **k: imgconv.log(image, 1.5, **k),
    "gradient": lambda image, **k: imgconv.gradient(image, 1.5, **k),
    "gradient by FFT": lambda image, **k: imgconv.gradient(image, 12, **k),
    "deconvolve": lambda image, **k: imgconv.deconvolve(image, kernels.gaussian(1, radius=2), 3, **k),
    "deconvolve wiener": lambda image, **k: imgconv.deconvolve(image, kernels.gaussian(1), algorithm="wiener", **k),
}
MEAN_KEEPING = ("blur", "box", "tent", "sharpen", "unsharp", "motion", "identity")
MODE_CASES = {"reflect": {}, "per-channel cval": {"mode": "constant", "cval": (10, 200, 60)},
              "truncate": {"mode": "truncate"}}


# The truncate mode refuses weights summing to 0; deconvolution takes one cval.
PAIRS = [(name, case) for name in FUNCTIONS for case in MODE_CASES
         if (case != "truncate" or name in MEAN_KEEPING) and (case == "reflect" or "deconvolve" not in name)]


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("name, case", PAIRS)
def test_an_output_array_is_filled_and_returned(name, case, dtype):
    """Equal to the call that makes its own array of that type, in each way the engine
    fills an output: band by band, channel by channel (a cval per channel), whole (the
    truncate mode, FFT magnitudes, deconvolution); channel-first too."""
    options = MODE_CASES[case]
    function = FUNCTIONS[name]
    out = np.full(CHELSEA.shape, 7, dtype)
    assert function(CHELSEA, output=out, **options) is out
    np.testing.assert_array_equal(out, function(CHELSEA, output=dtype, **options))
    first = np.ascontiguousarray(np.moveaxis(CHELSEA, 2, 0))
    out = np.full(first.shape, 7, dtype)
    assert function(first, output=out, channel_axis=0, **options) is out
    np.testing.assert_array_equal(out, function(first, output=dtype, channel_axis=0, **options))


@pytest.mark.parametrize("case", MODE_CASES)
def test_output_arrays_equal_scipy_ndimage(case):
    options = MODE_CASES[case]
    values = (options.get("cval", 0),) * 3 if np.ndim(options.get("cval", 0)) == 0 else options["cval"]
    scipy_mode = options.get("mode", "reflect")
    out = np.empty(PHOTO.shape)
    imgconv.blur(PHOTO, 2, output=out, **options)
    if case == "truncate":
        ones = ndi.gaussian_filter(np.ones(PHOTO.shape[:2]), 2, radius=6, mode="constant")
        expected = per_channel(ndi.gaussian_filter, PHOTO, 2, radius=6, mode="constant") / ones[..., None]
    else:
        expected = np.stack([ndi.gaussian_filter(PHOTO[..., c], 2, radius=6, mode=scipy_mode, cval=values[c])
                             for c in range(3)], -1)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-9)
    if case != "truncate":  # a derivative's weights sum to 0: no truncated mean
        imgconv.gradient(PHOTO, 12, output=out, mode=scipy_mode)  # an FFT per derivative
        np.testing.assert_allclose(out, per_channel(ndi.gaussian_gradient_magnitude, PHOTO, 12, radius=36,
                                                    mode=scipy_mode), rtol=0, atol=1e-9)


@pytest.mark.parametrize("call", [
    lambda image, **k: imgconv.blur(image, 2, mode="truncate", **k),
    lambda image, **k: imgconv.box(image, radius=2, mode="constant", cval=(10, 200, 60), **k),
    lambda image, **k: imgconv.gradient(image, 12, **k),
    lambda image, **k: imgconv.sobel(image, method="fft", **k),
])
def test_the_image_itself_as_output(call):
    image = CHELSEA.astype(np.float32)
    expected = call(image.copy())
    assert call(image, output=image) is image
    np.testing.assert_array_equal(image, expected)


NOISE = np.random.default_rng(5).integers(0, 256, (768, 512, 3), dtype=np.uint8)
WHOLE = {  # paths that compute a result whole before it goes out
    "truncate": lambda **k: imgconv.blur(NOISE, 2, mode="truncate", **k),
    "per-channel cval": lambda **k: imgconv.box(NOISE, radius=2, mode="constant", cval=(10, 20, 30), **k),
    "gradient by FFT": lambda **k: imgconv.gradient(NOISE, 12, **k),
}
BANDED = {
    "blur": lambda **k: imgconv.blur(NOISE, 2, **k),
    "dog": lambda **k: imgconv.dog(NOISE, 1, 2, **k),
    "gradient": lambda **k: imgconv.gradient(NOISE, 2, **k),
}


def allocated(call):
    """The peak of what ``call`` allocates (tracemalloc, which sees NumPy's arrays), on
    one thread so that bands in flight do not vary, after a first call has warmed the
    caches (kernels, FFT plans)."""
    call()
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", [*WHOLE, *BANDED])
def test_an_output_array_saves_a_full_size_result(name):
    """Measured on 768x512 RGB into float32 (4.5 MiB), in units of the output: given a
    type, 2.03 (truncate), 1.49 (per-channel cval), 2.43 (FFT gradient), 1.15-1.28
    (banded); given an array, 1.18, 0.49, 1.43 and 0.15-0.28, where truncate and
    per-channel cval took as much as given the type, and the FFT gradient 3.0."""
    call = {**WHOLE, **BANDED}[name]
    out = np.empty(NOISE.shape, np.float32)
    into_array = allocated(lambda: call(output=out, threads=1))
    own_array = allocated(lambda: call(output=np.float32, threads=1))
    assert own_array - into_array >= 0.75 * out.nbytes, (own_array / out.nbytes, into_array / out.nbytes)
    assert into_array < (2 if name in WHOLE else 0.5) * out.nbytes, into_array / out.nbytes
