"""Damaged files, built here byte by byte, refused in one line rather than read as a
picture the file does not hold."""

import struct

import pytest

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
