"""Results encoded: the output's format, what it can hold, and the encoder of each."""

import functools
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, NoReturn

import numpy as np

from ..errors import ImageWriteError, InvalidInputError
from ..vocabulary import DEFAULT_COMPRESS_LEVEL
from . import formats, gain_map
from .metadata import comment_text, profile_describes
from .picture import Picture
from .png_profile import GREY_AS_RGB, PROFILE_FORMATS, profile_for
from .sink import STDIO
from .srgb import is_grey, not_srgb
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


Fits = Callable[[Picture, formats.Format, bool], bool]
"""Whether an output of a format holds one side of a picture as it is, given ``strip``."""
Refusal = Callable[[Picture, formats.Format, str, bool], NoReturn]
"""What refuses a picture an output of a format cannot hold, naming the output and
what keeps it (given ``strip``)."""


def check_writable(picture: Picture, fmt: str, name: str, strip: bool = False) -> None:
    """Refuse, before any filtering, a picture that ``fmt`` cannot hold as it is: frames
    of several sizes where it holds one, more frames or longer ones than it holds, its
    mode, its resolution, or colours described other than as sRGB
    (`imgconv.io.srgb.not_srgb`) where it carries no ICC profile (a PNG's gAMA and cHRM
    unless ``strip`` leaves them out; PNG holds them as they are and
    `imgconv.io.png_profile.PROFILE_FORMATS` as an ICC profile). Each refusal names the
    formats that keep what it is about, of those that `accepts` the whole picture with
    the same ``strip``. A ``.npy`` output, the raw samples, refuses frames of several
    sizes only."""
    record = formats.FORMATS[fmt]
    for fits, refuse in _CHECKS[:1] if record.raw else _CHECKS:
        if not fits(picture, record, strip):
            refuse(picture, record, name, strip)


def accepts(picture: Picture, fmt: str, strip: bool = False) -> bool:
    """Whether an output of ``fmt`` holds ``picture`` whole, as `check_writable` lets it,
    with the same ``strip``. A ``.npy`` output, which holds samples and nothing that
    describes them, accepts a picture whose frames have one size and whose colours are
    sRGB (or described by a PNG's gAMA and cHRM that ``strip`` leaves out): it is named
    where it keeps the samples, never where the picture's colours would be lost."""
    record = formats.FORMATS[fmt]
    checks = [_CHECKS[0], _CHECKS[-1]] if record.raw else _CHECKS
    return all(fits(picture, record, strip) for fits, _ in checks)


def keepers(picture: Picture, strip: bool, keeps: Callable[[formats.Format], bool] = lambda record: True) -> list[str]:
    """The formats available, as a message names them (``.npy`` by its extension), whose
    outputs `accepts` the whole picture and which ``keeps`` says keep what a refusal is
    about."""
    return [record.extension if record.raw else record.title or fmt for fmt, record in formats.FORMATS.items()
            if (record.raw or fmt in formats.available()) and keeps(record) and accepts(picture, fmt, strip)]


def _to_keep(holders: list[str], what: str) -> str:
    """``write PNG or TIFF to keep it, or `` for a message; nothing where none keeps it."""
    return f"write {formats.listed(holders)} to keep {what}, or " if holders else ""


def _one_size(picture: Picture, record: formats.Format, strip: bool) -> bool:
    """Frames of one size, or a format whose frames are not one canvas. A photo and its
    HDR gain map are no animation, whatever their sizes: only pages of their own keep them."""
    if gain_map.is_photo_with_gain_map(picture):
        return record.sizes_differ
    return not (record.animates and not record.sizes_differ and len({f.shape[:2] for f in picture.frames}) > 1)


def _refuse_sizes(picture: Picture, record: formats.Format, name: str, strip: bool) -> NoReturn:
    # An animation has one canvas (Pillow would crop or pad the other frames, or
    # fail), and a .npy one array.
    holders = keepers(picture, strip, lambda other: other.sizes_differ)
    if gain_map.is_photo_with_gain_map(picture):
        output = record.extension if record.raw else record.name
        raise ImageWriteError(f"{name}: {gain_map.described(picture)}; {output} holds one image: "
                              "give --frame 0 for the photo without its gain map"
                              + (f", or write {formats.listed(holders)} to keep both" if holders else ""))
    sizes = list(dict.fromkeys(f"{f.shape[1]}x{f.shape[0]}" for f in picture.frames))
    what = f"a {record.extension} array" if record.raw else f"a {record.name} animation"
    raise ImageWriteError(f"{name}: the input's frames differ in size ({', '.join(sizes)}) and {what} holds "
                          "frames of one size; " + (f"write {formats.listed(holders)}, whose pages keep their "
                                                    "sizes, or " if holders else "") + "give --frame N")


def _frames_fit(picture: Picture, record: formats.Format, strip: bool) -> bool:
    """One frame, or frames the format holds, each as long as it lasts."""
    durations = picture.animation.get("duration", [])
    return len(picture.frames) == 1 or (record.animates and all(record.holds_duration(d) for d in durations))


def _refuse_frames(picture: Picture, record: formats.Format, name: str, strip: bool) -> NoReturn:
    if not record.animates:
        holders = keepers(picture, strip, lambda other: other.animates)
        raise ImageWriteError(f"{name}: the input has {len(picture.frames)} frames and {record.name} holds one; "
                              "give --frame N (0-based)" + (f" or write {formats.listed(holders)}" if holders else ""))
    duration = next(d for d in picture.animation["duration"] if not record.holds_duration(d))
    holders = keepers(picture, strip, lambda other: other.timed)
    raise ImageWriteError(f"{name}: a frame of the input lasts {duration:.10g} ms, which {record.name} cannot "
                          "store as a frame's duration; "
                          + (f"write {formats.listed(holders)}, or " if holders else "") + "give --frame N")


