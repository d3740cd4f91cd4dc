"""Structures from public test collections of formats other than TIFF that imgconv had
read wrongly without a word, each built here in miniature and checked against what the
format's definition (and another reader: netpbm, ImageMagick, libvips) gives."""

import struct

import numpy as np
import pytest

from imgconv.errors import ImageReadError
from imgconv.io.read import decode_image


def test_an_x_bitmaps_set_bits_are_black():
    """X11 draws a bitmap's set bits in the foreground colour, black on white paper
    (xbmtopbm, ImageMagick); Pillow reads them as white, which gave a photo's negative."""
    bits = np.array([[1, 0, 1, 1, 0, 0, 0, 1, 1, 1], [0, 1, 0, 0, 1, 1, 1, 0, 0, 0]], np.uint8)
    # Each row in bytes, least significant bit first, as X11 writes them.
    rows = [np.packbits(row, bitorder="little") for row in bits]
    values = ", ".join(f"0x{byte:02x}" for row in rows for byte in row)
    data = f"#define t_width 10\n#define t_height 2\nstatic char t_bits[] = {{\n  {values}\n}};\n".encode()
    picture = decode_image(data, "t.xbm")
    assert picture.mode == "L" and np.array_equal(picture.pixels, np.where(bits == 1, 0, 255))


def _sgi(planes: np.ndarray, rle: bool) -> bytes:
    """A 16-bit SGI image of ``planes`` (channels, height, width), top row first: rows
    stored bottom first, verbatim or each row as one literal and one repeat packet."""
    channels, height, width = planes.shape
    header = bytearray(512)
    header[:12] = struct.pack(">HBBHHHH", 474, int(rle), 2, 2 if channels == 1 else 3, width, height, channels)
    rows = [planes[z, height - 1 - y].astype(">u2") for z in range(channels) for y in range(height)]
    if not rle:
        return bytes(header) + b"".join(row.tobytes() for row in rows)
    coded = [struct.pack(">H", 0x80 | (width - 1)) + row[:-1].tobytes() + struct.pack(">H", 1)
             + row[-1:].tobytes() + b"\0\0" for row in rows]
    starts = np.cumsum([512 + 8 * len(rows)] + [len(c) for c in coded[:-1]])
    tables = np.asarray(starts, ">u4").tobytes() + np.asarray([len(c) for c in coded], ">u4").tobytes()
    return bytes(header) + tables + b"".join(coded)


@pytest.mark.parametrize("rle", [False, True])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16_bit_sgi_keeps_its_16_bits(rng, rle, channels):
    """Pillow reads a 16-bit SGI image as 8 bits, the high byte of each sample."""
    planes = rng.integers(0, 65536, (channels, 5, 7), dtype=np.uint16)
    picture = decode_image(_sgi(planes, rle), "t.sgi")
    expected = np.moveaxis(planes, 0, -1)
    assert picture.pixels.dtype == np.uint16
    assert np.array_equal(picture.pixels, expected[..., 0] if channels == 1 else expected)


def test_a_16_bit_sgi_row_that_runs_short_is_refused():
    data = bytearray(_sgi(np.zeros((1, 2, 3), np.uint16), rle=True))
    data[512 + 8 * 2 + 1] = 0x80 | 1  # the first row's literal packet: 1 sample, not 2
    with pytest.raises(ImageReadError, match=r"t\.sgi: corrupt .*gives 1 samples where its width is 3"):
        decode_image(bytes(data), "t.sgi")


def _icon_directory(kind: int, entries: list[tuple[int, int, int, bytes]]) -> bytes:
    """An ICO (``kind`` 1) or CUR (2) file of ``entries`` (width, height, bits, image data)."""
    head = struct.pack("<HHH", 0, kind, len(entries))
    offset, directory, images = 6 + 16 * len(entries), b"", b""
    for width, height, bits, image in entries:
        at = offset + len(images)
        directory += struct.pack("<BBBBHHII", width % 256, height % 256, 0, 0, 1, bits, len(image), at)
        images += image
    return head + directory + images


def test_every_image_of_an_icon_is_a_frame_largest_first(rng):
    """Pillow reads an ICO's largest image alone; the others were lost without a word."""
    import imagecodecs

    images = {side: rng.integers(0, 256, (side, side, 4), dtype=np.uint8) for side in (16, 48, 32)}
    data = _icon_directory(1, [(side, side, 32, imagecodecs.png_encode(a)) for side, a in images.items()])
    picture = decode_image(data, "t.ico")
    assert picture.mode == "RGBA" and [f.shape[0] for f in picture.frames] == [48, 32, 16]
    assert all(np.array_equal(f, images[f.shape[0]]) for f in picture.frames)
    assert np.array_equal(decode_image(data, "t.ico", frame=2).pixels, images[16])


