"""Pictures decoded by Pillow, or by imagecodecs where it gives Pillow's samples quicker."""

import struct
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..errors import ImageReadError
from . import avif_plays, bmp, chunks, claims, gain_map, jpeg2000, tga
from .apng import apng_frames
from .budget import PixelBudget
from .deep import (
    deep_jpeg,
    deep_picture,
    picture_from_deep_jpeg,
    picture_from_deep_png,
    picture_from_deep_sgi,
    picture_from_half_float_dds,
)
from .gif import gif_frames
from .metadata import metadata_of
from .orient import UNDO, orient, orientation_of
from .picture import Picture, frame_indices
from .pillow_modes import (
    KEYED,
    alpha_beside,
    common_mode,
    keyed_alpha,
    mode_read_as,
    png_key,
    samples_of,
    widen,
    with_alpha,
)
from .tiff_read import picture_from_tifffile, read_by_tifffile
from .tiffinfo import ORIENTATION

if TYPE_CHECKING:
    from PIL import IcnsImagePlugin, IcoImagePlugin, Image, ImageFile, JpegImagePlugin, TiffImagePlugin

# The tiles Pillow's DDS reader gives BC6H blocks (half floats), unsigned and signed.
_BC6H = [[("bcn", (6, "BC6H"))], [("bcn", (6, "BC6HS"))]]
# Pillow's numbers for JPEG chroma subsampling (JpegImagePlugin.get_sampling).
_SUBSAMPLING = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}


def picture_from_pillow(image: "ImageFile.ImageFile", data: bytes, frame: int | None, name: str,
                        budget: PixelBudget) -> Picture:
    from PIL import Image

    # An APNG's default image (its IDAT comes before the first fcTL) is what viewers
    # that do not animate show; it is not a frame of the animation.
    skip = 1 if image.format == "PNG" and image.info.get("default_image") else 0
    icons, with_gain_map = _icons(image), gain_map.adopt(image, data)
    count = len(icons) if icons else _frame_count(image) - skip
    indices = frame_indices(count, frame, name)
    _check_mpo_images(image, indices, name)
    # An icon's images take their sizes as each is read (`_frames`).
    if not icons:
        _first_frame_checked(image, data, skip + indices[0], name, budget)
    decoder = _fast_decoder(image, data, count)
    deep = image.format == "PNG" and data[24:25] == b"\x10" and data[25] in (2, 4, 6)
    if image.format == "PNG" and decoder is None and not deep:
        chunks.check_image_data(data, name)  # libpng, the other decoders, checks it itself
    # Before any frame is loaded: Pillow decodes a whole PNG to look for EXIF after its
    # pixels (unless the fast decoder found none there), and its TIFF reader turns the
    # pixels upright as it loads them, deleting the tag from its own EXIF. read_image
    # turns pictures as it chooses, so that turn is undone below.
    _take_raw_exif(image, name)
    metadata = metadata_of(image, header_complete=decoder is not None) | _bmp_profile(image, data)
    orientation = orientation_of(metadata.get("exif", {}).get(ORIENTATION))
    timings: list[float | None] = []
    if image.format == "GIF" or (image.format == "PNG" and count + skip > 1):
        picture, timings = _composed(image.format, data, indices, metadata, name, budget)
    elif deep:
        picture = picture_from_deep_png(data, metadata, name)
    elif (whole := _read_whole(image, data, frame, name, metadata, budget)) is not None:
        picture = whole
    else:
        arrays, modes, key = [], [], png_key(image, data)
        for index, each in zip(indices, _frames(image, data, indices, skip, icons, budget, name), strict=True):
            modes.append(mode_read_as(each))
            alpha = alpha_beside(each, data, name)  # before loading
            # The last frame's image is not read again: its memory may go as it is copied.
            spend = index == indices[-1]
            claims.check_tiff_palette(each, name)
            arrays.append(samples_of(each, modes[-1], spend=spend) if decoder is None else decoder(data))
            tga.round_five_bits(image, data, arrays[-1])
            if key is not None and modes[-1] in KEYED:
                arrays[-1], modes[-1] = keyed_alpha(arrays[-1], key), KEYED[modes[-1]]
            if alpha is not None:
                arrays[-1], modes[-1] = with_alpha(arrays[-1], alpha), "RGBA"
            timings.append(each.info.get("duration"))  # WebP gives it once the frame is decoded
        mode = common_mode(modes, name)
        arrays = [widen(a, m, mode) for a, m in zip(arrays, modes, strict=False)]
        if orientation != 1 and ORIENTATION not in Image.Image.getexif(image):
            arrays = [orient(a, UNDO.get(orientation, orientation)) for a in arrays]
        picture = Picture(arrays, mode, image.format or "PNG", metadata,
                          _encoding(image, data) | ({gain_map.GAIN_MAP: True} if with_gain_map else {}))
    if count > 1 and frame is None:
        picture.animation = {**_timing_of_frames(timings), **_loop_of(image, data)}
    return picture


