"""Colours described other than as sRGB, by an ICC profile of RGB or grey or by a PNG's
gAMA and cHRM: found (`not_srgb`), and converted to sRGB (`to_srgb`, ``--srgb``).

A profile is sRGB where its curves are sRGB's
(`imgconv.io.icc_curves.ToneCurve.is_srgb`) or its description names sRGB (as
`imgconv.linear` takes it: profiles called sRGB with a power of 2.2 for a curve are
common, and shown alike), and, for an RGB profile of curves and colorants, its red,
green and blue colorants are sRGB's within `COLORANT_SLACK`: a name does not vouch for
them ("Display P3 Gamut with sRGB Transfer" names sRGB). The colorants are the
primaries as the profile connects them (adapted to D50), and their sum is its white:
they say where its colours lie, for the relative colorimetric conversion that shows
them. A profile of lookup tables, or whose colorants cannot be read, is taken by its
name. A profile LittleCMS cannot read describes nothing a colour-managed viewer uses
(browsers show such a file as sRGB), and is not taken for other colours. A profile of
another space than the samples' (grey with RGB samples) does not describe them (an
output drops it, `imgconv.io.metadata.profile_describes`).

`to_srgb` converts RGB by LittleCMS through the profile (`imgconv.io.cms`), a PNG's
gAMA and cHRM through the profile made of them (`imgconv.io.png_profile`); grey by its
curve (`_grey`); CMYK as `imgconv.io.cmyk.to_srgb` does. The result carries no profile
and no gAMA or cHRM: untagged is sRGB.
"""

import functools
import io
import struct
from dataclasses import dataclass, replace

import numpy as np

from ..errors import ImageReadError
from ..names import printable
from . import cms, cmyk, formats, icc
from .icc_curves import LUT_TAGS, SRGB_CURVE, ProfileError, ToneCurve, tag_table, tone_curve
from .metadata import colour_not_srgb, declared_gamma
from .picture import Picture
from .png_profile import chunks_profile

# sRGB's red, green and blue colorants (XYZ adapted to D50, ICC's connection space),
# as LittleCMS's own sRGB profile holds them.
SRGB_COLORANTS = ((0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141))
# How far a colorant's X, Y or Z may lie from sRGB's in a profile taken for sRGB: the
# sRGB profiles of LittleCMS, Pillow, libvips (v2 and v4), Ghostscript and
# gdk-pixbuf's tests lie within 0.00026; the nearest other measured, Corbis RGB's,
# 0.027, Display P3's 0.093, Adobe RGB's 0.18.
COLORANT_SLACK = 0.001

GREY_MODES = frozenset(["L", "LA", "I;16", "LA;16"])
COLOUR_MODES = frozenset(["RGB", "RGBA", "RGB;16", "RGBA;16"])


@dataclass(frozen=True)
class Colours:
    """What describes a picture's colours other than as sRGB: ``words`` for a message
    (``the ICC profile "Display P3"``), and whether that is a PNG's gAMA and cHRM
    (``chunks``), which ``--strip`` leaves out of outputs that carry no profile."""

    words: str
    chunks: bool


def not_srgb(picture: Picture) -> Colours | None:
    """What describes ``picture``'s colours other than as sRGB, as the module says; None
    where they are sRGB, or nothing describes them."""
    profile = picture.metadata.get("icc_profile")
    if profile:
        name = profile_not_srgb(profile, is_grey(picture))
        return None if name is None else Colours(f"the ICC profile {name}", False)
    declared = colour_not_srgb(picture.metadata)
    return Colours(declared, True) if declared else None


def is_grey(picture: Picture) -> bool:
    """Whether the picture's samples are grey (with alpha or not), of any type."""
    first = picture.frames[0]
    return first.ndim == 2 or first.shape[2] <= 2


# One profile kept: a picture's checks ask of its profile once for each format a refusal
# lists, and a profile may be 16 MiB (`imgconv.io.icc.MAX_BYTES`).
@functools.lru_cache(maxsize=1)
def profile_not_srgb(profile: bytes, grey: bool) -> str | None:
    """The quoted description of ICC ``profile`` where it describes samples of grey (or
    RGB) other than as sRGB, as the module says; None for an sRGB one, one of another
    space, or one LittleCMS cannot read."""
    if profile[16:20] != (b"GRAY" if grey else b"RGB "):
        return None
    name = profile_name(profile)
    if name is None:
        return None
    if _colorants_are_srgb(profile, grey) is not False and ("srgb" in name.lower() or _curve_is_srgb(profile, grey)):
        return None
    # A profile's description is the file's text: one line, controls escaped.
    return f'"{printable(" ".join(name.split())[:100])}"' if name else "without a description"


def _curve_is_srgb(profile: bytes, grey: bool) -> bool:
    """Whether every channel's curve is sRGB's; False for a profile of lookup tables."""
    try:
        return tone_curve(profile, grey).is_srgb
    except ProfileError:
        return False


