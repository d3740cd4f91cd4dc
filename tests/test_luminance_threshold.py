"""Luminance-only filtering against Y'CbCr computed by hand and by Pillow, and unsharp's
threshold against a blur computed with scipy.ndimage."""

import numpy as np
import pytest
import scipy.ndimage as ndi
from PIL import Image

from imgconv.engine import EngineOptions
from imgconv.errors import InvalidInputError
from imgconv.filters import filter_picture, gradient_filter, preset_filter
from imgconv.io.picture import Picture
from imgconv.kernels import gaussian, separable_gaussian, sharpen, sobel
from imgconv.luminance import filter_luminance
from imgconv.threshold import ThresholdedUnsharp, unsharp_filter


@pytest.fixture(scope="module")
def photo():
    """Mid-range colours (no channel near 0 or 255, so sharpening clips nothing)."""
    rng = np.random.default_rng(601)
    return (ndi.uniform_filter(rng.integers(0, 256, (36, 45, 3)), (4, 4, 1)) * 0.4 + 70).astype(np.uint8)


def ycbcr(rgb):
    """Full-range BT.601 (JPEG's), in float64."""
    r, g, b = (rgb[..., c].astype(np.float64) for c in range(3))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return y, 128 - 0.168736 * r - 0.331264 * g + 0.5 * b, 128 + 0.5 * r - 0.418688 * g - 0.081312 * b


def test_sharpening_luminance_keeps_cb_and_cr_within_one_level(photo):
    ours = filter_luminance(Picture([photo], "RGB", "PNG"), preset_filter(sharpen(1.0)), np.uint8)
    y, cb, cr = ycbcr(photo)
    y2, cb2, cr2 = ycbcr(ours)
    assert np.abs(cb2 - cb).max() <= 1 and np.abs(cr2 - cr).max() <= 1
    # Y' is Y' sharpened, to within the rounding of the three channels.
    np.testing.assert_allclose(y2, ndi.correlate(y, sharpen(1.0), mode="reflect"), atol=1.0)
    # Pillow's JPEG conversion agrees, to its own rounding.
    theirs, before = (np.asarray(Image.fromarray(a).convert("YCbCr")).astype(int) for a in (ours, photo))
    assert np.abs(theirs[..., 1:] - before[..., 1:]).max() <= 2
    # A plain sharpen shifts colours by far more.
    plain = filter_picture(Picture([photo], "RGB", "PNG"), preset_filter(sharpen(1.0)), np.uint8)
    assert np.abs(ycbcr(plain)[1] - cb).max() > 10


def test_each_channel_gains_the_change_of_y(photo):
    blur = separable_gaussian(sigma=1.5)
    ours = filter_luminance(Picture([photo], "RGB", "PNG"), preset_filter(blur))
    y = ycbcr(photo)[0]
    change = ndi.correlate(y, blur.dense(), mode="reflect") - y
    np.testing.assert_allclose(ours, photo + change[..., np.newaxis], atol=1e-3)


def test_sixteen_bit_with_alpha_and_grey():
    rng = np.random.default_rng(5)
    rgba = (rng.random((20, 24, 4)) * 30000 + 20000).astype(np.uint16)
    rgba[..., 3] = 65535
    rgba[:5, :5, 3] = 0
    picture = Picture([rgba], "RGBA;16", "PNG")
    ours = filter_luminance(picture, preset_filter(gaussian(sigma=1)), np.uint16)
    np.testing.assert_array_equal(ours[..., 3], filter_picture(picture, preset_filter(gaussian(sigma=1)),
                                                               np.uint16)[..., 3])
    opaque = rgba[..., 3] == 65535
    _, cb, cr = ycbcr(rgba.astype(np.float64) / 257)
    _, cb2, cr2 = ycbcr(ours.astype(np.float64) / 257)
    assert np.abs(cb2 - cb)[opaque].max() <= 1 / 257 * 1.5 and np.abs(cr2 - cr)[opaque].max() <= 1 / 257 * 1.5
    grey = rgba[..., 0]
    np.testing.assert_array_equal(
        filter_luminance(Picture([grey], "I;16", "PNG"), preset_filter(gaussian(sigma=1)), np.uint16),
        filter_picture(Picture([grey], "I;16", "PNG"), preset_filter(gaussian(sigma=1)), np.uint16))


