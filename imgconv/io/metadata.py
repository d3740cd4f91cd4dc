"""What travels from an input to its output besides pixels: ICC profile, EXIF (less the
tags that describe the input's storage), XMP, comments, resolution (dots per inch), a
PNG's text chunks and its colour chunks (gAMA, cHRM, sRGB)."""


import re
import struct
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .tiffinfo import ICC, XMP

X_RESOLUTION, Y_RESOLUTION = 282, 283  # TIFF's and EXIF's
# The resolutions (dots per inch) TIFF's fractions of 32-bit numbers hold, the widest
# field of the formats imgconv writes; beyond it, a resolution is taken as damage.
RESOLUTIONS = (1 / 0xFFFFFFFF, 0xFFFFFFFF)

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
    # InkSet, InkNames, NumberOfInks, DotRange: the input's inks; a CMYK output's writer
    # says its own (CMYK, four inks), and an sRGB output has none
    332, 333, 334, 336,
    338, 339,  # ExtraSamples, SampleFormat
    347,  # JPEGTables: the input's JPEG compression
    512, 513, 514, 515, 517, 518, 519, 520, 521,  # old-style JPEG compression: its process, places, tables
    529, 530, 531, 532,  # YCbCrCoefficients, YCbCrSubSampling, YCbCrPositioning, ReferenceBlackWhite
    32995, 32996, 32997, 32998,  # SGI's Matteing, DataType, ImageDepth, TileDepth: older layout tags
    37724,  # ImageSourceData: Photoshop's layers, a second copy of the unfiltered pixels
    ICC, XMP,
])


def metadata_of(image: "Image.Image", header_complete: bool = False) -> dict[str, Any]:
    """ICC profile, EXIF (a Pillow ``Exif``, less the TIFF layout tags), XMP, comment,
    resolution (``dpi``: dots per inch, across and down, `resolution_of`), a PNG's
    text chunks (``text``: ``{keyword: text}``, `png_text_of`) and its colour chunks
    (``png_colour``, `png_colour_of`).

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
    dpi = resolution_of(image, X_RESOLUTION in exif)
    if dpi is not None:
        metadata["dpi"] = dpi
    text = png_text_of(image)
    if text:
        metadata["text"] = text
    colour = png_colour_of(image)
    if colour:
        metadata["png_colour"] = colour
    for tag in _LAYOUT_TAGS.intersection(exif):
        del exif[tag]
    if len(exif):
        metadata["exif"] = exif
    return metadata


def resolution_of(image: "Image.Image", tagged: bool) -> tuple[float, float] | None:
    """The resolution in dots per inch that ``image``'s file gives, or None. Pillow's
    ``dpi`` for a TIFF without resolution tags is 1, and for a JPEG whose JFIF has no
    unit but which has an EXIF, 72: taken only where the file says it, in JFIF units
    (inch or centimetre) or the resolution tag (``tagged``). A resolution of no unit
    (PNG's aspect ratio, JFIF's unit 0, TIFF's unit 1), or outside `RESOLUTIONS` (zero,
    negative, not a number) is none."""
    if image.format in ("TIFF", "JPEG", "MPO") and not tagged and image.info.get("jfif_unit") not in (1, 2):
        return None
    return checked_resolution(image.info.get("dpi"))


def checked_resolution(dpi: Any) -> tuple[float, float] | None:
    """``dpi``, across and down, as two floats within `RESOLUTIONS`; else (none, zero,
    negative, not numbers) None."""
    try:
        across, down = (float(value) for value in dpi)
    except (TypeError, ValueError):  # none, or a damaged value
        return None
    low, high = RESOLUTIONS
    return (across, down) if all(low <= value <= high for value in (across, down)) else None


def tiff_resolution(across: Any, down: Any, unit: int | None) -> tuple[float, float] | None:
    """The resolution in dots per inch of a TIFF page whose XResolution, YResolution and
    ResolutionUnit tags hold ``across``, ``down`` (tifffile's (numerator, denominator)
    pairs; None where absent) and ``unit``: what Pillow makes of the same tags, and so
    `resolution_of` of the page read whole. No XResolution, or unit 1 (none, an aspect
    ratio), is none; no unit is inches, TIFF's default; unit 3 is centimetres."""
    if across is None or unit not in (None, 2, 3):
        return None
    try:
        values = [a / b for a, b in (across, down or (1, 1))]
    except (TypeError, ValueError, ZeroDivisionError):  # a damaged tag
        return None
    return checked_resolution([value * 2.54 for value in values] if unit == 3 else values)


