"""``--depth``: samples of one depth as another."""

from dataclasses import replace

import numpy as np

from ..errors import ImageReadError, InvalidInputError
from . import formats
from .picture import Picture


def change_depth(picture: Picture, bits: int | None) -> Picture:
    """The picture with ``bits`` (8 or 16) bits a sample.

    16 to 8 bits is ``round(v / 257)`` (65535 becomes 255); 8 to 16 is ``v * 257``
    (255 becomes 65535), which is exact. Float samples map 0.0-1.0 to the whole range:
    ``round(v * 255)`` (or 65535), clipped, so that below 0.0 is 0 and above 1.0 (or
    infinity) the largest value; NaN, which has no place there, is refused, naming the
    input.
    """
    if bits is None or formats.DTYPE[picture.mode] == (np.uint8 if bits == 8 else np.uint16):
        return picture
    top = 255 if bits == 8 else 65535
    if picture.mode in formats.FLOAT:
        if any(np.isnan(f).any() for f in picture.frames):
            raise ImageReadError(f"{picture.name}: NaN samples, which --depth {bits} cannot map to {bits}-bit ones; "
                                 "write TIFF or .npy to keep them")
        channels = 1 if picture.frames[0].ndim == 2 else picture.frames[0].shape[2]
        frames = [_unit_to_integers(f, top) for f in picture.frames]
        return replace(picture, frames=frames, mode=formats.MODE_OF[channels, bits])
    if picture.mode not in formats.OTHER_DEPTH:
        raise InvalidInputError(f"{picture.name}: --depth converts 8-bit, 16-bit and float samples, and the input is "
                                f"{formats.WORDS[picture.mode]}; write TIFF or .npy to keep it")
    if bits == 8:
        frames = [((f.astype(np.uint32) + 128) // 257).astype(np.uint8) for f in picture.frames]
    else:
        frames = [f.astype(np.uint16) * np.uint16(257) for f in picture.frames]
    return replace(picture, frames=frames, mode=formats.OTHER_DEPTH[picture.mode])


def _unit_to_integers(samples: np.ndarray, top: int) -> np.ndarray:
    """Float samples, 0.0 to 1.0, as integers 0 to ``top``, rounded and clipped; in
    float32 (float64 for float64 samples), as filtering works."""
    work = samples.astype(np.result_type(samples.dtype, np.float32))
    np.clip(work, 0, 1, out=work)
    work *= top
    return np.rint(work, out=work).astype(np.uint8 if top == 255 else np.uint16)
