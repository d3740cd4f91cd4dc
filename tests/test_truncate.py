"""The truncate boundary mode against its definition computed with scipy.ndimage:
``correlate(x, mode="constant") / correlate(ones, mode="constant")``."""

import numpy as np
import pytest
import scipy.ndimage as ndi

from imgconv import engine, kernels
from imgconv.errors import BoundaryError
from imgconv.vocabulary import resolve_mode


def truncated(image, kernel, convolution=False):
    function = ndi.convolve if convolution else ndi.correlate
    inside = function(np.ones(image.shape[:2]), kernel, mode="constant")
    if image.ndim == 3:
        filtered = np.stack([function(image[..., c].astype(float), kernel, mode="constant")
                             for c in range(image.shape[2])], axis=2)
        return filtered / inside[..., np.newaxis]
    return function(image.astype(float), kernel, mode="constant") / inside


@pytest.fixture(scope="module")
def picture():
    return np.random.default_rng(7).random((33, 47, 3)).astype(np.float32) * 255


RNG = np.random.default_rng(8)
KERNELS = {
    "gaussian": kernels.gaussian(sigma=2),
    "motion 30°": kernels.motion(9, 30),
    "even 4x6": RNG.random((4, 6)) + 0.1,
    "taller than the image": RNG.random((41, 3)) + 0.1,
    "wider than the image": RNG.random((3, 61)) + 0.1,
    "sharpen": kernels.sharpen(),
    "unnormalised": np.ones((3, 5)),
}


@pytest.mark.parametrize("convolution", [False, True])
@pytest.mark.parametrize("name", KERNELS)
def test_truncate_is_the_mean_over_the_kernel_inside(picture, name, convolution):
    function = engine.convolve if convolution else engine.correlate
    ours = function(picture, KERNELS[name], mode="truncate")
    np.testing.assert_allclose(ours, truncated(picture, KERNELS[name], convolution), rtol=0, atol=3e-4)


@pytest.mark.parametrize("method", ["direct", "separable", "fft"])
def test_truncate_with_every_method_and_factored_kernels(picture, method):
    ours = engine.correlate(picture, kernels.separable_gaussian(sigma=3), mode="truncate", method=method)
    np.testing.assert_allclose(ours, truncated(picture, kernels.gaussian(sigma=3)), rtol=0, atol=3e-4)


def test_a_factored_kernel_larger_than_a_dense_one(picture):
    huge = kernels.separable_gaussian(radius=600, sigma=40)
    ours = engine.correlate(picture[..., 0], huge, mode="truncate")
    g = huge.terms[0][0]
    rows = ndi.correlate1d(picture[..., 0].astype(float), g, axis=0, mode="constant")
    both = ndi.correlate1d(rows, huge.terms[0][1], axis=1, mode="constant")
    inside = np.outer(ndi.correlate1d(np.ones(33), g, mode="constant"),
                      ndi.correlate1d(np.ones(47), huge.terms[0][1], mode="constant"))
    np.testing.assert_allclose(ours, both / inside, rtol=0, atol=3e-4)


def test_a_flat_image_stays_flat_to_the_edges_and_integers_round_once():
    flat = np.full((9, 12), 200, np.uint8)
    assert (engine.correlate(flat, kernels.gaussian(sigma=2), mode="truncate", output=np.uint8) == 200).all()
    reflected = engine.correlate(flat, kernels.motion(5, 45), mode="constant", output=np.uint8)
    assert reflected[0, 0] < 200  # where constant mode darkens the corner


def test_a_kernel_offset_is_added_not_averaged(picture):
    kernel = engine.Kernel(np.ones((3, 3)), offset=10.0)
    ours = engine.correlate(picture[..., 0], kernel, mode="truncate")
    np.testing.assert_allclose(ours, truncated(picture[..., 0], np.ones((3, 3))) + 10, rtol=0, atol=3e-4)


@pytest.mark.parametrize("kernel", [kernels.sobel(), kernels.laplacian(), np.array([[1.0, -1.0, 1.0, -1.0]])])
def test_kernels_summing_to_zero_are_refused_before_filtering(kernel):
    with pytest.raises(BoundaryError, match=r"^the truncate boundary mode divides by the kernel's weights") as info:
        engine.correlate(np.ones((5, 5)), kernel, mode="truncate")
    assert "\n" not in str(info.value)


def test_a_kernel_summing_to_zero_near_an_edge_is_refused():
    # Sums to 1, but only its right half, summing to 0, is inside at the left edge.
    with pytest.raises(BoundaryError, match="sum to 0 near an edge"):
        engine.correlate(np.ones((5, 5)), [[1.0, 0.0, 1.0, -1.0]], mode="truncate")


def test_truncate_is_a_mode_only_where_the_whole_image_is_filtered():
    assert resolve_mode("Truncate", 5, truncate=True) == ("truncate", 0.0)
    with pytest.raises(BoundaryError, match="needs the whole image at once"):
        resolve_mode("truncate")
    dask = pytest.importorskip("imgconv.dask")
    with pytest.raises(BoundaryError, match="needs the whole image at once"):
        dask.correlate(np.ones((4, 4)), np.ones((3, 3)), mode="truncate")
