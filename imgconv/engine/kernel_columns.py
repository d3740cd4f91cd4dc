"""``kernel-columns``: every column of a small dense kernel as a column pass, all in
one BLAS product, then the passes summed at their shifts.

A kernel column ``j`` weighs the rows of the band like a separable column pass; stacked,
the kernel's columns are a (kw, kh) matrix, and its product with the kh rows each output
row needs (a strided view, as in `separable`'s column pass) gives all kw passes at once,
with no zero multiplied. Output pixel x is then the sum of pass j at pixel x + j: kw - 1
additions of shifted views. That is what a row pass costs without multiplies, since the
product did them; on the 4K photo a random 7x7 kernel takes about 2 ns a sample here,
against 9 for shifted views (`direct`) and 9 for an FFT on bands. The product, kw rows per output row,
must stay in the cache: wider kernels are left to the other strategies.
"""

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .strategy import Layout, Samples
from .taps import Taps

# Nanoseconds per output sample: for each weight (the product), for each kernel column
# after the first (an addition), and once (writing the first pass). Fitted to times
# measured on the project's machine (x86_64, 2 CPUs, OpenBLAS 0.3.31) for random
# kernels on bands of 32 rows of the 4K photo, one thread, best of 15: 3x3 0.69-0.75,
# 5x5 1.15-1.21, 7x7 1.98-2.08, 9x9 2.90-3.17 ns a sample (shifted views: 81 taps of 0.19),
# which NS_FIXED = 0.2 matched. It is 0.35 because this strategy gains less from a
# second thread than the others (its products, three times the band for a 3x3 kernel,
# are traffic the two cores share): whole 4K calls, 8-bit out, one thread and two
# (2026-11-27): the r=1 Gaussian 25.8 and 19.7 ms, `separable` 27.7 and 18.1; random
# 3x3 29.5 and 22.3, `shifted-views` 53.5 and 33.9. At 0.2, ``auto`` took this for the
# r=1 Gaussian, 12% slower than `separable` on two threads (benchmarks/auto_choices.py).
NS_PER_WEIGHT = 0.028
NS_PER_COLUMN = 0.1
NS_FIXED = 0.35
# Widest kernel taken: at 11 columns the product (32 rows x 11 x 11,538 samples, 16
# MB) outgrew the cache, and the same bands took 7-8 ns a sample, not the 4.3 the fit
# says (in pieces of 3,072 samples, 4.5: still no better than an FFT on bands).
MAX_WIDTH = 9
# Rows per band: the same measurement, 16 rows against 32: 3x3 0.75/0.69, 7x7 1.98/2.08,
# 9x9 2.90/3.17; whole calls on two threads (the r=1 Gaussian) took 64 ms in bands of
# 8 rows, 29 in bands of 16 and 19 in bands of 32; and pieces of a band's width (3,072
# or 6,144 samples) were slower on one thread and two. 32 is also shifted views' band,
# so `imgconv.dask` cuts blocks alike for either form of ``method="direct"``.
BAND_HEIGHT = 32


class KernelColumns:
    """``kernel-columns``: one product of the kernel's columns with the band's rows, then
    kw - 1 shifted additions. ``method="direct"`` takes it or `Direct`, whichever the
    cost model expects to be quicker."""

    method = "direct"
    name = "kernel-columns"

    def __init__(self, taps: Taps, mode: str, shape: tuple[int, int], dtype: np.dtype[Any]) -> None:
        self.dtype = dtype
        self.shape = taps.shape
        self.reach = taps.reach
        # Columns of zeros add nothing: neither multiplied nor added.
        self.shifts = [j for j in range(taps.shape[1]) if taps.weights[:, j].any()]
        self.columns = np.ascontiguousarray(taps.weights.T[self.shifts], dtype)

    @staticmethod
    def cost(taps: Taps, mode: str, shape: tuple[int, int] | None, limit: float, samples: Samples | None
             ) -> float | None:
        """Estimated nanoseconds per output sample; None without dense weights, or for a
        kernel wider than `MAX_WIDTH`."""
        if not taps.is_dense or taps.shape[1] > MAX_WIDTH:
            return None
        columns = np.count_nonzero(taps.weights.any(axis=0))
        return columns * taps.shape[0] * NS_PER_WEIGHT + max(columns - 1, 0) * NS_PER_COLUMN + NS_FIXED

    def layout(self, shape: tuple[int, int], threads: int) -> Layout:
        return Layout(BAND_HEIGHT, self.reach)

    def __call__(self, extended: np.ndarray, workers: int, into: np.ndarray | None = None) -> np.ndarray:
        kh, kw = self.shape
        rows, columns, channels = extended.shape
        height, width = rows - kh + 1, columns - kw + 1
        out = np.empty((height, width, channels), extended.dtype) if into is None else into
        if not self.shifts:  # a zero kernel
            out.fill(0)
            return out
        flat = extended.reshape(rows, columns * channels)
        windows = as_strided(flat, shape=(height, kh, flat.shape[1]), strides=(flat.strides[0],) * 2 + flat.strides[1:],
                             writeable=False)
        passes = np.matmul(self.columns, windows)  # (height, columns of the kernel, samples)
        length = width * channels
        total = out.reshape(height, length)

        def shifted(index: int) -> np.ndarray:
            start = self.shifts[index] * channels
            return passes[:, index, start : start + length]

        if len(self.shifts) == 1:
            np.copyto(total, shifted(0))
        else:
            np.add(shifted(0), shifted(1), out=total)
            for index in range(2, len(self.shifts)):
                total += shifted(index)
        return out
