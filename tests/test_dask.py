"""imgconv.dask: lazy filtering of Dask arrays, equal to the engine on the whole array.

Every comparison is with `imgconv.correlate` / `convolve` on the whole NumPy array, bit
for bit (np.array_equal) for direct and separable, and to float32 rounding for fft;
one case is checked against scipy.ndimage independently. Blocks are made small
(``block_rows=1`` rounds up to one band of the engine) so that every photo is cut into
several blocks, and the input arrives in chunks smaller than the kernel's reach.
Dask runs on its synchronous scheduler: nothing opens a port.
"""

import subprocess
import sys

import numpy as np
import pytest
import scipy.ndimage as ndi
from helpers import SAMPLES
from PIL import Image

import imgconv
from imgconv.vocabulary import ALIASES, MODES

da = pytest.importorskip("dask.array")
import dask  # noqa: E402

import imgconv.dask as idask  # noqa: E402


@pytest.fixture(autouse=True)
def synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def photo(name):
    with Image.open(SAMPLES / name) as image:
        return np.asarray(image)


CAMERA = photo("camera.png")  # 512x512 grey
CHELSEA = photo("chelsea.png")  # 300x451 RGB
PHOTOS = {"grey": CAMERA, "rgb": CHELSEA}


def small_chunks(image, rows=16, columns=16):
    """The image as a Dask array in chunks smaller than the kernels' reach, channels split."""
    return da.from_array(image, chunks=(rows, columns) + (1,) * (image.ndim - 2))


def assert_same(image, kernel, *, flip=False, rows=1, **options):
    """imgconv.dask on small chunks equals the engine on the whole array, bit for bit,
    with the method given, or else the one imgconv.dask's auto takes."""
    method = options.get("method") or idask.exact_method(kernel, options.get("mode", "reflect"), image.dtype,
                                                         options.get("cval", 0.0))
    whole = (imgconv.convolve if flip else imgconv.correlate)(image, kernel, **{**options, "method": method})
    lazy = (idask.convolve if flip else idask.correlate)(small_chunks(image), kernel, block_rows=rows, **options)
    assert isinstance(lazy, da.Array)
    assert lazy.shape == image.shape and lazy.dtype == whole.dtype
    assert lazy.numblocks[1:] == (1,) * (image.ndim - 1)  # full width, channels never split
    result = lazy.compute()
    differ = np.count_nonzero(result != whole)
    assert np.array_equal(result, whole), f"{differ} samples differ; {lazy.numblocks[0]} blocks"
    return lazy


EVEN = np.random.default_rng(4).random((4, 4))  # a plain map_overlap is not exact for this one
ASYMMETRIC = np.random.default_rng(3).random((3, 7)) - 0.5


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("colour", ["grey", "rgb"])
@pytest.mark.slow
def test_every_mode_even_kernel(mode, colour):
    image = PHOTOS[colour]
    lazy = assert_same(image, EVEN, mode=mode, cval=7.3, method="separable")
    assert lazy.numblocks[0] > 5
    assert_same(image, EVEN, flip=True, mode=mode, cval=7.3, method="direct")


@pytest.mark.parametrize("alias", sorted(ALIASES))
@pytest.mark.slow
def test_every_alias(alias):
    assert_same(CAMERA[:200], EVEN, flip=True, mode=alias, cval=7.3, method="separable")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.slow
def test_odd_and_asymmetric_kernels(mode):
    gaussian11, gaussian41 = imgconv.kernels.gaussian(2, radius=5), imgconv.kernels.gaussian(7, radius=20)
    assert_same(CAMERA, gaussian11, flip=True, mode=mode, cval=200)  # the default method
    assert_same(CHELSEA, gaussian11, mode=mode, cval=200)
    assert_same(CHELSEA, ASYMMETRIC, mode=mode, cval=200, method="separable")
    assert_same(CAMERA, imgconv.kernels.sobel("y"), flip=True, mode=mode, method="direct")
    for image in PHOTOS.values():  # long columns: products with banded blocks
        assert_same(image, gaussian41, mode=mode, cval=200)


@pytest.mark.parametrize("mode", MODES)
def test_kernel_taller_than_the_image_repeats_the_extension(mode):
    """A 151-row kernel over 70 rows: reflections repeat, blocks (32 rows) are far
    shorter than the reach."""
    image = CHELSEA[:70]
    weights = np.random.default_rng(5).random((151, 3))
    lazy = assert_same(image, weights, mode=mode, cval=9.5, method="direct")
    assert lazy.numblocks[0] == 3
    assert_same(np.ascontiguousarray(image[:, :, 1]), weights, flip=True, mode=mode, method="direct")


@pytest.mark.parametrize("colour", ["grey", "rgb"])
@pytest.mark.slow
def test_large_separable_kernel(colour):
    """separable_gaussian(sigma=50): 301 taps, more than chelsea's 300 rows (one block),
    and over camera's 512 rows in two blocks of 301 (the engine's band for it)."""
    kernel = imgconv.kernels.separable_gaussian(sigma=50)
    lazy = assert_same(PHOTOS[colour], kernel, mode="reflect")
    assert lazy.numblocks[0] == (2 if colour == "grey" else 1)
    assert_same(PHOTOS[colour], kernel, mode="wrap", output=np.uint8)


