"""Animations: every frame read once and in order, an APNG's default image kept out of
the frames, frames written whole (never blended twice), and no frame merged away.

The APNG inputs are built here by a minimal writer of the test's own (chunks, zlib), so
that default images, blend and disposal ops and 16-bit frames are exactly as asked; the
outputs are read back by libpng (imagecodecs' APNG decoder) and by Pillow frame by frame.
"""

import struct
import zlib

import imagecodecs
import numpy as np
import pytest
from helpers import run
from PIL import Image

COLOUR_TYPE = {(1, 8): 0, (3, 8): 2, (4, 8): 6, (1, 16): 0, (3, 16): 2, (4, 16): 6}
APNG_BLEND_OVER, APNG_BLEND_SOURCE = 1, 0


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def rows(samples):
    """Unfiltered scanlines of (H, W[, C]) samples, deflated."""
    samples = samples.astype(">u2") if samples.dtype == np.uint16 else samples
    flat = np.ascontiguousarray(samples).view(np.uint8).reshape(samples.shape[0], -1)
    return zlib.compress(np.hstack([np.zeros((len(flat), 1), np.uint8), flat]).tobytes())


def apng(frames, durations, *, default=None, blend=APNG_BLEND_SOURCE, palette=None):
    """An APNG of whole-canvas frames; ``default`` an image shown only without animation;
    ``palette`` (256 RGB triples) makes 2-D uint8 frames palette indices."""
    first = default if default is not None else frames[0]
    channels = 1 if first.ndim == 2 else first.shape[2]
    depth = first.dtype.itemsize * 8
    colour_type = 3 if palette is not None else COLOUR_TYPE[(channels, depth)]
    height, width = first.shape[:2]
    out = [b"\x89PNG\r\n\x1a\n", chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0))]
    if palette is not None:
        out.append(chunk(b"PLTE", bytes(np.asarray(palette, np.uint8).ravel())))
    out.append(chunk(b"acTL", struct.pack(">II", len(frames), 0)))
    sequence = 0
    if default is not None:
        out.append(chunk(b"IDAT", rows(default)))
    for index, (frame, duration) in enumerate(zip(frames, durations, strict=True)):
        fctl = struct.pack(">IIIIIHHBB", sequence, width, height, 0, 0, duration, 1000, 0,
                           blend[index] if isinstance(blend, list) else blend)
        out.append(chunk(b"fcTL", fctl))
        sequence += 1
        if index == 0 and default is None:
            out.append(chunk(b"IDAT", rows(frame)))
        else:
            out.append(chunk(b"fdAT", struct.pack(">I", sequence) + rows(frame)))
            sequence += 1
    out.append(chunk(b"IEND", b""))
    return b"".join(out)


def pillow_frames(path, mode):
    """Every frame as Pillow renders it, decoded in order, with its duration."""
    with Image.open(path) as image:
        frames, durations = [], []
        for index in range(image.n_frames):
            image.seek(index)
            frames.append(np.asarray(image.convert(mode)))
            durations.append(image.info.get("duration"))
        return np.stack(frames), durations


def fcTL_ops(data):
    """(dispose_op, blend_op) of each fcTL chunk of an APNG."""
    ops, position = [], 8
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        if kind == b"fcTL":
            ops.append(tuple(data[position + 8 + 24 : position + 8 + 26]))
        position += 12 + length
    return ops


@pytest.fixture
def colours():
    """Four different smooth 12x10 RGB frames (lossy WebP keeps them close), the second
    repeated: 5 frames."""
    rows, columns = np.mgrid[0:12, 0:10]
    frames = [np.dstack([rows * 9 + 40 * k, columns * 11 + 20 * k, 200 - 30 * k + rows]).astype(np.uint8)
              for k in range(4)]
    return [frames[0], frames[1], frames[1], frames[2], frames[3]]


def test_a_palette_apng_keeps_its_colours_in_every_frame(tmp_path):
    palette = [(c, 255 - c, (7 * c) % 256) for c in range(256)]
    indices = [np.arange(48, dtype=np.uint8).reshape(6, 8) * k for k in (1, 3, 5)]
    (tmp_path / "in.png").write_bytes(apng(indices, [100, 200, 300], palette=palette))
    expected = np.asarray(palette, np.uint8)[np.stack(indices)]
    assert np.array_equal(imagecodecs.apng_decode((tmp_path / "in.png").read_bytes()), expected)
    assert run("identity", tmp_path / "in.png", tmp_path / "out.png").exit_code == 0
    assert np.array_equal(imagecodecs.apng_decode((tmp_path / "out.png").read_bytes()), expected)
    assert run("identity", "--frame", 2, tmp_path / "in.png", tmp_path / "third.png").exit_code == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "third.png")), expected[2])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_an_apngs_default_image_is_not_a_frame(tmp_path, rng, dtype):
    top = np.iinfo(dtype).max
    default = np.full((6, 8, 3), top // 2, dtype)
    frames = [rng.integers(0, top, (6, 8, 3), dtype=dtype, endpoint=True) for _ in range(4)]
    (tmp_path / "in.png").write_bytes(apng(frames, [40, 50, 60, 70], default=default))
    decoded = imagecodecs.apng_decode((tmp_path / "in.png").read_bytes())
    assert len(decoded) == 5 and np.array_equal(decoded[0], default)  # libpng counts the default image
    assert run("identity", tmp_path / "in.png", tmp_path / "out.png").exit_code == 0
    assert np.array_equal(imagecodecs.apng_decode((tmp_path / "out.png").read_bytes()), np.stack(frames))
    with Image.open(tmp_path / "out.png") as image:
        assert image.n_frames == 4 and not image.info.get("default_image")
        assert [(image.seek(i), image.info["duration"])[1] for i in range(4)] == [40, 50, 60, 70]
    assert run("identity", "--frame", 0, tmp_path / "in.png", tmp_path / "first.tif").exit_code == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "first.tif")) if dtype == np.uint8
                          else imagecodecs.tiff_decode((tmp_path / "first.tif").read_bytes()), frames[0])


