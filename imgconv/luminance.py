"""Luminance-only filtering: filter Y' of Y'CbCr and keep Cb and Cr, so colours do not shift.

Y'CbCr is full-range BT.601, as JPEG stores it (``Y' = 0.299 R' + 0.587 G' + 0.114 B'``,
Cb and Cr differences of B' and R' from it). Its inverse adds Y' to every one of R', G'
and B' with weight 1, so keeping Cb and Cr while Y' becomes ``Y' + d`` is adding ``d``
to each channel: `filter_luminance` filters Y' alone (one channel instead of three) and
adds the change, rounding once. Cb and Cr of the result are those of the input to
within the one rounding (one level), except where a channel had to be clipped to the
samples' range (a sharpened edge beyond white or black).

Grey pictures are their own Y': filtered as they are. Alpha is filtered with Y' as
`imgconv.filters.filter_picture` filters colour (premultiplied), and kept.
"""

from dataclasses import replace
from typing import cast

import numpy as np
from numpy.typing import DTypeLike

from .engine import bands, to_dtype, work_dtype
from .errors import InvalidInputError
from .filters import Filter, composite, filter_picture
from .io.formats import CMYK_MODES
from .io.picture import Picture

LUMA = (0.299, 0.587, 0.114)
"""BT.601's weights of R', G' and B' in Y'."""

# The grey mode of each RGB mode with the same depth: what Y' (and alpha) is filtered as.
GREY_OF = {"RGB": "L", "RGBA": "LA", "RGB;16": "I;16", "RGBA;16": "LA;16"}


def luma(samples: np.ndarray) -> np.ndarray:
    """Y' of (H, W, 3 or more) R'G'B' samples, in the engine's work type."""
    work = work_dtype(samples.dtype)
    red, green, blue = (samples[..., c].astype(work) for c in range(3))
    red *= work.type(LUMA[0])
    red += green * work.type(LUMA[1])
    red += blue * work.type(LUMA[2])
    return red


def filter_luminance(picture: Picture, filt: Filter, dtype: DTypeLike | None = None,
                     background: tuple[float, ...] | None = None) -> np.ndarray:
    """`imgconv.filters.filter_picture` on Y' only.

    Parameters
    ----------
    picture : Picture
        Grey (filtered as it is) or 8- or 16-bit RGB, with or without alpha; other
        kinds (CMYK's inks among them: a CMYK file written to a format that holds
        no CMYK is converted to sRGB first, `imgconv.io.cmyk`) are refused in one
        line naming the file.
    filt : Filter
        A filter that keeps the mean (blur, box, sharpen, unsharp, with or without a
        threshold); edge detectors, whose response is not a picture's Y', are refused.
    dtype : numpy dtype, optional
        The picture's ``sample_dtype``, for image outputs: rounded once and clipped.
    background : tuple of float, optional
        As in `imgconv.filters.filter_picture`: a picture with alpha comes out
        composited over it, without alpha.

    Returns
    -------
    numpy.ndarray
        The picture's shape: each colour channel plus the change of Y', alpha as
        filtered; float32 without ``dtype``.
    """
    if not filt.preserves_mean or filt.display is not None:
        raise InvalidInputError(f"{picture.name}: luminance-only filtering is for filters that keep the mean "
                                "(blur, box, sharpen, unsharp), not for edge detectors")
    if picture.mode in CMYK_MODES:
        raise InvalidInputError(f"{picture.name}: luminance-only filtering takes grey or RGB, and the image is "
                                f"{picture.description}, whose inks have no Y'; filter the inks without --luminance, "
                                "or write PNG to filter the Y' of its sRGB")
    if picture.mode not in GREY_OF:
        if picture.pixels.ndim == 2 or picture.pixels.shape[2] <= 2:  # grey, maybe with alpha: Y' already
            return filter_picture(picture, filt, dtype, background)
        raise InvalidInputError(f"{picture.name}: luminance-only filtering takes grey or 8- or 16-bit RGB; the "
                                f"image is {picture.description}")
    samples = picture.pixels
    grey = np.empty((*samples.shape[:2], samples.shape[2] - 2), work_dtype(samples.dtype))  # Y' and alpha
    bands.in_chunks(len(samples), lambda rows: _grey_rows(samples[rows], grey[rows]))
    filtered = filter_picture(replace(picture, frames=[grey], mode=GREY_OF[picture.mode]), filt)
    composited = background is not None and picture.has_alpha
    out = np.empty(samples.shape, grey.dtype if dtype is None or composited else dtype)
    bands.in_chunks(len(samples), lambda rows: _result_rows(samples[rows], grey[rows], filtered[rows], out[rows]))
    if not composited:
        return out
    result = composite(out, cast(tuple[float, ...], background), picture.sample_max, clip=dtype is not None)
    return result if dtype is None else to_dtype(result, dtype)


def _grey_rows(samples: np.ndarray, grey: np.ndarray) -> None:
    grey[..., 0] = luma(samples)
    grey[..., 1:] = samples[..., 3:]


def _result_rows(samples: np.ndarray, grey: np.ndarray, filtered: np.ndarray, out: np.ndarray) -> None:
    """Each colour channel plus the change of Y', alpha as filtered, into ``out``."""
    change = filtered[..., 0] - grey[..., 0]
    result = samples.astype(change.dtype)
    # A channel at a time: 0.4 ns a sample where adding the (H, W, 1) change to all
    # three at once, broadcast along the last axis, takes 0.9 (32 rows of 4K RGB).
    for channel in range(3):
        result[..., channel] += change
    result[..., 3:] = filtered[..., 1:]
    to_dtype(result, out.dtype, out=out)
