"""A quick PNG writer: one vectorised row filter, then libdeflate.

Writing a 4K photograph as PNG with Pillow takes far longer than filtering it: Pillow
chooses a filter for every row (libpng's heuristic) and deflates with zlib. Here every
row uses the "Up" filter (each byte minus the byte above it: one vectorised
subtraction) and the whole stream is deflated at once by libdeflate (through
imagecodecs), which on photographs at the same level is several times quicker than
zlib and compresses better. `benchmarks/png_writer.py` measured this against Pillow
and against the writer it replaced (the "Sub" filter, deflated by zlib in pieces on
every core): on 14 photos at level 2, 0.32 of Pillow's time on one core with files 0.92
of Pillow's size, where the old writer took 0.35 on two cores for 1.10. libdeflate
cannot deflate in pieces to be joined, so this runs on one core, which leaves the
others to a batch's other files. Nor can it deflate a stream as it comes: a large image
(`STREAM_BYTES`) at level 0 or 1 (the default) is filtered and deflated strip by strip
by zlib or ISA-L instead, so that neither its filtered rows nor its compressed stream
are ever held whole.
"""

import io
import struct
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from ..vocabulary import DEFAULT_COMPRESS_LEVEL
from . import pages
from .chunks import PNG_SIGNATURE, chunk
from .pillow_write import encode_pillow, metadata_options

if TYPE_CHECKING:
    from .formats import Format
    from .picture import Picture
    from .write import EncodeOptions

# Pillow mode -> (PNG colour type, bit depth)
COLOUR_TYPES = {"L": (0, 8), "LA": (4, 8), "RGB": (2, 8), "RGBA": (6, 8),
                "I;16": (0, 16), "LA;16": (4, 16), "RGB;16": (2, 16), "RGBA;16": (6, 16)}
_UP = 2
# Filtered rows of at least this many bytes are deflated strip by strip as they are
# filtered (`deflated_pieces`) at levels 0 and 1 (the default), where libdeflate, which
# deflates only whole buffers, holds them all with the whole compressed stream beside
# the image: the 12000x8400 RGB photo made JPEG, as PNG at level 1, peaked at 514 MiB
# so and 339 MiB streamed by ISA-L, in 0.65-0.7 of the CPU time, its file 5.6% larger.
# Below it (a 4K RGB or RGBA image: 24 or 32 MiB of rows) the whole stream costs little
# beside the goal of the decoded image plus 150 MiB, and libdeflate's files are 6-9%
# smaller than ISA-L's on 4K photos.
STREAM_BYTES = 32 << 20

# The longest IDAT chunk written. PNG allows 2**31 - 1 bytes a chunk, which a stream
# deflated whole (levels 2 to 9, or an image below `STREAM_BYTES`) passes from about
# 2 GiB of noise or 4 GiB of photograph; stb_image, which many programs use, refuses
# an IDAT chunk longer than 2**30. Longer streams are split into chunks of this size.
IDAT_BYTES = 1 << 30


def filtered_rows(samples: np.ndarray, depth: int, into: np.ndarray | None = None) -> Iterator[np.ndarray]:
    """An image's rows filtered with "Up", a strip at a time (`imgconv.io.pages.strips`),
    each strip of ``samples`` released once filtered where the caller gave them up
    (`imgconv.io.pages`). Each strip's filtered rows are written into ``into`` (the whole
    image's, its rows one byte longer than the samples') and yielded, or, without it,
    into one strip-sized buffer that the next strip overwrites."""
    height, row_bytes = samples.shape[0], samples[0].size * samples.itemsize
    buffer = np.empty((min(height, pages.STRIP_ROWS), row_bytes + 1), np.uint8) if into is None else into
    above = np.zeros(row_bytes, np.uint8)  # the first row has zeros above
    for top, bottom in pages.strips(height):
        strip = samples[top:bottom]
        if depth == 16:
            strip = strip.astype(">u2")  # PNG stores 16-bit samples big-endian
        rows = np.ascontiguousarray(strip).view(np.uint8).reshape(bottom - top, -1)
        raw = buffer[: bottom - top] if into is None else into[top:bottom]
        raw[:, 0] = _UP  # strip by strip: a byte written in every row would bring in all of into's pages
        np.subtract(rows[1:], rows[:-1], out=raw[1:, 1:])  # wraps modulo 256, as PNG wants
        np.subtract(rows[0], above, out=raw[0, 1:])
        above = rows[-1].copy()
        pages.release_rows(samples, top, bottom)
        yield raw


