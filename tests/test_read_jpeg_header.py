"""JPEG headers holding what libjpeg passes over (browsers show these pictures) and
Pillow's parser refuses: the picture read as libjpeg reads it. JPEGs made here by Pillow,
then spoilt as TwelveMonkeys' test files are."""

import io

import numpy as np
import pytest
from PIL import Image

from imgconv.io.read import decode_image


@pytest.fixture
def jpeg(rng) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)).save(out, "JPEG", quality=90)
    return out.getvalue()


def _decoded(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def test_bytes_between_segments_are_passed_over(jpeg):
    """libjpeg: "Corrupt JPEG data: 255 extraneous bytes before marker 0xe0"."""
    spoilt = jpeg[:2] + bytes(range(255)) + b"\xff\xff" + jpeg[2:]  # garbage, fill bytes, then the header
    np.testing.assert_array_equal(decode_image(spoilt, "t.jpg").frames[0], _decoded(jpeg))


def test_a_jfif_segment_too_short_for_its_fields_is_passed_over(jpeg):
    assert jpeg[2:4] == b"\xff\xe0"
    length = int.from_bytes(jpeg[4:6], "big")
    spoilt = jpeg[:4] + b"\x00\x07JFIF\x00" + jpeg[4 + length:]  # its 16 bytes cut to 7
    np.testing.assert_array_equal(decode_image(spoilt, "t.jpg").frames[0], _decoded(jpeg))
