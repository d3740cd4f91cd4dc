"""The command line's filters for shaped and scale-space kernels and over missing data,
applied to pictures as commands apply them, against scipy.ndimage."""

import numpy as np
import pytest
import scipy.ndimage as ndi

from imgconv.engine import EngineOptions
from imgconv.errors import InvalidInputError
from imgconv.filters import filter_picture, preset_filter
from imgconv.gaussians import rotated_gaussian
from imgconv.io.picture import Picture
from imgconv.kernels import gaussian
from imgconv.missing_filter import interpolating
from imgconv.scale_filters import (
    box_filter,
    difference_of_gaussians_filter,
    gradient_magnitude_filter,
    laplacian_of_gaussian_filter,
    shaped_blur_filter,
)


@pytest.fixture(scope="module")
def grey():
    rng = np.random.default_rng(26)
    return ndi.uniform_filter(rng.integers(0, 256, (40, 57)), 3).astype(np.uint8)


def as_float(grey):
    return Picture([grey.astype(np.float32)], "F", "NPY")


def test_per_axis_blur_rounds_to_scipy(grey):
    ours = filter_picture(Picture([grey], "L", "PNG"), shaped_blur_filter((2.0, 0.75)), np.uint8)
    theirs = ndi.gaussian_filter(grey.astype(float), (0.75, 2.0), radius=(3, 6), mode="reflect")
    assert np.abs(ours - np.floor(theirs + 0.5)).max() <= 1
    assert np.count_nonzero(ours != np.floor(theirs + 0.5)) < grey.size // 500


def test_rotated_blur_correlates_with_the_rotated_kernel(grey):
    filt = shaped_blur_filter((3.0, 1.0), angle=30, engine=EngineOptions("nearest"))
    ours = filter_picture(as_float(grey), filt)
    theirs = ndi.correlate(grey.astype(float), rotated_gaussian((3.0, 1.0), 30), mode="nearest")
    np.testing.assert_allclose(ours, theirs, atol=2e-3)


def test_derivatives_show_their_absolute_value_and_keep_their_sign_raw(grey):
    filt = shaped_blur_filter(1.5, order=(1, 0))
    theirs = ndi.gaussian_filter(grey.astype(float), 1.5, order=(0, 1), radius=5)
    np.testing.assert_allclose(filter_picture(as_float(grey), filt), theirs, atol=2e-3)
    shown = filter_picture(Picture([grey], "L", "PNG"), filt, np.uint8)
    assert np.abs(shown.astype(float) - np.clip(np.abs(theirs), 0, 255)).max() <= 0.5 + 1e-3
    with pytest.raises(InvalidInputError, match="no derivative order"):
        shaped_blur_filter(1.5, order=(1, 0), angle=10)


@pytest.mark.parametrize("mode", ["reflect", "wrap", "constant"])
def test_scale_space_filters_on_pictures(grey, mode):
    x = grey.astype(float)
    engine = EngineOptions(mode)
    cases = [(difference_of_gaussians_filter(1.0, 2.0, radius=6, engine=engine),
              ndi.gaussian_filter(x, 1.0, radius=6, mode=mode) - ndi.gaussian_filter(x, 2.0, radius=6, mode=mode)),
             (laplacian_of_gaussian_filter(1.5, radius=5, engine=engine), ndi.gaussian_laplace(x, 1.5, radius=5,
                                                                                              mode=mode)),
             (gradient_magnitude_filter(1.5, radius=5, engine=engine),
              ndi.gaussian_gradient_magnitude(x, 1.5, radius=5, mode=mode))]
    for filt, theirs in cases:
        np.testing.assert_allclose(filter_picture(as_float(grey), filt), theirs, atol=2e-3)
        shown = filter_picture(Picture([grey], "L", "PNG"), filt, np.uint8)
        assert np.abs(shown - np.clip(np.floor(np.abs(theirs) + 0.5), 0, 255)).max() <= 1


def test_box_with_a_width_and_a_height(grey):
    ours = filter_picture(as_float(grey), box_filter((3, 5)))
    np.testing.assert_allclose(ours, ndi.uniform_filter(grey.astype(float), (5, 3), mode="reflect"), atol=1e-3)
    with pytest.raises(InvalidInputError, match="box size must be a whole number"):
        box_filter((2.5, 3))


def test_missing_data_filter(grey):
    data = grey.astype(np.float32)
    data[10:20, 10:30] = np.nan
    data[0, ::3] = np.nan
    ours = filter_picture(Picture([data], "F", "NPY"), interpolating(preset_filter(gaussian(sigma=1))))
    valid = ~np.isnan(data)
    k = gaussian(sigma=1)
    with np.errstate(invalid="ignore"):
        theirs = (ndi.correlate(np.where(valid, data, 0).astype(float), k, mode="reflect")
                  / ndi.correlate(valid.astype(float), k, mode="reflect"))
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_allclose(np.nan_to_num(ours), np.nan_to_num(theirs), atol=2e-3)
    with pytest.raises(InvalidInputError, match="not a magnitude"):
        interpolating(gradient_magnitude_filter(1.0))
