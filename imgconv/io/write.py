"""Results encoded: the output's format, what it can hold, and the encoder of each."""

import io
import os
from dataclasses import dataclass

import numpy as np

from ..errors import ImageWriteError, InvalidInputError
from ..vocabulary import DEFAULT_COMPRESS_LEVEL
from . import animation, formats
from .formats import NPY
from .picture import Picture
from .pillow_write import encode_pillow, webp_options
from .png import COLOUR_TYPES, encode_png
from .sink import STDIO
from .tiff_write import PILLOW_TIFF, encode_tifffile, is_bilevel, tiff_compression


def output_format(dest, requested=None, input_format="PNG"):
    """The format to write ``dest`` in: its extension, else ``requested``, else the input's.

    ``requested`` is a name from `imgconv.io.formats.names` (case-insensitive) or None.
    """
    extension = "" if dest == STDIO else os.path.splitext(os.fspath(dest))[1].lower()
    if extension:
        by_extension = formats.format_of_extension(extension)
        if by_extension is not None:
            return by_extension
        if requested is None:
            raise InvalidInputError(f"{dest}: cannot tell the output format from {extension!r}; give --format")
    if requested is not None:
        fmt = formats.names().get(requested.lower())
        if fmt is None:
            raise InvalidInputError(f"unknown format {requested!r}; imgconv writes {', '.join(sorted(formats.names()))}")
        return fmt
    if input_format not in formats.available():
        raise InvalidInputError(f"{dest}: imgconv does not write {input_format}; give --format")
    return input_format


def check_writable(picture, fmt, name):
    """Refuse, before any filtering, a picture that ``fmt`` cannot hold as it is."""
    sizes = list(dict.fromkeys(f"{f.shape[1]}x{f.shape[0]}" for f in picture.frames))
    if len(sizes) > 1 and fmt != "TIFF" and (fmt == NPY or fmt in formats.ANIMATED):
        # An animation has one canvas (Pillow would crop or pad the other frames, or
        # fail), and a .npy one array.
        what = "a .npy array" if fmt == NPY else f"a {fmt} animation"
        raise ImageWriteError(f"{name}: the input's frames differ in size ({', '.join(sizes)}) and {what} holds "
                              "frames of one size; write TIFF, whose pages keep their sizes, or give --frame N")
    if fmt == NPY:
        return
    if len(picture.frames) > 1 and fmt not in formats.ANIMATED:
        raise ImageWriteError(f"{name}: the input has {len(picture.frames)} frames and {fmt} holds one; "
                              "give --frame N (0-based) or write GIF, PNG, WebP or TIFF")
    durations = picture.animation.get("duration", []) if len(picture.frames) > 1 else []
    duration = next((d for d in durations if not formats.holds_duration(fmt, d)), None)
    if duration is not None:
        holders = [{"WEBP": "WebP"}.get(other, other) for other in ("GIF", "PNG", "WEBP")
                   if all(formats.holds_duration(other, d) for d in durations)]
        raise ImageWriteError(f"{name}: a frame of the input lasts {duration:.10g} ms, which {fmt} cannot store as a "
                              "frame's duration; "
                              + (f"write {' or '.join(holders)}, or " if holders else "") + "give --frame N")
    if picture.mode == formats.MULTICHANNEL:
        channels = picture.frames[0].shape[2]
        raise ImageWriteError(f"{name}: the input has {channels} channels; only .npy can hold them")
    if picture.mode not in formats.HOLDS[fmt]:
        shallow = formats.OTHER_DEPTH.get(picture.mode)
        if shallow in formats.HOLDS[fmt] and picture.sample_dtype == np.uint16:
            raise ImageWriteError(f"{name}: {fmt} holds 8 bits a sample and the input is "
                                  f"{formats.WORDS[picture.mode]}; write {formats.holders(picture.mode)} "
                                  "to keep 16 bits, or give --depth 8 to convert (round(v / 257))")
        if picture.mode in formats.FLOAT:
            channels = 1 if picture.frames[0].ndim == 2 else picture.frames[0].shape[2]
            depths = [bits for bits in (8, 16) if formats.MODE_OF[channels, bits] in formats.HOLDS[fmt]]
            if depths:
                raise ImageWriteError(f"{name}: {fmt} holds integer samples and the input is "
                                      f"{formats.WORDS[picture.mode]}; write {formats.holders(picture.mode)} to keep "
                                      f"them, or give --depth {depths[0]} to map 0.0-1.0 to 0-{2 ** depths[0] - 1} "
                                      f"(round(v * {2 ** depths[0] - 1}), clipped)"
                                      + (" or --depth 16 to 0-65535" if depths[1:] else ""))
        raise ImageWriteError(f"{name}: {fmt} cannot hold {formats.WORDS[picture.mode]}; "
                              f"write {formats.holders(picture.mode)}")


