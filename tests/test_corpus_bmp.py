"""Damaged BMPs that Pillow reads without a word (as bmpsuite's bad files are damaged),
built here in miniature: each refused in one line naming the damage; their sound twins
read as the format defines them."""

import struct

import numpy as np
import pytest

from imgconv.errors import ImageReadError
from imgconv.io.read import decode_image

_PALETTE = [(0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255)]


def _bmp(width: int, height: int, bits: int, coding: int, pixels: bytes, planes: int = 1) -> bytes:
    """A BMP of a 40-byte info header, ``_PALETTE``'s four colours (its colours-used
    field 4) and ``pixels`` as given; ``height`` < 0 is top-down."""
    palette = b"".join(bytes([b, g, r, 0]) for r, g, b in _PALETTE)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, planes, bits, coding, len(pixels), 0, 0, 4, 0)
    offset = 14 + len(info) + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + palette + pixels


def _raw8(indices: np.ndarray) -> bytes:
    """Rows of a byte a pixel, bottom row first, each padded to 4 bytes."""
    return b"".join(np.pad(row, (0, -len(row) % 4)).astype(np.uint8).tobytes() for row in indices[::-1])


def _colours(indices: np.ndarray) -> np.ndarray:
    return np.asarray(_PALETTE, np.uint8)[indices]


# Bottom row first: a run of 3 of index 1 and an absolute run of 2, 3, 0; end of row;
# a run of 6 of index 2; end of the image.
_RLE8 = bytes([3, 1, 0, 3, 2, 3, 0, 0, 0, 0, 6, 2, 0, 1])
_RLE8_INDICES = np.array([[2, 2, 2, 2, 2, 2], [1, 1, 1, 2, 3, 0]])


def test_sound_run_lengths_and_indices_are_read():
    assert np.array_equal(decode_image(_bmp(6, 2, 8, 1, _RLE8), "t.bmp").pixels, _colours(_RLE8_INDICES))
    indices = np.array([[0, 1, 2], [3, 2, 1]])
    assert np.array_equal(decode_image(_bmp(3, 2, 8, 0, _raw8(indices)), "t.bmp").pixels, _colours(indices))
    packed = bytes([0x01, 0x23, 0, 0, 0x32, 0x10, 0, 0])  # 4-bit: bottom row 0 1 2 3, top 3 2 1 0
    four = decode_image(_bmp(4, 2, 4, 0, packed), "t.bmp").pixels
    assert np.array_equal(four, _colours(np.array([[3, 2, 1, 0], [0, 1, 2, 3]])))


@pytest.mark.parametrize(("data", "damage"), ids=lambda v: v if isinstance(v, str) else "", argvalues=[
    # Pillow cuts the run at the row's end, ImageMagick wraps it: the file says neither.
    (_bmp(6, 2, 8, 1, bytes([7, 1, 0, 1])), "runs past the end of row 0 (7 pixels of 6)"),
    (_bmp(6, 2, 8, 1, bytes([4, 1, 0, 4, 1, 2, 3, 0, 0, 1])), "runs past the end of row 0 (8 pixels of 6)"),
    (_bmp(6, 2, 8, 1, bytes([0, 0, 0, 0, 0, 0, 1, 1, 0, 1])), "runs past the image's 2 rows"),
    (_bmp(6, 2, 8, 1, bytes([0, 2, 0, 2, 1, 1, 0, 1])), "runs past the image's 2 rows"),  # a delta up 2
    (_bmp(6, -2, 8, 1, _RLE8), "run-length coded top-down, which BMP does not allow"),
    (_bmp(3, 2, 8, 0, _raw8(np.array([[0, 1, 2], [3, 9, 1]]))), "palette index is 9, past its 4 colours"),
    (_bmp(4, 2, 4, 0, bytes([0x01, 0x2F, 0, 0, 0x32, 0x10, 0, 0])), "palette index is 15, past its 4 colours"),
    (_bmp(6, 2, 8, 1, bytes([3, 7, 0, 1])), "palette index is 7, past its 4 colours"),
    (_bmp(3, 2, 8, 0, _raw8(np.zeros((2, 3), int)), planes=0), "its planes field is 0, not 1"),
    (_bmp(-3, 2, 8, 0, _raw8(np.zeros((2, 3), int))), "its width is -3"),
])
def test_a_damaged_bmp_is_refused_naming_the_damage(data, damage):
    with pytest.raises(ImageReadError) as caught:
        decode_image(data, "bad.bmp")
    message = str(caught.value)
    assert message.startswith("bad.bmp: damaged BMP: ") and message.endswith(damage) and "\n" not in message


