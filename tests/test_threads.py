"""Process-wide state under threads: images decoded at once on several threads (as the
demo server decodes uploads) each keep their own pixel limit.

Each test stops one decoding thread at a known point, inside `decode_image`, while
another decodes under a different limit, so that the interleaving that went wrong is
the one that runs, every time."""

import io
import struct
import threading

import numpy as np
import pytest
from PIL import Image

from imgconv.errors import PixelLimitError
from imgconv.io import read as reader


def gif(frames, **options):
    buffer = io.BytesIO()
    images = [Image.fromarray(f) for f in frames]
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=50, **options)
    return buffer.getvalue()


def png(side):
    buffer = io.BytesIO()
    Image.fromarray(np.full((side, side), 7, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


class Paused:
    """`decode_image` calls, each on a thread of its own, held where the picture is
    read from the opened file (`picture_from_pillow`, where Pillow seeks to each
    frame) until released."""

    def __init__(self, monkeypatch):
        self.gates = {}
        reading = reader.picture_from_pillow

        def held(*args):
            arrived, release = self.gates[threading.current_thread().name]
            arrived.set()
            assert release.wait(60)
            return reading(*args)

        monkeypatch.setattr(reader, "picture_from_pillow", held)

    def start(self, name, data, max_pixels):
        """Start decoding ``data`` and wait until it is held inside."""
        self.gates[name] = threading.Event(), threading.Event()
        outcome = {}

        def decode():
            try:
                outcome["picture"] = reader.decode_image(data, name, max_pixels=max_pixels)
            except PixelLimitError as exc:
                outcome["error"] = str(exc)

        thread = threading.Thread(target=decode, name=name)
        thread.start()
        assert self.gates[name][0].wait(60)
        return thread, outcome

    def finish(self, name, thread):
        self.gates[name][1].set()
        thread.join(60)
        assert not thread.is_alive()


def test_a_thread_decoding_without_a_limit_is_not_held_to_anothers(monkeypatch, rng):
    """A 3-frame 100x100 GIF (frames disposed to the background, which Pillow sizes
    against its limit while seeking) decoded without a limit, while another thread is
    inside a decode under a 1000-pixel limit: the limit of one call is not the other's."""
    frames = [rng.integers(0, 256, (100, 100), np.uint8) for _ in range(3)]
    data = gif(frames, disposal=2)
    alone = reader.decode_image(data, "alone", max_pixels=0)
    paused = Paused(monkeypatch)
    unlimited, outcome = paused.start("unlimited", data, 0)
    limited, small = paused.start("limited", png(10), 1000)
    paused.finish("unlimited", unlimited)
    paused.finish("limited", limited)
    assert "error" not in outcome, outcome["error"]
    assert len(outcome["picture"].frames) == 3
    for frame, expected in zip(outcome["picture"].frames, alone.frames, strict=True):
        assert np.array_equal(frame, expected)
    assert small["picture"].frames[0].shape == (10, 10)


def test_a_thread_under_a_limit_keeps_it_while_another_decodes_without(monkeypatch, rng):
    """A 24x16 GIF whose second frame claims 8000 x 4096 (32 megapixels) under a
    1,000,000-pixel limit, while another thread decodes without one: refused from the
    frame's header, before it is decoded, as on its own."""
    frames = [rng.integers(0, 256, (16, 24), np.uint8) for _ in range(3)]
    data = bytearray(gif(frames, disposal=2))
    descriptors = [i for i in range(len(data) - 9) if data[i: i + 9] == b"\x2c\0\0\0\0\x18\0\x10\0"]
    assert len(descriptors) == 3  # x 0, y 0, width 24, height 16 each
    data[descriptors[1] + 5: descriptors[1] + 9] = struct.pack("<HH", 8000, 4096)
    with pytest.raises(PixelLimitError, match="8000 x 4096 is more pixels than the limit of 1000000"):
        reader.decode_image(bytes(data), "alone", max_pixels=1_000_000)
    paused = Paused(monkeypatch)
    limited, outcome = paused.start("limited", bytes(data), 1_000_000)
    unlimited, other = paused.start("unlimited", png(10), 0)
    paused.finish("limited", limited)
    paused.finish("unlimited", unlimited)
    assert "8000 x 4096 is more pixels than the limit of 1000000" in outcome.get("error", ""), outcome
    assert other["picture"].frames[0].shape == (10, 10)


def test_pillows_own_limit_is_left_to_the_program(rng):
    """A program that imports imgconv keeps Pillow's process-wide limit and check."""
    before = Image.MAX_IMAGE_PIXELS
    reader.decode_image(gif([rng.integers(0, 256, (16, 24), np.uint8)] * 2, disposal=2), "x", max_pixels=1000)
    assert Image.MAX_IMAGE_PIXELS == before
    with pytest.raises(Image.DecompressionBombError):
        Image._decompression_bomb_check((before + 1, 3))


def test_decodes_that_overlap_and_end_out_of_order_leave_the_warning_filters_as_they_were(monkeypatch):
    """Decoding silences Pillow's warnings. Two decodes on two threads, the first in
    ending first: while either runs nothing is shown, and after both the program's own
    filters are back (saving and restoring per call left "ignore" on for good)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        before = list(warnings.filters)
        paused = Paused(monkeypatch)
        first, one = paused.start("first", png(10), 0)
        second, two = paused.start("second", png(12), 0)
        paused.finish("first", first)
        warnings.warn("shown only once the decodes are over", UserWarning, stacklevel=1)  # ignored: one still runs
        paused.finish("second", second)
        assert one["picture"].frames[0].shape == (10, 10) and two["picture"].frames[0].shape == (12, 12)
        assert warnings.filters == before
        with pytest.raises(UserWarning):
            warnings.warn("the program's filter again", UserWarning, stacklevel=1)