@dataclass(frozen=True)
class EncodeOptions:
    """How `encode_image` encodes a result, beyond its format.

    Attributes
    ----------
    quality : int, optional
        JPEG, WebP and AVIF quality. Without it, a JPEG from a JPEG input reuses the
        input's quantisation tables and a WebP from a lossless WebP is lossless;
        otherwise `DEFAULT_QUALITY`.
    subsampling : str, optional
        JPEG chroma subsampling, ``4:4:4``, ``4:2:2`` or ``4:2:0``; default the JPEG
        input's, else 4:4:4.
    compress_level : int
        PNG compression level, 0-9 (libdeflate's for the modes `imgconv.io.png` writes).
    compression : str, optional
        TIFF compression, a name of `TIFF_COMPRESSION`; default `tiff_compression`'s.
    strip : bool
        Leave out EXIF, XMP and comments; the ICC profile stays.
    """

    quality: int | None = None
    subsampling: str | None = None
    compress_level: int = DEFAULT_COMPRESS_LEVEL
    compression: str | None = None
    strip: bool = False


def encode_image(frames: list[np.ndarray], picture: Picture, fmt: str, options: EncodeOptions = EncodeOptions(),
                 name: str = "<stdout>") -> bytes:
    """Encode frames of samples in the picture's mode (``picture.sample_dtype``) as bytes.

    For ``NPY``, ``frames`` hold the raw result, saved in their own type: one
    (H, W[, C]) array, or (N, H, W[, C]) for several frames. Otherwise `check_writable`
    has passed.

    Parameters
    ----------
    options : EncodeOptions
    name : str
        The destination, for error messages only.
    """
    if fmt == NPY:
        buffer = io.BytesIO()
        np.save(buffer, np.stack(frames) if len(frames) > 1 else frames[0], allow_pickle=False)
        return buffer.getvalue()
    frames = [f[..., 0] if f.ndim == 3 and f.shape[2] == 1 else f for f in frames]
    longest = max(max(f.shape[:2]) for f in frames)
    if longest > formats.MAX_SIDE.get(fmt, longest):
        height, width = next(f.shape[:2] for f in frames if max(f.shape[:2]) == longest)
        raise ImageWriteError(f"{name}: {width}x{height} is larger than {fmt} holds (at most "
                              f"{formats.MAX_SIDE[fmt]} pixels a side); write PNG or TIFF")
    metadata = {k: v for k, v in picture.metadata.items()
                if k in ("icc_profile",) or (not options.strip and k in ("exif", "xmp", "comment"))}
    if "exif" in metadata:
        try:
            metadata["exif"] = metadata["exif"].tobytes()
        except Exception as exc:  # a damaged tag Pillow read but cannot write back
            raise ImageWriteError(f"{name}: the input's EXIF cannot be written ({exc}); --strip leaves it out") \
                from None
    chunks = {k: metadata.get(k) for k in ("icc_profile", "exif", "xmp")}
    if fmt == "PNG" and len(frames) == 1 and picture.mode in COLOUR_TYPES:
        return encode_png(frames[0], picture.mode, level=options.compress_level, **chunks)
    if fmt == "PNG" and len(frames) > 1:
        return animation.encode_apng(frames, picture.mode, picture.animation, level=options.compress_level, **chunks)
    if fmt == "GIF":
        return animation.encode_gif(frames, picture.animation, comment=metadata.get("comment"))
    if fmt == "WEBP" and len(frames) > 1:
        return animation.encode_webp(frames, picture.animation, webp_options(picture, options.quality), **chunks)
    if fmt == "TIFF":
        # Pillow holds neither 16-bit colour nor the wider types, and writes pages of
        # different sizes all at the last page's size: tifffile writes those.
        by_pillow = picture.mode in PILLOW_TIFF and len({f.shape for f in frames}) == 1
        bilevel = by_pillow and is_bilevel(frames, picture)
        scheme = tiff_compression(picture, options.compression, bilevel)
        if not by_pillow:
            return encode_tifffile(frames, picture, metadata, scheme)
        if bilevel:
            frames = [f > 0 for f in frames]  # Pillow's mode 1, exactly
    else:
        scheme = None
    return encode_pillow(frames, picture, fmt, metadata, options, scheme, name)
