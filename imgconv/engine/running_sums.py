"""``running-sums``: kernels that are one outer product of boxes and tents, at a cost
that does not grow with their size.

A factor (column or row) qualifies when its non-zero taps are a whole-number pattern
times one scale: a run of equal weights (a box), or the convolution of two boxes of a
and b taps, 1, 2, ..., a, ..., a, ..., 2, 1 (a tent when a = b or a + 1 = b; a
trapezoid otherwise). Each box is one pass of running sums along its axis
(`running_sums`): down the columns, the first window's sum, then each next one as the
last plus the sample entering minus the sample leaving; along the rows, differences of
prefix sums. Either way every pass costs the same whatever the box's length. The passes
run on whole-number patterns, and the scale multiplies once at the end: on 8- and
16-bit samples in int32 or int64 (`WholeRunningSums`), whichever holds the largest sum;
on other samples in float64 (`RunningSums`), where each step rounds by about an ulp of
a row's sum, far within the float32 the results come in, and sums of whole numbers
are exact below 2**53. On 8- and 16-bit samples, a factor of two boxes takes neither
pass: its windows are second differences of twice-summed prefix sums
(`imgconv.engine.prefix_sums`), two prefix sums and one combination.

Small kernels run in bands, as the other strategies do. A band gathers the kernel's
height beyond it, so for kernels of more than a quarter of the image's height the
whole height is one band, one channel at a time, and the passes along the rows are
split over the threads instead, by rows. The passes down the columns run on one thread:
they are two small NumPy calls a row, which two threads only slow down (on the 4K photo
at radius 500, two threads took 267-283 ms of wall time and 367-439 of CPU a call
splitting them by columns, 194-239 and 241-361 not).
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, cast

import numpy as np
from numpy.typing import DTypeLike

from ..boundary import index_map
from .bands import run_bands
from .prefix_sums import ChunkedPrefix, Run, gather_columns, index_runs, prefix_rows, window_sums
from .strategy import Layout, Samples
from .taps import Taps

# The pattern of a factor must be whole numbers times its first non-zero tap to within
# this fraction of its peak: normalising by a float64 sum (1/(r+1)**2 for a tent)
# leaves a few ulps; anything else misses by far more. The same judgement as
# `imgconv.engine.integer.INTEGER_TOLERANCE`.
PATTERN_TOLERANCE = 1e-12
# Output rows per band: at least this many, and four times the rows gathered beyond
# each band, so that gathering them costs at most a quarter more. A judgement.
MIN_BAND_HEIGHT = 64
BAND_OVERSHOOT = 4
# Rows whose passes along run together, so that their sums stay in the cache between
# the passes and the scale: a tent's along a 4K row in int64 took 133 ms a channel on
# the 4K photo as whole arrays, 75 in blocks of 8, 32 or 128 rows.
BLOCK_ROWS = 32
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
# The same for `WholeRunningSums` (integer sums on 8- and 16-bit samples), measured as
# CPU time on the 4K photo, 8-bit out, one thread, best of 3, under a load of 9.2-9.3
# on the 2 CPUs (2026-12-05), and scaled by the 12/14.3 that puts the whole-channel
# FFT's time there (14.3 ns a sample for box and tent of radius 500) at its estimate:
# box and tent of radius 100 (bands of 800 rows, 1.32 samples gathered per output)
# took 7.9 and 14.4 ns, 2.1 a pass and sample gathered and 1.1 for gathering, scaling
# and writing; of radius 500 (whole height, 1.84 gathered) 10.9 and 18.9, 1.05 and 0.97
# times that: whole-height bands cost what bands do. Radius 5 ran below the estimate
# (6.2 and 9.8 ns, 64-row bands), where the integer sums and separable passes win.
NS_PER_WHOLE_PASS = 2.1
NS_WHOLE_WRITE = 1.1
WHOLE_HEIGHT_WHOLE = 1.0
# The same for kernels with a tent or trapezoid, by prefix sums (`WholeRunningSums.summed`),
# all sums together per sample gathered, and the rest: measured as above (CPU, 8-bit,
# one thread, best of 3, 2026-12-05), tents of radius 50, 100, 200 and 500 took 323,
# 306, 334 and 386 ms, 11.9, 11.3, 12.3 and 14.2 ns a sample scaled by the 12/13.1 of
# the FFT (327 ms); fitted on 100 and 500 (1.32 and 1.84 samples gathered per output).
# Whole channels since read their reach through index maps: radius 500 then took 287-305
# ms, 10.9 ns scaled, where the estimate says 11.5 (1.46 rows and 1.26 columns summed
# per output).
NS_PREFIX = 5.6
NS_PREFIX_WRITE = 3.9

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
    with np.errstate(over="ignore"):
        pattern = taps[first : last + 1] / scale
    length, top = last - first + 1, float(pattern.max())
    # Taps that are no boxes may overflow here (a narrow Gaussian's subnormal edge weight
    # dividing its peak): only a peak that boxes of this length can reach is rounded.
    if not 1 <= top < (length + 1) // 2 + 0.5:
        return None
    peak = round(top)
    # Boxes of a and b taps (a <= b) convolve to min(i + 1, a, length - i), length a + b - 1.
    whole = np.minimum(np.minimum(np.arange(1, length + 1), np.arange(length, 0, -1)), peak)
    if not np.allclose(pattern, whole, rtol=0, atol=PATTERN_TOLERANCE * peak):
        return None
    lengths = (length,) if peak == 1 else (peak, length - peak + 1)
    return first, lengths, scale


def chains(taps: Taps) -> tuple[Chain, Chain] | None:
    """The column's and the row's `box_chain` of a kernel of one term, or None."""
    term = taps.one_term
    if term is None:
        return None
    down, along = box_chain(term[0]), box_chain(term[1])
    return None if down is None or along is None else (down, along)


class RunningSums:
    """``running-sums``: boxes and tents (one outer product of factors of at most two
    boxes each), by running sums along each axis, in float64; see the module's docstring.
    ``auto`` takes it where it is expected to be quickest, as does
    ``method="running-sums"``; on 8- and 16-bit samples, `WholeRunningSums` instead."""

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
        tents (`estimate`, with this module's float64 constants)."""
        return estimate(taps, shape, NS_PER_PASS, NS_WRITE, WHOLE_HEIGHT)

    def layout(self, shape: tuple[int, int], threads: int) -> Layout:
        band = band_height(self.shape[0])
        if band < shape[0]:
            return Layout(band, self.reach, planar=True)
        return Layout(shape[0], self.reach, planar=True, one_channel=True, workers=threads)

    def __call__(self, extended: np.ndarray, workers: int, into: np.ndarray | None = None) -> list[np.ndarray]:
        float64 = np.dtype(np.float64)
        return list(self.filtered(self.window(extended), workers, (float64, float64), float64))

    def window(self, extended: np.ndarray) -> np.ndarray:
        """The planes (channels, rows, columns) of the band that the sums read."""
        kh, kw = self.shape
        rows, columns, _ = extended.shape
        height, width = rows - kh + 1, columns - kw + 1
        (top, left), down, along = self.start, self.down, self.along
        planes = extended.transpose(2, 0, 1)  # contiguous: the layout is planar
        return planes[:, top : top + height + sum(down) - len(down), left : left + width + sum(along) - len(along)]

    def filtered(self, planes: np.ndarray, workers: int, sum_types: tuple[np.dtype[Any], np.dtype[Any]],
                 dtype: np.dtype[Any]) -> np.ndarray:
        """``planes`` filtered, as planes of ``dtype``: the passes down the columns in the
        first of ``sum_types``, on one thread (see the module's docstring); then, block of
        `BLOCK_ROWS` rows by block, split over ``workers`` threads by rows, the passes along
        the rows in the second, and the scale, made in float64 and rounded once to ``dtype``."""
        down, along = self.down, self.along
        height = planes.shape[1] - sum(down) + len(down)
        width = planes.shape[2] - sum(along) + len(along)
        vertical = np.empty((planes.shape[0], height, planes.shape[2]), sum_types[0])
        _passes(planes, down, 1, vertical)
        out = np.empty((planes.shape[0], height, width), dtype)

        def rows(part: slice) -> None:
            for start in range(part.start, min(part.stop, height), BLOCK_ROWS):
                block = slice(start, min(start + BLOCK_ROWS, part.stop, height))
                sums = np.empty((planes.shape[0], block.stop - start, width), sum_types[1])
                _passes(vertical[:, block], along, 2, sums)
                np.multiply(sums, self.multiplier, out=out[:, block], dtype=np.float64, casting="unsafe")

        split(height, workers, rows)
        return out


