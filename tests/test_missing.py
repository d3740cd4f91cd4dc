"""Normalized convolution over NaN against its definition computed with scipy.ndimage:
``correlate(where(nan, 0, x)) / correlate(~nan)`` in the same mode, the fill value of
constant mode counting as a valid sample."""

import numpy as np
import pytest
import scipy.ndimage as ndi

from imgconv import kernels
from imgconv.errors import BoundaryError, InvalidInputError, ReachError
from imgconv.missing import interpolate_missing
from imgconv.vocabulary import MODES


def normalized(image, kernel, mode, cval=0.0, convolution=False):
    function = ndi.convolve if convolution else ndi.correlate
    x = image.astype(float)
    valid = ~np.isnan(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (function(np.where(valid, x, 0), kernel, mode=mode, cval=cval)
                / function(valid.astype(float), kernel, mode=mode, cval=1.0))


def per_channel(image, *args, **keywords):
    return np.stack([normalized(image[..., c], *args, **keywords) for c in range(image.shape[2])], axis=2)


@pytest.fixture(scope="module")
def holes():
    """Three channels with scattered NaN in the same places, and a 10x10 hole."""
    rng = np.random.default_rng(26)
    image = rng.random((31, 43, 3)).astype(np.float32)
    image[rng.random((31, 43)) < 0.3] = np.nan
    image[5:15, 20:30] = np.nan
    return image


def assert_same(ours, theirs):
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_allclose(np.nan_to_num(ours), np.nan_to_num(theirs), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("convolution", [False, True])
@pytest.mark.parametrize("kernel", [kernels.gaussian(radius=2, sigma=1), kernels.motion(6, 30)],
                         ids=["gaussian", "motion"])
def test_each_output_is_the_weighted_mean_of_the_valid_samples(holes, mode, convolution, kernel):
    ours = interpolate_missing(holes, kernel, mode=mode, cval=0.25, convolution=convolution)
    assert ours.dtype == np.float32
    theirs = per_channel(holes, kernel, mode, 0.25, convolution)
    assert np.isnan(theirs).sum() > 50  # the hole's middle: nothing valid within reach
    assert_same(ours, theirs)


@pytest.mark.parametrize("method", ["direct", "separable", "fft"])
def test_every_method_finds_the_same_uncovered_samples(holes, method):
    ours = interpolate_missing(holes, kernels.separable_gaussian(radius=2, sigma=1), mode="reflect", method=method)
    assert_same(ours, per_channel(holes, kernels.gaussian(radius=2, sigma=1), "reflect"))


def test_boxes_by_running_sums(holes):
    ours = interpolate_missing(holes, kernels.box(radius=2), mode="nearest", method="running-sums")
    assert_same(ours, per_channel(holes, kernels.box(radius=2), "nearest"))


def test_threads_and_outputs_change_nothing(holes):
    one = interpolate_missing(holes, kernels.gaussian(sigma=1.5), threads=1)
    np.testing.assert_array_equal(interpolate_missing(holes, kernels.gaussian(sigma=1.5), threads=2), one)
    np.testing.assert_array_equal(interpolate_missing(holes, kernels.gaussian(sigma=1.5), np.float64), one)


def test_channels_with_their_own_holes(holes):
    own = holes.copy()
    own[0, :, 1] = np.nan
    own[:, -3:, 2] = 7.0
    ours = interpolate_missing(own, kernels.gaussian(sigma=1.5), mode="wrap")
    assert_same(ours, per_channel(own, kernels.gaussian(sigma=1.5), "wrap"))


def test_channels_alike_but_for_one_pixel(holes):
    # As many NaN in each channel, one of them elsewhere in the last.
    own = holes.copy()
    row, column = np.argwhere(np.isnan(holes[..., 0]))[0]
    own[row, column, 2] = 0.5
    own[20, 40, 2] = np.nan
    ours = interpolate_missing(own, kernels.gaussian(sigma=1), mode="mirror")
    assert_same(ours, per_channel(own, kernels.gaussian(sigma=1), "mirror"))


def test_truncate_makes_the_outside_missing(holes):
    grey = holes[..., 0].astype(np.float64)
    ours = interpolate_missing(grey, kernels.gaussian(sigma=1), mode="truncate")
    assert ours.dtype == np.float64
    # Outside zeros that are not counted: the mask filtered with 0 beyond the edges.
    x = np.where(np.isnan(grey), 0, grey)
    with np.errstate(invalid="ignore", divide="ignore"):
        theirs = (ndi.correlate(x, kernels.gaussian(sigma=1), mode="constant")
                  / ndi.correlate((~np.isnan(grey)).astype(float), kernels.gaussian(sigma=1), mode="constant"))
    assert_same(ours, theirs)


def test_by_hand():
    nan = np.nan
    row = np.array([[2.0, nan, 4.0, nan, nan, nan, 9.0]])
    ours = interpolate_missing(row, [[1.0, 2.0, 1.0]], mode="constant", cval=0)
    # Constant mode's 0 beyond the left edge is a sample: (0 + 2·2 + 0) / (1 + 2).
    np.testing.assert_allclose(ours, [[4 / 3, 3.0, 4.0, 4.0, nan, 9.0, 6.0]], equal_nan=True)


def test_integer_outputs_take_no_nan():
    row = np.array([[2.0, np.nan, 4.0, np.nan, np.nan, np.nan, 10.0]])
    # Reflected: the first mean is (2 + 2 + 4) / 3, then (2 + 4) / 2, ..., 4, (4 + 10) / 2.
    np.testing.assert_array_equal(interpolate_missing(row, [[1.0, 1.0, 1.0, 1.0, 1.0]], output=np.uint8),
                                  [[3, 3, 3, 4, 7, 10, 10]])
    with pytest.raises(InvalidInputError, match=r"^1 sample\(s\) have no valid .* need a float output, not uint8$"):
        interpolate_missing(row, [[1.0, 1.0, 1.0]], output=np.uint8)


def test_an_image_without_nan_is_filtered_as_it_is():
    image = np.arange(20, dtype=np.uint8).reshape(4, 5)
    np.testing.assert_array_equal(interpolate_missing(image, kernels.box(radius=1), mode="mirror"),
                                  ndi.correlate(image.astype(np.float32), kernels.box(radius=1).astype(np.float32),
                                                mode="mirror"))


def test_results_beyond_the_type_are_refused_as_without_nan():
    huge = np.full((6, 7), 3e38, np.float32)
    huge[2, 3] = np.nan
    with pytest.raises(ReachError, match=r"up to 3e\+38 could give 9e\+38, beyond"):
        interpolate_missing(huge, [[1.0, 1.0, 1.0]])


def test_an_array_to_fill_is_refused(holes):
    with pytest.raises(InvalidInputError, match=r"^missing data are interpolated into a new array: give output as a "):
        interpolate_missing(holes, kernels.box(radius=1), output=np.empty_like(holes))


def test_kernels_summing_to_zero_are_refused(holes):
    with pytest.raises(BoundaryError, match="sum to 0"):
        interpolate_missing(holes, kernels.sobel())
