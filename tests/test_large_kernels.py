"""Separable kernels larger than a dense kernel may be: Gaussians, boxes and unsharp
masks up to radius 100000, filtered from their 1-D factors, against scipy.ndimage's
1-D filters (or numpy.pad in constant mode), and the refusals beyond the limits."""

import pickle
import tracemalloc

import numpy as np
import pytest
import scipy.ndimage as ndi
from helpers import NUMPY_PADS, SAMPLES, assert_rounded_from, load, run, symmetric_taps
from PIL import Image

import imgconv
from imgconv import kernels
from imgconv.engine import MAX_KERNEL_SIZE, SeparableKernel, choose_method
from imgconv.filters import preset_filter
from imgconv.vocabulary import MODES

CAT = SAMPLES / "chelsea.png"


@pytest.fixture(scope="module")
def cat():
    return load(CAT)[1]


def two_passes(image, column, row, mode, cval=0.0, convolution=False):
    """The 2-D filter with ``outer(column, row)``, per channel, in float64.

    scipy.ndimage's 1-D filters, one per axis, for the modes where that equals the 2-D
    filter (and where scipy's n-dimensional correlate goes wrong in reflect mode once
    the kernel reaches four image sizes); in constant mode the column pass makes the
    columns beyond the edges ``cval * sum(column)``, not ``cval``, so there the image
    is padded by numpy.pad and each axis is a 'valid' product.
    """
    image = np.asarray(image, np.float64)
    if mode != "constant":
        function = ndi.convolve1d if convolution else ndi.correlate1d
        return function(function(image, column, axis=0, mode=mode), row, axis=1, mode=mode)
    if convolution:
        column, row = column[::-1], row[::-1]
        before = [len(f) - 1 - len(f) // 2 for f in (column, row)]
    else:
        before = [len(f) // 2 for f in (column, row)]
    pads = [(b, len(f) - 1 - b) for b, f in zip(before, (column, row), strict=True)] + [(0, 0)] * (image.ndim - 2)
    padded = np.pad(image, pads, constant_values=cval)
    for axis, taps in enumerate((column, row)):
        windows = np.lib.stride_tricks.sliding_window_view(padded, len(taps), axis=axis)
        padded = windows @ taps
    return padded


@pytest.mark.parametrize("convolution", [False, True], ids=["correlate", "convolve"])
@pytest.mark.parametrize("image_shape", [(1, 1), (2, 3), (3, 7), (7, 2), (5, 4, 2)], ids=str)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["auto", "separable", "fft"])
@pytest.mark.parametrize("symmetric", [True, False], ids=["symmetric", "asymmetric"])
@pytest.mark.slow
def test_kernels_far_wider_than_the_image_fold_exactly(rng, convolution, image_shape, mode, method, symmetric):
    # 1101 and 1030 taps: too large to hold densely, so filtered from the factors, each
    # folded onto the few offsets that reach distinct samples; odd and even lengths,
    # two terms.
    image = rng.random(image_shape)
    make = (lambda n: symmetric_taps(rng, n)) if symmetric else (lambda n: rng.normal(size=n))
    terms = [(make(1101), make(1030)) for _ in range(2)]
    kernel = SeparableKernel(terms)
    function = imgconv.convolve if convolution else imgconv.correlate
    # A single pixel folds each factor onto one tap in mirror and nearest mode: symmetric.
    folds = image_shape[:2] == (1, 1) and mode in ("mirror", "nearest")
    if method == "fft" and not symmetric and mode != "wrap" and not folds:
        # Bands would need the kernel densely; whole channels need it symmetric.
        with pytest.raises(imgconv.KernelError, match="only on whole channels"):
            function(image, kernel, mode=mode, cval=0.7, method=method)
        return
    result = function(image, kernel, mode=mode, cval=0.7, method=method)
    expected = sum(two_passes(image, column, row, mode, 0.7, convolution) for column, row in terms)
    scale = sum(np.abs(column).sum() * np.abs(row).sum() for column, row in terms)
    assert result.dtype == np.float64 and result.shape == image.shape
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-12 * scale)


