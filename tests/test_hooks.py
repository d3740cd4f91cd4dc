"""The engine's work around each band (`imgconv.engine.hooks`) that missing data use:
samples changed as they are gathered (`Hooks.prepare`) and each pixel's results
multiplied by a factor as they are written (`Hooks.scale`), against scipy.ndimage on
the changed samples, for every strategy, the truncate mode (done on the whole image),
integer outputs and per-channel kernels."""

import numpy as np
import pytest
import scipy.ndimage as ndi

from imgconv import engine, kernels
from imgconv.engine import Hooks, Kernel


def square(band):
    np.square(band, out=band)


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(7).random((37, 41, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def factors():
    return np.random.default_rng(8).uniform(0.5, 2.0, (37, 41)).astype(np.float32)


def reference(image, kernel, factors, **keywords):
    """Each channel of the squared image filtered by scipy, times the factors."""
    squared = image.astype(np.float64) ** 2
    return np.stack([ndi.correlate(squared[..., c], kernel, **keywords) for c in range(image.shape[2])],
                    axis=2) * factors[..., np.newaxis]


@pytest.mark.parametrize("method", ["shifted-views", "kernel-columns", "separable", "running-sums", "banded-fft",
                                    "whole-channel-fft"])
def test_samples_are_prepared_and_results_scaled(image, factors, method):
    box = kernels.box(radius=2)
    ours = engine.correlate(image, box, mode="constant", cval=3.0, method=method,
                            hooks=Hooks(prepare=square, scale=factors))
    # The value beyond the edges is not prepared: 3 there, not 9.
    np.testing.assert_allclose(ours, reference(image, box, factors, mode="constant", cval=3.0), rtol=1e-5)


def test_the_truncate_mode_prepares_and_scales_the_whole_image(image, factors):
    kernel = kernels.gaussian(sigma=1.0)
    ours = engine.correlate(image, kernel, mode="truncate", hooks=Hooks(prepare=square, scale=factors))
    inside = ndi.correlate(np.ones(image.shape[:2]), kernel, mode="constant")
    theirs = reference(image, kernel, factors, mode="constant") / inside[..., np.newaxis]
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)


def test_the_offset_is_scaled_before_rounding(image, factors):
    kernel = Kernel(kernels.box(radius=1), offset=0.25)
    ours = engine.correlate(image, kernel, output=np.uint8, mode="nearest",
                            hooks=Hooks(prepare=square, scale=factors * 100))
    squared = np.stack([ndi.correlate(image[..., c].astype(np.float64) ** 2, kernel.weights, mode="nearest")
                        for c in range(3)], axis=2)
    theirs = (squared + 0.25) * factors[..., np.newaxis] * 100
    assert np.abs(ours - theirs).max() <= 0.5 + 1e-3


def test_each_channel_with_its_own_kernel(image, factors):
    own = [kernels.box(radius=1), kernels.gaussian(sigma=1.0), kernels.box(radius=1)]
    ours = engine.correlate(image, own, mode="wrap", hooks=Hooks(prepare=square, scale=factors))
    theirs = np.stack([ndi.correlate(image[..., c].astype(np.float64) ** 2, own[c], mode="wrap") * factors
                       for c in range(3)], axis=2)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
