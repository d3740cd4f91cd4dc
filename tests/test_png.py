"""The PNG writer, read back by Pillow's and libpng's decoders (independent of libdeflate);
and PNGs whose header, palette or image data libpng refuses, which imgconv refuses too."""

import io
import struct
import zlib

import imagecodecs
import numpy as np
import pytest
from helpers import SAMPLES, load, run
from PIL import Image, ImageCms

from imgconv.errors import ImageReadError
from imgconv.io.chunks import chunk
from imgconv.io.png import encode_png
from imgconv.io.read import decode_image


def decode(data):
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image, np.asarray(image)


@pytest.mark.parametrize("mode, shape, dtype", [("L", (37, 53), np.uint8), ("LA", (37, 53, 2), np.uint8),
                                                ("RGB", (37, 53, 3), np.uint8), ("RGBA", (37, 53, 4), np.uint8),
                                                ("I;16", (37, 53), np.uint16)])
@pytest.mark.parametrize("level", [0, 2, 9])
def test_every_mode_round_trips(rng, mode, shape, dtype, level):
    samples = rng.integers(0, np.iinfo(dtype).max, size=shape, endpoint=True).astype(dtype)
    image, pixels = decode(encode_png(samples, mode, level=level))
    assert image.mode == mode and np.array_equal(pixels, samples)


@pytest.mark.parametrize("mode, channels", [("RGB", 3), ("RGBA", 4), ("RGB;16", 3), ("LA;16", 2)])
def test_libpng_reads_back_a_photo_in_every_row(camera, mode, channels):
    deep = mode.endswith(";16")
    photo = np.dstack([np.roll(camera, 17 * c, axis=1) for c in range(channels)])
    samples = photo.astype(np.uint16) * 257 + np.arange(photo.shape[1], dtype=np.uint16)[:, None] if deep else photo
    assert np.array_equal(imagecodecs.png_decode(encode_png(samples, mode)), samples)


def test_single_pixel():
    assert np.array_equal(decode(encode_png(np.array([[7]], np.uint8), "L"))[1], [[7]])


def test_metadata_chunks():
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "maker"
    image, _ = decode(encode_png(np.zeros((4, 4, 3), np.uint8), "RGB", icc_profile=icc, exif=exif.tobytes()))
    assert image.info["icc_profile"] == icc and image.getexif()[0x010F] == "maker"


def test_compress_level_option_trades_size(tmp_path):
    sizes = {}
    for level in (0, 9):
        out = tmp_path / f"{level}.png"
        assert run("identity", "--compress-level", level, SAMPLES / "chelsea.png", out).exit_code == 0
        assert np.array_equal(load(out)[1], load(SAMPLES / "chelsea.png")[1])
        sizes[level] = out.stat().st_size
    assert sizes[9] < 0.7 * sizes[0]  # level 0 stores the filtered rows uncompressed
    assert run("identity", "--compress-level", 10, SAMPLES / "chelsea.png", tmp_path / "x.png").exit_code == 2


# ------------------------------------------------------------------ header, palette and image data as libpng reads them

_ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def _rows(samples, depth):
    """An image's rows as PNG stores them, each after filter byte 0 (none)."""
    if depth == 16:
        rows = samples.astype(">u2").view(np.uint8).reshape(len(samples), -1)
    elif depth == 8:
        rows = samples.reshape(len(samples), -1)
    else:  # grey or palette indices, packed from the high bit, each row padded to a byte
        bits = np.unpackbits(samples[..., None].astype(np.uint8), axis=-1)[..., 8 - depth:]
        rows = np.packbits(bits.reshape(len(samples), -1), axis=1)
    return b"".join(b"\0" + row.tobytes() for row in rows)


