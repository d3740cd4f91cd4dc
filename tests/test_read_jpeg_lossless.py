"""Lossless JPEGs (SOF3), built here by libjpeg-turbo (imagecodecs), whose samples are
known exactly: of 9 to 16 bits read at 16 bits scaled to the full range (Pillow opens
none of them), and of 8 bits written again as JPEG (they have no quantization tables to
reuse)."""

import imagecodecs
import numpy as np
import pytest
from PIL import Image

import imgconv
from imgconv.io.read import decode_image


@pytest.mark.parametrize(("bits", "shape"), [(16, (4, 5)), (10, (4, 5, 3))])
def test_a_deep_lossless_jpeg_is_read_at_16_bits(rng, bits, shape):
    samples = rng.integers(0, 1 << bits, shape).astype(np.uint16)
    samples.flat[:2] = (0, (1 << bits) - 1)
    picture = decode_image(imagecodecs.jpeg8_encode(samples, lossless=True, bitspersample=bits), "t.jpg")
    # round(v * 65535 / (2**bits - 1)) in floats: 16 bits as they are; 10 bits, 1023 -> 65535
    expected = np.floor(samples.astype(np.float64) * 65535 / ((1 << bits) - 1) + 0.5).astype(np.uint16)
    assert picture.mode == ("I;16" if len(shape) == 2 else "RGB;16")
    np.testing.assert_array_equal(picture.frames[0], expected)


def test_an_eight_bit_lossless_jpeg_is_written_as_jpeg(rng, tmp_path):
    samples = rng.integers(0, 256, (8, 8, 3)).astype(np.uint8)
    source = tmp_path / "in.jpg"
    source.write_bytes(imagecodecs.jpeg8_encode(samples, lossless=True))
    picture = imgconv.read_image(source)
    np.testing.assert_array_equal(picture.frames[0], samples)
    imgconv.write_image(tmp_path / "out.jpg", picture)
    with Image.open(tmp_path / "out.jpg") as written:
        assert (written.format, written.size) == ("JPEG", (8, 8))
