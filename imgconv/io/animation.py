"""Animations written as imgconv holds them: every frame a whole picture, kept.

A GIF's or APNG's frames are read composed, as viewers display them, so each frame is
written to replace the canvas where it differs from the one before: a GIF frame is not
disposed of (or, with transparency, is cleared to the background and written whole),
an APNG frame is blended SOURCE and disposed NONE, a WebP frame is not blended and
not disposed of. A frame is cropped to the box where it differs from the previous one,
which is exact under those rules and keeps files small.

Pillow's writers (and libwebp's animation encoder under Pillow's WebP writer) merge a
frame identical to the one before it into that one, adding the durations: an animation
of 384 frames could come back with 173. Here every frame is written, an unchanged one
as a single pixel that repeats what is shown (in a WebP, a transparent pixel blended
over it, as a lossy frame's pixel would not repeat exactly).
The frames' pixels are encoded by Pillow (GIF's LZW, WebP's VP8 and VP8L) and by
`imgconv.io.png`; only the containers are assembled here.
"""

import io
import struct
from collections.abc import Iterator
from fractions import Fraction
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from ..errors import ImageWriteError
from . import png
from .chunks import chunk
from .pillow_write import webp_options

if TYPE_CHECKING:
    from PIL import Image

    from .formats import Format
    from .picture import Picture
    from .write import EncodeOptions

# Frame timing: APNG's dispose op NONE and blend op SOURCE; GIF's disposal methods.
_APNG_DISPOSE_NONE, _APNG_BLEND_SOURCE = 0, 0
_GIF_KEEP, _GIF_CLEAR = 1, 2
_GIF_OPAQUE = 128  # alpha from which a GIF pixel is shown: GIF has no partial transparency
# WebP's ANMF flags: bit 1 set is "do not blend", bit 0 clear is "do not dispose".
_WEBP_NO_BLEND, _WEBP_BLEND = 0b10, 0b00
# The box of an unchanged frame: one pixel at the origin.
_PIXEL = (0, 0, 1, 1)
# WebP's VP8X flags.
_WEBP_ICC, _WEBP_ALPHA, _WEBP_EXIF, _WEBP_XMP, _WEBP_ANIMATION = 0x20, 0x10, 0x08, 0x04, 0x02
# RIFF's size field, 32 bits: a WebP holds at most this many bytes after its first 8.
# A frame's side is at most 16383, so a frame takes about 1 GiB at most, but an
# animation of a few such frames would pass it.
RIFF_BYTES = 0xFFFFFFFF


def changed_box(previous: np.ndarray, frame: np.ndarray, align: int = 1) -> tuple[int, int, int, int] | None:
    """(top, left, bottom, right) of the samples of ``frame`` that differ from
    ``previous``, its top and left rounded down to multiples of ``align``; None when
    none differ."""
    differs = previous != frame
    if differs.ndim == 3:
        differs = differs.any(axis=2)
    rows, columns = np.flatnonzero(differs.any(axis=1)), np.flatnonzero(differs.any(axis=0))
    if not len(rows):
        return None
    top, left = rows[0] - rows[0] % align, columns[0] - columns[0] % align
    return int(top), int(left), int(rows[-1]) + 1, int(columns[-1]) + 1


def _crops(frames: list[np.ndarray], align: int = 1) -> Iterator[tuple[tuple[int, int, int, int] | None, np.ndarray]]:
    """Each frame's box, the first whole, the others where they differ from the one
    before (None where none differ), and its samples there."""
    previous = None
    for frame in frames:
        box = (0, 0, *frame.shape[:2]) if previous is None else changed_box(previous, frame, align)
        top, left, bottom, right = box or _PIXEL
        yield box, frame[top:bottom, left:right]
        previous = frame


def durations(animation: dict, count: int) -> list[float]:
    """Each frame's duration in ms; 0 where the input gave none (TIFF pages)."""
    return list(animation.get("duration", [0] * count))


