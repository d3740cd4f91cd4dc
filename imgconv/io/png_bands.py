"""A large PNG decoded by libpng a band of rows at a time, its file's memory given back
as it is read.

`imagecodecs.png_decode` decodes a whole file held in memory, so the file and the
decoded image are held together: a 12000x8400 RGB PNG of 181 MiB beside its 288 MiB
of samples. Here the image data (the IDAT chunks' zlib stream) is inflated a band of
rows at a time (by ISA-L); each band, with the row above it unfiltered, is made into a
small PNG of its own (stored, not compressed) which libpng unfilters, so that the
samples are libpng's; and the file's pages read are released where its reader gave
them up (`imgconv.io.pages.giving_up`). Damaged image data is refused as libpng
refuses it: a checksum that does not match, a stream that ends before the last row or
is cut short; data beyond the rows is ignored. The file has been checked (`imgconv.io.chunks`):
critical chunks' CRCs, and nothing but IDAT and IEND after the first IDAT.
"""

import struct
import zlib

import numpy as np

from . import pages
from .chunks import PNG_SIGNATURE, chunk, image_data

# Files of at least this many bytes are decoded in bands: below it the file held beside
# the samples costs little, and damage is refused in libpng's own words. Bands are no
# slower: the 12000x8400 RGB photo's PNG (181 MiB) decoded in 0.80-0.88 of
# png_decode's CPU time, 4K photos in 0.66-0.90 (ISA-L inflates faster than libpng's
# zlib, more than paying for the copies); blurred to PNG, that image's command peaked
# at 390 MiB instead of 506.
BAND_FILE_BYTES = 32 << 20

# Filtered bytes a band holds: 1 and 4 MiB took about as long (0.86-1.05 of each other
# on those photos), 16 MiB up to 1.25 times as long (the copies leave the cache).
BAND_BYTES = 1 << 20

_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples a pixel, at 8 bits


def decode(data: bytes) -> np.ndarray:
    """libpng's samples of a checked, single-frame, 8-bit grey, RGB or either with alpha
    PNG (as `imagecodecs.png_decode` gives them), in bands where the file is large and
    not interlaced."""
    import imagecodecs
    from isal import isal_zlib

    width, height, _, colour_type, _, _, interlace = struct.unpack_from(">IIBBBBB", data, 16)
    if len(data) < BAND_FILE_BYTES or interlace:
        return imagecodecs.png_decode(data)
    channels = _CHANNELS[colour_type]
    out = np.empty((height, width, channels) if channels > 1 else (height, width), np.uint8)
    stride = width * channels + 1
    rows = max(1, BAND_BYTES // stride)
    band = bytearray()
    above = bytes(stride)  # "no filter", zeros: the row above the first
    top, extra = 0, False
    inflater = isal_zlib.decompressobj()
    for start, stop in image_data(data):
        piece: bytes | memoryview = memoryview(data)[start:stop]
        while not (inflater.eof or extra):
            # ISA-L may keep input it has taken but not yet inflated: what the chunk gives
            # is read out until nothing comes, not only until the chunk is taken.
            wanted = min(rows, height - top) * stride
            got = inflater.decompress(piece, wanted - len(band) if top < height else 1)
            piece = inflater.unconsumed_tail
            if top == height:
                # Every row read: inflated on to the stream's end, whose checksum is
                # checked; image data beyond the rows is ignored, as libpng ignores it.
                extra = bool(got)
            band += got
            if top < height and len(band) == wanted:
                above = _unfilter(above, band, width, wanted // stride, colour_type, out[top : top + wanted // stride])
                top += wanted // stride
                band.clear()
            elif not got and not piece:
                break
        pages.release_bytes(data, 0, stop)
    if top < height or not (inflater.eof or extra):
        raise ValueError(f"not enough image data: {top} of {height} rows" if top < height else "truncated image data")
    return out


def _unfilter(above: bytes, band: bytearray, width: int, count: int, colour_type: int, into: np.ndarray) -> bytes:
    """Write into ``into`` the ``count`` rows of ``band`` (filtered, a filter byte
    first), unfiltered by libpng below ``above`` (the row above them, unfiltered, with
    a zero filter byte); the last row, so, for the next band."""
    import imagecodecs

    stream = zlib.compress(b"".join((above, band)), 0)  # stored: libpng only copies it
    header = struct.pack(">IIBBBBB", width, count + 1, 8, colour_type, 0, 0, 0)
    png = b"".join([PNG_SIGNATURE, *chunk(b"IHDR", header), *chunk(b"IDAT", stream), *chunk(b"IEND", b"")])
    samples = imagecodecs.png_decode(png)
    into[...] = samples[1:]
    return b"\0" + samples[-1].tobytes()

