"""Colours converted to sRGB by LittleCMS through an ICC profile, frame by frame: the
machinery `imgconv.io.cmyk` converts CMYK inks with and `imgconv.io.srgb` RGB colours.

Relative colorimetric with black-point compensation: Photoshop's default, and what
``vips icc_transform --intent relative --black-point-compensation`` gives. The intent
the profile's header names is ignored, as Photoshop and vips ignore it: it says how the
profile was made, not how an image is to be shown. 8-bit samples by Pillow's ImageCms,
whose transform is built once; 16-bit ones by imagecodecs' binding of the same library,
which takes 16-bit samples (ImageCms has no 16-bit modes) and builds its transform at
each call. The result has the samples' own type.

16-bit RGB is converted unoptimised (LittleCMS's ``cmsFLAGS_NOOPTIMIZE``): optimised,
LittleCMS samples a 16-bit transform between matrix-shaper profiles into a grid, whose
interpolation at the edge of sRGB's gamut put random 16-bit samples through an Adobe
RGB-like profile up to 4568 levels from a float64 computation of the same matrices and
curves (2837 from a Display P3-like one); unoptimised, 22 at most, 0.8 on average. It
costs 1.41 s of CPU for a 4K frame instead of 0.19. 8-bit transforms (Pillow's
ImageCms) take LittleCMS's matrix-shaper path, within a level of that computation.
"""

import io
from collections.abc import Callable, Iterator

import numpy as np

from . import pages

Converter = Callable[[np.ndarray], np.ndarray]
"""What converts (H, W, C) samples of the colours of a profile into (H, W, 3) sRGB
samples of their type."""
Refusal = Callable[[str], Exception]
"""What refuses a file whose ICC profile cannot convert its colours, given why (words
that follow "its ICC profile")."""

# The colour spaces converted, by channels: Pillow's mode, imagecodecs' name, and
# whether 16-bit samples are converted unoptimised (as the module says).
_SPACES = {3: ("RGB", "rgb", True), 4: ("CMYK", "cmyk", False)}


def converter(profile: bytes, dtype: np.dtype, colours: int, refused: Refusal) -> Converter:
    """The `Converter` of samples of ``dtype`` and ``colours`` channels (3, RGB; 4,
    CMYK) through ``profile``; a profile LittleCMS cannot read is ``refused``, 8-bit
    ones when the transform is built, 16-bit ones at the first conversion."""
    mode, space, exact = _SPACES[colours]
    if dtype == np.uint16:
        return _by_imagecodecs(profile, space, exact, refused)
    return _by_imagecms(profile, mode, refused)


def _by_imagecms(profile: bytes, mode: str, refused: Refusal) -> Converter:
    """The `Converter` of 8-bit samples of Pillow's ``mode``, by Pillow's ImageCms."""
    from PIL import Image, ImageCms

    try:
        transform = ImageCms.buildTransform(
            ImageCms.ImageCmsProfile(io.BytesIO(profile)), ImageCms.createProfile("sRGB"), mode, "RGB",
            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC, flags=ImageCms.Flags.BLACKPOINTCOMPENSATION)
    except (OSError, ValueError, TypeError, ImageCms.PyCMSError) as exc:
        raise refused(f"is not one LittleCMS reads ({exc})") from None

    def convert(samples: np.ndarray) -> np.ndarray:
        strip = np.ascontiguousarray(samples)
        image = Image.frombuffer(mode, (strip.shape[1], strip.shape[0]), strip, "raw", mode, 0, 1)
        return np.asarray(ImageCms.applyTransform(image, transform))[..., :3]

    return convert


def _by_imagecodecs(profile: bytes, space: str, exact: bool, refused: Refusal) -> Converter:
    """The `Converter` of 16-bit samples of imagecodecs' colour ``space``, by
    imagecodecs' LittleCMS, unoptimised where ``exact``, which builds the transform at
    each call: a profile it cannot read is ``refused`` at the first."""
    import imagecodecs

    srgb = imagecodecs.cms_profile("srgb")
    flags = imagecodecs.CMS.FLAGS.BLACKPOINTCOMPENSATION | (imagecodecs.CMS.FLAGS.NOOPTIMIZE if exact else 0)

    def convert(samples: np.ndarray) -> np.ndarray:
        try:
            return np.asarray(imagecodecs.cms_transform(
                np.ascontiguousarray(samples), profile, srgb, colorspace=space, outcolorspace="rgb",
                outdtype=np.uint16, intent=imagecodecs.CMS.INTENT.RELATIVE_COLORIMETRIC, flags=flags))
        except (imagecodecs.CmsError, ValueError, TypeError) as exc:
            raise refused(f"is not one LittleCMS reads ({exc})") from None

    return convert


def converted(frames: list[np.ndarray], convert: Converter, colours: int) -> list[np.ndarray]:
    """``frames`` whose first ``colours`` channels ``convert`` makes sRGB, the others
    (alpha) kept as they are.

    8-bit frames are converted strip by strip, and a frame given up (`imgconv.io.pages`)
    gives each strip's memory back once converted. 16-bit ones are converted whole, and
    small ones joined (`_joined`): imagecodecs builds LittleCMS's transform anew at
    each call (33 ms from the 557 KB SWOP profile, as long as converting 64 rows of 5000
    pixels), which a file of many small pages would otherwise pay on each."""
    if frames[0].dtype == np.uint16:
        return [rgb for batch in _batches(frames) for rgb in _joined(batch, convert, colours)]
    return [_by_strips(frame, convert, colours) for frame in frames]


def _by_strips(frame: np.ndarray, convert: Converter, colours: int) -> np.ndarray:
    """An 8-bit frame converted strip by strip, each strip's memory given back once
    converted where the frame is given up."""
    rgb = np.empty((*frame.shape[:2], 3 + frame.shape[2] - colours), frame.dtype)
    for top, bottom in pages.strips(len(frame)):
        rgb[top:bottom, :, :3] = convert(frame[top:bottom, :, :colours])
        rgb[top:bottom, :, 3:] = frame[top:bottom, :, colours:]
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


def _joined(frames: list[np.ndarray], convert: Converter, colours: int) -> list[np.ndarray]:
    """16-bit frames converted in one call, their pixels joined in one row (LittleCMS
    converts each pixel alone: what is joined changes no sample), each frame's memory
    given back once converted where it is given up. A frame without alpha is its part
    of the converted row."""
    samples = [frame[..., :colours].reshape(1, -1, colours) for frame in frames]
    rgb = convert(samples[0] if len(samples) == 1 else np.concatenate(samples, axis=1)).reshape(-1, 3)
    results, start = [], 0
    for frame in frames:
        height, width, channels = frame.shape
        part = rgb[start:start + height * width].reshape(height, width, 3)
        start += height * width
        if channels > colours:
            part = np.concatenate([part, frame[..., colours:]], axis=2)
        pages.release_rows(frame, 0, height)
        results.append(part)
    return results