def test_a_separable_kernel_that_fits_densely_is_filtered_as_its_dense_form(rng):
    # Bit for bit: what --print-kernel prints reproduces the command exactly.
    image = rng.integers(0, 256, size=(40, 50, 3)).astype(np.uint8)
    for kernel in (kernels.separable_gaussian(2, radius=7), kernels.separable_box(size=4),
                   kernels.separable_unsharp(2, radius=5, amount=1.5)):
        for method in ("auto", "direct", "separable", "fft"):
            assert np.array_equal(imgconv.convolve(image, kernel, method=method),
                                  imgconv.convolve(image, kernel.dense(), method=method))
    assert np.array_equal(kernels.separable_gaussian(2, radius=7).dense(), kernels.gaussian(2, radius=7))
    assert np.array_equal(kernels.separable_box(size=4).dense(), kernels.box(size=4))
    np.testing.assert_allclose(kernels.separable_unsharp(2, radius=5, amount=1.5).dense(),
                               kernels.unsharp(2, radius=5, amount=1.5), atol=1e-15)


@pytest.fixture(scope="module")
def larger_grey():
    """The photograph in grey at 640x960, so that a radius of 600 fits inside it unfolded."""
    with Image.open(CAT) as image:
        return np.asarray(image.convert("L").resize((960, 640), Image.LANCZOS))


@pytest.fixture(scope="module")
def sigma_200_references(larger_grey):
    """The result per mode, through numpy.pad's extension of the indices (filter_matrix):
    0.1 s a mode, where scipy.ndimage's 1-D filters took 0.5 s and the sliding windows
    of constant mode 4.7 s of CPU (1201 taps on 640x960)."""
    g = kernels.separable_gaussian(sigma=200).terms[0][0]
    grey = larger_grey.astype(np.float64)
    return {mode: filter_matrix(grey.shape[0], g, mode) @ grey @ filter_matrix(grey.shape[1], g, mode).T
            for mode in MODES}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["auto", "separable"])
@pytest.mark.slow
def test_sigma_200_on_a_photograph(larger_grey, sigma_200_references, mode, method):
    kernel = kernels.separable_gaussian(sigma=200)  # radius 600: 1201x1201
    result = imgconv.correlate(larger_grey, kernel, mode=mode, method=method, output=np.uint8)
    assert_rounded_from(result, sigma_200_references[mode])


def filter_matrix(n, taps, mode):
    """The (n, n) matrix that correlates an axis of n samples with ``taps`` (cval 0):
    row i adds up the taps by the sample each reaches, through numpy.pad's extension of
    the indices, which repeats reflections as often as the taps need. For taps far
    longer than the axis, where filtering the extended image itself would be far too
    slow (or large) for a reference."""
    before = len(taps) // 2
    # Positions beyond the edges in constant mode read index n, which is dropped.
    options = {"constant_values": n} if mode == "constant" else {}
    indices = np.pad(np.arange(n), (before, len(taps) - 1 - before), NUMPY_PADS[mode], **options)
    return np.stack([np.bincount(indices[i : i + len(taps)], weights=taps, minlength=n + 1)[:n] for i in range(n)])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.slow
def test_blur_radius_100000_through_the_cli(tmp_path, cat, mode):
    out = tmp_path / "out.png"
    result = run("blur", "-r", 100000, "-b", mode, CAT, out)
    assert result.exit_code == 0 and result.stderr == ""
    g = kernels.separable_gaussian(radius=100000).terms[0][0]
    columns, rows = (filter_matrix(n, g, mode) for n in cat.shape[:2])
    expected = np.stack([columns @ cat[..., c] @ rows.T for c in range(cat.shape[2])], axis=-1)
    assert_rounded_from(load(out)[1], expected)


@pytest.mark.parametrize("mode", ["reflect", "nearest", "wrap"])
@pytest.mark.slow
def test_unsharp_with_a_large_radius(tmp_path, cat, mode):
    out = tmp_path / "out.npy"
    assert run("unsharp", "-r", 1200, "-a", 1.5, "-b", mode, CAT, out).exit_code == 0
    g = kernels.separable_gaussian(radius=1200).terms[0][0]
    expected = 2.5 * cat.astype(np.float64) - 1.5 * two_passes(cat, g, g, mode)
    np.testing.assert_allclose(np.load(out), expected, rtol=0, atol=1e-6 * 4 * 255)


