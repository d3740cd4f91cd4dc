"""A GIF's frames as its blocks give them, for `imgconv.io.compose`: each frame's
rectangle, disposal, transparent index and colour table read here, its LZW data
decoded by Pillow's GIF decoder (through ``Image.frombytes``).

Disposal methods 3 (restore to previous) and 4 (which some encoders write for it, and
browsers and libnsgif read so) restore; 2 clears to transparent; the others keep. A
GIF without any colour table, or whose tables are the grey ramp, is grey, its indices
the levels, as Pillow reads it.
"""

import struct
from collections.abc import Sequence
from functools import partial
from typing import NamedTuple

import numpy as np

from ..errors import ImageReadError
from .budget import PixelBudget
from .compose import CLEAR, KEEP, OVER, RESTORE, SOURCE, Frame, compose, opaque

_DISPOSAL = {2: CLEAR, 3: RESTORE, 4: RESTORE}
# The most pixels a byte of LZW data yields: a code takes 2 bits at least at its
# narrowest (GIF's smallest code size, 2, starts at 3-bit codes) and gives at most the
# 4096 pixels of the longest string its table holds.
_MOST_PIXELS_A_BYTE = 8 // 2 * 4096


class _Image(NamedTuple):
    """An image descriptor's rectangle, its colour table (or the global one, or None),
    its Graphic Control Extension's transparent index, disposal and delay, its
    interlacing, its LZW code size and where its data starts."""

    box: tuple[int, int, int, int]
    palette: bytes | None
    transparent: int | None
    disposal: int
    duration: float | None
    interlaced: bool
    bits: int
    start: int
    end: int


def gif_frames(data: bytes, wanted: Sequence[int], name: str,
               budget: PixelBudget) -> tuple[list[np.ndarray], str, list[float | None]]:
    """The frames of ``wanted`` (ascending) of the GIF ``data`` composed as browsers
    show them, their mode (RGB, or grey without a colour table; with alpha where the first
    frame declares a transparent index or a pixel shows transparent) and every frame's
    duration. Each frame's rectangle is taken from ``budget``'s limit before it is
    decoded; each composed frame after the first from ``budget``."""
    images = _images(data)
    if len(images) <= max(wanted):
        raise ImageReadError(f"{name}: truncated: it holds {len(images)} frames, not frame {max(wanted)}")
    screen = struct.unpack_from("<HH", data, 6)
    # The canvas grows to hold the first frame where it reaches past the logical screen,
    # as Chromium (Wuffs' default), Pillow and giflib show it; later frames are clipped.
    first = images[0].box
    size = tuple(max(s, first[n] + first[n + 2]) if s else max(i.box[n] + i.box[n + 2] for i in images)
                 for n, s in enumerate(screen))
    for _ in wanted[1:]:
        budget.take(*size)
    colour = any(i.palette is not None for i in images)
    # The first frame is drawn on a transparent canvas, where SOURCE is OVER but keeps
    # the colour of its transparent pixels, as Pillow gives it.
    frames = [Frame(i.box[0], i.box[1], OVER if n else SOURCE, _DISPOSAL.get(i.disposal, KEEP), i.duration,
                    partial(_pixels, data, i, colour, name, budget.limit)) for n, i in enumerate(images)]
    shown = compose(frames, (size[0], size[1]), 3 if colour else 1, np.uint8, wanted)
    # With alpha where the first frame declares a transparent index, as Pillow reads it
    # whether or not a pixel takes it, or where a pixel shows transparent.
    alpha = images[0].transparent is not None or any((f[..., -1] != 255).any() for f in shown)
    mode = ("RGB" if colour else "L") + ("A" * alpha)
    return shown if alpha else opaque(shown), mode, [i.duration for i in images]


