"""Files peers read that Pillow refuses or misreads, built here: PCX layouts of the EGA
era and uncompressed PCX rows (checked against the indices and palette written), a PNG
of ancillary chunks libpng skips as invalid (checked against libpng), a tiled TIFF whose
offsets hold more values than its tiles (checked against tifffile), an MPO whose second
image is missing (read with --frame 0, which the refusal names), a PNG whose
ImageMagick-style EXIF text has bytes after its hex digits; and AVIFs libavif refuses,
called damaged or unsupported in libavif's words, and X10 bitmaps unsupported, never
corrupt."""

import io
import struct
import zlib

import imagecodecs
import numpy as np
import pytest
import tifffile
from helpers import assert_one_line_error, run
from PIL import Image, PngImagePlugin

from imgconv.errors import ImageReadError
from imgconv.io.read import decode_image, libavif_error


def rle(rows: bytes, length: int) -> bytes:
    """PCX run-length coding of rows of ``length`` bytes (all planes of a row), each
    byte a run of one (a count byte before each byte of 0xC0 and more), but runs of equal
    bytes as one run where they are longer; a run ends at its row, as ZSoft specifies."""
    out, at = bytearray(), 0
    while at < len(rows):
        run_length = 1
        while (at + run_length) % length and rows[at + run_length] == rows[at] and run_length < 63:
            run_length += 1
        if run_length > 1 or rows[at] >= 0xC0:
            out += bytes([0xC0 | run_length, rows[at]])
        else:
            out.append(rows[at])
        at += run_length
    return bytes(out)


def pcx(width: int, height: int, bits: int, planes: int, rows: bytes, *, palette: bytes = bytes(48),
        encoding: int = 1) -> bytes:
    stride = len(rows) // height // planes
    header = struct.pack("<4B4H2H48sBBHH", 10, 5, encoding, bits, 0, 0, width - 1, height - 1, 300, 200, palette, 0,
                         planes, stride, 1)
    return header.ljust(128, b"\0") + (rle(rows, len(rows) // height) if encoding else rows)


@pytest.mark.parametrize(("bits", "planes"), [(2, 1), (4, 1), (1, 3)])
def test_ega_pcx_layouts_read_as_their_palette_says(rng, bits, planes):
    width, height, colours = 13, 5, 1 << (bits * planes)
    indices = rng.integers(0, colours, (height, width))
    indices[1] = indices[1, 0]  # a run
    palette = rng.integers(0, 256, 48, dtype=np.uint8)
    stride = (width * bits + 15) // 16 * 2  # rows of a plane padded to an even length
    if planes == 1:
        packed = np.zeros((height, stride * 8 // bits), np.uint8)
        packed[:, :width] = indices
        pixels_a_byte = 8 // bits
        weights = 1 << (bits * np.arange(pixels_a_byte - 1, -1, -1))
        rows = (packed.reshape(height, stride, pixels_a_byte) * weights).sum(axis=2).astype(np.uint8)
    else:
        bit_planes = [np.packbits((indices >> plane) & 1, axis=1) for plane in range(planes)]
        rows = np.stack([np.pad(b, ((0, 0), (0, stride - b.shape[1]))) for b in bit_planes], axis=1)
    picture = decode_image(pcx(width, height, bits, planes, rows.tobytes(), palette=palette.tobytes()), "in.pcx")
    assert picture.mode == "RGB" and picture.metadata == {"dpi": (300.0, 200.0)}
    assert np.array_equal(picture.frames[0], palette.reshape(16, 3)[indices])


def test_an_uncompressed_pcx_keeps_bytes_that_would_code_runs(rng):
    """Pillow decodes every PCX as run-length coded: a stored 0xC5 would repeat the next byte."""
    rgb = rng.integers(0, 256, (4, 7, 3), dtype=np.uint8)
    rgb[0, 0] = 0xC5
    rows = np.pad(rgb.transpose(0, 2, 1), ((0, 0), (0, 0), (0, 1)))  # 3 planes a row, each padded to 8 bytes
    picture = decode_image(pcx(7, 4, 8, 3, rows.tobytes(), encoding=0), "in.pcx")
    assert np.array_equal(picture.frames[0], rgb)


def test_a_pcx_layout_nobody_reads_is_refused_naming_it(tmp_path):
    (tmp_path / "in.pcx").write_bytes(pcx(2, 2, 24, 1, bytes(12)))
    result = run("identity", tmp_path / "in.pcx", tmp_path / "out.png")
    assert_one_line_error(result, 1, "in.pcx", "unsupported", "1 plane of 24 bits a pixel")
    assert "corrupt" not in result.stderr


def test_an_mpo_missing_its_second_image_says_frame_0_reads_the_first(tmp_path, rng):
    first, second = (Image.fromarray(rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)) for _ in range(2))
    whole = io.BytesIO()
    first.save(whole, "MPO", save_all=True, append_images=[second], quality=95)
    data = whole.getvalue()
    (tmp_path / "in.jpg").write_bytes(data[: data.rindex(b"\xff\xd8\xff")])  # the second image cut off
    result = run("identity", tmp_path / "in.jpg", tmp_path / "out.png")
    assert_one_line_error(result, 1, "in.jpg", "image 2 of 2 is missing", "--frame 0 reads the first")
    assert not (tmp_path / "out.png").exists()
    assert run("identity", "--frame", 0, tmp_path / "in.jpg", tmp_path / "out.png").exit_code == 0
    with Image.open(io.BytesIO(data)) as image:
        assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), np.asarray(image))


def raw_exif_png(text: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Raw profile type exif", text)
    buffer = io.BytesIO()
    Image.new("RGB", (3, 2), (9, 8, 7)).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def test_an_imagemagick_exif_text_is_read_as_long_as_it_says(tmp_path):
    exif = Image.Exif()
    exif[0x010F] = "Maker"  # Make
    hexed = exif.tobytes().hex()
    data = raw_exif_png(f"\nexif\n{len(exif.tobytes()):8d}\n{hexed[:40]}\n{hexed[40:]}\n$\x1d junk")
    picture = decode_image(data, "in.png")
    assert picture.metadata["exif"][0x010F] == "Maker"
    (tmp_path / "in.png").write_bytes(data)
    assert run("identity", tmp_path / "in.png", tmp_path / "out.png").exit_code == 0
    with Image.open(tmp_path / "out.png") as image:
        assert image.getexif()[0x010F] == "Maker"
    with pytest.raises(ImageReadError, match=r"in.png: a damaged PNG: its 'Raw profile type exif' text is not"):
        decode_image(raw_exif_png(f"\nexif\n{len(exif.tobytes()) + 1:8d}\n{hexed}\n"), "in.png")


@pytest.mark.parametrize(("box", "words"), [
    (b"ispe", "libavif (Pillow's AVIF decoder) cannot parse its boxes ('BMFF parsing failed')"),  # when opened
    (b"av1C", "libavif (Pillow's AVIF decoder) refuses it ('Missing or empty image item')"),  # when loaded
])
def test_an_avif_libavif_refuses_is_damaged_or_unsupported_in_its_words(tmp_path, box, words):
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "AVIF")
    (tmp_path / "in.avif").write_bytes(buffer.getvalue().replace(box, box[:3] + b"X"))
    result = run("identity", tmp_path / "in.avif", tmp_path / "out.png")
    assert_one_line_error(result, 1, "in.avif: a damaged or unsupported AVIF file: " + words)


def test_a_feature_libavif_does_not_implement_is_unsupported():
    """libavif's words for one (libavif's own color_grid_alpha_grid_tile_shared_in_dimg.avif)."""
    error = str(libavif_error("Failed to decode image: Not implemented", "in.avif"))
    assert error == ("in.avif: unsupported by the decoders imgconv uses: the AVIF uses a feature libavif (Pillow's "
                     "AVIF decoder) does not implement")


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@pytest.mark.parametrize(("kind", "body"), [
    (b"gAMA", b""), (b"cHRM", bytes(31)), (b"sRGB", b""), (b"pHYs", bytes(8)),  # too short for Pillow
    (b"iCCP", b""), (b"iCCP", b"no nul"), (b"iCCP", b"name\0\1" + zlib.compress(b"profile")),
])
def test_ancillary_chunks_libpng_skips_as_invalid_are_skipped(rng, kind, body):
    pixels = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
    rows = b"".join(b"\0" + row.tobytes() for row in pixels)
    data = b"".join([b"\x89PNG\r\n\x1a\n", png_chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 3, 8, 2, 0, 0, 0)),
                     png_chunk(kind, body), png_chunk(b"IDAT", zlib.compress(rows)), png_chunk(b"IEND", b"")])
    assert np.array_equal(imagecodecs.png_decode(data), pixels)  # libpng
    picture = decode_image(data, "in.png")
    assert np.array_equal(picture.frames[0], pixels) and "icc_profile" not in picture.metadata


