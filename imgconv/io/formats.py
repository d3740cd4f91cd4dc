"""Image formats and sample modes: what the installed Pillow reads and writes, what
each format can hold, and how modes are named in messages.

The formats imgconv offers are the raster formats below that this Pillow can both open
and save (AVIF and WebP only where Pillow was built with them), so ``--format``, the
extensions a batch picks up and the error messages all follow what actually works.

Modes are Pillow's names for 8-bit images, plus imgconv's own for 16-bit colour, which
Pillow cannot hold (those are decoded and encoded by imagecodecs and tifffile):

=========  =========================  ==========
mode       in words                   sample max
=========  =========================  ==========
L          8-bit grey                 255
LA         8-bit grey with alpha      255
RGB        8-bit RGB                  255
RGBA       8-bit RGB with alpha       255
I;16       16-bit grey                65535
LA;16      16-bit grey with alpha     65535
RGB;16     16-bit RGB                 65535
RGBA;16    16-bit RGB with alpha      65535
CMYK       8-bit CMYK                 255
CMYK;16    16-bit CMYK                65535
CMYKA      8-bit CMYK with alpha      255
CMYKA;16   16-bit CMYK with alpha     65535
I          32-bit signed grey         65535
F          32-bit float grey          1.0
=========  =========================  ==========

CMYK's four samples are inks (0 none, the maximum full), filtered as four channels
alike: none of them is alpha. CMYK with alpha (from TIFF) is filtered as colour with
alpha is, its inks premultiplied by the alpha (which takes a pixel towards the paper,
no ink). Formats that hold no CMYK get sRGB (`imgconv.io.cmyk`).

and, for the samples TIFF and ``.npy`` hold besides (signed 8- to 64-bit integers,
unsigned 32- and 64-bit ones, 16- to 64-bit floats), ``KIND;TYPE`` with KIND one of L,
LA, RGB, RGBA and TYPE NumPy's name: ``L;int8`` is "8-bit signed grey", ``RGBA;float64``
"64-bit float RGB with alpha"; their sample max is the type's largest value, 1.0 for
floats (what alpha and ``--normalize`` scale to).
"""

import contextlib
import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import numpy as np

from .metadata import RESOLUTIONS

if TYPE_CHECKING:
    from .picture import Picture
    from .write import EncodeOptions

NPY = "NPY"
MULTICHANNEL = "multichannel"

_CHANNEL_KINDS = ("L", "LA", "RGB", "RGBA")  # by channel count
_KIND_WORDS = {"L": "grey", "LA": "grey with alpha", "RGB": "RGB", "RGBA": "RGB with alpha"}
_SIGNS = {"i": "signed", "u": "unsigned", "f": "float"}
# Sample types beyond 8- and 16-bit unsigned ones: TIFF's SampleFormat holds signed and
# unsigned integers of 8 to 64 bits and floats of 16 to 64 (tifffile writes them all);
# .npy holds every one.
WIDE_TYPES: tuple[np.dtype[Any], ...] = tuple(
    np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64, np.uint32, np.uint64, np.float16, np.float32,
                          np.float64))


def _wide_mode(dtype: np.dtype, channels: int) -> str:
    """The mode of ``channels`` samples of a `WIDE_TYPES` type: Pillow's I and F for
    grey int32 and float32, ``KIND;TYPE`` otherwise."""
    pillow = {(1, "int32"): "I", (1, "float32"): "F"}
    return pillow.get((channels, dtype.name), f"{_CHANNEL_KINDS[channels - 1]};{dtype.name}")


_WIDE = {_wide_mode(dtype, channels): (dtype, kind)
         for dtype in WIDE_TYPES for channels, kind in enumerate(_CHANNEL_KINDS, 1)}