@pytest.mark.parametrize("mode", ["reflect", "nearest"])
@pytest.mark.slow
def test_even_box_larger_than_a_dense_kernel(tmp_path, cat, mode):
    # Convolved after the preset's rotation, as every preset is: anchored as
    # scipy.ndimage.convolve anchors an even kernel. Not symmetric about its anchor, so
    # auto takes the separable passes.
    out = tmp_path / "out.png"
    assert run("box", "--kernel-size", 1030, "-b", mode, CAT, out).exit_code == 0
    taps = np.full(1030, 1 / 1030)
    assert_rounded_from(load(out)[1], two_passes(cat, taps, taps, mode, convolution=True))


def test_auto_and_explicit_methods_for_factors():
    photo = (2160, 3840)
    assert choose_method(kernels.separable_gaussian(radius=600), shape=photo) == "fft"
    assert choose_method(kernels.separable_gaussian(radius=600), "wrap", shape=(2161, 3847)) == "separable"  # primes
    assert choose_method(kernels.separable_box(size=2000), shape=photo) == "running-sums"  # a box: any size
    image = np.zeros((20, 30))
    with pytest.raises(imgconv.KernelError, match=r"'direct' needs the kernel as one dense array.*1201x1201"):
        imgconv.correlate(image, kernels.separable_gaussian(radius=600), method="direct")


def test_large_kernels_are_never_made_dense():
    big = kernels.separable_gaussian(radius=600)
    with pytest.raises(imgconv.KernelError, match="1201x1201: too large to hold densely"):
        np.asarray(big)
    with pytest.raises(imgconv.KernelError, match="1201x1201, too large to print densely"):
        imgconv.format_kernel(big)
    filt = preset_filter(big)
    assert isinstance(filt.kernel, SeparableKernel) and filt.kernel.shape == (1201, 1201)
    assert filt.preserves_mean and preset_filter(kernels.separable_unsharp(radius=700, amount=2)).preserves_mean
    assert pickle.loads(pickle.dumps(filt)).kernel.shape == (1201, 1201)  # batch workers get it


@pytest.mark.slow
def test_filtering_with_radius_100000_takes_little_memory(cat):
    tracemalloc.start()
    try:
        for mode in MODES:
            imgconv.correlate(cat, kernels.separable_unsharp(radius=100000), mode=mode, output=np.uint8)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20


def test_dense_presets_are_refused_by_size_before_allocating():
    tracemalloc.start()
    try:
        for make, message in ((lambda: kernels.gaussian(radius=600), "gaussian kernel would be 1201x1201"),
                              (lambda: kernels.unsharp(sigma=1e6), "gaussian kernel would be 6000001x6000001"),
                              (lambda: kernels.box(size=30000), "box kernel would be 30000x30000"),
                              (lambda: kernels.motion(1e9), "motion length 1e\\+09 is too long")):
            with pytest.raises(imgconv.KernelError, match=message):
                make()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


@pytest.mark.parametrize(
    "args, message",
    [(["blur", "-r", 100001], "gaussian kernel would be 200003 taps wide (radius 100001); the widest is 200001"),
     (["blur", "-s", 33334], "radius 100002"),
     (["unsharp", "-r", 100001], "radius 100001"),
     (["box", "-r", 100001], "box kernel would be 200003 taps wide"),
     (["box", "--kernel-size", 300000], "box kernel would be 300000 taps wide; the widest is 200001"),
     (["motion", "-l", 1026], "motion length 1026 is too long"),
     (["motion", "-l", "1e9"], "motion length 1e+09 is too long"),
     (["blur", "-s", 200, "--method", "direct"], "'direct' needs the kernel as one dense array"),
     (["box", "--kernel-size", 2000, "--method", "fft"], "only on whole channels")],
    ids=lambda v: " ".join(map(str, v)) if isinstance(v, list) else "",
)
def test_refusals_are_one_line_and_allocate_nothing_big(tmp_path, args, message):
    out = tmp_path / "out.png"
    tracemalloc.start()
    try:
        result = run(*args, CAT, out)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("imgconv: error: ")
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()
    assert peak < 8 * 2**20


@pytest.mark.slow
def test_printing_a_large_kernel_is_refused_in_one_line():
    result = run("blur", "-s", 200, "--print-kernel")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == ("imgconv: error: the kernel is 1201x1201, too large to print densely "
                             "(the largest printable kernel is 1025x1025)\n")
    assert run("blur", "-r", (MAX_KERNEL_SIZE - 1) // 2, "--print-kernel").exit_code == 0
