"""Damaged files of the formats imgconv decodes with imagecodecs and tifffile (16-bit
colour), and of animations: whatever is broken, the command prints one line or works,
never a traceback, a warning or a log message, and never leaves an output file.
The line says what is wrong: the damaged PNG chunk, the size, the reason the format's
decoder gives.

The command runs in-process (0.5 s of CPU less a file than a new Python), with what
the decoders' C libraries write to file descriptor 2 counted as stderr too; the
undamaged originals and a piped file go through the real command."""

import io
import random
import struct
import subprocess
import sys
import zlib
from unittest import mock

import imagecodecs
import numpy as np
import pytest
import tifffile
from helpers import SAMPLES, run
from PIL import Image, ImageCms, PngImagePlugin, features

from imgconv.io import read as reader


def _originals(folder):
    """16-bit PNG and TIFF files, a 3-frame GIF and a 3-page TIFF, from the photograph."""
    with Image.open(SAMPLES / "chelsea.png") as image:
        rgb = np.asarray(image.crop((100, 50, 196, 114)))
    deep = rgb.astype(np.uint16) * 257
    rgba = np.dstack([deep, np.full(deep.shape[:2], 40000, np.uint16)])
    (folder / "rgba16.png").write_bytes(imagecodecs.png_encode(rgba))
    tifffile.imwrite(folder / "rgb16.tif", deep, photometric="rgb")
    tifffile.imwrite(folder / "la16.tif", rgba[..., [0, 3]], photometric="minisblack", extrasamples=["unassalpha"])
    frames = [Image.fromarray(np.roll(rgb, 7 * i, axis=1)) for i in range(3)]
    frames[0].save(folder / "frames.gif", save_all=True, append_images=frames[1:], duration=100)
    frames[0].save(folder / "pages.tif", save_all=True, append_images=frames[1:])
    return sorted(p for p in folder.iterdir())


def _damage(data, rng):
    """Cut the file short, or overwrite a few bytes in its header or in its body."""
    data = bytearray(data)
    kind = rng.randrange(3)
    if kind == 0:
        return bytes(data[: rng.randrange(8, len(data))])
    region = (0, min(200, len(data))) if kind == 1 else (len(data) // 4, len(data))
    for _ in range(rng.randrange(1, 12)):
        data[rng.randrange(*region)] = rng.randrange(256)
    return bytes(data)


def _imgconv(capfd, *args):
    """The command, in-process: its exit status, and its stderr as text, with whatever
    was written to file descriptor 2 meanwhile (``capfd``, emptied first)."""
    capfd.readouterr()
    result = run(*args)
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr + capfd.readouterr().err)


@pytest.mark.slow
def test_damaged_files_give_one_line_or_a_whole_output(tmp_path, capfd):
    rng = random.Random(20261127)
    originals = _originals(tmp_path)
    outcomes = []
    for case in range(30):
        original = originals[case % len(originals)]
        damaged = tmp_path / f"damaged-{case}{original.suffix}"
        damaged.write_bytes(_damage(original.read_bytes(), rng))
        out = tmp_path / f"out-{case}.png"
        result = _imgconv(capfd, "blur", "-s", "1", damaged, out)
        lines = result.stderr.splitlines()
        if result.returncode == 0:
            assert lines == [], result.stderr
            with Image.open(out) as image:
                image.load()
        else:
            assert result.returncode in (1, 2), result.stderr
            assert len(lines) == 1 and lines[0].startswith("imgconv: error: "), result.stderr
            assert not out.exists()
        outcomes.append(result.returncode)
    assert set(outcomes) >= {0, 1}, outcomes  # the damage both spared and broke files
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("name", ["rgba16.png", "rgb16.tif", "la16.tif"])
@pytest.mark.slow
def test_the_originals_are_read_whole(tmp_path, name):
    """The undamaged 16-bit files go through, so the damage is what the test above tests."""
    _originals(tmp_path)
    result = subprocess.run([sys.executable, "-m", "imgconv", "identity", tmp_path / name, tmp_path / "out.tif"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stderr == ""
    assert np.array_equal(tifffile.imread(tmp_path / "out.tif"), tifffile.imread(tmp_path / name)
                          if name.endswith(".tif") else imagecodecs.png_decode((tmp_path / name).read_bytes()))


# ------------------------------------------------------------------ refusals that say what is wrong


def _png_chunks(data):
    """(kind, payload) of each chunk of a PNG."""
    position, chunks = 8, []
    while position < len(data):
        length = int.from_bytes(data[position:position + 4], "big")
        chunks.append((data[position + 4:position + 8], data[position + 8:position + 8 + length]))
        position += 12 + length
    return chunks


def _png_of(chunks, damaged=None):
    """A PNG of ``chunks``, with a wrong CRC in the chunk of kind ``damaged``."""
    out = b"\x89PNG\r\n\x1a\n"
    for kind, payload in chunks:
        crc = zlib.crc32(kind + payload) ^ (0xFFFF if kind == damaged else 0)
        out += struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)
    return out


@pytest.mark.parametrize("damaged", [b"iCCP", b"tEXt"])
def test_a_wrong_crc_in_an_ancillary_chunk_leaves_the_chunk_out(tmp_path, capfd, damaged):
    """libpng's default: the damaged ancillary chunk is skipped and the image read (Pillow
    refused the file as not an image)."""
    with Image.open(SAMPLES / "chelsea.png") as image:
        rgb = np.asarray(image.crop((100, 50, 196, 114)))
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "a cat")
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "PNG", icc_profile=profile, pnginfo=info)
    (tmp_path / "in.png").write_bytes(_png_of(_png_chunks(buffer.getvalue()), damaged))
    result = _imgconv(capfd, "identity", tmp_path / "in.png", tmp_path / "out.png")
    assert result.returncode == 0 and result.stderr == ""
    assert np.array_equal(imagecodecs.png_decode((tmp_path / "out.png").read_bytes()), rgb)
    with Image.open(tmp_path / "out.png") as out:
        assert ("icc_profile" in out.info) == (damaged != b"iCCP")  # the damaged profile is not carried over