WORDS = {
    "L": "8-bit grey", "LA": "8-bit grey with alpha", "RGB": "8-bit RGB", "RGBA": "8-bit RGB with alpha",
    "I;16": "16-bit grey", "LA;16": "16-bit grey with alpha", "RGB;16": "16-bit RGB",
    "RGBA;16": "16-bit RGB with alpha", "CMYK": "8-bit CMYK", "CMYK;16": "16-bit CMYK",
    "CMYKA": "8-bit CMYK with alpha", "CMYKA;16": "16-bit CMYK with alpha",
    MULTICHANNEL: "array of more than four channels",
    **{mode: f"{dtype.itemsize * 8}-bit {_SIGNS[dtype.kind]} {_KIND_WORDS[kind]}"
       for mode, (dtype, kind) in _WIDE.items()},
}
# Grey int32 ("I") is shown on the 16-bit range (--normalize, --view), the other
# integer types on their own.
SAMPLE_MAX = {"L": 255, "LA": 255, "RGB": 255, "RGBA": 255, "I;16": 65535, "LA;16": 65535, "RGB;16": 65535,
              "RGBA;16": 65535, "CMYK": 255, "CMYK;16": 65535, "CMYKA": 255,
              "CMYKA;16": 65535, "I": 65535, MULTICHANNEL: 255,
              **{mode: 1.0 if dtype.kind == "f" else int(np.iinfo(dtype).max) for mode, (dtype, _) in _WIDE.items()
                 if mode != "I"}}
DTYPE: dict[str, type[np.generic]] = {
    "L": np.uint8, "LA": np.uint8, "RGB": np.uint8, "RGBA": np.uint8, "I;16": np.uint16, "LA;16": np.uint16,
    "RGB;16": np.uint16, "RGBA;16": np.uint16, "CMYK": np.uint8, "CMYK;16": np.uint16,
    "CMYKA": np.uint8, "CMYKA;16": np.uint16, MULTICHANNEL: np.float32,
    **{mode: dtype.type for mode, (dtype, _) in _WIDE.items()}}
WITH_ALPHA = frozenset(["LA", "RGBA", "LA;16", "RGBA;16", "CMYKA", "CMYKA;16"]
                       + [mode for mode, (_, kind) in _WIDE.items() if "A" in kind])
# Modes of float samples, which --depth maps to 8 or 16 bits (`imgconv.io.change_depth`).
FLOAT = frozenset(mode for mode, (dtype, _) in _WIDE.items() if dtype.kind == "f")
# The same channels at the other depth: what --depth converts between.
OTHER_DEPTH = {"L": "I;16", "LA": "LA;16", "RGB": "RGB;16", "RGBA": "RGBA;16", "CMYK": "CMYK;16", "CMYKA": "CMYKA;16"}
OTHER_DEPTH.update({deep: shallow for shallow, deep in OTHER_DEPTH.items()})
MODE_OF = {(1, 8): "L", (2, 8): "LA", (3, 8): "RGB", (4, 8): "RGBA",
           (1, 16): "I;16", (2, 16): "LA;16", (3, 16): "RGB;16", (4, 16): "RGBA;16"}


def mode_of(dtype: np.dtype, channels: int) -> str | None:
    """The mode of an array of ``channels`` samples of ``dtype`` a pixel, kept as they
    are (booleans as 8-bit samples 0 and 1), or None for types no mode holds."""
    dtype = np.dtype(dtype).newbyteorder("=")
    if not 1 <= channels <= 4:
        return None
    if dtype in (np.bool_, np.uint8, np.uint16):
        return MODE_OF[channels, 16 if dtype == np.uint16 else 8]
    return _wide_mode(dtype, channels) if dtype in WIDE_TYPES else None


_EIGHT_BIT = frozenset(["L", "LA", "RGB", "RGBA"])
_SIXTEEN_BIT = frozenset(["I;16", "LA;16", "RGB;16", "RGBA;16"])
# CMYK inks, with alpha or not, which other formats than TIFF (and JPEG, without alpha)
# get converted to sRGB (`imgconv.io.cmyk`).
CMYK_MODES = frozenset(["CMYK", "CMYK;16", "CMYKA", "CMYKA;16"])
# How a format is written: (frames, picture, its record, the metadata kept, the options
# asked for, the destination's name for messages, the file written into). A record names its writers
# as ``module:function`` of this package, imported when first used: a command loads the
# codec of the format it writes, not every format's.
Writer = Callable[[list[np.ndarray], "Picture", "Format", dict[str, Any], "EncodeOptions", str, BinaryIO], None]


def _gif_delay_fits(milliseconds: float) -> bool:
    """GIF's delay is 16 bits of hundredths of a second; past that Pillow's GIF writer
    raises an OverflowError."""
    return int(milliseconds / 10) <= 0xFFFF


