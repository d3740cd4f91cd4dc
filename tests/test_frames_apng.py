"""APNG frames composed as the APNG specification says, on APNGs built here chunk by
chunk: OVER is Porter-Duff over (checked against exact fractions), also over a canvas
that is itself partly transparent, at 8 and 16 bits; a frame disposed of to the
background leaves transparent black, also in a file without alpha."""

import struct
import zlib
from fractions import Fraction

import numpy as np
import pytest

from imgconv.errors import ImageReadError
from imgconv.io.read import decode_image

_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # by samples a pixel


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _apng(frames: list[tuple[np.ndarray, int, int, int, int]], size: tuple[int, int]) -> bytes:
    """An APNG of ``frames`` (pixels, left, top, dispose_op, blend_op) on a canvas of
    ``size`` (width, height), the first frame's data in IDAT; 8 or 16 bits by the
    pixels' type."""
    first = frames[0][0]
    depth = first.dtype.itemsize * 8
    samples = 1 if first.ndim == 2 else first.shape[2]
    header = struct.pack(">IIBBBBB", *size, depth, _COLOUR_TYPES[samples], 0, 0, 0)
    out = [b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", header), _chunk(b"acTL", struct.pack(">II", len(frames), 0))]
    sequence = 0
    for index, (pixels, left, top, dispose, blend) in enumerate(frames):
        height, width = pixels.shape[:2]
        out.append(_chunk(b"fcTL", struct.pack(">IIIIIHHBB", sequence, width, height, left, top, 1, 10,
                                               dispose, blend)))
        sequence += 1
        rows = pixels.astype(pixels.dtype.newbyteorder(">")).reshape(height, -1).view(np.uint8)
        data = zlib.compress(b"".join(b"\0" + row.tobytes() for row in rows))
        if index == 0:
            out.append(_chunk(b"IDAT", data))
        else:
            out.append(_chunk(b"fdAT", struct.pack(">I", sequence) + data))
            sequence += 1
    return b"".join([*out, _chunk(b"IEND", b"")])


def _over(source: np.ndarray, below: np.ndarray, top: int) -> np.ndarray:
    """Porter-Duff over of each pixel (colours then alpha, not premultiplied), in exact
    fractions, rounded half up."""
    out = np.zeros_like(source)
    for position in np.ndindex(source.shape[:-1]):
        alpha_s, alpha_b = Fraction(int(source[position][-1]), top), Fraction(int(below[position][-1]), top)
        alpha = alpha_s + alpha_b * (1 - alpha_s)
        for channel in range(source.shape[-1] - 1):
            colour = Fraction(0) if alpha == 0 else (
                int(source[position][channel]) * alpha_s + int(below[position][channel]) * alpha_b * (1 - alpha_s)
            ) / alpha
            out[position][channel] = int(colour + Fraction(1, 2))
        out[position][-1] = int(alpha * top + Fraction(1, 2))
    return out


@pytest.mark.parametrize(("dtype", "samples"), [(np.uint8, 4), (np.uint16, 4), (np.uint8, 2)])
def test_over_is_porter_duff_over_a_partly_transparent_canvas(rng, dtype: type, samples: int) -> None:
    top = np.iinfo(dtype).max
    below = rng.integers(0, top + 1, (3, 4, samples)).astype(dtype)
    source = rng.integers(0, top + 1, (2, 3, samples)).astype(dtype)
    below[0, 0, -1], source[0, 0, -1], source[1, 1, -1] = 0, 0, top  # transparent, and an opaque pixel
    below[1, 2, -1] = top  # opaque below
    picture = decode_image(_apng([(below, 0, 0, 0, 0), (source, 1, 1, 0, 1)], (4, 3)), "over.png")
    expected = below.copy()
    expected[1:, 1:] = _over(source, below[1:, 1:], top)
    np.testing.assert_array_equal(picture.frames[0], below)
    np.testing.assert_array_equal(picture.frames[1], expected)


def test_dispose_to_background_leaves_transparent_black_in_a_file_without_alpha(rng) -> None:
    first = rng.integers(0, 256, (3, 4, 3)).astype(np.uint8)
    second = rng.integers(0, 256, (1, 2, 3)).astype(np.uint8)
    third = rng.integers(0, 256, (1, 1, 3)).astype(np.uint8)
    data = _apng([(first, 0, 0, 0, 0), (second, 2, 1, 1, 0), (third, 0, 2, 0, 0)], (4, 3))
    picture = decode_image(data, "clear.png")
    assert picture.mode == "RGBA"
    expected = np.dstack([first, np.full((3, 4), 255, np.uint8)])
    expected[2:3, 0:1, :3] = third
    expected[1:2, 2:4] = 0  # the second frame's rectangle, cleared
    np.testing.assert_array_equal(picture.frames[2], expected)


def test_chunks_out_of_sequence_are_refused(rng) -> None:
    pixels = rng.integers(0, 256, (2, 2, 4)).astype(np.uint8)
    data = _apng([(pixels, 0, 0, 0, 0), (pixels, 0, 0, 0, 1)], (2, 2))
    at = data.index(b"fdAT") - 4
    length = int.from_bytes(data[at:at + 4], "big")
    renumbered = _chunk(b"fdAT", struct.pack(">I", 5) + data[at + 12:at + 8 + length])
    with pytest.raises(ImageReadError, match="damaged APNG: its fdAT chunk numbered 5 comes where number 2 is due"):
        decode_image(data[:at] + renumbered + data[at + 12 + length:], "sequence.png")
