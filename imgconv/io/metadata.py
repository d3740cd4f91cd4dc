"""What travels from an input to its output besides pixels: ICC profile, EXIF (less the
tags that describe the input's storage), XMP, comments."""


from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .tiffinfo import ICC, XMP

if TYPE_CHECKING:
    from PIL import Image

# TIFF tags that describe how the pixels are stored, or that are carried on their own
# (ICC, XMP). A TIFF's getexif() lists them with the real metadata; carried into the
# output's EXIF, they would contradict the new pixels or repeat the metadata. Colour
# metadata that holds at any depth and layout (WhitePoint 318, PrimaryChromaticities 319)
# is kept.
_LAYOUT_TAGS = frozenset([
    254, 255,  # NewSubfileType, SubfileType: what the page is (a reduced copy, a mask), not the output
    256, 257, 258, 259, 262,  # ImageWidth, ImageLength, BitsPerSample, Compression, Photometric
    266,  # FillOrder: the decoder undid the input's bit order; kept, readers would reverse every byte
    273, 277, 278, 279, 284,  # StripOffsets, SamplesPerPixel, RowsPerStrip, StripByteCounts, PlanarConfig
    280, 281, 340, 341,  # Min/MaxSampleValue, SMin/SMaxSampleValue: the input's range, not the output's
    288, 289,  # FreeOffsets, FreeByteCounts: places in the input file
    # GrayResponseUnit and Curve, TransferFunction: tables of 2**BitsPerSample entries,
    # wrong in length once the depth changes
    290, 291, 301,
    292, 293,  # T4Options, T6Options: fax coding of the input
    317, 320,  # Predictor, ColorMap
    322, 323, 324, 325,  # TileWidth, TileLength, TileOffsets, TileByteCounts
    330, 400,  # SubIFDs, GlobalParametersIFD: places in the input file
    332, 333, 334, 336,  # InkSet, InkNames, NumberOfInks, DotRange: CMYK inks, and CMYK is read as RGB
    338, 339,  # ExtraSamples, SampleFormat
    347,  # JPEGTables: the input's JPEG compression
    512, 513, 514, 515, 517, 518, 519, 520, 521,  # old-style JPEG compression: its process, places, tables
    529, 530, 531, 532,  # YCbCrCoefficients, YCbCrSubSampling, YCbCrPositioning, ReferenceBlackWhite
    32995, 32996, 32997, 32998,  # SGI's Matteing, DataType, ImageDepth, TileDepth: older layout tags
    37724,  # ImageSourceData: Photoshop's layers, a second copy of the unfiltered pixels
    ICC, XMP,
])


def metadata_of(image: "Image.Image", header_complete: bool = False) -> dict[str, Any]:
    """ICC profile, EXIF (a Pillow ``Exif``, less the TIFF layout tags), XMP, comment.

    ``header_complete``: nothing but pixels follows the header (`_fast_decoder` checked),
    so a PNG's EXIF is not looked for after its pixels, which Pillow does by decoding them.
    """
    from PIL import Image

    # First: a PNG's getexif decodes the file, which adds chunks after the pixels to info.
    exif = Image.Image.getexif(image) if header_complete else image.getexif()
    if image.format == "TIFF":
        # Pillow's TIFF reader reloads the Exif it handed out with each page's tags as it
        # seeks: the layout tags of the last page read would come back into the output
        # (a SampleFormat of (1, 1) there makes libtiff's writer store int8). It makes
        # itself a new one; this one stays the first page's.
        image._exif = None
    metadata = {key: image.info[key] for key in ("icc_profile", "xmp", "comment") if image.info.get(key)}
    if isinstance(metadata.get("xmp"), str):  # PNG's iTXt gives text, the others bytes
        metadata["xmp"] = metadata["xmp"].encode()
    for tag in _LAYOUT_TAGS.intersection(exif):
        del exif[tag]
    if len(exif):
        metadata["exif"] = exif
    return metadata


def classic_exif(exif: "Image.Exif") -> "Image.Exif":
    """A classic EXIF holding a BigTIFF's tags. Pillow reads a BigTIFF's tags as an EXIF
    that writes itself back in BigTIFF's layout (a 16-byte header, 8-byte counts and
    offsets), which no EXIF reader takes, Pillow's own TIFF writer included. A tag whose
    values need 64 bits (BigTIFF's LONG8) has no place in it and is left out.

    Made once Pillow has loaded the pixels: its TIFF reader removes the orientation from
    the EXIF it shares with us, and `picture_from_pillow` looks for that."""
    from PIL import ExifTags, Image

    def fitting(tags: Mapping[int, Any]) -> dict[int, Any]:
        return {tag: value for tag, value in tags.items() if _fits_32_bits(value)}

    classic = Image.Exif()
    classic.endian = exif.endian
    classic.update(fitting(exif))
    # The directories the EXIF points to go in as dicts, which Exif.tobytes writes
    # as directories; their offsets would point into the BigTIFF.
    for pointer in (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo, ExifTags.IFD.Interop):
        holder = classic.get(ExifTags.IFD.Exif, {}) if pointer == ExifTags.IFD.Interop else classic
        if pointer in holder:
            directory = fitting(exif.get_ifd(pointer))
            if directory:
                holder[pointer] = directory
            else:
                del holder[pointer]
    return classic


def _fits_32_bits(value: object) -> bool:
    """Whether a tag's value (a number, text, bytes or a tuple of them) fits a classic
    TIFF's types, whose integers have 32 bits."""
    if isinstance(value, tuple):
        return all(_fits_32_bits(v) for v in value)
    return not isinstance(value, int) or -(1 << 31) <= value < 1 << 32
