"""Linear light of samples encoded by curves other than sRGB's: a PNG whose gAMA
declares other than sRGB's (`imgconv.io.metadata.declared_gamma`) stores linear light to
the power gAMA; an ICC profile's transfer curve (`imgconv.io.icc_curves.ToneCurve`) may be a
power, a parametric function or a table. `PowerCurves` and `ToneCurves` stand in for
`imgconv.linear.Curves` in `imgconv.linear.filter_linear`.

`imgconv.linear.Curves` encodes by counting thresholds in steps that hold at most one;
a power's thresholds crowd near black (16-bit samples at gAMA 0.45455 have their first
two 3.7e-6 sample units apart, against steps of 1/16), so here light is counted in
sample units and rounded once: `PowerCurves` computes the power in float64 (only a
value within float64's rounding, 1e-16 relative, of a half-way point could fall on the
other side); `ToneCurves` counts the thresholds (the light of each half-way point
between two sample values, in float64) at or below each value by binary search.
"""

import functools

import numpy as np
from numpy.typing import DTypeLike

from .engine import Hooks
from .io.icc_curves import ToneCurve


class RoundedCurves:
    """What `PowerCurves` and `ToneCurves` share: light in sample units (steps of one),
    the decoding table, the engine's hooks. Subclasses give `light`, `encoded` and
    `to_samples`."""

    # Light is counted in sample units: `imgconv.linear.Curves`' steps of one.
    scale = 1.0

    def __init__(self, sample_max: int) -> None:
        self.sample_max = sample_max
        self.decoded = (self.light(np.arange(sample_max + 1) / sample_max) * sample_max).astype(np.float32)

    def light(self, encoded: np.ndarray) -> np.ndarray:
        """Encoded values in [0, 1] as linear light, in float64."""
        raise NotImplementedError

    def encoded(self, linear: np.ndarray) -> np.ndarray:
        """Linear light in sample units as encoded values in sample units, in float64."""
        raise NotImplementedError

    def to_samples(self, linear: np.ndarray, dtype: DTypeLike, out: np.ndarray | None = None,
                   in_steps: bool = False) -> np.ndarray:
        """Linear light in sample units as sample values of ``dtype``, rounded once."""
        raise NotImplementedError

    def held(self, linear: np.ndarray) -> np.ndarray:
        """Linear light in sample units in float64, NaN and below 0 as 0, above the
        maximum as the maximum."""
        top = self.sample_max
        return np.clip(np.nan_to_num(np.asarray(linear, np.float64), nan=0.0, posinf=top, neginf=0.0), 0, top)

    def write(self, linear: np.ndarray, target: np.ndarray) -> None:
        """Linear light into ``target``: sample values for an integer type, else
        encoded values, unrounded (`imgconv.engine.Hooks`' encoder)."""
        if target.dtype.kind in "iu":
            self.to_samples(linear, target.dtype, out=target)
        else:
            target[...] = self.encoded(linear)

    @functools.cached_property
    def hooks(self) -> Hooks:
        """The engine's work around each band: decoding by table, encoding."""
        return Hooks(decode=self.decoded, encode=self.write)

    @property
    def step_hooks(self) -> Hooks:
        """`hooks`: light is in steps of one sample unit already."""
        return self.hooks


class PowerCurves(RoundedCurves):
    """Decoding and encoding of samples (``sample_max`` 255 or 65535) that hold linear
    light to the power ``gamma``: light = (sample / sample_max) ** (1 / gamma)."""

    def __init__(self, sample_max: int, gamma: float) -> None:
        self.gamma = gamma
        super().__init__(sample_max)

    def light(self, encoded: np.ndarray) -> np.ndarray:
        return np.asarray(encoded, np.float64) ** (1 / self.gamma)

    def encoded(self, linear: np.ndarray) -> np.ndarray:
        return (self.held(linear) / self.sample_max) ** self.gamma * self.sample_max

    def to_samples(self, linear: np.ndarray, dtype: DTypeLike, out: np.ndarray | None = None,
                   in_steps: bool = False) -> np.ndarray:
        """Linear light in sample units (steps of one, so ``in_steps`` changes nothing)
        as sample values of ``dtype``, rounded once, into ``out`` if given."""
        if out is None:
            out = np.empty(np.shape(linear), dtype)
        np.copyto(out, np.floor(self.encoded(linear) + 0.5), casting="unsafe")
        return out


class ToneCurves(RoundedCurves):
    """Decoding and encoding of samples (``sample_max`` 255 or 65535) by an ICC
    profile's rising ``curve``: each light value's sample is the number of thresholds
    at or below it, so the one whose encoded value is nearest the curve's inverse of
    the light, half-way points rounded up (as `imgconv.linear.Curves` rounds)."""

    def __init__(self, sample_max: int, curve: ToneCurve) -> None:
        self.curve = curve
        super().__init__(sample_max)
        halves = (np.arange(1, sample_max + 1) - 0.5) / sample_max
        self.thresholds = curve.light(halves) * sample_max

    def light(self, encoded: np.ndarray) -> np.ndarray:
        return self.curve.light(encoded)

    def encoded(self, linear: np.ndarray) -> np.ndarray:
        return self.curve.encoded(self.held(linear) / self.sample_max) * self.sample_max

    def to_samples(self, linear: np.ndarray, dtype: DTypeLike, out: np.ndarray | None = None,
                   in_steps: bool = False) -> np.ndarray:
        """Linear light in sample units (steps of one, so ``in_steps`` changes nothing)
        as sample values of ``dtype``, into ``out`` if given."""
        if out is None:
            out = np.empty(np.shape(linear), dtype)
        np.copyto(out, np.searchsorted(self.thresholds, self.held(linear), side="right"), casting="unsafe")
        return out


# Curves kept for the blocks of a streamed picture and the files of a batch: a few
# (16-bit ones hold 0.75 MB each), not one for every gamma and table a batch meets.
KEPT_CURVES = 8


@functools.lru_cache(KEPT_CURVES)
def power_curves_for(sample_max: int, gamma: float) -> PowerCurves:
    """The `PowerCurves` of a depth and gamma, made once for a run of uses."""
    return PowerCurves(sample_max, gamma)


@functools.lru_cache(KEPT_CURVES)
def tone_curves_for(sample_max: int, curve: ToneCurve) -> ToneCurves:
    """The `ToneCurves` of a depth and curve, made once for a run of uses."""
    return ToneCurves(sample_max, curve)
