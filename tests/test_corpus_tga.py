"""TGAs of 16-bit colours and of colour maps, built here byte by byte, read as their
bytes say: each 5-bit field scaled to 8 bits rounded (as a BMP's, `imgconv.io.bmp`),
and a pixel indexing outside its colour map refused, not shown black."""

import struct

import numpy as np
import pytest

from imgconv.errors import ImageReadError
from imgconv.io.read import decode_image

_VALUES = np.arange(32, dtype=np.uint16)  # every 5-bit value


def _header(kind: int, width: int, height: int, depth: int, colour_map: tuple[int, int, int] = (0, 0, 0),
            attribute_bits: int = 0) -> bytes:
    """A TGA header (no ID) of image ``kind``, rows from the top; ``colour_map`` its
    first entry, length and entry bits."""
    first, length, bits = colour_map
    return struct.pack("<BBBHHBHHHHBB", 0, 1 if length else 0, kind, first, length, bits, 0, 0,
                       width, height, depth, 0x20 | attribute_bits)


def _five_five_five(red: np.ndarray, green: np.ndarray, blue: np.ndarray, attribute: int = 0) -> bytes:
    """16-bit pixels or entries, their top (attribute) bit ``attribute``."""
    return (attribute << 15 | red << 10 | green << 5 | blue).astype("<u2").tobytes()


def _rounded(values: np.ndarray) -> np.ndarray:
    return np.floor(values * 255 / 31 + 0.5).astype(np.uint8)


def test_each_five_bit_field_of_a_16_bit_tga_is_rounded_to_8_bits():
    """31 is 255 and 30 is 247 (246.8), where a floor gives 246; 3 is 25 (24.7)."""
    red, green, blue = _VALUES, _VALUES[::-1], (_VALUES * 7) % 32
    picture = decode_image(_header(2, 32, 1, 16) + _five_five_five(red, green, blue), "t.tga")
    expected = np.stack([_rounded(red), _rounded(green), _rounded(blue)], axis=1)
    assert picture.mode == "RGB" and np.array_equal(picture.frames[0][0], expected)


def _extension(attributes: int) -> bytes:
    """A TGA 2.0 extension area up to its attributes type (byte 494)."""
    return bytes(494) + bytes([attributes])


@pytest.mark.parametrize(("attribute_bits", "extension", "transparent"), [
    (0, None, False), (1, 0, False), (1, 2, False), (1, 3, True), (1, None, True)])
def test_the_attribute_bit_of_16_bit_pixels_is_alpha_only_where_declared(attribute_bits, extension, transparent):
    """With no attribute bits declared (or a TGA 2.0 extension calling them no alpha) a
    set top bit is no alpha, as ImageMagick, image-rs and gdk-pixbuf read it; declared,
    a set bit is transparent, as Pillow and GIMP read it."""
    bits = np.array([1, 0, 1, 0], np.uint16)
    body = _header(2, 4, 1, 16, attribute_bits=attribute_bits) + b"".join(
        _five_five_five(np.uint16(31), np.uint16(v * 8), np.uint16(3), int(b)) for v, b in enumerate(bits))
    if extension is not None:
        body += _extension(extension) + struct.pack("<II", len(body), 0) + b"TRUEVISION-XFILE.\x00"
    picture = decode_image(body, "t.tga")
    colours = np.array([[255, _rounded(np.array(v * 8)), 25] for v in range(4)], np.uint8)
    assert np.array_equal(picture.frames[0][0, :, :3], colours)
    if transparent:
        assert picture.mode == "RGBA" and np.array_equal(picture.frames[0][0, :, 3], 255 - 255 * bits)
    else:
        assert picture.mode == "RGB"


def test_a_colour_map_of_16_bit_entries_is_rounded_to_8_bits():
    red = _VALUES
    entries = _five_five_five(red, red[::-1], red, 1)  # the set bit is no alpha: none is declared
    indices = np.arange(32, dtype=np.uint8)[::-1]
    picture = decode_image(_header(1, 32, 1, 8, (0, 32, 16)) + entries + indices.tobytes(), "t.tga")
    expected = np.stack([_rounded(red), _rounded(red[::-1]), _rounded(red)], axis=1)[indices]
    assert picture.mode == "RGB" and np.array_equal(picture.frames[0][0], expected)


def _mapped(indices: bytes, first: int, run_length: bool) -> bytes:
    """A 4 x 1 TGA of 24-bit colour-map entries ``first`` to ``first + 2``."""
    pixels = b"".join(bytes([0, i]) for i in indices) if run_length else indices
    return _header(9 if run_length else 1, 4, 1, 8, (first, 3, 24)) + bytes(range(9)) + pixels


@pytest.mark.parametrize("run_length", [False, True])
@pytest.mark.parametrize(("first", "indices", "outside"), [(0, b"\x00\x01\x03\x07", 2), (2, b"\x02\x04\x01\x00", 2)])
def test_a_pixel_indexing_outside_its_colour_map_is_refused(run_length, first, indices, outside):
    """Such a pixel has no colour: Pillow shows it black, gdk-pixbuf transparent."""
    with pytest.raises(ImageReadError, match=rf"^t\.tga: damaged TGA: {outside} pixels index outside its "
                                             rf"colour map \(entries {first} to {first + 2}\)"):
        decode_image(_mapped(indices, first, run_length), "t.tga")


@pytest.mark.parametrize("run_length", [False, True])
def test_a_colour_map_starting_past_entry_0_is_read_through(run_length):
    picture = decode_image(_mapped(b"\x02\x03\x04\x03", 2, run_length), "t.tga")
    entries = np.arange(9, dtype=np.uint8).reshape(3, 3)[:, ::-1]  # stored B, G, R
    assert np.array_equal(picture.frames[0][0], entries[[0, 1, 2, 1]])


@pytest.mark.parametrize("kind", [1, 2])  # colour-mapped; true colour, its map unused
def test_a_colour_map_of_15_bit_entries_is_read(kind):
    """Pillow refuses 15-bit map entries ("unknown TGA map depth"); they are 16-bit ones
    without the attribute bit. A true-colour image's colour map is no part of it."""
    red = _VALUES
    entries = _five_five_five(red, red[::-1], red)
    expected = np.stack([_rounded(red), _rounded(red[::-1]), _rounded(red)], axis=1)
    pixels = np.arange(32, dtype=np.uint8).tobytes() if kind == 1 else entries
    picture = decode_image(_header(kind, 32, 1, 8 if kind == 1 else 16, (0, 32, 15)) + entries + pixels, "t.tga")
    assert picture.mode == "RGB" and np.array_equal(picture.frames[0][0], expected)