def encode_apng(frames: list[np.ndarray], mode: str, animation: dict, *, level: int, **metadata: Any) -> bytes:
    """An animated PNG of frames in a mode of `imgconv.io.png.COLOUR_TYPES`, 8 or 16 bits.

    ``animation`` gives ``duration`` (ms a frame) and ``loop`` (0: for ever); a duration
    is stored as the fraction of 16-bit numbers nearest it, as Pillow does.
    ``metadata`` is `imgconv.io.png.header_chunks`'s. A frame's data longer than
    `imgconv.io.png.IDAT_BYTES` is split into several IDAT or fdAT chunks, as a still
    PNG's is, each fdAT chunk with its own sequence number.
    """
    depth = png.COLOUR_TYPES[mode][1]
    out = png.header_chunks(frames[0].shape, mode, **metadata)
    out += chunk(b"acTL", struct.pack(">II", len(frames), animation.get("loop", 0)))
    sequence = 0
    for (box, samples), duration in zip(_crops(frames), durations(animation, len(frames)), strict=False):
        top, left, bottom, right = box or _PIXEL
        delay = Fraction(duration / 1000).limit_denominator(0xFFFF)
        out += chunk(b"fcTL", struct.pack(">IIIIIHHBB", sequence, right - left, bottom - top, left, top,
                                              delay.numerator, delay.denominator, _APNG_DISPOSE_NONE,
                                              _APNG_BLEND_SOURCE))
        stream = png.deflated_rows(samples, depth, level)  # a slice of it that is all of it is not copied
        if sequence == 0:  # the first frame is the default image, in IDAT chunks without sequence numbers
            for start in range(0, len(stream), png.IDAT_BYTES):
                out += chunk(b"IDAT", stream[start : start + png.IDAT_BYTES])
            sequence = 1
            continue
        sequence += 1
        piece = png.IDAT_BYTES - 4  # an fdAT chunk's length counts its sequence number
        for start in range(0, len(stream), piece):
            out += chunk(b"fdAT", struct.pack(">I", sequence) + stream[start : start + piece])
            sequence += 1
    out += chunk(b"IEND", b"")
    return b"".join(out)


def gif_image(samples: np.ndarray, unchanged: np.ndarray | None = None) -> "Image.Image":
    """8-bit grey, RGB or RGBA samples as a palette image a GIF holds.

    Grey keeps its levels. Colour keeps its colours where a table holds them: a frame of
    up to 256 colours (255 when a transparent index is needed) gets a table of exactly
    those; one of more gets Pillow's median-cut palette of 255 (GIF is lossy beyond 256
    colours a frame: docs/guides/images.md). Alpha, where there is one, is a colour after the
    others, fully transparent where alpha is below half (GIF has no partial
    transparency). ``unchanged`` marks pixels to leave transparent over an earlier frame:
    that colour again, or an unused level for grey; none is marked when the table has
    no room for it (the frame's box is then written whole, which is as exact). The
    image's ``transparency`` says which index is transparent.
    """
    from PIL import Image

    if samples.ndim == 2:
        image = Image.fromarray(np.ascontiguousarray(samples), "P")
        image.putpalette(np.repeat(np.arange(256, dtype=np.uint8), 3).tobytes())
        free = np.flatnonzero(np.bincount(samples.ravel(), minlength=256) == 0)
        if unchanged is not None and len(free):
            indices = samples.copy()
            indices[unchanged] = free[0]
            image = Image.fromarray(indices, "P")
            image.putpalette(np.repeat(np.arange(256, dtype=np.uint8), 3).tobytes())
            image.info["transparency"] = int(free[0])
        return image
    transparent = samples[..., 3] < _GIF_OPAQUE if samples.shape[2] == 4 else unchanged
    table = _exact_palette(samples[..., :3], transparent)
    if table is None and unchanged is not None and transparent is unchanged:
        table = _exact_palette(samples[..., :3], None)
        transparent = None if table is not None else transparent
    if table is None:
        quantized = Image.fromarray(np.ascontiguousarray(samples[..., :3])).quantize(colors=255)
        palette, indices = quantized.getpalette() or [], np.asarray(quantized)
    else:
        palette, indices = table
    if transparent is None:
        image = Image.fromarray(np.ascontiguousarray(indices), "P")
        image.putpalette(palette)
        return image
    index = len(palette) // 3  # the colour after the palette's: a table holds no more than it needs
    indices = indices.copy()
    indices[transparent] = index
    image = Image.fromarray(indices, "P")
    image.putpalette([*palette, 0, 0, 0])
    image.info["transparency"] = index
    return image


