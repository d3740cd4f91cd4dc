"""Preset kernels against their formulas, scipy.ndimage's filters and hand-written arrays."""

import math

import numpy as np
import pytest
import scipy.ndimage as ndi

import imgconv
from imgconv import kernels


def test_gaussian_follows_its_formula():
    kernel = kernels.gaussian(radius=2, sigma=1.5)
    i = np.arange(-2, 3)
    g = np.exp(-(i**2) / (2 * 1.5**2))
    np.testing.assert_allclose(kernel, np.outer(g, g) / g.sum() ** 2, rtol=1e-15)
    assert kernel.shape == (5, 5) and math.isclose(kernel.sum(), 1.0)


def test_gaussian_defaults_from_one_parameter():
    assert kernels.gaussian(sigma=2).shape == (13, 13)  # radius = ceil(3 * 2)
    assert kernels.gaussian(sigma=0.5).shape == (5, 5)  # radius = ceil(1.5) = 2
    np.testing.assert_allclose(kernels.gaussian(radius=6), kernels.gaussian(radius=6, sigma=2))


def test_gaussian_equals_scipy_gaussian_filter(camera):
    # scipy's gaussian_filter with truncate = radius / sigma uses the same taps.
    ours = imgconv.correlate(camera.astype(np.float64), kernels.gaussian(radius=5, sigma=3))
    theirs = ndi.gaussian_filter(camera.astype(np.float64), sigma=3, truncate=5 / 3, mode="reflect")
    np.testing.assert_allclose(ours, theirs, atol=1e-9)


@pytest.mark.parametrize("arguments", [
    {}, {"sigma": 0}, {"sigma": -1}, {"radius": -1, "sigma": 1}, {"radius": 1.5, "sigma": 1}, {"radius": 0}])
def test_gaussian_rejects_nonsense(arguments):
    with pytest.raises(ValueError):
        kernels.gaussian(**arguments)


def test_box_by_radius_and_size():
    assert np.array_equal(kernels.box(radius=1), np.full((3, 3), 1 / 9))
    assert np.array_equal(kernels.box(size=4), np.full((4, 4), 1 / 16))
    for arguments in ({}, {"radius": 1, "size": 3}, {"size": 0}, {"radius": -1}):
        with pytest.raises(ValueError):
            kernels.box(**arguments)


def test_box_equals_scipy_uniform_filter(camera):
    image = camera.astype(np.float64)
    for size in (3, 4):
        # uniform_filter correlates, so an even box is anchored as correlate anchors it.
        expected = ndi.uniform_filter(image, size=size, mode="mirror")
        np.testing.assert_allclose(imgconv.correlate(image, kernels.box(size=size), mode="mirror"), expected, atol=1e-9)


@pytest.mark.parametrize("axis, direction", [(1, "x"), (0, "y")])
def test_sobel_matches_scipy_sobel(camera, axis, direction):
    image = camera.astype(np.float64)
    expected = ndi.sobel(image, axis=axis, mode="reflect")
    np.testing.assert_allclose(imgconv.correlate(image, kernels.sobel(direction)), expected, atol=1e-9)


@pytest.mark.parametrize("axis, direction", [(1, "x"), (0, "y")])
def test_prewitt_matches_scipy_prewitt(camera, axis, direction):
    image = camera.astype(np.float64)
    expected = ndi.prewitt(image, axis=axis, mode="reflect")
    np.testing.assert_allclose(imgconv.correlate(image, kernels.prewitt(direction)), expected, atol=1e-9)


def test_gradients_are_positive_where_intensity_grows():
    ramp = np.tile(np.arange(6.0), (6, 1))  # grows to the right
    for make in (kernels.sobel, kernels.prewitt, kernels.scharr):
        assert np.all(imgconv.correlate(ramp, make("x"), mode="nearest")[:, 1:-1] > 0)
        assert np.all(imgconv.correlate(ramp.T, make("y"), mode="nearest")[1:-1, :] > 0)
    assert np.array_equal(kernels.scharr("x"), [[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]])
    with pytest.raises(ValueError):
        kernels.sobel("z")


def test_laplacian_matches_scipy_laplace(camera):
    image = camera.astype(np.float64)
    np.testing.assert_allclose(imgconv.correlate(image, kernels.laplacian()), ndi.laplace(image), atol=1e-9)
    assert np.array_equal(kernels.laplacian(diagonals=True), [[1, 1, 1], [1, -8, 1], [1, 1, 1]])


def test_sharpen_and_unsharp_formulas():
    assert np.array_equal(kernels.sharpen(), [[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    assert np.array_equal(kernels.sharpen(0.5), [[0, -0.5, 0], [-0.5, 3, -0.5], [0, -0.5, 0]])
    blur = kernels.gaussian(1, radius=2)
    identity = np.zeros((5, 5))
    identity[2, 2] = 1
    np.testing.assert_allclose(kernels.unsharp(1, radius=2, amount=1.5), identity + 1.5 * (identity - blur), atol=1e-15)
    assert math.isclose(kernels.unsharp(1, radius=2, amount=1.5).sum(), 1.0)


def test_emboss_and_identity():
    assert kernels.emboss().sum() == 1
    image = np.arange(12.0).reshape(3, 4)
    assert np.array_equal(imgconv.convolve(image, kernels.identity()), image)


def test_motion_blur_lines():
    horizontal = kernels.motion(5, 0)
    expected = np.zeros((5, 5))
    expected[2, :] = 0.2
    np.testing.assert_allclose(horizontal, expected, atol=1e-15)
    np.testing.assert_allclose(kernels.motion(5, 90), expected.T, atol=1e-15)
    diagonal = kernels.motion(7, 45)
    # Up and to the right on screen: row index falls as column index rises.
    assert diagonal[1, -2] > 0 and diagonal[-2, 1] > 0 and diagonal[1, 1] == 0
    assert math.isclose(diagonal.sum(), 1.0)
    thirty = kernels.motion(9, 30)
    rows, cols = np.nonzero(thirty > 0.05)
    slope = -np.polyfit(cols - 4, rows - 4, 1)[0]
    assert abs(math.degrees(math.atan(slope)) - 30) < 3
    assert kernels.motion(1, 0).shape == (1, 1)
    with pytest.raises(ValueError):
        kernels.motion(0)


def test_registry_lists_every_preset_with_a_summary():
    assert set(kernels.PRESETS) >= {"gaussian", "box", "sobel", "sharpen", "laplacian", "prewitt", "scharr", "emboss",
                                    "motion", "identity", "unsharp"}
    for name, preset in kernels.PRESETS.items():
        assert preset.name == name and preset.summary and preset.make.__doc__
