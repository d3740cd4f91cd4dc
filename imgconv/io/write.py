"""Results encoded: the output's format, what it can hold, and the encoder of each."""

import functools
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

from ..errors import ImageWriteError, InvalidInputError
from ..vocabulary import DEFAULT_COMPRESS_LEVEL
from . import formats
from .metadata import colour_not_srgb, comment_text, profile_describes
from .picture import Picture
from .png_profile import PROFILE_FORMATS, profile_for
from .sink import STDIO
from .tiled_image import Path


def output_format(dest: Path, requested: str | None = None, input_format: str = "PNG") -> str:
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
            raise InvalidInputError(f"unknown format {requested!r}; imgconv writes "
                                    f"{', '.join(sorted(formats.names()))}")
        return fmt
    if input_format not in formats.available():
        raise InvalidInputError(f"{dest}: imgconv does not write {input_format}; give --format")
    return input_format


def check_writable(picture: Picture, fmt: str, name: str, strip: bool = False) -> None:
    """Refuse, before any filtering, a picture that ``fmt`` cannot hold as it is (its
    resolution, or colours a PNG's gAMA or cHRM declare other than sRGB, which PNG
    holds as they are and `imgconv.io.png_profile.PROFILE_FORMATS` as an ICC profile:
    unless ``strip`` leaves them out)."""
    record = formats.FORMATS[fmt]
    sizes = list(dict.fromkeys(f"{f.shape[1]}x{f.shape[0]}" for f in picture.frames))
    if len(sizes) > 1 and record.animates and not record.sizes_differ:
        # An animation has one canvas (Pillow would crop or pad the other frames, or
        # fail), and a .npy one array.
        what = f"a {record.extension} array" if record.raw else f"a {fmt} animation"
        raise ImageWriteError(f"{name}: the input's frames differ in size ({', '.join(sizes)}) and {what} holds "
                              "frames of one size; write TIFF, whose pages keep their sizes, or give --frame N")
    if record.raw:
        return
    if len(picture.frames) > 1:
        _check_frames(picture, record, name)
    if picture.mode == formats.MULTICHANNEL:
        channels = picture.frames[0].shape[2]
        raise ImageWriteError(f"{name}: the input has {channels} channels; only .npy can hold them")
    if picture.mode not in record.holds:
        _refuse_mode(picture, record, name)
    dpi = picture.metadata.get("dpi")
    if dpi is not None and not strip and record.dpi_fits is not None \
            and not all(record.dpi_fits(value) for value in dpi):
        raise ImageWriteError(f"{name}: {fmt} cannot hold the input's resolution ({dpi[0]:.6g} x {dpi[1]:.6g} "
                              f"dpi); write {_holders_of_resolution(dpi)} to keep it, or give --strip to leave "
                              "it out")
    carried = strip or fmt == "PNG" or fmt in PROFILE_FORMATS  # as chunks, or an ICC profile made of them
    declared = None if carried else colour_not_srgb(picture.metadata)
    if declared:
        keepers = [other.title or other.name for other in formats.FORMATS.values()
                   if (other.name == "PNG" or other.name in PROFILE_FORMATS) and other.name in formats.available()
                   and picture.mode in other.holds]
        raise ImageWriteError(f"{name}: the input declares {declared}, which a {fmt} output cannot say; write "
                              f"{_either(keepers)} to keep it, or give --strip to leave it out")


def _check_frames(picture: Picture, record: formats.Format, name: str) -> None:
    """Refuse several frames ``record`` cannot hold: too many, or one too long."""
    if not record.animates:
        holders = _holders_of_frames(picture)
        raise ImageWriteError(f"{name}: the input has {len(picture.frames)} frames and {record.name} holds one; "
                              "give --frame N (0-based)" + (f" or write {_either(holders)}" if holders else ""))
    durations = picture.animation.get("duration", [])
    duration = next((d for d in durations if not record.holds_duration(d)), None)
    if duration is not None:
        # The formats that time their frames, alphabetically.
        timed = sorted((other for other in formats.FORMATS.values() if other.timed), key=lambda f: f.name)
        holders = [other.title or other.name for other in timed if all(other.holds_duration(d) for d in durations)]
        raise ImageWriteError(f"{name}: a frame of the input lasts {duration:.10g} ms, which {record.name} cannot "
                              "store as a frame's duration; "
                              + (f"write {' or '.join(holders)}, or " if holders else "") + "give --frame N")


