"""12-bit JPEGs (libjpeg-turbo's monkey12.jpg is one; Pillow cannot decode them) read at
16 bits, each sample scaled to the full range, their EXIF orientation and metadata kept;
the JPEGs are lossless ones built here, whose samples are known exactly."""

import struct

import imagecodecs
import numpy as np
import pytest
from PIL import Image

from imgconv.errors import ImageReadError
from imgconv.io.read import decode_image


def _with_exif(jpeg: bytes, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    payload = exif.tobytes()
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def _scaled(samples: np.ndarray) -> np.ndarray:
    """A 12-bit sample at 16 bits: round(v * 65535 / 4095), in floats."""
    return np.floor(samples.astype(np.float64) * 65535 / 4095 + 0.5).astype(np.uint16)


@pytest.mark.parametrize("shape", [(5, 7, 3), (5, 7, 1)])
def test_a_twelve_bit_jpeg_is_read_at_16_bits_scaled_to_the_full_range(rng, shape):
    samples = rng.integers(0, 4096, shape).astype(np.uint16)
    samples.flat[:2] = (0, 4095)
    jpeg = imagecodecs.jpeg8_encode(samples, lossless=True, bitspersample=12)
    assert jpeg[:2] == b"\xff\xd8"
    picture = decode_image(jpeg, "t.jpg")
    assert picture.mode == ("RGB;16" if shape[2] == 3 else "I;16")
    expected = _scaled(samples if shape[2] == 3 else samples[..., 0])
    assert np.array_equal(picture.frames[0], expected)
    assert picture.frames[0].max() == 65535


def test_a_twelve_bit_jpeg_is_turned_as_its_exif_orientation_says(rng):
    samples = rng.integers(0, 4096, (4, 6, 3)).astype(np.uint16)
    jpeg = _with_exif(imagecodecs.jpeg8_encode(samples, lossless=True, bitspersample=12), 6)
    picture = decode_image(jpeg, "t.jpg")
    assert np.array_equal(picture.frames[0], np.rot90(_scaled(samples), -1))  # 6: turned 90 degrees clockwise
    kept = decode_image(jpeg, "t.jpg", auto_orient=False)
    assert np.array_equal(kept.frames[0], _scaled(samples)) and kept.metadata["exif"][0x0112] == 6


def test_a_damaged_twelve_bit_jpeg_is_refused_in_one_line(rng):
    jpeg = imagecodecs.jpeg8_encode(rng.integers(0, 4096, (16, 16, 3)).astype(np.uint16), bitspersample=12)
    with pytest.raises(ImageReadError, match=r"^t\.jpg: ") as caught:
        decode_image(jpeg[:len(jpeg) // 2], "t.jpg")
    assert "\n" not in str(caught.value)