def _png_chunks(samples, depth, colour_type, interlace=0):
    """(kind, contents) of a PNG of ``samples``, interlaced (Adam7) or not, with a
    palette of grey steps for colour type 3."""
    height, width = samples.shape[:2]
    passes = _ADAM7 if interlace else [(0, 0, 1, 1)]
    raw = b"".join(_rows(samples[y::dy, x::dx], depth) for x, y, dx, dy in passes if x < width and y < height)
    out = [(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, interlace))]
    if colour_type == 3:
        out.append((b"PLTE", bytes(np.repeat(np.arange(1 << depth) * (255 >> (8 - depth)), 3).astype(np.uint8))))
    return [*out, (b"IDAT", zlib.compress(raw)), (b"IEND", b"")]


def _png(chunks):
    return b"\x89PNG\r\n\x1a\n" + b"".join(b"".join(chunk(kind, contents)) for kind, contents in chunks)


def _samples(rng, depth, colour_type, shape=(13, 11)):
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type]
    dtype = np.uint16 if depth == 16 else np.uint8
    samples = rng.integers(0, 1 << depth, (*shape, channels)).astype(dtype)
    return samples[..., 0] if channels == 1 else samples


@pytest.mark.parametrize("interlace", [0, 1])
@pytest.mark.parametrize("colour_type, depth", [(0, 1), (0, 2), (0, 4), (0, 8), (0, 16), (2, 8), (2, 16), (3, 1),
                                                (3, 2), (3, 4), (3, 8), (4, 8), (4, 16), (6, 8), (6, 16)])
def test_every_colour_type_and_depth_reads_as_libpng_reads_it(rng, colour_type, depth, interlace):
    """Built row by row (Adam7's passes too), as libpng decodes them: what the checks of
    the header, palette and image data take for whole is whole."""
    data = _png(_png_chunks(_samples(rng, depth, colour_type), depth, colour_type, interlace))
    assert np.array_equal(decode_image(data, "in.png").frames[0], imagecodecs.png_decode(data))


def _patched(chunks, kind, contents):
    return [(k, contents if k == kind else c) for k, c in chunks]


def _header(**fields):
    values = {"width": 11, "height": 13, "depth": 8, "colour_type": 3, "compression": 0, "filter": 0, "interlace": 0}
    return struct.pack(">IIBBBBB", *{**values, **fields}.values())