def test_frames_blended_over_are_written_whole_and_blend_once(tmp_path):
    """A half-transparent blue frame blended OVER opaque red: shown as (127, 0, 128),
    opaque (Pillow and libpng paste it with its alpha as mask: alpha 191). Written back
    with the input's OVER, every round would blend it again."""
    red = np.zeros((4, 6, 4), np.uint8)
    red[..., 0] = red[..., 3] = 255
    blue = np.zeros((4, 6, 4), np.uint8)
    blue[..., 2], blue[..., 3] = 255, 128
    source = tmp_path / "round0.png"
    source.write_bytes(apng([red, blue], [100, 100], blend=[APNG_BLEND_SOURCE, APNG_BLEND_OVER]))
    shown = pillow_frames(source, "RGBA")[0]
    assert np.array_equal(shown, imagecodecs.apng_decode(source.read_bytes()))
    assert tuple(shown[1, 0, 0]) == (127, 0, 128, 191)
    shown[1, ..., 3] = 255  # Porter-Duff over an opaque canvas is opaque
    for round_ in (1, 2, 3):
        out = tmp_path / f"round{round_}.png"
        assert run("identity", source, out).exit_code == 0
        assert np.array_equal(imagecodecs.apng_decode(out.read_bytes()), shown), round_
        assert np.array_equal(pillow_frames(out, "RGBA")[0], shown), round_
        assert fcTL_ops(out.read_bytes()) == [(0, APNG_BLEND_SOURCE)] * 2
        source = out


@pytest.mark.parametrize("ext", ["png", "gif", "webp"])
def test_identical_frames_are_kept_with_their_durations(tmp_path, colours, ext):
    """Pillow's writers (and libwebp's animation encoder) merge a frame equal to the one
    before into it; a FLI of 384 frames came back with 173."""
    durations = [100, 200, 300, 400, 500]
    # OVER and SOURCE alternate so that the test's source keeps its 5 frames (all opaque,
    # so each shows the same)
    (tmp_path / "in.png").write_bytes(apng(colours, durations, blend=[0, 1, 0, 1, 0]))
    out = tmp_path / f"out.{ext}"
    options = ["--quality", 100] if ext == "webp" else []
    assert run("identity", *options, tmp_path / "in.png", out).exit_code == 0
    written, got = pillow_frames(out, "RGB")
    assert len(written) == 5 and got == durations
    if ext == "png":
        assert np.array_equal(written, np.stack(colours))
        assert np.array_equal(imagecodecs.apng_decode(out.read_bytes()), np.stack(colours))
    else:  # GIF: 256 colours a frame; WebP: lossy
        assert np.array_equal(written[1], written[2])
        assert np.abs(written.astype(int) - np.stack(colours)).mean() < 12
    assert run("identity", out, tmp_path / f"again.{ext}").exit_code == 0
    assert pillow_frames(tmp_path / f"again.{ext}", "RGB")[1] == durations


def test_a_lossless_webp_animation_keeps_every_sample_and_alpha(tmp_path, rng):
    frames = [rng.integers(0, 256, (9, 11, 4), dtype=np.uint8) for _ in range(3)]
    frames[1][..., 3] = 255
    frames.insert(2, frames[1])
    images = [Image.fromarray(f) for f in frames]
    images[0].save(tmp_path / "in.webp", save_all=True, append_images=images[1:], duration=[10, 20, 30, 40],
                   lossless=True, exact=True, loop=3)
    shown, durations = pillow_frames(tmp_path / "in.webp", "RGBA")
    assert len(shown) == 3 and durations == [10, 50, 40]  # Pillow merged the repeated frame
    assert run("identity", tmp_path / "in.webp", tmp_path / "out.webp").exit_code == 0
    written, got = pillow_frames(tmp_path / "out.webp", "RGBA")
    assert got == durations
    visible = shown[..., 3] > 0  # WebP may change colour under fully transparent pixels
    assert np.array_equal(written[visible], shown[visible]) and np.array_equal(written[..., 3], shown[..., 3])
    with Image.open(tmp_path / "out.webp") as image:
        assert image.info["loop"] == 3


