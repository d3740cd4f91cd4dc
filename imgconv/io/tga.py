"""A TGA's pixels checked and expanded here, for Pillow to read as an uncompressed one,
and its 5-bit colours scaled to 8 bits as BMP's are.

A TGA run-length packet repeats one pixel, or gives up to 128 pixels as they are, and
may run on past the end of its row: the original specification allows it, and
encoders write such packets (image-rs's test suite holds 128-pixel runs across rows
75 pixels wide). TGA 2.0 asks encoders to end packets at rows; its readers (image-rs,
ImageMagick) still read them. Pillow's decoder refuses a repeated pixel that runs past
its row ("buffer overrun"), so the pixels are expanded here, by that same decoder, as
one row of all the image's pixels that no packet can run past; Pillow then reads them
as raw rows: its orientation, colour map and alpha rules apply as to an uncompressed TGA.

A 16-bit pixel or colour-map entry holds 5 bits of each colour and one attribute bit.
Where the header declares no attribute bits, or a TGA 2.0 extension says its attribute
data is not alpha (types 0 to 2), the bit is no alpha and the picture is opaque, as
ImageMagick, image-rs and gdk-pixbuf read it (Pillow takes a set bit for transparent
whatever the header says). Where alpha is declared, a set bit is transparent, as Pillow
and GIMP read it (ImageMagick reads it opaque: the specification does not say).

A colour-mapped pixel whose index is outside its map has no colour: Pillow shows it
black, gdk-pixbuf transparent; it is refused as damaged, as a BMP's is. Pillow floors
each 5-bit field of a 16-bit pixel or map entry (30 is 246); it is rounded here
(``round(v * 255 / 31)``, 30 is 247), as `imgconv.io.bmp` scales a BMP's.
"""

import io
import struct
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ImageReadError
from .claims import check_colour_map

if TYPE_CHECKING:
    from PIL import ImageFile

# TGA 2.0's footer, which Pillow looks for at the end of the file (its alpha rule).
_FOOTER = 26
# A mode of Pillow's whose raw bytes are each of the TGA's pixel sizes as stored.
_AS_STORED = {8: "L", 16: "LA", 24: "RGB", 32: "RGBA"}
_MAPPED, _TRUE_COLOUR = (1, 9), (2, 10)  # image types, uncompressed and run-length
# Pillow's 8-bit sample of each 5-bit value (floor(v * 255 / 31)) to the rounded one.
_FIVE_BITS = np.zeros(256, np.uint8)
_FIVE_BITS[np.arange(32) * 255 // 31] = (np.arange(32) * 255 + 15) // 31


def openable(data: bytes) -> bytes:
    """``data``, a TGA's colour map of 15-bit entries (which Pillow refuses) said to be of
    16 bits, the same entries, their top bit no alpha (`prepare`); any other file as it is.
    Signature formats' second byte is never 1, a TGA's with a colour map always."""
    if len(data) > 17 and data[1] == 1 and data[2] in (*_MAPPED, *_TRUE_COLOUR) and data[7] == 15:
        return data[:7] + b"\x10" + data[8:]
    return data


def prepare(image: "ImageFile.ImageFile", data: bytes, name: str) -> None:
    """Give Pillow's TGA ``image``, opened from ``data``, its run-length pixels expanded
    as one raw tile, and check its colour-map indices; nothing for any other image. A
    packet past the image's last pixel is cut there (every pixel is given); data that
    ends before the last pixel is refused as truncated. The caller has taken the
    image's size from its budget."""
    if image.format != "TGA" or len(image.tile) != 1:
        return
    if data[2] in _TRUE_COLOUR:
        image.palette = None  # a true-colour image's colour map is no part of its pixels
    if not _alpha_declared(data):
        _without_attribute_bit(image, data)
    tile = image.tile[0]
    pixels = _expand_runs(image, data, name) if tile.codec_name == "tga_rle" else memoryview(data)[tile.offset or 0:]
    if pixels is not None and data[2] in _MAPPED and data[1] and data[16] == 8:
        first, length = struct.unpack_from("<HH", data, 3)
        check_colour_map(np.frombuffer(pixels, np.uint8, min(image.size[0] * image.size[1], len(pixels))), first,
                         length, name, "TGA")


def _alpha_declared(data: bytes) -> bool:
    """Whether a TGA declares attribute bits that a TGA 2.0 extension, if any, does not
    call other than alpha (its attributes type, byte 494)."""
    if not data[17] & 0x0F or (data[1] and data[7] == 15 and data[2] in _MAPPED):  # 15 bits: no attribute bit
        return False
    if len(data) < _FOOTER or not data.endswith(b"TRUEVISION-XFILE.\x00"):
        return True
    extension = int.from_bytes(data[-_FOOTER:-_FOOTER + 4], "little")
    return not extension or extension + 494 >= len(data) or data[extension + 494] > 2


def _without_attribute_bit(image: "ImageFile.ImageFile", data: bytes) -> None:
    """Have Pillow read a TGA's 16-bit pixels or colour-map entries as opaque colours."""
    from PIL import ImageFile, ImagePalette

    tile = image.tile[0]
    if data[2] in _TRUE_COLOUR and data[16] == 16 and image.mode == "RGBA" and isinstance(tile.args, tuple):
        image._mode = "RGB"
        image.tile = [ImageFile._Tile(tile.codec_name, tile.extents, tile.offset, ("BGR;15", *tile.args[1:]))]
    elif data[2] in _MAPPED and data[1] and data[7] in (15, 16) and image.palette is not None:
        first, length = struct.unpack_from("<HH", data, 3)
        start = 18 + data[0]
        image.palette = ImagePalette.raw("BGR;15", bytes(2 * first) + data[start:start + 2 * length])


def round_five_bits(image: "ImageFile.ImageFile", data: bytes, samples: np.ndarray) -> None:
    """Round the colours of a TGA of 16-bit pixels or colour-map entries, in ``samples``
    as Pillow read them; nothing for any other image."""
    if image.format == "TGA" and ((data[2] in _TRUE_COLOUR and data[16] in (15, 16))
                                  or (data[2] in _MAPPED and data[1] and data[7] in (15, 16))):
        samples[..., :3] = _FIVE_BITS[samples[..., :3]]


def _expand_runs(image: "ImageFile.ImageFile", data: bytes, name: str) -> bytes | None:
    """A run-length TGA's pixels, expanded and given to ``image`` as one raw tile
    (`prepare`); None where Pillow refuses its depth."""
    from PIL import Image, ImageFile

    tile = image.tile[0]
    if not isinstance(tile.args, tuple) or tile.args[2] not in _AS_STORED:
        return None  # Pillow refuses it
    rawmode, orientation, depth = tile.args
    mode, total = _AS_STORED[depth], image.size[0] * image.size[1]
    try:
        pixels = Image.frombytes(mode, (total, 1), data[tile.offset or 0:], "tga_rle", mode, 1, depth).tobytes()
    except ValueError:  # "not enough image data"
        raise ImageReadError(f"{name}: truncated: its run-length data ends before its last pixel, "
                             f"of {total}") from None
    # The pixels go before the file's last bytes, so that its footer stays at the end
    # and the offsets it holds still point where they did.
    cut = max(len(data) - _FOOTER, 0)
    image.fp = io.BytesIO(data[:cut] + pixels + data[cut:])
    image.tile = [ImageFile._Tile("raw", tile.extents, cut, (rawmode, 0, orientation))]
    return pixels