def _exact_palette(colours: np.ndarray, transparent: np.ndarray | None) -> tuple[list[int], np.ndarray] | None:
    """(palette, indices) holding the RGB ``colours`` of the pixels not ``transparent``
    exactly, with room left for a transparent index unless ``transparent`` is None; None
    when a GIF's 256 entries are too few."""
    packed = (colours[..., 0].astype(np.uint32) << 16) | (colours[..., 1].astype(np.uint32) << 8) | colours[..., 2]
    if transparent is not None:
        packed[transparent] = packed[~transparent][0] if (~transparent).any() else 0
    unique, inverse = np.unique(packed, return_inverse=True)
    if len(unique) > 256 - (transparent is not None):
        return None
    palette = np.stack([unique >> 16, (unique >> 8) & 0xFF, unique & 0xFF], axis=1).astype(np.uint8)
    return palette.ravel().tolist(), inverse.reshape(packed.shape).astype(np.uint8)


def encode_gif(frames: list[np.ndarray], animation: dict, *, comment: bytes | None = None) -> bytes:
    """A GIF of 8-bit grey, RGB or RGBA frames (see `gif_image`), each with its own
    colour table. ``animation`` gives ``duration`` (ms a frame; GIF keeps hundredths of
    a second) and ``loop``; without ``loop`` the GIF plays once, as one without the
    NETSCAPE extension does.

    Opaque frames after the first are cropped to where they differ from the one
    before, and within that box the pixels that did not change are left transparent,
    showing the earlier frame's (LZW compresses such runs well). A frame with
    transparency cannot leave anything to the one before: it is written whole and
    cleared after showing.
    """
    from PIL import GifImagePlugin

    transparent = frames[0].ndim == 3 and frames[0].shape[2] == 4
    # Opaque RGBA frames are their colours: 256 a frame and no transparent index, as RGB's.
    # One opaque frame among transparent ones keeps its transparent index: Pillow,
    # giflib and libvips clear a frame disposed of to the background with its transparent
    # colour where it has one, else with an opaque colour, where browsers clear it whole.
    if transparent and all((f[..., 3] >= _GIF_OPAQUE).all() for f in frames):
        frames, transparent = [f[..., :3] for f in frames], False
    info = {key: value for key, value in (("loop", animation.get("loop")), ("comment", comment)) if value is not None}
    whole = (((0, 0, *f.shape[:2]), f) for f in frames)
    out: list[bytes] = []
    for index, ((box, samples), duration) in enumerate(zip(whole if transparent else _crops(frames),
                                                           durations(animation, len(frames)), strict=False)):
        top, left, bottom, right = box or _PIXEL
        unchanged = None
        if index and not transparent:
            differs = frames[index - 1][top:bottom, left:right] != samples
            unchanged = ~differs.any(axis=2) if differs.ndim == 3 else ~differs
        image = gif_image(samples, unchanged)
        if not index:
            out += GifImagePlugin.getheader(image.copy(), info=info)[0]
        # The first frame's colours are the global table
        params = {"duration": duration, "disposal": _GIF_CLEAR if transparent else _GIF_KEEP,
                  "include_color_table": index > 0}
        if "transparency" in image.info:
            params["transparency"] = image.info["transparency"]
        out += GifImagePlugin.getdata(image, offset=(left, top), **params)
    out.append(b";")
    return b"".join(out)


def _webp_chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack("<I", len(data)) + data + b"\0" * (len(data) & 1)