def _holders_of_frames(picture: Picture) -> list[str]:
    """The formats this Pillow writes that hold all of the picture's frames as they are:
    their mode, their sizes (an animation has one canvas) and their durations."""
    differ = len({f.shape[:2] for f in picture.frames}) > 1
    durations = picture.animation.get("duration", [])
    return [record.title or fmt for fmt, record in formats.FORMATS.items()
            if record.animates and not record.raw and fmt in formats.available() and picture.mode in record.holds
            and (record.sizes_differ or not differ) and all(record.holds_duration(d) for d in durations)]


def _refuse_mode(picture: Picture, record: formats.Format, name: str) -> None:
    """Refuse a picture whose mode ``record`` does not hold, saying what does and how
    to convert."""
    fmt, holds = record.name, record.holds
    shallow = formats.OTHER_DEPTH.get(picture.mode)
    if shallow in holds and picture.sample_dtype == np.uint16:
        deep = sorted(formats.WORDS[mode] for mode in holds & set(formats.OTHER_DEPTH) if mode.endswith(";16"))
        depth = f"16 bits a sample only as {' or '.join(deep)}" if deep else "8 bits a sample"
        raise ImageWriteError(f"{name}: {fmt} holds {depth} and the input is "
                              f"{formats.WORDS[picture.mode]}; write {formats.holders(picture.mode)} "
                              "to keep 16 bits, or give --depth 8 to convert (round(v / 257))")
    channels = 1 if picture.frames[0].ndim == 2 else picture.frames[0].shape[2]
    if picture.mode in formats.WITH_ALPHA and picture.sample_dtype == np.uint16 \
            and formats.MODE_OF[channels - 1, 8] in holds:
        opaque = all(np.all(f[..., -1] == np.iinfo(np.uint16).max) for f in picture.frames)  # dropped then
        raise ImageWriteError(f"{name}: {fmt} holds 8 bits a sample and no alpha, and the input is "
                              f"{formats.WORDS[picture.mode]}; write {formats.holders(picture.mode)} to keep them, "
                              "or give --depth 8 " + ("to convert (round(v / 257))" if opaque else
                                                      "and --background COLOR (a name or #rrggbb) to composite "
                                                      "it over that colour"))
    if picture.mode in formats.FLOAT:
        depths = [bits for bits in (8, 16) if formats.MODE_OF[channels, bits] in holds]
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
        otherwise the format's own (`imgconv.io.formats.Format`).
    subsampling : str, optional
        JPEG chroma subsampling, ``4:4:4``, ``4:2:2`` or ``4:2:0``; default the JPEG
        input's, else 4:4:4.
    compress_level : int
        PNG compression level, 0-9 (libdeflate's for the modes `imgconv.io.png` writes).
    compression : str, optional
        TIFF compression, a name of `TIFF_COMPRESSION`; default `tiff_compression`'s.
    strip : bool
        Leave out EXIF, XMP, comments, PNG text and the resolution, and a PNG's gAMA
        and cHRM from outputs that carry no ICC profile; the ICC profile, a PNG's
        colour chunks in a PNG output, and the profile made of them in the others
        (`imgconv.io.png_profile`), stay.
    """

    quality: int | None = None
    subsampling: str | None = None
    compress_level: int = DEFAULT_COMPRESS_LEVEL
    compression: str | None = None
    strip: bool = False


def encode_image(frames: list[np.ndarray], picture: Picture, fmt: str, options: EncodeOptions = EncodeOptions(),
                 name: str = "<stdout>") -> bytes:
    """Encode frames of samples in the picture's mode (``picture.sample_dtype``) as bytes,
    as `encoder` does into a file."""
    buffer = io.BytesIO()
    encoder(frames, picture, fmt, options, name)(buffer)
    return buffer.getvalue()


def encoder(frames: list[np.ndarray], picture: Picture, fmt: str, options: EncodeOptions = EncodeOptions(),
            name: str = "<stdout>") -> Callable[[BinaryIO], None]:
    """Refuse now what ``fmt`` cannot hold of frames of samples in the picture's mode
    (``picture.sample_dtype``), and return what encodes them into a file: the writer the
    format's record names (`imgconv.io.formats.Format`), its codec module imported now.
    The caller makes its file only once nothing more is refused.

    For ``NPY``, ``frames`` hold the raw result, saved in their own type: one
    (H, W[, C]) array, or (N, H, W[, C]) for several frames. Otherwise `check_writable`
    has passed.

    Parameters
    ----------
    options : EncodeOptions
    name : str
        The destination, for error messages only.
    """
    record = formats.FORMATS[fmt]
    metadata: dict[str, Any] = {}
    if not record.raw:
        frames = [f[..., 0] if f.ndim == 3 and f.shape[2] == 1 else f for f in frames]
        _check_side(frames, record, name)
        grey = frames[0].ndim == 2 or frames[0].shape[2] == 2
        space = b"GRAY" if grey else b"CMYK" if picture.mode in formats.CMYK_MODES else b"RGB "
        metadata = _kept_metadata(picture, record, options.strip, space, name)
    return functools.partial(record.writer_of(len(frames) > 1), frames, picture, record, metadata, options, name)


def _check_side(frames: list[np.ndarray], record: formats.Format, name: str) -> None:
    """Refuse frames longer than ``record`` holds."""
    longest = max(max(f.shape[:2]) for f in frames)
    if record.max_side is not None and longest > record.max_side:
        height, width = next(f.shape[:2] for f in frames if max(f.shape[:2]) == longest)
        raise ImageWriteError(f"{name}: {width}x{height} is larger than {record.name} holds (at most "
                              f"{record.max_side} pixels a side); write PNG or TIFF")


def _kept_metadata(picture: Picture, record: formats.Format, strip: bool, space: bytes, name: str) -> dict[str, Any]:
    """The input's metadata an output keeps: the ICC profile where it describes the
    output's samples (of ``space``; `imgconv.io.metadata.profile_describes`), and
    unless ``strip`` the resolution where ``record`` holds one, the EXIF (as bytes),
    XMP, comment and PNG text; a comment is a PNG's text chunk ``Comment`` and back. A
    PNG's colour chunks go to PNG outputs, ``strip`` or not, as the ICC profile does,
    and to the others that carry a profile as one made of them
    (`imgconv.io.png_profile.profile_for`)."""
    metadata = {k: v for k, v in picture.metadata.items()
                if (k == "icc_profile" and profile_describes(v, space))
                or (k == "png_colour" and record.name == "PNG")
                or (not strip and k in ("exif", "xmp", "comment", "text"))}
    made = None if "icc_profile" in metadata else profile_for(picture.metadata, record.name, space)
    if made is not None:
        metadata["icc_profile"] = made
    if "dpi" in picture.metadata and not strip and record.dpi_fits is not None:  # `check_writable` saw it fits
        metadata["dpi"] = picture.metadata["dpi"]
    text = metadata.get("text", {})
    if record.name == "PNG" and "comment" in metadata and "Comment" not in text:
        metadata["text"] = {**text, "Comment": comment_text(metadata["comment"])}
    elif record.name != "PNG" and "comment" not in metadata and "Comment" in text:
        metadata["comment"] = text["Comment"].encode()
    if "exif" in metadata:
        try:
            metadata["exif"] = metadata["exif"].tobytes()
        except Exception as exc:  # a damaged tag Pillow read but cannot write back
            raise ImageWriteError(f"{name}: the input's EXIF cannot be written ({exc}); --strip leaves it out") \
                from None
    return metadata


def _holders_of_resolution(dpi: tuple[float, float]) -> str:
    """The formats that hold resolution ``dpi``, as words: ``PNG, TIFF or BMP``."""
    fits = [fmt for fmt, record in formats.FORMATS.items()
            if record.dpi_fits is not None and all(record.dpi_fits(value) for value in dpi)]
    return _either(fits)


def _either(names: list[str]) -> str:
    """Names as words for a message: ``PNG, TIFF or BMP``."""
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
