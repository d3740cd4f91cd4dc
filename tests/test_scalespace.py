"""Scale-space filters against scipy.ndimage's, in every boundary mode, to float32
precision, and their kernels by hand."""

import numpy as np
import pytest
import scipy.ndimage as ndi

from imgconv import scalespace
from imgconv.vocabulary import MODES


@pytest.fixture(scope="module")
def photo():
    """A float32 picture, with a channel axis: 0..255 noise smoothed a little."""
    noise = np.random.default_rng(2026).random((48, 61, 2)) * 255
    return ndi.uniform_filter(noise, (3, 3, 1)).astype(np.float32)


def per_channel(function, image, *args, **keywords):
    image = image.astype(np.float64)
    return np.stack([function(image[..., c], *args, **keywords) for c in range(image.shape[2])], axis=2)


def assert_float32_close(ours, theirs):
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=2e-6 * np.abs(theirs).max())


@pytest.mark.parametrize("mode", MODES)
def test_difference_of_gaussians_equals_two_scipy_blurs(photo, mode):
    ours = scalespace.difference_of_gaussians(photo, 1.0, (2.5, 2.0), radius=7, mode=mode, cval=9)
    first = per_channel(ndi.gaussian_filter, photo, 1.0, radius=7, mode=mode, cval=9)
    second = per_channel(ndi.gaussian_filter, photo, (2.0, 2.5), radius=7, mode=mode, cval=9)
    assert_float32_close(ours, first - second)


def test_difference_of_gaussians_pads_the_narrower_one(photo):
    ours = scalespace.difference_of_gaussians(photo, 1.0, 2.0)
    theirs = (per_channel(ndi.gaussian_filter, photo, 1.0, radius=3)
              - per_channel(ndi.gaussian_filter, photo, 2.0, radius=6))
    assert_float32_close(ours, theirs)


@pytest.mark.parametrize("mode", MODES)
def test_laplacian_of_gaussian_equals_scipy(photo, mode):
    ours = scalespace.laplacian_of_gaussian(photo, 1.5, radius=5, mode=mode)
    assert_float32_close(ours, per_channel(ndi.gaussian_laplace, photo, 1.5, radius=5, mode=mode))


@pytest.mark.parametrize("mode", MODES)
def test_gradient_magnitude_equals_scipy(photo, mode):
    ours = scalespace.gradient_magnitude(photo, 2.0, radius=6, mode=mode)
    assert_float32_close(ours, per_channel(ndi.gaussian_gradient_magnitude, photo, 2.0, radius=6, mode=mode))


@pytest.mark.parametrize("order", [(1, 0), (0, 2), (3, 1), (2, 3)])
@pytest.mark.parametrize("mode", MODES)
def test_gaussian_derivative_equals_scipy(photo, order, mode):
    ours = scalespace.gaussian_derivative(photo, (1.5, 2.5), order, radius=(4, 8), mode=mode)
    theirs = per_channel(ndi.gaussian_filter, photo, (2.5, 1.5), order=order[::-1], radius=(8, 4), mode=mode)
    assert_float32_close(ours, theirs)


def test_the_engine_options_pass_through(photo):
    ours = scalespace.gaussian_derivative(photo[..., 0], 1.0, output=np.uint8, method="fft")
    assert ours.dtype == np.uint8
    np.testing.assert_array_equal(ours, np.clip(np.round(ndi.gaussian_filter(photo[..., 0].astype(float), 1.0,
                                                                              radius=3)), 0, 255))


def test_kernels_by_hand():
    x = np.arange(-3.0, 4)
    g = np.exp(-x**2 / 2) / np.exp(-x**2 / 2).sum()
    # On a ramp of slopes 4 and 3, each derivative g'(x) = -x g(x) gives its slope times
    # sum(x² g) where it fits inside; their norm is 5 times that sum.
    ramp = np.add.outer(np.arange(20.0) * 3, np.arange(30.0) * 4)
    inside = scalespace.gradient_magnitude(ramp, 1.0)[3:-3, 3:-3]
    np.testing.assert_allclose(inside, 5 * np.sum(x**2 * g), rtol=1e-6)
    # An impulse's Laplacian of Gaussian is the kernel itself: g''(x) g(y) + g(x) g''(y).
    expected = np.outer(g, (x**2 - 1) * g) + np.outer((x**2 - 1) * g, g)
    impulse = np.pad([[1.0]], 3)
    np.testing.assert_allclose(scalespace.laplacian_of_gaussian(impulse, 1.0, mode="constant"), expected,
                               atol=1e-7)
    assert scalespace.difference_of_gaussians_kernel(1.0, 2.0).sum() == pytest.approx(0, abs=1e-15)
