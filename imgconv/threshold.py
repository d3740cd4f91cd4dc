"""Unsharp masking with a threshold, as Photoshop's and ImageMagick's ``-unsharp`` have it:
where the original and its blur differ by less than the threshold, the pixel is left as
it is, so low-contrast texture (skin, sky, noise) is not sharpened.

An unsharp mask gives ``original + amount · (original - blurred)``, so
``|original - blurred|`` is ``|result - original| / amount``: the threshold costs one
comparison a sample on the unsharp mask's own result, no second blur.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import DTypeLike

from .engine import EngineOptions, to_dtype
from .errors import InvalidInputError
from .filters import Filter, preset_filter
from .kernels import separable_unsharp


@dataclass(frozen=True)
class ThresholdedUnsharp(Filter):
    """An unsharp mask (``passes``: its kernel) that leaves a sample as it is where
    ``|original - blurred| < threshold`` (in the samples' units: levels of an 8- or
    16-bit picture). ``amount`` is the mask's. On pictures with alpha the comparison is
    on colour premultiplied by alpha, as `imgconv.filters.filter_picture` filters it."""

    threshold: float = 0.0
    amount: float = 1.0

    def apply(self, samples: np.ndarray, output: DTypeLike | None = None) -> np.ndarray:
        result = super().apply(samples)
        change = np.subtract(result, samples, dtype=result.dtype)
        np.abs(change, out=change)
        np.copyto(result, samples, where=change < result.dtype.type(self.threshold * abs(self.amount)))
        return result if output is None else to_dtype(result, output)


def unsharp_filter(*, sigma: float | None = None, radius: float | None = None, amount: float = 1.0,
                   threshold: float = 0.0, engine: EngineOptions = EngineOptions()) -> Filter:
    """The unsharp command's filter (`imgconv.kernels.separable_unsharp`) with a threshold.

    Parameters
    ----------
    sigma, radius : float, optional
        The Gaussian's, as `imgconv.kernels.gaussian` takes them.
    amount : float
        How much of ``original - blurred`` is added.
    threshold : float
        In sample levels of the input: where ``|original - blurred|`` is below it the
        sample is left as it is; 0 (default) sharpens every sample, the plain mask.
    engine : EngineOptions
        How the engine runs.

    Returns
    -------
    Filter
        A `ThresholdedUnsharp`, or the plain mask's `imgconv.filters.Filter` for
        threshold 0.
    """
    if not 0 <= threshold < np.inf:
        raise InvalidInputError(f"threshold must be >= 0 and finite, got {threshold}")
    plain = preset_filter(separable_unsharp(radius=radius, sigma=sigma, amount=amount), engine=engine)
    if threshold == 0:
        return plain
    return ThresholdedUnsharp(plain.passes, engine=engine, threshold=threshold, amount=amount)
