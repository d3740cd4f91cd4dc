"""How a call filters each kernel: the kernel checked, oriented and anchored (`taps_for`),
and the strategy the cost model picks for it (`strategy_for`): the one decision
`imgconv.engine.plan` reports and the calls follow."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from ..errors import InvalidInputError
from ..vocabulary import METHODS
from .arrays import OriginLike, check_origin
from .cost import BY_NAME, cheapest
from .ranges import check_reach, is_blur
from .strategy import Layout, Samples, Strategy
from .taps import Origin, Taps, Term
from .weights import Kernel, KernelLike, SeparableKernel, check_kernel

# The strategies' own names, which ``method=`` also takes, to force one strategy (an
# error if it cannot run): "integer", "shifted-views", "kernel-columns", "running-sums",
# "banded-fft", "whole-channel-fft", "separable".
STRATEGY_NAMES = tuple(BY_NAME)


@dataclass(frozen=True)
class Plan:
    """How a call filters: the ``strategy``'s name (one of `STRATEGY_NAMES`) and the
    ``layout`` it cuts the image into (`imgconv.engine.bands.Layout`: band height,
    the reach gathered around each band or the whole-channel frame, threads)."""

    strategy: str
    layout: Layout


def part(plane: np.ndarray, kernel: KernelLike, method: str, flip: bool, mode: str, cval: float,
         origin: OriginLike, work: np.dtype[Any], samples: np.dtype[Any] | None = None
         ) -> tuple[Strategy, float, bool]:
    """One kernel's part of a call on ``plane`` (H, W, C): the strategy that filters it,
    its offset, and whether it blurs (`is_blur`); refused if its results could
    overflow ``work``. The strategy is chosen for samples of type ``samples``
    (default: the plane's)."""
    offset = kernel.offset if isinstance(kernel, (Kernel, SeparableKernel)) else 0.0
    weights, terms = kernel_parts(kernel)
    shift = check_origin(origin, kernel_shape(kernel, weights))
    if weights is None:
        reach = float(sum(np.abs(c).sum() * np.abs(r).sum() for c, r in cast(tuple[Term, ...], terms)))
    else:
        reach = np.abs(weights).sum()
    check_reach(plane, reach, offset, cval if mode == "constant" else 0.0, work, getattr(kernel, "source", None))
    taps, strategy = strategy_for(kernel, weights, terms, flip, mode, (plane.shape[0], plane.shape[1]), method, work,
                               Samples(plane.dtype if samples is None else samples, cval), shift)
    return strategy, offset, is_blur(taps, kernel)


def kernel_parts(kernel: KernelLike) -> tuple[np.ndarray, None] | tuple[None, tuple[Term, ...]]:
    """``(weights, None)`` for a kernel filtered from its dense weights (validated), or
    ``(None, terms)`` for a `SeparableKernel` too large to hold densely, filtered from
    its factors."""
    if isinstance(kernel, SeparableKernel) and not kernel.fits_densely:
        return None, kernel.terms
    return check_kernel(kernel), None


def strategy_for(kernel: KernelLike, weights: np.ndarray | None, terms: Sequence[Term] | None, flip: bool, mode: str,
              shape: tuple[int, int], method: str, dtype: np.dtype[Any], samples: Samples | None, origin: Origin
              ) -> tuple[Taps, Strategy]:
    """The `Taps` for an image of ``shape`` and `Samples` ``samples``, and the strategy
    `cheapest` picks for them, built to work in ``dtype``: the one decision `plan`
    reports and the calls follow."""
    taps = taps_for(weights, terms, flip, mode, shape, origin)
    chosen = cheapest(taps, mode, shape, method, kernel_shape(kernel, weights), samples)
    return taps, chosen(taps, mode, shape, dtype)


def taps_for(weights: np.ndarray | None, terms: Sequence[Term] | None, flip: bool, mode: str,
          shape: tuple[int, int] | None, origin: Origin) -> Taps:
    """The kernel as the strategies take it, oriented, anchored and, if factored, folded
    for an image of ``shape`` (unless it is None)."""
    if terms is None:
        return Taps.dense(cast(np.ndarray, weights), flip, origin)  # `kernel_parts` gives one of the two
    return Taps.factored(terms, flip, mode, shape, origin)


def kernel_shape(kernel: KernelLike, weights: np.ndarray | None) -> tuple[int, int]:
    """The kernel's own size (before folding), for messages."""
    return cast(SeparableKernel, kernel).shape if weights is None else (weights.shape[0], weights.shape[1])


def check_method(method: str) -> None:
    """Refuse a ``method`` that is neither a method nor a strategy's own name."""
    if method not in METHODS and method not in STRATEGY_NAMES:
        raise InvalidInputError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)} "
                                f"(or a strategy: {', '.join(STRATEGY_NAMES)})")


