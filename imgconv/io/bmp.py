"""BMPs of 16 or 32 bits a pixel whose colours are bit fields (BI_BITFIELDS, Windows
CE's BI_ALPHABITFIELDS, and 16-bit BI_RGB's implied 5-5-5), decoded here for any
contiguous masks. Pillow reads a few mask layouts and refuses the others ("Unsupported
BMP bitfields layout", bmpsuite's good ``rgb32bf.bmp`` among them), and floors a 5-bit
field (31 is 255, 3 is 24) where bmpsuite's reference pictures, browsers' decoders and
ImageMagick round it (3 is 25).

Each field is scaled to 8 bits, ``round(v * 255 / most)`` where ``most`` is the field's
largest value; a picture with a field wider than 8 bits is kept at 16 bits
(``round(v * 65535 / most)``). An alpha mask makes an alpha channel: BITMAPV3 headers
(56 bytes) and later give one, as does BI_ALPHABITFIELDS; BITMAPINFOHEADER's fourth
byte is reserved, not alpha.
"""

import struct
from typing import Any, NamedTuple

import numpy as np

from ..errors import ImageReadError
from .claims import bmp_runs
from .deep import deep_picture
from .picture import Picture

_BITFIELDS, _ALPHABITFIELDS = 3, 6
_HEADERS = (40, 52, 56, 108, 124)  # Windows' headers (OS/2's 64-byte one codes 3 as Huffman)
_CHANNELS = ("red", "green", "blue", "alpha")
# Masks Pillow opens for 16 and 32 bits a pixel: the file is opened with them for its
# header's other fields (size, resolution, profile), and its pixels decoded here.
_PILLOWS_MASKS = {16: (0xF800, 0x7E0, 0x1F), 32: (0xFF0000, 0xFF00, 0xFF)}


class Fields(NamedTuple):
    """A bit-field BMP's layout: its bits a pixel and its masks (alpha 0 for none)."""

    bits: int
    masks: tuple[int, int, int, int]


def bitfields(data: bytes, name: str) -> Fields | None:
    """The layout of the BMP ``data`` when its pixels are bit fields of 16 or 32 bits,
    else None (Pillow reads it). Refuses masks no decoder can read: a colour's mask of
    no bits, or of bits not in one run, masks that share bits, or a mask wider than a
    pixel."""
    if not data.startswith(b"BM") or len(data) < 14 + 40:
        return None
    size = int.from_bytes(data[14:18], "little")
    bits, coding = struct.unpack_from("<HI", data, 28)
    if size not in _HEADERS or bits not in (16, 32) or coding not in (0, _BITFIELDS, _ALPHABITFIELDS):
        return None
    if coding == 0:
        return Fields(16, (0x7C00, 0x3E0, 0x1F, 0)) if bits == 16 else None
    count = 4 if coding == _ALPHABITFIELDS or size >= 56 else 3
    if len(data) < 54 + 4 * count:
        raise ImageReadError(f"{name}: truncated: its header is cut short before its bit field masks")
    masks = (*struct.unpack_from(f"<{count}I", data, 54), 0)[:4]
    for channel, mask in zip(_CHANNELS, masks, strict=True):
        shifted = mask >> _shift(mask)
        if channel != "alpha" and not mask:
            raise ImageReadError(f"{name}: damaged BMP: its {channel} mask is 0")
        if shifted & (shifted + 1) or mask >> bits:
            raise ImageReadError(f"{name}: damaged BMP: its {channel} mask {mask:#010x} is not one run of bits "
                                 f"within its {bits}-bit pixels")
    for first in range(4):
        for second in range(first + 1, 4):
            if masks[first] & masks[second]:
                raise ImageReadError(f"{name}: damaged BMP: its {_CHANNELS[first]} and {_CHANNELS[second]} masks "
                                     f"share bits ({masks[first]:#010x}, {masks[second]:#010x})")
    return Fields(bits, masks)


def two_bit(data: bytes) -> bool:
    """Whether ``data`` is a BMP of 2 bits a pixel (Windows CE's), uncompressed, which
    Pillow refuses and Chromium reads; `picture_from_two_bit` decodes it."""
    return data.startswith(b"BM") and len(data) >= 14 + 40 and int.from_bytes(data[14:18], "little") in _HEADERS \
        and struct.unpack_from("<HI", data, 28) == (2, 0)


