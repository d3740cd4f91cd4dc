"""An APNG's frames as its chunks give them, for `imgconv.io.compose`: each frame's
fcTL (rectangle, delay, dispose and blend ops) read here, its data (IDAT or fdAT)
decoded by libpng (imagecodecs) as a PNG of its own, with the file's header, palette
and transparency.

Pillow blends an OVER frame by pasting it with its alpha as mask, which is Porter-Duff
over only where the canvas below is opaque (over a half-transparent canvas the alpha
and colours come out wrong), and disposes of a frame to the background with opaque
black in a file without alpha; browsers clear to transparent black, as the APNG
specification says.
"""

import struct
from collections.abc import Sequence
from functools import partial

import numpy as np

from ..errors import ImageReadError
from .budget import PixelBudget
from .chunks import PNG_SIGNATURE, chunk
from .compose import CLEAR, KEEP, RESTORE, Frame, compose, opaque

_DISPOSE = {0: KEEP, 1: CLEAR, 2: RESTORE}  # dispose_op; blend_op 0 and 1 are compose's SOURCE and OVER
_KEPT = (b"PLTE", b"tRNS")  # chunks before the image data that each frame's pixels need


def apng_frames(data: bytes, wanted: Sequence[int], name: str,
                budget: PixelBudget) -> tuple[list[np.ndarray], int, list[float | None]]:
    """The frames of ``wanted`` (ascending; the default image that is not a frame not
    counted) of the APNG ``data`` composed as its specification says, their number of
    colour samples (1 or 3; alpha kept where the file has alpha or a pixel shows
    transparent) and every frame's duration. Each composed frame after the first is
    taken from ``budget``."""
    ihdr, kept, controls, parts = _chunks(data, name)
    width, height, depth, colour_type = struct.unpack_from(">IIBB", ihdr)
    if len(controls) <= max(wanted):
        raise ImageReadError(f"{name}: truncated: it holds {len(controls)} frames, not frame {max(wanted)}")
    for _ in wanted[1:]:
        budget.take(width, height)
    frames = []
    for index, (control, pieces) in enumerate(zip(controls, parts, strict=True)):
        _, across, down, left, top, numerator, denominator, dispose, blend = struct.unpack(">IIIIIHHBB", control)
        if not (across and down and left + across <= width and top + down <= height) or dispose > 2 or blend > 1:
            raise ImageReadError(f"{name}: damaged APNG: frame {index}'s fcTL ({across} x {down} at {left}, {top}, "
                                 f"dispose {dispose}, blend {blend}) does not fit its {width} x {height} canvas")
        # A first frame disposed of to the previous canvas goes back to the transparent start.
        disposal = CLEAR if index == 0 and dispose == 2 else _DISPOSE[dispose]
        header = struct.pack(">II", across, down) + ihdr[8:]
        frames.append(Frame(left, top, blend, disposal, numerator / (denominator or 100) * 1000,
                            partial(_pixels, header, kept, pieces)))
    colours = 1 if colour_type in (0, 4) else 3
    shown = compose(frames, (width, height), colours, np.uint16 if depth == 16 else np.uint8, wanted)
    alpha = colour_type in (4, 6) or b"tRNS" in kept or any(
        (f[..., -1] != np.iinfo(f.dtype).max).any() for f in shown)
    return shown if alpha else opaque(shown), colours, [f.duration for f in frames]


def _pixels(header: bytes, kept: dict[bytes, bytes], pieces: list[bytes]) -> np.ndarray:
    """A frame's pixels, colours and alpha, decoded as the PNG its data makes."""
    import imagecodecs

    png = b"".join([PNG_SIGNATURE, *chunk(b"IHDR", header), *(part for kind, body in kept.items()
                    for part in chunk(kind, body)), *chunk(b"IDAT", b"".join(pieces)), *chunk(b"IEND", b"")])
    pixels = np.asarray(imagecodecs.png_decode(png))
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.shape[2] in (1, 3):
        pixels = np.concatenate([pixels, np.full_like(pixels[..., :1], np.iinfo(pixels.dtype).max)], axis=2)
    return pixels


def _chunks(data: bytes, name: str) -> tuple[bytes, dict[bytes, bytes], list[bytes], list[list[bytes]]]:
    """A PNG's IHDR body, its PLTE and tRNS bodies, each fcTL's body and the image data
    of the frame it starts (IDAT after an fcTL, fdAT less its sequence number). Refuses
    fcTL and fdAT chunks out of their sequence (0, 1, 2...), an fdAT before any fcTL
    and a frame without data."""
    position, ihdr, kept, sequence = len(PNG_SIGNATURE), b"", {}, 0
    controls: list[bytes] = []
    parts: list[list[bytes]] = []
    while position + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            ihdr = body
        elif kind in _KEPT and not controls and not parts:
            kept[kind] = body
        elif kind in (b"fcTL", b"fdAT"):
            number = int.from_bytes(body[:4], "big")
            if number != sequence or (kind == b"fdAT" and not controls):
                raise ImageReadError(f"{name}: damaged APNG: its {kind.decode()} chunk numbered {number} comes "
                                     f"where {'an fcTL' if not controls else 'number'} {sequence} is due")
            sequence += 1
            if kind == b"fcTL":
                controls.append(body)
                parts.append([])
            else:
                parts[-1].append(body[4:])
        elif kind == b"IDAT" and controls:
            parts[-1].append(body)
        elif kind == b"IEND":
            break
        position += 12 + length
    for index, pieces in enumerate(parts):
        if not pieces:
            raise ImageReadError(f"{name}: damaged APNG: frame {index} has no image data")
    return ihdr, kept, controls, parts
