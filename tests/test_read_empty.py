"""Images of no pixels (a GIF frame or a TIFF page 0 wide or high) refused as damaged,
saying so, where the decoders fail with a bare IndexError."""

import struct

import numpy as np
import pytest
import tifffile

from imgconv import ImageReadError
from imgconv.io.read import read_image


def _gif(width, height, data=True):
    """A GIF of a 1 x 1 screen whose one image is ``width`` x ``height``, with its LZW
    data, or cut short after a descriptor announcing a colour table of its own (the
    trailer next, which Pillow fails to open with a bare IndexError)."""
    screen = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + bytes(3) + b"\xff" * 3
    descriptor = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0 if data else 0x80)
    image = descriptor + (b"\x02\x02\x4c\x01\x00" if data else b"")
    return screen + image + b"\x3b"


@pytest.mark.parametrize("data", [True, False])
@pytest.mark.parametrize(("width", "height"), [(0, 1), (1, 0), (0, 0)])
def test_a_gif_frame_of_no_pixels_is_refused_naming_its_size(tmp_path, width, height, data):
    (tmp_path / "empty.gif").write_bytes(_gif(width, height, data))
    with pytest.raises(ImageReadError, match=rf"empty.gif: damaged GIF: a frame of {width} x {height} pixels$"):
        read_image(tmp_path / "empty.gif")


def test_a_one_pixel_gif_of_the_same_make_is_read(tmp_path):
    (tmp_path / "one.gif").write_bytes(_gif(1, 1))
    assert read_image(tmp_path / "one.gif").frames[0].shape[:2] == (1, 1)


@pytest.mark.filterwarnings("ignore:.*zero-size array:UserWarning")  # the file is what is asked for
def test_a_tiff_page_of_no_pixels_is_refused_naming_its_size(tmp_path):
    tifffile.imwrite(tmp_path / "empty.tif", np.zeros((0, 0), np.uint8))
    with pytest.raises(ImageReadError, match=r"empty.tif: damaged TIFF: a page of 0 x 0 pixels$"):
        read_image(tmp_path / "empty.tif")
