"""``shifted-views`` (``method="direct"``): one multiply-add of a shifted view of the band
per non-zero weight."""

from typing import Any

import numpy as np

from .strategy import Layout, Samples
from .taps import Taps

# Nanoseconds per output sample and non-zero weight, measured on the project's machine
# (x86_64, 2 CPUs) on the 4K photo.
NS_PER_TAP = 0.19
# Rows per band: a judgement, not a measurement. The band and its few extra rows stay in
# cache, and a 4K photo still makes some 70 bands to share among the threads.
BAND_HEIGHT = 32
# Weights summed one by one into a partial sum before it joins the result.
GROUP = 256


class Direct:
    """``shifted-views``: for kernels of few non-zero weights, which cost less than any
    transform or product. ``method="direct"`` takes it or `KernelColumns`, whichever the
    cost model expects to be quicker."""

    method = "direct"
    name = "shifted-views"

    def __init__(self, taps: Taps, mode: str, shape: tuple[int, int], dtype: np.dtype[Any]) -> None:
        self.dtype = dtype
        self.shape = taps.shape
        self.reach = taps.reach
        self.taps = [(i, j, dtype.type(w)) for (i, j), w in np.ndenumerate(taps.weights) if w]

    @staticmethod
    def cost(taps: Taps, mode: str, shape: tuple[int, int] | None, limit: float, samples: Samples | None
             ) -> float | None:
        """Estimated nanoseconds per output sample; None without dense weights."""
        return np.count_nonzero(taps.weights) * NS_PER_TAP if taps.is_dense else None

    def layout(self, shape: tuple[int, int], threads: int) -> Layout:
        return Layout(BAND_HEIGHT, self.reach)

    def __call__(self, extended: np.ndarray, workers: int, into: np.ndarray | None = None) -> np.ndarray:
        kh, kw = self.shape
        height, width = extended.shape[0] - kh + 1, extended.shape[1] - kw + 1
        out = np.empty((height, width, extended.shape[2]), extended.dtype) if into is None else into
        if len(self.taps) <= GROUP:
            self._add(extended, self.taps, out, height, width)
            return out
        # Summed a group at a time, a result is rounded about GROUP + n / GROUP times
        # instead of n: a flat 65535 image under a 401x401 box summed one weight at a
        # time came out 84 levels low in float32, a group at a time 0.43.
        partial = np.empty_like(out)
        out.fill(0)
        for start in range(0, len(self.taps), GROUP):
            self._add(extended, self.taps[start : start + GROUP], partial, height, width)
            out += partial
        return out

    @staticmethod
    def _add(extended: np.ndarray, taps: list[tuple[int, int, Any]], out: np.ndarray, height: int, width: int
             ) -> None:
        """``out`` = the sum of ``taps``' shifted views of ``extended`` times their weights."""
        if not taps:
            out.fill(0)
        product = np.empty_like(out) if len(taps) > 1 else None
        for index, (i, j, weight) in enumerate(taps):
            np.multiply(extended[i : i + height, j : j + width], weight, out=out if index == 0 else product)
            if index:
                out += product
