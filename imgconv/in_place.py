"""A picture filtered in its own memory, strip by strip, with the whole picture's result.

`imgconv.filters.filter_picture` writes its result into a new array beside the
picture's: twice the decoded image at the peak. `filter_in_place` instead filters
full-width strips of rows, each with the rows its kernel reaches beyond it, into a
strip-sized result, and writes each strip's result over its rows once the next strip,
which reads some of them, has been filtered: one decoded image and two strips.

A strip gives the whole picture's result, sample for sample, where the engine cuts it
into the same bands as the whole picture (the reasoning of `imgconv.dask`): strips start
on a multiple of every band height, are a whole number of bands, and are filtered by
the strategy the whole picture takes (its method forced by name), among those whose
bands do not depend on the picture's height: ``integer``, ``direct``,
``kernel-columns`` and ``separable``. A strip is given the rows its kernel reaches above
and below it, or the picture's own edge, which the engine extends as it would for the
whole picture; ``wrap`` mode, whose edges need the far side, is left to the whole path.
"""

import contextlib
import math
from dataclasses import replace

import numpy as np

from .engine import Plan, plan
from .engine.bands import BandWatcher, current_watcher, watching
from .errors import ReachError
from .filters import MAGNITUDE, Filter
from .io import pages
from .vocabulary import resolve_mode

# Strategies whose bands have a height and reach that do not depend on the image's
# height, so that a strip of the image is cut as the whole image is.
EXACT = frozenset({"integer", "direct", "kernel-columns", "separable"})
# Result bytes a strip holds: two strips are held at a time, with the engine's float
# work on the bands in flight; 16 MiB is 466 rows of a 12000-pixel RGB row.
STRIP_BYTES = 16 * 2**20


def filter_in_place(samples: np.ndarray, filt: Filter, name: str) -> bool:
    """Filter ``samples`` ((H, W) or (H, W, C), C-contiguous and writeable) with
    ``filt`` into themselves, rounded and clipped to their own type, as
    ``filter_picture(picture, filt, samples.dtype)`` would for a picture without alpha;
    True once done. False, with ``samples`` untouched, where strips could not give that
    result sample for sample or would save nothing: filters other than plain kernels
    and gradient magnitudes shown as they are, per-channel kernels or values, the
    ``wrap`` and ``truncate`` modes, a strategy not in `EXACT`, and pictures of no more
    than two strips. A kernel whose results could overflow is refused naming ``name``,
    the picture's file, before any strip is written."""
    plane = samples if samples.ndim == 3 else samples[..., np.newaxis]
    options = filt.engine
    if type(filt) is not Filter or filt.light is not None or filt.display is not None or filt.per_channel \
            or filt.identity or isinstance(options.cval, tuple) or not samples.flags.c_contiguous \
            or not samples.flags.writeable:
        return False
    mode = resolve_mode(options.mode, options.cval, truncate=True)[0]
    if mode not in ("reflect", "mirror", "nearest", "constant"):
        return False
    plans = _plans(plane, filt)
    if any(p.strategy not in EXACT for p in plans):
        return False
    band = math.lcm(*(p.layout.band_height for p in plans))
    above = max(p.layout.reach[0][0] for p in plans)
    below = max(p.layout.reach[0][1] for p in plans)
    lead = -(-above // band) * band  # rows read above a strip, in whole bands
    rows = max(STRIP_BYTES // (plane[0].size * plane.itemsize) // band * band, lead + band,
               -(-(above + below + 1) // band) * band)
    height = plane.shape[0]
    if height <= 2 * rows:
        return False
    methods = tuple(p.strategy for p in plans)
    forced = filt.with_engine(replace(options, method=methods if filt.combine == MAGNITUDE else methods[0]))
    pending: tuple[int, np.ndarray] | None = None
    outer = current_watcher()
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        start, stop = max(0, top - lead), min(height, bottom + below)
        try:
            with _reporting(outer, top, bottom, height):
                result = forced.apply(plane[start:stop], output=plane.dtype)
        except ReachError as exc:
            raise exc.naming(name) from None
        if pending is not None:  # the strip above: the rows this one read are read
            plane[pending[0] : pending[0] + len(pending[1])] = pending[1]
        pending = (top, result[top - start : bottom - start])
    assert pending is not None
    plane[pending[0] :] = pending[1]
    pages.trim()  # the strips' and the engine's freed blocks, before the result is encoded
    return True


def _reporting(outer: BandWatcher | None, top: int, bottom: int,
               height: int) -> contextlib.AbstractContextManager[None]:
    """A progress display's rows for the strip from ``top`` to ``bottom``: its share of
    the whole picture's ``height``, not a picture of its own."""
    if outer is None:
        return contextlib.nullcontext()
    watcher = outer
    return watching(lambda done, total: watcher(top + (bottom - top) * done // total, height))


def _plans(plane: np.ndarray, filt: Filter) -> list[Plan]:
    """The engine's plan for each kernel of ``filt`` on the whole of ``plane``."""
    options = filt.engine
    count = len(filt.passes)
    methods = [options.method] * count if isinstance(options.method, str) else list(options.method)
    convolution = [True] * count if filt.combine == MAGNITUDE else [flip for _, flip in filt.passes]
    return [plan(plane.shape, kernel, options.mode, method, flip, options.threads, plane.dtype,
                 float(options.cval)) for (kernel, _), method, flip in zip(filt.passes, methods, convolution,
                                                                            strict=True)]