@pytest.mark.parametrize("damaged", [b"IHDR", b"PLTE", b"IDAT", b"IEND", b"fcTL", b"fdAT"])
def test_a_wrong_crc_in_a_critical_chunk_is_refused_naming_it(tmp_path, capfd, damaged):
    """libpng refuses these; Pillow never checked the CRC of IDAT (the pixels), fdAT or
    IEND, and read the damaged pixels as they came."""
    frames = [Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).convert("P") for i in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "PNG", save_all=True, append_images=frames[1:], duration=100)
    chunks = _png_chunks(buffer.getvalue())
    assert {kind for kind, _ in chunks} >= {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"fcTL", b"fdAT"}
    (tmp_path / "in.png").write_bytes(_png_of(chunks, damaged))
    result = _imgconv(capfd, "identity", tmp_path / "in.png", tmp_path / "out.png")
    assert result.returncode == 1 and not (tmp_path / "out.png").exists()
    assert result.stderr == f"imgconv: error: {tmp_path / 'in.png'}: corrupt PNG: bad CRC in {damaged.decode()} chunk\n"


def _trns_png(case):
    """A 6x5 PNG whose tRNS chunks are placed as ``case`` says, and the tRNS values
    libpng uses from them, or None."""
    grey = np.arange(30, dtype=np.uint8).reshape(5, 6) % 4
    rgb = np.dstack([grey * 60, 255 - grey * 60, grey * 30]).astype(np.uint8)
    palette = bytes(np.arange(12, dtype=np.uint8) * 20)  # 4 entries
    ihdr = {"grey": (0, grey), "rgb": (2, rgb), "palette": (3, grey)}
    colour_type, samples = ihdr[case.split()[0]]
    header = (b"IHDR", struct.pack(">IIBBBBB", 6, 5, 8, colour_type, 0, 0, 0))
    raw = b"".join(b"\0" + row.tobytes() for row in samples.reshape(5, -1))
    pixels, end = (b"IDAT", zlib.compress(raw)), (b"IEND", b"")
    chunks = {
        # libpng keeps the first of two; Pillow took the last
        "grey twice": [header, (b"tRNS", b"\0\1"), (b"tRNS", b"\0\2"), pixels, end],
        # the first is 4 bytes where RGB needs 6: skipped, not counted as the first
        "rgb short then whole": [header, (b"tRNS", b"\0\0\0\0"), (b"tRNS", struct.pack(">3H", 120, 135, 60)),
                                 pixels, end],
        "rgb after the pixels": [header, pixels, (b"tRNS", struct.pack(">3H", 0, 255, 0)), end],
        "palette longer than the palette": [header, (b"PLTE", palette), (b"tRNS", bytes([0, 90, 180, 255, 7])),
                                            pixels, end],
        "palette before the palette": [header, (b"tRNS", bytes([0, 90])), (b"PLTE", palette), pixels, end],
    }[case]
    return _png_of(chunks)


@pytest.mark.parametrize("case", ["grey twice", "rgb short then whole", "rgb after the pixels",
                                  "palette longer than the palette", "palette before the palette"])
def test_trns_chunks_are_read_as_libpng_reads_them(tmp_path, capfd, case):
    """libpng (imagecodecs.png_decode, which makes tRNS alpha) uses the first valid tRNS
    chunk before the pixels and skips the others; imgconv's alpha is libpng's."""
    (tmp_path / "in.png").write_bytes(_trns_png(case))
    expected = imagecodecs.png_decode((tmp_path / "in.png").read_bytes())
    result = _imgconv(capfd, "identity", tmp_path / "in.png", tmp_path / "out.png")
    assert result.returncode == 0 and result.stderr == ""
    written = imagecodecs.png_decode((tmp_path / "out.png").read_bytes())
    assert written.shape == expected.shape and np.array_equal(written, expected)