def deflated_rows(samples: np.ndarray, depth: int, level: int) -> bytes:
    """The zlib stream of an image's `filtered_rows`, deflated at once by libdeflate."""
    import imagecodecs

    raw = np.empty((samples.shape[0], samples[0].size * samples.itemsize + 1), np.uint8)
    for _ in filtered_rows(samples, depth, raw):
        pass
    # Header and Adler-32 included. imagecodecs takes any buffer (its annotations name
    # bytes alone) and returns bytes, which bytes() returns as they are, uncopied.
    return bytes(imagecodecs.deflate_encode(raw, level))  # type: ignore[arg-type]


def deflated_pieces(samples: np.ndarray, depth: int, level: int) -> Iterator[bytes]:
    """The zlib stream of an image's `filtered_rows`, in pieces to be written one
    after another: deflated strip by strip as they are filtered (`compressor`) at the
    levels it streams where the filtered rows take `STREAM_BYTES` or more, else whole
    (`deflated_rows`)."""
    if level > 1 or samples.shape[0] * (samples[0].size * samples.itemsize + 1) < STREAM_BYTES:
        yield deflated_rows(samples, depth, level)
        return
    deflater = compressor(level)
    for raw in filtered_rows(samples, depth):
        piece = deflater.compress(raw)
        if piece:
            yield piece
    yield deflater.flush()


def compressor(level: int) -> Any:
    """A streaming zlib compressor for level 0 (zlib's stored blocks, as libdeflate's
    level 0) or 1 (ISA-L's, in 0.4-0.5 of libdeflate's time, files 6-8% larger).

    Levels 2 to 9 are libdeflate's, whole: none of the streaming deflaters measured
    kept both its speed and its sizes there. On the 12000x8400 photo, ISA-L's level 2
    wrote a file 16% larger than libdeflate's (83.1 MB; ISA-L's level 3 compresses
    photos less than its 2); zlib's level 6 took 3.2 times the CPU time (27.3 s for
    8.5) for a file 5% larger. zlib-ng came nearest: 1.1-1.9 times libdeflate's time at
    levels 3-6, files within 2%, but 11% larger at level 2 and half as large again at
    level 1."""
    if level == 0:
        return zlib.compressobj(0)
    from isal import isal_zlib

    return isal_zlib.compressobj(level)


def header_chunks(shape: tuple[int, ...], mode: str, *, icc_profile: bytes | None = None, exif: bytes | None = None,
                  xmp: bytes | None = None, dpi: tuple[float, float] | None = None,
                  text: dict[str, str] | None = None, colour: dict[bytes, bytes] | None = None) -> list[bytes]:
    """The signature, IHDR for an image of ``shape`` in ``mode``, and the metadata:
    the input's colour chunks (``colour``, `imgconv.io.metadata.png_colour_of`: gAMA,
    cHRM, and sRGB where there is no ICC profile, as PNG allows one of them),
    ``iCCP``, ``eXIf``, (XMP, as Adobe specifies) ``iTXt``, ``pHYs`` (pixels per
    metre, rounded as Pillow rounds them) and the text chunks (`text_chunk`)."""
    colour_type, depth = COLOUR_TYPES[mode]
    height, width = shape[:2]
    out = [PNG_SIGNATURE, *chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0))]
    for kind, data in (colour or {}).items():
        if not (kind == b"sRGB" and icc_profile):
            out += chunk(kind, data)
    if icc_profile:
        out += chunk(b"iCCP", b"ICC profile\0\0" + zlib.compress(icc_profile))
    if exif:
        out += chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\0\0") else exif)
    if xmp:
        # keyword, then uncompressed, no language tag, no translated keyword
        out += chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + xmp)
    if dpi:
        out += chunk(b"pHYs", struct.pack(">IIB", *(int(value / 0.0254 + 0.5) for value in dpi), 1))
    for keyword, value in (text or {}).items():
        out += text_chunk(keyword, value)
    return out


# Text longer than this is deflated (zTXt, or a compressed iTXt), as libpng's tools do
# for long text; shorter text gains nothing from it.
_COMPRESS_TEXT = 1024


