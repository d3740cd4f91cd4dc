"""A picture filtered in its own memory, strip by strip, with the whole picture's result.

`imgconv.filters.filter_picture` writes its result into a new array beside the
picture's: twice the decoded image at the peak. `filter_in_place` instead filters
full-width strips of rows (`imgconv.strips`), each with the rows its kernel reaches
beyond it, into a strip-sized result, and writes each strip's result over its rows,
those the next strip reads once it has been filtered (`imgconv.strips.each_strip`):
one decoded image, one strip and the rows the next one reads.
"""

from collections.abc import Callable

import numpy as np

from . import strips
from .errors import ReachError
from .filters import Filter, filter_rows_with_alpha
from .io import pages

# Result bytes a strip holds: one strip is held at a time, with the engine's work on
# the bands in flight; 16 MiB is 466 rows of a 12000-pixel RGB row. Strips of 8 MiB
# made sobel on the 12000x8400 photo 20% slower: each strip reads a band (64 rows) above.
STRIP_BYTES = 16 * 2**20


def filter_in_place(samples: np.ndarray, filt: Filter, name: str, alpha_max: float | None = None) -> bool:
    """Filter ``samples`` ((H, W) or (H, W, C), C-contiguous and writeable) with
    ``filt`` into themselves, rounded and clipped to their own type, as
    ``filter_picture(picture, filt, samples.dtype)`` would; True once done. With
    ``alpha_max``, the last channel is alpha, whose largest value that is (the
    picture's ``sample_max``), and colour is filtered premultiplied by it.

    False, with ``samples`` untouched, where strips could not give that result sample
    for sample or would save nothing: filters other than plain kernels and gradient
    magnitudes shown as they are, per-channel kernels, the identity, and what
    `imgconv.strips.plan_strips` declines. A kernel whose results could overflow is
    refused naming ``name``, the picture's file, before any strip is written."""
    plane = samples if samples.ndim == 3 else samples[..., np.newaxis]
    if type(filt) is not Filter or filt.light is not None or filt.display is not None or filt.identity \
            or not samples.flags.c_contiguous or not samples.flags.writeable:
        return False
    cut = _cut(plane, filt) if alpha_max is None else filter_rows_with_alpha(plane, filt, alpha_max, plane.dtype)
    if cut is None:
        return False
    planned, filter_strip = cut

    def write(rows: slice, result: np.ndarray) -> None:
        plane[rows] = result

    try:
        strips.each_strip(planned, plane.shape[0], filter_strip, write)
    except ReachError as exc:
        raise exc.naming(name) from None
    pages.trim()  # the strips' and the engine's freed blocks, before the result is encoded
    return True


def _cut(plane: np.ndarray, filt: Filter) -> tuple[strips.Strips, Callable[[slice, slice], np.ndarray]] | None:
    """The strips of ``plane`` (H, W, C) and the filter of each, rounded to its type;
    None where strips cannot give the whole's result."""
    cut = filt.in_strips(plane.shape, plane.dtype, STRIP_BYTES)
    if cut is None:
        return None
    planned, forced = cut

    def filter_strip(rows: slice, read: slice) -> np.ndarray:
        return forced.apply(plane[read], output=plane.dtype)[rows.start - read.start : rows.stop - read.start]

    return planned, filter_strip