def _first_frame_checked(image: "ImageFile.ImageFile", data: bytes, index: int, name: str,
                         budget: PixelBudget) -> None:
    """Seek ``image`` to frame ``index`` and check what its header claims before
    anything is decoded, its size taken from ``budget`` (a TGA's runs expanded)."""
    if image.format != "PSD":  # a PSD's merged image is no frame Pillow seeks to (`_frame_count`)
        image.seek(index)
    claims.check_bmp(image, data, name)
    budget.take(*image.size)
    claims.check_frame_data(image, data, name)
    tga.prepare(image, data, name)


_RAW_EXIF = "Raw profile type exif"


def _take_raw_exif(image: "Image.Image", name: str) -> None:
    """A PNG's EXIF given as ImageMagick writes it in a text chunk (a line of its name,
    one of its length in bytes, then its bytes in hex), put where Pillow's getexif
    takes it first, as many bytes as the length says: Pillow decodes all the text
    after the length, and fails on anything after the hex digits. Hex digits that do
    not make that many bytes are refused."""
    raw = image.info.get(_RAW_EXIF)
    if image.format != "PNG" or "exif" in image.info or not isinstance(raw, str):
        return
    lines = raw.split("\n")
    try:
        length = int(lines[2])
        exif = bytes.fromhex("".join("".join(lines[3:]).split())[: 2 * length])
    except (IndexError, ValueError):
        exif, length = None, 0
    if exif is None or len(exif) != length:
        raise ImageReadError(f"{name}: a damaged PNG: its '{_RAW_EXIF}' text is not the hex digits of its EXIF, "
                             "as ImageMagick writes them")
    image.info["exif"] = exif


def _check_mpo_images(image: "ImageFile.ImageFile", indices: Sequence[int], name: str) -> None:
    """Refuse an MPO (Pillow's ``image``, opened) one of whose images of ``indices`` is
    missing (its MP index points to no JPEG), before any is decoded, saying that
    ``--frame`` reads one that is there; each image's header is read by seeking to it
    (`_first_frame_checked` seeks back to the first). Pillow merges each image's header
    into the photo's ``info``: a gain map's XMP would become the photo's."""
    if image.format != "MPO" or len(indices) < 2:
        return
    info = dict(image.info)
    for index in indices:
        try:
            image.seek(index)
        except ValueError:  # Pillow's "No data found for frame"
            count = _frame_count(image)
            raise ImageReadError(f"{name}: a damaged MPO: its image {index + 1} of {count} is missing (its index "
                                 "points to no JPEG data); --frame 0 reads the first") from None
    image.info = info


def _composed(fmt: str, data: bytes, indices: Sequence[int], metadata: dict[str, Any], name: str,
              budget: PixelBudget) -> tuple[Picture, list[float | None]]:
    """The picture of a GIF or an APNG, its frames composed as browsers show them
    (`imgconv.io.compose`), and every frame's duration."""
    if fmt == "GIF":
        arrays, mode, durations = gif_frames(data, indices, name, budget)
        return Picture(arrays, mode, fmt, metadata, {}), [durations[i] for i in indices]
    arrays, _, durations = apng_frames(data, indices, name, budget)
    return deep_picture(arrays, fmt, metadata, name), [durations[i] for i in indices]


