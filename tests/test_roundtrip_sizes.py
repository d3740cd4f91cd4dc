"""Every lossless writer exact at sizes that cross its internal boundaries.

Writers split a picture where the tests' small pictures never reach: JPEG 2000 tiles of
1024 (`imgconv.io.pillow_write.jpeg2000_tile`), the strips of 64 rows encoders copy
(`imgconv.io.pages.STRIP_ROWS`, here with the samples given up, as the command gives
them), PNG's rows deflated strip by strip from 32 MiB (`imgconv.io.png.STREAM_BYTES`,
lowered here so that the same code runs on a small picture), TIFF strips of 256 KiB
(16-bit RGB), bits packed into bytes, BMP's rows padded to 4 bytes, GIF's LZW table of 4096
codes, runs longer than QOI's 62 and PackBits' 128, and animation frames cropped to
what changed. Pictures are random samples (noise compresses worst and shows a
misplaced one) with a run of equal pixels, written by imgconv's own encoder (what the
command calls) and read back by another decoder: libpng, OpenJPEG, libwebp, giflib,
QOI's and BMP's through imagecodecs, tifffile, NumPy, never imgconv's reader and never
Pillow where Pillow wrote. Every sample must come back.
"""

import io
import re
import struct

import imagecodecs
import numpy as np
import pytest
import tifffile

from imgconv.errors import ImageWriteError
from imgconv.io import formats, pages, png, png_bands
from imgconv.io.picture import Picture
from imgconv.io.write import EncodeOptions, check_writable, encode_image

TALL, WIDE, DOT = (1025, 3), (67, 1025), (1, 1)  # past 1024 and 64 rows; past 1024 columns, 64 rows and 64 KiB
CHANNELS = {"L": 1, "I": 1, "F": 1, "LA": 2, "RGB": 3, "RGBA": 4, "CMYK": 4, "CMYKA": 5}
RUN = 300  # equal pixels in raster order, past QOI's, PackBits' and TGA's longest runs