@pytest.mark.parametrize("mode", ["reflect", "wrap"])
@pytest.mark.slow
def test_output_type_and_offset(mode):
    """output=np.uint8 rounds and clips as the engine does; a Kernel's offset is added."""
    emboss = imgconv.Kernel(imgconv.kernels.emboss(), offset=128)
    assert_same(CHELSEA, emboss, mode=mode, cval=300, output=np.uint8, method="direct")
    assert_same(CAMERA, imgconv.kernels.gaussian(2, radius=5), mode=mode, output=np.uint8)
    assert_same(CAMERA, imgconv.Kernel(EVEN, offset=-100.5), mode=mode, output=np.int16, method="separable")
    sharpen = imgconv.SeparableKernel([(np.ones(3) / 3, np.ones(4) / 4)], offset=3.25)
    assert_same(CHELSEA, sharpen, flip=True, mode=mode, output=np.uint8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16, np.uint32])
@pytest.mark.slow
def test_other_input_types(dtype):
    image = CHELSEA.astype(dtype) * (1 / 255 if dtype not in (np.uint16, np.uint32) else 257)
    image = image.astype(dtype)
    lazy = assert_same(image, imgconv.kernels.gaussian(2, radius=5), mode="mirror")
    assert lazy.dtype == (np.float64 if dtype in (np.float64, np.uint32) else np.float32)  # the engine's work type
    assert_same(image, ASYMMETRIC, mode="constant", cval=0.25, method="direct")


def test_default_method_is_exact_and_chosen_once():
    """auto takes an exact method from the kernel alone, the engine's choice where that
    is not fft: separable for low rank, direct otherwise (never fft, which the engine's
    auto would take for the first)."""
    assert idask.exact_method(imgconv.kernels.gaussian(33, radius=100)) == "separable"
    assert idask.exact_method(np.random.default_rng(1).random((9, 9))) == "direct"
    assert idask.exact_method(imgconv.kernels.sobel("x")) == "direct"  # its kernel columns, as the engine's auto
    assert imgconv.engine.choose_method(imgconv.kernels.gaussian(33, radius=100)) == "fft"
    weights = imgconv.kernels.gaussian(4, radius=12)
    whole = imgconv.correlate(CAMERA, weights, method="separable")
    assert np.array_equal(idask.correlate(small_chunks(CAMERA), weights, block_rows=1).compute(), whole)


@pytest.mark.parametrize("mode", ["reflect", "nearest", "wrap"])
@pytest.mark.slow
def test_fft_to_float32_rounding(mode):
    weights = imgconv.kernels.gaussian(3, radius=9)
    for image in PHOTOS.values():
        whole = imgconv.correlate(image, weights, mode=mode, cval=50, method="fft")
        lazy = idask.correlate(small_chunks(image), weights, mode=mode, cval=50, method="fft", block_rows=1)
        assert lazy.numblocks[0] > 1
        np.testing.assert_allclose(lazy.compute(), whole, rtol=0, atol=1e-3)


@pytest.mark.slow
def test_against_scipy_ndimage():
    """An independent check: scipy.ndimage.convolve per channel, float64 input."""
    image = CHELSEA.astype(np.float64)
    weights = np.random.default_rng(7).random((6, 5))
    for mode in MODES:
        want = np.stack([ndi.convolve(image[:, :, c], weights, mode=mode, cval=17.0) for c in range(3)], axis=2)
        got = idask.convolve(small_chunks(image), weights, mode=mode, cval=17.0, method="direct",
                             block_rows=1).compute()
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


def test_blocks_from_a_byte_budget():
    """Blocks are full-width bands of rows: as many as the budget holds, whole bands."""
    weights = imgconv.kernels.gaussian(2, radius=5)  # separable, bands of 48 rows
    lazy = idask.correlate(small_chunks(CHELSEA), weights, block_bytes=451 * 3 * 4 * 100)
    assert lazy.chunks[0] == (96, 96, 96, 12) and lazy.chunks[1:] == ((451,), (3,))
    assert idask.correlate(small_chunks(CHELSEA), weights).numblocks == (1, 1, 1)  # 32 MiB: one block
    assert np.array_equal(lazy.compute(), imgconv.correlate(CHELSEA, weights))


def test_numpy_input_gives_a_lazy_array():
    lazy = idask.correlate(CAMERA, imgconv.kernels.box(radius=2), block_rows=100)
    assert isinstance(lazy, da.Array) and lazy.numblocks == (4, 1)  # 144-row blocks
    assert np.array_equal(lazy.compute(), imgconv.correlate(CAMERA, imgconv.kernels.box(radius=2)))


@pytest.mark.parametrize("bad, message", [
    ({"mode": "sideways"}, "unknown boundary mode"),
    ({"method": "fastest"}, "unknown method"),
    ({"weights": np.ones((2, 2, 2))}, "must be 2-D"),
])
def test_invalid_arguments_fail_at_once(bad, message):
    options = {"weights": np.ones((3, 3))}
    options.update(bad)
    with pytest.raises(imgconv.InvalidInputError, match=message):
        idask.correlate(small_chunks(CAMERA), **options)
    with pytest.raises(imgconv.InvalidInputError, match=r"2-D .H, W., or 3-D with an axis of channels"):
        idask.correlate(da.zeros((2, 3, 4, 5)), np.ones((3, 3)))


def test_without_dask_the_import_names_the_extra():
    """With Dask missing, importing imgconv.dask fails in one line naming the extra."""
    code = ("import sys; sys.modules['dask'] = None; sys.modules['dask.array'] = None\n"
            "try:\n    import imgconv.dask\n"
            "except ImportError as exc:\n"
            "    import imgconv; assert isinstance(exc, imgconv.ImgconvError); print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "imgconv.dask needs Dask, which is not installed: pip install 'imgconv[dask]'"

