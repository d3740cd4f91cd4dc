"""CMYK pictures as each output holds them: kept as inks, or converted to sRGB.

A CMYK input (JPEG, TIFF, PSD: what Pillow reads as CMYK; 16 bits and alpha from TIFF;
the modes of `imgconv.io.formats`) is kept as its four inks where the output holds them
(JPEG and TIFF; 16 bits and alpha in TIFF), filtered as four channels alike. A JPEG
output drops alpha that is opaque everywhere and refuses any other. Any other
output gets sRGB, converted before filtering, so that the filter works on sRGB as it
does for any RGB input (and ``--linear`` and ``--luminance``, defined on sRGB, apply):

- With an ICC profile of CMYK, through it by LittleCMS (`imgconv.io.cms`): relative
  colorimetric with black-point compensation, 16-bit inks to 16-bit sRGB. The output
  carries no profile: untagged is sRGB.
- Without one, as Pillow, browsers and ImageMagick convert a CMYK file that names no
  profile: ``R = (max - K) - round(C * (max - K) / max)``, at the samples' own depth.

A profile that cannot convert the inks (damaged, truncated, of RGB or grey, or not
describing a device's colours) is refused in one line naming the file, before the
result is allocated, rather than taken for none: the colours would be wrong without a
word.
"""

import functools
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ImageReadError, ImageWriteError
from . import cms, formats, icc
from .depth import change_depth
from .formats import Format
from .picture import Picture

if TYPE_CHECKING:
    from PIL import Image

# CMYK (and with alpha) as sRGB at the same depth.
_SRGB = {"CMYK": "RGB", "CMYK;16": "RGB;16", "CMYKA": "RGBA", "CMYKA;16": "RGBA;16"}
_INKS = {"CMYKA": "CMYK", "CMYKA;16": "CMYK;16"}  # CMYK with alpha, without it



def for_output(picture: Picture, record: Format, *, depth: int | None = None, background: bool = False,
               subsampling: str | None = None) -> Picture:
    """``picture`` at ``depth`` (`imgconv.io.depth.change_depth`) as an output of
    ``record`` holds it: CMYK kept where the format holds
    it (a raw ``.npy`` holds the inks as they are) or holds CMYK at the other depth
    (which `imgconv.io.write.check_writable` refuses, naming ``--depth``); with alpha
    where the format holds CMYK without (JPEG), kept for a ``background`` to flatten
    (`background_samples`), else dropped where it is opaque everywhere, and refused
    otherwise; else converted to sRGB, 16-bit inks for an 8-bit output converted at 16
    bits and rounded once, after (inks rounded first put random inks' sRGB up to 1.8
    levels off; rounded once, 0.5 at most).

    A JPEG's chroma ``subsampling`` other than 4:4:4 is refused for CMYK kept: a CMYK
    JPEG has no chroma, and libjpeg would store magenta, yellow and black at half the
    cyan's resolution (a black checkerboard comes back 128 levels off at quality 100)."""
    if picture.mode not in _SRGB or record.raw:
        return change_depth(picture, depth)
    inks = _INKS.get(picture.mode, picture.mode)
    if not {picture.mode, inks, formats.OTHER_DEPTH[picture.mode], formats.OTHER_DEPTH[inks]} & record.holds:
        if depth != 8:  # to 8 bits once converted
            picture = change_depth(picture, depth)
            _check_depth(picture, record)
        advice = f"write {formats.holders(picture.mode)} to keep its inks"
        return change_depth(to_srgb(picture, output=record.name, advice=advice), depth)
    picture = change_depth(picture, depth)
    if subsampling not in (None, "4:4:4") and record.name == "JPEG":
        raise ImageWriteError(f"{picture.name}: --subsampling {subsampling} halves a JPEG's chroma, and a CMYK JPEG "
                              "has none: it would halve magenta, yellow and black; leave it out to keep every ink "
                              "whole, or write PNG to convert it to sRGB")
    if picture.mode in record.holds or inks == picture.mode or background:
        return picture
    if any((f[..., 4] != picture.sample_max).any() for f in picture.frames):
        others = [fmt for fmt, other in formats.FORMATS.items() if fmt in formats.available() and not other.raw
                  and _SRGB[picture.mode] in other.holds and inks not in other.holds]
        raise ImageWriteError(f"{picture.name}: {record.name} holds CMYK without alpha and the input's alpha is not "
                              "opaque everywhere; give --background COLOR (a name or #rrggbb) to flatten it over that "
                              f"colour, write TIFF to keep it, or {formats.listed(others)} to convert it to sRGB with "
                              "its alpha")
    return replace(picture, frames=[np.ascontiguousarray(f[..., :4]) for f in picture.frames], mode=inks)