def test_a_colour_cursors_and_mask_makes_it_transparent(rng):
    """A cursor's AND mask says where the screen shows through; Pillow read it only under
    grey bitmaps, and a colour cursor came out opaque."""
    width, height = 5, 3
    colour = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    transparent = rng.integers(0, 2, (height, width)).astype(bool)
    xor_rows = [np.pad(row[:, ::-1].ravel(), (0, 1)).tobytes() for row in colour[::-1]]  # BGR, 16 bytes a row
    and_rows = [np.packbits(np.pad(row, (0, 27))).tobytes() for row in transparent[::-1]]  # 32 bits a row
    bitmap = struct.pack("<IiiHHIIiiII", 40, width, 2 * height, 1, 24, 0, 0, 0, 0, 0, 0)
    data = _icon_directory(2, [(width, height, 0, bitmap + b"".join(xor_rows) + b"".join(and_rows))])
    picture = decode_image(data, "t.cur")
    assert picture.mode == "RGBA"
    assert np.array_equal(picture.pixels[..., :3], colour)
    assert np.array_equal(picture.pixels[..., 3], np.where(transparent, 0, 255))


@pytest.mark.parametrize(("masks", "fields"), [((0x7C00, 0x3E0, 0x1F, 0x8000), (5, 5, 5, 1)),
                                               ((0xF800, 0x7E0, 0x1F, 0), (5, 6, 5, 0))])
def test_a_16_bit_bmps_alpha_mask_is_read(rng, masks, fields):
    """A 16-bit BMP's alpha bit field is read (Pillow drops it), each field scaled as
    ImageMagick and bmpsuite's reference pictures scale it, round(v * 255 / (2**n - 1))."""
    height, width = 3, 5
    values = [rng.integers(0, 1 << n, (height, width), dtype=np.uint16) for n in fields]
    pixels = np.zeros((height, width), np.uint16)
    for value, mask in zip(values, masks, strict=True):
        pixels |= value << max(0, (mask & -mask).bit_length() - 1)  # at the mask's lowest bit
    rows = b"".join(np.pad(row.astype("<u2"), (0, 1)).tobytes() for row in pixels[::-1])  # 12 bytes a row
    info = struct.pack("<IiiHHIIiiII4I", 108, width, height, 1, 16, 3, len(rows), 0, 0, 0, 0, *masks) + bytes(52)
    data = b"BM" + struct.pack("<IHHI", 14 + len(info) + len(rows), 0, 0, 14 + len(info)) + info + rows
    picture = decode_image(data, "t.bmp")
    colour = np.dstack([np.round(v * 255 / ((1 << n) - 1)) for v, n in zip(values[:3], fields[:3], strict=True)])
    assert picture.mode == ("RGBA" if fields[3] else "RGB")
    assert np.array_equal(picture.pixels[..., :3], colour)
    if fields[3]:
        assert np.array_equal(picture.pixels[..., 3], np.round(values[3] * 255.0).astype(np.uint8))


def _psd(merged: np.ndarray, layer: np.ndarray | None) -> bytes:
    """An 8-bit RGB PSD of the ``merged`` image (H, W, 3), uncompressed, and a layer of
    ``layer`` at the canvas's top left, if given."""
    height, width, _ = merged.shape
    head = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3) + struct.pack(">II", 0, 0)
    layers = b""
    if layer is not None:
        rows, columns, _ = layer.shape
        planes = [struct.pack(">H", 0) + layer[..., c].tobytes() for c in range(3)]
        record = struct.pack(">iiiiH", 0, 0, rows, columns, 3)
        record += b"".join(struct.pack(">hI", c, len(p)) for c, p in enumerate(planes))
        record += b"8BIMnorm" + bytes([255, 0, 0, 0]) + struct.pack(">III", 12, 0, 0) + b"\3abc"
        info = struct.pack(">h", 1) + record + b"".join(planes)
        info += bytes(len(info) % 2)
        layers = struct.pack(">I", len(info)) + info
    section = struct.pack(">I", len(layers)) + layers
    return head + section + struct.pack(">H", 0) + np.moveaxis(merged, -1, 0).tobytes()


@pytest.mark.parametrize("layered", [False, True])
def test_a_psd_is_read_as_its_merged_image(rng, layered):
    """Pillow counts a PSD's layers as its frames, from 1: frame 0 does not exist, and
    every PSD was refused as corrupt ("attempt to seek outside sequence")."""
    merged = rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    layer = rng.integers(0, 256, (2, 3, 3), dtype=np.uint8) if layered else None
    picture = decode_image(_psd(merged, layer), "t.psd")
    assert picture.mode == "RGB" and len(picture.frames) == 1 and np.array_equal(picture.pixels, merged)


def _apng(frames: list[tuple[np.ndarray, int, int]]) -> bytes:
    """An 8-bit RGBA APNG of whole-canvas ``frames`` (samples, dispose_op, blend_op), the
    first also its default image."""
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    height, width, _ = frames[0][0].shape
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
    out += chunk(b"acTL", struct.pack(">II", len(frames), 0))
    sequence = 0
    for number, (samples, dispose, blend) in enumerate(frames):
        out += chunk(b"fcTL", struct.pack(">IIIIIHHBB", sequence, width, height, 0, 0, 1, 10, dispose, blend))
        pixels = zlib.compress(b"".join(b"\0" + row.tobytes() for row in samples))
        out += chunk(b"IDAT", pixels) if number == 0 else chunk(b"fdAT", struct.pack(">I", sequence + 1) + pixels)
        sequence += 1 if number == 0 else 2
    return out + chunk(b"IEND", b"")


