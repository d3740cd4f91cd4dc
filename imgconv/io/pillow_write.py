"""Outputs Pillow encodes, with the input's quality settings where it had them: the
writers of JPEG, JPEG 2000, still WebP, AVIF (stills and image sequences), TGA, QOI
and PPM, and the Pillow encoding the other codec modules fall back on."""

import io
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from ..errors import ImageWriteError
from . import avif_plays, pages

if TYPE_CHECKING:
    from PIL import Image

    from .formats import Format
    from .picture import Picture
    from .write import EncodeOptions

# JPEG's chroma when the input says nothing: full resolution, since filtered images
# (edges, sharpened detail) have sharp colour edges that 4:2:0 smears.
DEFAULT_SUBSAMPLING = "4:4:4"


# OpenJPEG's encoder holds a tile's samples several times over as 32-bit integers: a
# 2717x3701 RGB picture written as one tile peaked at 458 MB (401 MB above the array),
# in tiles of 1024 at 252 MB, its file 0.2% larger (and 10 s to write, not 16).
JPEG2000_TILE = (1024, 1024)


def jpeg2000_tile(mode: str, width: int) -> tuple[int, int]:
    """The tiles a JPEG 2000 of ``mode`` and ``width`` is written in: `JPEG2000_TILE`,
    but for 16-bit grey wider than a tile, rows as wide as the image and of as many
    samples. Pillow (13.0) packs a 16-bit tile from x0 bytes into its rows rather than
    2 * x0, so that every tile right of the first column held the wrong samples; a
    tile starting at column 0 is packed right. A 6000x4000 16-bit picture written in
    rows of 6000x174 peaked 118 MB above its samples (tiles of 1024: 112 MB, but
    wrong; one tile: 347 MB; imagecodecs' encoder, one tile and no comment: 228 MB),
    in the same CPU time (4.1-4.3 s), its file 0.4% larger than in tiles of 1024."""
    tile_width, tile_height = JPEG2000_TILE
    if mode != "I;16" or width <= tile_width:
        return JPEG2000_TILE
    return width, max(1, tile_width * tile_height // width)


def encode_pillow(frames: list[np.ndarray], picture: "Picture", fmt: str, saving: dict[str, Any], name: str,
                  out: BinaryIO) -> None:
    """``frames`` saved by Pillow into ``out`` as ``fmt`` with its options ``saving``
    (several frames as pages). Into a file, Pillow's encoders write as they go, the
    output never whole in memory."""
    images = [pillow_image(f, picture.mode) for f in frames]
    if len(images) > 1:  # TIFF pages
        saving = {**saving, "save_all": True, "append_images": images[1:]}
    try:
        images[0].save(out, format=fmt, **saving)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # the file's (a full disk), which `imgconv.io.sink.output_file` words; the picture is not at fault
        raise ImageWriteError(f"{name}: cannot write {picture.description} as {fmt} ({exc})") from None
    except RuntimeError as exc:  # libtiff's compressing writer refusing one of the input's tags
        raise ImageWriteError(f"{name}: cannot write the input's tags in a compressed TIFF ({exc}); --strip leaves "
                              "them out, --compression none keeps them") from None


def pillow_image(samples: np.ndarray, mode: str | None = None) -> "Image.Image":
    """Pillow's image of ``samples`` (of the picture's ``mode``), as ``Image.fromarray``
    makes it; of CMYK, the inks' memory mapped (``fromarray`` would take four channels
    for RGBA). Pillow maps the array's memory for some modes (the image is then
    read-only) and copies others into a layout of its own (RGB as four bytes a pixel): those, for samples given up
    (`imgconv.io.pages`), strip by strip into an image made uninitialised, each strip
    released once copied, so that the copy and the samples are never both whole."""
    from PIL import Image

    if mode == "CMYK":
        inks = np.ascontiguousarray(samples)
        return Image.frombuffer(mode, (inks.shape[1], inks.shape[0]), inks, "raw", mode, 0, 1)
    first = None
    if pages.given_up(samples) and samples.flags.c_contiguous:
        first = Image.fromarray(samples[: pages.STRIP_ROWS])
    if first is None or first.readonly:
        return Image.fromarray(np.ascontiguousarray(samples))
    image = Image.new(first.mode, (samples.shape[1], samples.shape[0]), None)
    for top, bottom in pages.strips(samples.shape[0]):
        image.paste(first if top == 0 else Image.fromarray(samples[top:bottom]), (0, top))
        pages.release_rows(samples, top, bottom)
    return image


def metadata_options(metadata: dict[str, Any]) -> dict[str, Any]:
    """Pillow's options for the ICC profile, EXIF, XMP and resolution kept."""
    return {key: metadata[key] for key in ("icc_profile", "exif", "xmp", "dpi") if key in metadata}


def webp_options(picture: "Picture", asked: "EncodeOptions", record: "Format") -> dict[str, Any]:
    """Lossless for a lossless WebP input when no quality is asked for, else lossy.
    Lossless keeps the colour of transparent pixels (``exact``), which libwebp would
    otherwise change to compress better: an output holds the samples its input held."""
    if asked.quality is None and picture.encoding.get("lossless"):
        return {"lossless": True, "exact": True}
    return {"quality": asked.quality or record.quality}


def write_jpeg(frames: list[np.ndarray], picture: "Picture", record: "Format", metadata: dict[str, Any],
               asked: "EncodeOptions", name: str, out: BinaryIO) -> None:
    """A JPEG: the input's quantisation tables and subsampling unless others are asked for."""
    saving = metadata_options(metadata)
    if "comment" in metadata:
        saving["comment"] = metadata["comment"]
    if asked.quality is None and "qtables" in picture.encoding:
        # Baseline JPEG holds 8-bit steps. A step above 255 (16-bit tables) would
        # make libjpeg write an extended JPEG and print a caution on stderr: it is
        # 255, a finer step, as libjpeg's force_baseline makes it.
        saving["qtables"] = {index: [min(step, 255) for step in table]
                             for index, table in picture.encoding["qtables"].items()}
    else:
        saving["quality"] = asked.quality or record.quality
    saving["subsampling"] = asked.subsampling or picture.encoding.get("subsampling", DEFAULT_SUBSAMPLING)
    encode_pillow(frames, picture, record.name, saving, name, out)


def write_webp(frames: list[np.ndarray], picture: "Picture", record: "Format", metadata: dict[str, Any],
               asked: "EncodeOptions", name: str, out: BinaryIO) -> None:
    """A still WebP, lossless as `webp_options` says."""
    saving = {**metadata_options(metadata), **webp_options(picture, asked, record)}
    encode_pillow(frames, picture, record.name, saving, name, out)


def write_avif(frames: list[np.ndarray], picture: "Picture", record: "Format", metadata: dict[str, Any],
               asked: "EncodeOptions", name: str, out: BinaryIO) -> None:
    """An AVIF of the quality asked for, else the format's."""
    saving = {**metadata_options(metadata), "quality": asked.quality or record.quality}
    encode_pillow(frames, picture, record.name, saving, name, out)


def write_animated_avif(frames: list[np.ndarray], picture: "Picture", record: "Format", metadata: dict[str, Any],
                        asked: "EncodeOptions", name: str, out: BinaryIO) -> None:
    """An AVIF image sequence of every frame, as `write_avif` writes one, each lasting
    the input's duration in whole milliseconds (`imgconv.io.formats` checked that they
    fit; frames with none, TIFF pages, get libavif's shortest, 1 ms), played as often as
    the input's ``loop`` says (`avif_plays.played`)."""
    saving = {**metadata_options(metadata), "quality": asked.quality or record.quality,
              "duration": [round(d) for d in picture.animation.get("duration", [0] * len(frames))]}
    buffer = io.BytesIO()
    encode_pillow(frames, picture, record.name, saving, name, buffer)
    out.write(avif_plays.played(buffer.getvalue(), picture.animation.get("loop", 0)))


def write_jpeg2000(frames: list[np.ndarray], picture: "Picture", record: "Format", metadata: dict[str, Any],
                   asked: "EncodeOptions", name: str, out: BinaryIO) -> None:
    """A JPEG 2000, in tiles of `jpeg2000_tile`, with the comment kept (Pillow writes
    no other metadata into it)."""
    saving = {**metadata_options(metadata), "tile_size": jpeg2000_tile(picture.mode, frames[0].shape[1])}
    if "comment" in metadata:
        saving["comment"] = metadata["comment"]
    encode_pillow(frames, picture, record.name, saving, name, out)


def write_plain(frames: list[np.ndarray], picture: "Picture", record: "Format", metadata: dict[str, Any],
                asked: "EncodeOptions", name: str, out: BinaryIO) -> None:
    """Formats Pillow writes with no options of imgconv's but the metadata."""
    encode_pillow(frames, picture, record.name, metadata_options(metadata), name, out)

