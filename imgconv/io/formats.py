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
I          32-bit signed grey         65535
F          32-bit float grey          1.0
=========  =========================  ==========

and, for the samples TIFF and ``.npy`` hold besides (signed 8- to 64-bit integers,
unsigned 32- and 64-bit ones, 16- to 64-bit floats), ``KIND;TYPE`` with KIND one of L,
LA, RGB, RGBA and TYPE NumPy's name: ``L;int8`` is "8-bit signed grey", ``RGBA;float64``
"64-bit float RGB with alpha"; their sample max is the type's largest value, 1.0 for
floats (what alpha and ``--normalize`` scale to).
"""

import functools

import numpy as np

NPY = "NPY"
MULTICHANNEL = "multichannel"

_CHANNEL_KINDS = ("L", "LA", "RGB", "RGBA")  # by channel count
_KIND_WORDS = {"L": "grey", "LA": "grey with alpha", "RGB": "RGB", "RGBA": "RGB with alpha"}
_SIGNS = {"i": "signed", "u": "unsigned", "f": "float"}
# Sample types beyond 8- and 16-bit unsigned ones: TIFF's SampleFormat holds signed and
# unsigned integers of 8 to 64 bits and floats of 16 to 64 (tifffile writes them all);
# .npy holds every one.
WIDE_TYPES = tuple(np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64, np.uint32, np.uint64, np.float16,
                                         np.float32, np.float64))


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
    "RGBA;16": "16-bit RGB with alpha", MULTICHANNEL: "array of more than four channels",
    **{mode: f"{dtype.itemsize * 8}-bit {_SIGNS[dtype.kind]} {_KIND_WORDS[kind]}"
       for mode, (dtype, kind) in _WIDE.items()},
}
# Grey int32 ("I") is shown on the 16-bit range (--normalize, --view), the other
# integer types on their own.
SAMPLE_MAX = {"L": 255, "LA": 255, "RGB": 255, "RGBA": 255, "I;16": 65535, "LA;16": 65535, "RGB;16": 65535,
              "RGBA;16": 65535, "I": 65535, MULTICHANNEL: 255,
              **{mode: 1.0 if dtype.kind == "f" else int(np.iinfo(dtype).max) for mode, (dtype, _) in _WIDE.items()
                 if mode != "I"}}
DTYPE = {"L": np.uint8, "LA": np.uint8, "RGB": np.uint8, "RGBA": np.uint8, "I;16": np.uint16, "LA;16": np.uint16,
         "RGB;16": np.uint16, "RGBA;16": np.uint16, MULTICHANNEL: np.float32,
         **{mode: dtype.type for mode, (dtype, _) in _WIDE.items()}}
WITH_ALPHA = frozenset(["LA", "RGBA", "LA;16", "RGBA;16"] + [mode for mode, (_, kind) in _WIDE.items() if "A" in kind])
# Modes of float samples, which --depth maps to 8 or 16 bits (`imgconv.io.change_depth`).
FLOAT = frozenset(mode for mode, (dtype, _) in _WIDE.items() if dtype.kind == "f")
# The same channels at the other depth: what --depth converts between.
OTHER_DEPTH = {"L": "I;16", "LA": "LA;16", "RGB": "RGB;16", "RGBA": "RGBA;16"}
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


_EIGHT_BIT = {"L", "LA", "RGB", "RGBA"}
_SIXTEEN_BIT = {"I;16", "LA;16", "RGB;16", "RGBA;16"}
# What each format stores, by mode (checked against Pillow's encoders in the tests).
# Anything else is refused before filtering, naming the formats that can hold it.
HOLDS = {
    "PNG": _EIGHT_BIT | _SIXTEEN_BIT,
    "TIFF": _EIGHT_BIT | _SIXTEEN_BIT | set(_WIDE),
    "JPEG": {"L", "RGB"},
    "JPEG2000": {"L", "LA", "RGB", "RGBA"},
    "WEBP": {"L", "LA", "RGB", "RGBA"},
    "AVIF": {"L", "LA", "RGB", "RGBA"},
    "GIF": {"L", "RGB", "RGBA"},  # RGBA with one level of transparency (see imageio)
    "BMP": {"L", "RGB"},  # Pillow writes RGBA as 32-bit BMP with no alpha mask
    "TGA": {"L", "LA", "RGB", "RGBA"},
    "QOI": {"RGB", "RGBA"},
    "PPM": {"L", "RGB", "I;16"},
}
# Formats that store several frames (animations, TIFF pages).
ANIMATED = frozenset(["GIF", "PNG", "WEBP", "TIFF"])
# The longest side each format holds: JPEG's and GIF's headers have 16 bits for it,
# WebP's 14; AVIF's format allows more, but libavif (Pillow's reader, and most others)
# refuses to decode a side beyond 32768 by default, so a longer one is a file nobody
# opens (found by fuzzing).
MAX_SIDE = {"JPEG": 65535, "GIF": 65535, "WEBP": 16383, "AVIF": 32768}
# Pillow features the formats' codecs need; Pillow may be built without them.
_FEATURE = {"WEBP": "webp", "AVIF": "avif", "JPEG2000": "jpg_2000", "JPEG": "jpg"}
# The extension a batch gives outputs of each format, where it is not the name itself.
_EXTENSION = {"JPEG": ".jpg", "JPEG2000": ".jp2"}


def _usable(fmt):
    """Whether the Pillow plugins loaded so far open and save ``fmt``."""
    from PIL import Image, features

    feature = _FEATURE.get(fmt)
    return fmt in HOLDS and fmt in Image.OPEN and fmt in Image.SAVE and (feature is None or features.check(feature))


@functools.cache
def available():
    """``{format: (extensions...)}`` for the formats this Pillow can open and save."""
    from PIL import Image

    extensions = {}
    for extension, fmt in Image.registered_extensions().items():  # loads every plugin
        extensions.setdefault(fmt, []).append(extension)
    result = {fmt: tuple(sorted(extensions.get(fmt, ()))) for fmt in HOLDS if _usable(fmt)}
    result[NPY] = (".npy",)
    return result


@functools.cache
def names():
    """``--format`` names: each format's own name and its extensions, lower case."""
    table = {}
    for fmt, extensions in available().items():
        table[fmt.lower()] = fmt
        for extension in extensions:
            table.setdefault(extension[1:], fmt)
    return table