def _webp_delay_fits(milliseconds: float) -> bool:
    """WebP's duration is 24 bits of milliseconds."""
    return milliseconds <= 0xFFFFFF


def _avif_delay_fits(milliseconds: float) -> bool:
    """AVIF's frames are timed in whole milliseconds as Pillow writes them (libavif's
    timescale 1000, an unsigned 32-bit duration), from 1 ms: libavif stores 0 as 1."""
    return 1 <= round(milliseconds) <= 0xFFFFFFFF


def _apng_delay_fits(milliseconds: float) -> bool:
    """APNG's delay is a fraction of 16-bit numbers, made from seconds with a denominator
    up to 65535, as Pillow makes it (70 s fits, 65.537 s does not; past that Pillow's
    APNG writer raises a ValueError)."""
    from fractions import Fraction

    return Fraction(milliseconds / 1000).limit_denominator(0xFFFF).numerator <= 0xFFFF


def _pixels_per_metre_fits(dpi: float) -> bool:
    """PNG's pHYs and BMP's header hold whole pixels per metre up to 2**31 - 1 (PNG's
    four-byte integers stop there; BMP's are signed)."""
    return 1 <= int(dpi / 0.0254 + 0.5) <= 0x7FFFFFFF


def _jfif_dpi_fits(dpi: float) -> bool:
    """JFIF's density is 16 bits of dots per inch, as Pillow writes it (rounded; past
    65535 its writer wraps around: 70000 dpi is read back as 4464)."""
    return 1 <= round(dpi) <= 0xFFFF


def _rational_dpi_fits(dpi: float) -> bool:
    """TIFF's resolution is a fraction of 32-bit numbers: it holds every resolution
    read (`imgconv.io.metadata.RESOLUTIONS`)."""
    low, high = RESOLUTIONS
    return low <= dpi <= high


@dataclass(frozen=True)
class Format:
    """An output format: what it holds and how it is written.

    Attributes
    ----------
    name : str
        Pillow's name of the format; ``NPY`` for ``.npy`` arrays.
    extension : str
        The extension a batch gives outputs of the format.
    holds : frozenset of str
        The modes it stores (checked against Pillow's encoders in the tests). Anything
        else is refused before filtering, naming the formats that can hold it.
    raw : bool
        It holds the raw result, any array of numbers in its own type, unchecked
        (``.npy``); not an image Pillow opens.
    animates : bool
        It stores several frames (animations, TIFF pages).
    sizes_differ : bool
        Its frames may differ in size (TIFF's pages); an animation has one canvas.
    max_side : int, optional
        The longest side it holds.
    feature : str, optional
        The Pillow feature its codec needs (Pillow may be built without it).
    plugin : str
        The module of Pillow's that opens and saves it, which registers its extensions
        (``""`` for ``.npy``).
    quality : int, optional
        Its quality when the input says nothing, for formats that take one.
    delay_fits : callable, optional
        Whether it stores a frame of this many milliseconds, for formats that time
        their frames (and can fail to).
    dpi_fits : callable, optional
        Whether it stores this resolution (dots per inch), for formats whose writer
        here stores one; the others keep none.
    title : str
        Its name in a list of formats in a message, where not ``name``.
    compression : bool
        It takes a compression scheme (``--compression``, `imgconv.io.write.EncodeOptions`).
    writer : str
        Its encoder (of every frame, where there is no ``animation_writer``), as
        ``module:function`` of `imgconv.io` (a `Writer`).
    animation_writer : str
        Its encoder of animations, where they are written apart from its still images;
        ``""`` where there is none.
    """

    name: str
    extension: str
    holds: frozenset[str] = frozenset()
    raw: bool = False
    animates: bool = False
    sizes_differ: bool = False
    max_side: int | None = None
    feature: str | None = None
    plugin: str = ""
    quality: int | None = None
    delay_fits: Callable[[float], bool] | None = None
    dpi_fits: Callable[[float], bool] | None = None
    title: str = ""
    compression: bool = False
    writer: str = ""
    animation_writer: str = ""

    def holds_duration(self, milliseconds: float) -> bool:
        """Whether an animation in this format can give a frame this long, as Pillow
        writes it."""
        return self.delay_fits is None or self.delay_fits(milliseconds)

    @property
    def timed(self) -> bool:
        """Whether its frames make an animation, each shown for a time (not pages)."""
        return self.delay_fits is not None

    def writer_of(self, animated: bool) -> Writer:
        """Its writer of an animation (several frames, or one as an animation), or of a
        still image, its codec module imported on first use."""
        spec = self.animation_writer if animated and self.animation_writer else self.writer
        module, _, function = spec.partition(":")
        return cast(Writer, getattr(importlib.import_module(f"{__package__}.{module}"), function))


