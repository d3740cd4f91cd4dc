"""An ICC profile saying what a PNG's gAMA and cHRM say, for outputs of the formats that
carry a profile and no such chunks (`PROFILE_FORMATS`), so that they show as the PNG
shows in a browser.

As Chromium (Skia's PNG decoder) reads them where no sRGB chunk or ICC profile
overrides them: the samples are the linear light raised to the gAMA, so the profile's
curve is a power of 1/gAMA (sRGB's own curve where there is no gAMA); cHRM gives the
white point and primaries, sRGB's (D65) where there is none. LittleCMS builds the
profile (`imagecodecs.cms_profile`, ICC version 4): the primaries adapted to its D50
connection space by Bradford's transform, as ICC asks, the matrix in a ``chad`` tag;
the gamma stored as a parametric curve of s15.16 (at most 7.6e-6 from 1/gAMA over
gAMA's whole range); the primaries' XYZ as s15.16 too, from which cHRM's x and y come
back within 1.0e-5 to 1.4e-5 (sRGB's, wide-gamut D50 and BT.2020 primaries), about
cHRM's own steps of 1e-5."""

import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from .metadata import SRGB_CHROMATICITY, colour_not_srgb

# The formats whose writers here store an ICC profile, read back by Pillow (and tifffile
# for TIFF). Pillow's JPEG 2000 writer stores none, nor do GIF, BMP, TGA, QOI or PPM.
PROFILE_FORMATS = frozenset(["TIFF", "JPEG", "WEBP", "AVIF"])

# Formats that store grey as RGB (Pillow's WebP writer converts it): their profile is
# an RGB one, since a reader ignores a grey profile beside RGB samples.
GREY_AS_RGB = frozenset(["WEBP"])

# sRGB's curve (IEC 61966-2-1), for a cHRM without gAMA, as a table: LittleCMS's
# profiles take a gamma or a table only. Of 1024 entries of 16 bits (2 KB a channel),
# LittleCMS decodes the 65536 16-bit levels within 1.51e-5 of the formula (a 16-bit
# level), as it does with 4096 entries; with 256, 1.93e-5.
_SRGB_ENTRIES = 1024

# Where the ICC header's creation date lies (bytes 24 to 36): left zero, so that the
# same input makes the same output, byte for byte.
_DATE = slice(24, 36)


def profile_for(metadata: Mapping[str, Any], fmt: str, space: bytes) -> bytes | None:
    """The ICC profile an output of ``fmt`` with samples of ``space`` (``b"GRAY"`` or
    ``b"RGB "``) gets for a PNG's gAMA and cHRM, where they declare other than sRGB
    (`imgconv.io.metadata.colour_not_srgb`) and ``fmt`` carries a profile; else None."""
    if fmt not in PROFILE_FORMATS or space == b"CMYK":
        return None
    return chunks_profile(metadata, space == b"GRAY" and fmt not in GREY_AS_RGB)


def chunks_profile(metadata: Mapping[str, Any], grey: bool) -> bytes | None:
    """The ICC profile (`colour_profile`, of grey where ``grey``) saying what a PNG's
    gAMA and cHRM say, where they declare other than sRGB
    (`imgconv.io.metadata.colour_not_srgb`); else None."""
    if not colour_not_srgb(metadata):
        return None
    colour = metadata["png_colour"]
    gamma = struct.unpack(">I", colour[b"gAMA"])[0] if b"gAMA" in colour else None
    points = struct.unpack(">8I", colour[b"cHRM"]) if b"cHRM" in colour else SRGB_CHROMATICITY
    return colour_profile(gamma, points, grey)


def colour_profile(gamma: int | None, points: tuple[int, ...], grey: bool) -> bytes:
    """An ICC profile of samples encoded as linear light to the power ``gamma`` / 100000
    (gAMA's integer; None: sRGB's curve), whose white point and red, green and blue
    primaries are ``points`` (cHRM's eight integers, x and y times 100000); ``grey``: a
    grey profile, of the white point alone."""
    from imagecodecs import cms_profile

    x, y = (np.array(points[0::2]) / 100000).tolist(), (np.array(points[1::2]) / 100000).tolist()
    curve: dict[str, Any] = {"gamma": 100000 / gamma} if gamma else {"transferfunction": _srgb_curve()}
    white = [x[0], y[0], 1.0]
    if grey:
        profile = cms_profile("gray", whitepoint=white, **curve)
    else:
        primaries = [value for i in (1, 2, 3) for value in (x[i], y[i], 1.0)]
        profile = cms_profile("rgb", whitepoint=white, primaries=primaries, **curve)
    return profile[:_DATE.start] + bytes(_DATE.stop - _DATE.start) + profile[_DATE.stop:]


def _srgb_curve() -> np.ndarray:
    """sRGB's decoding curve, `_SRGB_ENTRIES` 16-bit entries from encoded 0 to 1."""
    encoded = np.linspace(0, 1, _SRGB_ENTRIES)
    linear = np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4)
    return np.round(linear * 65535).astype(np.uint16)