def test_an_rle4_row_of_odd_width_may_end_in_its_last_bytes_padding():
    # Width 3: each row a run of 4 pixels (1, 2, 1 and the padding nibble's 2), then end of row.
    rows = bytes([4, 0x12, 0, 0, 2, 0x30, 1, 0x30, 0, 0, 0, 1])
    assert np.array_equal(decode_image(_bmp(3, 2, 4, 2, rows), "t.bmp").pixels,
                          _colours(np.array([[3, 0, 3], [1, 2, 1]])))
    for width, run in ((3, 5), (4, 5)):  # past the padding, or no padding to take it
        with pytest.raises(ImageReadError, match=f"runs past the end of row 0 \\({run} pixels of {width}\\)"):
            decode_image(_bmp(width, 1, 4, 2, bytes([run, 0x12, 0, 1])), "t.bmp")


def test_an_rle4_absolute_run_may_end_in_the_padding_and_the_next_row_is_its_own():
    """Width 3, bottom row: an absolute run of 4 (1, 2, 3 and the padding's 0), end of
    row; top row: a run of 3 of index 2. Pillow wrapped the padding pixel into the top
    row, which the end of the row then blanked (TwelveMonkeys' blauesglas_4.rle: 52
    rows of palette entry 0)."""
    rows = bytes([0, 4, 0x12, 0x30, 0, 0, 3, 0x22, 0, 1])
    assert np.array_equal(decode_image(_bmp(3, 2, 4, 2, rows), "t.bmp").pixels,
                          _colours(np.array([[2, 2, 2], [1, 2, 3]])))


def test_a_palette_of_greys_in_order_is_grey():
    palette = b"".join(bytes([v, v, v, 0]) for v in range(4))
    info = struct.pack("<IiiHHIIiiII", 40, 2, 1, 1, 8, 1, 4, 0, 0, 4, 0)
    offset = 14 + len(info) + len(palette)
    data = b"BM" + struct.pack("<IHHI", offset + 4, 0, 0, offset) + info + palette + bytes([2, 3, 0, 1])
    picture = decode_image(data, "t.bmp")
    assert picture.mode == "L" and np.array_equal(picture.pixels, [[3, 3]])


def test_pixels_run_length_data_skips_are_transparent():
    # Bottom row: index 1, then a delta right 2 and up 1; top row: from x 3, index 3, end of the image.
    data = _bmp(4, 2, 8, 1, bytes([1, 1, 0, 2, 2, 1, 1, 3, 0, 1]))
    picture = decode_image(data, "t.bmp")
    expected = np.zeros((2, 4, 4), np.uint8)  # transparent black where the file gives no pixel
    expected[1, 0] = (*_PALETTE[1], 255)
    expected[0, 3] = (*_PALETTE[3], 255)
    assert picture.mode == "RGBA" and np.array_equal(picture.pixels, expected)
    whole = decode_image(_bmp(6, 2, 8, 1, _RLE8), "t.bmp")
    assert whole.mode == "RGB"


@pytest.mark.parametrize("height", [2, -2])  # bottom row first, or top-down
def test_a_2_bit_bmp_is_read_through_its_palette(height):
    indices = np.array([[0, 1, 2, 3, 1], [3, 2, 1, 0, 2]])
    packed = [bytes([r[0] << 6 | r[1] << 4 | r[2] << 2 | r[3], r[4] << 6, 0, 0]) for r in indices]
    rows = b"".join(packed[::-1] if height > 0 else packed)
    assert np.array_equal(decode_image(_bmp(5, height, 2, 0, rows), "t.bmp").pixels, _colours(indices))


def test_a_2_bit_bmp_index_past_its_palette_is_refused():
    data = bytearray(_bmp(1, 1, 2, 0, bytes([0xC0, 0, 0, 0])))
    data[46:50] = (3).to_bytes(4, "little")  # 3 colours used: index 3 is past them
    with pytest.raises(ImageReadError, match=r"^t\.bmp: damaged BMP: a pixel.s palette index is 3, past its 3 "):
        decode_image(bytes(data), "t.bmp")