def test_16_bit_frames_stay_16_bit_in_an_apng(tmp_path, rng):
    frames = [rng.integers(0, 65536, (5, 7, 3), dtype=np.uint16) for _ in range(3)]
    (tmp_path / "in.png").write_bytes(apng(frames, [10, 20, 30]))
    assert run("identity", tmp_path / "in.png", tmp_path / "out.png").exit_code == 0
    assert np.array_equal(imagecodecs.apng_decode((tmp_path / "out.png").read_bytes()), np.stack(frames))


def test_frames_with_transparency_to_gif_are_cleared_between_frames(tmp_path):
    """A transparent pixel of a later frame stays transparent where an earlier frame was
    opaque: each frame is disposed of to the background and written whole."""
    first = np.zeros((4, 4, 4), np.uint8)
    first[..., 0] = first[..., 3] = 255
    second = first.copy()
    second[:2, :, 3] = 0
    (tmp_path / "in.png").write_bytes(apng([first, second], [100, 100]))
    assert run("identity", tmp_path / "in.png", tmp_path / "out.gif").exit_code == 0
    written, _ = pillow_frames(tmp_path / "out.gif", "RGBA")
    assert np.array_equal(written[..., 3] > 0, np.stack([first, second])[..., 3] > 0)


@pytest.mark.parametrize("ext", ["png", "webp"])
def test_an_animations_icc_profile_and_exif_are_kept(tmp_path, colours, ext):
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    exif = Image.Exif()
    exif[0x010E] = "five frames"  # ImageDescription
    (tmp_path / "in.png").write_bytes(apng(colours, [100] * 5))
    data = (tmp_path / "in.png").read_bytes()
    iend = data.rindex(b"IEND") - 4
    extra = chunk(b"iCCP", b"x\0\0" + zlib.compress(profile)) + chunk(b"eXIf", exif.tobytes()[6:])
    (tmp_path / "meta.png").write_bytes(data[:33] + extra + data[33:iend] + data[iend:])
    out = tmp_path / f"out.{ext}"
    assert run("identity", tmp_path / "meta.png", out).exit_code == 0
    with Image.open(out) as image:
        assert image.n_frames == 5
        assert image.info["icc_profile"] == profile
        assert image.getexif()[0x010E] == "five frames"


def distinct_colours(rng, count):
    """``count`` different RGB colours, many of them a step apart (a quantiser merges those)."""
    base = rng.choice(1 << 24, (count + 1) // 2, replace=False).astype(np.uint32)
    packed = np.unique(np.concatenate([base, base ^ 1]))[:count]
    assert len(packed) == count
    return np.stack([packed >> 16, (packed >> 8) & 0xFF, packed & 0xFF], axis=1).astype(np.uint8)


def test_a_gif_frame_of_256_colours_keeps_them(tmp_path, rng):
    """A frame a colour table holds is written with exactly its colours, in every frame,
    the later ones too (where leaving unchanged pixels transparent would need a 257th)."""
    table = distinct_colours(rng, 256)
    first = rng.permutation(256).astype(np.uint8).reshape(16, 16)
    second = first.copy()
    second[4:9, 3:12] = first[4:9, 3:12][::-1]
    images = [Image.fromarray(f, "P") for f in (first, second)]
    for image in images:
        image.putpalette(table.ravel().tolist())
    images[0].save(tmp_path / "in.gif", save_all=True, append_images=images[1:], duration=[100, 200])
    expected, _ = pillow_frames(tmp_path / "in.gif", "RGB")
    assert np.array_equal(expected, table[np.stack([first, second])])
    assert run("identity", tmp_path / "in.gif", tmp_path / "out.gif").exit_code == 0
    written, durations = pillow_frames(tmp_path / "out.gif", "RGB")
    assert np.array_equal(written, expected) and durations == [100, 200]


def test_a_gif_frame_with_transparency_keeps_255_colours(tmp_path, rng):
    """Colour under transparent pixels is no colour of the frame's: 255 opaque colours
    fit with the transparent index, whatever the hidden ones are."""
    hidden = np.zeros(16 * 20, bool)
    hidden[rng.permutation(16 * 20)[:65]] = True
    hidden = hidden.reshape(16, 20)
    colours = distinct_colours(rng, 255 + 65)
    rgba = np.zeros((16, 20, 4), np.uint8)
    rgba[~hidden] = np.column_stack([colours[:255], np.full(255, 255)])
    rgba[hidden] = np.column_stack([colours[255:], rng.integers(0, 128, 65)])
    Image.fromarray(rgba).save(tmp_path / "in.png")
    assert run("identity", tmp_path / "in.png", tmp_path / "out.gif").exit_code == 0
    written, _ = pillow_frames(tmp_path / "out.gif", "RGBA")
    assert np.array_equal(written[0][..., 3], np.where(hidden, 0, 255))
    assert np.array_equal(written[0][~hidden], rgba[~hidden])
