"""CMYK pictures as each output holds them: kept as inks, or converted to sRGB.

A CMYK input (JPEG, TIFF, PSD: what Pillow reads as CMYK; 16 bits and alpha from TIFF;
the modes of `imgconv.io.formats`) is kept as its four inks where the output holds them
(JPEG and TIFF; 16 bits and alpha in TIFF), filtered as four channels alike. A JPEG
output drops alpha that is opaque everywhere and refuses any other. Any other
output gets sRGB, converted before filtering, so that the filter works on sRGB as it
does for any RGB input (and ``--linear`` and ``--luminance``, defined on sRGB, apply):

- With an ICC profile of CMYK, through it by LittleCMS, relative colorimetric with
  black-point compensation: Photoshop's default, and what ``vips icc_transform --intent
  relative --black-point-compensation`` gives. The intent the profile's header names is
  ignored, as Photoshop and vips ignore it: it says how the profile was made, not how an
  image is to be shown. 8-bit inks by Pillow's ImageCms, 16-bit ones by imagecodecs'
  binding of the same library, which takes 16-bit samples (ImageCms has no 16-bit CMYK
  mode): 16-bit RGB results. The output carries no profile: untagged is sRGB.
- Without one, as Pillow, browsers and ImageMagick convert a CMYK file that names no
  profile: ``R = (max - K) - round(C * (max - K) / max)``, at the samples' own depth.

A profile that cannot convert the inks (damaged, truncated, of RGB or grey, or not
describing a device's colours) is refused in one line naming the file, before the
result is allocated, rather than taken for none: the colours would be wrong without a
word.
"""

import functools
import io
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ImageReadError, ImageWriteError
from . import formats, icc, pages
from .depth import change_depth
from .formats import Format
from .picture import Picture

if TYPE_CHECKING:
    from PIL import Image

# CMYK (and with alpha) as sRGB at the same depth.
_SRGB = {"CMYK": "RGB", "CMYK;16": "RGB;16", "CMYKA": "RGBA", "CMYKA;16": "RGBA;16"}
_INKS = {"CMYKA": "CMYK", "CMYKA;16": "CMYK;16"}  # CMYK with alpha, without it

