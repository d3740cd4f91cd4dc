"""Large PNGs deflated strip by strip (`imgconv.io.png.STREAM_BYTES` lowered so that
small images take that path), read back by Pillow and libpng; the zlib levels checked
against Python's zlib on rows filtered here."""

import io
import struct
import zlib

import imagecodecs
import numpy as np
import pytest
from helpers import run
from PIL import Image

from imgconv.io import pages, png

MODES = {"L": (1, np.uint8), "LA": (2, np.uint8), "RGB": (3, np.uint8), "RGBA": (4, np.uint8),
         "I;16": (1, np.uint16), "RGB;16": (3, np.uint16)}


@pytest.fixture
def streaming(monkeypatch):
    monkeypatch.setattr(png, "STREAM_BYTES", 1)


def samples_of(mode, height=150, width=61, seed=0):
    channels, dtype = MODES[mode]
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels == 1 else (height, width, channels)
    smooth = np.add.outer(np.arange(height), np.arange(width)) * 3  # some runs for the deflaters to find
    noise = rng.integers(0, 40, shape) + (smooth if channels == 1 else smooth[..., None])
    return (noise * (257 if dtype == np.uint16 else 1) % (np.iinfo(dtype).max + 1)).astype(dtype)


def idat_chunks(data):
    position, found = 8, []
    while position < len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        if kind == b"IDAT":
            found.append(data[position + 8 : position + 8 + length])
        position += 12 + length
    return found


def up_filtered(samples):
    rows = samples.astype(samples.dtype.newbyteorder(">")).view(np.uint8).reshape(samples.shape[0], -1)
    raw = np.empty((rows.shape[0], rows.shape[1] + 1), np.uint8)
    raw[:, 0] = 2
    raw[0, 1:] = rows[0]
    raw[1:, 1:] = rows[1:] - rows[:-1]
    return raw.tobytes()


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("level", [0, 1])
def test_streamed_png_reads_back(streaming, mode, level):
    samples = samples_of(mode)
    data = png.encode_png(samples, mode, level=level)
    assert np.array_equal(imagecodecs.png_decode(data), samples)
    if mode != "RGB;16":  # Pillow reads 16-bit colour as 8 bits
        with Image.open(io.BytesIO(data)) as image:
            assert image.mode == mode and np.array_equal(np.asarray(image), samples)
    stream = b"".join(idat_chunks(data))
    assert zlib.decompress(stream) == up_filtered(samples)
    if level:  # not libdeflate's, whole (stored blocks may be the same)
        assert stream != imagecodecs.deflate_encode(up_filtered(samples), level)
    if level == 0:  # zlib gives out its stream as it goes (ISA-L keeps it to the end here)
        assert len(idat_chunks(data)) > 1


def test_streamed_level_0_stores_as_zlib_does(streaming):
    samples = samples_of("RGB", seed=1)
    stream = b"".join(idat_chunks(png.encode_png(samples, "RGB", level=0)))
    assert stream == zlib.compress(up_filtered(samples), 0)


@pytest.mark.parametrize("level", [2, 6])
def test_levels_2_to_9_are_libdeflates_whole(streaming, level):
    samples = samples_of("RGB", seed=1)
    chunks = idat_chunks(png.encode_png(samples, "RGB", level=level))
    assert chunks == [imagecodecs.deflate_encode(up_filtered(samples), level)]


def test_small_images_keep_one_deflate():
    samples = samples_of("RGB")
    data = png.encode_png(samples, "RGB")
    assert len(idat_chunks(data)) == 1 and np.array_equal(imagecodecs.png_decode(data), samples)


def test_given_up_samples_go_back_as_they_are_streamed(streaming):
    samples = samples_of("RGB;16", height=300, width=500)
    kept = samples.copy()
    with pages.giving_up([samples]):
        data = png.encode_png(samples, "RGB;16")
    assert np.array_equal(imagecodecs.png_decode(data), kept)
    assert (samples[100:200] == 0).mean() > 0.9


def test_a_streamed_output_has_the_samples_of_a_whole_one(tmp_path, monkeypatch):
    source = tmp_path / "in.png"
    Image.fromarray(samples_of("RGBA", height=200, width=90)).save(source)
    assert run("blur", "-s", "2", source, tmp_path / "whole.png").exit_code == 0
    monkeypatch.setattr(png, "STREAM_BYTES", 1)
    assert run("blur", "-s", "2", source, tmp_path / "streamed.png").exit_code == 0
    whole, streamed = ((tmp_path / f"{n}.png").read_bytes() for n in ("whole", "streamed"))
    assert whole != streamed
    assert np.array_equal(imagecodecs.png_decode(whole), imagecodecs.png_decode(streamed))
