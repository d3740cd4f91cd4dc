"""Window sums of integer samples through repeated prefix sums, for `WholeRunningSums`.

A box of a taps sums a window: with P the prefix sums of x (P[i] = x[0] + ... + x[i - 1],
P[0] = 0), box(x)[i] = P[i + a] - P[i]. Boxes of a and b taps in turn (a tent or a
trapezoid) are the second differences of the twice-summed P2: P2[i + a + b] - P2[i + a]
- P2[i + b] + P2[i] (`window_terms`), so the boxes cost two prefix sums and one
combination, whatever their lengths. The prefix sums grow far past the window sums, and
integer ones wrap around; the window sums, made by the same wrapping arithmetic, come
out exact when they fit their type.

Down the columns (`prefix_rows`), the sums run row by row, each step one addition over a
whole row. Along the rows, NumPy's cumulative sum adds one sample at a time, each
waiting for the last (2.3 ns a sample on the 4K photo); `ChunkedPrefix` instead sums
chunks of `CHUNK` samples by one matrix product each, in float64, and adds what the
chunks before them carry: 62 ms against 95 for the tent of radius 500's passes along a
4K channel, bit-identical, where float64 holds every sum exactly (`ChunkedPrefix.exact`).
The rows and columns beyond the image's edges can be read through the boundary mode's
index maps (`prefix_rows`, `index_runs` and `gather_columns`), with no extended copy.
"""

import math
from collections.abc import Sequence

import numpy as np

# Samples per chunk of `ChunkedPrefix`: each sample costs 2 * CHUNK multiply-adds in the
# product. On a tent of radius 500 along a 4K channel (x86_64, one thread), chunks of 8,
# 16 and 32 took 78, 63 and 60-64 ms; 16 keeps the product small.
CHUNK = 16

# (sign, offset): one prefix sum's part in a window sum (`window_terms`).
Term = tuple[int, int]


def window_terms(lengths: Sequence[int]) -> list[Term]:
    """The window sums of boxes of ``lengths`` in turn as ``sum(sign * P[i + offset])``, P
    the ``len(lengths)``-fold prefix sums, with as many zeros in front; the first two
    terms are a positive and a negative one.

    Examples
    --------
    >>> window_terms([3]), window_terms([3, 5])
    ([(1, 3), (-1, 0)], [(1, 8), (-1, 5), (-1, 3), (1, 0)])
    """
    terms = [(1, 0)]
    for length in lengths:
        terms = [(sign, offset + length) for sign, offset in terms] + [(-sign, offset) for sign, offset in terms]
    return terms


def prefix_rows(values: np.ndarray, count: int, out: np.ndarray, rows: np.ndarray | None = None) -> None:
    """The ``count``-fold prefix sums down the rows (axis 1) of the planes ``values``
    (channels, rows, columns), into ``out`` (``count`` more rows, in its type): ``count``
    rows of zeros, then one row per row of ``values``, or per entry of the index map
    ``rows`` (`imgconv.boundary.index_map`: the rows beyond the edges read where the
    boundary mode says, with no extended copy). The sums before the last are kept for
    the current row only, so that each row is one addition per fold."""
    out[:, :count] = 0
    running = [np.zeros((values.shape[0], values.shape[2]), out.dtype) for _ in range(count - 1)]
    for row in range(values.shape[1] if rows is None else len(rows)):
        added = values[:, row if rows is None else rows[row]]
        for total in running:
            np.add(total, added, out=total)
            added = total
        np.add(out[:, row + count - 1], added, out=out[:, row + count])


def window_sums(prefix: np.ndarray, lengths: Sequence[int], axis: int, count: int, out: np.ndarray) -> None:
    """``count`` window sums of boxes of ``lengths`` in turn along ``axis``, from the
    ``len(lengths)``-fold ``prefix`` sums (`window_terms`), into ``out``, in its type.

    Where the shorter of two boxes is shorter than ``count``, one difference at a time:
    ``count`` plus that length samples, then ``count``, fewer than three times ``count``
    (along a 4K row, 4341 and 3840 samples against 11520 for a tent of radius 500).
    Either way every partial result lies between minus and plus the largest prefix sum,
    so that the float64 sums of `ChunkedPrefix` stay exact."""

    def shifted(values: np.ndarray, offset: int, length: int) -> np.ndarray:
        index = [slice(None)] * values.ndim
        index[axis] = slice(offset, offset + length)
        return values[tuple(index)]

    if len(lengths) == 2 and min(lengths) < count:
        short, long = sorted(lengths)
        shape = list(out.shape)
        shape[axis] = count + short
        once = np.empty(shape, out.dtype)
        np.subtract(shifted(prefix, long, count + short), shifted(prefix, 0, count + short), out=once)
        np.subtract(shifted(once, short, count), shifted(once, 0, count), out=out)
        return
    (_, first), (_, second), *rest = window_terms(lengths)
    np.subtract(shifted(prefix, first, count), shifted(prefix, second, count), out=out)
    for sign, offset in rest:
        (np.add if sign > 0 else np.subtract)(out, shifted(prefix, offset, count), out=out)


