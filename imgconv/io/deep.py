"""Pictures of samples Pillow cannot hold, kept in their own type: 16-bit colour PNGs by
libpng, 16-bit SGI images, DDS textures of half floats, JPEGs of 9 to 16 bits (at 16 bits) and
`.npy` arrays."""

import math
from typing import Any, cast

import numpy as np

from .. import npyfile
from ..errors import ImageReadError
from . import formats
from .budget import PixelBudget
from .formats import NPY
from .picture import Picture


def deep_picture(arrays: list[np.ndarray], fmt: str, metadata: dict[str, Any], name: str,
                 encoding: dict[str, Any] | None = None) -> Picture:
    """The picture of samples Pillow cannot hold, kept in their own type (in the
    machine's byte order)."""
    arrays = [a.astype(a.dtype.newbyteorder("="), copy=False) for a in arrays]
    channels = 1 if arrays[0].ndim == 2 else arrays[0].shape[2]
    mode = formats.mode_of(arrays[0].dtype, channels)
    if mode is None or arrays[0].dtype == np.bool_:
        raise ImageReadError(f"{name}: {channels} channel(s) of {arrays[0].dtype} samples: not an image imgconv reads")
    return Picture(arrays, mode, fmt, metadata, encoding or {})


def picture_from_deep_png(data: bytes, metadata: dict[str, Any], name: str) -> Picture:
    """A 16-bit colour PNG (not animated) by libpng."""
    import imagecodecs

    return deep_picture([imagecodecs.png_decode(data)], "PNG", metadata, name)


def picture_from_half_float_dds(data: bytes, metadata: dict[str, Any], name: str) -> Picture:
    """A DDS texture of BC6H blocks (16-bit floats, unsigned or signed: HDR colour) as
    imagecodecs decodes its first image: Pillow gives 8 bits, clipped to 0-1."""
    import imagecodecs

    return deep_picture([np.asarray(imagecodecs.dds_decode(data))], "DDS", metadata, name)


def picture_from_deep_sgi(data: bytes, size: tuple[int, int], channels: int, metadata: dict[str, Any],
                          name: str) -> Picture:
    """An SGI image of 16 bits a sample (its header's BPC 2), of ``size`` (width, height)
    and ``channels`` as Pillow read its header: Pillow keeps only each sample's high byte.
    Planes are stored one after the other, rows bottom first, big-endian, verbatim or
    run-length coded row by row (its header's STORAGE 0 or 1)."""
    width, height = size
    if data[2] == 0:
        count = width * height * channels
        if len(data) < _SGI_HEADER + 2 * count:
            raise ImageReadError(f"{name}: truncated: its header claims {width} x {height} x {channels} 16-bit "
                                 f"samples, more than its {len(data) - _SGI_HEADER} bytes of SGI data hold")
        planes = np.frombuffer(data, ">u2", count, _SGI_HEADER).reshape(channels, height, width)
    else:
        planes = _sgi_rle_planes(data, channels, height, width, name)
    samples = np.moveaxis(planes[:, ::-1], 0, -1)
    return deep_picture([samples[..., 0] if channels == 1 else samples], "SGI", metadata, name)


_SGI_HEADER = 512


def _sgi_rle_planes(data: bytes, channels: int, height: int, width: int, name: str) -> np.ndarray:
    """The planes of a run-length coded 16-bit SGI image: each row (plane by plane,
    bottom first) found by its start and length in the tables after the header. Rows
    may share their data (each is decoded once) but not overlap otherwise: a small file
    of overlapping rows would cost a decoding as long as its pixels are many."""
    rows = channels * height
    if len(data) < _SGI_HEADER + 8 * rows:
        raise ImageReadError(f"{name}: truncated: its run-length tables end past the file's end")
    tables = np.frombuffer(data, ">u4", 2 * rows, _SGI_HEADER).astype(np.int64).reshape(2, rows)
    spans = np.unique(tables, axis=1)  # (start, length) of each distinct row, by start
    if (spans[0, 1:] < spans[0, :-1] + spans[1, :-1]).any():
        raise ImageReadError(f"{name}: a damaged SGI file: the data of its run-length rows overlap")
    decoded = {(int(start), int(length)): _sgi_rle_row(data[start:start + length], width, name)
               for start, length in spans.T}
    return np.stack([decoded[int(start), int(length)] for start, length in tables.T]).reshape(channels, height, width)


