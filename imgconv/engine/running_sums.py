"""``running-sums``: kernels that are one outer product of boxes and tents, at a cost
that does not grow with their size.

A factor (column or row) qualifies when its non-zero taps are a whole-number pattern
times one scale: a run of equal weights (a box), or the convolution of two boxes of a
and b taps, 1, 2, ..., a, ..., a, ..., 2, 1 (a tent when a = b or a + 1 = b; a
trapezoid otherwise). Each box is one pass of running sums along its axis
(`running_sums`): down the columns, the first window's sum, then each next one as the
last plus the sample entering minus the sample leaving; along the rows, differences of
prefix sums. Either way every pass costs the same whatever the box's length. The passes
run in float64 on whole-number patterns, and the scale multiplies once at the end: on
samples that are whole numbers (8- and 16-bit images) every sum is a whole number below
2**53, so the sums are exact; on other samples each step rounds by about an ulp of a
row's sum, far within the float32 the results come in.

Small kernels run in bands, as the other strategies do. A band gathers the kernel's
height beyond it, so for kernels of more than a quarter of the image's height the
whole height is one band, one channel at a time, and each pass is split over the
threads instead (columns for the passes down, rows for the passes along).
"""

from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

from .bands import run_bands
from .strategy import Layout, Samples
from .taps import Taps, factor, is_rank_one

# The pattern of a factor must be whole numbers times its first non-zero tap to within
# this fraction of its peak: normalising by a float64 sum (1/(r+1)**2 for a tent)
# leaves a few ulps; anything else misses by far more. The same judgement as
# `imgconv.engine.integer.INTEGER_TOLERANCE`.
PATTERN_TOLERANCE = 1e-12
# Output rows per band: at least this many, and four times the rows gathered beyond
# each band, so that gathering them costs at most a quarter more. A judgement.
MIN_BAND_HEIGHT = 64
BAND_OVERSHOOT = 4
# Nanoseconds per output sample: a pass (one box along one axis) per sample gathered,
# and writing the result. Measured on the project's machine (x86_64, 2 CPUs) on the 4K
# photo, 8-bit out, one thread, best of 5, while other jobs kept both CPUs busy
# (2026-12-05), and scaled by the 4.0 that the whole-channel FFT's time (31.7 to 52.6
# ns a sample) ran above its estimate of 12: boxes of radius 5 and 20 took 28.1 and
# 29.4 ns, tents of radius 5 and 100 54.1 and 55.5; their gathered samples per output,
# 1.16 to 1.31, give 3.0 a pass and sample. Whole-height bands ran slower than that
# says, box and tent of radius 500 62.8 and 65.8 ns against 44 and 88 estimated
# without `WHOLE_HEIGHT`, the arrays being far beyond the cache: a judgement
# between the two.
NS_PER_PASS = 3.0
NS_WRITE = 0.5
WHOLE_HEIGHT = 1.4

# A factor as running sums: (index of its first non-zero tap, lengths of its boxes,
# scale).
Chain = tuple[int, tuple[int, ...], float]


def box_chain(taps: np.ndarray) -> Chain | None:
    """``taps`` (1-D) as boxes: ``(first, lengths, scale)`` such that the non-zero taps
    from ``first`` on are ``scale`` times the convolution of boxes of ``lengths`` (one
    box, or two for a tent or trapezoid); None if they are not."""
    nonzero = np.flatnonzero(taps)
    if not nonzero.size:
        return None
    first, last = int(nonzero[0]), int(nonzero[-1])
    scale = float(taps[first])
    pattern = taps[first : last + 1] / scale
    length, peak = last - first + 1, round(float(pattern.max()))
    if not 1 <= peak <= (length + 1) // 2:
        return None
    # Boxes of a and b taps (a <= b) convolve to min(i + 1, a, length - i), length a + b - 1.
    whole = np.minimum(np.minimum(np.arange(1, length + 1), np.arange(length, 0, -1)), peak)
    if not np.allclose(pattern, whole, rtol=0, atol=PATTERN_TOLERANCE * peak):
        return None
    lengths = (length,) if peak == 1 else (peak, length - peak + 1)
    return first, lengths, scale


def chains(taps: Taps) -> tuple[Chain, Chain] | None:
    """The column's and the row's `box_chain` of a kernel of one term, or None."""
    if taps.is_dense:
        if not is_rank_one(taps.weights):
            return None
        column, row = factor(taps.weights)
    else:
        terms = taps.terms()
        if len(terms) != 1:
            return None
        (column, row), = terms
    down, along = box_chain(column), box_chain(row)
    return None if down is None or along is None else (down, along)