def _check_depth(picture: Picture, record: Format) -> None:
    """Refuse 16-bit inks for a format that holds no 16-bit colour before converting
    them, a whole frame's work: refused after it, a 12 MP 16-bit CMYK TIFF with a profile
    took 1.11 s of CPU and 370 MB at its peak; before it, 0.39 s and 230 MB."""
    if picture.sample_dtype != np.uint16 or {"RGB;16", "RGBA;16"} & record.holds:
        return
    srgb = [fmt for fmt in formats.available() if "RGB;16" in formats.FORMATS[fmt].holds
            and "CMYK;16" not in formats.FORMATS[fmt].holds]
    raise ImageWriteError(f"{picture.name}: {record.name} holds no 16-bit colour and the input is "
                          f"{picture.description}; write {formats.holders(picture.mode)} to keep its inks, or "
                          f"{formats.listed(srgb)} to keep 16 bits as sRGB, or give --depth 8 to convert "
                          "(round(v / 257))")


def background_samples(picture: Picture, colour: tuple[int, ...]) -> tuple[float, ...]:
    """An opaque colour given in sRGB, 0-255 each (``--background``), in ``picture``'s
    sample units, unrounded, for `imgconv.filters.composite`; for CMYK, the colour's
    inks, which the inks are then composited over, as a CMYK document's layers are:

    - With an ICC profile, through it by LittleCMS from 16-bit sRGB, relative
      colorimetric with black-point compensation (the reverse of `to_srgb`): white is
      no ink, and a colour comes out as the press the profile describes prints it.
    - Without, the inverse of the naive conversion that puts neutrals on black alone,
      as ImageMagick's ``-colorspace CMYK`` does: ``K = 1 - max(R, G, B)``,
      ``C = (1 - R - K) / (1 - K)``, in fractions of the maximum; exact under `to_srgb`'s
      naive conversion.

    A profile with no table from colours to inks (an input profile may have none) is
    refused in one line naming the file."""
    scale = picture.sample_max / 255
    if picture.mode not in formats.CMYK_MODES:
        return tuple(v * scale for v in colour)
    profile = picture.metadata.get("icc_profile")
    if not profile:
        rgb = np.asarray(colour, np.float64) / 255
        black = 1 - rgb.max()
        cmy = np.zeros(3) if black == 1 else (1 - rgb - black) / (1 - black)
        return tuple(float(v) * picture.sample_max for v in (*cmy, black))
    import imagecodecs

    if why := _fault(profile):
        raise ImageReadError(f"{picture.name}: --background cannot be converted to the file's CMYK inks: its ICC "
                             f"profile {why}; write TIFF without --background to keep its alpha")
    try:
        inks = imagecodecs.cms_transform(
            np.array([[colour]], np.uint16) * np.uint16(257), imagecodecs.cms_profile("srgb"), profile,
            colorspace="rgb", outcolorspace="cmyk", outdtype=np.uint16,
            intent=imagecodecs.CMS.INTENT.RELATIVE_COLORIMETRIC, flags=imagecodecs.CMS.FLAGS.BLACKPOINTCOMPENSATION)
    except (imagecodecs.CmsError, ValueError, TypeError) as exc:
        raise ImageReadError(f"{picture.name}: --background cannot be converted to the file's CMYK inks: its ICC "
                             f"profile has no table from colours to inks LittleCMS reads ({exc}); write PNG to "
                             "flatten its sRGB instead") from None
    return tuple(float(v) * picture.sample_max / 65535 for v in inks.ravel())


