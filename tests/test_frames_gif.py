"""GIF frames composed as browsers show them, on GIFs built here byte by byte: a frame
disposed of to the background leaves transparent pixels whatever the background colour,
and so does the logical screen outside the first frame."""

import struct

import numpy as np
import pytest

from imgconv.errors import ImageReadError
from imgconv.io.read import decode_image

_PALETTE = np.array([[255, 0, 0], [0, 0, 255], [0, 255, 0], [255, 255, 255]], np.uint8)  # red, blue, green, white
_BLUE = 1  # the screen's background colour


def _lzw(indices: np.ndarray) -> bytes:
    """LZW data (code size 2) of palette indices 0 to 3: a clear code before every
    second index keeps each code 3 bits wide, in sub-blocks."""
    codes = []
    for at, index in enumerate(indices.ravel().tolist()):
        if at % 2 == 0:
            codes.append(4)  # clear
        codes.append(index)
    codes.append(5)  # end of information
    bits = "".join(format(code, "03b")[::-1] for code in codes)
    bits += "0" * (-len(bits) % 8)
    packed = bytes(int(bits[i:i + 8][::-1], 2) for i in range(0, len(bits), 8))
    blocks = b"".join(bytes([len(packed[i:i + 255])]) + packed[i:i + 255] for i in range(0, len(packed), 255))
    return b"\x02" + blocks + b"\x00"


def _gif(size: tuple[int, int], frames: list[tuple[np.ndarray, int, int, int, int | None]]) -> bytes:
    """A GIF of ``frames`` (indices, left, top, disposal method, transparent index) on a
    screen of ``size`` (width, height) whose background colour is blue."""
    out = [b"GIF89a", struct.pack("<HHBBB", *size, 0x81, _BLUE, 0), _PALETTE.tobytes()]
    for indices, left, top, disposal, transparent in frames:
        flags = disposal << 2 | (transparent is not None)
        out.append(b"\x21\xf9\x04" + struct.pack("<BHB", flags, 10, transparent or 0) + b"\x00")
        out.append(b"," + struct.pack("<HHHHB", left, top, indices.shape[1], indices.shape[0], 0) + _lzw(indices))
    return b"".join([*out, b";"])


def _rgba(indices: np.ndarray) -> np.ndarray:
    return np.dstack([_PALETTE[indices], np.full(indices.shape, 255, np.uint8)])


def test_disposal_to_the_background_leaves_transparent_pixels() -> None:
    """Red, disposed of to the background (blue); then green and white, white its
    transparent index: the green pixel alone shows."""
    first, second = np.zeros((3, 4), np.uint8), np.array([[2, 3]], np.uint8)
    picture = decode_image(_gif((4, 3), [(first, 0, 0, 2, None), (second, 1, 1, 1, 3)]), "clear.gif")
    assert picture.mode == "RGBA"
    expected = np.zeros((3, 4, 4), np.uint8)
    expected[1, 1] = _rgba(second)[0, 0]
    np.testing.assert_array_equal(picture.frames[0], _rgba(first))
    np.testing.assert_array_equal(picture.frames[1], expected)


def test_the_screen_outside_the_first_frame_is_transparent() -> None:
    first = np.array([[0, 3], [2, 1]], np.uint8)
    picture = decode_image(_gif((4, 3), [(first, 1, 1, 0, None)]), "small.gif")
    expected = np.zeros((3, 4, 4), np.uint8)
    expected[1:3, 1:3] = _rgba(first)
    np.testing.assert_array_equal(picture.frames[0], expected)


def test_a_frame_of_no_pixels_is_refused() -> None:
    data = _gif((4, 3), [(np.zeros((1, 1), np.uint8), 0, 0, 0, None)])
    at = data.index(b",")
    with pytest.raises(ImageReadError, match="damaged GIF: a frame of 0 x 1 pixels"):
        decode_image(data[:at + 5] + b"\0\0" + data[at + 7:], "empty.gif")
