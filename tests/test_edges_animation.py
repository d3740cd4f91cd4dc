"""Animations past their containers' fields: an APNG frame's data split into several
IDAT or fdAT chunks (each fdAT with its sequence number), as a still PNG's is, and an
animated WebP past RIFF's 32-bit size refused in one line, with no output. The limits
are lowered here so that a small animation reaches them; the APNG is read back by
libpng (imagecodecs) and by Pillow."""

import struct

import imagecodecs
import numpy as np
import pytest
from helpers import assert_one_line_error, run
from PIL import Image, ImageSequence

from imgconv.io import animation, png

PIECE = 64  # the longest chunk while testing


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """A PNG's chunks, (name, data), in order."""
    out, at = [], 8
    while at < len(data):
        length, kind = struct.unpack_from(">I4s", data, at)
        out.append((kind, data[at + 8 : at + 8 + length]))
        at += length + 12
    return out


@pytest.mark.parametrize("mode", ["RGB", "LA;16"])
def test_apng_frame_data_in_chunks_keeps_every_sample(tmp_path, monkeypatch, rng, mode):
    monkeypatch.setattr(png, "IDAT_BYTES", PIECE)
    dtype, channels = (np.uint16, 2) if mode.endswith("16") else (np.uint8, 3)
    frames = [rng.integers(0, np.iinfo(dtype).max + 1, (12, 10, channels), dtype=dtype) for _ in range(4)]
    frames[2] = frames[1].copy()  # an unchanged frame: one pixel, one fdAT chunk
    frames[3][5:9, 2:6] = frames[2][5:9, 2:6]
    data = animation.encode_apng(frames, mode, {"duration": [10, 20, 30, 40], "loop": 0}, level=6)
    found = chunks(data)
    assert max(len(body) for _, body in found) <= PIECE
    # Every fcTL and fdAT numbered 0, 1, 2, ... in the file's order; IDAT chunks carry none.
    numbers = [struct.unpack(">I", body[:4])[0] for kind, body in found if kind in (b"fcTL", b"fdAT")]
    assert numbers == list(range(len(numbers)))
    # The data chunks after each fcTL: the whole first frame's, the second's, one pixel, a box of 4x4.
    each = b"".join(b"|" if kind == b"fcTL" else kind[:1] for kind, _ in found if kind in (b"fcTL", b"IDAT", b"fdAT"))
    counts = [len(run) for run in each.split(b"|")[1:]]
    assert each.split(b"|")[1] == b"I" * counts[0] and b"I" not in b"".join(each.split(b"|")[2:])
    assert counts[0] > 5 and counts[1] > 5 and counts[2] == 1 and counts[3] > 1, counts

    shown = imagecodecs.apng_decode(data)  # libpng's APNG patch: (frames, height, width, samples)
    assert shown.shape[0] == 4 and shown.dtype == dtype
    for got, want in zip(shown, frames, strict=True):
        assert np.array_equal(got, want)
    if mode == "RGB":  # Pillow reads 16-bit grey with alpha as 8 bits
        (tmp_path / "out.png").write_bytes(data)
        with Image.open(tmp_path / "out.png") as image:
            read = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(image)]
        assert len(read) == 4 and all(np.array_equal(g, w) for g, w in zip(read, frames, strict=True))


def test_a_webp_animation_past_riff_size_is_refused_before_any_output(tmp_path, monkeypatch, rng):
    frames = [Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)) for _ in range(3)]
    frames[0].save(tmp_path / "in.gif", save_all=True, append_images=frames[1:], duration=100)
    assert run("identity", tmp_path / "in.gif", tmp_path / "whole.webp").exit_code == 0
    size = (tmp_path / "whole.webp").stat().st_size
    monkeypatch.setattr(animation, "RIFF_BYTES", size - 9)  # one byte short of what it holds
    result = run("identity", tmp_path / "in.gif", tmp_path / "out.webp")
    assert_one_line_error(result, 1, "out.webp", "more than 4 GiB as WebP", "write APNG")
    assert not (tmp_path / "out.webp").exists()
    monkeypatch.setattr(animation, "RIFF_BYTES", size - 8)
    assert run("identity", tmp_path / "in.gif", tmp_path / "out.webp").exit_code == 0
    assert (tmp_path / "out.webp").read_bytes() == (tmp_path / "whole.webp").read_bytes()
