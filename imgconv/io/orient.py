"""EXIF and XMP orientation: pixels turned upright as the tags say."""

import re

import numpy as np

# The orientation that undoes each: turning by 90° one way (6) is undone by the other
# way (8); the flips and transpositions undo themselves.
UNDO = {6: 8, 8: 6}


# XMP's orientation, as an attribute or an element. Pillow's getexif() takes it where the
# EXIF has none (so read_image turns such pictures too), and its exif_transpose reads it
# from an output whose EXIF no longer has one.
_XMP_ORIENTATION = re.compile(rb"""(tiff:Orientation\s*=\s*["']|<tiff:Orientation>\s*)[0-9]+""")


def upright_xmp(xmp: bytes) -> bytes:
    """``xmp`` saying orientation 1, for pixels that have been turned upright."""
    return _XMP_ORIENTATION.sub(lambda match: match[1] + b"1", xmp)


def orientation_of(value: object) -> int:
    """An EXIF orientation tag's ``value`` if it is one of 1 to 8, else 1 (none): a
    damaged tag (0, 9, a byte string, a tuple: a BYTE-typed tag reads as ``b'\\x00'``,
    which no comparison with a number takes) turns nothing, as in Pillow's
    ``ImageOps.exif_transpose``, and is kept as it is."""
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else 1  # tifffile gives an IntEnum


def orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """The stored pixels turned upright as EXIF orientation 1 to 8 says (as Pillow's
    ``ImageOps.exif_transpose``): 5 to 8 are transposed first, then flipped."""
    if orientation >= 5:
        pixels = pixels.swapaxes(0, 1)
    flips = {2: (1,), 3: (0, 1), 4: (0,), 6: (1,), 7: (0, 1), 8: (0,)}.get(orientation, ())
    return np.ascontiguousarray(np.flip(pixels, flips) if flips else pixels)
