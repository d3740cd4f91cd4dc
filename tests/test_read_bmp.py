"""A BMP whose OS/2 2.x header is cut to its first 16 bytes (bmpsuite's pal8os2v2-16.bmp),
which Pillow refuses, read as its fields say; built here byte by byte."""

import struct

import numpy as np

from imgconv.io.read import decode_image


def test_a_sixteen_byte_os2_header_is_read():
    palette = np.array([[0, 0, 0], [255, 0, 0], [0, 128, 255], [9, 9, 9]], np.uint8)  # RGB
    indices = np.array([[1, 2, 3], [0, 1, 2]], np.uint8)  # top row first
    rows = b"".join(row.tobytes() + b"\0" for row in indices[::-1])  # bottom first, padded to 4 bytes
    entries = b"".join(bytes([b, g, r, 0]) for r, g, b in [*palette, *[(0, 0, 0)] * 252])
    offset = 14 + 16 + len(entries)
    header = struct.pack("<IiiHH", 16, 3, 2, 1, 8)
    data = b"BM" + struct.pack("<IHHI", offset + len(rows), 0, 0, offset) + header + entries + rows
    picture = decode_image(data, "t.bmp")
    assert picture.mode == "RGB"
    np.testing.assert_array_equal(picture.frames[0], palette[indices])
