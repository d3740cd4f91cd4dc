"""BMP holds alpha: RGB with alpha (and grey with alpha, as R = G = B) written as a
bottom-up 32-bit BMP with a BITMAPV4HEADER and BI_BITFIELDS masks, read back sample for
sample by Pillow, imagecodecs and ImageMagick, with the resolution Pillow's BMP writer
gives grey and RGB."""

import io
import shutil
import struct
import subprocess

import imagecodecs
import numpy as np
import pytest
from helpers import assert_one_line_error, run, save
from PIL import Image

from imgconv.errors import ImageWriteError
from imgconv.io.picture import Picture
from imgconv.io.write import check_writable, encode_image

CONVERT = shutil.which("convert", path="/usr/local/bin")


def rgba(height=5, width=7, seed=3):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 4), np.uint8)


def header(data):
    """The file size, pixel offset and BITMAPV4HEADER fields, as the BMP format lays them out."""
    assert data[:2] == b"BM"
    size, _, _, offset = struct.unpack_from("<IHHI", data, 2)
    fields = struct.unpack_from("<IiiHHIIiiII4II", data, 14)
    return size, offset, fields


def pillow_rgba(data):
    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == "RGBA"
        return np.asarray(image), image.info.get("dpi")


def magick_rgba(data, shape):
    done = subprocess.run([CONVERT, "bmp:-", "-depth", "8", "rgba:-"], input=data, capture_output=True, check=True)
    return np.frombuffer(done.stdout, np.uint8).reshape(shape)


def test_rgba_read_back_by_every_reader():
    samples = rgba()
    data = encode_image([samples], Picture([samples], "RGBA", "PNG"), "BMP")
    size, offset, fields = header(data)
    assert (size, offset) == (len(data), 14 + 108)
    assert fields[:7] == (108, 7, 5, 1, 32, 3, 7 * 5 * 4)  # V4, bottom-up, 32 bits, BI_BITFIELDS
    assert fields[9:15] == (0, 0, 0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000)
    pixels, dpi = pillow_rgba(data)
    np.testing.assert_array_equal(pixels, samples)
    assert dpi is None  # 0 pixels per metre: no resolution
    np.testing.assert_array_equal(imagecodecs.bmp_decode(data), samples)
    if CONVERT:
        np.testing.assert_array_equal(magick_rgba(data, samples.shape), samples)


def test_grey_alpha_as_rgba():
    la = rgba(4, 3)[..., :2]
    data = encode_image([la], Picture([la], "LA", "PNG"), "BMP")
    expected = la[..., [0, 0, 0, 1]]
    np.testing.assert_array_equal(pillow_rgba(data)[0], expected)
    np.testing.assert_array_equal(imagecodecs.bmp_decode(data), expected)


def test_rows_bottom_up_past_one_strip():
    samples = rgba(300, 2)  # taller than the strips the rows are written in
    data = encode_image([samples], Picture([samples], "RGBA", "PNG"), "BMP")
    last_row_first = np.frombuffer(data[14 + 108:14 + 108 + 8], np.uint8).reshape(2, 4)
    np.testing.assert_array_equal(last_row_first, samples[-1][:, [2, 1, 0, 3]])
    np.testing.assert_array_equal(imagecodecs.bmp_decode(data), samples)


def test_resolution_as_pillow_writes_it_without_alpha():
    samples = rgba()
    with_alpha = encode_image([samples], Picture([samples], "RGBA", "PNG", metadata={"dpi": (300, 72.5)}), "BMP")
    rgb = samples[..., :3].copy()
    without = encode_image([rgb], Picture([rgb], "RGB", "PNG", metadata={"dpi": (300, 72.5)}), "BMP")
    assert header(with_alpha)[2][7:9] == struct.unpack_from("<ii", without, 38) == (11811, 2854)
    assert pillow_rgba(with_alpha)[1] == pytest.approx((300, 72.5), abs=0.02)


def test_cli_rgba_png_to_bmp(tmp_path):
    samples = rgba(6, 9)
    save(tmp_path / "in.png", samples)
    result = run("convolve", "--kernel", "0,0,0;0,1,0;0,0,0", tmp_path / "in.png", tmp_path / "out.bmp")
    assert result.exit_code == 0, result.stderr
    np.testing.assert_array_equal(pillow_rgba((tmp_path / "out.bmp").read_bytes())[0], samples)


def test_sixteen_bit_alpha_still_refused_before_writing(tmp_path):
    deep = np.full((4, 4, 4), 40000, np.uint16)
    with pytest.raises(ImageWriteError, match=r"^out\.bmp: BMP holds 8 bits a sample and the input is 16-bit RGB "
                                              r"with alpha; write .* or give --depth 8"):
        check_writable(Picture([deep], "RGBA;16", "PNG"), "BMP", "out.bmp")
    source = tmp_path / "in.png"
    source.write_bytes(imagecodecs.png_encode(deep))
    assert_one_line_error(run("blur", "-s", "1", source, tmp_path / "out.bmp"), 1, "out.bmp", "--depth 8")
    assert not (tmp_path / "out.bmp").exists()