def _few_channels(picture: Picture, record: formats.Format, strip: bool) -> bool:
    return picture.mode != formats.MULTICHANNEL


def _refuse_channels(picture: Picture, record: formats.Format, name: str, strip: bool) -> NoReturn:
    raise ImageWriteError(f"{name}: the input has {picture.frames[0].shape[2]} channels; only .npy can hold them")


def _mode_fits(picture: Picture, record: formats.Format, strip: bool) -> bool:
    return picture.mode in record.holds


def _refuse_mode(picture: Picture, record: formats.Format, name: str, strip: bool) -> NoReturn:
    """Refuse a picture whose mode ``record`` does not hold, saying what does and how
    to convert."""
    fmt, holds, holders = record.name, record.holds, formats.listed(keepers(picture, strip))
    shallow = formats.OTHER_DEPTH.get(picture.mode)
    if shallow in holds and picture.sample_dtype == np.uint16:
        deep = sorted(formats.WORDS[mode] for mode in holds & set(formats.OTHER_DEPTH) if mode.endswith(";16"))
        depth = f"16 bits a sample only as {' or '.join(deep)}" if deep else "8 bits a sample"
        raise ImageWriteError(f"{name}: {fmt} holds {depth} and the input is "
                              f"{formats.WORDS[picture.mode]}; write {holders} "
                              "to keep 16 bits, or give --depth 8 to convert (round(v / 257))")
    channels = 1 if picture.frames[0].ndim == 2 else picture.frames[0].shape[2]
    if picture.mode in formats.WITH_ALPHA and picture.sample_dtype == np.uint16 \
            and formats.MODE_OF[channels - 1, 8] in holds:
        opaque = all(np.all(f[..., -1] == np.iinfo(np.uint16).max) for f in picture.frames)  # dropped then
        raise ImageWriteError(f"{name}: {fmt} holds 8 bits a sample and no alpha, and the input is "
                              f"{formats.WORDS[picture.mode]}; write {holders} to keep them, "
                              "or give --depth 8 " + ("to convert (round(v / 257))" if opaque else
                                                      "and --background COLOR (a name or #rrggbb) to composite "
                                                      "it over that colour"))
    if picture.mode in formats.FLOAT:
        depths = [bits for bits in (8, 16) if formats.MODE_OF[channels, bits] in holds]
        if depths:
            raise ImageWriteError(f"{name}: {fmt} holds integer samples and the input is "
                                  f"{formats.WORDS[picture.mode]}; write {holders} to keep "
                                  f"them, or give --depth {depths[0]} to map 0.0-1.0 to 0-{2 ** depths[0] - 1} "
                                  f"(round(v * {2 ** depths[0] - 1}), clipped)"
                                  + (" or --depth 16 to 0-65535" if depths[1:] else ""))
    raise ImageWriteError(f"{name}: {fmt} cannot hold {formats.WORDS[picture.mode]}; write {holders}")


def _resolution_fits(picture: Picture, record: formats.Format, strip: bool) -> bool:
    """No resolution, one left out, one the format keeps none of, or one it holds."""
    dpi = picture.metadata.get("dpi")
    return dpi is None or strip or record.dpi_fits is None or all(record.dpi_fits(value) for value in dpi)


def _refuse_resolution(picture: Picture, record: formats.Format, name: str, strip: bool) -> NoReturn:
    dpi = picture.metadata["dpi"]
    holders = keepers(picture, strip, lambda other: other.dpi_fits is not None)
    raise ImageWriteError(f"{name}: {record.name} cannot hold the input's resolution ({dpi[0]:.6g} x {dpi[1]:.6g} "
                          f"dpi); {_to_keep(holders, 'it')}give --strip to leave it out")


def _colours_fit(picture: Picture, record: formats.Format, strip: bool) -> bool:
    """Colours that are sRGB, or described as the format keeps them: PNG as they are, the
    formats that carry an ICC profile as one (WebP, which stores grey as RGB, not a
    profile of grey), or a PNG's gAMA and cHRM left out by ``strip``."""
    grey_profile = is_grey(picture) and "icc_profile" in picture.metadata
    if record.name == "PNG" or (record.name in PROFILE_FORMATS and not (grey_profile and record.name in GREY_AS_RGB)):
        return True
    colours = not_srgb(picture)
    return colours is None or (colours.chunks and strip)


def _refuse_colours(picture: Picture, record: formats.Format, name: str, strip: bool) -> NoReturn:
    colours = not_srgb(picture)
    assert colours is not None  # `_colours_fit` found them
    keep, output = _to_keep(keepers(picture, strip), "it"), record.title or record.name
    if colours.chunks:
        raise ImageWriteError(f"{name}: the input declares {colours.words}, which a {output} output cannot say; "
                              f"{keep}give --srgb to convert its colours to sRGB or --strip to leave it out")
    raise ImageWriteError(f"{name}: the input's colours are described by {colours.words}, which a {output} output "
                          f"cannot carry (its samples would show as sRGB); {keep}give --srgb to convert them to sRGB")


# What `check_writable` checks, in order; the first and the last are what `accepts`
# asks of a .npy output.
_CHECKS: list[tuple[Fits, Refusal]] = [
    (_one_size, _refuse_sizes), (_frames_fit, _refuse_frames), (_few_channels, _refuse_channels),
    (_mode_fits, _refuse_mode), (_resolution_fits, _refuse_resolution), (_colours_fit, _refuse_colours)]


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
