"""Per-axis, derivative and rotated Gaussian kernels against scipy.ndimage and a direct
evaluation of the rotated density."""

import math

import numpy as np
import pytest
import scipy.ndimage as ndi

from imgconv import engine
from imgconv.errors import InvalidInputError, KernelError
from imgconv.gaussians import axis_gaussian, gaussian_taps, rotated_gaussian
from imgconv.kernels import separable_gaussian


@pytest.fixture(scope="module")
def noise():
    return np.random.default_rng(26).random((37, 53))


@pytest.mark.parametrize("ox", range(4))
@pytest.mark.parametrize("oy", range(4))
def test_axis_gaussian_equals_scipy_gaussian_filter_of_every_order(noise, ox, oy):
    kernel = axis_gaussian((2.0, 1.25), radius=(6, 4), order=(ox, oy))
    assert kernel.shape == (9, 13)
    ours = engine.correlate(noise, kernel, mode="mirror")
    theirs = ndi.gaussian_filter(noise, (1.25, 2.0), order=(oy, ox), radius=(4, 6), mode="mirror")
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12 * np.abs(theirs).max())


def test_one_value_is_both_axes_and_the_default_radius_is_three_sigma():
    np.testing.assert_array_equal(axis_gaussian(1.5).dense(), axis_gaussian((1.5, 1.5)).dense())
    assert axis_gaussian((2.0, 0.5)).shape == (2 * 2 + 1, 2 * 6 + 1)
    np.testing.assert_allclose(axis_gaussian(2.0).dense(), separable_gaussian(sigma=2.0).dense(), atol=1e-16)
    # A radius alone gives sigma = radius / 3 on its axis.
    np.testing.assert_allclose(axis_gaussian(radius=(3, 6)).dense(), axis_gaussian((1.0, 2.0)).dense(), atol=1e-16)


def test_derivative_taps_by_hand():
    x = np.arange(-2, 3.0)
    g = np.exp(-x**2 / 2)
    g /= g.sum()
    np.testing.assert_allclose(gaussian_taps(1.0, 2, order=1), -x * g, atol=1e-16)
    np.testing.assert_allclose(gaussian_taps(1.0, 2, order=2), (x**2 - 1) * g, atol=1e-16)
    np.testing.assert_allclose(gaussian_taps(1.0, 2, order=3), (3 * x - x**3) * g, atol=1e-16)


def test_refusals():
    with pytest.raises(InvalidInputError, match="order must be 0 to 3"):
        axis_gaussian(1.0, order=(4, 0))
    with pytest.raises(InvalidInputError, match=r"one number or two \(x, y\), got 3"):
        axis_gaussian((1.0, 2.0, 3.0))
    with pytest.raises(KernelError, match="taps wide"):
        axis_gaussian((1.0, 1e9))
    with pytest.raises(KernelError, match="largest dense kernel"):
        rotated_gaussian((400.0, 1.0), 30)
    with pytest.raises(InvalidInputError, match="sigma must be > 0"):
        rotated_gaussian((1.0, 0.0), 30)


def direct_density(along, across, angle, rx, ry):
    """The rotated Gaussian evaluated from each tap's distances along and across the
    major axis, whose unit vector on screen is (cos a, sin a) with y upwards."""
    a = math.radians(angle)
    weights = np.empty((2 * ry + 1, 2 * rx + 1))
    for row in range(2 * ry + 1):
        for column in range(2 * rx + 1):
            x, y_up = column - rx, ry - row
            u = x * math.cos(a) + y_up * math.sin(a)
            v = -x * math.sin(a) + y_up * math.cos(a)
            weights[row, column] = math.exp(-u * u / (2 * along**2) - v * v / (2 * across**2))
    return weights / weights.sum()


@pytest.mark.parametrize("angle", [0, 17, 45, 90, 120, 200, -30])
def test_rotated_gaussian_equals_the_density_evaluated_directly(angle):
    ours = rotated_gaussian((3.0, 1.2), angle, radius=(9, 7))
    np.testing.assert_allclose(ours, direct_density(3.0, 1.2, angle, 9, 7), rtol=1e-12, atol=1e-18)


def test_rotated_gaussian_at_0_and_90_degrees_is_the_separable_one():
    np.testing.assert_allclose(rotated_gaussian((3.0, 1.0), 0), axis_gaussian((3.0, 1.0)).dense(), atol=1e-16)
    np.testing.assert_allclose(rotated_gaussian((3.0, 1.0), 90), axis_gaussian((1.0, 3.0)).dense(), atol=1e-16)
    assert rotated_gaussian((3.0, 1.0), 90).shape == (19, 7)


def test_the_major_axis_lies_counter_clockwise_at_the_angle():
    # 45° counter-clockwise on screen runs up and to the right: the top-right corner is
    # on the major axis, the top-left across it (as motion's 45° line).
    kernel = rotated_gaussian((4.0, 1.0), 45, radius=4)
    assert kernel[0, -1] > 100 * kernel[0, 0]
    assert kernel[-1, 0] == pytest.approx(kernel[0, -1])
    blurred = engine.correlate(np.pad([[1.0]], 10), kernel, mode="constant")
    # Correlating an impulse gives the kernel turned by 180°: the same ellipse.
    np.testing.assert_allclose(blurred, np.pad(kernel[::-1, ::-1], 6), atol=1e-7)