def _colorants_are_srgb(profile: bytes, grey: bool) -> bool | None:
    """Whether an RGB profile's red, green and blue colorants are sRGB's; None for a grey
    one, one of lookup tables (which convert through those), or one whose colorants
    cannot be read."""
    try:
        tags = tag_table(profile)
    except ProfileError:
        return None
    if grey or LUT_TAGS & set(tags):
        return None
    colorants = []
    for signature in (b"rXYZ", b"gXYZ", b"bXYZ"):
        offset, size = tags.get(signature, (0, 0))
        if size < 20 or profile[offset:offset + 4] != b"XYZ ":
            return None
        colorants.append([value / 65536 for value in struct.unpack_from(">3i", profile, offset + 8)])
    return all(abs(a - b) <= COLORANT_SLACK for colorant, srgb in zip(colorants, SRGB_COLORANTS, strict=True)
               for a, b in zip(colorant, srgb, strict=True))


def profile_name(profile: bytes) -> str | None:
    """An ICC profile's description, as LittleCMS reads it; None if it cannot."""
    from PIL import ImageCms  # LittleCMS: loaded only for pictures that carry a profile

    try:
        return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(profile))).strip()
    except (OSError, ImageCms.PyCMSError):
        return None


def to_srgb(picture: Picture) -> Picture:
    """``picture`` with its colours in sRGB, as the module says, at its own depth,
    alpha as it is; a picture whose colours are sRGB already (or described by nothing)
    as it is. Refused in one line naming the file: samples other than 8- or 16-bit
    described other than as sRGB (`srgb_form`), and a profile that cannot convert them."""
    if picture.mode in formats.CMYK_MODES:
        return cmyk.to_srgb(picture, advice="leave out --srgb to keep its inks")
    form = srgb_form(picture)
    if form is picture:
        return picture
    if picture.mode in GREY_MODES:
        frames = _grey(picture)
    else:
        profile = picture.metadata.get("icc_profile") or chunks_profile(picture.metadata, grey=False)
        assert profile is not None  # not_srgb found one, or the chunks
        refused = functools.partial(_refused, picture.name)
        if why := icc.hazard(profile):
            raise refused(why)
        convert = cms.converter(profile, picture.sample_dtype, 3, refused)
        frames = cms.converted(picture.frames, convert, 3)
    return replace(form, frames=frames)


def srgb_form(picture: Picture) -> Picture:
    """A picture of grey or RGB as `to_srgb` makes it, but for its samples: without its
    ICC profile and PNG colour chunks where they describe other than sRGB; else
    ``picture`` itself. What the output refuses of it may be refused before the samples
    are converted. Refused in one line naming the file: samples other than 8- or 16-bit
    described other than as sRGB."""
    colours = not_srgb(picture)
    if colours is None:
        return picture
    if picture.mode not in GREY_MODES | COLOUR_MODES:
        raise ImageReadError(f"{picture.name}: --srgb converts 8- and 16-bit grey and RGB samples, and the image is "
                             f"{picture.description}, described by {colours.words}; leave out --srgb to keep them "
                             "as they are")
    metadata = {key: value for key, value in picture.metadata.items() if key not in ("icc_profile", "png_colour")}
    return replace(picture, metadata=metadata)


def _grey(picture: Picture) -> list[np.ndarray]:
    """Grey frames converted to sRGB's grey through their curve, by a table of every
    level.

    A grey profile has a curve and no primaries: LittleCMS takes its samples to the
    neutral of that light (Y), and relative colorimetric with black-point compensation
    gives sRGB's neutral of the same light, rescaled so that the curve's black is black:
    R = G = B = sRGB's encoding of (Y - Y(0)) / (1 - Y(0)). Computed so, in float64, the
    grey stays one channel, rounded once (LittleCMS would give three, through its 16-bit
    pipeline); its white point does not matter to a relative conversion. A PNG's gAMA
    is the curve ``light = v ** (1 / gamma)``; a cHRM alone changes nothing of grey."""
    profile = picture.metadata.get("icc_profile")
    if profile:
        try:
            curve = tone_curve(profile, grey=True)
        except ProfileError as exc:
            raise _refused(picture.name, str(exc)) from None
    else:
        gamma = declared_gamma(picture.metadata)
        curve = SRGB_CURVE if gamma is None else ToneCurve((100000 / gamma, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0))
    top = picture.sample_max
    black = curve.light(np.float64(0))
    light = (curve.light(np.arange(top + 1) / top) - black) / (1 - black)
    table = np.round(SRGB_CURVE.encoded(light) * top).astype(picture.sample_dtype)
    frames = []
    for frame in picture.frames:
        converted = table[frame]
        if frame.ndim == 3:
            converted[..., 1] = frame[..., 1]  # alpha as it is
        frames.append(converted)
    return frames


def _refused(name: str, why: str) -> ImageReadError:
    """The refusal of a file whose ICC profile cannot convert its colours to sRGB."""
    return ImageReadError(f"{name}: --srgb cannot convert its colours to sRGB: its ICC profile {why}; leave out "
                          "--srgb to keep them as they are")
