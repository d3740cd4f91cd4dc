"""Frames of an animation composed on their canvas as browsers show them, from each
frame's own pixels, rectangle, disposal and blending (`imgconv.io.gif`,
`imgconv.io.apng`).

The canvas starts transparent, as browsers and libvips start it: a GIF's logical screen
outside its first frame is transparent whatever its background colour, and so is the
area a frame disposed of to the background leaves (Pillow fills it with the screen's
background colour, opaque, when the file declares no transparent index). A frame is
blended SOURCE (it replaces its rectangle) or OVER (Porter-Duff over, `over`); a GIF
frame is blended OVER, its pixels transparent (its transparent index) or opaque.
"""

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

# Disposal: what a frame's rectangle becomes once the frame has been shown.
KEEP, CLEAR, RESTORE = 0, 1, 2  # left as drawn; transparent; as it was before the frame
SOURCE, OVER = 0, 1  # blending


class Frame(NamedTuple):
    """A frame as its file gives it: its rectangle on the canvas (left, top), how it is
    blended and disposed of, its duration in ms (None where the file gives none), and
    a decoder of its pixels (height x width x colours and alpha, as the canvas)."""

    left: int
    top: int
    blend: int
    dispose: int
    duration: float | None
    pixels: Callable[[], np.ndarray]


def compose(frames: Sequence[Frame], size: tuple[int, int], channels: int, dtype: type[np.unsignedinteger],
            wanted: Sequence[int]) -> list[np.ndarray]:
    """The canvas (``size`` width x height, ``channels`` colours and alpha of ``dtype``)
    as shown at each frame of ``wanted`` (ascending indices of ``frames``). A frame's
    part outside the canvas is not shown."""
    width, height = size
    canvas = np.zeros((height, width, channels + 1), dtype)
    top_value = np.iinfo(dtype).max
    shown, wanted_ones = [], set(wanted)
    for index, frame in enumerate(frames[:max(wanted) + 1]):
        pixels = frame.pixels()
        region = canvas[frame.top:frame.top + pixels.shape[0], frame.left:frame.left + pixels.shape[1]]
        pixels = pixels[:region.shape[0], :region.shape[1]]
        kept = region.copy() if frame.dispose == RESTORE else None
        if frame.blend == SOURCE:
            region[...] = pixels
        else:
            over(pixels, region, top_value)
        if index in wanted_ones:
            shown.append(canvas.copy())
        if frame.dispose == CLEAR:
            region[...] = 0
        elif kept is not None:
            region[...] = kept
    return shown


def opaque(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Composed ``frames`` without their alpha (a grey one two-dimensional), where none
    shows a pixel less than opaque."""
    return [f[..., 0] if f.shape[2] == 2 else f[..., :-1] for f in frames]


def over(source: np.ndarray, below: np.ndarray, top: int) -> None:
    """``source`` blended into ``below`` (colours then alpha, not premultiplied, samples
    0 to ``top``), Porter-Duff over as the PNG and APNG specifications give it (alpha a
    fraction of ``top``):

        alpha = alpha_s + alpha_b (1 - alpha_s)
        colour = (colour_s alpha_s + colour_b alpha_b (1 - alpha_s)) / alpha, 0 where alpha is 0

    each rounded to the nearest sample (halves up), computed exactly in integers: the
    sample nearest the formula's value, which a float reference of it gives too.

    Where every source pixel is opaque or transparent (a GIF frame's), the source is
    copied where it is opaque: that is the formula, less its colour 0 under a
    transparent source over a transparent pixel, which keeps the colour below.
    """
    shown = source[..., -1:]
    if not ((shown != 0) & (shown != top)).any():
        # Each pixel's samples as one integer (2, 4 or 8 bytes): a selection of whole
        # pixels, a third of the time of copying samples where the alpha says.
        pixel = f"u{source.shape[-1] * source.itemsize}"
        into = below.view(pixel)[..., 0]
        into[...] = np.where(shown[..., 0] == top, source.view(pixel)[..., 0], into)
        return
    # At 8 bits each sum below is under 2 * 255**3, which 32 bits hold.
    wide = np.uint32 if top <= 255 else np.uint64
    alpha_s, alpha_b = source[..., -1:].astype(wide), below[..., -1:].astype(wide)
    # alpha, and each weight, times top squared
    weight_s, weight_b = alpha_s * top, alpha_b * (top - alpha_s)
    alpha = weight_s + weight_b
    colour = source[..., :-1].astype(wide) * weight_s + below[..., :-1].astype(wide) * weight_b
    divisor = np.maximum(alpha, 1)
    below[..., :-1] = (2 * colour + divisor) // (2 * divisor)
    below[..., -1:] = (2 * alpha + top) // (2 * top)