def _webp_image_chunks(samples: np.ndarray, options: dict) -> bytes:
    """The ALPH, VP8 or VP8L chunks of ``samples`` encoded as a still WebP by Pillow."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(samples)).save(buffer, "WEBP", **options)
    data, position, kept = buffer.getvalue(), 12, []
    while position + 8 <= len(data):
        kind, size = data[position : position + 4], int.from_bytes(data[position + 4 : position + 8], "little")
        if kind in (b"ALPH", b"VP8 ", b"VP8L"):
            kept.append(data[position : position + 8 + size + (size & 1)])
        position += 8 + size + (size & 1)
    return b"".join(kept)


def _clear_pixel() -> bytes:
    """The VP8L chunk of one fully transparent pixel: blended over the canvas, it
    changes nothing."""
    return _webp_image_chunks(np.zeros((1, 1, 4), np.uint8), {"lossless": True})


def encode_webp(frames: list[np.ndarray], animation: dict, options: dict, *, name: str,
                icc_profile: bytes | None = None, exif: bytes | None = None, xmp: bytes | None = None) -> bytes:
    """An animated WebP of 8-bit grey, RGB or RGBA frames, each encoded with Pillow's
    still-image ``options`` (``lossless`` or ``quality``). ``animation`` gives
    ``duration`` (ms a frame) and ``loop`` (0: for ever).

    An animation that would take more than `RIFF_BYTES` is refused (naming ``name``) as
    soon as the frames encoded so far pass it: its size is known only once encoded.
    """
    height, width = frames[0].shape[:2]
    alpha = frames[0].ndim == 3 and frames[0].shape[2] in (2, 4)
    if frames[0].ndim == 2 or frames[0].shape[2] == 2:  # WebP stores colour: grey is repeated in R, G and B
        frames = [np.dstack([f[..., 0] if f.ndim == 3 else f] * 3 + ([f[..., 1]] if alpha else [])) for f in frames]
    flags = _WEBP_ANIMATION | (_WEBP_ALPHA if alpha else 0) | (_WEBP_ICC if icc_profile else 0) \
        | (_WEBP_EXIF if exif else 0) | (_WEBP_XMP if xmp else 0)
    chunks = [_webp_chunk(b"VP8X", struct.pack("<B3x", flags) + (width - 1).to_bytes(3, "little")
                          + (height - 1).to_bytes(3, "little"))]
    if icc_profile:
        chunks.append(_webp_chunk(b"ICCP", icc_profile))
    chunks.append(_webp_chunk(b"ANIM", struct.pack("<IH", 0, animation.get("loop", 0))))  # background: transparent
    for (box, samples), duration in zip(_crops(frames, align=2), durations(animation, len(frames)), strict=False):
        top, left, bottom, right = box or _PIXEL
        position = (left // 2).to_bytes(3, "little") + (top // 2).to_bytes(3, "little")
        size = (right - left - 1).to_bytes(3, "little") + (bottom - top - 1).to_bytes(3, "little")
        flags = _WEBP_NO_BLEND if box else _WEBP_BLEND
        image = _webp_image_chunks(samples, options) if box else _clear_pixel()
        chunks.append(_webp_chunk(b"ANMF", position + size + round(duration).to_bytes(3, "little")
                                  + bytes([flags]) + image))
        _check_riff(chunks, name)
    if exif:
        chunks.append(_webp_chunk(b"EXIF", exif[6:] if exif.startswith(b"Exif\0\0") else exif))
    if xmp:
        chunks.append(_webp_chunk(b"XMP ", xmp))
    _check_riff(chunks, name)
    body = b"".join(chunks)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def _check_riff(chunks: list[bytes], name: str) -> None:
    """Refuse a WebP whose ``chunks`` (and its "WEBP") pass `RIFF_BYTES`."""
    if 4 + sum(map(len, chunks)) > RIFF_BYTES:
        raise ImageWriteError(f"{name}: the animation takes more than 4 GiB as WebP, which WebP's RIFF container "
                              "cannot hold (its size is 32 bits); write APNG to keep it")


def write_apng(frames: list[np.ndarray], picture: "Picture", record: "Format", metadata: dict[str, Any],
               asked: "EncodeOptions", name: str, out: BinaryIO) -> None:
    """An animated PNG (`encode_apng`)."""
    out.write(encode_apng(frames, picture.mode, picture.animation, level=asked.compress_level,
                       **png.png_metadata(metadata)))


def write_gif(frames: list[np.ndarray], picture: "Picture", record: "Format", metadata: dict[str, Any],
              asked: "EncodeOptions", name: str, out: BinaryIO) -> None:
    """A GIF, still or animated (`encode_gif`)."""
    out.write(encode_gif(frames, picture.animation, comment=metadata.get("comment")))


def write_animated_webp(frames: list[np.ndarray], picture: "Picture", record: "Format", metadata: dict[str, Any],
                        asked: "EncodeOptions", name: str, out: BinaryIO) -> None:
    """An animated WebP (`encode_webp`), lossless as `webp_options` says."""
    out.write(encode_webp(frames, picture.animation, webp_options(picture, asked, record), name=name,
                          **png.chunk_metadata(metadata)))
