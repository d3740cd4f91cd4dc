"""BMP outputs: grey and RGB as Pillow writes them, and pictures with alpha as 32-bit
BMPs whose header says which byte is alpha.

Pillow writes RGBA as 32-bit ``BI_RGB``, whose fourth byte readers (Pillow's own
included) take as padding. Here RGB with alpha (and grey with alpha, as RGB with
R = G = B) is written with a BITMAPV4HEADER: ``BI_BITFIELDS`` with masks R 0x00FF0000,
G 0x0000FF00, B 0x000000FF and A 0xFF000000, the layout Windows, browsers, Pillow,
imagecodecs and ImageMagick read alpha from. V4 is the first header with an alpha
mask; V5 adds only an ICC profile and a rendering intent, which imgconv keeps no
BMP of, so V4 is read by every reader of V5 and by some that stop at V4.
"""

import struct
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from ..errors import ImageWriteError
from .pillow_write import encode_pillow, metadata_options

if TYPE_CHECKING:
    from .formats import Format
    from .picture import Picture
    from .write import EncodeOptions

_FILE_HEADER, _V4_HEADER = 14, 108
_BI_BITFIELDS = 3
_MASKS = (0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000)  # R, G, B, A of each little-endian pixel
_LCS_SRGB = 0x73524742  # "sRGB": the samples' colour space, as imgconv writes BMP only of sRGB
# Rows written at a time, bottom-up: each strip's BGRA copy is at most this many rows.
_STRIP_ROWS = 256


def pixels_per_metre(dpi: float) -> int:
    """BMP's resolution of ``dpi``, rounded as Pillow's BMP writer rounds it, so that
    BMPs with alpha and without say the same."""
    return int(dpi * 39.3701 + 0.5)


def bmp_v4_header(width: int, height: int, dpi: tuple[float, float]) -> bytes:
    """The file header and BITMAPV4HEADER of a bottom-up 32-bit BMP with an alpha mask,
    ``dpi`` (0, 0) for no resolution."""
    image_size = width * height * 4
    offset = _FILE_HEADER + _V4_HEADER
    info = struct.pack("<IiiHHIIiiII4II36x12x", _V4_HEADER, width, height, 1, 32, _BI_BITFIELDS, image_size,
                       pixels_per_metre(dpi[0]), pixels_per_metre(dpi[1]), 0, 0, *_MASKS, _LCS_SRGB)
    return b"BM" + struct.pack("<IHHI", offset + image_size, 0, 0, offset) + info


def write_bmp(frames: list[np.ndarray], picture: "Picture", record: "Format", metadata: dict[str, Any],
              asked: "EncodeOptions", name: str, out: BinaryIO) -> None:
    """A BMP with the input's resolution, else 0 pixels per metre, BMP's "unspecified"
    (Pillow's default says 96 dpi, which the input did not): grey and RGB by Pillow,
    with alpha as a 32-bit BMP with an alpha mask (`bmp_v4_header`)."""
    samples = frames[0]
    dpi = metadata.get("dpi", (0, 0))
    if samples.ndim == 2 or samples.shape[2] in (1, 3):
        encode_pillow(frames, picture, record.name, {**metadata_options(metadata), "dpi": dpi}, name, out)
        return
    height, width = samples.shape[:2]
    if _FILE_HEADER + _V4_HEADER + width * height * 4 > 0xFFFFFFFF:
        raise ImageWriteError(f"{name}: {width}x{height} with alpha is larger than a BMP holds (4 GiB, its "
                              "size field's 32 bits); write PNG or TIFF")
    out.write(bmp_v4_header(width, height, dpi))
    order = [2, 1, 0, 3] if samples.shape[2] == 4 else [0, 0, 0, 1]  # BGRA; grey with alpha as B = G = R
    for bottom in range(height, 0, -_STRIP_ROWS):
        out.write(np.ascontiguousarray(samples[max(0, bottom - _STRIP_ROWS):bottom][::-1][..., order]).data)