def _read_whole(image: "ImageFile.ImageFile", data: bytes, frame: int | None, name: str, metadata: dict[str, Any],
                budget: PixelBudget) -> Picture | None:
    """The picture of a file whose samples Pillow narrows or cannot read, decoded whole
    by another reader: a DDS of BC6H blocks, a BMP of bit fields, a JPEG of 9 to 16 bits, a 16-bit SGI image, a
    TIFF beyond Pillow, a JPEG 2000 (`jpeg2000.by_openjpeg`); else None."""
    if image.format == "DDS" and [(t.codec_name, t.args) for t in image.tile][:1] in _BC6H:
        return picture_from_half_float_dds(data, metadata, name)
    if image.format == "BMP" and (fields := bmp.bitfields(data, name)) is not None:
        return bmp.picture_from_bitfields(data, fields, image.size, metadata, name)
    if image.format == "BMP" and bmp.run_length(data):
        return bmp.picture_from_runs(data, image.size, metadata, name)
    if image.format == "BMP" and bmp.two_bit(data):
        return bmp.picture_from_two_bit(data, image.size, metadata, name)
    if image.format == "JPEG" and deep_jpeg(data):
        return picture_from_deep_jpeg(data, image.mode, metadata, name)
    if image.format == "JPEG2000" and jpeg2000.by_openjpeg(data):
        return jpeg2000.picture_from_openjpeg(data, metadata, name)
    if image.format == "SGI" and data[3] == 2:  # its header's bytes a sample
        return picture_from_deep_sgi(data, image.size, len(image.getbands()), metadata, name)
    if image.format == "TIFF" and read_by_tifffile(cast("TiffImagePlugin.TiffImageFile", image)):
        return picture_from_tifffile(data, frame, name, metadata, PixelBudget(budget.limit, name))
    return None


def _bmp_profile(image: "Image.Image", data: bytes) -> dict[str, bytes]:
    """``{"icc_profile": ...}`` of a BMP whose BITMAPV5HEADER embeds one (its colour
    space type "MBED", the profile's offset from the header's start and its size), which
    Pillow does not read; else ``{}``. A linked profile ("LINK") is a file name."""
    if image.format != "BMP" or len(data) < 14 + 124 or data[14:18] != (124).to_bytes(4, "little"):
        return {}
    start, size = struct.unpack_from("<II", data, 14 + 112)
    if data[14 + 56:14 + 60] != b"DEBM" or not 0 < size <= len(data) - 14 - start:  # "MBED", little-endian
        return {}
    return {"icc_profile": data[14 + start:14 + start + size]}


def _frame_count(image: "Image.Image") -> int:
    """The frames of an image that Pillow opens, APNG's default image included. A PSD's
    frames in Pillow are its layers, each its own part of the canvas; what the file
    shows is its merged image, which Pillow opens at, and which is read alone."""
    return 1 if image.format == "PSD" else getattr(image, "n_frames", 1)


def _icons(image: "Image.Image") -> "list[Callable[[], Image.Image]] | None":
    """Where an icon file holds several images (an ICO's entries, an ICNS's sizes), a
    loader of each, largest first (and, of one size, deepest first), else None: they are
    read as frames of different sizes, as a TIFF's pages, where Pillow reads only the
    largest (an ICO's shallowest of that size) without a word."""
    if image.format == "ICO":
        ico = cast("IcoImagePlugin.IcoImageFile", image).ico
        order = sorted(range(len(ico.entry)), key=lambda i: (-ico.entry[i].square, -ico.entry[i].color_depth))
        return [partial(ico.frame, i) for i in order] if len(order) > 1 else None
    if image.format == "ICNS":
        icns = cast("IcnsImagePlugin.IcnsImageFile", image).icns
        sizes = sorted(icns.itersizes(), key=lambda size: (size[0] * size[2], size[2]), reverse=True)
        return [partial(icns.getimage, size) for size in sizes] if len(sizes) > 1 else None
    return None


def _frames(image: "ImageFile.ImageFile", data: bytes, indices: Sequence[int], skip: int,
            icons: "list[Callable[[], Image.Image]] | None", budget: PixelBudget,
            name: str) -> "Iterator[Image.Image]":
    """The image of each frame of ``indices``, ``image`` itself at the first: an icon's
    images, or ``image`` sought to each frame once, in order (seeking an APNG back to an
    earlier frame loses its palette, and a GIF or APNG frame is composed on the ones
    before it), each frame's size taken from ``budget`` before it is decoded."""
    for index in indices:
        if icons:
            # Pillow checks an entry's size against its limit (imgconv's) as it opens it.
            each = icons[index]()
            budget.take(*each.size)
            yield each
            continue
        if index != indices[0]:
            image.seek(skip + index)
            budget.take(*image.size)
            claims.check_frame_data(image, data, name)
        yield image


