"""``integer``: exact sums in 16-bit integers, for 8-bit images and kernels that are
small integers times one scale (Sobel, Prewitt, Scharr, sharpen, Laplacian, emboss,
boxes up to 15x15).

The band is gathered as 16-bit integers and every sum ``S = sum(M * pixels)`` of the
integer weights ``M`` is computed exactly: NumPy's 16-bit ufuncs work on twice the
lanes of float32 ones, and the gathering and the final conversion are cheaper too. The
kernel's scale is applied when the sums are written: a scale of 1 needs only clipping,
``1/d`` with ``d`` odd (odd boxes) an integer division rounding half up (no ties: S/d
is never a half), and any other scale a float multiply. Results are those of the
float64 reference, rounded, with no float32 error at all; and they cannot depend on the
band height or the thread count. A rank-one kernel with integer factors (Sobel, boxes)
is two 1-D passes; a run of equal weights (a box's) is summed by doubling windows, in
about log2(n) operations instead of n; weights of equal magnitude are summed before
they are multiplied, so symmetric kernels fold: ``(p[-i] + p[i]) * k[i]``.
"""

from collections.abc import Callable
from typing import Any, cast

import numpy as np
from numpy.typing import DTypeLike

from .bands import to_dtype
from .strategy import Layout, Samples
from .taps import Taps, Term

# Nanoseconds per output sample and 16-bit operation (an add, a multiply or a copy over
# the band), and for writing: a clip and a conversion, with a division or a float multiply
# on top when the scale asks. Measured on the project's machine (x86_64, 2 CPUs, numpy
# 2.4.6), best of 5 x 100 NumPy calls on arrays the size of a few
# rows of the 4K photo (50,000 to 1,000,000 samples): int16 add 0.06, multiply 0.05,
# add of shifted views of a 3-D band 0.076; clip 0.074, conversion to uint8 0.03, uint16
# floor division by a scalar 0.047; the float route (convert, multiply, rint to uint8)
# 0.07 + 0.06 + 0.17. float32 ops take twice the int16 ones: add 0.13, multiply 0.09.
# Whole calls, which decide between this path and `kernel_columns`, show less per
# operation (4K photo, one thread, 8-bit out, 2026-11-27: random integer kernels of
# -4 ... 4, 3x3, 4x5, 5x5, 7x7, took 20.3, 34.6, 37.5, 72.3 ms, 0.058 ns an operation
# with the gathering, write included); at 0.07, ``auto`` gave 4x5 and 5x5 to
# `kernel_columns`, 14% and 12% slower.
NS_PER_OP = 0.058
NS_WRITE = 0.11
NS_WRITE_DIVIDE = 0.16
NS_WRITE_FLOAT = 0.4
# The float strategies' estimates leave out what every float band costs around them:
# gathering it as float32 and rounding it into the output, which this path does for
# less (its own write is counted above), so that much comes off its estimate. On the
# 4K photo, one thread, 8-bit out (2026-11-27): `kernel_columns` took 23.0 ms for Sobel
# x, 0.92 ns a sample against its estimate of 0.47, and 25.9 ms for the r=1 Gaussian,
# 1.04 against 0.65. Without it ``auto`` took `kernel_columns` for Sobel x, at twice
# this path's 12.2 ms.
NS_FLOAT_BAND = 0.4
# The scale is looked for as the smallest weight's magnitude divided by 1 ... this:
# Scharr's [3, 10, 3] needs 3. A judgement: more only admits kernels with larger
# integers, whose sums overflow 16 bits sooner.
MAX_DIVISOR = 8
# The weights must be integers times the scale to within this fraction of the largest:
# presets normalised by a float64 sum (1/9 for a box) are off by a few ulps; a Gaussian
# misses by far more. The rounding this allows changes results by under 1e-9 levels.
INTEGER_TOLERANCE = 1e-12
# Rows per band. Sobel on the 4K photo, one thread, best of 8: 16 rows 16.0 ms, 32 rows
# 12.8, 64 rows 11.4, 128 rows 11.2 (box 15: 35.1, 29.5, 26.2, 26.3): fewer bands save
# Python's per-call overhead, and 64 rows (1.5 MB a 16-bit array) is as quick as 128
# with half the working set.
BAND_HEIGHT = 64