def test_an_apng_frame_disposed_to_previous_gives_back_the_canvas_before_it():
    """Read frame by frame, Pillow blended an OVER frame disposed of as PREVIOUS into the
    canvas kept to go back to, and the frames after it were drawn on it (35 of the 41
    frames of Pillow's iss634.apng); libpng's APNG reader, and Pillow seeking straight
    to each frame, give them as the APNG definition says."""
    green, red, clear = (np.zeros((2, 3, 4), np.uint8) for _ in range(3))
    green[...] = (0, 255, 0, 255)
    red[...] = (255, 0, 0, 255)
    clear[0, 0] = (0, 0, 255, 255)  # elsewhere transparent: the canvas shows through
    picture = decode_image(_apng([(green, 0, 0), (red, 2, 1), (clear, 0, 1)]), "t.png")
    last = green.copy()
    last[0, 0] = clear[0, 0]
    assert [f.tolist() for f in picture.frames] == [green.tolist(), red.tolist(), last.tolist()]


def test_a_dds_of_bc6h_blocks_keeps_its_half_floats():
    """Pillow decodes BC6H (HDR) blocks to 8 bits clipped to 0-1. One 4x4 block of mode 11
    (one region, 10-bit endpoints as stored), both endpoints one colour: every pixel is
    that colour, unquantized as BC6H defines, ((x << 16) + 0x8000) >> 10, then made a
    half float's bits, v * 31 >> 6."""
    colour = (512, 100, 1000)
    fields = [(3, 5), *((c, 10) for c in colour), *((c, 10) for c in colour)]  # mode, endpoint 0, endpoint 1
    bits, shift = 0, 0
    for value, width in fields:
        bits, shift = bits | value << shift, shift + width
    block = bits.to_bytes(16, "little")  # the 63 index bits after the endpoints: 0
    pixel_format = struct.pack("<II4s20x", 32, 4, b"DX10")
    header = struct.pack("<7I44x", 124, 0x1007, 4, 4, 16, 0, 1) + pixel_format + struct.pack("<I16x", 0x1000)
    data = b"DDS " + header + struct.pack("<5I", 95, 3, 0, 1, 0) + block
    picture = decode_image(data, "t.dds")
    halves = [(((c << 16) + 0x8000) >> 10) * 31 >> 6 for c in colour]
    assert picture.mode == "RGB;float16" and picture.pixels.shape == (4, 4, 3)
    assert (picture.pixels.view(np.uint16) == halves).all()


def test_a_bmps_embedded_icc_profile_is_kept(rng):
    """A BITMAPV5HEADER may embed an ICC profile (colour space "MBED", its offset from the
    header and its size); Pillow does not read it, and the colours' meaning was lost."""
    profile = bytes(rng.integers(0, 256, 300, dtype=np.uint8))
    row = b"\x10\x20\x30\0"  # one BGR pixel, padded to 4 bytes
    info = struct.pack("<IiiHHIIiiII", 124, 1, 1, 1, 24, 0, len(row), 0, 0, 0, 0) + bytes(16)
    info += b"DEBM" + bytes(36 + 12) + struct.pack("<IIII", 4, 124 + len(row), len(profile), 0)
    offset = 14 + len(info)
    data = b"BM" + struct.pack("<IHHI", offset + len(row) + len(profile), 0, 0, offset) + info + row + profile
    picture = decode_image(data, "t.bmp")
    assert picture.metadata["icc_profile"] == profile and picture.pixels.tolist() == [[[0x30, 0x20, 0x10]]]


def test_16_bit_sgi_rows_whose_data_overlap_are_refused():
    data = bytearray(_sgi(np.zeros((1, 2, 3), np.uint16), rle=True))
    struct.pack_into(">I", data, 512, 512 + 16 + 2)  # the first row starts inside the second's data
    with pytest.raises(ImageReadError, match=r"t\.sgi: a damaged SGI file: the data of its run-length rows overlap"):
        decode_image(bytes(data), "t.sgi")


def test_every_size_of_an_icns_is_a_frame(rng):
    """Pillow reads an ICNS's largest size alone. A 32x32 PNG entry, and a 16x16 one of
    raw RGB samples (is32 of 16 * 16 * 3 bytes) with its 8-bit mask (s8mk)."""
    import imagecodecs

    large, small = (rng.integers(0, 256, (side, side, 4), dtype=np.uint8) for side in (32, 16))
    entries = [(b"icp5", imagecodecs.png_encode(large)), (b"is32", small[..., :3].tobytes()),
               (b"s8mk", small[..., 3].tobytes())]
    body = b"".join(kind + struct.pack(">I", 8 + len(entry)) + entry for kind, entry in entries)
    picture = decode_image(b"icns" + struct.pack(">I", 8 + len(body)) + body, "t.icns")
    assert [f.tolist() for f in picture.frames] == [large.tolist(), small.tolist()]