def _damaged(case, chunks):
    """``chunks`` (an 8-bit palette PNG's) damaged as ``case`` says."""
    raw = zlib.decompress(chunks[2][1])
    return {
        "compression method": _patched(chunks, b"IHDR", _header(compression=128)),
        "interlace method": _patched(chunks, b"IHDR", _header(interlace=2)),
        "IHDR too long": _patched(chunks, b"IHDR", _header() + b"\0"),
        "zero width": _patched(chunks, b"IHDR", _header(width=0)),
        "depth for colour type": _patched(chunks, b"IHDR", _header(depth=16)),
        "chunk before IHDR": [chunks[1], chunks[0], *chunks[2:]],
        "second IHDR": [*chunks[:2], (b"IHDR", _header(width=5)), *chunks[2:]],
        "second palette, unlike the first": [*chunks[:2], (b"PLTE", bytes(768)), *chunks[2:]],
        "empty palette": _patched(chunks, b"PLTE", b""),
        "palette not whole entries": _patched(chunks, b"PLTE", chunks[1][1][:-1]),
        "no palette": [chunks[0], *chunks[2:]],
        "palette after the pixels": [chunks[0], chunks[2], chunks[1], chunks[3]],
        "image data ends early": _patched(chunks, b"IDAT", zlib.compress(raw[:-1])),
        "image data cut short": _patched(chunks, b"IDAT", zlib.compress(raw)[:len(chunks[2][1]) // 2]),
    }[case]


@pytest.mark.parametrize("case, reason", [
    ("compression method", "IHDR gives compression method 128, where PNG defines 0 (deflate)"),
    ("interlace method", "IHDR gives interlace method 2, where PNG defines 0 (none) and 1 (Adam7)"),
    ("IHDR too long", "IHDR chunk of 14 bytes, not 13"),
    ("zero width", "IHDR gives a width of 0, not 1 to 2147483647"),
    ("depth for colour type", "IHDR gives bit depth 16 with colour type 3, which PNG does not define"),
    ("chunk before IHDR", "its first chunk is PLTE, where PNG puts IHDR"),
    ("second IHDR", "a second IHDR chunk"),
    ("second palette, unlike the first", "a second PLTE chunk, unlike the first"),
    ("empty palette", "PLTE chunk of 0 bytes, not 1 to 256 entries of 3 bytes"),
    ("palette not whole entries", "PLTE chunk of 767 bytes, not 1 to 256 entries of 3 bytes"),
    ("no palette", "no PLTE chunk before the image data of a palette image"),
    ("palette after the pixels", "no PLTE chunk before the image data of a palette image"),
    ("image data ends early", "not enough image data: its IDAT chunks inflate to 155 bytes, where its 11 x 13 "
                              "pixels need 156"),
    ("image data cut short", "truncated: its IDAT chunks inflate to"),
])
def test_a_png_libpng_refuses_is_refused_naming_the_fault(rng, case, reason):
    """Pillow read each of these without a word, making up or misreading pixels: black
    where the palette or the data is missing, the second palette, data in a compression
    method it does not know, an unknown interlacing as Adam7."""
    data = _png(_damaged(case, _png_chunks(_samples(rng, 8, 3), 8, 3)))
    with pytest.raises(Exception):  # noqa: B017 -- libpng's words vary; that it refuses is the reference
        imagecodecs.png_decode(data)
    with pytest.raises(ImageReadError) as refusal:
        decode_image(data, "in.png")
    assert str(refusal.value).startswith(f"in.png: corrupt PNG: {reason}")


def test_interlaced_low_depth_data_one_byte_short_is_refused(rng):
    """The rows Adam7's passes need, to the byte: 1-bit grey, 13 x 11."""
    chunks = _png_chunks(_samples(rng, 1, 0), 1, 0, interlace=1)  # IHDR, IDAT, IEND
    raw = zlib.decompress(chunks[1][1])
    data = _png(_patched(chunks, b"IDAT", zlib.compress(raw[:-1])))
    with pytest.raises(Exception):  # noqa: B017 -- libpng's "Not enough image data"
        imagecodecs.png_decode(data)
    with pytest.raises(ImageReadError, match=f"inflate to {len(raw) - 1} bytes, .* need {len(raw)}$"):
        decode_image(data, "in.png")


def test_what_libpng_refuses_but_pillow_reads_right_is_read(rng):
    """A second palette equal to the first, and image data whose zlib stream is cut
    short after the last row (without its end and checksum): libpng refuses both, but
    the pixels are whole and the same whichever palette is taken."""
    samples = _samples(rng, 8, 3)
    chunks = _png_chunks(samples, 8, 3)
    expected = imagecodecs.png_decode(_png(chunks))
    deflater = zlib.compressobj()
    unended = deflater.compress(zlib.decompress(chunks[2][1])) + deflater.flush(zlib.Z_SYNC_FLUSH)
    for damaged in ([*chunks[:2], chunks[1], *chunks[2:]], _patched(chunks, b"IDAT", unended)):
        with pytest.raises(Exception):  # noqa: B017 -- "PLTE: duplicate", "Not enough image data"
            imagecodecs.png_decode(_png(damaged))
        assert np.array_equal(decode_image(_png(damaged), "in.png").frames[0], expected)


def test_a_damaged_header_is_one_line_and_no_output(tmp_path):
    chunks = _png_chunks(np.zeros((13, 11), np.uint8), 8, 3)
    (tmp_path / "in.png").write_bytes(_png(_damaged("interlace method", chunks)))
    result = run("identity", tmp_path / "in.png", tmp_path / "out.png")
    assert result.exit_code == 1 and not (tmp_path / "out.png").exists()
    assert result.stderr == (f"imgconv: error: {tmp_path / 'in.png'}: corrupt PNG: IHDR gives interlace method 2, "
                             "where PNG defines 0 (none) and 1 (Adam7)\n")