def _avif_claiming(path, width, height):
    """A 64x64 AVIF whose header (its ispe box) claims width x height."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buffer, "AVIF")
    data = buffer.getvalue()
    assert data.count(b"ispe") == 1 and data[4:12] == b"ftypavif"
    at = data.index(b"ispe") + 8  # after the kind, version and flags
    path.write_bytes(data[:at] + struct.pack(">II", width, height) + data[at + 8:])
    return path


@pytest.mark.skipif(not features.check("avif"), reason="Pillow built without AVIF")
def test_an_avif_too_large_to_open_is_refused_for_its_size(tmp_path, capfd):
    """libavif opens no image over 16384 x 16384 pixels and gives no reason; imgconv reads
    the size from the header, and it is the pixel limit that refuses it, or libavif's."""
    source = _avif_claiming(tmp_path / "in.avif", 17000, 17000)
    result = _imgconv(capfd, "identity", source, tmp_path / "out.png")
    assert result.returncode == 1 and result.stderr == (
        f"imgconv: error: {source}: 17000 x 17000 is more pixels than the limit of 178956970 "
        "(--max-pixels N raises it; 0 lifts it)\n")
    result = _imgconv(capfd, "identity", "--max-pixels", "0", source, tmp_path / "out.png")
    assert result.returncode == 1 and result.stderr == (
        f"imgconv: error: {source}: a 17000 x 17000 AVIF, larger than libavif (Pillow's AVIF decoder) opens: "
        "at most 268435456 pixels and 32768 a side\n")
    assert not (tmp_path / "out.png").exists()


def test_a_file_no_decoder_opens_is_refused_with_the_reason_its_format_gives(tmp_path, capfd):
    for name, data, reason in [
        ("no-ihdr.png", _png_of([(b"aHDR", bytes(13)), (b"IEND", b"")]),
         "corrupt PNG: its first chunk is aHDR, where PNG puts IHDR"),
        ("zero.ppm", b"P6 0 4 255\n" + bytes(48),
         "a damaged or unsupported PPM file: its header gives no size or mode"),
        ("cut.jpg", b"\xff\xd8\xff\xe0\x00", "a damaged or unsupported JPEG file: its header is cut short"),
        ("text.png", b"this is not an image at all", "not an image, or a format imgconv cannot read"),
        # DIB's signature test fails on it, which Pillow reports as DIB failing to open it
        ("empty.png", b"", "not an image, or a format imgconv cannot read"),
    ]:
        (tmp_path / name).write_bytes(data)
        result = _imgconv(capfd, "identity", tmp_path / name, tmp_path / "out.png")
        assert result.returncode == 1 and result.stderr == f"imgconv: error: {tmp_path / name}: {reason}\n"


@pytest.mark.slow
def test_a_piped_png_with_a_damaged_ancillary_chunk_is_read(tmp_path):
    """A pipe is checked for an image in its first megabyte, as decode_image reads it."""
    noise = np.random.default_rng(5).integers(0, 256, (700, 700, 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "PNG", icc_profile=b"not really a profile", compress_level=0)
    assert len(buffer.getvalue()) > 1 << 20
    data = _png_of(_png_chunks(buffer.getvalue()), b"iCCP")
    result = subprocess.run([sys.executable, "-m", "imgconv", "identity", "-", tmp_path / "out.png"], input=data,
                            capture_output=True, timeout=120, check=False)
    assert result.returncode == 0 and result.stderr == b""
    assert np.array_equal(imagecodecs.png_decode((tmp_path / "out.png").read_bytes()), noise)


def test_what_a_decoder_lacks_is_not_called_damage(tmp_path, capfd):
    """A BMP of a compression Pillow does not decode, a TIFF of one tifffile does not:
    unsupported, not corrupt; a damaged file's TypeError ("'<' not supported between
    instances") stays damage."""
    info = struct.pack("<IiiHHIIiiII", 40, 4, 4, 1, 24, 6, 0, 2835, 2835, 0, 0)  # compression 6
    (tmp_path / "in.bmp").write_bytes(b"BM" + struct.pack("<IHHI", 14 + 40 + 48, 0, 0, 54) + info + bytes(48))
    tifffile.imwrite(tmp_path / "in.tif", np.zeros((4, 4, 3), np.uint16), photometric="rgb")
    data = (tmp_path / "in.tif").read_bytes()
    compression = struct.pack("<HHII", 259, 3, 1, 1)  # Compression, SHORT, one value: none
    assert data.count(compression) == 1
    (tmp_path / "in.tif").write_bytes(data.replace(compression, struct.pack("<HHII", 259, 3, 1, 34676)))  # SGILOG
    for name, reason in [("in.bmp", "Unsupported BMP compression (6)"),
                         ("in.tif", "<COMPRESSION.SGILOG: 34676> not supported")]:
        result = _imgconv(capfd, "identity", tmp_path / name, tmp_path / "out.tif")
        assert result.returncode == 1 and result.stderr == (
            f"imgconv: error: {tmp_path / name}: unsupported by the decoders imgconv uses ({reason})\n")
    assert reader.LACKING.search("'<' not supported between instances of 'int' and 'str'")  # a TypeError's words
    damage = TypeError("'<' not supported between instances of 'int' and 'str'")
    with mock.patch.object(reader, "picture_from_pillow", side_effect=damage), \
            pytest.raises(reader.ImageReadError, match=r"corrupt or truncated image \('<' not supported"):
        reader.read_image(SAMPLES / "camera.png")
