"""A PNG writer that uses every core: vectorised row filtering, deflate in parallel.

Writing a 4K photograph as PNG with Pillow takes far longer than filtering it, because
zlib runs on one core. PNG's image data is one zlib stream, but a deflate stream may be
made of pieces compressed independently, each ending on a byte boundary (a sync
flush), so the rows are cut into pieces that threads compress at once (zlib releases
the GIL), then joined under one zlib header and one Adler-32 checksum.

Every row uses the "Sub" filter (each byte minus the same byte of the pixel to its
left): one vectorised subtraction, and on photographs nearly as small as Pillow's
adaptive choice at a fraction of the time.
"""

import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .vocabulary import DEFAULT_COMPRESS_LEVEL

# Pillow mode -> (PNG colour type, bit depth)
COLOUR_TYPES = {"L": (0, 8), "LA": (4, 8), "RGB": (2, 8), "RGBA": (6, 8),
                "I;16": (0, 16), "LA;16": (4, 16), "RGB;16": (2, 16), "RGBA;16": (6, 16)}
_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SUB = 1
_PIECE_BYTES = 1 << 21  # about 2 MB of rows per parallel piece


def _chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def encode_png(samples, mode, *, level=DEFAULT_COMPRESS_LEVEL, icc_profile=None, exif=None, xmp=None, threads=None):
    """PNG bytes for (H, W) or (H, W, C) samples in one of the modes of `COLOUR_TYPES`.

    Parameters
    ----------
    samples : numpy.ndarray
        uint8 samples, or uint16 for the 16-bit modes.
    mode : str
        ``L``, ``LA``, ``RGB``, ``RGBA``, or 16-bit ``I;16``, ``LA;16``, ``RGB;16``, ``RGBA;16``.
    level : int
        zlib compression level, 0 (none) to 9 (smallest, slowest).
    icc_profile, exif, xmp : bytes, optional
        Stored as ``iCCP``, ``eXIf`` and (XMP, as Adobe specifies) ``iTXt`` chunks.
    threads : int, optional
        Pieces compressed at once; default all CPUs. The bytes do not depend on it.
    """
    colour_type, depth = COLOUR_TYPES[mode]
    height, width = samples.shape[:2]
    if depth == 16:
        samples = samples.astype(">u2")  # PNG stores 16-bit samples big-endian
    rows = np.ascontiguousarray(samples).view(np.uint8).reshape(height, -1)
    pixel_bytes = rows.shape[1] // width
    rows_per_piece = max(1, _PIECE_BYTES // (rows.shape[1] + 1))
    starts = range(0, height, rows_per_piece)

    def compress(start):
        piece = rows[start : start + rows_per_piece]
        raw = np.empty((piece.shape[0], piece.shape[1] + 1), np.uint8)
        raw[:, 0] = _SUB
        raw[:, 1:] = piece
        raw[:, 1 + pixel_bytes :] -= piece[:, :-pixel_bytes]  # wraps modulo 256, as PNG wants
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)  # raw deflate: no header
        data = compressor.compress(raw)
        last = start + rows_per_piece >= height
        data += compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
        return data, zlib.adler32(raw), raw.nbytes

    with ThreadPoolExecutor(threads or os.cpu_count() or 1) as pool:
        pieces = list(pool.map(compress, starts))
    checksum = 1
    for _, adler, length in pieces:
        checksum = _adler32_combine(checksum, adler, length)
    # The zlib header: deflate with a 32 KiB window (0x78), no preset dictionary, and the
    # "fastest" level hint (0x01, advisory only), which makes 0x7801 a multiple of 31.
    stream = b"\x78\x01" + b"".join(data for data, _, _ in pieces) + struct.pack(">I", checksum)

    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    out = [_SIGNATURE, _chunk(b"IHDR", header)]
    if icc_profile:
        out.append(_chunk(b"iCCP", b"ICC profile\0\0" + zlib.compress(icc_profile)))
    if exif:
        out.append(_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\0\0") else exif))
    if xmp:
        # keyword, then uncompressed, no language tag, no translated keyword
        out.append(_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + xmp))
    out += [_chunk(b"IDAT", stream), _chunk(b"IEND", b"")]
    return b"".join(out)


def _adler32_combine(first, second, second_length):
    """The Adler-32 of two byte strings joined, from theirs (zlib's adler32_combine)."""
    base = 65521
    remainder = second_length % base
    a1, b1 = first & 0xFFFF, first >> 16
    a2, b2 = second & 0xFFFF, second >> 16
    a = (a1 + a2 - 1) % base
    b = (b1 + b2 + remainder * a1 - remainder) % base
    return (b << 16) | a