def text_chunk(keyword: str, value: str) -> list[bytes]:
    """A text chunk as the input's was, as near as Pillow tells: tEXt (zTXt when long)
    for Latin-1 text, iTXt for any other and for an iTXt (which keeps its language tag
    and translated keyword). A keyword PNG does not allow (1 to 79 Latin-1 characters)
    made none, in a file libpng would have warned about: nothing to keep."""
    try:
        name = keyword.encode("latin-1")
    except UnicodeEncodeError:
        return []
    if not 1 <= len(name) <= 79:
        return []
    compress = len(value) > _COMPRESS_TEXT
    language, translated = getattr(value, "lang", None), getattr(value, "tkey", None)
    if language is None and translated is None:
        try:
            latin = value.encode("latin-1")
        except UnicodeEncodeError:
            pass
        else:
            return chunk(b"zTXt", name + b"\0\0" + zlib.compress(latin)) if compress \
                else chunk(b"tEXt", name + b"\0" + latin)
    data = value.encode("utf-8")
    header = name + b"\0" + (b"\1\0" if compress else b"\0\0") + (language or "").encode("ascii", "replace") + b"\0" \
        + (translated or "").encode("utf-8") + b"\0"
    return chunk(b"iTXt", header + (zlib.compress(data) if compress else data))


def encode_png(samples: np.ndarray, mode: str, *, level: int = DEFAULT_COMPRESS_LEVEL, **metadata: Any) -> bytes:
    """PNG bytes for (H, W) or (H, W, C) samples, as `save_png` writes them."""
    buffer = io.BytesIO()
    save_png(buffer, samples, mode, level=level, **metadata)
    return buffer.getvalue()


def save_png(out: BinaryIO, samples: np.ndarray, mode: str, *, level: int = DEFAULT_COMPRESS_LEVEL,
             **metadata: Any) -> None:
    """Write a PNG of (H, W) or (H, W, C) samples in one of the modes of `COLOUR_TYPES`
    into ``out``, chunk by chunk: the compressed rows are never copied.

    Parameters
    ----------
    samples : numpy.ndarray
        uint8 samples, or uint16 for the 16-bit modes.
    mode : str
        ``L``, ``LA``, ``RGB``, ``RGBA``, or 16-bit ``I;16``, ``LA;16``, ``RGB;16``, ``RGBA;16``.
    level : int
        Compression level, 0 (none) to 9 (libdeflate's levels, which go on to 12; ISA-L's
        level 1 for level 1 on large images, `compressor`).
    **metadata
        `header_chunks`'s: ``icc_profile``, ``exif``, ``xmp``, ``dpi``, ``text``, ``colour``.
    """
    out.writelines(header_chunks(samples.shape, mode, **metadata))
    for piece in deflated_pieces(samples, COLOUR_TYPES[mode][1], level):
        for start in range(0, len(piece), IDAT_BYTES):  # a piece that fits is not copied
            out.writelines(chunk(b"IDAT", piece[start : start + IDAT_BYTES]))
    out.writelines(chunk(b"IEND", b""))


def chunk_metadata(metadata: dict[str, Any]) -> dict[str, bytes | None]:
    """The ICC profile, EXIF and XMP an output keeps, as keywords of `header_chunks`
    (and of the animated WebP writer's)."""
    return {key: metadata.get(key) for key in ("icc_profile", "exif", "xmp")}


def png_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """`header_chunks`'s keywords for all the metadata a PNG output keeps: those of
    `chunk_metadata`, the resolution, the text chunks and the colour chunks."""
    return {**chunk_metadata(metadata), "dpi": metadata.get("dpi"), "text": metadata.get("text"),
            "colour": metadata.get("png_colour")}


def write_png(frames: list[np.ndarray], picture: "Picture", record: "Format", metadata: dict[str, Any],
              asked: "EncodeOptions", name: str, out: BinaryIO) -> None:
    """A still PNG by `save_png`; by Pillow in a mode this module does not write."""
    if picture.mode in COLOUR_TYPES:
        save_png(out, frames[0], picture.mode, level=asked.compress_level, **png_metadata(metadata))
        return
    saving = {**metadata_options(metadata), "compress_level": asked.compress_level}
    encode_pillow(frames, picture, record.name, saving, name, out)
