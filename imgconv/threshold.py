"""Unsharp masking with a threshold, as Photoshop's and ImageMagick's ``-unsharp`` have it:
where the original and its blur differ by less than the threshold, the pixel is left as
it is, so low-contrast texture (skin, sky, noise) is not sharpened.

An unsharp mask gives ``original + amount · (original - blurred)``, so
``|original - blurred|`` is ``|result - original| / amount``: the threshold costs one
comparison a sample on the unsharp mask's own result, no second blur, made by the
engine on each band as it is written (`imgconv.engine.hooks.Hooks.keep`).
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import cast

import numpy as np
from numpy.typing import ArrayLike

from .engine import ChannelAxis, EngineOptions, Hooks, OutputLike, SeparableKernel
from .errors import InvalidInputError
from .filters import Filter, preset_filter
from .gaussians import Pair, axis_gaussian
from .kernels import separable_unsharp


@dataclass(frozen=True)
class ThresholdedUnsharp(Filter):
    """An unsharp mask (``passes``: its kernel) that leaves a sample as it is where
    ``|original - blurred| < threshold`` (in the samples' units: levels of an 8- or
    16-bit picture). ``amount`` is the mask's. On pictures with alpha the comparison is
    on colour premultiplied by alpha, as `imgconv.filters.filter_picture` filters it."""

    threshold: float = 0.0
    amount: float = 1.0

    def apply_with(self, hooks: Hooks, samples: ArrayLike, output: OutputLike = None,
                   channel_axis: ChannelAxis = -1) -> np.ndarray:
        return super().apply_with(replace(hooks, keep=self.threshold * abs(self.amount)), samples, output,
                                  channel_axis)


def unsharp_filter(*, sigma: Pair | None = None, radius: Pair | None = None, amount: float = 1.0,
                   threshold: float = 0.0, engine: EngineOptions = EngineOptions()) -> Filter:
    """The unsharp command's filter (`imgconv.kernels.separable_unsharp`) with a threshold.

    Parameters
    ----------
    sigma, radius : float or (float, float), optional
        The Gaussian's, as `imgconv.kernels.gaussian` takes them; or one per axis,
        ``(x, y)``, as `imgconv.gaussians.axis_gaussian` takes them.
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
    plain = preset_filter(_unsharp_kernel(sigma, radius, amount), engine=engine)
    if threshold == 0:
        return plain
    return ThresholdedUnsharp(plain.passes, engine=engine, threshold=threshold, amount=amount)


def _unsharp_kernel(sigma: Pair | None, radius: Pair | None, amount: float) -> SeparableKernel:
    """`imgconv.kernels.separable_unsharp`, or its form with a Gaussian per axis,
    ``(1 + a) · δ ⊗ δ - a · gy ⊗ gx``, when a pair is given."""
    if not any(isinstance(v, Sequence) for v in (sigma, radius)):
        return separable_unsharp(radius=cast(float | None, radius), sigma=cast(float | None, sigma), amount=amount)
    (column, row), = axis_gaussian(sigma, radius=radius).terms
    impulses = [np.zeros_like(taps) for taps in (column, row)]
    for impulse in impulses:
        impulse[len(impulse) // 2] = 1.0
    return SeparableKernel([((1.0 + amount) * impulses[0], impulses[1]), (-amount * column, row)])
