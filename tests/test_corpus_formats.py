"""Structures from public test collections of formats other than TIFF that imgconv had
read wrongly without a word, each built here in miniature and checked against what the
format's definition (and another reader: netpbm, ImageMagick, libvips) gives."""

import numpy as np

from imgconv.io.read import decode_image


def test_an_x_bitmaps_set_bits_are_black():
    """X11 draws a bitmap's set bits in the foreground colour, black on white paper
    (xbmtopbm, ImageMagick); Pillow reads them as white, which gave a photo's negative."""
    bits = np.array([[1, 0, 1, 1, 0, 0, 0, 1, 1, 1], [0, 1, 0, 0, 1, 1, 1, 0, 0, 0]], np.uint8)
    # Each row in bytes, least significant bit first, as X11 writes them.
    rows = [np.packbits(row, bitorder="little") for row in bits]
    values = ", ".join(f"0x{byte:02x}" for row in rows for byte in row)
    data = f"#define t_width 10\n#define t_height 2\nstatic char t_bits[] = {{\n  {values}\n}};\n".encode()
    picture = decode_image(data, "t.xbm")
    assert picture.mode == "L" and np.array_equal(picture.pixels, np.where(bits == 1, 0, 255))
