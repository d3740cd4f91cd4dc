"""How a result is shown next to its original, as in the lecture's blur demonstration.

- ``result``: the filtered image alone.
- ``side-by-side``: original and result next to each other, same height, a thin gap.
- ``thumbnail``: the result with a quarter-size (a quarter of the width and height)
  thumbnail of the original inset in its top-left corner, with a border.

Gaps and borders are the largest sample value of the image's type (white, opaque).
"""

import numpy as np
from PIL import Image

from .engine import to_dtype
from .vocabulary import VIEWS

GAP = 4
BORDER = 2
MARGIN = 8


def compose(original: np.ndarray, result: np.ndarray, view: str, white: float | tuple[float, ...]) -> np.ndarray:
    """The picture to write for ``view``: arrays of the same shape in, one out, of the
    result's type (an original of another type, a float ``.npy`` shown in 8 bits, say,
    is rounded and clipped to it first). ``white``, the samples' white (their maximum;
    no ink for CMYK, `imgconv.io.cmyk.white`), a value or one a channel (alpha last:
    a result composited over a background takes its colour channels'), fills the gap
    and the thumbnail's frame."""
    if view == "result":
        return result
    if isinstance(white, tuple):
        white = white[: result.shape[-1]]
    if original.dtype != result.dtype:
        original = to_dtype(original.astype(np.float64), result.dtype)
    if view == "side-by-side":
        gap = np.full((result.shape[0], GAP, *result.shape[2:]), white, result.dtype)
        return np.concatenate([original, gap, result], axis=1)
    if view == "thumbnail":
        return _inset_thumbnail(original, result, white)
    raise ValueError(f"unknown view {view!r}; valid views: {', '.join(VIEWS)}")


def _inset_thumbnail(original: np.ndarray, result: np.ndarray, white: float | tuple[float, ...]) -> np.ndarray:
    height, width = original.shape[:2]
    small = (max(1, width // 4), max(1, height // 4))
    channels = [original] if original.ndim == 2 else [original[..., c] for c in range(original.shape[2])]
    # Pillow's box filter per channel: it handles every sample type (8-bit, 16-bit, float).
    shrunk = [np.asarray(Image.fromarray(np.ascontiguousarray(c)).resize(small, Image.Resampling.BOX))
              for c in channels]
    thumbnail = shrunk[0] if original.ndim == 2 else np.stack(shrunk, axis=-1)
    out = result.copy()
    top = left = min(MARGIN, height // 8, width // 8)
    framed_h, framed_w = small[1] + 2 * BORDER, small[0] + 2 * BORDER
    out[top : top + framed_h, left : left + framed_w] = white
    inner = out[top + BORDER : top + BORDER + small[1], left + BORDER : left + BORDER + small[0]]
    inner[...] = thumbnail[: inner.shape[0], : inner.shape[1]]
    return out
