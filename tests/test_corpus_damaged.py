"""Damaged files, built here byte by byte, refused in one line rather than read as a
picture the file does not hold."""

import io
import struct

import numpy as np
import pytest
import tifffile

from imgconv.errors import ImageReadError
from imgconv.io.read import decode_image


@pytest.mark.parametrize("body", [b"\x07icn", b"not a png nor jpeg 2000"])
def test_an_icns_whose_only_image_pillow_cannot_decode_is_refused_not_blank(body):
    """Pillow's ICNS reader raises on its first load and, loaded again, gives a blank
    (transparent) 256 x 256 image: the first error is the answer."""
    entry = b"ic08" + struct.pack(">I", 8 + len(body)) + body
    data = b"icns" + struct.pack(">I", 8 + len(entry)) + entry
    with pytest.raises(ImageReadError, match=r"^t\.icns: .*Unsupported icon subimage format"):
        decode_image(data, "t.icns")


def _short_colour_map_tiff(indices: np.ndarray, entries: int) -> bytes:
    """A palette TIFF of ``indices`` whose ColorMap tag counts ``entries`` entries,
    fewer than its bits a sample call for (entry i grey i * 4096 within those)."""
    out = io.BytesIO()
    bits = indices.dtype.itemsize * 8
    colour_map = np.zeros((3, 2 ** bits), np.uint16)
    colour_map[:, :entries] = np.arange(entries) * 4096
    tifffile.imwrite(out, indices, photometric="palette", colormap=colour_map)
    data = bytearray(out.getvalue())
    ifd = struct.unpack_from("<I", data, 4)[0]
    for entry in range(struct.unpack_from("<H", data, ifd)[0]):
        at = ifd + 2 + 12 * entry
        if struct.unpack_from("<H", data, at)[0] == 320:  # ColorMap
            struct.pack_into("<I", data, at + 4, 3 * entries)
    return bytes(data)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])  # read by Pillow; by tifffile
def test_a_tiff_pixel_indexing_past_its_colour_map_is_refused(dtype):
    """Pillow shows such a pixel black, and numpy's lookup fails with an IndexError."""
    data = _short_colour_map_tiff(np.array([[0, 1, 2, 3, 5, 9]], dtype), 4)
    with pytest.raises(ImageReadError, match=r"^t\.tif: damaged TIFF: 2 pixels index outside its colour map "
                                             r"\(entries 0 to 3\)"):
        decode_image(data, "t.tif")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_tiff_colour_map_of_fewer_entries_than_its_bits_allow_is_read(dtype):
    """Its red entries are the first 4 of the tag's values: 8-bit colours their high
    byte, 16-bit entries as they are."""
    picture = decode_image(_short_colour_map_tiff(np.array([[0, 1, 2, 3, 2]], dtype), 4), "t.tif")
    entries = np.array([0, 1, 2, 3, 2]) * 4096
    assert np.array_equal(picture.frames[0][0, :, 0], entries // 256 if dtype == np.uint8 else entries)
