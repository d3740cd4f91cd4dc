"""PCX files beyond Pillow's reader: uncompressed ones, and the 4, 8 and 16-colour
layouts of the EGA era.

A PCX's header says whether its rows are run-length coded (encoding 1) or stored as
they are (encoding 0). Pillow decodes every PCX as run-length coded: a stored byte of
0xC0 or more is taken for a run, which shifts the pixels after it or overruns the image.
Such a file is given to Pillow with those bytes coded as runs of one, the same pixels.

Pillow reads 1 bit a pixel in 1, 2 or 4 planes and 8 bits in 1 or 3; ImageMagick (and
libvips through it) also reads 2 or 4 bits in one plane and 1 bit in 3 planes, indices
into the header's 16-colour palette. Those are read here, their rows decoded by
Pillow's run-length decoder as one wide grey image. Other layouts (24 or 32 bits in
one plane, which no peer reads) are refused, naming the layout.
"""

import io
import struct

import numpy as np

from ..errors import ImageReadError
from .budget import PixelBudget
from .deep import deep_picture
from .metadata import checked_resolution
from .picture import Picture

_HEADER = 128
# (bits a pixel in a plane, planes) of the layouts Pillow reads, and of those read here.
_PILLOWS = frozenset([(1, 1), (1, 2), (1, 4), (8, 1), (8, 3)])
_OWN = frozenset([(2, 1), (4, 1), (1, 3)])


def _is_pcx(data: bytes) -> bool:
    """Pillow's test of a PCX (its first bytes), with a whole header."""
    return len(data) >= _HEADER and data[0] == 10 and data[1] in (0, 2, 3, 5)


def _layout(data: bytes) -> tuple[int, int]:
    return data[3], data[65]


def openable(data: bytes) -> bytes:
    """``data``, an uncompressed PCX, with its bytes of 0xC0 and more coded as runs of
    one and its header saying run-length coding, as Pillow decodes every PCX; any other
    file as it is. What follows the rows (a 256-colour palette) is left as it is."""
    if not _is_pcx(data) or data[2] != 0:
        return data
    _, _, planes, stride, height = _geometry(data)
    end = min(len(data), _HEADER + planes * stride * max(height, 0))
    rows = np.frombuffer(data, np.uint8, end - _HEADER, _HEADER)
    coded = np.insert(rows, np.flatnonzero(rows >= 0xC0), np.uint8(0xC1))
    return data[:2] + b"\x01" + data[3:_HEADER] + coded.tobytes() + data[end:]


def _geometry(data: bytes) -> tuple[int, int, int, int, int]:
    """(width, bits, planes, bytes a plane's row, height) of a PCX's header."""
    left, top, right, bottom = struct.unpack_from("<4H", data, 4)
    return right - left + 1, data[3], data[65], struct.unpack_from("<H", data, 66)[0], bottom - top + 1


def lacking(data: bytes) -> bool:
    """Whether ``data`` is a PCX of a layout Pillow does not read (`picture_from_pcx`):
    Pillow reads 8 bits a pixel only in a PCX of version 5."""
    return _is_pcx(data) and (_layout(data) not in _PILLOWS or (data[3] == 8 and data[1] != 5))


def picture_from_pcx(data: bytes, name: str, budget: PixelBudget) -> Picture:
    """The RGB picture of a PCX of 2 or 4 bits a pixel in one plane, or 1 bit in 3
    planes (plane 0 the lowest bit of an index), its colours the header's palette, its
    size taken from ``budget`` before its rows are decoded; any other layout Pillow
    lacks is refused."""
    from PIL import Image

    width, bits, planes, stride, height = _geometry(data)
    if (bits, planes) not in _OWN:
        raise ImageReadError(f"{name}: unsupported by the decoders imgconv uses: a PCX (version {data[1]}) of "
                             f"{planes} plane{'s' if planes != 1 else ''} of {bits} bits a pixel; imgconv reads 1 "
                             "bit in 1 to 4 planes, 2 or 4 bits in one, and 8 bits in 1 or 3 (version 5)")
    if width < 1 or height < 1 or stride * 8 < width * bits:
        raise ImageReadError(f"{name}: a damaged PCX: its rows of {stride} bytes a plane cannot hold its {width} x "
                             f"{height} pixels of {bits} bits")
    budget.take(width, height)
    # The same rows as one grey image, planes * stride bytes wide, for Pillow's decoder.
    wide = data[:1] + b"\x05\x01\x08" + struct.pack("<4H", 0, 0, planes * stride - 1, height - 1) \
        + data[12:65] + b"\x01" + struct.pack("<H", planes * stride) + openable(data)[68:]
    try:
        with Image.open(io.BytesIO(wide), formats=["PCX"]) as image:
            rows = np.asarray(image).reshape(height, planes, stride)
    except (OSError, ValueError) as exc:
        raise ImageReadError(f"{name}: corrupt or truncated image ({exc})") from None
    if planes == 1:
        shifts = np.arange(8 - bits, -1, -bits, dtype=np.uint8)
        indices = (rows[:, 0, :, None] >> shifts) & ((1 << bits) - 1)
    else:
        indices = (np.unpackbits(rows, axis=2) << np.arange(planes, dtype=np.uint8)[:, None]).sum(axis=1)
    palette = np.frombuffer(data, np.uint8, 48, 16).reshape(16, 3)
    dpi = checked_resolution(struct.unpack_from("<HH", data, 12))
    return deep_picture([palette[indices.reshape(height, -1)[:, :width]]], "PCX", {"dpi": dpi} if dpi else {}, name)