Converter = Callable[[np.ndarray], np.ndarray]
"""What converts (H, W, 4) inks into (H, W, 3) sRGB samples of their type."""
Refusal = Callable[[str], ImageReadError]
"""What refuses a file whose ICC profile cannot convert its inks, given why (words that
follow "its ICC profile")."""


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
    profile dropped; any other picture as it is. A profile that cannot convert it is refused in one line naming the
    file, the ``output`` it is converted for (a format's name), and ``advice`` (what
    keeps the inks there), where given.

    8-bit frames are converted strip by strip, and a frame given up (`imgconv.io.pages`)
    gives each strip's memory back once converted. 16-bit ones are converted whole, and
    small ones joined (`_joined`): imagecodecs builds LittleCMS's transform anew at
    each call (33 ms from the 557 KB SWOP profile, as long as converting 64 rows of 5000
    pixels), which a file of many small pages would otherwise pay on each."""
    if picture.mode not in _SRGB:
        return picture
    profile = picture.metadata.get("icc_profile")
    if not profile:
        convert: Converter = _naive
    else:
        refused = functools.partial(_refused, picture.name, output, advice)
        convert = _by_profile(profile, picture.sample_dtype, refused)
    metadata = {key: value for key, value in picture.metadata.items() if key != "icc_profile"}
    if picture.sample_dtype == np.uint16:
        frames = [rgb for batch in _batches(picture.frames) for rgb in _joined(batch, convert)]
    else:
        frames = [_by_strips(frame, convert) for frame in picture.frames]
    return replace(picture, frames=frames, mode=_SRGB[picture.mode], metadata=metadata)


def _by_strips(frame: np.ndarray, convert: Converter) -> np.ndarray:
    """An 8-bit frame of inks (and alpha) converted strip by strip, each strip's
    memory given back once converted where the frame is given up."""
    rgb = np.empty((*frame.shape[:2], frame.shape[2] - 1), frame.dtype)
    for top, bottom in pages.strips(len(frame)):
        rgb[top:bottom, :, :3] = convert(frame[top:bottom, :, :4])
        rgb[top:bottom, :, 3:] = frame[top:bottom, :, 4:]
        pages.release_rows(frame, top, bottom)
    return rgb


# The most pixels of 16-bit frames joined into one conversion (`_batches`): 8 MB of
# inks joined, copied beside the frames, and 6 MB of sRGB. 500 one-pixel pages through
# the 8.8 KB profile of the tests took 14.6 s of CPU converted one by one, 0.5 s joined;
# a frame of over a million pixels pays for its transform's 33 ms (at most, from the
# 557 KB SWOP profile) in the 0.1 s or more its conversion takes.
_JOINED_PIXELS = 1 << 20


def _batches(frames: list[np.ndarray]) -> Iterator[list[np.ndarray]]:
    """``frames`` in runs of `_JOINED_PIXELS` at most, or of one larger frame."""
    batch: list[np.ndarray] = []
    pixels = 0
    for frame in frames:
        size = frame.shape[0] * frame.shape[1]
        if batch and pixels + size > _JOINED_PIXELS:
            yield batch
            batch, pixels = [], 0
        batch.append(frame)
        pixels += size
    if batch:
        yield batch


def _joined(frames: list[np.ndarray], convert: Converter) -> list[np.ndarray]:
    """16-bit frames of inks (and alpha) converted in one call, their pixels joined in
    one row (LittleCMS converts each pixel alone: what is joined changes no sample),
    each frame's memory given back once converted where it is given up. A frame
    without alpha is its part of the converted row."""
    inks = [frame[..., :4].reshape(1, -1, 4) for frame in frames]
    converted = convert(inks[0] if len(inks) == 1 else np.concatenate(inks, axis=1)).reshape(-1, 3)
    results, start = [], 0
    for frame in frames:
        height, width, channels = frame.shape
        part = converted[start:start + height * width].reshape(height, width, 3)
        start += height * width
        if channels == 5:
            part = np.concatenate([part, frame[..., 4:]], axis=2)
        pages.release_rows(frame, 0, height)
        results.append(part)
    return results


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


def _by_profile(profile: bytes, dtype: np.dtype, refused: Refusal) -> Converter:
    """The `Converter` of inks of ``dtype`` through ``profile``; a profile that cannot
    convert them is ``refused`` before anything is converted."""
    if why := _fault(profile):
        raise refused(why)
    return _by_imagecodecs(profile, refused) if dtype == np.uint16 else _by_imagecms(profile, refused)


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


def _by_imagecms(profile: bytes, refused: Refusal) -> Converter:
    """The `Converter` of 8-bit inks, by Pillow's ImageCms."""
    from PIL import ImageCms

    try:
        transform = ImageCms.buildTransform(
            ImageCms.ImageCmsProfile(io.BytesIO(profile)), ImageCms.createProfile("sRGB"), "CMYK", "RGB",
            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC, flags=ImageCms.Flags.BLACKPOINTCOMPENSATION)
    except (OSError, ValueError, TypeError, ImageCms.PyCMSError) as exc:
        raise refused(f"is not one LittleCMS reads ({exc})") from None

    def convert(inks: np.ndarray) -> np.ndarray:
        return np.asarray(ImageCms.applyTransform(_pillow_inks(inks), transform))[..., :3]

    return convert


def _by_imagecodecs(profile: bytes, refused: Refusal) -> Converter:
    """The `Converter` of 16-bit inks, by imagecodecs' LittleCMS, which builds the
    transform at each call: a profile it cannot read is ``refused`` at the first."""
    import imagecodecs

    srgb = imagecodecs.cms_profile("srgb")

    def convert(inks: np.ndarray) -> np.ndarray:
        try:
            return np.asarray(imagecodecs.cms_transform(
                np.ascontiguousarray(inks), profile, srgb, colorspace="cmyk", outcolorspace="rgb",
                outdtype=np.uint16, intent=imagecodecs.CMS.INTENT.RELATIVE_COLORIMETRIC,
                flags=imagecodecs.CMS.FLAGS.BLACKPOINTCOMPENSATION))
        except (imagecodecs.CmsError, ValueError, TypeError) as exc:
            raise refused(f"is not one LittleCMS reads ({exc})") from None

    return convert


def _refused(name: str, output: str | None, advice: str | None, why: str) -> ImageReadError:
    """The refusal of a CMYK file whose ICC profile cannot convert it to sRGB (for
    ``output``), and ``advice``: what keeps its inks."""
    purpose = f" for a {output} output" if output else ""
    return ImageReadError(f"{name}: its CMYK cannot be converted to sRGB{purpose}: its ICC profile {why}"
                          + (f"; {advice}" if advice else ""))
