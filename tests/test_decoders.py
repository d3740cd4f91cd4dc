"""The quick decoders (imagecodecs' libpng and libjpeg-turbo) give Pillow's samples and
lose no metadata; files they do not take are left to Pillow."""

import struct
import zlib

import imagecodecs
import numpy as np
import pytest
from helpers import SAMPLES
from PIL import Image

from imgconv.errors import ImageReadError
from imgconv.io.read import read_image


@pytest.fixture(scope="module")
def photo():
    return np.asarray(Image.open(SAMPLES / "chelsea.png").convert("RGB"))[:150, :201]


@pytest.fixture
def counted(monkeypatch):
    """How many times each quick decoder ran."""
    calls = {"png": 0, "jpeg": 0}
    for kind, name in (("png", "png_decode"), ("jpeg", "jpeg8_decode")):
        original = getattr(imagecodecs, name)

        def counting(data, _original=original, _kind=kind):
            calls[_kind] += 1
            return _original(data)

        monkeypatch.setattr(imagecodecs, name, counting)
    return calls


def pillow_samples(path):
    with Image.open(path) as image:
        return np.asarray(image.convert("RGBA" if image.mode == "P" else image.mode))


def chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def with_chunk_after_pixels(path, kind, payload):
    """The PNG with a chunk inserted between its last IDAT and IEND."""
    data = path.read_bytes()
    path.write_bytes(data[:-12] + chunk(kind, payload) + data[-12:])


