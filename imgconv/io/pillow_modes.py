"""The modes Pillow's images are read as (see `imgconv.io.read`), and the samples of each."""


from typing import TYPE_CHECKING, cast

import numpy as np

from ..errors import ImageReadError
from . import formats, pages, pillow_memory
from .tiff_read import turn_white_is_zero
from .tiffinfo import MINISWHITE

if TYPE_CHECKING:
    from PIL import Image, ImageFile, TiffImagePlugin

# A grey or RGB PNG's tRNS chunk names one colour as transparent: read as the mode with
# alpha, as libpng (png_set_tRNS_to_alpha) and viewers read it. Pillow keeps the colour
# aside in info["transparency"], which imgconv's writers would drop.
KEYED = {"L": "LA", "I;16": "LA;16", "RGB": "RGBA"}


def png_key(image: "Image.Image", data: bytes) -> np.ndarray | None:
    """The colour a grey or RGB PNG's tRNS chunk makes transparent, in the units of
    Pillow's samples (grey of 1, 2 and 4 bits is scaled to 0-255), or None."""
    if image.format != "PNG" or "transparency" not in image.info or data[25:26] not in (b"\0", b"\2"):
        return None
    bits = data[24]  # IHDR's bit depth
    # libpng compares only the bits a sample has: a tRNS value out of range is cut to them.
    key = np.asarray(image.info["transparency"], np.uint32) & ((1 << bits) - 1)
    return key * (255 // ((1 << bits) - 1)) if bits < 8 else key


def keyed_alpha(samples: np.ndarray, key: np.ndarray) -> np.ndarray:
    """``samples`` (grey or RGB) with an alpha channel: 0 where the pixel is ``key``,
    the samples' maximum elsewhere."""
    planes = samples[..., None] if samples.ndim == 2 else samples
    keyed = (planes == key).all(axis=-1)
    return with_alpha(samples, np.where(keyed, 0, np.iinfo(samples.dtype).max).astype(samples.dtype))


def with_alpha(samples: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``samples`` (grey or RGB) with ``alpha`` (of their type) as a last channel."""
    planes = samples[..., None] if samples.ndim == 2 else samples
    return np.concatenate([planes, alpha[..., None]], axis=2)


def alpha_beside(image: "Image.Image", data: bytes, name: str) -> np.ndarray | None:
    """The 8-bit alpha of a file that Pillow reads without it (``image`` opened by
    Pillow, not loaded; ``data`` the file), else None: a colour cursor's AND mask (a
    BMP's alpha bit field is read with its colours, `imgconv.io.bmp`)."""
    if image.format != "CUR" or image.mode not in ("P", "RGB"):
        return None  # (an icon's images are not all ImageFiles)
    tiles = cast("ImageFile.ImageFile", image).tile
    if len(tiles) != 1:
        return None
    (width, height), (_, stride, direction) = image.size, cast("tuple[str, int, int]", tiles[0].args)
    start = tiles[0].offset or 0
    # The AND mask, a bit a pixel after the colour bitmap, rows padded to 4 bytes, sets
    # the pixels where Windows leaves the screen as it is (or, under a colour other than
    # black, inverts it): transparent, as Pillow reads an ICO's mask and ImageMagick a
    # cursor's. Pillow reads a cursor's mask only under a grey bitmap.
    rows = _rows(data, start + stride * height, (width + 31) // 32 * 4, height, name)
    return np.where(np.unpackbits(rows, axis=1)[::direction, :width], 0, 255).astype(np.uint8)


def _rows(data: bytes, start: int, stride: int, height: int, name: str) -> np.ndarray:
    """``height`` rows of ``stride`` bytes of ``data`` from ``start``."""
    if len(data) < start + stride * height:
        raise ImageReadError(f"{name}: truncated: its pixels end past the file's end")
    return np.frombuffer(data, np.uint8, stride * height, start).reshape(height, stride)


def mode_read_as(image: "Image.Image") -> str:
    mode = image.mode
    if mode.startswith("I;16") or (mode == "I" and image.format == "PPM"):
        return "I;16"  # Pillow reads 16-bit PGM as I; its samples are 16-bit by definition
    if mode in formats.DTYPE:
        return mode
    if mode == "1":
        return "L"
    if mode in ("P", "PA"):
        return "RGBA" if mode == "PA" or "transparency" in image.info or _palette_alpha(image) else "RGB"
    if mode in ("La", "RGBa"):
        return mode.upper()
    return "RGB"


def _palette_alpha(image: "Image.Image") -> bool:
    """Whether a palette image shows a pixel less than opaque through its palette's own
    alpha (a DDS palette's fourth byte, as Direct3D 9 reads it; a TGA colour map of
    16 or 32 bits), which Pillow keeps in the palette rather than in info["transparency"]."""
    if image.palette is None or "A" not in image.palette.mode:
        return False
    alpha = np.asarray(image.getpalette("RGBA"), np.uint8)[3::4]  # loads the pixels
    used = np.bincount(np.asarray(image).ravel(), minlength=256)[:len(alpha)] > 0
    return bool((alpha[used] < 255).any())


def common_mode(modes: list[str], name: str) -> str:
    """One mode for every frame: a GIF's first frame may be grey and the next colour."""
    if len(set(modes)) == 1:
        return modes[0]
    if set(modes) <= {"L", "LA", "RGB", "RGBA"}:
        colour = any(m.startswith("RGB") for m in modes)
        alpha = any(m in formats.WITH_ALPHA for m in modes)
        return formats.MODE_OF[(1 + 2 * colour + alpha, 8)]
    kinds = ", ".join(formats.WORDS[m] for m in sorted(set(modes)))
    raise ImageReadError(f"{name}: frames of different kinds ({kinds}); take one with --frame N")


def widen(samples: np.ndarray, mode: str, common: str) -> np.ndarray:
    """8-bit samples in ``mode`` as the ``common`` mode of `common_mode` holds them, as
    Pillow converts: grey repeated in each colour channel, opaque where there was no alpha."""
    if mode == common:
        return samples
    planes = samples[..., None] if samples.ndim == 2 else samples
    colour = planes[..., :-1] if mode in formats.WITH_ALPHA else planes
    if common.startswith("RGB") and colour.shape[2] == 1:
        colour = np.repeat(colour, 3, axis=2)
    if common not in formats.WITH_ALPHA:
        return colour
    alpha = planes[..., -1:] if mode in formats.WITH_ALPHA else np.full((*planes.shape[:2], 1), 255, np.uint8)
    return np.concatenate([colour, alpha], axis=2)


def samples_of(image: "Image.Image", mode: str, *, spend: bool = False) -> np.ndarray:
    """The samples of ``image`` read as ``mode`` (`mode_read_as`); ``spend`` as
    `array_of` takes it."""
    if mode == "I;16":
        samples = np.asarray(image).astype(np.uint16)  # native byte order for I;16B files
        tags = cast("TiffImagePlugin.TiffImageFile", image).tag_v2 if image.format == "TIFF" else {}
        if tags.get(262) == MINISWHITE:  # Pillow turns 8 bits and fewer
            turn_white_is_zero(samples, tags[258][0], 1)
        return samples
    samples = array_of(image, mode, spend=spend)
    if image.format == "XBM":
        # An X bitmap's set bit is drawn in the foreground, black on white (X11's
        # XReadBitmapFile, netpbm's xbmtopbm, ImageMagick); Pillow reads it as white.
        np.subtract(255, samples, out=samples)
    return samples


def array_of(image: "Image.Image", mode: str | None = None, *, spend: bool = False) -> np.ndarray:
    """``np.asarray(image.convert(mode))`` (``mode`` default the image's own), made strip
    by strip into one writable array: NumPy takes a whole image from Pillow as bytes
    that Pillow joins from its rows, two transient copies as large as the samples (a
    12000x8400 RGB TIFF peaked at 1290 MiB in that step, 288 of them the file and 384
    Pillow's image), and read-only, which a filter cannot write its result into
    (`imgconv.in_place`). Each strip is converted on its own, which gives the whole
    image's conversion (the modes read as convert pixel by pixel, without dithering)
    without a second full-size Pillow image: blur -s 2 of a 12000x8400 CMYK JPEG converted
    to RGB in this way peaked at 1142 MiB, then 760.

    With ``spend``, the caller reads no pixel of ``image`` again. Where Pillow holds it
    in one block (`imgconv.io.pillow_memory`), grey, RGBA and CMYK samples are then the
    image's own memory, and the others are copied from it strip by strip, each strip of
    the image released once copied (`imgconv.io.pages`), so that the image shrinks as
    the samples grow."""
    width, height = image.size
    mode = mode or image.mode
    if spend:  # a decoder's error raised here: `pillow_memory.view` takes a ValueError for memory in blocks
        image.load()
    memory = pillow_memory.view(image) if spend else None
    if memory is not None and mode == image.mode and mode in ("L", "RGBA", "CMYK"):
        return memory

    def strip(top: int, bottom: int) -> np.ndarray:
        if memory is not None and mode == image.mode == "RGB":
            return memory[top:bottom, :, :3]
        part = image.crop((0, top, width, bottom))
        return np.asarray(part if part.mode == mode else part.convert(mode))

    samples: np.ndarray | None = None
    with pages.giving_up([] if memory is None else [memory]):
        for top, bottom in pages.strips(height):
            part = strip(top, bottom)
            if samples is None:
                samples = np.empty((height, *part.shape[1:]), part.dtype)
            samples[top:bottom] = part
            if memory is not None:
                pages.release_rows(memory, top, bottom)
    assert samples is not None  # Pillow's images have at least one row
    return samples
