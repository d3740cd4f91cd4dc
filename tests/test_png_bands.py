"""Large PNGs decoded in bands (`imgconv.io.png_bands`, its thresholds lowered so that
small files take that path): libpng's and Pillow's samples, the file's memory given
back as it is read, and damaged image data refused in one line, leaving no output."""

import io
import itertools
import os
import struct
import zlib

import imagecodecs
import numpy as np
import pytest
from helpers import assert_one_line_error, run
from PIL import Image

from imgconv.io import pages, png_bands
from imgconv.io.chunks import PNG_SIGNATURE, chunk
from imgconv.io.read import read_image

CHANNELS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}


@pytest.fixture
def bands(monkeypatch):
    monkeypatch.setattr(png_bands, "BAND_FILE_BYTES", 0)
    monkeypatch.setattr(png_bands, "BAND_BYTES", 700)  # a few rows a band


def photo(mode, height=90, width=47, seed=0):
    rng = np.random.default_rng(seed)
    smooth = np.add.outer(np.arange(height), 2 * np.arange(width))[..., None] + 40 * np.arange(CHANNELS[mode])
    samples = (smooth + rng.integers(0, 25, smooth.shape)).astype(np.uint8)
    return samples[..., 0] if mode == "L" else samples


def pillow_png(samples, **options):
    out = io.BytesIO()
    Image.fromarray(samples).save(out, "PNG", **options)
    return out.getvalue()


def idat_stream(data):
    """The zlib stream of a PNG's IDAT chunks, joined."""
    position, found = len(PNG_SIGNATURE), []
    while position < len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        if kind == b"IDAT":
            found.append(data[position + 8 : position + 8 + length])
        position += 12 + length
    return b"".join(found)


def with_stream(data, stream, pieces=1):
    """``data`` (a PNG) with ``stream`` as its image data, in ``pieces`` IDAT chunks."""
    start = data.index(b"IDAT") - 4
    end = data.index(b"IEND") - 4
    cut = np.linspace(0, len(stream), pieces + 1).astype(int)
    idat = [part for a, b in itertools.pairwise(cut) for part in chunk(b"IDAT", stream[a:b])]
    return data[:start] + b"".join(idat) + data[end:]


@pytest.mark.parametrize("mode", list(CHANNELS))
@pytest.mark.parametrize("options", [{}, {"optimize": True}, {"compress_level": 0}])
def test_bands_give_libpngs_and_pillows_samples(bands, mode, options):
    samples = photo(mode)
    data = pillow_png(samples, **options)
    many = with_stream(data, idat_stream(data), pieces=7)  # bands that cross chunks
    for encoded in (data, many):
        decoded = png_bands.decode(encoded)
        assert np.array_equal(decoded, samples) and np.array_equal(decoded, imagecodecs.png_decode(encoded))


def test_image_data_beyond_the_rows_is_ignored_as_libpng_does(bands):
    samples = photo("RGB")
    data = pillow_png(samples)
    longer = with_stream(data, zlib.compress(zlib.decompress(idat_stream(data)) + bytes(5000)))
    assert np.array_equal(png_bands.decode(longer), samples)


def test_the_file_read_goes_back_as_it_is_decoded(bands):
    samples = photo("RGBA", height=400, width=300)
    data = pillow_png(samples, compress_level=0)  # its pixels fill many pages
    with pages.giving_up([data]):
        decoded = png_bands.decode(data)
    assert np.array_equal(decoded, samples)
    if os.uname().sysname == "Linux":
        middle = np.frombuffer(data, np.uint8)[len(data) // 4 : len(data) * 3 // 4]
        assert (middle == 0).mean() > 0.99  # released pages read as zeros


def test_read_image_decodes_in_bands(bands, tmp_path, monkeypatch):
    samples = photo("RGB", height=200)
    (tmp_path / "in.png").write_bytes(pillow_png(samples))
    heights, whole = [], imagecodecs.png_decode

    def libpng(data):
        heights.append(whole(data).shape[0])
        return whole(data)

    monkeypatch.setattr(imagecodecs, "png_decode", libpng)
    assert np.array_equal(read_image(tmp_path / "in.png").frames[0], samples)
    assert len(heights) > 10 and sum(heights) == 200 + len(heights)  # each band with the row above it


@pytest.mark.parametrize("damage, message", [
    ("cut", "not enough image data: "),
    ("checksum", "checksum"),
    ("short", "not enough image data: "),
    ("no checksum", "truncated image data"),
    ("bad block", "corrupt or truncated image"),
])
def test_damaged_image_data_is_one_line_and_no_output(bands, tmp_path, damage, message):
    samples = photo("RGB", height=200)
    data = pillow_png(samples)
    stream = idat_stream(data)
    raw = zlib.decompress(stream)
    damaged = {"cut": stream[: len(stream) // 2], "checksum": stream[:-1] + bytes([stream[-1] ^ 1]),
               "short": zlib.compress(raw[:-100]), "no checksum": stream[:-4],
               "bad block": stream[: len(stream) // 2] + b"\xff" * 64 + stream[len(stream) // 2 :]}[damage]
    (tmp_path / "in.png").write_bytes(with_stream(data, damaged, pieces=3))
    result = run("blur", "-s", "2", tmp_path / "in.png", tmp_path / "out.png")
    assert_one_line_error(result, 1, "in.png", "corrupt or truncated image", message)
    assert os.listdir(tmp_path) == ["in.png"]