def size(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def samples(mode: str, shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Random samples of ``mode`` (every bit pattern, for floats too), the first `RUN`
    pixels equal."""
    dtype, channels = np.dtype(formats.DTYPE[mode]), CHANNELS[mode.split(";")[0]]
    full = shape if channels == 1 else (*shape, channels)
    bits = np.random.default_rng([seed, *shape, channels, dtype.num]).bytes(int(np.prod(full)) * dtype.itemsize)
    array = np.frombuffer(bits, dtype).reshape(full).copy()
    flat = array.reshape(-1, *array.shape[2:])
    flat[:RUN] = flat[0]
    return array


def encoded(frames: list[np.ndarray], mode: str, fmt: str, options: EncodeOptions = EncodeOptions(),
            source: str = "PNG", **picture: dict) -> bytes:
    """``frames`` (copies, given up to the encoder as the command gives its results) as
    imgconv writes them in ``fmt``, read from a ``source`` file."""
    given = [f.copy() for f in frames]
    made = Picture(given, mode, source, name="in", **picture)
    if len(frames) > 1:
        made.animation = {"duration": [100] * len(frames), "loop": 0}
    check_writable(made, fmt, "out")
    with pages.giving_up(given):
        return encode_image(given, made, fmt, options, "out")


def assert_same(got: np.ndarray, want: np.ndarray) -> None:
    """Every sample equal, compared as bits (a float's NaN and -0.0 too)."""
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    unsigned = np.dtype(f"u{want.dtype.itemsize}")
    wrong = np.count_nonzero(got.view(unsigned) != want.view(unsigned))
    assert wrong == 0, f"{wrong} of {want.size} samples differ, first at {np.argwhere(got != want)[0]}"


def read_pnm(data: bytes) -> np.ndarray:
    """A binary PGM or PPM's samples (16-bit ones big-endian)."""
    found = re.match(rb"(P[56])\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    assert found, data[:20]
    kind, width, height, top = found[1], int(found[2]), int(found[3]), int(found[4])
    shape = (height, width) if kind == b"P5" else (height, width, 3)
    pixels = np.frombuffer(data, ">u2" if top > 255 else "u1", np.prod(shape), found.end()).reshape(shape)
    return pixels.astype(pixels.dtype.newbyteorder("="))


def read_tga(data: bytes) -> np.ndarray:
    """An uncompressed grey or true-colour TGA's samples, in RGB(A) order, top row first."""
    id_length, colour_map, kind = data[:3]
    assert colour_map == 0 and kind in (2, 3), data[:3]
    width, height, depth, descriptor = struct.unpack_from("<HHBB", data, 12)
    channels = depth // 8
    pixels = np.frombuffer(data, np.uint8, width * height * channels, 18 + id_length)
    pixels = pixels.reshape(height, width, channels)
    if not descriptor & 0x20:  # bottom-up
        pixels = pixels[::-1]
    if kind == 2:  # BGR(A)
        pixels = pixels[..., [2, 1, 0, 3][:channels]]
    return pixels[..., 0] if channels == 1 else pixels


def decoded(fmt: str, data: bytes, mode: str) -> list[np.ndarray]:
    """The frames of ``data`` by a decoder other than imgconv's (and Pillow's), in
    ``mode``'s channels: grey that the format holds as RGB is taken from one of them."""
    if fmt == "TIFF":
        with tifffile.TiffFile(io.BytesIO(data)) as tiff:
            return [page.asarray() for page in tiff.pages]
    if fmt == "NPY":
        return [np.load(io.BytesIO(data))]
    if fmt == "PNG":
        frames = imagecodecs.apng_decode(data)
        return list(frames) if frames.shape[0] > 1 and data.find(b"acTL") > 0 else [imagecodecs.png_decode(data)]
    if fmt == "GIF":
        frames = imagecodecs.gif_decode(data)
        return [grey_as_stored(f, mode) for f in (frames if frames.ndim == 4 else [frames])]
    if fmt == "WEBP" and b"ANMF" in data:
        # imagecodecs decodes a frame alone; libwebp's animation decoder, under
        # Pillow's reader, composes them (imgconv made the container, not Pillow).
        from PIL import Image, ImageSequence

        with Image.open(io.BytesIO(data)) as animation:
            shown = 4 if mode.endswith("A") else 3
            return [grey_as_stored(np.asarray(f.convert("RGBA"))[..., :shown], mode)
                    for f in ImageSequence.Iterator(animation)]
    if fmt == "WEBP":
        return [grey_as_stored(imagecodecs.webp_decode(data), mode)]
    if fmt == "BMP" and mode == "LA":  # written as RGB with alpha
        return [grey_as_stored(imagecodecs.bmp_decode(data), mode)]
    reader = {"JPEG2000": imagecodecs.jpeg2k_decode, "BMP": imagecodecs.bmp_decode, "QOI": imagecodecs.qoi_decode,
              "PPM": read_pnm, "TGA": read_tga}[fmt]
    return [reader(data)]


def grey_as_stored(frame: np.ndarray, mode: str) -> np.ndarray:
    """Grey (and alpha) from a decoder that gives RGB(A): the three colour channels must agree."""
    if mode not in ("L", "LA"):
        return frame
    np.testing.assert_array_equal(frame[..., 0], frame[..., 1])
    np.testing.assert_array_equal(frame[..., 0], frame[..., 2])
    return frame[..., 0] if mode == "L" else frame[..., [0, 3]]


def round_trip(fmt: str, mode: str, frames: list[np.ndarray], options: EncodeOptions = EncodeOptions(),
               **picture: dict) -> None:
    got = decoded(fmt, encoded(frames, mode, fmt, options, **picture), mode)
    assert len(got) == len(frames)
    for have, want in zip(got, frames, strict=True):
        assert_same(have, want)


# ---------------------------------------------------------------- still pictures

LOSSLESS = [(fmt, mode) for fmt in ("PNG", "TIFF", "JPEG2000", "BMP", "TGA", "QOI", "PPM")
            for mode in sorted(formats.FORMATS[fmt].holds)]


@pytest.mark.parametrize("shape", [TALL, WIDE, DOT], ids=size)
@pytest.mark.parametrize(("fmt", "mode"), LOSSLESS)
def test_lossless_formats_keep_every_sample(fmt, mode, shape):
    round_trip(fmt, mode, [samples(mode, shape)])


def test_jpeg2000_16_bit_keeps_rows_of_tiles():
    """16-bit grey wider than 1024 in two rows of tiles as wide as the picture (each of
    the other modes' tiles is packed alike whatever its place: `TALL` and `WIDE` cross
    their rows and columns)."""
    round_trip("JPEG2000", "I;16", [samples("I;16", (1100, 1030))])


@pytest.mark.parametrize(("fmt", "side"), [("TGA", 65535), ("GIF", 65535), ("WEBP", 16383)])
def test_a_side_as_long_as_the_header_holds_and_no_longer(fmt, side):
    """The longest side a format's header holds is written; one more pixel is refused
    in one line, before anything is encoded."""
    make = gif_samples if fmt == "GIF" else samples
    round_trip(fmt, "RGB", [make("RGB", (1, side))], encoding={"lossless": True})
    with pytest.raises(ImageWriteError, match=rf"^out: {side + 1}x1 is larger than {fmt} holds \(at most {side} "):
        encoded([make("RGB", (1, side + 1))], "RGB", fmt)


@pytest.mark.parametrize("shape", [TALL, WIDE], ids=size)
@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_lossless_webp_keeps_every_sample(mode, shape):
    round_trip("WEBP", mode, [samples(mode, shape)], encoding={"lossless": True})


@pytest.mark.parametrize("shape", [TALL, WIDE], ids=size)
@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_gif_keeps_every_colour_it_holds(mode, shape):
    """GIF holds 256 colours a frame, one of them transparent where there is alpha
    (shown or not: the colour of a pixel not shown is not kept)."""
    round_trip("GIF", mode, [gif_samples(mode, shape)])


def gif_samples(mode: str, shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Random pixels of the same 255 colours whatever the ``seed``, alpha 0 (black) or 255."""
    if mode == "L":
        return samples(mode, shape, seed)
    table = np.random.default_rng(len(mode)).integers(0, 256, (255, len(mode)), np.uint8)
    rng = np.random.default_rng([seed, *shape])
    pixels = table[rng.integers(0, len(table), shape)]
    if mode == "RGBA":
        pixels[..., 3] = rng.integers(0, 2, shape) * 255
        pixels[pixels[..., 3] == 0] = 0
    return pixels


@pytest.mark.parametrize("compression", ["none", "deflate", "lzw", "zstd", "packbits"])
@pytest.mark.parametrize("mode", ["RGB", "RGB;16"])
def test_tiff_compressions_keep_every_strip(mode, compression):
    round_trip("TIFF", mode, [samples(mode, WIDE)], EncodeOptions(compression=compression))


@pytest.mark.parametrize("beyond", [0, 1])
@pytest.mark.parametrize("mode", ["L", "RGB;16"])
def test_tiff_from_4_gib_is_a_bigtiff_with_every_tag(monkeypatch, mode, beyond):
    """From `imgconv.io.tiff_write.BIGTIFF_BYTES` of samples (4 GiB less 32 MiB; here
    the picture's size, or one byte more) a TIFF is a BigTIFF, with the EXIF (and its
    sub-directories), XMP and resolution."""
    from PIL import Image, TiffImagePlugin

    from imgconv.io import tiff_write

    want = samples(mode, WIDE)
    monkeypatch.setattr(tiff_write, "BIGTIFF_BYTES", want.nbytes + beyond)
    exif = Image.Exif()
    exif[0x010F] = "imgconv camera"
    exif.get_ifd(0x8769)[0x829A] = TiffImagePlugin.IFDRational(1, 250)  # exposure time
    exif.get_ifd(0x8825)[1] = "N"  # latitude's reference
    metadata = {"exif": exif, "xmp": b"<x:xmpmeta/>", "dpi": (300.0, 300.0)}
    with tifffile.TiffFile(io.BytesIO(encoded([want], mode, "TIFF", metadata=metadata))) as tiff:
        assert tiff.is_bigtiff == (not beyond)
        tags = tiff.pages[0].tags
        assert_same(tiff.pages[0].asarray(), want)
        assert (tags["Make"].value, tags["XMP"].value, tags["XResolution"].value) == \
            ("imgconv camera", b"<x:xmpmeta/>", (300, 1))
        assert tags["ExifTag"].value["ExposureTime"] == (1, 250) and tags["GPSTag"].value["GPSLatitudeRef"] == "N"


@pytest.mark.parametrize("shape", [TALL, WIDE], ids=size)
@pytest.mark.parametrize("compression", [8, 4])  # Deflate; CCITT Group 4 from a fax input
def test_bilevel_tiff_keeps_every_bit(shape, compression):
    """A two-valued result of a bilevel input is written at 1 bit a sample, rows of 1025
    and of 3 bits padded to whole bytes."""
    rng = np.random.default_rng([compression, *shape])
    bits = (rng.integers(0, 2, shape) * 255).astype(np.uint8)
    data = encoded([bits], "L", "TIFF", source="TIFF", encoding={"bilevel": True, "compression": compression})
    with tifffile.TiffFile(io.BytesIO(data)) as tiff:
        page = tiff.pages[0]
        assert (page.bitspersample, page.compression) == (1, compression)
        assert_same(np.where(page.asarray(), 255, 0).astype(np.uint8), bits)


@pytest.mark.parametrize("level", [0, 1])
@pytest.mark.parametrize("shape", [TALL, WIDE], ids=size)
@pytest.mark.parametrize("mode", sorted(png.COLOUR_TYPES))
def test_png_deflated_strip_by_strip_keeps_every_sample(monkeypatch, mode, shape, level):
    """The large picture's path (rows deflated as they are filtered, by zlib at level 0
    and ISA-L at 1), taken from the first byte."""
    monkeypatch.setattr(png, "STREAM_BYTES", 0)
    round_trip("PNG", mode, [samples(mode, shape)], EncodeOptions(compress_level=level))


@pytest.mark.parametrize("streamed", [False, True])
def test_png_image_data_in_chunks_no_reader_refuses(monkeypatch, streamed):
    """A deflated stream longer than `imgconv.io.png.IDAT_BYTES` (2**30, stb_image's
    limit; lowered here) is split into IDAT chunks no longer, whole or strip by strip."""
    monkeypatch.setattr(png, "IDAT_BYTES", 1000)
    if streamed:
        monkeypatch.setattr(png, "STREAM_BYTES", 0)
    want = samples("RGB;16", WIDE)
    data = encoded([want], "RGB;16", "PNG", EncodeOptions(compress_level=1 if streamed else 6))
    lengths, at = [], 8
    while at < len(data):
        length, kind = struct.unpack_from(">I4s", data, at)
        lengths += [length] if kind == b"IDAT" else []
        at += length + 12
    assert max(lengths) == 1000 and len(lengths) > want.nbytes // 1000 - 10
    assert_same(imagecodecs.png_decode(data), want)


@pytest.mark.parametrize("shape", [TALL, WIDE, (300, 301)], ids=size)
@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_png_read_in_bands_as_libpng_reads_it(monkeypatch, mode, shape):
    """The large file's reader (`imgconv.io.png_bands`), in bands of a few rows, on a
    PNG whose rows use all five filters (libpng's choice, by Pillow)."""
    from PIL import Image

    monkeypatch.setattr(png_bands, "BAND_FILE_BYTES", 0)
    monkeypatch.setattr(png_bands, "BAND_BYTES", 1000)
    want = samples(mode, shape)
    buffer = io.BytesIO()
    Image.fromarray(want, mode).save(buffer, "PNG", compress_level=6)
    data = buffer.getvalue()
    assert_same(png_bands.decode(data), imagecodecs.png_decode(data))


@pytest.mark.parametrize(("mode", "output"), [("RGB;16", "out.tif"), ("L;float64", "out.zarr"), ("RGBA", "out.zarr"),
                                             ("I", "out.tif")])
def test_streamed_tiles_keep_every_sample(tmp_path, monkeypatch, mode, output):
    """A tiled TIFF streamed block by block (blocks of one band, tiles of 16 x 32 that
    they never line up with, edge tiles part-filled) into a tiled TIFF or a Zarr store,
    through a 1 x 1 identity kernel (floats finite: the engine multiplies them)."""
    zarr = pytest.importorskip("zarr")
    pytest.importorskip("dask")
    from imgconv.filters import kernel_filter
    from imgconv.pipeline import process_file
    from imgconv.stream import blocks

    monkeypatch.setattr(blocks, "BLOCK_BYTES", 1)
    shape = (37, 75)
    want = samples(mode, shape)
    if want.dtype.kind == "f":
        want = np.random.default_rng(1).standard_normal(shape) * 1e300
    tifffile.imwrite(tmp_path / "in.tif", want, tile=(16, 32), compression="zlib")
    process_file(tmp_path / "in.tif", tmp_path / output, kernel_filter(np.ones((1, 1))))
    got = tifffile.imread(tmp_path / output) if output.endswith(".tif") else \
        zarr.open_array(tmp_path / output, mode="r")[:]
    assert_same(got, want)


# ---------------------------------------------------------------- frames


def changing_frames(make, mode: str, shape: tuple[int, int]) -> list[np.ndarray]:
    """Frames that change: whole, then in a box past the strips and tiles (all but the
    first row and column), then not at all, then in the last pixel only."""
    first, other = make(mode, shape, 1), make(mode, shape, 2)
    second = first.copy()
    second[1:, 1:] = other[1:, 1:]
    last = second.copy()
    last[-1, -1] = first[0, 0] if not np.array_equal(first[0, 0], second[-1, -1]) else other[0, 0]
    return [first, second, second.copy(), last]


@pytest.mark.parametrize(("fmt", "mode"), [("PNG", mode) for mode in sorted(png.COLOUR_TYPES)]
                         + [("WEBP", mode) for mode in ("L", "LA", "RGB", "RGBA")]
                         + [("TIFF", "RGB"), ("TIFF", "RGB;16"), ("TIFF", "L;float64")])
def test_animations_and_pages_keep_every_frame(fmt, mode):
    round_trip(fmt, mode, changing_frames(samples, mode, WIDE), encoding={"lossless": True})


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_gif_animation_keeps_every_frame(mode):
    round_trip("GIF", mode, changing_frames(gif_samples, mode, WIDE))


def test_tiff_pages_of_different_sizes_keep_every_sample():
    frames = [samples("RGBA;16", TALL), samples("RGBA;16", WIDE)]
    round_trip("TIFF", "RGBA;16", frames)


@pytest.mark.parametrize("dtype", ["u1", "i2", "u4", "i8", "f2", "f4", ">f8", "c8", "?"])
@pytest.mark.parametrize("shape", [(67, 1025), (67, 1025, 5), (3, 1, 7, 2)], ids=size)
def test_npy_keeps_the_array(dtype, shape):
    """A .npy holds the raw result in its own type and byte order, several frames as
    one array."""
    want = np.frombuffer(np.random.default_rng(len(shape)).bytes(int(np.prod(shape)) * np.dtype(dtype).itemsize),
                         dtype).reshape(shape)
    if dtype == "?":
        want = want.view(np.uint8) % 2 == 1
    frames = list(want) if len(shape) == 4 else [want]
    made = Picture([f.copy() for f in frames], formats.NPY, formats.NPY)
    got = np.load(io.BytesIO(encode_image(made.frames, made, formats.NPY)))
    assert_same(got, want if len(frames) == 1 else want.astype(want.dtype.newbyteorder("=")))
