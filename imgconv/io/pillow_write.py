"""Outputs Pillow encodes, with the input's quality settings where it had them."""

import io
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ImageWriteError
from .tiff_write import PILLOW_SCHEMES, with_subdirectories
from .tiffinfo import XMP

if TYPE_CHECKING:
    from .picture import Picture
    from .write import EncodeOptions

# Defaults when the input says nothing: JPEG at ImageMagick's quality 92 with full-resolution
# chroma, since filtered images (edges, sharpened detail) have sharp colour edges that 4:2:0
# smears; WebP and AVIF at 90.
DEFAULT_QUALITY = {"JPEG": 92, "WEBP": 90, "AVIF": 90}


DEFAULT_SUBSAMPLING = "4:4:4"


# OpenJPEG's encoder holds a tile's samples several times over as 32-bit integers: a
# 2717x3701 RGB picture written as one tile peaked at 458 MB (401 MB above the array),
# in tiles of 1024 at 252 MB, its file 0.2% larger (and 10 s to write, not 16).
JPEG2000_TILE = (1024, 1024)


def encode_pillow(frames: list[np.ndarray], picture: "Picture", fmt: str, metadata: dict[str, Any],
                  asked: "EncodeOptions", scheme: int | None, name: str) -> bytes:
    from PIL import Image

    images = [Image.fromarray(np.ascontiguousarray(f)) for f in frames]
    groups = {}
    if fmt == "TIFF" and ("xmp" in metadata or (scheme != 1 and "exif" in metadata)):
        # Pillow's TIFF writer takes extra tags from the EXIF (or from tiffinfo, but then
        # ignores the EXIF), so XMP goes in as the EXIF's tag 700. Its compressing writer
        # (libtiff's) fails on EXIF's sub-directories (camera settings, GPS): those are
        # added to its file afterwards.
        from PIL import TiffTags

        exif = Image.Exif()
        exif.load(metadata.get("exif", b""))
        if "xmp" in metadata:
            exif[XMP] = metadata.pop("xmp")
        if scheme != 1:
            groups = {tag: exif.get_ifd(tag) for tag in list(exif) if tag in TiffTags.TAGS_V2_GROUPS}
            for tag in groups:
                del exif[tag]
            groups = {tag: entries for tag, entries in groups.items() if entries}
        metadata["exif"] = exif.tobytes()
    saving = {key: metadata[key] for key in ("icc_profile", "exif", "xmp") if key in metadata}
    if "comment" in metadata and fmt == "JPEG":
        saving["comment"] = metadata["comment"]
    if fmt == "PNG":
        saving["compress_level"] = asked.compress_level
    elif fmt == "TIFF":
        saving["compression"] = PILLOW_SCHEMES[scheme]
    elif fmt == "JPEG":
        if asked.quality is None and "qtables" in picture.encoding:
            # Baseline JPEG holds 8-bit steps. A step above 255 (16-bit tables) would
            # make libjpeg write an extended JPEG and print a caution on stderr: it is
            # 255, a finer step, as libjpeg's force_baseline makes it.
            saving["qtables"] = {index: [min(step, 255) for step in table]
                                  for index, table in picture.encoding["qtables"].items()}
        else:
            saving["quality"] = asked.quality or DEFAULT_QUALITY[fmt]
        saving["subsampling"] = asked.subsampling or picture.encoding.get("subsampling", DEFAULT_SUBSAMPLING)
    elif fmt == "WEBP":
        saving.update(webp_options(picture, asked.quality))
    elif fmt == "AVIF":
        saving["quality"] = asked.quality or DEFAULT_QUALITY[fmt]
    elif fmt == "JPEG2000":
        saving["tile_size"] = JPEG2000_TILE
    if len(images) > 1:  # TIFF pages
        saving.update(save_all=True, append_images=images[1:])
    buffer = io.BytesIO()
    try:
        images[0].save(buffer, format=fmt, **saving)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ImageWriteError(f"{name}: cannot write {picture.description} as {fmt} ({exc})") from None
    except RuntimeError as exc:  # libtiff's compressing writer refusing one of the input's tags
        raise ImageWriteError(f"{name}: cannot write the input's tags in a compressed TIFF ({exc}); --strip leaves "
                              "them out, --compression none keeps them") from None
    return with_subdirectories(buffer.getvalue(), groups) if groups else buffer.getvalue()


def webp_options(picture, quality):
    """Lossless for a lossless WebP input when no quality is asked for, else lossy."""
    if quality is None and picture.encoding.get("lossless"):
        return {"lossless": True}
    return {"quality": quality or DEFAULT_QUALITY["WEBP"]}