def _sgi_rle_row(coded: bytes, width: int, name: str) -> np.ndarray:
    """A row of a run-length coded 16-bit SGI image: 16-bit units, each a count (low 7
    bits; 0 ends the row) of samples that follow (high bit set) or of the one sample
    that follows, repeated."""
    units = np.frombuffer(coded, ">u2", len(coded) // 2).tolist()
    row, position, at = np.empty(width, np.uint16), 0, 0
    while at < len(units) and units[at] & 0x7F:
        count, literal = units[at] & 0x7F, units[at] & 0x80
        taken = units[at + 1:at + 1 + count] if literal else units[at + 1:at + 2] * count
        if position + count > width or len(taken) != count:
            break
        row[position:position + count] = taken
        position, at = position + count, at + 1 + (count if literal else 1)
    if position != width:
        raise ImageReadError(f"{name}: corrupt or truncated image (a run-length row of the SGI image gives "
                             f"{position} samples where its width is {width})")
    return row


def picture_from_npy(data: bytes, name: str, budget: PixelBudget) -> Picture:
    header = npyfile.read_header(data, name, ImageReadError)
    if len(header.shape) not in (2, 3) or 0 in header.shape:
        raise ImageReadError(f"{name}: expected an (H, W) or (H, W, C) array, got shape {header.shape}")
    budget.take(*header.shape[:2], *[math.ceil(c / 4) for c in header.shape[2:]])
    array = npyfile.array(data, header, name, ImageReadError)
    array = array.astype(array.dtype.newbyteorder("="), copy=False)
    channels = 1 if array.ndim == 2 else array.shape[2]
    mode = formats.mode_of(array.dtype, channels) or (formats.MULTICHANNEL if channels > 4 else None)
    if mode is None:
        raise ImageReadError(f"{name}: {array.dtype} samples: not an image imgconv reads")
    return Picture([array], mode, NPY)


# JPEG's start-of-frame markers: every SOFn but DHT (C4), JPG (C8) and DAC (CC).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# The precisions libjpeg-turbo decodes beyond Pillow's 8 bits: 12 (lossy or lossless) and
# 9 to 16 (lossless, SOF3).
_DEEP_BITS = range(9, 17)


def jpeg_precision(data: bytes) -> int | None:
    """Where a JPEG's frame header gives its bits a sample (the byte's offset), or None
    where ``data`` is no JPEG or its markers end first."""
    if not data.startswith(b"\xff\xd8"):
        return None
    position = 2
    while position + 4 < len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker in _SOF:
            return position + 4
        if marker == 0xFF:  # a fill byte
            position += 1
        elif marker in (0xD9, 0xDA):  # the end, or scan data before any frame header
            return None
        else:
            position += 2 + int.from_bytes(data[position + 2:position + 4], "big")
    return None


def deep_jpeg(data: bytes) -> bool:
    """Whether ``data`` is a JPEG of 9 to 16 bits a sample, which Pillow cannot decode."""
    return (offset := jpeg_precision(data)) is not None and data[offset] in _DEEP_BITS


def openable_jpeg(data: bytes) -> bytes:
    """``data``, a deep JPEG's header (`deep_jpeg`) saying 8 bits, so that Pillow opens it
    for its size, mode and metadata (`picture_from_deep_jpeg` decodes its pixels); any
    other file as it is."""
    offset = jpeg_precision(data)
    if offset is None or data[offset] not in _DEEP_BITS:
        return data
    return data[:offset] + b"\x08" + data[offset + 1:]


def picture_from_deep_jpeg(data: bytes, mode: str, metadata: dict[str, Any], name: str) -> Picture:
    """A grey or colour JPEG (``mode`` L or RGB as Pillow opened its header) of 9 to 16
    bits a sample (12-bit lossy ones, lossless ones of any of those depths) by
    libjpeg-turbo, at 16 bits: each sample scaled to the full range, ``round(v * 65535 /
    (2**bits - 1))``, as imgconv scales every depth below 8 to 8 bits and as PNG's
    specification asks (sBIT aside) of an encoder keeping a 12-bit sample at 16 bits: a
    12-bit photograph is shown as bright as an 8-bit one, and ``round(w * (2**bits - 1) /
    65535)`` gives each sample back."""
    import imagecodecs

    offset = cast("int", jpeg_precision(data))
    bits = data[offset]
    if mode not in ("L", "RGB"):
        raise ImageReadError(f"{name}: a {bits}-bit {mode} JPEG: imgconv reads {bits}-bit grey and colour JPEGs only")
    # libjpeg-turbo fills what a truncated file lacks with grey, without an error; an
    # end marker after the frame header (scan data holds none) says the file is whole.
    if data.rfind(b"\xff\xd9") < offset:
        raise ImageReadError(f"{name}: truncated: a {bits}-bit JPEG without its end marker")
    samples = imagecodecs.jpeg8_decode(data).astype(np.uint64)  # 65535 * 2 * 65535 passes 32 bits
    if samples.ndim == 3 and samples.shape[2] == 1:
        samples = samples[..., 0]
    top = (1 << bits) - 1
    return deep_picture([((samples * 2 * 65535 + top) // (2 * top)).astype(np.uint16)], "JPEG", metadata, name)
