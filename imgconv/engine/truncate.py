"""The ``truncate`` boundary mode: beyond the edges counts as missing, and each output
is the weighted mean over the part of the kernel that lies inside the image.

That is ``correlate(image, kernel, mode="constant", cval=0)`` divided, sample by
sample, by the sum of the weights that fall inside the image
(``correlate(ones, kernel, mode="constant")``), which vImage calls a truncated kernel:
a blur keeps the edges' brightness without mirrored content. Those sums (`inside`)
depend only on the position, and differ from the kernel's sum only within the kernel's
reach of an edge: they are computed exactly, in float64, from the kernel's cumulative
sums for the strips along the edges (at most nine blocks, `edge_blocks`), never by
filtering an image of ones.

A kernel whose weights inside the image could sum to zero has no mean to take: those
summing to zero (Sobel, Laplacian, derivatives) are refused, as vImage warns.
"""

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from ..errors import BoundaryError
from .bands import to_dtype
from .taps import Origin, anchor
from .weights import KernelLike, SeparableKernel, check_kernel

# Inside sums this small against the weights' magnitudes count as zero: float64 cumulative
# sums of a million weights are off by less than 1e-10 of their magnitude, so anything
# below 1e-9 is a sum that would be zero in exact arithmetic, or a mean of rounding errors.
ZERO_SUM = 1e-9

Block = tuple[slice, slice, np.ndarray | None]


class Coverage:
    """The sums of a kernel's weights that fall inside an image, position by position,
    for correlation (``flip`` False) or convolution with ``kernel``, anchored as
    ``origin`` says (`imgconv.engine.taps.anchor`)."""

    def __init__(self, kernel: KernelLike, flip: bool, shape: tuple[int, int], origin: Origin = (0, 0)) -> None:
        # Each term a column and a row of taps, or dense weights and None.
        terms: list[tuple[np.ndarray, np.ndarray | None]]
        if isinstance(kernel, SeparableKernel):
            terms = [(c[::-1], r[::-1]) if flip else (c, r) for c, r in kernel.terms]
            self.size = kernel.shape
        else:
            weights = check_kernel(kernel)
            terms = [(weights[::-1, ::-1] if flip else weights, None)]
            self.size = (weights.shape[0], weights.shape[1])
        self.shape = shape
        # The anchor's index in the kernel as it lies over the image (turned for convolution).
        self.before = anchor(self.size, flip, origin)
        self.sums = [(_cumulative(c), None if r is None else _cumulative(r)) for c, r in terms]
        self.magnitude = float(sum(np.abs(c).sum() * (np.abs(r).sum() if r is not None else 1.0) for c, r in terms))

    def block(self, rows: slice, columns: slice) -> np.ndarray:
        """The inside sums for output ``rows`` and ``columns`` (float64)."""
        (r0, r1), (c0, c1) = (self._reach(s, a) for s, a in ((rows, 0), (columns, 1)))
        total = np.zeros((len(r0), len(c0)))
        for column_sums, row_sums in self.sums:
            if row_sums is None:  # dense weights: a 2-D cumulative sum
                total += (column_sums[np.ix_(r1, c1)] - column_sums[np.ix_(r0, c1)]
                          - column_sums[np.ix_(r1, c0)] + column_sums[np.ix_(r0, c0)])
            else:
                total += np.outer(column_sums[r1] - column_sums[r0], row_sums[c1] - row_sums[c0])
        return total

    def _reach(self, outputs: slice, axis: int) -> tuple[np.ndarray, np.ndarray]:
        """The kernel taps ``[first, last)`` that land inside the image for each output."""
        n, before, length = self.size[axis], self.before[axis], self.shape[axis]
        positions = np.arange(outputs.start, outputs.stop)
        return np.clip(before - positions, 0, n), np.clip(length + before - positions, 0, n)

    def interior(self) -> float:
        """The kernel's whole sum: the inside sum wherever it lies wholly inside."""
        return float(sum((c[-1, -1] if r is None else c[-1] * r[-1]) for c, r in self.sums))