# The formats imgconv writes, in the order messages and `imgconv formats` list them.
# JPEG's, GIF's and TGA's headers have 16 bits for a side, WebP's 14; AVIF's format allows
# more, but libavif (Pillow's reader, and most others) refuses to decode a side beyond
# 32768 by default, so a longer one is a file nobody opens. JPEG's default quality is
# ImageMagick's (92); WebP's and AVIF's 90.
FORMATS = {record.name: record for record in [
    Format("PNG", ".png", _EIGHT_BIT | _SIXTEEN_BIT, animates=True, delay_fits=_apng_delay_fits,
           dpi_fits=_pixels_per_metre_fits, plugin="PngImagePlugin", writer="png:write_png",
           animation_writer="animation:write_apng"),
    Format("TIFF", ".tiff", _EIGHT_BIT | _SIXTEEN_BIT | CMYK_MODES | frozenset(_WIDE), animates=True,
           sizes_differ=True, compression=True, dpi_fits=_rational_dpi_fits, plugin="TiffImagePlugin",
           writer="tiff_write:write_tiff"),
    Format("JPEG", ".jpg", frozenset(["L", "RGB", "CMYK"]), max_side=65535, feature="jpg", quality=92,
           dpi_fits=_jfif_dpi_fits, plugin="JpegImagePlugin", writer="pillow_write:write_jpeg"),
    Format("JPEG2000", ".jp2", _EIGHT_BIT | frozenset(["I;16"]), feature="jpg_2000", plugin="Jpeg2KImagePlugin",
           writer="pillow_write:write_jpeg2000"),
    Format("WEBP", ".webp", _EIGHT_BIT, animates=True, max_side=16383, feature="webp", quality=90,
           delay_fits=_webp_delay_fits, title="WebP", plugin="WebPImagePlugin", writer="pillow_write:write_webp",
           animation_writer="animation:write_animated_webp"),
    Format("AVIF", ".avif", _EIGHT_BIT, animates=True, max_side=32768, feature="avif", quality=90,
           delay_fits=_avif_delay_fits, plugin="AvifImagePlugin", writer="pillow_write:write_avif",
           animation_writer="pillow_write:write_animated_avif"),
    # RGBA with one level of transparency (`imgconv.io.animation.gif_image`)
    Format("GIF", ".gif", frozenset(["L", "RGB", "RGBA"]), animates=True, max_side=65535,
           delay_fits=_gif_delay_fits, plugin="GifImagePlugin", writer="animation:write_gif"),
    # Alpha in a 32-bit BMP with an alpha mask, grey as R = G = B (`imgconv.io.bmp_write`)
    Format("BMP", ".bmp", _EIGHT_BIT, dpi_fits=_pixels_per_metre_fits, plugin="BmpImagePlugin",
           writer="bmp_write:write_bmp"),
    Format("TGA", ".tga", _EIGHT_BIT, max_side=65535, plugin="TgaImagePlugin", writer="pillow_write:write_plain"),
    Format("QOI", ".qoi", frozenset(["RGB", "RGBA"]), plugin="QoiImagePlugin", writer="pillow_write:write_plain"),
    Format("PPM", ".ppm", frozenset(["L", "RGB", "I;16"]), plugin="PpmImagePlugin", writer="pillow_write:write_plain"),
    Format(NPY, ".npy", raw=True, animates=True, writer="npy_write:write_npy"),
]}


def _usable(fmt: str) -> bool:
    """Whether the Pillow plugins loaded so far open and save ``fmt``."""
    from PIL import Image, features

    record = FORMATS.get(fmt)
    return record is not None and not record.raw and fmt in Image.OPEN and fmt in Image.SAVE and \
        (record.feature is None or bool(features.check(record.feature)))