class RunningSums:
    """``running-sums``: boxes and tents (one outer product of factors of at most two
    boxes each), by running sums along each axis; see the module's docstring. ``auto``
    takes it where it is expected to be quickest, as does ``method="running-sums"``."""

    method = name = "running-sums"

    def __init__(self, taps: Taps, mode: str, shape: tuple[int, int], dtype: np.dtype[Any]) -> None:
        # `cost` has refused kernels that are not boxes and tents.
        (top, self.down, column_scale), (left, self.along, row_scale) = cast(tuple[Chain, Chain], chains(taps))
        self.dtype = dtype
        self.shape = taps.shape
        self.reach = taps.reach
        self.start = top, left
        self.multiplier = column_scale * row_scale  # not `scale`, which marks the integer sums (`Norm`)

    @staticmethod
    def cost(taps: Taps, mode: str, shape: tuple[int, int] | None, limit: float, samples: Samples | None
             ) -> float | None:
        """Estimated nanoseconds per output sample; None unless the kernel is boxes and
        tents: one part per pass (box) along either axis and sample gathered, of which
        there are more than outputs by the kernel's reach (on a band of `band_height`
        rows, and the image's width), and one for writing."""
        found = chains(taps)
        if found is None:
            return None
        (_, down, _), (_, along, _) = found
        kh, kw = taps.shape
        gathered = 1 + (kh - 1) / MIN_BAND_HEIGHT
        if shape is not None:
            band = min(band_height(kh), shape[0])
            gathered = (band + kh - 1) / band * (shape[1] + kw - 1) / shape[1] * (WHOLE_HEIGHT if band == shape[0]
                                                                                 else 1.0)
        return NS_PER_PASS * (len(down) + len(along)) * gathered + NS_WRITE

    def layout(self, shape: tuple[int, int], threads: int) -> Layout:
        band = band_height(self.shape[0])
        if band < shape[0]:
            return Layout(band, self.reach, planar=True)
        return Layout(shape[0], self.reach, planar=True, one_channel=True, workers=threads)

    def __call__(self, extended: np.ndarray, workers: int, into: np.ndarray | None = None) -> list[np.ndarray]:
        kh, kw = self.shape
        rows, columns, _ = extended.shape
        height, width = rows - kh + 1, columns - kw + 1
        (top, left), down, along = self.start, self.down, self.along
        planes = extended.transpose(2, 0, 1)  # contiguous: the layout is planar
        planes = planes[:, top : top + height + sum(down) - len(down), left : left + width + sum(along) - len(along)]
        vertical = np.empty((planes.shape[0], height, planes.shape[2]))
        split(planes.shape[2], workers, lambda part: _passes(planes[:, :, part], down, 1, vertical[:, :, part]))
        out = np.empty((planes.shape[0], height, width))
        split(height, workers, lambda part: _passes(vertical[:, part], along, 2, out[:, part]))
        out *= self.multiplier
        return list(out)


def band_height(kh: int) -> int:
    """Output rows per band for a kernel kh rows high (see `MIN_BAND_HEIGHT`)."""
    return max(MIN_BAND_HEIGHT, BAND_OVERSHOOT * (kh - 1))


def split(length: int, workers: int, work: Callable[[slice], object]) -> None:
    """``work(part)`` for ``workers`` slices that cover ``range(length)``, on as many
    threads."""
    step = -(-length // workers)
    run_bands(lambda start: work(slice(start, start + step)), range(0, length, step), workers)


def _passes(values: np.ndarray, lengths: Sequence[int], axis: int, out: np.ndarray) -> None:
    """Running sums of each length of ``lengths`` in turn along ``axis`` of the planes
    ``values`` (channels, rows, columns), the last into ``out``."""
    for index, length in enumerate(lengths):
        values = running_sums(values, length, axis, out if index == len(lengths) - 1 else None)


def running_sums(values: np.ndarray, length: int, axis: int, out: np.ndarray | None = None) -> np.ndarray:
    """Sums of ``length`` consecutive samples along ``axis`` of the planes ``values``
    (channels, rows, columns), in float64, into ``out`` if given.

    Down the columns (axis 1), row by row: the first window's sum, then each next one
    as the last plus the difference of the samples entering and leaving, made just
    before it is added, while the rows are in the cache; every partial sum is a
    window's sum. Along the rows (axis 2), where a loop over columns would stride
    through memory, as differences of prefix sums: ``values`` (float64) is overwritten
    with its prefix sums, whose magnitude is at most a row's; whole numbers stay exact
    below 2**53.
    """
    count = values.shape[axis] - length + 1
    shape = list(values.shape)
    shape[axis] = count
    if out is None:
        out = np.empty(shape)
    if axis == 1:
        np.sum(values[:, :length], axis=1, dtype=np.float64, out=out[:, 0])
        step = np.empty((values.shape[0], values.shape[2]))
        for row in range(1, count):
            np.subtract(values[:, row + length - 1], values[:, row - 1], out=step, dtype=np.float64)
            np.add(out[:, row - 1], step, out=out[:, row])
    else:
        prefix = np.cumsum(values, axis=2, out=values)
        out[:, :, 0] = prefix[:, :, length - 1]
        np.subtract(prefix[:, :, length:], prefix[:, :, : count - 1], out=out[:, :, 1:])
    return out