def edge_blocks(coverage: Coverage) -> Iterator[Block]:
    """The image cut into at most 3x3 blocks: ``(rows, columns, inside sums)`` for those
    within the kernel's reach of an edge, ``(rows, columns, None)`` for the interior."""
    segments = [_segments(coverage.shape[a], coverage.before[a], coverage.size[a]) for a in (0, 1)]
    for rows, rows_inner in segments[0]:
        for columns, columns_inner in segments[1]:
            yield rows, columns, None if rows_inner and columns_inner else coverage.block(rows, columns)


def check_sums(coverage: Coverage, blocks: Sequence[Block]) -> None:
    """Refuse a kernel whose weights inside the image sum to (nearly) zero anywhere."""
    sums = [coverage.interior()] + [float(np.abs(b).min()) for _, _, b in blocks if b is not None]
    if min(abs(s) for s in sums) <= ZERO_SUM * coverage.magnitude:
        which = "sum to 0" if abs(sums[0]) <= ZERO_SUM * coverage.magnitude else "sum to 0 near an edge"
        raise BoundaryError(f"the truncate boundary mode divides by the kernel's weights inside the image, and "
                            f"this kernel's {which} (an edge detector?): use another mode")


def filter_truncated(image: np.ndarray, kernels: Sequence[KernelLike], flip: bool, output: DTypeLike | None,
                     combine: bool, filter_constant: Callable[[KernelLike, Any], np.ndarray],
                     methods: Sequence[Any], origins: Sequence[Origin] | None = None,
                     out: np.ndarray | None = None) -> np.ndarray:
    """Each kernel's response in ``constant`` mode with 0 beyond the edges
    (``filter_constant(kernel, method)``, in the engine's work type, anchored as its
    origin of ``origins`` says), divided by its inside sums; for ``combine``, the
    Euclidean norm of those, as `imgconv.engine.magnitude` gives it; as ``output`` if
    given, written into ``out`` (of ``image``'s shape) if given."""
    shape = (image.shape[0], image.shape[1])
    origins = origins or [(0, 0)] * len(kernels)
    coverages = [Coverage(kernel, flip, shape, origin) for kernel, origin in zip(kernels, origins, strict=True)]
    cut = [list(edge_blocks(coverage)) for coverage in coverages]
    for coverage, blocks in zip(coverages, cut, strict=True):
        check_sums(coverage, blocks)  # before any filtering
    total = None
    for kernel, method, coverage, blocks in zip(kernels, methods, coverages, cut, strict=True):
        response = filter_constant(kernel, method)
        offset = getattr(kernel, "offset", 0.0)  # added to the mean, not averaged
        response -= offset
        divide(response, coverage, blocks)
        response += offset
        if total is None:
            total = np.abs(response) if combine else response
        else:
            np.hypot(total, response, out=total)
    assert total is not None  # the engine's calls give at least one kernel
    return total if output is None else to_dtype(total, output, out=out)


def divide(response: np.ndarray, coverage: Coverage, blocks: Sequence[Block]) -> None:
    """Divide ``response`` (H, W[, C]) in place by the inside sums (the interior by the
    whole sum, unless that is 1)."""
    interior = coverage.interior()
    for rows, columns, sums in blocks:
        view = response[rows, columns]
        if sums is None:
            if interior != 1.0:
                view /= view.dtype.type(interior)
        else:
            view /= (sums if view.ndim == 2 else sums[..., np.newaxis]).astype(view.dtype)


def _segments(length: int, before: int, size: int) -> list[tuple[slice, bool]]:
    """An axis cut where the kernel (``size`` taps, anchor at ``before``) starts and
    stops reaching beyond an edge: ``(outputs, inner)`` for each non-empty piece."""
    after = size - 1 - before
    first, last = min(before, length), max(length - after, min(before, length))
    pieces = [(slice(0, first), False), (slice(first, last), True), (slice(last, length), False)]
    return [(s, inner) for s, inner in pieces if s.stop > s.start]


def _cumulative(taps: np.ndarray) -> np.ndarray:
    """Sums of the first k taps along each axis, with a leading 0 on each: entry
    ``[i1] - [i0]`` (or its 2-D form) sums taps ``i0 ... i1 - 1``."""
    sums = taps.astype(np.float64)
    for axis in range(taps.ndim):
        sums = np.cumsum(sums, axis=axis)
    return np.pad(sums, [(1, 0)] * taps.ndim)
