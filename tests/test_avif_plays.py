"""An AVIF image sequence's play count read from its boxes, as libavif reads it (Pillow
gives none), so that it goes on to the output; and damaged boxes read as no count,
without a hang. The counts are checked against `test_hold_avif.repetitions`, a walk of
the boxes written for the tests."""

import struct

import pytest
from PIL import Image
from test_hold_avif import animation, grey_frames, repetitions

import imgconv
from imgconv.io import avif_plays
from imgconv.io.write import encode_image


@pytest.mark.parametrize("loop", [0, 1, 3])
def test_the_play_count_is_read_and_kept(tmp_path, loop):
    frames = grey_frames(2)
    data = encode_image(frames, animation(frames, "L", duration=[30, 50], loop=loop), "AVIF")
    assert repetitions(data) == [loop - 1]  # libavif's count: -1 for ever, 0 once
    (tmp_path / "in.avif").write_bytes(data)
    assert imgconv.read_image(tmp_path / "in.avif").animation["loop"] == loop
    assert imgconv.read_image(tmp_path / "in.avif", frame=0).animation == {}
    with Image.open(tmp_path / "in.avif") as image:
        assert "loop" not in image.info  # Pillow's reading, which lost it
    imgconv.write_image(tmp_path / "out.webp", imgconv.read_image(tmp_path / "in.avif"))
    with Image.open(tmp_path / "out.webp") as out:
        assert out.info["loop"] == loop


def test_version_0_boxes_and_a_duration_not_a_whole_number_of_segments():
    """``tkhd`` and ``elst`` of 32-bit durations: a track of 2.5 segments plays 3 times,
    as libavif rounds up."""
    tkhd = struct.pack(">B3xIII4xI", 0, 0, 0, 1, 250)  # version, times, track 1, reserved, duration
    elst = struct.pack(">B2xBIIiHH", 0, 1, 1, 100, 0, 1, 0)
    edts = _box(b"edts", _box(b"elst", elst))
    data = _box(b"ftyp", b"avis") + _box(b"moov", _box(b"trak", _box(b"tkhd", tkhd) + edts))
    assert avif_plays.plays(data) == 3


@pytest.mark.parametrize("damage", ["size 0 of 64 bits", "size past the end", "size under the header"])
def test_damaged_boxes_give_no_count(damage):
    frames = grey_frames(2)
    data = bytearray(encode_image(frames, animation(frames, "L", duration=[30, 50], loop=3), "AVIF"))
    moov = data.index(b"moov") - 4
    if damage == "size 0 of 64 bits":
        data[moov:moov + 8] = struct.pack(">I4s", 1, b"moov")
        data[moov + 8:moov + 16] = bytes(8)
    elif damage == "size past the end":
        data[moov:moov + 4] = struct.pack(">I", len(data))
    else:
        data[moov:moov + 4] = struct.pack(">I", 4)
    assert avif_plays.plays(bytes(data)) is None


def _box(kind: bytes, content: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(content), kind) + content