def with_count(data: bytes, tag: int, count: int) -> bytes:
    """A little-endian classic TIFF whose first directory's ``tag`` says ``count`` values."""
    data = bytearray(data)
    ifd = struct.unpack_from("<L", data, 4)[0]
    for entry in range(ifd + 2, ifd + 2 + 12 * struct.unpack_from("<H", data, ifd)[0], 12):
        if struct.unpack_from("<H", data, entry)[0] == tag:
            struct.pack_into("<L", data, entry + 4, count)
    return bytes(data)


def test_tile_offsets_beyond_the_tiles_are_left_as_libtiff_leaves_them(tmp_path, rng):
    """6 tiles, their offsets and byte counts said to be 8 values: the values after
    the sixth are other data. Pillow makes a tile of each offset, the seventh and eighth
    over the first two (here from past the file's end); libtiff and tifffile read the
    first six."""
    pixels = rng.integers(0, 256, (32, 40), dtype=np.uint8)
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, pixels, byteorder="<", tile=(16, 16))
    data = with_count(with_count(buffer.getvalue(), 324, 8), 325, 8)
    assert np.array_equal(tifffile.imread(io.BytesIO(data)), pixels)
    with pytest.raises(OSError, match="truncated"):
        Image.open(io.BytesIO(data)).load()
    (tmp_path / "in.tif").write_bytes(data)
    assert run("identity", tmp_path / "in.tif", tmp_path / "out.png").exit_code == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), pixels)


def test_an_x10_bitmap_is_unsupported_not_corrupt(tmp_path):
    (tmp_path / "in.xbm").write_bytes(b"#define t_width 16\n#define t_height 2\n"
                                      b"static unsigned short t_bits[] = {\n   0x1234, 0xffff};\n")
    result = run("identity", tmp_path / "in.xbm", tmp_path / "out.png")
    assert_one_line_error(result, 1, "in.xbm: unsupported by the decoders imgconv uses: an X10 bitmap")
