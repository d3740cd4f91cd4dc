"""A picture filtered in strips of rows that give the whole picture's result, sample for sample.

Each strip is a run of full-width rows filtered with the rows its kernel reaches above
and below it, or the picture's own edge, which the engine extends as it would for the
whole picture. A strip gives the whole picture's result where the engine cuts it into
the same bands as the whole picture (the reasoning of `imgconv.dask`): strips start on
a multiple of every band height, are a whole number of bands, and are filtered by the
strategy the whole picture takes (its method forced by name), among those whose bands
do not depend on the picture's height: ``integer``, ``direct``, ``kernel-columns`` and
``separable``. ``wrap`` mode, whose edges need the far side, and the ``truncate`` mode
are left to the whole path.

`imgconv.in_place` writes the strips' results over the picture's own samples;
`imgconv.filters.filter_picture` filters a picture with alpha in strips, so that its
float work (premultiplied colour, filtered and divided back) is never image-sized.
"""

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import DTypeLike

from .engine import EngineOptions, KernelLike, plan
from .engine.bands import BandWatcher, current_watcher, watching
from .vocabulary import resolve_mode

# Strategies whose bands have a height and reach that do not depend on the image's
# height, so that a strip of the image is cut as the whole image is.
EXACT = frozenset({"integer", "direct", "kernel-columns", "separable"})


@dataclass(frozen=True)
class Strips:
    """How a picture is cut: strips of ``rows`` rows (the last one shorter), each read
    with ``lead`` rows above (a whole number of bands) and ``below`` rows below it, and
    filtered by ``methods``, the strategy of each pass on the whole picture."""

    rows: int
    lead: int
    below: int
    methods: tuple[str, ...]

    def cuts(self, height: int) -> Iterator[tuple[slice, slice]]:
        """For each strip of a picture ``height`` rows tall, top first: the rows it
        gives, and the rows it reads (those and the ones its kernel reaches)."""
        for top in range(0, height, self.rows):
            bottom = min(top + self.rows, height)
            yield slice(top, bottom), slice(max(0, top - self.lead), min(height, bottom + self.below))


def plan_strips(shape: tuple[int, ...], dtype: DTypeLike, passes: Sequence[tuple[KernelLike, bool]],
                magnitude: bool, options: EngineOptions, strip_bytes: int) -> Strips | None:
    """The strips of a picture of ``shape`` (H, W, C) and ``dtype`` filtered by
    ``passes`` (kernel, convolved), combined as a gradient magnitude or not, as
    ``options`` say, a strip holding about ``strip_bytes`` of samples; None where strips
    could not give the whole picture's result (per-channel values, the ``wrap`` and
    ``truncate`` modes, a strategy not in `EXACT`) or would save nothing (a picture of no
    more than two strips)."""
    if isinstance(options.cval, tuple):
        return None
    mode = resolve_mode(options.mode, options.cval, truncate=True)[0]
    if mode not in ("reflect", "mirror", "nearest", "constant"):
        return None
    count = len(passes)
    methods = [options.method] * count if isinstance(options.method, str) else list(options.method)
    flips = [True] * count if magnitude else [flip for _, flip in passes]
    plans = [plan(shape, kernel, options.mode, method, flip, options.threads, dtype, float(options.cval))
             for (kernel, _), method, flip in zip(passes, methods, flips, strict=True)]
    if any(p.strategy not in EXACT for p in plans):
        return None
    band = math.lcm(*(p.layout.band_height for p in plans))
    above = max(p.layout.reach[0][0] for p in plans)
    below = max(p.layout.reach[0][1] for p in plans)
    lead = -(-above // band) * band  # rows read above a strip, in whole bands
    row_bytes = math.prod(shape[1:]) * np.dtype(dtype).itemsize
    rows = max(strip_bytes // row_bytes // band * band, lead + band, -(-(above + below + 1) // band) * band)
    if shape[0] <= 2 * rows:
        return None
    return Strips(rows, lead, below, tuple(p.strategy for p in plans))


def each_strip(strips: Strips, height: int, filter_strip: Callable[[slice, slice], np.ndarray],
               write: Callable[[slice, np.ndarray], object]) -> None:
    """``write(rows, result)`` for each strip's ``filter_strip(rows, read)`` (`Strips.cuts`),
    the result of those rows only, in pieces, so that results may go over the picture's
    own samples: a strip's rows are written as soon as it is filtered, but for its last
    ``lead`` rows, which the next strip reads, kept aside until that one is filtered.
    So one strip's result is held at a time, not two: 15 MiB less for sobel at 12000
    pixels wide. A progress display watching the engine sees the strips as parts of
    one picture of ``height`` rows. A kernel whose results could overflow the work type
    is refused (`imgconv.errors.ReachError`) by the first strip, before any is written."""
    pending: tuple[slice, np.ndarray] | None = None
    outer = current_watcher()
    for rows, read in strips.cuts(height):
        with _reporting(outer, rows, height):
            result = filter_strip(rows, read)
        if pending is not None:  # the rows the strip above kept: this one has read them
            write(*pending)
        kept = max(rows.start, rows.stop - strips.lead)
        write(slice(rows.start, kept), result[: kept - rows.start])
        pending = (slice(kept, rows.stop), result[kept - rows.start :].copy())
        del result  # before the next strip's is made
    assert pending is not None
    write(*pending)


def _reporting(outer: BandWatcher | None, rows: slice, height: int) -> contextlib.AbstractContextManager[None]:
    """A progress display's rows for the strip of ``rows``: its share of the whole
    picture's ``height``, not a picture of its own."""
    if outer is None:
        return contextlib.nullcontext()
    watcher = outer
    top, size = rows.start, rows.stop - rows.start
    return watching(lambda done, total: watcher(top + size * done // total, height))