def _fast_decoder(image: "Image.Image", data: bytes, count: int) -> Callable[[bytes], np.ndarray] | None:
    """imagecodecs' decoder for this file, where it gives Pillow's samples quicker, or None.

    PNG: one frame of 8-bit grey, RGB or either with alpha, no tRNS chunk (which Pillow
    keeps aside and libpng would make an alpha channel), and nothing but pixels after the
    first IDAT (Pillow finds later metadata only by decoding). JPEG: grey or YCbCr (CMYK
    and Adobe RGB stay with Pillow), ending with its end marker.
    """
    import imagecodecs

    if count != 1:
        return None
    if image.format == "PNG" and image.mode in ("L", "LA", "RGB", "RGBA") and _png_is_plain(data):
        from .png_bands import decode

        return decode
    # A JPEG without its end marker is truncated: libjpeg-turbo would fill the rest with
    # grey where Pillow refuses it.
    if image.format == "JPEG" and image.mode in ("L", "RGB") and "adobe_transform" not in image.info \
            and data.endswith(b"\xff\xd9"):
        return imagecodecs.jpeg8_decode
    return None


def _png_is_plain(data: bytes) -> bool:
    """8 bits a sample, no tRNS or APNG chunk, and only IDAT and IEND from the first IDAT."""
    if data[24:25] != b"\x08":  # IHDR's bit depth
        return False
    position, seen_pixels = 8, False
    while position + 8 <= len(data):
        length, kind = int.from_bytes(data[position:position + 4], "big"), data[position + 4:position + 8]
        if kind in (b"tRNS", b"acTL") or (seen_pixels and kind not in (b"IDAT", b"IEND")):
            return False
        if kind == b"IEND":
            return True
        seen_pixels = seen_pixels or kind == b"IDAT"
        position += 12 + length
    return False  # truncated: Pillow's decoder says how


def _loop_of(image: "ImageFile.ImageFile", data: bytes) -> dict[str, Any]:
    """``{"loop": plays}`` where the file says how many times it plays (0: for ever): a
    GIF's loop count holds without a frame's delay; an AVIF's is in its boxes, which
    Pillow does not read (`avif_plays`)."""
    if "loop" in image.info:
        return {"loop": image.info["loop"]}
    plays = avif_plays.plays(data) if image.format == "AVIF" else None
    return {} if plays is None else {"loop": plays}


def _timing_of_frames(durations: list[float | None]) -> dict[str, list[float]]:
    """``{"duration": [ms a frame]}`` when some frame gives a duration, else ``{}``. A
    frame that gives none (a GIF frame without a Graphic Control Extension) gets 0, as
    its file says nothing; the writers index the list by frame, so it is never short."""
    if all(d is None for d in durations):
        return {}
    return {"duration": [0 if d is None else d for d in durations]}


def _encoding(image: "Image.Image", data: bytes) -> dict[str, Any]:
    """What the input's encoder chose (`Picture.encoding`). An MPO's are those of the
    image read last: a JPEG output, of one image, takes them from the image it holds."""
    if image.format in ("JPEG", "MPO"):
        from PIL import JpegImagePlugin

        # A lossless JPEG (SOF3) has no quantization tables to reuse.
        tables = cast("JpegImagePlugin.JpegImageFile", image).quantization
        encoding: dict[str, Any] = {"qtables": tables} if tables else {}
        if JpegImagePlugin.get_sampling(image) in _SUBSAMPLING:
            encoding["subsampling"] = _SUBSAMPLING[JpegImagePlugin.get_sampling(image)]
        return encoding
    if image.format == "WEBP":
        return {"lossless": _webp_is_lossless(data)}
    if image.format == "TIFF":
        tags = cast("TiffImagePlugin.TiffImageFile", image).tag_v2
        return {"compression": tags.get(259, 1), "bilevel": image.mode == "1"}
    return {}


def _webp_is_lossless(data: bytes) -> bool:
    """Whether every image chunk of a WebP file is lossless (VP8L) rather than lossy (VP8)."""
    kinds, position = set(), 12
    while position + 8 <= len(data):
        kind, size = data[position : position + 4], int.from_bytes(data[position + 4 : position + 8], "little")
        if kind == b"ANMF":  # an animation frame: its own chunks follow a 16-byte header
            position += 8 + 16
            continue
        kinds.add(kind)
        position += 8 + size + (size & 1)
    return b"VP8L" in kinds and b"VP8 " not in kinds