def white(picture: Picture) -> float | tuple[float, ...]:
    """The samples of white (what `imgconv.views.compose` parts pictures with): their
    maximum; for CMYK, no ink (and opaque alpha)."""
    if picture.mode not in formats.CMYK_MODES:
        return picture.sample_max
    return (0, 0, 0, 0, picture.sample_max) if picture.has_alpha else 0


def to_srgb(picture: Picture, *, output: str | None = None, advice: str | None = None) -> Picture:
    """A CMYK picture (alpha kept as it is) as sRGB, as the module says, its CMYK
    profile dropped; any other picture as it is. A profile that cannot convert it is
    refused in one line naming the file, the ``output`` it is converted for (a format's
    name), and ``advice`` (what keeps the inks there), where given. Converted as
    `imgconv.io.cms.converted` converts, strip by strip or in joined batches."""
    if picture.mode not in _SRGB:
        return picture
    profile = picture.metadata.get("icc_profile")
    if not profile:
        convert: cms.Converter = _naive
    else:
        if why := _fault(profile):
            raise _refused(picture.name, output, advice, why)
        convert = cms.converter(profile, picture.sample_dtype, 4,
                                functools.partial(_refused, picture.name, output, advice))
    metadata = {key: value for key, value in picture.metadata.items() if key != "icc_profile"}
    frames = cms.converted(picture.frames, convert, 4)
    return replace(picture, frames=frames, mode=_SRGB[picture.mode], metadata=metadata)


# The classes of ICC profiles (their header's bytes 12 to 16) that describe a device's
# colours: input, display, output, colour space.
_DEVICE_CLASSES = frozenset([b"scnr", b"mntr", b"prtr", b"spac"])
# Colour spaces of ICC profiles (their header's bytes 16 to 20) in words.
_SPACES = {b"RGB ": "RGB colours", b"GRAY": "grey", b"Lab ": "Lab colours", b"XYZ ": "XYZ colours"}


def _naive(inks: np.ndarray) -> np.ndarray:
    """CMYK inks as RGB, ``R = (max - K) - round(C * (max - K) / max)``, at the inks'
    own depth: Pillow's conversion of 8-bit CMYK (by Pillow, quicker), for every pair
    of ink values."""
    if inks.dtype == np.uint8:
        return np.asarray(_pillow_inks(inks).convert("RGB"))
    top = np.iinfo(inks.dtype).max
    wide = inks.astype(np.uint64)
    white = top - wide[..., 3:4]
    return (white - (wide[..., :3] * white + top // 2) // top).astype(inks.dtype)


def _pillow_inks(inks: np.ndarray) -> "Image.Image":
    """Pillow's CMYK image of 8-bit ``inks``, their memory where it can."""
    from PIL import Image

    strip = np.ascontiguousarray(inks)
    return Image.frombuffer("CMYK", (strip.shape[1], strip.shape[0]), strip, "raw", "CMYK", 0, 1)


def _fault(profile: bytes) -> str | None:
    """Why ``profile``'s header says it describes no device's CMYK inks, or LittleCMS
    is not to be given it (`imgconv.io.icc.hazard`), in words that follow "its ICC
    profile"; or None."""
    space = profile[16:20]
    if len(profile) < 128:  # an ICC header's length
        return f"is damaged ({len(profile)} bytes, shorter than its header)"
    if space != b"CMYK":
        return f"describes {_SPACES.get(space, f'colour space {space!r}')}, not CMYK inks"
    if profile[12:16] not in _DEVICE_CLASSES:
        return (f"is of class {profile[12:16]!r}, not a device's (a link or abstract profile maps colours to "
                "colours, and describes none)")
    return icc.hazard(profile)


def _refused(name: str, output: str | None, advice: str | None, why: str) -> ImageReadError:
    """The refusal of a CMYK file whose ICC profile cannot convert it to sRGB (for
    ``output``), and ``advice``: what keeps its inks."""
    purpose = f" for a {output} output" if output else ""
    return ImageReadError(f"{name}: its CMYK cannot be converted to sRGB{purpose}: its ICC profile {why}"
                          + (f"; {advice}" if advice else ""))
