"""The range of a call's results: kernels whose results could overflow the type they are
computed in are refused before filtering (`check_reach`), and results sure to fit an
integer output are written without clipping (`stays_in_range`)."""

import math
from typing import Any

import numpy as np

from ..errors import InvalidInputError, ReachError
from .taps import Taps
from .weights import KernelLike, SeparableKernel

# A blur's weights may sum to 1 plus this and still count as summing to at most 1: the
# presets normalise by dividing by a float64 sum, which leaves rounding of about 1e-16
# per weight, so 1e-9 allows for a million weights with room to spare. A judgement; the
# float32 overshoot this lets through is absorbed by rounding (`stays_in_range`).
BLUR_SLACK = 1e-9


# Most products summed for one result (over all passes) that an 8-bit output takes
# unclipped. A float32 sum of n non-negative products totalling at most 255 is off by at
# most about n * 2**-24 * 255 (each product and each addition rounded once), which stays
# below the 0.25 of a level that rounding absorbs with room to spare while n < 2**14.
# A 16-bit output has 257 times less room: a flat 65535 image boxed over 1025 columns
# (separable) came out at 65535.73, which rounds to 65536 and would wrap to 0, so those
# are always clipped. The FFT strategies' errors grow with the image instead: at most
# 1.4e-4 of a level on 8-bit photos up to 6000x4000 (a flat 255 image, Gaussians of
# sigma 10 and 60).
UNCLIPPED_TERMS = 2**14


def is_blur(taps: Taps, kernel: KernelLike) -> bool:
    """Whether the kernel's weights are non-negative and sum to at most 1, so that each
    result is a weighted mean of samples and 0, and few enough that float32 rounding
    cannot carry an 8-bit result past a level (`stays_in_range`)."""
    if taps.is_dense:
        weights = taps.weights
        return bool(weights.min() >= 0 and weights.sum() <= 1 + BLUR_SLACK
                    and np.count_nonzero(weights) < UNCLIPPED_TERMS)
    terms = taps.terms()
    return (all(c.min() >= 0 and r.min() >= 0 for c, r in terms)
            and isinstance(kernel, SeparableKernel) and kernel.sum() <= 1 + BLUR_SLACK
            and sum(c.size + r.size for c, r in terms) < UNCLIPPED_TERMS)


def stays_in_range(source: np.dtype[Any], target: np.dtype[Any], blur: bool, offset: float, mode: str, cval: float
                   ) -> bool:
    """Whether every filtered sample is sure to fit the 8-bit integer ``target`` type
    unclipped.

    ``blur`` says the weights are non-negative, sum to at most 1 and are few
    (`is_blur`). Those make each output a weighted mean of inputs and 0, so it stays
    within the input type's range, and float32 rounding overshoots by far less than the
    0.5 that rounding to an integer absorbs (`UNCLIPPED_TERMS`).
    """
    if target.kind not in "iu" or source.kind not in "iub" or target.itemsize > 1 or offset:
        return False
    if source.kind != "b":
        low, high = np.iinfo(source).min, np.iinfo(source).max
        if low < np.iinfo(target).min or high > np.iinfo(target).max:
            return False
    if mode == "constant" and not np.iinfo(target).min <= cval <= np.iinfo(target).max:
        return False
    return bool(blur)


def check_reach(image: np.ndarray, magnitude: float, offset: float, cval: float, work: np.dtype[Any],
                source: str | None = None) -> None:
    """Refuse, before filtering, a kernel whose results could overflow the ``work`` type:
    no result exceeds the sum of the weights' magnitudes times the largest sample
    (the type's, for integers; the image's own, for floats), plus the offset. The
    refusal names the kernel's ``source`` file, if any."""
    if not (math.isfinite(offset) and math.isfinite(cval)):
        raise InvalidInputError(f"the offset and cval must be finite, got {offset} and {cval}")
    peak: float
    if image.dtype.kind in "iu":
        peak = max(-int(np.iinfo(image.dtype).min), int(np.iinfo(image.dtype).max))
    else:
        # The extremes, not np.abs's full-size copy: half the time on a 4K float32 photo;
        # of the numbers only (fmin, fmax), NaN aside, which `imgconv.missing` sets to 0.
        peak = (max(-float(np.fmin.reduce(image, axis=None)), float(np.fmax.reduce(image, axis=None)))
                if image.dtype.kind == "f" else 1.0)
    reach = float(magnitude) * max(peak, abs(cval)) + abs(offset)
    if reach > float(np.finfo(work).max):  # compared as Python floats: no overflow
        raise ReachError(f"{source + ': ' if source else ''}the kernel's weights (magnitudes summing to "
                         f"{float(magnitude):.3g}) on samples",
                         f" up to {max(peak, abs(cval)):.6g} could give {reach:.3g}, beyond the "
                         f"{np.finfo(work).max:.3g} that {work} holds")