# Taps of one magnitude: (magnitude, indices of the positive taps, indices of the negative ones).
Group = tuple[int, list[int], list[int]]


def integer_form(weights: np.ndarray) -> tuple[np.ndarray, float] | None:
    """``(M, scale)`` with integer ``M`` (float64 array of whole numbers) such that
    ``weights == M * scale`` to within `INTEGER_TOLERANCE`, or None."""
    magnitudes = np.abs(weights[weights != 0])
    if not magnitudes.size:
        return None
    for divisor in range(1, MAX_DIVISOR + 1):
        scale = magnitudes.min() / divisor
        # No sum of such weights fits 16 bits; multiplied, not divided, since a subnormal
        # scale (a narrow Gaussian's far tail) would overflow the quotient.
        if magnitudes.max() > scale * (1 << 16):
            return None
        whole = np.round(weights / scale)
        if np.all(np.abs(whole * scale - weights) <= INTEGER_TOLERANCE * magnitudes.max()):
            return whole, float(scale)
    return None


def sum_type(whole: np.ndarray, scale: float) -> np.dtype[Any] | None:
    """The 16-bit type that holds every sum of ``whole`` weights over samples 0 ... 255,
    with room for the half of an odd divisor (`odd_divisor` of ``scale``) that rounding
    adds; None if neither does. Unsigned where no weight is negative: NumPy divides
    uint16 by a scalar in 0.060 ns a sample, int16 in 0.099 (a box 3's rounding
    division; 4K photo bands of 64 rows, one thread, best of 300)."""
    low, high = 255 * whole[whole < 0].sum(), 255 * whole[whole > 0].sum() + (odd_divisor(scale) or 0) // 2
    dtype = np.dtype(np.uint16 if low == 0 else np.int16)
    info = np.iinfo(dtype)
    return dtype if info.min <= low and high <= info.max else None


def odd_divisor(scale: float) -> int | None:
    """``d`` if ``scale`` is ``1/d`` for an odd integer d > 1 (so that no sum over d is
    a half), else None."""
    inverse = 1 / scale
    if not 1 < inverse < 1 << 20:  # no such half fits 16 bits; a subnormal scale's is infinite
        return None
    divisor = round(inverse)
    return divisor if divisor > 1 and divisor % 2 and abs(divisor * scale - 1) < INTEGER_TOLERANCE else None


def integer_factors(whole: np.ndarray) -> Term | None:
    """Integer ``(column, row)`` whose outer product is ``whole``, or None: the column
    through the largest weight, divided by the greatest common divisor of its entries."""
    i, j = np.unravel_index(np.argmax(np.abs(whole)), whole.shape)
    column = whole[:, j] / np.gcd.reduce(whole[:, j].astype(np.int64))
    row = whole[i] / column[i]
    if np.array_equal(row, np.round(row)) and np.array_equal(np.outer(column, row), whole):
        return column, row
    return None


