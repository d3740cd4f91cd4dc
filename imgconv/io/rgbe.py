"""Radiance RGBE (``.hdr``) pictures, which Pillow does not read: decoded by imagecodecs
(Greg Ward's format, Bruce Walter's reader) into 32-bit float RGB, the samples as
stored (an EXPOSURE line, which says how they were scaled, changes none).

Each pixel is a shared exponent and three 8-bit mantissas, ``m * 2**(e - 136)`` (0 where
the exponent is 0), as ImageMagick decodes them too (Radiance's own tools add 0.5 to m).
Rows are stored flat (4 bytes a pixel) or, from 8 to 32767 pixels wide, run-length
coded channel by channel, which cannot take fewer than 4 bytes a row and 2 bytes for
every 127 pixels of a channel: a file too short for its header's size is refused before
anything is allocated.
"""

import math
import re

from ..errors import ImageReadError
from .budget import PixelBudget
from .deep import deep_picture
from .picture import Picture

_SIGNATURES = (b"#?RADIANCE\n", b"#?RGBE\n")
# The size line after the header's blank line: rows from the top, pixels from the left,
# the only orientation the reader takes.
_SIZE = re.compile(rb"-Y (\d+) \+X (\d+)\n")
# The header's format line: RGB samples; Radiance's other format, 32-bit_rle_xyze, holds
# CIE XYZ, which the reader would give as RGB.
_FORMAT = re.compile(rb"\nFORMAT=([^\n]*)")
_RGB = b"32-bit_rle_rgbe"
_RUN_LENGTH_WIDTHS = range(8, 0x8000)
_RUN = 127  # the most pixels a run or a literal packet of a channel gives


def is_rgbe(data: bytes) -> bool:
    return data.startswith(_SIGNATURES)


def picture_from_rgbe(data: bytes, name: str, budget: PixelBudget) -> Picture:
    """The 32-bit float RGB picture of a Radiance file, its size taken from ``budget``
    and checked against the file's length before its pixels are decoded."""
    import imagecodecs

    blank = data.find(b"\n\n")
    size = _SIZE.match(data, blank + 2) if blank >= 0 else None
    if size is None:
        raise ImageReadError(f"{name}: a damaged or unsupported Radiance HDR file: no '-Y height +X width' line "
                             "after its header (the one orientation imgconv reads)")
    form = _FORMAT.search(data, 0, blank)
    if form is not None and form[1] != _RGB:
        raise ImageReadError(f"{name}: unsupported by the decoders imgconv uses: a Radiance HDR file of "
                             f"{form[1].decode('ascii', 'replace')} samples (XYZ), not {_RGB.decode()} (RGB)")
    height, width = int(size[1]), int(size[2])
    if not width or not height:
        raise ImageReadError(f"{name}: a damaged Radiance HDR file: its size is {width} x {height}")
    budget.take(width, height)
    row = 4 + 4 * 2 * math.ceil(width / _RUN) if width in _RUN_LENGTH_WIDTHS else 4 * width
    available = len(data) - size.end()
    if available < row * height:
        raise ImageReadError(f"{name}: truncated: its header claims {width} x {height} pixels, more than its "
                             f"{available} bytes of Radiance data can hold (at least {row * height})")
    try:
        samples = imagecodecs.rgbe_decode(data)
    except imagecodecs.RgbeError as exc:
        raise ImageReadError(f"{name}: corrupt or truncated image ({exc})") from None
    return deep_picture([samples], "HDR", {}, name)