# The colour spaces of ICC profiles (their header's bytes 16 to 20) of the samples
# imgconv writes: grey, RGB (grey composited over a colour becomes RGB) and CMYK
# (converted to sRGB for outputs that hold no CMYK, `imgconv.io.cmyk`).
PROFILE_SPACES = frozenset([b"GRAY", b"RGB ", b"CMYK"])


def profile_describes(profile: bytes, space: bytes) -> bool:
    """Whether ICC ``profile`` may go with an output whose samples are of ``space`` (one
    of `PROFILE_SPACES`): a profile of another of those spaces does not (a grey one
    with the RGB of a grey image composited over a colour, an RGB one with grey
    samples). A profile of another space (Lab, XYZ), or too short to say, goes as the
    input had it."""
    return profile[16:20] not in PROFILE_SPACES or profile[16:20] == space


def comment_text(comment: bytes | str) -> str:
    """A JPEG's or GIF's comment as text: UTF-8 where it is, else Latin-1 (which takes
    any byte)."""
    if isinstance(comment, str):  # a PNG's tEXt chunk named "comment"
        return comment
    try:
        return comment.decode("utf-8")
    except UnicodeDecodeError:
        return comment.decode("latin-1")


def turn_resolution(metadata: dict[str, Any], orientation: int) -> None:
    """Swap the resolution across and down in ``metadata``, its own and its EXIF's
    (XResolution and YResolution), for pixels turned as EXIF ``orientation`` says,
    where that transposes them (5 to 8)."""
    if orientation < 5:
        return
    if "dpi" in metadata:
        metadata["dpi"] = metadata["dpi"][::-1]
    exif = metadata.get("exif")
    if exif is not None and X_RESOLUTION in exif and Y_RESOLUTION in exif:
        exif[X_RESOLUTION], exif[Y_RESOLUTION] = exif[Y_RESOLUTION], exif[X_RESOLUTION]


# Text chunks that hold what is carried on its own (XMP), or the raw EXIF, XMP or ICC
# profile as ImageMagick writes them, which would repeat the input's (an orientation
# since applied among it).
_CARRIED_TEXT = re.compile(r"XML:com\.adobe\.xmp|Raw profile type ")


def png_text_of(image: "Image.Image") -> dict[str, str]:
    """A PNG's tEXt, zTXt and iTXt chunks read so far (Pillow puts them in ``info`` as
    text; iTXt's keep their language tag), less those `_CARRIED_TEXT` names."""
    if image.format != "PNG":
        return {}
    return {key: value for key, value in image.info.items()
            if isinstance(key, str) and isinstance(value, str) and key != "xmp" and not _CARRIED_TEXT.match(key)}


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


# gAMA 1/2.2, as exporters write it for sRGB (alone, or beside an sRGB chunk): 45455,
# and 45454 or 45450 where 1/2.2 is cut rather than rounded.
_SRGB_GAMMA = range(45450, 45456)
# sRGB's white point and primaries in cHRM's units (x and y times 100000: white, red,
# green, blue), and the difference libpng allows when it compares a cHRM with them
# (0.001).
SRGB_CHROMATICITY, _CHROMATICITY_SLACK = (31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000), 100


# The gAMA values (times 100000) and sRGB rendering intents libpng takes; it ignores
# others as invalid, with a warning.
_GAMMAS, _INTENTS = range(16, 625000001), range(4)


