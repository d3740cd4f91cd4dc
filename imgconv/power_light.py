"""Linear light of samples encoded by a pure power: a PNG whose gAMA alone declares
other than sRGB (`imgconv.io.metadata.gamma_alone`) stores linear light to the power
gAMA. `PowerCurves` stands in for `imgconv.linear.Curves` in `imgconv.linear.filter_linear`.

`imgconv.linear.Curves` encodes by counting thresholds in steps that hold at most one;
a power's thresholds crowd near black (16-bit samples at gAMA 0.45455 have their first
two 3.7e-6 sample units apart, against steps of 1/16), so here the power is computed,
in float64, and rounded once: only a value within float64's rounding (1e-16 relative)
of a half-way point could fall on the other side.
"""

import functools

import numpy as np
from numpy.typing import DTypeLike

from .engine import Hooks


class PowerCurves:
    """Decoding and encoding of samples (``sample_max`` 255 or 65535) that hold linear
    light to the power ``gamma``: light = (sample / sample_max) ** (1 / gamma)."""

    # Light is counted in sample units: `imgconv.linear.Curves`' steps of one.
    scale = 1.0

    def __init__(self, sample_max: int, gamma: float) -> None:
        self.sample_max, self.gamma = sample_max, gamma
        self.decoded = (self.light(np.arange(sample_max + 1) / sample_max) * sample_max).astype(np.float32)

    def light(self, encoded: np.ndarray) -> np.ndarray:
        """Encoded values in [0, 1] as linear light, in float64."""
        return np.asarray(encoded, np.float64) ** (1 / self.gamma)

    def encoded(self, linear: np.ndarray) -> np.ndarray:
        """Linear light in sample units (any values: NaN and below 0 are 0, above the
        maximum the maximum) as encoded values in sample units, in float64."""
        top = self.sample_max
        held = np.clip(np.nan_to_num(np.asarray(linear, np.float64), nan=0.0, posinf=top, neginf=0.0), 0, top)
        return (held / top) ** self.gamma * top

    def to_samples(self, linear: np.ndarray, dtype: DTypeLike, out: np.ndarray | None = None,
                   in_steps: bool = False) -> np.ndarray:
        """Linear light in sample units (steps of one, so ``in_steps`` changes nothing)
        as sample values of ``dtype``, rounded once, into ``out`` if given."""
        if out is None:
            out = np.empty(np.shape(linear), dtype)
        np.copyto(out, np.floor(self.encoded(linear) + 0.5), casting="unsafe")
        return out

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


@functools.cache
def power_curves_for(sample_max: int, gamma: float) -> PowerCurves:
    """The `PowerCurves` of a depth and gamma, made once."""
    return PowerCurves(sample_max, gamma)