def readable_extensions():
    """Extensions a batch takes from a folder."""
    return frozenset(e for extensions in available().values() for e in extensions)


def extension_of(fmt):
    """The extension batch outputs of ``fmt`` get: ``.png``, ``.jpg``, ``.npy``..."""
    return _EXTENSION.get(fmt, "." + fmt.lower())


def format_of_extension(extension):
    """The format of a file extension such as ``.tif``, or None if none offers it."""
    from PIL import Image

    extension = extension.lower()
    if extension == ".npy":
        return NPY
    # Pillow's first five formats (PNG, JPEG, GIF, BMP, PPM) need no other plugin:
    # loading all of them takes 20 ms, a tenth of a small file's whole run.
    Image.preinit()
    if extension in Image.EXTENSION and _usable(Image.EXTENSION[extension]):
        return Image.EXTENSION[extension]
    return next((fmt for fmt, extensions in available().items() if extension in extensions), None)


def holders(mode):
    """The formats that can hold ``mode``, as words for a message: ``PNG, TIFF or .npy``."""
    formats = [f for f in available() if f != NPY and mode in HOLDS[f]] + [".npy"]
    return ", ".join(formats[:-1]) + " or " + formats[-1] if len(formats) > 1 else formats[0]


_KINDS = {"L": "grey", "LA": "grey+alpha", "RGB": "RGB", "RGBA": "RGBA",
          "I;16": "grey", "LA;16": "grey+alpha", "RGB;16": "RGB", "RGBA;16": "RGBA"}


def summary(fmt):
    """What ``fmt`` holds, in words: ``8-bit grey, RGB; 16-bit grey; frames``."""
    if fmt == NPY:
        return "any array of numbers; frames"
    parts = []
    for depth, modes in (("8-bit", ("L", "LA", "RGB", "RGBA")), ("16-bit", ("I;16", "LA;16", "RGB;16", "RGBA;16"))):
        kinds = [_KINDS[m] for m in modes if m in HOLDS[fmt]]
        if kinds:
            parts.append(f"{depth} {', '.join(kinds)}")
    if set(_WIDE) <= HOLDS[fmt]:
        parts.append("the same in signed 8- to 64-bit, unsigned 32- and 64-bit and 16- to 64-bit float samples")
    if fmt in ANIMATED:
        parts.append("frames")
    return "; ".join(parts)


def table():
    """One line per available format: name, extensions, what it holds."""
    return [f"{fmt.lower():<9} {' '.join(extensions):<28} {summary(fmt)}" for fmt, extensions in available().items()]


def holds_duration(fmt, milliseconds):
    """Whether an animation in ``fmt`` can give a frame this long, as Pillow writes it:
    GIF's delay is 16 bits of hundredths of a second, WebP's 24 bits of milliseconds,
    and APNG's a fraction of 16-bit numbers, which Pillow makes from seconds with a
    denominator up to 65535 (70 s fits, 65.537 s does not). A WebP frame of 8,388,607
    ms raised an OverflowError in Pillow's GIF writer (found by fuzzing) and a
    ValueError in its APNG writer."""
    if fmt == "GIF":
        return int(milliseconds / 10) <= 0xFFFF
    if fmt == "WEBP":
        return milliseconds <= 0xFFFFFF
    if fmt == "PNG":
        from fractions import Fraction

        return Fraction(milliseconds / 1000).limit_denominator(0xFFFF).numerator <= 0xFFFF
    return True