class WholeRunningSums(RunningSums):
    """``running-sums`` on 8- and 16-bit samples: gathered as uint16 (half the float32
    `RunningSums` gathers) and summed in int32, or in int64 where a sum could pass
    2**31 - 1 (the largest sample times the product of the boxes' lengths), at half the
    memory traffic of float64 sums or less. Integer sums wrap around past their type's
    range, but the window sums, differences of wrapped prefix sums, come out exact when
    they fit. The scale multiplies once, in float64 rounded to the float type the
    results come in.

    Kernels with a tent or trapezoid along either axis take no pass per box: their
    prefix sums (`summed`) make the windows of both boxes at once. On the 4K photo, one
    thread, the tent of radius 500 took 81-89 ms a channel this way against 106-117 by
    passes, and of radius 100 24 against 31; boxes alone keep their passes, as quick."""

    @staticmethod
    def cost(taps: Taps, mode: str, shape: tuple[int, int] | None, limit: float, samples: Samples | None
             ) -> float | None:
        """As `RunningSums.cost`, with integer constants; None unless the samples are 8- or
        16-bit and, in constant mode, the value beyond the edges is a sample value."""
        if samples is None or samples.dtype not in (np.uint8, np.uint16):
            return None
        if mode == "constant" and not (samples.cval == int(samples.cval) and 0 <= samples.cval <= 65535):
            return None
        found = chains(taps)
        if found is None or int(np.iinfo(samples.dtype).max) * math.prod(found[0][1] + found[1][1]) >= 2**63:
            return None
        return estimate(taps, shape, NS_PER_WHOLE_PASS, NS_WHOLE_WRITE, WHOLE_HEIGHT_WHOLE, prefix=mode)

    def __init__(self, taps: Taps, mode: str, shape: tuple[int, int], dtype: np.dtype[Any]) -> None:
        super().__init__(taps, mode, shape, dtype)
        self.work = dtype
        self.dtype = np.dtype(np.uint16)
        # Whole channels with a tent take the image as it is, and read the rows and
        # columns beyond its edges through index maps (`summed`): no gathered copy of
        # the reach (1.84 times the 4K photo's samples at radius 500; 12 ms a channel to
        # gather against 2.7). Not in constant mode, whose value is the driver's.
        self.maps: tuple[np.ndarray, list[Run], int] | None = None  # rows, columns as runs, how many
        if max(len(self.down), len(self.along)) == 2 and mode != "constant" and band_height(taps.shape[0]) >= shape[0]:
            (above, below), (left, right) = self.reach
            top, first = self.start
            rows = index_map(shape[0], above, below, mode)[top : top + shape[0] + sum(self.down) - len(self.down)]
            columns = index_map(shape[1], left, right, mode)[first : first + shape[1] + sum(self.along)
                                                             - len(self.along)]
            self.maps = rows, index_runs(columns), len(columns)

    def layout(self, shape: tuple[int, int], threads: int) -> Layout:
        layout = super().layout(shape, threads)
        return layout if self.maps is None else replace(layout, reach=((0, 0), (0, 0)))

    def __call__(self, extended: np.ndarray, workers: int, into: np.ndarray | None = None) -> list[np.ndarray]:
        planes = self.window(extended) if self.maps is None else extended.transpose(2, 0, 1)
        largest = int(planes.max())
        if len(self.down) == len(self.along) == 1:  # boxes alone: no prefix sums to keep
            bound = largest * self.down[0]
            return list(self.filtered(planes, workers, (_sum_type(bound), _sum_type(bound * self.along[0])),
                                      self.work))
        return list(self.summed(planes, workers, largest))

    def summed(self, planes: np.ndarray, workers: int, largest: int) -> np.ndarray:
        """``planes`` (samples up to ``largest``) filtered, as planes of the work type:
        the prefix sums down the columns (`prefix_rows`), on one thread; then, block of
        `BLOCK_ROWS` rows by block, split over ``workers`` threads by rows, the window
        sums down (`window_sums`), the prefix sums along the rows (`ChunkedPrefix` where
        float64 holds them exactly, else `_sum_type` integers) and their window sums, and
        the scale, made in float64 and rounded once to the work type."""
        down, along = self.down, self.along
        bound = largest * math.prod(down)  # the largest window sum down the columns
        sum_types = _sum_type(bound), _sum_type(bound * math.prod(along))
        channels, rows, columns = planes.shape
        row_map, column_runs = None if self.maps is None else self.maps[0], None if self.maps is None else self.maps[1]
        if self.maps is not None:
            rows, columns = len(self.maps[0]), self.maps[2]
        height, width = rows - sum(down) + len(down), columns - sum(along) + len(along)
        prefix = np.empty((channels, rows + len(down), planes.shape[2]), sum_types[0])
        prefix_rows(planes, len(down), prefix, row_map)
        chunks = ChunkedPrefix(len(along), columns)
        chunked = chunks if chunks.exact(bound) else None
        out = np.empty((channels, height, width), self.work)
        lead = len(along)
        padded = lead + columns if chunked is None else chunked.width

        summing = np.dtype(np.float64) if chunked else sum_types[1]

        def rows_of(part: slice) -> None:
            buffers = [np.empty(channels * BLOCK_ROWS * length, kind)
                       for length, kind in ((padded, sum_types[0]), (padded, summing), (width, summing))]
            image = np.empty((channels, BLOCK_ROWS, planes.shape[2]), sum_types[0])  # the image's own columns
            for start in range(part.start, min(part.stop, height), BLOCK_ROWS):
                block = slice(start, min(start + BLOCK_ROWS, part.stop, height))
                count = block.stop - start
                # Contiguous, so that the rows of every channel are one 2-D array.
                vertical, sums, result = (buffer[: channels * count * (len(buffer) // (channels * BLOCK_ROWS))]
                                          .reshape(channels, count, -1) for buffer in buffers)
                vertical[:, :, :lead] = vertical[:, :, lead + columns :] = 0
                if column_runs is None:
                    window_sums(prefix[:, start:], down, 1, count, vertical[:, :, lead : lead + columns])
                else:
                    window_sums(prefix[:, start:], down, 1, count, image[:, :count])
                    gather_columns(image[:, :count], column_runs, vertical[:, :, lead : lead + columns])
                if chunked is not None:
                    chunked(vertical.reshape(-1, padded), sums.reshape(-1, padded))
                else:
                    if sums.dtype != vertical.dtype:
                        np.copyto(sums, vertical)
                    else:
                        sums = vertical
                    for _ in along:
                        np.cumsum(sums, axis=2, out=sums)
                window_sums(sums, along, 2, width, result)
                np.multiply(result, self.multiplier, out=out[:, block], dtype=np.float64, casting="unsafe")

        split(height, workers, rows_of)
        return out


def _sum_type(bound: int) -> np.dtype[Any]:
    """int32 for sums up to ``bound``, where they fit; int64 otherwise (`WholeRunningSums.cost`
    refuses kernels whose sums could pass 2**63 - 1)."""
    return np.dtype(np.int32 if bound < 2**31 else np.int64)


def estimate(taps: Taps, shape: tuple[int, int] | None, per_pass: float, write: float, whole_height: float,
             prefix: str | None = None) -> float | None:
    """Nanoseconds per output sample of running sums, or None unless the kernel is boxes
    and tents: ``per_pass`` per pass (box) along either axis and sample gathered, of which
    there are more than outputs by the kernel's reach (on a band of `band_height` rows,
    and the image's width, times ``whole_height`` on whole-height bands), and ``write``.
    With ``prefix`` (the boundary mode), a tent or trapezoid along either axis costs
    `NS_PREFIX` per sample gathered and `NS_PREFIX_WRITE` instead
    (`WholeRunningSums.summed`); on whole channels, outside constant mode, which gather
    no reach, per sample the sums run over down and along, on average."""
    found = chains(taps)
    if found is None:
        return None
    (_, down, _), (_, along, _) = found
    passes = len(down) + len(along)
    kh, kw = taps.shape
    gathered = 1 + (kh - 1) / MIN_BAND_HEIGHT
    if shape is not None:
        band = min(band_height(kh), shape[0])
        rows, columns = (band + kh - 1) / band, (shape[1] + kw - 1) / shape[1]
        gathered = rows * columns * (whole_height if band == shape[0] else 1.0)
        if prefix not in (None, "constant") and passes > 2 and band == shape[0]:
            gathered = (rows + columns) / 2
    if prefix is not None and passes > 2:
        per_pass, passes, write = NS_PREFIX, 1, NS_PREFIX_WRITE
    return per_pass * passes * gathered + write


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
    ``values`` (channels, rows, columns), in ``out``'s type, the last into ``out``."""
    for index, length in enumerate(lengths):
        last = index == len(lengths) - 1
        values = running_sums(values, length, axis, out if last else None, out.dtype)


def running_sums(values: np.ndarray, length: int, axis: int, out: np.ndarray | None = None,
                 dtype: DTypeLike = np.float64) -> np.ndarray:
    """Sums of ``length`` consecutive samples along ``axis`` of the planes ``values``
    (channels, rows, columns), in ``dtype``, into ``out`` (of that type) if given.

    Down the columns (axis 1), row by row: the first window's sum, then each next one
    as the last plus the difference of the samples entering and leaving, made just
    before it is added, while the rows are in the cache. Along the rows (axis 2), where
    a loop over columns would stride through memory, as differences of prefix sums
    (``values`` is overwritten with them when it has the sums' type). In float64 the
    sums' magnitudes are at most a row's, and whole numbers stay exact below 2**53;
    integer sums may wrap around past their type's range, and the window sums, their
    differences, come out exact where they fit.
    """
    count = values.shape[axis] - length + 1
    shape = list(values.shape)
    shape[axis] = count
    if out is None:
        out = np.empty(shape, dtype)
    if axis == 1:
        np.sum(values[:, :length], axis=1, dtype=out.dtype, out=out[:, 0])
        step = np.empty((values.shape[0], values.shape[2]), out.dtype)
        for row in range(1, count):
            np.subtract(values[:, row + length - 1], values[:, row - 1], out=step, dtype=out.dtype)
            np.add(out[:, row - 1], step, out=out[:, row])
    else:
        prefix = np.cumsum(values, axis=2, dtype=out.dtype, out=values if values.dtype == out.dtype else None)
        out[:, :, 0] = prefix[:, :, length - 1]
        np.subtract(prefix[:, :, length:], prefix[:, :, : count - 1], out=out[:, :, 1:])
    return out
