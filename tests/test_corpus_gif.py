"""GIFs written and read as a demanding user expects, checked against Pillow and
imagecodecs' giflib; the GIFs read are built here byte by byte."""

import io
import re

import imagecodecs
import numpy as np
from PIL import Image, ImageSequence

from imgconv.io.animation import encode_gif
from imgconv.io.read import decode_image


def test_an_opaque_rgba_frame_is_written_as_its_rgb_twin(rng):
    """All 256 colours of an opaque RGBA frame are kept, with no transparent index that
    would take one of them; an animation of such frames is byte for byte its RGB twin's."""
    levels = np.arange(256)
    colours = np.stack([levels, levels * 7 % 256, 255 - levels], axis=1).astype(np.uint8)  # 256 distinct
    rgb = colours[rng.permutation(np.arange(16 * 20) % 256)].reshape(16, 20, 3)
    second = rgb[::-1].copy()
    opaque = [np.dstack([f, np.full(f.shape[:2], 255, np.uint8)]) for f in (rgb, second)]
    animation = {"duration": [100, 100], "loop": 0}
    assert encode_gif(opaque[:1], {}) == encode_gif([rgb], {})
    assert encode_gif(opaque, animation) == encode_gif([rgb, second], animation)
    data = encode_gif(opaque[:1], {})
    with Image.open(io.BytesIO(data)) as image:
        assert "transparency" not in image.info and len(image.getpalette() or []) == 3 * 256
        assert np.array_equal(np.asarray(image.convert("RGB")), rgb)
    decoded = imagecodecs.gif_decode(data)
    assert np.array_equal(decoded[..., :3], rgb) and (decoded.shape[-1] == 3 or (decoded[..., 3] == 255).all())


def _gif(frames: list[np.ndarray], screen: tuple[int, int]) -> bytes:
    """An animated GIF of palette ``frames`` (grey levels 0 to 15 times 16), each
    whole at the origin, its logical screen set to ``screen`` (width, height) after."""
    images = [Image.fromarray(f.astype(np.uint8), "P") for f in frames]
    for image in images:
        image.putpalette(np.repeat(np.arange(16, dtype=np.uint8) * 16, 3).tolist())
    out = io.BytesIO()
    images[0].save(out, "GIF", save_all=True, append_images=images[1:], optimize=False, duration=100, disposal=1)
    data = bytearray(out.getvalue())
    data[6:10] = np.array(screen, "<u2").tobytes()
    return bytes(data)


def test_a_first_frame_past_the_logical_screen_grows_the_canvas(rng):
    """Chromium (Wuffs' default), Pillow and giflib grow the canvas to hold a first frame
    reaching past the logical screen: clipped to the screen, the frame would lose pixels
    without a word."""
    frames = [rng.integers(0, 16, (5, 6)) for _ in range(2)]
    data = _gif(frames, (4, 3))
    picture = decode_image(data, "t.gif")
    with Image.open(io.BytesIO(data)) as image:
        reference = [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(image)]
    assert [f.shape for f in picture.frames] == [(5, 6, 3)] * 2
    assert np.array_equal(picture.frames[0], np.repeat(frames[0][..., None] * 16, 3, axis=2))
    for got, expected in zip(picture.frames, reference, strict=True):
        assert np.array_equal(got, expected)


def test_a_gif_that_loops_keeps_its_loop_count_without_frame_delays():
    """A NETSCAPE loop extension (0: forever) with no Graphic Control Extension, as
    gdk-pixbuf's GIF test suite's animation-no-delays.gif: Chromium repeats it forever,
    and so does the GIF imgconv writes of it (it played once)."""
    frames = [Image.fromarray(np.full((2, 2), level, np.uint8), "L") for level in (0, 85, 170, 255)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], loop=0)
    data = re.sub(rb"\x21\xf9\x04.{4}\x00", b"", out.getvalue(), flags=re.DOTALL)  # Pillow's delays taken out
    assert b"NETSCAPE2.0" in data and b"\x21\xf9" not in data  # a loop, and no frame's delay
    picture = decode_image(data, "t.gif")
    assert picture.animation.get("loop") == 0
    written = encode_gif(picture.frames, picture.animation)
    with Image.open(io.BytesIO(written)) as image:
        assert image.info.get("loop") == 0 and image.n_frames == 4