class Integer:
    """``integer``: exact 16-bit sums for 8-bit images and kernels of small integers
    times one scale. ``auto`` takes it where it applies, as does ``method="integer"``."""

    method = name = "integer"

    def __init__(self, taps: Taps, mode: str, shape: tuple[int, int], dtype: np.dtype[Any]) -> None:
        # `cost` has refused kernels with no integer form, or with sums beyond 16 bits.
        whole, self.scale = cast(tuple[np.ndarray, float], integer_form(taps.weights))
        self.dtype = cast(np.dtype[Any], sum_type(whole, self.scale))
        self.shape = taps.shape
        self.reach = taps.reach
        factors = integer_factors(whole)
        # The taps grouped once (`_groups`), not per band: a rank-one kernel as a column
        # and a row pass, any other as one pass over 2-D shifts.
        self.groups = [_groups(taps) for taps in (factors if factors is not None else [whole.ravel()])]
        self.divisor = odd_divisor(self.scale)

    @staticmethod
    def cost(taps: Taps, mode: str, shape: tuple[int, int] | None, limit: float, samples: Samples | None
             ) -> float | None:
        """Estimated nanoseconds per output sample; None unless the image is 8-bit, the
        kernel dense and integer with sums that fit 16 bits, and, in constant mode, the
        value beyond the edges a whole sample value."""
        if samples is None or samples.dtype != np.uint8 or not taps.is_dense:
            return None
        if mode == "constant" and not (samples.cval == int(samples.cval) and 0 <= samples.cval <= 255):
            return None
        form = integer_form(taps.weights)
        if form is None or sum_type(*form) is None:
            return None
        whole, scale = form
        factors = integer_factors(whole)
        ops = _count_ops(whole.ravel(), runs=False) if factors is None else sum(_count_ops(f) for f in factors)
        write = NS_WRITE if scale == 1 else NS_WRITE_DIVIDE if odd_divisor(scale) else NS_WRITE_FLOAT
        return ops * NS_PER_OP + write - NS_FLOAT_BAND

    def layout(self, shape: tuple[int, int], threads: int) -> Layout:
        return Layout(BAND_HEIGHT, self.reach)

    def __call__(self, extended: np.ndarray, workers: int, into: np.ndarray | None = None) -> np.ndarray:
        kh, kw = self.shape
        rows, columns, channels = extended.shape
        height, width = rows - kh + 1, columns - kw + 1
        flat = extended.reshape(rows, columns * channels)
        if len(self.groups) == 2:
            column, row = self.groups
            vertical = _line_pass(column, flat, 0, 1, height)
            out = _line_pass(row, vertical, 1, channels, width * channels)
        else:
            out = _weighted_sum(self.groups[0], lambda t: flat[t // kw : t // kw + height,
                                                              t % kw * channels : (t % kw + width) * channels])
        return out.reshape(height, width, channels)

    def write(self, sums: np.ndarray, target: np.ndarray, offset: float, clip: bool) -> None:
        """``sums`` times the scale, plus ``offset``, into ``target`` (rounded and clipped
        for integer types); ``sums`` may be overwritten."""
        if target.dtype.kind in "iu" and not offset and (self.scale == 1 or self.divisor):
            if self.divisor:  # rounds half up, and S / d is never a half
                sums += sums.dtype.type(self.divisor // 2)
                np.floor_divide(sums, sums.dtype.type(self.divisor), out=sums)
            if clip:
                info, own = np.iinfo(target.dtype), np.iinfo(sums.dtype)
                np.clip(sums, sums.dtype.type(max(info.min, own.min)), sums.dtype.type(min(info.max, own.max)),
                        out=sums)
            np.copyto(target, sums, casting="unsafe")
            return
        work = target.dtype if target.dtype.kind == "f" else np.dtype(np.float32)
        values = self.scaled(sums, work, out=target if target.dtype == work else None)
        if offset:
            values += work.type(offset)
        if values is not target:
            to_dtype(values, target.dtype, out=target, clip=clip)

    def scaled(self, sums: np.ndarray, dtype: DTypeLike = np.float32, out: np.ndarray | None = None) -> np.ndarray:
        """The filtered values the ``sums`` stand for: times the scale, as ``dtype``.
        (A conversion, then a multiply in place, is a quarter quicker than one multiply
        that converts: 0.12 against 0.17 ns a sample.)"""
        out = np.empty(sums.shape, dtype) if out is None else out
        np.copyto(out, sums)
        if self.scale != 1:
            out *= out.dtype.type(self.scale)
        return out


def _groups(taps: np.ndarray) -> list[Group]:
    """The non-zero taps grouped by magnitude: (magnitude, indices of positive taps,
    indices of negative ones), so that equal weights are added before one multiply."""
    return [(int(m), np.flatnonzero(taps == m).tolist(), np.flatnonzero(taps == -m).tolist())
            for m in np.unique(np.abs(taps[taps != 0]))]


def _is_run(positive: list[int], negative: list[int]) -> bool:
    """Whether a group is a run of more than 3 consecutive positive taps, which
    `_line_pass` sums by doubling."""
    return not len(negative) and len(positive) > 3 and positive[-1] - positive[0] == len(positive) - 1


def _count_ops(taps: np.ndarray, runs: bool = True) -> int:
    """About how many operations over the band `_weighted_sum` makes for ``taps``; with
    ``runs``, as `_line_pass` calls it, summing runs by doubling."""
    ops = 0
    for magnitude, positive, negative in _groups(taps):
        count = len(positive) + len(negative)
        if runs and _is_run(positive, negative):
            count = count.bit_length() - 1 + bin(count).count("1")
        ops += count + (magnitude != 1)
    return ops


def _line_pass(groups: list[Group], source: np.ndarray, axis: int, step: int, length: int) -> np.ndarray:
    """``sum(taps[i] * source[i * step : i * step + length])`` along ``axis`` (0 or 1)
    of the 2-D ``source``, exactly, in its integer type; the taps as `_groups` gives them."""

    def take(array: np.ndarray, start: int, size: int) -> np.ndarray:
        return array[start : start + size] if axis == 0 else array[:, start : start + size]

    def run_sum(first: int, count: int) -> np.ndarray:
        # levels[s][k] is the sum of s consecutive taps' samples from k: each level adds
        # two shifted copies of the one before, so count taps take about log2(count)
        # additions; then one slice of each level that count's binary digits name.
        levels, size = {1: take(source, first * step, length + (count - 1) * step)}, 1
        while 2 * size <= count:
            below = levels[size]
            kept = below.shape[axis] - size * step
            levels[2 * size] = np.add(take(below, 0, kept), take(below, size * step, kept))
            size *= 2
        total, offset = None, 0
        for size in sorted(levels, reverse=True):
            if count & size:
                part = take(levels[size], offset * step, length)
                total = part if total is None else np.add(total, part, out=total)
                offset += size
        assert total is not None  # count >= 1 names one level at least
        return total  # a slice of a level of at least 2: never of the source

    return _weighted_sum(groups, lambda i: take(source, i * step, length), run_sum)


def _weighted_sum(groups: list[Group], view: Callable[[int], np.ndarray],
                  run_sum: Callable[[int, int], np.ndarray] | None = None) -> np.ndarray:
    """``sum(taps[i] * view(i))`` over the non-zero integer taps (as `_groups` gives
    them), exactly in the views' integer type (overflow wraps, and every final sum
    fits); a new array. ``run_sum(first, count)``, if given, sums runs of equal positive
    taps into an array that may be overwritten."""
    total = None
    for magnitude, positive, negative in groups:
        sign = 1
        if run_sum is not None and _is_run(positive, negative):
            part, owned = run_sum(positive[0], len(positive)), True
        else:
            (plus, owned), (minus, _) = _plain_sum(positive, view), _plain_sum(negative, view)
            if plus is None:
                part, sign = cast(np.ndarray, minus), -1  # a group has a tap of one sign at least
            elif minus is None:
                part = plus
            else:
                part, owned = np.subtract(plus, minus, out=plus if owned else None), True
        if magnitude != 1:
            part, owned = np.multiply(part, part.dtype.type(magnitude), out=part if owned else None), True
        if total is None:
            total = np.negative(part, out=part if owned else None) if sign < 0 else part if owned else part.copy()
        else:
            (np.subtract if sign < 0 else np.add)(total, part, out=total)
    assert total is not None  # the kernel has a non-zero tap (`integer_form`)
    return total


def _plain_sum(indices: list[int], view: Callable[[int], np.ndarray]) -> tuple[np.ndarray | None, bool]:
    """The sum of the views at ``indices``, and whether it is an array of its own (not a
    view, which must not be written); (None, False) for no indices."""
    if not len(indices):
        return None, False
    if len(indices) == 1:
        return view(indices[0]), False
    total = np.add(view(indices[0]), view(indices[1]))
    for index in indices[2:]:
        np.add(total, view(index), out=total)
    return total, True