def png_colour_of(image: "Image.Image") -> dict[bytes, bytes]:
    """A PNG's gAMA, cHRM and sRGB chunks, ``{type: data}``, their data as the file had
    them (Pillow's ``info`` gives gAMA and cHRM divided by 100000, which multiplied back
    and rounded are the file's integers). A gAMA, cHRM or sRGB libpng ignores as invalid
    (a gamma of 0, `chromaticities_valid`, an intent above 3) is none."""
    if image.format != "PNG":
        return {}
    info, colour = image.info, {}
    if info.get("gamma") is not None and round(info["gamma"] * 100000) in _GAMMAS:
        colour[b"gAMA"] = struct.pack(">I", round(info["gamma"] * 100000))
    points = tuple(round(value * 100000) for value in info.get("chromaticity") or ())
    if points and chromaticities_valid(points):
        colour[b"cHRM"] = struct.pack(">8I", *points)
    if info.get("srgb") in _INTENTS:
        colour[b"sRGB"] = bytes([info["srgb"]])
    return colour


def colour_not_srgb(metadata: Mapping[str, Any]) -> str | None:
    """What a PNG's gAMA and cHRM declare that is not sRGB, in words (``gamma 1
    (gAMA)``), where they describe the colours: libpng's rule, an sRGB chunk or an ICC
    profile takes precedence over them. None where they say sRGB, or nothing."""
    said = []
    gamma, points = _declared(metadata)
    if gamma is not None:
        said.append(f"gamma {gamma / 100000:.5g} (gAMA; sRGB's is 0.45455)")
    if points is not None:
        values = " ".join(f"{value / 100000:.5g}" for value in points)
        said.append(f"a white point and primaries other than sRGB's (cHRM {values})")
    return " and ".join(said) or None


def declared_gamma(metadata: Mapping[str, Any]) -> int | None:
    """gAMA's integer (the gamma times 100000) where it declares other than sRGB's and
    describes the colours (`colour_not_srgb`), whatever primaries a cHRM declares beside
    it (they do not change the curve); else None."""
    return _declared(metadata)[0]


def _declared(metadata: Mapping[str, Any]) -> tuple[int | None, tuple[int, ...] | None]:
    """The gAMA integer and cHRM integers that declare other than sRGB, where they
    describe the colours (`colour_not_srgb`); None for each that does not."""
    colour = metadata.get("png_colour", {})
    if metadata.get("icc_profile") or b"sRGB" in colour:
        return None, None
    gamma = struct.unpack(">I", colour[b"gAMA"])[0] if b"gAMA" in colour else None
    points = struct.unpack(">8I", colour[b"cHRM"]) if b"cHRM" in colour else None
    if points is not None and all(abs(a - b) <= _CHROMATICITY_SLACK
                                  for a, b in zip(points, SRGB_CHROMATICITY, strict=True)):
        points = None
    return (None if gamma is None or gamma in _SRGB_GAMMA else gamma), points


def chromaticities_valid(points: tuple[int, ...]) -> bool:
    """Whether cHRM's eight integers (x and y times 100000 of the white point, red,
    green and blue) describe colours, as libpng checks them (``png_XYZ_from_xy``):
    each x and y at least 0, y above 0 and x + y at most 1, and the white point the sum
    of the primaries each taken a positive amount (inside their triangle); and, for
    LittleCMS, a triangle not nearly flat."""
    x, y = np.array(points[0::2], float) / 100000, np.array(points[1::2], float) / 100000
    if np.any(x < 0) or np.any(y <= 0) or np.any(x + y > 1):
        return False
    # LittleCMS builds no profile of primaries whose xyz matrix's determinant (twice
    # their triangle's area) is under 1e-4 (MATRIX_DET_TOLERANCE): nearly on one line.
    # The smallest gamut of a real device is hundreds of times larger.
    chromaticities = np.array([x[1:], y[1:], 1 - x[1:] - y[1:]])
    if abs(np.linalg.det(chromaticities)) < 1e-4:
        return False
    white = np.array([x[0], y[0], 1 - x[0] - y[0]]) / y[0]
    return bool(np.all(np.linalg.solve(chromaticities / y[1:], white) > 0))