_OS2_SHORT = (16).to_bytes(4, "little")  # the shortest OS/2 2.x header
_WINDOWS = 40  # BITMAPINFOHEADER's size


def full_header(data: bytes) -> bytes:
    """``data``, a BMP whose OS/2 2.x header is cut to its first 16 bytes (size, planes,
    bits; the fields left out are 0: no compression, a full palette of 4-byte entries, as
    in bmpsuite's pal8os2v2-16.bmp), which Pillow refuses, given the 40-byte header of
    those fields, what follows moved on (the same picture, which every reader then
    reads); any other file as it is."""
    if data[:2] != b"BM" or data[14:18] != _OS2_SHORT or len(data) < 30:
        return data
    offset = int.from_bytes(data[10:14], "little") + _WINDOWS - 16
    return data[:10] + struct.pack("<2I", offset, _WINDOWS) + data[18:30] + bytes(_WINDOWS - 16) + data[30:]


def openable(data: bytes, name: str) -> bytes:
    """``data`` as Pillow opens it: a bit-field BMP's masks (`bitfields`, which refuses
    damaged ones) those of a layout Pillow reads, with no alpha, its coding BI_BITFIELDS;
    a 2-bit BMP's bits 1, and its palette 2 colours (its rows are then no longer than
    the file's). Only the header changes; `picture_from_bitfields` and
    `picture_from_two_bit` decode the pixels from the file itself."""
    if two_bit(data):
        return data[:28] + struct.pack("<H", 1) + data[30:46] + struct.pack("<I", 2) + data[50:]
    fields = bitfields(data, name)
    if fields is None or data[30:34] == bytes(4):  # BI_RGB: Pillow reads its header as it is
        return data
    header = bytearray(data[:54 + 16])
    size = int.from_bytes(data[14:18], "little")
    struct.pack_into("<I", header, 30, _BITFIELDS)
    struct.pack_into("<3I", header, 54, *_PILLOWS_MASKS[fields.bits])
    if size >= 56:
        struct.pack_into("<I", header, 66, 0)
    return bytes(header) + data[len(header):]


