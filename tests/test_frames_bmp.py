"""BMPs whose colours are bit fields of any contiguous masks, built here byte by byte:
each field scaled to 8 bits rounded (16 bits where a field is wider than 8), as
bmpsuite's reference pictures show them; damaged masks refused in one line."""

import struct

import numpy as np
import pytest

from imgconv.errors import ImageReadError
from imgconv.io.read import decode_image


def _bmp(pixels: np.ndarray, bits: int, masks: tuple[int, ...], *, header: int = 40, coding: int = 3,
         top_down: bool = False) -> bytes:
    """A BMP of ``pixels`` (rows of whole pixel values, top row first) with ``masks``
    after a 40-byte header (3 for BI_BITFIELDS, 4 for BI_ALPHABITFIELDS) or in a
    ``header`` of 56 or 124 bytes (red, green, blue, alpha)."""
    height, width = pixels.shape
    kind = "<u2" if bits == 16 else "<u4"
    rows = pixels if top_down else pixels[::-1]
    stride = (width * bits + 31) // 32 * 4
    data = b"".join(row.astype(kind).tobytes().ljust(stride, b"\0") for row in rows)
    info = struct.pack("<IiiHHIIiiII", header, width, -height if top_down else height, 1, bits, coding,
                       len(data), 2835, 2835, 0, 0)
    if header == 40:
        extra = struct.pack(f"<{len(masks)}I", *masks) if coding else b""
    else:
        extra = struct.pack("<4I", *masks, *[0] * (4 - len(masks))).ljust(header - 40, b"\0")
    offset = 14 + len(info) + len(extra)
    return b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset) + info + extra + data


def _fields(pixels: np.ndarray, masks: tuple[int, ...], top: int) -> np.ndarray:
    """Each mask's field of ``pixels`` scaled to 0..top and rounded, in floats."""
    planes = []
    for mask in masks:
        shift = (mask & -mask).bit_length() - 1
        planes.append(np.round((pixels.astype(np.float64) // 2 ** shift % 2 ** bin(mask).count("1"))
                               * top / (mask >> shift)))
    return np.stack(planes, axis=2)


_VALUES32 = np.array([[0x00000000, 0xFFFFFFFF, 0x12345678], [0x9ABCDEF0, 0x0F0F0F0F, 0xF0F0F0F0]], np.uint64)
_VALUES16 = np.array([[0x0000, 0xFFFF, 0x1234, 0x0003], [0x5678, 0x9ABC, 0xDEF0, 0x0F0F]], np.uint64)


@pytest.mark.parametrize(("bits", "masks", "values"), [
    # bmpsuite's rgb32bf layout, which Pillow refuses; BITMAPINFOHEADER's unused bits are no alpha
    (32, (0xFF000000, 0xFF0, 0xFF0000), _VALUES32),
    (16, (0x30, 0xE, 0x1), _VALUES16),  # 2, 3 and 1 bits
    (16, (0x7C00, 0x3E0, 0x1F), _VALUES16),  # 5 bits: 3 is 25, where Pillow gives 24
])
def test_bit_fields_of_any_layout_are_scaled_to_8_bits_rounded(bits: int, masks: tuple[int, ...],
                                                                values: np.ndarray) -> None:
    picture = decode_image(_bmp(values, bits, masks), "f.bmp")
    assert picture.mode == "RGB"
    np.testing.assert_array_equal(picture.frames[0], _fields(values, masks, 255))


def test_sixteen_bit_bi_rgb_is_five_bits_a_colour_rounded() -> None:
    picture = decode_image(_bmp(_VALUES16, 16, (), coding=0), "f.bmp")
    np.testing.assert_array_equal(picture.frames[0], _fields(_VALUES16, (0x7C00, 0x3E0, 0x1F), 255))


@pytest.mark.parametrize(("header", "coding"), [(56, 3), (124, 3), (40, 6)])
def test_an_alpha_mask_gives_alpha(header: int, coding: int) -> None:
    masks = (0xF00, 0xF0, 0xF, 0xF000)  # bmpsuite's rgba16-4444
    picture = decode_image(_bmp(_VALUES16, 16, masks, header=header, coding=coding, top_down=True), "f.bmp")
    assert picture.mode == "RGBA"
    np.testing.assert_array_equal(picture.frames[0], _fields(_VALUES16, masks, 255))


def test_fields_wider_than_8_bits_are_kept_at_16() -> None:
    masks = (0xFFE00000, 0x1FFC00, 0x3FF)  # bmpsuite's rgb32-111110
    picture = decode_image(_bmp(_VALUES32, 32, masks), "f.bmp")
    assert picture.mode == "RGB;16"
    np.testing.assert_array_equal(picture.frames[0], _fields(_VALUES32, masks, 65535))


@pytest.mark.parametrize(("masks", "words"), [
    ((0xFF0000, 0, 0xFF), "its green mask is 0"),
    ((0xFF0000, 0xF0F0, 0xF), "its green mask 0x0000f0f0 is not one run of bits within its 32-bit pixels"),
    ((0xFF0000, 0xFF00, 0x1FF), "its green and blue masks share bits (0x0000ff00, 0x000001ff)"),
])
def test_damaged_masks_are_refused_in_one_line(masks: tuple[int, ...], words: str) -> None:
    with pytest.raises(ImageReadError) as caught:
        decode_image(_bmp(_VALUES32, 32, masks), "f.bmp")
    assert str(caught.value) == f"f.bmp: damaged BMP: {words}"


def test_a_mask_wider_than_a_pixel_is_refused() -> None:
    with pytest.raises(ImageReadError, match="its red mask 0x00ff0000 is not one run of bits within its 16-bit"):
        decode_image(_bmp(_VALUES16, 16, (0xFF0000, 0xFF00, 0xFF)), "f.bmp")


def test_pixels_cut_short_are_refused() -> None:
    data = _bmp(_VALUES32, 32, (0xFF000000, 0xFF0, 0xFF0000))
    with pytest.raises(ImageReadError, match=r"f\.bmp: truncated"):
        decode_image(data[:-3], "f.bmp")