def _pixels(data: bytes, image: _Image, colour: bool, name: str, limit: int) -> np.ndarray:
    """An image's pixels, colours and alpha, decoded from its LZW data."""
    from PIL import Image

    width, height = image.box[2:]
    if not width or not height:
        raise empty_frame_error(name, image.box[2:])
    PixelBudget(limit, name).take(width, height)
    coded = data[image.start:image.end]
    if width * height > len(coded) * _MOST_PIXELS_A_BYTE:
        raise ImageReadError(f"{name}: truncated: a frame claims {width} x {height} pixels, more than its "
                             f"{len(coded)} bytes of GIF data can hold")
    indices = np.asarray(Image.frombytes("L", (width, height), coded, "gif", image.bits, image.interlaced, -1))
    levels = np.arange(256, dtype=np.uint8)
    if image.palette is not None:
        table = np.zeros((256, 3), np.uint8)
        given = np.frombuffer(image.palette, np.uint8).reshape(-1, 3)[:256]
        table[:len(given)] = given
    else:
        table = np.repeat(levels[:, None], 3 if colour else 1, axis=1)
    table = np.concatenate([table, np.full((256, 1), 255, np.uint8)], axis=1)
    if image.transparent is not None:
        table[image.transparent, -1] = 0
    # Each entry's samples as one number (4 or 2 bytes): a lookup of numbers is quicker.
    entries = table.view(np.uint32 if table.shape[1] == 4 else np.uint16).ravel()
    return np.take(entries, indices).view(np.uint8).reshape(height, width, table.shape[1])


def _images(data: bytes) -> list[_Image]:
    """The images of a GIF, in order, until its trailer or its end."""
    flags = data[10]
    position = 13 + (3 << (flags & 7) + 1 if flags & 0x80 else 0)
    global_palette = _colours(data[13:position]) if flags & 0x80 else None
    images, control = [], (None, 0, None)
    while position < len(data):
        kind, position = data[position], position + 1
        if kind == 0x21 and position < len(data):  # an extension: its label, then sub-blocks
            label = data[position]
            if label == 0xF9 and position + 6 <= len(data) and data[position + 1] >= 4:
                packed, delay, index = struct.unpack_from("<BHB", data, position + 2)
                control = (index if packed & 1 else None, packed >> 2 & 7, delay * 10)
            position = _after_blocks(data, position + 1)
        elif kind == 0x2C and position + 10 <= len(data):  # an image descriptor
            left, top, width, height, packed = struct.unpack_from("<HHHHB", data, position)
            position += 9
            palette = global_palette
            if packed & 0x80:
                table = 3 << (packed & 7) + 1
                palette, position = _colours(data[position:position + table]), position + table
            transparent, disposal, duration = control
            end = _after_blocks(data, position + 1)
            images.append(_Image((left, top, width, height), palette, transparent, disposal, duration,
                                 bool(packed & 0x40), data[position] if position < len(data) else 0, position + 1, end))
            position, control = end, (None, 0, None)
        elif kind == 0x3B:  # the trailer
            break
        # Pillow skips any other byte, counting the frames after it: so are they here.
    return images


def empty_frame(data: bytes) -> tuple[int, int] | None:
    """The size of a GIF's first image of no pixels (0 wide or high), or None: Pillow
    fails on one with a bare IndexError."""
    if len(data) < 13:
        return None
    return next(((i.box[2], i.box[3]) for i in _images(data) if not i.box[2] or not i.box[3]), None)


def empty_frame_error(name: str, size: tuple[int, int]) -> ImageReadError:
    """The refusal of a GIF with a frame of ``size`` (width, height), one of them 0."""
    return ImageReadError(f"{name}: damaged GIF: a frame of {size[0]} x {size[1]} pixels")


def _colours(table: bytes) -> bytes | None:
    """A colour table, or None where it is the grey ramp (entry i is i, i, i), which
    Pillow reads as a grey GIF's."""
    return None if table == bytes(np.repeat(np.arange(len(table) // 3, dtype=np.uint8), 3)) else table


def _after_blocks(data: bytes, position: int) -> int:
    """Where a run of sub-blocks starting at ``position`` ends (past its empty block)."""
    while position < len(data) and data[position]:
        position += 1 + data[position]
    return position + 1