def picture_from_bitfields(data: bytes, fields: Fields, size: tuple[int, int], metadata: dict[str, Any],
                           name: str) -> Picture:
    """The picture of a bit-field BMP of ``size`` (width, height, as Pillow read its
    header): its rows, bottom first unless its height is negative, each padded to 4
    bytes, from the offset its file header gives."""
    width, height = size
    top_down = struct.unpack_from("<i", data, 22)[0] < 0
    start = int.from_bytes(data[10:14], "little")
    stride = (width * fields.bits + 31) // 32 * 4
    needed = stride * height
    if len(data) < start + needed:
        raise ImageReadError(f"{name}: truncated: its {width} x {height} pixels of {fields.bits} bits take "
                             f"{needed} bytes from byte {start}, and the file ends {max(len(data) - start, 0)} "
                             "bytes after it")
    kind = "<u2" if fields.bits == 16 else "<u4"
    pixels = np.frombuffer(data, kind, needed // (fields.bits // 8), start).reshape(height, -1)[:, :width]
    if not top_down:
        pixels = pixels[::-1]
    masks = [mask for mask in fields.masks if mask]
    deep = max(bin(mask).count("1") for mask in masks) > 8
    top = 65535 if deep else 255
    channels = [_scaled(pixels, mask, top) for mask in masks]
    array = np.stack(channels, axis=2).astype(np.uint16 if deep else np.uint8)
    return deep_picture([array], "BMP", metadata, name)


def picture_from_two_bit(data: bytes, size: tuple[int, int], metadata: dict[str, Any], name: str) -> Picture:
    """The picture of a 2-bit BMP (`two_bit`) of ``size`` (width, height): its palette
    (the colours its header says it uses, else 4), then its rows, bottom first unless
    its height is negative, 4 pixels a byte from the highest bits, padded to 4 bytes."""
    width, height = size
    header = int.from_bytes(data[14:18], "little")
    colours = int.from_bytes(data[46:50], "little") or 4
    if colours > 4:
        raise ImageReadError(f"{name}: damaged BMP: its palette of {colours} colours is more than 2 bits index")
    start, stride = int.from_bytes(data[10:14], "little"), (width * 2 + 31) // 32 * 4
    if len(data) < max(start + stride * height, 14 + header + 4 * colours):
        raise ImageReadError(f"{name}: truncated: its {width} x {height} pixels of 2 bits and its palette "
                             "do not fit in the file")
    palette = np.frombuffer(data, np.uint8, 4 * colours, 14 + header).reshape(colours, 4)[:, 2::-1]
    rows = np.frombuffer(data, np.uint8, stride * height, start).reshape(height, stride)
    indices = np.stack([rows >> 6, rows >> 4 & 3, rows >> 2 & 3, rows & 3], axis=2).reshape(height, -1)[:, :width]
    if indices.max(initial=0) >= colours:
        raise ImageReadError(f"{name}: damaged BMP: a pixel's palette index is {indices.max()}, past its "
                             f"{colours} colours")
    if struct.unpack_from("<i", data, 22)[0] > 0:
        indices = indices[::-1]
    return deep_picture([palette[indices]], "BMP", metadata, name)


def run_length(data: bytes) -> bool:
    """Whether ``data`` is a run-length BMP (RLE8 or RLE4) of a Windows header."""
    return (len(data) >= 34 and data[:2] == b"BM" and int.from_bytes(data[14:18], "little") in _HEADERS
            and struct.unpack_from("<HI", data, 28) in ((8, 1), (4, 2)))


def picture_from_runs(data: bytes, size: tuple[int, int], metadata: dict[str, Any], name: str) -> Picture:
    """The picture of a run-length BMP (`run_length`, checked by `claims.check_bmp`) of
    ``size``: its palette (the colours its header says it uses, else all its bits index)
    through its runs. Pillow wraps an absolute run that ends past its row into the next
    row (an odd-width RLE4 row's last pair, whose second pixel is padding, blanked the
    next row of TwelveMonkeys' blauesglas_4.rle), so the runs are decoded here. Pixels
    the data leaves unwritten have no colour: they are transparent (RGBA), which
    ``--background`` fills. A palette of greys in order (0 and 255 for two colours) is
    grey, as Pillow reads it."""
    width, height = size
    header, bits = int.from_bytes(data[14:18], "little"), data[28]
    colours = int.from_bytes(data[46:50], "little") or 1 << bits
    entries = np.frombuffer(data, np.uint8, min(4 * colours, max(len(data) - 14 - header, 0)) // 4 * 4, 14 + header)
    palette = entries.reshape(-1, 4)[:, 2::-1]
    indices = np.full((height, width), -1, np.int16)
    bmp_runs(data, int.from_bytes(data[10:14], "little"), width, height, bits, name, indices)
    indices = indices[::-1]
    unwritten = indices < 0
    if indices.max(initial=-1) >= len(palette):
        raise ImageReadError(f"{name}: damaged BMP: a pixel's palette index is {indices.max()}, past its "
                             f"{len(palette)} colours")
    levels = np.array([0, 255]) if len(palette) == 2 else np.arange(len(palette))
    if np.array_equal(palette, np.repeat(levels[:, None], 3, axis=1)):
        palette = palette[:, :1]
    pixels = palette[np.maximum(indices, 0)]
    if unwritten.any():
        alpha = np.where(unwritten, 0, 255).astype(np.uint8)[..., None]
        pixels = np.concatenate([np.broadcast_to(pixels, (height, width, 3)) * (alpha > 0), alpha], axis=2)
    return deep_picture([np.ascontiguousarray(pixels.squeeze(-1) if pixels.shape[-1] == 1 else pixels)], "BMP",
                        metadata, name)


def _scaled(pixels: np.ndarray, mask: int, top: int) -> np.ndarray:
    """The field of ``mask`` in each pixel, scaled to 0..``top``, rounded half up
    (exactly, in integers: ``(2 * v * top + most) // (2 * most)``)."""
    most = mask >> _shift(mask)
    values = (pixels.astype(np.uint64) & mask) >> np.uint64(_shift(mask))
    return (2 * values * top + most) // (2 * most)


def _shift(mask: int) -> int:
    """The position of a mask's lowest set bit (0 for no bits)."""
    return (mask & -mask).bit_length() - 1 if mask else 0
