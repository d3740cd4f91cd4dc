"""The Python API one import away: the filter commands as functions on arrays, equal
to what the commands write and to scipy.ndimage; the kernels sigma first; and what
``import imgconv`` costs and ``help(imgconv)`` shows."""

import inspect
import math
import pydoc
import subprocess
import sys

import numpy as np
import pytest
import scipy.ndimage as ndi
from helpers import SAMPLES, load, reference, run

import imgconv
from imgconv import kernels

CHELSEA = imgconv.imread(SAMPLES / "chelsea.png")  # 300x451 RGB, uint8
CAMERA = imgconv.imread(SAMPLES / "camera.png")  # 512x512 grey

# Each case: the command line, and the function with the keywords that compute the same.
CASES = {
    "blur sigma": (["blur", "--sigma", "2"], "blur", {"sigma": 2}),
    "blur radius": (["blur", "--radius", "4"], "blur", {"radius": 4}),
    "blur both, wrap": (["blur", "-r", "3", "-s", "1.5", "-b", "wrap"], "blur", {"sigma": 1.5, "radius": 3,
                                                                                "mode": "wrap"}),
    "box size 4": (["box", "--kernel-size", "4"], "box", {"size": 4}),
    "box, constant": (["box", "-r", "2", "-b", "constant", "--cval", "30"], "box", {"radius": 2, "mode": "constant",
                                                                                    "cval": 30}),
    "tent": (["tent", "--radius", "3"], "tent", {"radius": 3}),
    "tent size 6, wrap": (["tent", "--kernel-size", "6", "-b", "wrap"], "tent", {"size": 6, "mode": "wrap"}),
    "sharpen": (["sharpen", "--amount", "0.5"], "sharpen", {"amount": 0.5}),
    "unsharp": (["unsharp", "-s", "2", "-a", "1.5", "-b", "mirror"], "unsharp", {"sigma": 2, "amount": 1.5,
                                                                                  "mode": "mirror"}),
    "laplacian": (["laplacian", "--diagonals"], "laplacian", {"diagonals": True}),
    "emboss": (["emboss", "-b", "nearest"], "emboss", {"mode": "nearest"}),
    "motion": (["motion", "--length", "7", "--angle", "30"], "motion", {"length": 7, "angle": 30}),
    "identity": (["identity"], "identity", {}),
    "sobel": (["sobel"], "sobel", {}),
    "sobel x": (["sobel", "--direction", "x"], "sobel", {"direction": "x"}),
    "prewitt y": (["prewitt", "-d", "y", "--method", "direct"], "prewitt", {"direction": "y", "method": "direct"}),
    "scharr": (["scharr", "--threads", "1"], "scharr", {"threads": 1}),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("sample", ["chelsea.png", "camera.png"])
def test_each_function_equals_its_commands_npy_output(tmp_path, case, sample):
    arguments, name, options = CASES[case]
    assert run(*arguments, SAMPLES / sample, tmp_path / "out.npy").exit_code == 0
    written = np.load(tmp_path / "out.npy")
    result = getattr(imgconv, name)(imgconv.imread(SAMPLES / sample), **options)
    assert result.shape == written.shape
    np.testing.assert_array_equal(result, written)


@pytest.mark.parametrize("case", CASES)
def test_each_function_into_the_images_type_equals_its_commands_image(tmp_path, case):
    """An image output shows a signed derivative as its absolute value, which the
    function's float result gives once so shown and rounded; other results are the
    command's image as they are rounded into the image's type."""
    arguments, name, options = CASES[case]
    assert run(*arguments, SAMPLES / "chelsea.png", tmp_path / "out.png").exit_code == 0
    mode, written = load(tmp_path / "out.png")
    function = getattr(imgconv, name)
    if options.get("direction") in ("x", "y"):
        result = np.clip(np.rint(np.abs(function(CHELSEA, **options))), 0, 255)
    else:
        result = function(CHELSEA, **options, output=CHELSEA.dtype)
        assert result.dtype == np.uint8
    assert mode == "RGB"
    np.testing.assert_array_equal(result, written)


def test_an_integer_output_is_the_rounded_and_clipped_float_result():
    for function in (imgconv.blur, imgconv.unsharp, imgconv.sharpen):
        floats, rounded = function(CAMERA, 1.5), function(CAMERA, 1.5, output=np.uint8)
        assert floats.dtype == np.float32 and rounded.dtype == np.uint8
        np.testing.assert_array_equal(rounded, np.clip(np.rint(floats), 0, 255))


PHOTO = CHELSEA.astype(np.float64)  # float64 samples are filtered in float64
FLOAT64 = 1e-9  # on 0-255 samples: far below one wrong tap


def per_channel(function, image, **options):
    return np.stack([function(image[..., c], **options) for c in range(image.shape[2])], -1)


@pytest.mark.parametrize("mode", ["reflect", "nearest", "mirror", "wrap", "constant"])
def test_the_functions_equal_scipy_ndimage(mode):
    options = {"mode": mode, "cval": 40.0}
    # scipy's derivatives are two 1-D passes, each with its own cval beyond the edges,
    # which equals the 2-D kernel's extension only for cval 0.
    grad = {"mode": mode}
    blurred = per_channel(ndi.gaussian_filter, PHOTO, sigma=2, radius=6, **options)
    checks = {
        "blur": (imgconv.blur(PHOTO, 2, **options), blurred),
        "box radius": (imgconv.box(PHOTO, radius=2, **options),
                       per_channel(ndi.uniform_filter, PHOTO, size=5, **options)),
        "box size 4": (imgconv.box(PHOTO, size=4, **options), reference(PHOTO, np.full((4, 4), 1 / 16), mode, 40.0)),
        "tent": (imgconv.tent(PHOTO, radius=2, **options),
                 reference(PHOTO, np.outer([1, 2, 3, 2, 1], [1, 2, 3, 2, 1]) / 81, mode, 40.0)),
        "unsharp": (imgconv.unsharp(PHOTO, 2, amount=1.5, **options), PHOTO + 1.5 * (PHOTO - blurred)),
        "laplacian": (imgconv.laplacian(PHOTO, **options), per_channel(ndi.laplace, PHOTO, **options)),
        "sobel x": (imgconv.sobel(PHOTO, "x", **grad), per_channel(ndi.sobel, PHOTO, axis=1, **grad)),
        "sobel y": (imgconv.sobel(PHOTO, "y", **grad), per_channel(ndi.sobel, PHOTO, axis=0, **grad)),
        "sobel": (imgconv.sobel(PHOTO, **grad), np.hypot(per_channel(ndi.sobel, PHOTO, axis=0, **grad),
                                                           per_channel(ndi.sobel, PHOTO, axis=1, **grad))),
        "prewitt x": (imgconv.prewitt(PHOTO, "x", **grad), per_channel(ndi.prewitt, PHOTO, axis=1, **grad)),
        "scharr y": (imgconv.scharr(PHOTO, "y", **options),
                     reference(PHOTO, [[-3, -10, -3], [0, 0, 0], [3, 10, 3]], mode, 40.0, correlate=True)),
        "sharpen": (imgconv.sharpen(PHOTO, 2, **options),
                    reference(PHOTO, [[0, -2, 0], [-2, 9, -2], [0, -2, 0]], mode, 40.0)),
        "emboss": (imgconv.emboss(PHOTO, **options),
                   reference(PHOTO, [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], mode, 40.0, correlate=True)),
        "motion": (imgconv.motion(PHOTO, 5, **options), per_channel(ndi.uniform_filter1d, PHOTO, size=5, axis=1,
                                                                     **options)),
        "identity": (imgconv.identity(PHOTO, **options), PHOTO),
    }
    for name, (result, expected) in checks.items():
        assert result.dtype == np.float64, name
        np.testing.assert_allclose(result, expected, rtol=0, atol=FLOAT64 * 255, err_msg=name)


def test_a_channel_first_image_is_filtered_as_the_same_image_channels_last():
    first = np.ascontiguousarray(np.moveaxis(CHELSEA, 2, 0))
    for function in (imgconv.blur, imgconv.unsharp):
        result = function(first, 2, channel_axis=0, output=np.uint8)
        assert result.shape == first.shape
        np.testing.assert_array_equal(np.moveaxis(result, 0, 2), function(CHELSEA, 2, output=np.uint8))
    np.testing.assert_array_equal(np.moveaxis(imgconv.sobel(first, channel_axis=0), 0, 2), imgconv.sobel(CHELSEA))
    with pytest.raises(imgconv.InvalidInputError, match="channel_axis=0 if axis 0 holds the channels"):
        imgconv.blur(first, 2)


def test_an_output_array_is_filled():
    out = np.zeros(CHELSEA.shape, np.uint8)
    assert imgconv.blur(CHELSEA, 2, output=out) is out
    np.testing.assert_array_equal(out, imgconv.blur(CHELSEA, 2, output=np.uint8))


@pytest.mark.parametrize("call, message", [
    (lambda: imgconv.blur(CAMERA), "gaussian needs a radius or a sigma"),
    (lambda: imgconv.box(CAMERA, radius=1, size=3), "box needs exactly one of radius or size"),
    (lambda: imgconv.sobel(CAMERA, "z"), "direction must be 'x', 'y' or 'magnitude', got 'z'"),
    (lambda: imgconv.motion(CAMERA, 0.5), "length must be >= 1"),
    (lambda: imgconv.sharpen(CAMERA, mode="sideways"), "unknown boundary mode 'sideways'"),
])
def test_bad_options_are_refused_in_one_message(call, message):
    with pytest.raises(imgconv.InvalidInputError, match=message):
        call()


def test_gaussian_takes_sigma_first_and_radius_by_name():
    g = kernels.gaussian(3)
    assert g.shape == (19, 19)  # radius ceil(3 * 3) = 9
    taps = np.exp(-np.arange(-9, 10) ** 2 / 18)
    np.testing.assert_allclose(g, np.outer(taps, taps) / taps.sum() ** 2, rtol=1e-12)
    np.testing.assert_array_equal(kernels.separable_gaussian(3).dense(), g)
    assert kernels.gaussian(radius=3).shape == (7, 7)
    np.testing.assert_allclose(kernels.unsharp(3), 2 * np.pad([[1.0]], 9) - g, atol=1e-15)
    for make in (kernels.gaussian, kernels.separable_gaussian, kernels.unsharp, kernels.separable_unsharp):
        with pytest.raises(TypeError):
            make(5, 3)  # the old (radius, sigma) order is an error, never a silent swap
    for make in (kernels.box, kernels.separable_box):
        with pytest.raises(TypeError):
            make(2)
    assert math.isclose(kernels.separable_unsharp(1.5, radius=4, amount=2).sum(), 1.0)


def test_import_loads_no_numpy_until_a_function_is_used():
    code = ("import sys, imgconv; assert 'numpy' not in sys.modules, 'numpy'; "
            "imgconv.blur; assert 'numpy' in sys.modules; print(sorted(n for n in dir(imgconv) if n[0] != '_'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    names = set(eval(done.stdout))
    assert {"blur", "sobel", "imread", "imwrite", "read_image", "write_image", "Picture", "convolve",
            "correlate", "kernels", "ImgconvError"} <= names


def test_help_is_an_overview_naming_every_public_name():
    text = pydoc.render_doc(imgconv, renderer=pydoc.plaintext)
    assert len(text.splitlines()) < 150
    assert "with_traceback" not in text  # no exception classes' boilerplate
    public = [name for name in dir(imgconv) if not name.startswith("_") and name != "importlib"
              and (name == "kernels" or not inspect.ismodule(getattr(imgconv, name)))]  # submodules once imported
    assert set(public) == {
        "blur", "box", "tent", "sharpen", "unsharp", "laplacian", "sobel", "prewitt", "scharr", "emboss", "motion",
        "identity", "dog", "log", "gradient", "deconvolve",
        "convolve", "correlate", "kernels", "load_kernel", "format_kernel", "Kernel", "SeparableKernel",
        "imread", "imwrite", "read_image", "write_image", "Picture", "MODES", "METHODS",
        "ImgconvError", "InvalidInputError", "KernelError", "BoundaryError", "ImageReadError", "ImageWriteError"}
    for name in public:
        assert name in imgconv.__doc__, name
        assert getattr(imgconv, name) is not None