def test_over_a_background_as_filter_picture_composites():
    rgba = np.full((8, 9, 4), 200, np.uint8)
    rgba[..., 3] = 0
    rgba[:, :4, 3] = 255
    picture = Picture([rgba], "RGBA", "PNG")
    blur = preset_filter(gaussian(sigma=1))
    ours = filter_luminance(picture, blur, np.uint8, background=(0.0, 0.0, 0.0))
    # Colour stays 200 where any is visible: Y' of 200 grey is 200, and colour is kept.
    plain = filter_picture(picture, blur, np.uint8, background=(0.0, 0.0, 0.0))
    assert ours.shape == (8, 9, 3)
    assert np.abs(ours.astype(int) - plain).max() <= 1


def test_edge_detectors_and_float_colour_are_refused(photo):
    with pytest.raises(InvalidInputError, match=r"^in.png: luminance-only filtering is for filters that keep"):
        filter_luminance(Picture([photo], "RGB", "PNG", name="in.png"), gradient_filter(sobel))
    with pytest.raises(InvalidInputError, match=r"^in.npy: luminance-only filtering takes grey or 8- or 16-bit"):
        filter_luminance(Picture([photo.astype(np.float32)], "RGB;float32", "NPY", name="in.npy"),
                         preset_filter(gaussian(sigma=1)))


@pytest.mark.parametrize("method", ["auto", "whole-channel-fft", "banded-fft"])
def test_threshold_leaves_low_contrast_samples_as_they_are(photo, method):
    # The FFTs overwrite the bands they are given: the threshold compares with the input.
    grey = photo[..., 1]
    picture = Picture([grey], "L", "PNG")
    sharp = unsharp_filter(sigma=1.0, amount=1.5, threshold=4, engine=EngineOptions(method=method))
    ours = filter_picture(picture, sharp, np.uint8)
    g = separable_gaussian(sigma=1.0).dense()
    blurred = ndi.correlate(grey.astype(np.float64), g, mode="reflect")
    sharpened = np.clip(np.floor(grey + 1.5 * (grey - blurred) + 0.5), 0, 255)
    difference = np.abs(grey - blurred)
    low, high = difference < 4 - 1e-3, difference >= 4 + 1e-3
    assert low.sum() > 100 and high.sum() > 100  # both kinds of pixel are there
    np.testing.assert_array_equal(ours[low], grey[low])
    assert np.abs(ours[high].astype(int) - sharpened[high]).max() <= 1


def test_unsharp_with_a_sigma_per_axis(photo):
    grey = photo[..., 0].astype(np.float32)
    ours = filter_picture(Picture([grey], "F", "NPY"), unsharp_filter(sigma=(2.0, 0.5), amount=0.7))
    blurred = ndi.gaussian_filter(grey.astype(float), (0.5, 2.0), radius=(2, 6), mode="reflect")
    np.testing.assert_allclose(ours, grey + 0.7 * (grey - blurred), atol=2e-3)


def test_threshold_zero_is_the_plain_mask_and_a_negative_one_is_refused(photo):
    assert not isinstance(unsharp_filter(sigma=1.0), ThresholdedUnsharp)
    assert isinstance(unsharp_filter(sigma=1.0, threshold=2), ThresholdedUnsharp)
    with pytest.raises(InvalidInputError, match="threshold must be >= 0"):
        unsharp_filter(sigma=1.0, threshold=-1)


def test_a_thresholded_filter_pickles():
    import pickle

    filt = unsharp_filter(sigma=2.0, amount=0.5, threshold=3)
    again = pickle.loads(pickle.dumps(filt))
    assert again.threshold == 3 and again.amount == 0.5
