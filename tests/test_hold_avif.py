"""AVIF holds animations as WebP does: every frame, each frame's duration (whole
milliseconds, 1 to 2**32 - 1), the loop count, alpha. Read back by imagecodecs' libavif
and dav1d (the frames), Pillow (the durations) and the ISO BMFF boxes parsed here (the
repetitions, as libavif's reader derives them)."""

import io
import struct

import imagecodecs
import numpy as np
import pytest
from helpers import assert_one_line_error, run
from PIL import Image, features

from imgconv.errors import ImageWriteError
from imgconv.io.picture import Picture
from imgconv.io.write import EncodeOptions, check_writable, encode_image

pytestmark = pytest.mark.skipif(not features.check("avif"), reason="Pillow without AVIF")

YY, XX = np.mgrid[0:16, 0:24]


def grey_frames(count=3):
    return [((XX * 9 + YY * 5 + 37 * k) % 256).astype(np.uint8) for k in range(count)]


def rgba_frames(count=3):
    return [np.stack([XX * 8 + k * 20, YY * 12 + k * 5, 200 - XX * 4, (XX * 10 + YY * 3 + k * 40) % 256],
                     -1).astype(np.uint8) for k in range(count)]


def animation(frames, mode, **timing):
    return Picture(frames, mode, "GIF", animation=timing)


def durations_read(data):
    with Image.open(io.BytesIO(data)) as image:
        found = []
        for index in range(image.n_frames):
            image.seek(index)
            image.load()
            found.append(image.info["duration"])
        return found


def boxes(data, start=0, end=None):
    """(type, content) of each box, into moov, trak and edts (ISO/IEC 14496-12)."""
    end = len(data) if end is None else end
    while start < end:
        size, kind = struct.unpack_from(">I4s", data, start)
        yield kind, data[start + 8:start + size]
        if kind in (b"moov", b"trak", b"edts"):
            yield from boxes(data, start + 8, start + size)
        start += size


def repetitions(data):
    """libavif's repetition count of each track: none without the edit list's repeat
    flag; else the track's duration over the segment's, less one; -1 for ever."""
    found, track = [], None
    for kind, content in boxes(data):
        if kind == b"tkhd":
            assert content[0] == 1
            track = struct.unpack_from(">Q", content, 28)[0]
        elif kind == b"elst":
            segment = struct.unpack_from(">Q", content, 8)[0]
            if not content[3] & 1:
                found.append(0)
            else:
                found.append(-1 if track == 2 ** 64 - 1 else -(-track // segment) - 1)
    return found


def test_grey_animation_exact_at_quality_100():
    frames = grey_frames()
    data = encode_image(frames, animation(frames, "L", duration=[40, 70.4, 1000], loop=0), "AVIF",
                        EncodeOptions(quality=100))
    decoded = imagecodecs.avif_decode(data)  # every frame, by imagecodecs' own libavif and dav1d
    assert decoded.shape == (3, 16, 24)
    np.testing.assert_array_equal(decoded, np.stack(frames))  # 4:0:0 at quality 100 is lossless
    assert durations_read(data) == [40, 70, 1000]
    assert repetitions(data) == [-1]


def test_alpha_kept_colour_within_chroma_subsampling():
    frames = rgba_frames()
    data = encode_image(frames, animation(frames, "RGBA", duration=[10, 20, 30], loop=3), "AVIF",
                        EncodeOptions(quality=100))
    decoded = imagecodecs.avif_decode(data).astype(int)
    assert decoded.shape == (3, 16, 24, 4)
    np.testing.assert_array_equal(decoded[..., 3], np.stack(frames)[..., 3])
    # Pillow's AVIF encoder halves the chroma (4:2:0): 8 was the largest difference measured here.
    assert np.abs(decoded[..., :3] - np.stack(frames)[..., :3]).max() <= 10
    assert durations_read(data) == [10, 20, 30]
    assert repetitions(data) == [2, 2]  # colour and alpha tracks: three plays


@pytest.mark.parametrize(("loop", "repeats"), [(1, 0), (2, 1), (0, -1)])
def test_loop_count(loop, repeats):
    frames = grey_frames(2)
    data = encode_image(frames, animation(frames, "L", duration=[30, 50], loop=loop), "AVIF")
    assert repetitions(data) == [repeats]


@pytest.mark.parametrize("duration", [0, 0.4, 2 ** 32])
def test_durations_it_cannot_store_refused(duration):
    frames = grey_frames(2)
    with pytest.raises(ImageWriteError, match=rf"^out\.avif: a frame of the input lasts {duration:.10g} ms, which "
                                              r"AVIF cannot store as a frame's duration; (write .*)?give --frame N$"):
        check_writable(animation(frames, "L", duration=[duration, 40]), "AVIF", "out.avif")


@pytest.mark.parametrize("duration", [1, 0.6, 2 ** 32 - 1])
def test_durations_it_stores_pass(duration):
    check_writable(animation(grey_frames(2), "L", duration=[duration, 40]), "AVIF", "out.avif")


def test_frames_of_several_sizes_refused():
    frames = [np.zeros((4, 6), np.uint8), np.zeros((5, 6), np.uint8)]
    with pytest.raises(ImageWriteError, match=r"a AVIF animation holds frames of one size; write TIFF"):
        check_writable(animation(frames, "L", duration=[40, 40]), "AVIF", "out.avif")


def test_refusals_elsewhere_name_avif():
    frames = rgba_frames(2)
    with pytest.raises(ImageWriteError, match=r"holds one; give --frame N \(0-based\) or write [^;]*AVIF"):
        check_writable(animation(frames, "RGBA", duration=[40, 40]), "QOI", "out.qoi")


def test_cli_animated_webp_to_avif(tmp_path):
    source = tmp_path / "in.webp"
    images = [Image.fromarray(f) for f in rgba_frames()]
    images[0].save(source, save_all=True, append_images=images[1:], duration=[40, 80, 120], loop=2, lossless=True)
    result = run("blur", "-s", "1", source, tmp_path / "out.avif")
    assert result.exit_code == 0, result.stderr
    data = (tmp_path / "out.avif").read_bytes()
    assert imagecodecs.avif_decode(data).shape == (3, 16, 24, 4)
    assert durations_read(data) == [40, 80, 120]
    assert repetitions(data) == [1, 1]


def test_cli_zero_delay_refused_in_one_line(tmp_path):
    source = tmp_path / "in.gif"
    images = [Image.fromarray(f) for f in grey_frames(2)]
    images[0].save(source, save_all=True, append_images=images[1:], duration=[0, 50])
    out = tmp_path / "out.avif"
    assert_one_line_error(run("blur", "-s", "1", source, out), 1, "out.avif", "lasts 0 ms", "AVIF cannot store")
    assert not out.exists()