@functools.cache
def available() -> dict[str, tuple[str, ...]]:
    """``{format: (extensions...)}`` for the formats this Pillow can open and save."""
    from PIL import Image

    extensions: dict[str, list[str]] = {}
    for extension, fmt in Image.registered_extensions().items():  # loads every plugin
        extensions.setdefault(fmt, []).append(extension)
    result = {fmt: tuple(sorted(extensions.get(fmt, ()))) for fmt in FORMATS if _usable(fmt)}
    result.update({record.name: (record.extension,) for record in FORMATS.values() if record.raw})
    return result


@functools.cache
def names() -> dict[str, str]:
    """``--format`` names: each format's own name and its extensions, lower case."""
    table = {}
    for fmt, extensions in available().items():
        table[fmt.lower()] = fmt
        for extension in extensions:
            table.setdefault(extension[1:], fmt)
    return table


def readable_extensions() -> frozenset[str]:
    """Extensions a batch takes from a folder."""
    return frozenset(e for extensions in available().values() for e in extensions)


def extension_of(fmt: str) -> str:
    """The extension batch outputs of ``fmt`` get: ``.png``, ``.jpg``, ``.npy``..."""
    return FORMATS[fmt].extension


def format_of_extension(extension: str) -> str | None:
    """The format of a file extension such as ``.tif``, or None if none offers it."""
    from PIL import Image

    extension = extension.lower()
    raw = next((record.name for record in FORMATS.values() if record.raw and record.extension == extension), None)
    if raw is not None:
        return raw
    # Pillow's first five formats (PNG, JPEG, GIF, BMP, PPM) need no other plugin, and
    # the others' extensions are registered by their own plugins, loaded here one by
    # one: loading all of Pillow's plugins (available) takes 40-47 ms, loading
    # TiffImagePlugin alone 1-5 ms (Python 3.11, Pillow 13, a busy 2-core machine).
    Image.preinit()
    for record in FORMATS.values():
        if extension in Image.EXTENSION:
            break
        if record.plugin:
            with contextlib.suppress(ImportError):  # a plugin this Pillow lacks (AVIF's before 11.2)
                importlib.import_module(f"PIL.{record.plugin}")
    if extension in Image.EXTENSION and _usable(Image.EXTENSION[extension]):
        return Image.EXTENSION[extension]
    return next((fmt for fmt, extensions in available().items() if extension in extensions), None)


def holders(mode: str) -> str:
    """The formats that can hold ``mode``, as words for a message: ``PNG, TIFF or .npy``."""
    formats = [f for f in available() if not FORMATS[f].raw and mode in FORMATS[f].holds]
    formats += [record.extension for record in FORMATS.values() if record.raw]
    return listed(formats)


def listed(words: list[str]) -> str:
    """Words for a message: ``PNG, TIFF or .npy``; ``PNG`` alone."""
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0]


_KINDS = {"L": "grey", "LA": "grey+alpha", "RGB": "RGB", "RGBA": "RGBA", "CMYK": "CMYK",
          "I;16": "grey", "LA;16": "grey+alpha", "RGB;16": "RGB", "RGBA;16": "RGBA", "CMYK;16": "CMYK"}


def summary(fmt: str) -> str:
    """What ``fmt`` holds, in words: ``8-bit grey, RGB; 16-bit grey; frames``."""
    record = FORMATS[fmt]
    if record.raw:
        return "any array of numbers; frames"
    parts = []
    for depth, modes in (("8-bit", ("L", "LA", "RGB", "RGBA", "CMYK")),
                         ("16-bit", ("I;16", "LA;16", "RGB;16", "RGBA;16", "CMYK;16"))):
        kinds = [_KINDS[m] for m in modes if m in record.holds]
        if kinds:
            parts.append(f"{depth} {', '.join(kinds)}")
    if set(_WIDE) <= record.holds:
        parts.append("the same in signed 8- to 64-bit, unsigned 32- and 64-bit and 16- to 64-bit float samples")
    if record.animates:
        parts.append("frames")
    return "; ".join(parts)


def table() -> list[str]:
    """One line per available format: name, extensions, what it holds."""
    return [f"{fmt.lower():<9} {' '.join(extensions):<28} {summary(fmt)}" for fmt, extensions in available().items()]