def grey_alpha(photo):
    return np.dstack([photo[..., 0], photo[..., 1]])


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
@pytest.mark.parametrize("interlace", [False, True])
def test_a_plain_png_is_decoded_quickly_to_pillows_samples(tmp_path, photo, counted, mode, interlace):
    source = Image.fromarray(np.dstack([photo, photo[..., 2] // 2 + 60])).convert(mode)
    path = tmp_path / "in.png"
    if interlace:  # Pillow writes no interlaced PNGs
        path.write_bytes(_interlaced(np.asarray(source), mode))
    else:
        source.save(path)
    picture = read_image(path)
    assert counted["png"] == 1
    assert picture.mode == mode
    assert np.array_equal(picture.frames[0], pillow_samples(path))


def _interlaced(samples, mode):
    """An Adam7-interlaced PNG, encoded here from the standard's pass layout."""
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}[mode]
    colour = {"L": 0, "LA": 4, "RGB": 2, "RGBA": 6}[mode]
    height, width = samples.shape[:2]
    samples = samples.reshape(height, width, channels)
    raw = b""
    for y0, x0, dy, dx in ((0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2),
                           (1, 0, 2, 1)):
        part = samples[y0::dy, x0::dx]
        if part.size:
            raw += b"".join(b"\0" + row.tobytes() for row in part)
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 1)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_exif_before_the_pixels_is_kept_and_applied(tmp_path, photo, counted):
    exif = Image.Exif()
    exif[0x0112] = 6  # turned 90 degrees: the picture read is upright
    exif[0x010F] = "Maker"
    Image.fromarray(photo).save(tmp_path / "in.png", exif=exif)
    picture = read_image(tmp_path / "in.png")
    assert counted["png"] == 1
    assert picture.metadata["exif"][0x010F] == "Maker" and 0x0112 not in picture.metadata["exif"]
    assert np.array_equal(picture.frames[0], np.rot90(photo, -1))


@pytest.mark.parametrize("kind, payload, key", [
    (b"eXIf", None, "exif"),
    (b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0<x:xmpmeta/>", "xmp"),
])
def test_metadata_after_the_pixels_is_left_to_pillow_and_kept(tmp_path, photo, counted, kind, payload, key):
    if payload is None:
        exif = Image.Exif()
        exif[0x010F] = "Maker"
        payload = exif.tobytes()[6:]  # without the "Exif\0\0" header, as PNG stores it
    Image.fromarray(photo).save(tmp_path / "in.png")
    with_chunk_after_pixels(tmp_path / "in.png", kind, payload)
    picture = read_image(tmp_path / "in.png")
    assert counted["png"] == 0
    assert key in picture.metadata
    assert np.array_equal(picture.frames[0], photo)


def test_transparency_chunks_palettes_and_16_bits_are_left_to_pillow(tmp_path, photo, counted):
    Image.fromarray(photo).save(tmp_path / "trns.png", transparency=(1, 2, 3))
    Image.fromarray(photo).quantize(64).save(tmp_path / "palette.png")
    Image.fromarray(photo[..., 0]).convert("1").save(tmp_path / "bilevel.png")
    pictures = {name: read_image(tmp_path / name) for name in ("trns.png", "palette.png", "bilevel.png")}
    assert counted["png"] == 0
    for name, picture in pictures.items():
        # The tRNS colour becomes alpha, as libpng reads it
        assert np.array_equal(picture.frames[0], imagecodecs.png_decode((tmp_path / name).read_bytes())
                              if name == "trns.png" else np.asarray(Image.open(tmp_path / name).convert(picture.mode)))


def test_a_damaged_plain_png_is_one_error(tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "in.png")
    data = bytearray((tmp_path / "in.png").read_bytes())
    assert data[37:41] == b"IDAT"  # the only one, straight after IHDR
    data[200:260] = bytes(60)  # inside the compressed pixels; chunk lengths intact
    end = 41 + int.from_bytes(data[33:37], "big")
    data[end:end + 4] = struct.pack(">I", zlib.crc32(data[37:end]))  # the CRC made right: the decoder meets it
    (tmp_path / "in.png").write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match=r"in.png: corrupt or truncated image"):
        read_image(tmp_path / "in.png")


@pytest.mark.parametrize("options", [
    {"quality": 92}, {"quality": 75, "subsampling": 2}, {"quality": 85, "subsampling": 1},
    {"quality": 95, "subsampling": 0, "progressive": True}, {"quality": 80, "optimize": True},
])
@pytest.mark.parametrize("grey", [False, True])
def test_a_jpeg_is_decoded_quickly_to_pillows_samples(tmp_path, photo, counted, options, grey):
    source = Image.fromarray(photo[..., 1] if grey else photo)
    source.save(tmp_path / "in.jpg", **({k: v for k, v in options.items() if k != "subsampling"} if grey else options))
    picture = read_image(tmp_path / "in.jpg")
    assert counted["jpeg"] == 1
    assert np.array_equal(picture.frames[0], pillow_samples(tmp_path / "in.jpg"))


def test_a_jpeg_with_restart_markers_and_odd_size(tmp_path, photo, counted):
    Image.fromarray(photo[:97, :133]).save(tmp_path / "in.jpg", quality=90, restart_marker_blocks=3)
    picture = read_image(tmp_path / "in.jpg")
    assert counted["jpeg"] == 1
    assert np.array_equal(picture.frames[0], pillow_samples(tmp_path / "in.jpg"))


def test_a_cmyk_jpeg_is_left_to_pillow(tmp_path, photo, counted):
    Image.fromarray(photo).convert("CMYK").save(tmp_path / "in.jpg")
    picture = read_image(tmp_path / "in.jpg")
    assert counted["jpeg"] == 0 and picture.mode == "CMYK"
    assert np.array_equal(picture.frames[0], np.asarray(Image.open(tmp_path / "in.jpg")))


def test_a_truncated_jpeg_is_one_error(tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "in.jpg")
    data = (tmp_path / "in.jpg").read_bytes()
    (tmp_path / "in.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=r"in.jpg: corrupt or truncated image"):
        read_image(tmp_path / "in.jpg")


def test_a_jpeg_damaged_inside_its_pixels_decodes_as_pillow_decodes_it(tmp_path, photo, counted):
    Image.fromarray(photo).save(tmp_path / "in.jpg", quality=90)
    data = bytearray((tmp_path / "in.jpg").read_bytes())
    data[len(data) // 2:len(data) // 2 + 40] = bytes(range(40))
    (tmp_path / "in.jpg").write_bytes(bytes(data))
    picture = read_image(tmp_path / "in.jpg")
    assert counted["jpeg"] == 1
    assert np.array_equal(picture.frames[0], pillow_samples(tmp_path / "in.jpg"))


def _palette_with_alpha(rng):
    """Indices of a 9x7 image and 256 RGBA entries, some partly or fully transparent."""
    palette = rng.integers(0, 256, (256, 4), dtype=np.uint8)
    palette[::3, 3] = 255
    return rng.integers(0, 256, (7, 9), dtype=np.uint8), palette


def _dds(indices, palette):
    """An uncompressed DDS of palette indices (DDPF_PALETTEINDEXED8): its 256 entries are
    R, G, B and alpha."""
    height, width = indices.shape
    pixel_format = struct.pack("<8I", 32, 0x20, 0, 8, 0, 0, 0, 0)
    caps = struct.pack("<5I", 0x1000, 0, 0, 0, 0)
    header = struct.pack("<7I44x", 124, 0x1007, height, width, 0, 0, 0) + pixel_format + caps
    return b"DDS " + header + palette.tobytes() + indices.tobytes()


def _tga(indices, palette):
    """An uncompressed colour-mapped TGA, its colour map of 32-bit B, G, R, alpha entries,
    rows from the top."""
    height, width = indices.shape
    header = struct.pack("<BBBHHBHHHHBB", 0, 1, 1, 0, 256, 32, 0, 0, width, height, 8, 0x28)
    return header + palette[:, [2, 1, 0, 3]].tobytes() + indices.tobytes()


@pytest.mark.parametrize("kind, build", [("dds", _dds), ("tga", _tga)])
def test_a_palettes_own_alpha_is_kept(tmp_path, rng, kind, build):
    """DDS and TGA palettes hold an alpha per entry (Pillow keeps it in the palette, not
    in info["transparency"]): the picture has the alpha its entries give."""
    indices, palette = _palette_with_alpha(rng)
    (tmp_path / f"in.{kind}").write_bytes(build(indices, palette))
    picture = read_image(tmp_path / f"in.{kind}")
    assert picture.mode == "RGBA" and np.array_equal(picture.frames[0], palette[indices])
    palette[:, 3] = 255
    (tmp_path / f"opaque.{kind}").write_bytes(build(indices, palette))
    picture = read_image(tmp_path / f"opaque.{kind}")
    assert picture.mode == "RGB" and np.array_equal(picture.frames[0], palette[indices][..., :3])
