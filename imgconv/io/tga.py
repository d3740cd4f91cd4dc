"""A run-length TGA's pixels expanded here, for Pillow to read as an uncompressed one.

A TGA run-length packet repeats one pixel, or gives up to 128 pixels as they are, and
may run on past the end of its row: the original specification allows it, and
encoders write such packets (image-rs's test suite holds 128-pixel runs across rows
75 pixels wide). TGA 2.0 asks encoders to end packets at rows; its readers (image-rs,
ImageMagick) still read them. Pillow's decoder refuses a repeated pixel that runs past
its row ("buffer overrun"), so the pixels are expanded here, by that same decoder, as
one row of all the image's pixels that no packet can run past; Pillow then reads them
as raw rows: its orientation, colour map and alpha rules apply as to an uncompressed TGA.
"""

import io
from typing import TYPE_CHECKING

from ..errors import ImageReadError

if TYPE_CHECKING:
    from PIL import ImageFile

# TGA 2.0's footer, which Pillow looks for at the end of the file (its alpha rule).
_FOOTER = 26
# A mode of Pillow's whose raw bytes are each of the TGA's pixel sizes as stored.
_AS_STORED = {8: "L", 16: "LA", 24: "RGB", 32: "RGBA"}


def expand_runs(image: "ImageFile.ImageFile", data: bytes, name: str) -> None:
    """Give Pillow's TGA ``image``, opened from ``data``, its run-length pixels expanded
    as one raw tile; nothing for any other image. A packet past the image's last pixel
    is cut there (every pixel is given); data that ends before the last pixel is
    refused as truncated. The caller has taken the image's size from its budget."""
    from PIL import Image, ImageFile

    if image.format != "TGA" or len(image.tile) != 1 or image.tile[0].codec_name != "tga_rle":
        return
    tile = image.tile[0]
    if not isinstance(tile.args, tuple) or tile.args[2] not in _AS_STORED:
        return  # Pillow refuses it
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