# A run of an index map: (start, stop, first, step): entries start to stop - 1 are
# first, first + step, ... with step -1, 0 or 1.
Run = tuple[int, int, int, int]


def index_runs(index: np.ndarray) -> list[Run]:
    """An index map (`imgconv.boundary.index_map`) as runs of consecutive, reversed and
    repeated indices, for `gather_columns`: a few for any boundary mode but constant."""
    runs: list[Run] = []
    start = 0
    while start < len(index):
        first = int(index[start])
        step = int(index[start + 1]) - first if start + 1 < len(index) else 1
        step = step if step in (-1, 0, 1) else 1
        stop = start + 1 + int(np.argmin(np.append(np.diff(index[start:]) == step, False)))
        runs.append((start, stop, first, step))
        start = stop
    return runs


def gather_columns(values: np.ndarray, runs: Sequence[Run], out: np.ndarray) -> None:
    """``out[..., j] = values[..., index[j]]`` for the `index_runs` of an index map:
    copies of slices, not fancy indexing."""
    for start, stop, first, step in runs:
        last = first + step * (stop - start - 1)
        if step == 1:
            out[..., start:stop] = values[..., first : last + 1]
        elif step == -1:
            out[..., start:stop] = values[..., last : first + 1][..., ::-1]
        else:
            out[..., start:stop] = values[..., first : first + 1]


class ChunkedPrefix:
    """The once or twice repeated prefix sums along the rows of 2-D blocks, in float64:
    each chunk of `CHUNK` samples by one matrix product with what the chunks before it
    carry, appended to its samples (their sum, and for twice-summed sums the last twice
    summed value). Exact for whole numbers while every sum stays below 2**53 (`exact`)."""

    def __init__(self, count: int, length: int) -> None:
        """For ``count`` (1 or 2) prefix sums of rows of ``length`` samples, with
        ``count`` zeros in front."""
        k = CHUNK
        self.count, self.chunks = count, -(-(length + count) // k)
        position = np.arange(k)
        below = position[:, None] <= position[None, :]  # sample j reaches sum p
        within = below * (position[None, :] - position[:, None] + 1 if count == 2 else 1)
        # What a chunk's sums gain from the ones before: the sum of their samples, once
        # per position summed twice; the twice-summed value at their end, once.
        carried = [np.arange(1, k + 1), np.ones(k)] if count == 2 else [np.ones(k)]
        self.matrix = np.vstack([within, *carried]).astype(np.float64)
        # A chunk's sum and its share of the twice-summed value at its end.
        self.ends = np.stack([np.ones(k), np.arange(k, 0, -1)][:count], axis=1).astype(np.float64)

    @property
    def width(self) -> int:
        """Samples per row of the sums: whole chunks."""
        return self.chunks * CHUNK

    def exact(self, largest: int) -> bool:
        """Whether every sum of rows of samples up to ``largest`` stays below 2**53."""
        return largest * math.comb(self.width + self.count - 1, self.count) < 2**53

    def __call__(self, values: np.ndarray, out: np.ndarray) -> None:
        """The prefix sums of the rows of ``values`` (rows, `width`: ``count`` zeros, the
        samples, zeros to the end), into ``out`` (rows, `width`, float64)."""
        k, count, rows = CHUNK, self.count, values.shape[0]
        chunks = np.empty((rows, self.chunks, k + count))
        np.copyto(chunks[:, :, :k], values.reshape(rows, self.chunks, k))
        ends = chunks[:, :, :k] @ self.ends
        before = chunks[:, :, k]  # the sum of every sample before the chunk
        before[:, 0] = 0
        np.cumsum(ends[:, :-1, 0], axis=1, out=before[:, 1:])
        if count == 2:  # the twice-summed value just before the chunk
            last = chunks[:, :, k + 1]
            last[:, 0] = 0
            np.cumsum(k * before[:, :-1] + ends[:, :-1, 1], axis=1, out=last[:, 1:])
        np.matmul(chunks.reshape(-1, k + count), self.matrix, out=out.reshape(-1, k))
