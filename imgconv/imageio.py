"""Images in and out: decoding, orientation, frames, metadata, encoding (writing is in
`imgconv.sink`).

A `Picture` holds an image's frames as NumPy arrays in the file's own units (0-255 for
8-bit, 0-65535 for 16-bit, floats as stored), its mode (see `imgconv.formats`), and what
is needed to write a result back the same way: metadata, the input's JPEG tables and
subsampling or WebP losslessness, and an animation's timing.

Pillow reads every file's header and metadata. Pixels are decoded by imagecodecs where
it is quicker and its samples are Pillow's: single-frame 8-bit PNGs (libpng, a little
over twice as fast as Pillow's decoder) and JPEGs of grey or YCbCr colour
(libjpeg-turbo, as Pillow's, without Pillow's copies); by imagecodecs also 16-bit
colour, which Pillow cannot hold (TIFFs of it by tifffile); by Pillow everything else.
Modes are read as follows; the output keeps the mode it was read as:

=============  ===================  =========================================
file           read as              why
=============  ===================  =========================================
L, LA          L, LA
RGB(A)         RGB, RGBA
16-bit colour  LA;16, RGB;16, ...   16 bits a sample stay 16 bits
P, PA          RGB or RGBA          a palette cannot hold blurred colours
1              L (0 or 255)         a filtered bilevel image has grey levels
I;16*          I;16                 16-bit grey (16-bit PGM too)
I, F           I, F
other          RGB                  CMYK, YCbCr, LAB, HSV
=============  ===================  =========================================
"""

import contextvars
import functools
import io
import math
import os
import re
import select
import stat
import struct
import sys
import warnings
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from . import animation, chunks, claims, formats, npyfile
from .errors import ImageReadError, ImageWriteError, ImgconvError, InvalidInputError, PixelLimitError
from .formats import NPY
from .names import quote_name
from .png import COLOUR_TYPES, encode_png
from .sink import STDIO, check_destination, write_bytes  # noqa: F401 (the write side, importable from here too)
from .vocabulary import DEFAULT_COMPRESS_LEVEL, DEFAULT_MAX_PIXELS

if TYPE_CHECKING:  # Pillow is imported where it is needed: a .npy needs none of it
    from PIL import TiffImagePlugin

_NPY_MAGIC = b"\x93NUMPY"
_TIFF_MAGIC = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")
_ORIENTATION = 0x0112  # EXIF tag
# The orientation that undoes each: turning by 90° one way (6) is undone by the other
# way (8); the flips and transpositions undo themselves.
_UNDO = {6: 8, 8: 6}
_XMP, _ICC = 700, 34675  # TIFF tags
# TIFF's PhotometricInterpretation: grey where 0 is white, where 0 is black, RGB, a palette
_MINISWHITE, _MINISBLACK, _RGB, _PALETTE = 0, 1, 2, 3
_ASSOCIATED_ALPHA = 1  # TIFF's ExtraSamples: alpha that the colour samples are multiplied by
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
    _ICC, _XMP,
])
# Pillow's numbers for JPEG chroma subsampling (JpegImagePlugin.get_sampling).
_SUBSAMPLING = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}
# Defaults when the input says nothing: JPEG at ImageMagick's quality 92 with full-resolution
# chroma, since filtered images (edges, sharpened detail) have sharp colour edges that 4:2:0
# smears; WebP and AVIF at 90.
DEFAULT_QUALITY = {"JPEG": 92, "WEBP": 90, "AVIF": 90}
DEFAULT_SUBSAMPLING = "4:4:4"
# No image under the pixel limit takes more bytes a pixel than four 32-bit samples, plus
# room for metadata: a larger input (or an endless one such as /dev/zero) is refused
# before it is read whole.
_MAX_BYTES_A_PIXEL = 16
_METADATA_BYTES = 64 << 20


@dataclass
class Picture:
    """An image's frames and how to write a result back in the same form.

    Attributes
    ----------
    frames : list of numpy.ndarray
        (H, W) or (H, W, C) samples in the file's units, one array per frame or page.
    mode : str
        The mode the result is written in (`imgconv.formats`).
    format : str
        Pillow's name of the input format, or ``"NPY"``.
    metadata : dict
        ``icc_profile``, ``exif``, ``xmp`` and ``comment`` as the input had them, with
        the EXIF orientation removed (and the XMP's set to 1) once it has been applied.
    encoding : dict
        What the input's encoder chose: ``qtables`` and ``subsampling`` for JPEG,
        ``lossless`` for WebP, ``compression`` (the TIFF tag's number) and ``bilevel``
        (stored at 1 bit a sample) for TIFF.
    animation : dict
        For several frames: ``duration`` (ms, per frame) and ``loop``, as far as the
        format has them. Frames are whole pictures as displayed, so how the input
        composed them (disposal, blending) is not kept: `imgconv.animation` writes them.
    name : str
        The input as messages name it: its path, ``<stdin>``, or "the input".
    """

    frames: list
    mode: str
    format: str
    metadata: dict = field(default_factory=dict)
    encoding: dict = field(default_factory=dict)
    animation: dict = field(default_factory=dict)
    name: str = "the input"

    @property
    def pixels(self):
        """The samples of a single-frame picture."""
        if len(self.frames) != 1:
            raise InvalidInputError(f"the image has {len(self.frames)} frames; take one first "
                                    "(imgconv identity --frame N IN OUT)")
        return self.frames[0]

    @property
    def has_alpha(self):
        return self.mode in formats.WITH_ALPHA

    @property
    def sample_max(self):
        return formats.SAMPLE_MAX[self.mode]

    @property
    def sample_dtype(self):
        """The NumPy type of the samples written in ``mode``."""
        return np.dtype(formats.DTYPE[self.mode])

    @property
    def description(self):
        """The mode in words, with the frame count: ``16-bit RGB``, ``8-bit RGB, 3 frames``."""
        words = formats.WORDS[self.mode]
        return words if len(self.frames) == 1 else f"{words}, {len(self.frames)} frames"


def read_image(source, *, frame=None, auto_orient=True, max_pixels=DEFAULT_MAX_PIXELS, only_regular=False):
    """Read an image file, ``.npy`` array, or ``"-"`` for standard input.

    Parameters
    ----------
    source : str or os.PathLike
    frame : int, optional
        Read only this frame (page) of an animation or multi-page TIFF, 0-based;
        default every frame.
    auto_orient : bool
        Turn the pixels as the EXIF orientation says (or, where EXIF has none, the XMP's,
        as Pillow's ``ImageOps.exif_transpose``), so that they are the image as it is
        displayed; drop the EXIF tag and set the XMP's to 1. False keeps the stored
        pixels and the tags.
    max_pixels : int
        Refuse, from its header and before decoding, an image whose frames read hold
        more pixels than this in all (a ``.npy`` counts H x W x ceil(C / 4)); 0 for no
        limit. The input's size in bytes is limited accordingly.
    only_regular : bool
        Refuse, without waiting, an input that is not a regular file (a FIFO, a device),
        as a batch does: reading one waits for a writer, for ever if none comes. Without
        it, a FIFO is read as a pipe is (see `open_input`).

    Raises `ImageReadError` with the file name and the reason when it cannot.
    """
    name = "<stdin>" if source == STDIO else quote_name(source)
    from . import tiled

    if tiled.is_zarr(source):
        return tiled.read_picture(source, frame=frame, max_pixels=max_pixels)
    try:
        data = _read_bytes(source, name, max_bytes(max_pixels), only_regular)
        return decode_image(data, name, frame=frame, auto_orient=auto_orient, max_pixels=max_pixels)
    except PixelLimitError as exc:
        if tiled.is_tiled_tiff(source, frame):
            raise PixelLimitError(f"{exc}; {tiled.STREAM_HINT}") from None
        raise


def max_bytes(max_pixels):
    """The most bytes an encoded image within ``max_pixels`` can take (0: no limit), so
    that a larger input is refused before it is read whole."""
    return max_pixels and max_pixels * _MAX_BYTES_A_PIXEL + _METADATA_BYTES


def decode_image(data, name, *, frame=None, auto_orient=True, max_pixels=DEFAULT_MAX_PIXELS):
    """`read_image` on an encoded image held in memory (``bytes``); ``name`` is what
    error messages call it."""
    budget = _PixelBudget(max_pixels, name)
    if data.startswith(_NPY_MAGIC):
        picture = _picture_from_npy(data, name, budget)
        _frame_indices(1, frame, name)
        picture.name = name
        return picture
    from PIL import Image, UnidentifiedImageError

    if data.startswith(chunks.PNG_SIGNATURE):
        data = chunks.checked_png(data, name)
    # imgconv's limit decides, not Pillow's process-wide one, and only in this call
    # (`_pillow_limit`): none while the file is opened, so that imgconv's own check
    # names the first frame's size. Then Pillow's check guards what only Pillow sees:
    # seeking to a GIF frame, it allocates the frame's canvas or the area its disposal
    # clears from the frame's header, before imgconv can take the frame's size (a 24x16
    # GIF whose second frame claimed 65534x4096 took 1 GB before imgconv refused it).
    limit = _pillow_limit().set(None)
    libtiff_errors = _LibtiffErrors()
    recording = _libtiff_errors().set(libtiff_errors)
    try:
        # Pillow warns of what it skips in a damaged file; whatever matters fails below.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                with Image.open(io.BytesIO(data)) as image:
                    _pillow_limit().set(max_pixels or None)
                    picture = _picture_from_pillow(image, data, frame, name, budget)
            except UnidentifiedImageError:
                if not data.startswith(_TIFF_MAGIC):
                    raise _unidentified(data, name, budget) from None
                # Pillow cannot open 16-bit grey+alpha TIFFs
                picture = _picture_from_tifffile(data, frame, name, {}, budget)
        libtiff_errors.check(name)
    except ImgconvError:
        raise
    except Image.DecompressionBombError:
        raise PixelLimitError(f"{name}: its header gives a frame more pixels than the limit of {max_pixels} "
                              "(--max-pixels N raises it; 0 lifts it)") from None
    except Exception as exc:
        # Parsers of damaged or hostile files fail in every way: OSError and ValueError
        # mostly, but also TypeError, IndexError, MemoryError, imagecodecs' RuntimeErrors.
        # What a decoder lacks (a TIFF compression, Ghostscript for EPS, a stub format's
        # loader) is said as such; a TypeError's "not supported" is damage.
        lacking = not isinstance(exc, TypeError) and _LACKING.search(str(exc))
        what = "unsupported by the decoders imgconv uses" if lacking else "corrupt or truncated image"
        raise ImageReadError(f"{name}: {what} ({exc})") from None
    finally:
        _pillow_limit().reset(limit)
        _libtiff_errors().reset(recording)
    picture.name = name
    exif = picture.metadata.get("exif")
    if exif is not None and exif.bigtiff:
        picture.metadata["exif"] = exif = _classic_exif(exif)
    if auto_orient and exif is not None and orientation_of(exif.get(_ORIENTATION)) != 1:
        orientation = orientation_of(exif.pop(_ORIENTATION))
        picture.frames = [_orient(f, orientation) for f in picture.frames]
        if "xmp" in picture.metadata:
            picture.metadata["xmp"] = _upright_xmp(picture.metadata["xmp"])
        if not len(exif):
            del picture.metadata["exif"]
    return picture


@functools.cache
def _pillow_limit() -> contextvars.ContextVar:
    """The pixel limit of Pillow's size checks in the `decode_image` call running in
    this thread (None: no limit).

    Pillow's decoders check each size they learn against one process-wide number,
    ``Image.MAX_IMAGE_PIXELS``: set per call, two threads decoding under different
    limits would each use the other's. So Pillow's check (``_decompression_bomb_check``,
    which its plugins call by that name) is wrapped, once: inside `decode_image` it
    refuses a size over that call's limit; anywhere else it is Pillow's own, under
    Pillow's number, as a program that imports imgconv expects.
    """
    from PIL import Image

    limit = contextvars.ContextVar("imgconv_pillow_limit")
    pillows = Image._decompression_bomb_check

    @functools.wraps(pillows)
    def check(size, *args, **options):
        pixels = limit.get(Ellipsis)
        if pixels is Ellipsis:
            return pillows(size, *args, **options)
        if pixels is not None and max(1, size[0]) * max(1, size[1]) > pixels:
            raise Image.DecompressionBombError(f"{size[0]} x {size[1]} is more pixels than {pixels}")
        return None

    Image._decompression_bomb_check = check
    return limit


def _classic_exif(exif):
    """A classic EXIF holding a BigTIFF's tags. Pillow reads a BigTIFF's tags as an EXIF
    that writes itself back in BigTIFF's layout (a 16-byte header, 8-byte counts and
    offsets), which no EXIF reader takes, Pillow's own TIFF writer included. A tag whose
    values need 64 bits (BigTIFF's LONG8) has no place in it and is left out.

    Made once Pillow has loaded the pixels: its TIFF reader removes the orientation from
    the EXIF it shares with us, and `_picture_from_pillow` looks for that."""
    from PIL import ExifTags, Image

    def fitting(tags):
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


def _fits_32_bits(value):
    """Whether a tag's value (a number, text, bytes or a tuple of them) fits a classic
    TIFF's types, whose integers have 32 bits."""
    if isinstance(value, tuple):
        return all(_fits_32_bits(v) for v in value)
    return not isinstance(value, int) or -(1 << 31) <= value < 1 << 32


# The most an AVIF may hold for libavif (as Pillow 13 builds it, 1.4.2) to open it, its
# default imageSizeLimit and imageDimensionLimit: measured by giving an AVIF's header
# (ispe) 16384 x 16384 (opened) and 16385 x 16384 (refused), 32768 x 100 (opened) and
# 32769 x 100 (refused).
_LIBAVIF_MAX_PIXELS = 16384 * 16384
_LIBAVIF_MAX_SIDE = 32768


# A decoder's words for a feature or format it lacks (tifffile: "<COMPRESSION.SGILOG:
# 34676> not supported"; Pillow: "Unsupported BMP compression (6)", "cannot find loader
# for this HDF5 file", "Unable to locate Ghostscript on paths").
_LACKING = re.compile(r"\bnot supported\b|^unsupported\b|^cannot find loader|Ghostscript", re.IGNORECASE)
# What some of the reasons Pillow's plugins give mean.
_PILLOWS_WORDS = {
    "not identified by this driver": "its header gives no size or mode",  # ImageFile's check
    "unpack": "its header is cut short",  # struct.error: "unpack requires a buffer of ..."
    "unpack_from": "its header is cut short",
}


def _unidentified(data, name, budget):
    """The error for a file no Pillow plugin opened, saying why where it can: an AVIF
    over the pixel limit or beyond libavif's limits (read from its header, which libavif
    refuses without a reason), else the reason Pillow's plugin for the file's signature
    gives, asked as Image.open asks it (Image.open says it only as a warning, when the
    process-wide WARN_POSSIBLE_FORMATS is set). Plugins without a signature (TGA, for
    one) try every file, and their reasons are not taken."""
    from PIL import Image

    if data[4:8] == b"ftyp" and data[8:12] in chunks.AVIF_BRANDS and chunks.avif_sizes(data):
        width, height = max(chunks.avif_sizes(data), key=math.prod)
        budget.take(width, height)
        if width * height > _LIBAVIF_MAX_PIXELS or max(width, height) > _LIBAVIF_MAX_SIDE:
            return ImageReadError(f"{name}: a {width} x {height} AVIF, larger than libavif (Pillow's AVIF decoder) "
                                  f"opens: at most {_LIBAVIF_MAX_PIXELS} pixels and {_LIBAVIF_MAX_SIDE} a side")
    Image.init()
    for fmt in [fmt for fmt in Image.ID if _has_signature_of(fmt, data)]:
        try:
            Image.OPEN[fmt][0](io.BytesIO(data), "").close()
            continue
        except (SyntaxError, IndexError, TypeError, struct.error) as exc:  # what Image.open catches of a plugin
            reason = str(exc)
        # A plugin that finds the file is not of its format after all has nothing to add.
        if reason and not reason.lower().startswith("not a"):
            reason = _PILLOWS_WORDS.get(reason.split(" requires a buffer")[0], reason)
            return ImageReadError(f"{name}: a damaged or unsupported {fmt} file: {reason}")
    return ImageReadError(f"{name}: not an image, or a format imgconv cannot read")


def _has_signature_of(fmt, data):
    """Whether Pillow's plugin for ``fmt`` has a signature test that takes ``data`` (Pillow
    reports a plugin whose test itself failed, on a file of a few bytes, as failing to
    open it)."""
    from PIL import Image

    accept = Image.OPEN.get(fmt, (None, None))[1]
    try:
        taken = accept is not None and accept(data[:16])
    except (SyntaxError, IndexError, TypeError, struct.error):  # what Pillow catches of a test on a short file
        return False
    return bool(taken) and not isinstance(taken, str)  # a str is Pillow's "support not installed"


class _PixelBudget:
    """The pixels an image may still hold under ``--max-pixels``, taken frame by frame."""

    def __init__(self, limit, name):
        self.left, self.limit, self.name = limit or math.inf, limit, name

    def take(self, *dimensions):
        if not all(type(d) is int and d >= 0 for d in dimensions):  # a damaged TIFF gives a tuple
            raise ImageReadError(f"{self.name}: corrupt image: dimensions {dimensions}")
        pixels = math.prod(dimensions)
        self.left -= pixels
        if self.left < 0:
            raise PixelLimitError(f"{self.name}: {' x '.join(map(str, dimensions))} is more pixels than the limit of "
                                  f"{self.limit} (--max-pixels N raises it; 0 lifts it)")


# libtiff's errors that leave the pixels as they are: a ResolutionUnit it does not know
# (libtiff drops the tag; Pillow reads the resolution itself, and decoding does not use it).
_LIBTIFF_HARMLESS = re.compile(r'Bad value \d+ for "ResolutionUnit" tag')
# Where va_list, the handlers' last argument, is passed as a pointer that vsnprintf takes
# back (an array decayed to a pointer on x86-64; a large struct passed by reference on
# AArch64). Elsewhere a message is kept unformatted.
_VA_LIST_IS_POINTER = ("x86_64", "AMD64", "aarch64", "arm64")
# The ctypes callbacks libtiff holds, kept for the life of the process: a collected one
# would leave libtiff calling freed memory.
_libtiff_handlers: list = []


@functools.cache
def _libtiff_errors() -> contextvars.ContextVar:
    """The list libtiff's errors go to in the `decode_image` call running in this
    context (a thread's own), installed once as the error handler of the libtiff Pillow
    loaded.

    libtiff's fax decoders report a bad code word as an error, fill the damaged line
    and carry on: Pillow gets no failure and returns the image with the lines made up.
    Errors are therefore recorded, and `decode_image` refuses a TIFF that had any.
    Outside a decode (writing, another program's calls) they are dropped, and warnings
    always are (a tag libtiff does not know, a strip it re-estimates): libtiff's default
    handlers print both on stderr, beside imgconv's one-line error. Where libtiff
    cannot be found (not Linux), nothing is recorded and libtiff keeps its handlers.
    """
    import ctypes
    import platform

    errors = contextvars.ContextVar("imgconv_libtiff_errors")
    handler_type = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)
    vsnprintf = None
    if platform.machine() in _VA_LIST_IS_POINTER:
        vsnprintf = ctypes.CDLL(None).vsnprintf
        vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p]

    def record(module: bytes | None, fmt: bytes | None, args: int | None) -> None:
        found = errors.get(None)
        if found is None or fmt is None:
            return
        text = fmt
        if vsnprintf is not None:
            buffer = ctypes.create_string_buffer(512)
            vsnprintf(buffer, len(buffer), fmt, args)
            text = buffer.value
        found.add(text.decode("utf-8", "replace"))

    def drop(module: bytes | None, fmt: bytes | None, args: int | None) -> None:
        pass

    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "libtiff" in line}
    except OSError:
        return errors
    _libtiff_handlers.extend([handler_type(record), handler_type(drop)])
    for path in paths:
        try:
            library = ctypes.CDLL(path)  # the copy already loaded: dlopen hands it back
        except OSError:
            continue
        library.TIFFSetErrorHandler.argtypes = library.TIFFSetWarningHandler.argtypes = [handler_type]
        library.TIFFSetErrorHandler.restype = library.TIFFSetWarningHandler.restype = ctypes.c_void_p
        library.TIFFSetErrorHandler(_libtiff_handlers[0])
        library.TIFFSetWarningHandler(_libtiff_handlers[1])
    return errors


@dataclass
class _LibtiffErrors:
    """The errors libtiff reported during one decode: the first that matters, and how
    many more (a damaged fax can have one a line)."""

    first: str | None = None
    more: int = 0

    def add(self, error: str) -> None:
        if _LIBTIFF_HARMLESS.search(error):
            return
        if self.first is None:
            self.first = error
        else:
            self.more += 1

    def check(self, name: str) -> None:
        """Refuse the TIFF libtiff reported an error about."""
        if self.first is not None:
            more = f", {self.more + 1} errors in all" if self.more else ""
            raise ImageReadError(f"{name}: damaged TIFF data (libtiff: {self.first}{more})")


def _read_bytes(source, name, limit, only_regular=False):
    """The whole input, or a refusal once it holds more than ``limit`` bytes (0: none)."""
    try:
        if source == STDIO:
            if sys.stdin.isatty():
                raise ImageReadError(f"{name}: standard input is a terminal; pipe an image in")
            return _read_at_most(sys.stdin.buffer, limit, name)
        with open_input(source, name, only_regular) as file:
            return _read_at_most(file, limit, name)
    except FileNotFoundError:
        raise ImageReadError(f"{name}: no such file") from None
    except OSError as exc:
        raise ImageReadError(f"{name}: cannot read: {exc.strerror or exc}") from None


_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


def kind_of(mode: int) -> str:
    """What a file of ``st_mode`` ``mode`` is, in words: "a named pipe (FIFO)"..."""
    return next((words for test, words in _KINDS if test(mode)), "not a regular file")


def open_input(path, name: str, only_regular: bool = False) -> io.BufferedReader:
    """``path`` open for reading, found out with ``fstat`` before anything waits on it.

    The file is opened with ``O_NONBLOCK``: opening a FIFO would otherwise wait for a
    writer, for ever if none comes, and no check by name beforehand can stop it (the
    name can be replaced between the check and the open). A regular file is read as it
    is. With ``only_regular`` anything else is refused (`ImageReadError`); without it, a
    FIFO is read as ``cat`` reads it, once its writer has written (or come and gone; a
    signal still ends the wait in the main thread), and a device in blocking mode.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            if stat.S_ISDIR(mode):
                raise ImageReadError(f"{name}: is a folder, not an image file")
            if only_regular:
                raise ImageReadError(f"{name}: is {kind_of(mode)}, not a regular file; a batch reads regular "
                                     "files only (one INPUT and one OUTPUT may be a pipe)")
            if stat.S_ISFIFO(mode):
                # Read now, a FIFO no writer has opened yet is at its end. Linux's poll
                # reports nothing on it until a writer has written or closed; opening it
                # again in blocking mode instead would wait for ever for a writer that
                # wrote its few bytes and left in between.
                poller = select.poll()
                poller.register(descriptor, select.POLLIN)
                poller.poll()
            os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def _read_at_most(file, limit, name):
    """A regular file's size is known; a pipe or device is read a piece at a time
    (``read(limit + 1)`` would allocate all of ``limit`` at once)."""
    try:
        status = os.fstat(file.fileno())
    except OSError:  # an in-memory stream, as tests and embedding programs give
        status = None
    regular = status is not None and stat.S_ISREG(status.st_mode)
    if not limit or (regular and status.st_size <= limit):
        return file.read()
    pieces, size = [], 0
    while not regular and (piece := file.read(min(1 << 20, limit + 1 - size))):
        if len(pieces) == 1 and not _could_be_image(pieces[0]):
            raise ImageReadError(f"{name}: not an image, or a format imgconv cannot read")
        pieces.append(piece)
        size += len(piece)
    if regular or size > limit:
        raise ImageReadError(f"{name}: more than {limit} bytes, more than an image within the pixel limit "
                             "can take (--max-pixels N raises it; 0 lifts it)")
    return b"".join(pieces)


def _could_be_image(prefix):
    """Whether a stream's first piece starts an image, so that an endless stream of
    something else (/dev/zero) is refused at once, not at the byte limit. A TIFF may
    keep its header at the far end: its signature is enough."""
    if prefix.startswith((_NPY_MAGIC, *_TIFF_MAGIC)):
        return True
    from PIL import Image, UnidentifiedImageError

    try:
        if prefix.startswith(chunks.PNG_SIGNATURE):
            prefix = chunks.checked_png(prefix, "")  # as decode_image reads it
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Image.open(io.BytesIO(prefix)).close()  # reads the header only
    except UnidentifiedImageError:
        return False
    except Exception:  # recognised, but damaged or too large: read_image says which
        return True
    return True


def _frame_indices(count, frame, name):
    if frame is None:
        return range(count)
    if not 0 <= frame < count:
        raise InvalidInputError(f"{name}: --frame {frame} does not exist; the image has {count} frame(s), "
                                f"numbered from 0")
    return [frame]


def _picture_from_npy(data, name, budget):
    header = npyfile.read_header(data, name, ImageReadError)
    if len(header.shape) not in (2, 3) or 0 in header.shape:
        raise ImageReadError(f"{name}: expected an (H, W) or (H, W, C) array, got shape {header.shape}")
    budget.take(*header.shape[:2], *[math.ceil(c / 4) for c in header.shape[2:]])
    array = npyfile.array(data, header, name, ImageReadError)
    array = array.astype(array.dtype.newbyteorder("="), copy=False)
    channels = 1 if array.ndim == 2 else array.shape[2]
    mode = formats.mode_of(array.dtype, channels) or (formats.MULTICHANNEL if channels > 4 else None)
    if mode is None:
        raise ImageReadError(f"{name}: {array.dtype} samples: not an image imgconv reads")
    return Picture([array], mode, NPY)


def _metadata(image, header_complete=False):
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


def _picture_from_pillow(image, data, frame, name, budget):
    from PIL import Image

    # An APNG's default image (its IDAT comes before the first fcTL) is what viewers
    # that do not animate show; it is not a frame of the animation.
    skip = 1 if image.format == "PNG" and image.info.get("default_image") else 0
    count = getattr(image, "n_frames", 1) - skip
    indices = _frame_indices(count, frame, name)
    image.seek(skip + indices[0])
    budget.take(*image.size)  # from the frame's header, before anything is decoded
    claims.check_frame_data(image, data, name)
    decoder = _fast_decoder(image, data, count)
    # Before any frame is loaded: Pillow decodes a whole PNG to look for EXIF after its
    # pixels (unless the fast decoder found none there), and its TIFF reader turns the
    # pixels upright as it loads them, deleting the tag from its own EXIF. read_image
    # turns pictures as it chooses, so that turn is undone below.
    metadata = _metadata(image, header_complete=decoder is not None)
    orientation = orientation_of(metadata.get("exif", {}).get(_ORIENTATION))
    timings = []
    if image.format == "PNG" and data[24:25] == b"\x10" and data[25] in (2, 4, 6):
        for _ in indices[1:]:
            budget.take(*image.size)  # every frame of an APNG has the canvas's size
        picture = _picture_from_deep_png(data, [skip + i for i in indices], count + skip > 1, metadata, name)
        for index in indices if count > 1 and frame is None else ():
            image.seek(skip + index)
            timings.append(image.info.get("duration"))
    elif image.format == "TIFF" and _beyond_pillow(image):
        picture = _picture_from_tifffile(data, frame, name, metadata, _PixelBudget(budget.limit, name))
    else:
        arrays, modes, key = [], [], _png_key(image, data)
        for index in indices:
            # Each frame once, in order: seeking an APNG back to an earlier frame loses
            # its palette, and a GIF or APNG frame is composed on the ones before it.
            if index != indices[0]:
                image.seek(skip + index)
                budget.take(*image.size)
                claims.check_frame_data(image, data, name)
            modes.append(_mode_read_as(image))
            arrays.append(_samples(image, modes[-1]) if decoder is None else decoder(data))
            if key is not None and modes[-1] in _KEYED:
                arrays[-1], modes[-1] = _keyed_alpha(arrays[-1], key), _KEYED[modes[-1]]
            timings.append(image.info.get("duration"))  # WebP gives it once the frame is decoded
        mode = _common_mode(modes, name)
        arrays = [_widen(a, m, mode) for a, m in zip(arrays, modes)]
        if orientation != 1 and _ORIENTATION not in Image.Image.getexif(image):
            arrays = [_orient(a, _UNDO.get(orientation, orientation)) for a in arrays]
        picture = Picture(arrays, mode, image.format or "PNG", metadata, _encoding(image, data))
    if count > 1 and frame is None:
        picture.animation = _timing_of_frames(timings)
        if "loop" in image.info and picture.animation:
            picture.animation["loop"] = image.info["loop"]
    return picture


def _beyond_pillow(image: "TiffImagePlugin.TiffImageFile") -> bool:
    """Whether a TIFF holds samples Pillow would not read as they are, which tifffile
    reads: 16-bit colour (which Pillow cannot hold), signed or float samples or
    unsigned ones of more than 16 bits (Pillow reads signed 8-bit samples as unsigned,
    and unsigned 32-bit ones as signed), a predictor on uncompressed samples of 9 to 15
    bits (Pillow reads the differences; libtiff leaves a predictor on uncompressed
    samples undone, and at 8 and 16 bits Pillow reads as libtiff does), and grey or RGB
    stored plane by plane (Pillow mixes up or refuses the planes of grey+alpha and of
    RGBA)."""
    tags = image.tag_v2
    bits, sample_formats = (tags.get(tag, default) for tag, default in ((258, 1), (339, 1)))
    bits = bits if isinstance(bits, tuple) else (bits,)
    sample_formats = sample_formats if isinstance(sample_formats, tuple) else (sample_formats,)
    samples, photometric = tags.get(277, 1), tags.get(262)
    return ((16 in bits and samples > 1) or max(bits) > 16 or bool({2, 3} & set(sample_formats))
            or (tags.get(317, 1) != 1 and tags.get(259, 1) == 1 and max(bits) % 8 != 0)
            or (tags.get(284, 1) == 2 and samples > 1 and photometric in (_MINISWHITE, _MINISBLACK, _RGB)))


def _fast_decoder(image, data, count):
    """imagecodecs' decoder for this file, where it gives Pillow's samples quicker, or None.

    PNG: one frame of 8-bit grey, RGB or either with alpha, no tRNS chunk (which Pillow
    keeps aside and libpng would make an alpha channel), and nothing but pixels after the
    first IDAT (Pillow finds later metadata only by decoding). JPEG: grey or YCbCr (CMYK
    and Adobe RGB stay with Pillow), ending with its end marker.
    """
    import imagecodecs

    if count != 1:
        return None
    if image.format == "PNG" and image.mode in ("L", "LA", "RGB", "RGBA") and _png_is_plain(data):
        return imagecodecs.png_decode
    # A JPEG without its end marker is truncated: libjpeg-turbo would fill the rest with
    # grey where Pillow refuses it.
    if image.format == "JPEG" and image.mode in ("L", "RGB") and "adobe_transform" not in image.info \
            and data.endswith(b"\xff\xd9"):
        return imagecodecs.jpeg8_decode
    return None


def _png_is_plain(data):
    """8 bits a sample, no tRNS or APNG chunk, and only IDAT and IEND from the first IDAT."""
    if data[24:25] != b"\x08":  # IHDR's bit depth
        return False
    position, seen_pixels = 8, False
    while position + 8 <= len(data):
        length, kind = int.from_bytes(data[position:position + 4], "big"), data[position + 4:position + 8]
        if kind in (b"tRNS", b"acTL") or (seen_pixels and kind not in (b"IDAT", b"IEND")):
            return False
        if kind == b"IEND":
            return True
        seen_pixels = seen_pixels or kind == b"IDAT"
        position += 12 + length
    return False  # truncated: Pillow's decoder says how


# A grey or RGB PNG's tRNS chunk names one colour as transparent: read as the mode with
# alpha, as libpng (png_set_tRNS_to_alpha) and viewers read it. Pillow keeps the colour
# aside in info["transparency"], which imgconv's writers would drop.
_KEYED = {"L": "LA", "I;16": "LA;16", "RGB": "RGBA"}


def _png_key(image, data: bytes) -> np.ndarray | None:
    """The colour a grey or RGB PNG's tRNS chunk makes transparent, in the units of
    Pillow's samples (grey of 1, 2 and 4 bits is scaled to 0-255), or None."""
    if image.format != "PNG" or "transparency" not in image.info or data[25:26] not in (b"\0", b"\2"):
        return None
    bits = data[24]  # IHDR's bit depth
    # libpng compares only the bits a sample has: a tRNS value out of range is cut to them.
    key = np.asarray(image.info["transparency"], np.uint32) & ((1 << bits) - 1)
    return key * (255 // ((1 << bits) - 1)) if bits < 8 else key


def _keyed_alpha(samples: np.ndarray, key: np.ndarray) -> np.ndarray:
    """``samples`` (grey or RGB) with an alpha channel: 0 where the pixel is ``key``,
    the samples' maximum elsewhere."""
    planes = samples[..., None] if samples.ndim == 2 else samples
    opaque = np.iinfo(samples.dtype).max
    alpha = np.where((planes == key).all(axis=-1), 0, opaque).astype(samples.dtype)
    return np.concatenate([planes, alpha[..., None]], axis=2)


def _mode_read_as(image):
    mode = image.mode
    if mode.startswith("I;16") or (mode == "I" and image.format == "PPM"):
        return "I;16"  # Pillow reads 16-bit PGM as I; its samples are 16-bit by definition
    if mode in formats.DTYPE:
        return mode
    if mode == "1":
        return "L"
    if mode in ("P", "PA"):
        return "RGBA" if mode == "PA" or "transparency" in image.info else "RGB"
    if mode in ("La", "RGBa"):
        return mode.upper()
    return "RGB"


def _common_mode(modes, name):
    """One mode for every frame: a GIF's first frame may be grey and the next colour."""
    if len(set(modes)) == 1:
        return modes[0]
    if set(modes) <= {"L", "LA", "RGB", "RGBA"}:
        colour = any(m.startswith("RGB") for m in modes)
        alpha = any(m in formats.WITH_ALPHA for m in modes)
        return formats.MODE_OF[(1 + 2 * colour + alpha, 8)]
    kinds = ", ".join(formats.WORDS[m] for m in sorted(set(modes)))
    raise ImageReadError(f"{name}: frames of different kinds ({kinds}); take one with --frame N")


def _widen(samples, mode, common):
    """8-bit samples in ``mode`` as the ``common`` mode of `_common_mode` holds them, as
    Pillow converts: grey repeated in each colour channel, opaque where there was no alpha."""
    if mode == common:
        return samples
    planes = samples[..., None] if samples.ndim == 2 else samples
    colour = planes[..., :-1] if mode in formats.WITH_ALPHA else planes
    if common.startswith("RGB") and colour.shape[2] == 1:
        colour = np.repeat(colour, 3, axis=2)
    if common not in formats.WITH_ALPHA:
        return colour
    alpha = planes[..., -1:] if mode in formats.WITH_ALPHA else np.full(planes.shape[:2] + (1,), 255, np.uint8)
    return np.concatenate([colour, alpha], axis=2)


def _samples(image, mode):
    if mode == "I;16":
        samples = np.asarray(image).astype(np.uint16)  # native byte order for I;16B files
        if image.format == "TIFF" and image.tag_v2.get(262) == _MINISWHITE:  # Pillow turns 8 bits and fewer
            _turn_white_is_zero(samples, image.tag_v2[258][0], 1)
        return samples
    if image.mode != mode:
        image = image.convert(mode)
    return np.asarray(image)


def _timing_of_frames(durations):
    """``{"duration": [ms a frame]}`` when some frame gives a duration, else ``{}``. A
    frame that gives none (a GIF frame without a Graphic Control Extension) gets 0, as
    its file says nothing; the writers index the list by frame, so it is never short."""
    if all(d is None for d in durations):
        return {}
    return {"duration": [0 if d is None else d for d in durations]}


def _encoding(image, data):
    if image.format == "JPEG":
        from PIL import JpegImagePlugin

        encoding = {"qtables": image.quantization}
        if JpegImagePlugin.get_sampling(image) in _SUBSAMPLING:
            encoding["subsampling"] = _SUBSAMPLING[JpegImagePlugin.get_sampling(image)]
        return encoding
    if image.format == "WEBP":
        return {"lossless": _webp_is_lossless(data)}
    if image.format == "TIFF":
        return {"compression": image.tag_v2.get(259, 1), "bilevel": image.mode == "1"}
    return {}


def _webp_is_lossless(data):
    """Whether every image chunk of a WebP file is lossless (VP8L) rather than lossy (VP8)."""
    kinds, position = set(), 12
    while position + 8 <= len(data):
        kind, size = data[position : position + 4], int.from_bytes(data[position + 4 : position + 8], "little")
        if kind == b"ANMF":  # an animation frame: its own chunks follow a 16-byte header
            position += 8 + 16
            continue
        kinds.add(kind)
        position += 8 + size + (size & 1)
    return b"VP8L" in kinds and b"VP8 " not in kinds


def _picture_from_deep_png(data, indices, animated, metadata, name):
    """A 16-bit colour PNG by libpng; ``indices`` count an APNG's default image."""
    import imagecodecs

    if animated:
        arrays = list(imagecodecs.apng_decode(data)[indices])
    else:
        arrays = [imagecodecs.png_decode(data)]
    return _deep_picture(arrays, "PNG", metadata, name)


def _picture_from_tifffile(data, frame, name, metadata, budget):
    import tifffile

    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tiff:
            pages = tiff.pages
            arrays = []
            for index in _frame_indices(len(pages), frame, name):
                page = pages[index]
                # As a .npy's: up to four samples a pixel (a TIFF claiming 65535 samples a
                # pixel asked for 194 GiB within the pixel limit; found by fuzzing), and
                # a volume's slices.
                extra = [n for n in (page.imagedepth, math.ceil(page.samplesperpixel / 4)) if n != 1]
                budget.take(page.imagewidth, page.imagelength, *extra)
                array = page.asarray()
                if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE and array.ndim == 3:
                    array = np.moveaxis(array, 0, -1)
                arrays.append(_as_read(page, array, name))
            tags = pages[0].tags
            if not metadata:  # Pillow could not open the file: take what tifffile sees
                metadata.update({key: bytes(tags[tag].value) for key, tag in (("icc_profile", _ICC), ("xmp", _XMP))
                                 if tag in tags})
                if tags.valueof(_ORIENTATION, 1) != 1:
                    from PIL import Image

                    metadata["exif"] = Image.Exif()
                    metadata["exif"][_ORIENTATION] = tags.valueof(_ORIENTATION)
            encoding = {"compression": int(pages[0].compression)}
    except tifffile.TiffFileError as exc:
        raise ImageReadError(f"{name}: corrupt or truncated image ({exc})") from None
    if any(a.dtype != arrays[0].dtype or a.shape != arrays[0].shape for a in arrays):
        raise ImageReadError(f"{name}: pages of different kinds or sizes; take one with --frame N")
    return _deep_picture(arrays, "TIFF", metadata, name, encoding)


def _as_read(page, array: np.ndarray, name: str) -> np.ndarray:
    """A page's samples as tifffile gives them (as stored), in imgconv's units: white-is-
    zero turned, a palette through its colour map, grey and RGB of fewer than 8 bits
    scaled to 0-255, and 8-bit associated alpha unpremultiplied, as Pillow reads it."""
    if array.dtype == np.bool_:  # 1 bit a sample
        array = array.astype(np.uint8)
    bits, photometric = page.bitspersample, int(page.photometric)
    if photometric == _PALETTE:
        if array.ndim != 2 or page.colormap is None:
            raise ImageReadError(f"{name}: a palette image with extra samples or without a colour map: "
                                 "not an image imgconv reads")
        return _palette_colours(np.asarray(page.colormap), bits)[array]
    if photometric == _MINISWHITE:
        _turn_white_is_zero(array, bits, page.samplesperpixel - len(page.extrasamples))
    if bits < 8 and photometric in (_MINISWHITE, _MINISBLACK, _RGB) and array.dtype == np.uint8:
        top = (1 << bits) - 1
        array = ((array.astype(np.uint16) * 255 + top // 2) // top).astype(np.uint8)
    if tuple(page.extrasamples)[:1] == (_ASSOCIATED_ALPHA,) and array.dtype == np.uint8 and array.shape[-1] in (2, 4):
        from PIL import Image

        mode = "La" if array.shape[-1] == 2 else "RGBa"
        premultiplied = Image.frombuffer(mode, array.shape[1::-1], np.ascontiguousarray(array).tobytes())
        array = np.asarray(premultiplied.convert(mode.upper()))
    return array


def _palette_colours(colormap: np.ndarray, bits: int) -> np.ndarray:
    """A TIFF colour map (3 x 2**bits entries of 16 bits) as RGB samples, one row an
    index. Up to 8 bits an index: 8-bit colours, the high byte (``v // 256``), as Pillow
    reads those palettes. Above: 8-bit where every entry is a multiple of 257 (then
    ``v // 257`` is exact), else the 16-bit entries as they are, so nothing is lost."""
    if bits <= 8:
        return (colormap // 256).astype(np.uint8).T
    if not (colormap % 257).any():
        return (colormap // 257).astype(np.uint8).T
    return colormap.astype(np.uint16).T


def _turn_white_is_zero(samples, bits, colours):
    """Turn, in place, grey samples stored white-is-zero (TIFF's MINISWHITE) into
    imgconv's black-is-zero: ``2**bits - 1 - v`` for the file's ``bits`` a sample, so
    that a 12-bit file stays in 0-4095 as a black-is-zero one is read. The ``colours``
    first samples of a pixel are turned, not its extra (alpha) samples. Float and signed
    samples have no such maximum and are left as stored."""
    if samples.dtype.kind != "u":
        return
    grey = samples[..., :colours] if samples.ndim == 3 else samples
    np.subtract(samples.dtype.type((1 << bits) - 1), grey, out=grey)


def _deep_picture(arrays, fmt, metadata, name, encoding=None):
    """The picture of samples Pillow cannot hold, kept in their own type (in the
    machine's byte order)."""
    arrays = [a.astype(a.dtype.newbyteorder("="), copy=False) for a in arrays]
    channels = 1 if arrays[0].ndim == 2 else arrays[0].shape[2]
    mode = formats.mode_of(arrays[0].dtype, channels)
    if mode is None or arrays[0].dtype == np.bool_:
        raise ImageReadError(f"{name}: {channels} channel(s) of {arrays[0].dtype} samples: not an image imgconv reads")
    return Picture(arrays, mode, fmt, metadata, encoding or {})


# XMP's orientation, as an attribute or an element. Pillow's getexif() takes it where the
# EXIF has none (so read_image turns such pictures too), and its exif_transpose reads it
# from an output whose EXIF no longer has one.
_XMP_ORIENTATION = re.compile(rb"""(tiff:Orientation\s*=\s*["']|<tiff:Orientation>\s*)[0-9]+""")


def _upright_xmp(xmp: bytes) -> bytes:
    """``xmp`` saying orientation 1, for pixels that have been turned upright."""
    return _XMP_ORIENTATION.sub(lambda match: match[1] + b"1", xmp)


def orientation_of(value):
    """An EXIF orientation tag's ``value`` if it is one of 1 to 8, else 1 (none): a
    damaged tag (0, 9, a byte string, a tuple; a BYTE-typed tag read as ``b'\\x00'`` once
    raised a TypeError, found by fuzzing) turns nothing, as in Pillow's
    ``ImageOps.exif_transpose``, and is kept as it is."""
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else 1  # tifffile gives an IntEnum


def _orient(pixels, orientation):
    """The stored pixels turned upright as EXIF orientation 1 to 8 says (as Pillow's
    ``ImageOps.exif_transpose``): 5 to 8 are transposed first, then flipped."""
    if orientation >= 5:
        pixels = pixels.swapaxes(0, 1)
    flips = {2: (1,), 3: (0, 1), 4: (0,), 6: (1,), 7: (0, 1), 8: (0,)}.get(orientation, ())
    return np.ascontiguousarray(np.flip(pixels, flips) if flips else pixels)


def change_depth(picture, bits):
    """The picture with ``bits`` (8 or 16) bits a sample.

    16 to 8 bits is ``round(v / 257)`` (65535 becomes 255); 8 to 16 is ``v * 257``
    (255 becomes 65535), which is exact. Float samples map 0.0-1.0 to the whole range:
    ``round(v * 255)`` (or 65535), clipped, so that below 0.0 is 0 and above 1.0 (or
    infinity) the largest value; NaN, which has no place there, is refused, naming the
    input.
    """
    if bits is None or formats.DTYPE[picture.mode] == (np.uint8 if bits == 8 else np.uint16):
        return picture
    top = 255 if bits == 8 else 65535
    if picture.mode in formats.FLOAT:
        if any(np.isnan(f).any() for f in picture.frames):
            raise ImageReadError(f"{picture.name}: NaN samples, which --depth {bits} cannot map to {bits}-bit ones; "
                                 "write TIFF or .npy to keep them")
        channels = 1 if picture.frames[0].ndim == 2 else picture.frames[0].shape[2]
        frames = [_unit_to_integers(f, top) for f in picture.frames]
        return replace(picture, frames=frames, mode=formats.MODE_OF[channels, bits])
    if picture.mode not in formats.OTHER_DEPTH:
        raise InvalidInputError(f"{picture.name}: --depth converts 8-bit, 16-bit and float samples, and the input is "
                                f"{formats.WORDS[picture.mode]}; write TIFF or .npy to keep it")
    if bits == 8:
        frames = [((f.astype(np.uint32) + 128) // 257).astype(np.uint8) for f in picture.frames]
    else:
        frames = [f.astype(np.uint16) * np.uint16(257) for f in picture.frames]
    return replace(picture, frames=frames, mode=formats.OTHER_DEPTH[picture.mode])


def _unit_to_integers(samples: np.ndarray, top: int) -> np.ndarray:
    """Float samples, 0.0 to 1.0, as integers 0 to ``top``, rounded and clipped; in
    float32 (float64 for float64 samples), as filtering works."""
    work = samples.astype(np.result_type(samples.dtype, np.float32))
    np.clip(work, 0, 1, out=work)
    work *= top
    return np.rint(work, out=work).astype(np.uint8 if top == 255 else np.uint16)


def output_format(dest, requested=None, input_format="PNG"):
    """The format to write ``dest`` in: its extension, else ``requested``, else the input's.

    ``requested`` is a name from `imgconv.formats.names` (case-insensitive) or None.
    """
    extension = "" if dest == STDIO else os.path.splitext(os.fspath(dest))[1].lower()
    if extension:
        by_extension = formats.format_of_extension(extension)
        if by_extension is not None:
            return by_extension
        if requested is None:
            raise InvalidInputError(f"{dest}: cannot tell the output format from {extension!r}; give --format")
    if requested is not None:
        fmt = formats.names().get(requested.lower())
        if fmt is None:
            raise InvalidInputError(f"unknown format {requested!r}; imgconv writes {', '.join(sorted(formats.names()))}")
        return fmt
    if input_format not in formats.available():
        raise InvalidInputError(f"{dest}: imgconv does not write {input_format}; give --format")
    return input_format


def check_writable(picture, fmt, name):
    """Refuse, before any filtering, a picture that ``fmt`` cannot hold as it is."""
    sizes = list(dict.fromkeys(f"{f.shape[1]}x{f.shape[0]}" for f in picture.frames))
    if len(sizes) > 1 and fmt != "TIFF" and (fmt == NPY or fmt in formats.ANIMATED):
        # An animation has one canvas (Pillow would crop or pad the other frames, or
        # fail), and a .npy one array.
        what = "a .npy array" if fmt == NPY else f"a {fmt} animation"
        raise ImageWriteError(f"{name}: the input's frames differ in size ({', '.join(sizes)}) and {what} holds "
                              "frames of one size; write TIFF, whose pages keep their sizes, or give --frame N")
    if fmt == NPY:
        return
    if len(picture.frames) > 1 and fmt not in formats.ANIMATED:
        raise ImageWriteError(f"{name}: the input has {len(picture.frames)} frames and {fmt} holds one; "
                              "give --frame N (0-based) or write GIF, PNG, WebP or TIFF")
    durations = picture.animation.get("duration", []) if len(picture.frames) > 1 else []
    duration = next((d for d in durations if not formats.holds_duration(fmt, d)), None)
    if duration is not None:
        holders = [{"WEBP": "WebP"}.get(other, other) for other in ("GIF", "PNG", "WEBP")
                   if all(formats.holds_duration(other, d) for d in durations)]
        raise ImageWriteError(f"{name}: a frame of the input lasts {duration:.10g} ms, which {fmt} cannot store as a "
                              "frame's duration; "
                              + (f"write {' or '.join(holders)}, or " if holders else "") + "give --frame N")
    if picture.mode == formats.MULTICHANNEL:
        channels = picture.frames[0].shape[2]
        raise ImageWriteError(f"{name}: the input has {channels} channels; only .npy can hold them")
    if picture.mode not in formats.HOLDS[fmt]:
        shallow = formats.OTHER_DEPTH.get(picture.mode)
        if shallow in formats.HOLDS[fmt] and picture.sample_dtype == np.uint16:
            raise ImageWriteError(f"{name}: {fmt} holds 8 bits a sample and the input is "
                                  f"{formats.WORDS[picture.mode]}; write {formats.holders(picture.mode)} "
                                  "to keep 16 bits, or give --depth 8 to convert (round(v / 257))")
        if picture.mode in formats.FLOAT:
            channels = 1 if picture.frames[0].ndim == 2 else picture.frames[0].shape[2]
            depths = [bits for bits in (8, 16) if formats.MODE_OF[channels, bits] in formats.HOLDS[fmt]]
            if depths:
                raise ImageWriteError(f"{name}: {fmt} holds integer samples and the input is "
                                      f"{formats.WORDS[picture.mode]}; write {formats.holders(picture.mode)} to keep "
                                      f"them, or give --depth {depths[0]} to map 0.0-1.0 to 0-{2 ** depths[0] - 1} "
                                      f"(round(v * {2 ** depths[0] - 1}), clipped)"
                                      + (" or --depth 16 to 0-65535" if depths[1:] else ""))
        raise ImageWriteError(f"{name}: {fmt} cannot hold {formats.WORDS[picture.mode]}; "
                              f"write {formats.holders(picture.mode)}")


def encode_image(frames, picture, fmt, *, quality=None, subsampling=None, compress_level=DEFAULT_COMPRESS_LEVEL,
                 compression=None, strip=False, name="<stdout>"):
    """Encode frames of samples in the picture's mode (``picture.sample_dtype``) as bytes.

    For ``NPY``, ``frames`` hold the raw result, saved in their own type: one
    (H, W[, C]) array, or (N, H, W[, C]) for several frames. Otherwise `check_writable`
    has passed.

    Parameters
    ----------
    quality : int, optional
        JPEG, WebP and AVIF quality. Without it, a JPEG from a JPEG input reuses the
        input's quantisation tables and a WebP from a lossless WebP is lossless;
        otherwise `DEFAULT_QUALITY`.
    subsampling : str, optional
        JPEG chroma subsampling, ``4:4:4``, ``4:2:2`` or ``4:2:0``; default the JPEG
        input's, else 4:4:4.
    compress_level : int
        PNG compression level, 0-9 (libdeflate's for the modes `imgconv.png` writes).
    compression : str, optional
        TIFF compression, a name of `TIFF_COMPRESSION`; default `tiff_compression`'s.
    strip : bool
        Leave out EXIF, XMP and comments; the ICC profile stays.
    name : str
        The destination, for error messages only.
    """
    if fmt == NPY:
        buffer = io.BytesIO()
        np.save(buffer, np.stack(frames) if len(frames) > 1 else frames[0], allow_pickle=False)
        return buffer.getvalue()
    frames = [f[..., 0] if f.ndim == 3 and f.shape[2] == 1 else f for f in frames]
    longest = max(max(f.shape[:2]) for f in frames)
    if longest > formats.MAX_SIDE.get(fmt, longest):
        height, width = next(f.shape[:2] for f in frames if max(f.shape[:2]) == longest)
        raise ImageWriteError(f"{name}: {width}x{height} is larger than {fmt} holds (at most "
                              f"{formats.MAX_SIDE[fmt]} pixels a side); write PNG or TIFF")
    metadata = {k: v for k, v in picture.metadata.items()
                if k in ("icc_profile",) or (not strip and k in ("exif", "xmp", "comment"))}
    if "exif" in metadata:
        try:
            metadata["exif"] = metadata["exif"].tobytes()
        except Exception as exc:  # a damaged tag Pillow read but cannot write back
            raise ImageWriteError(f"{name}: the input's EXIF cannot be written ({exc}); --strip leaves it out") \
                from None
    chunks = {k: metadata.get(k) for k in ("icc_profile", "exif", "xmp")}
    if fmt == "PNG" and len(frames) == 1 and picture.mode in COLOUR_TYPES:
        return encode_png(frames[0], picture.mode, level=compress_level, **chunks)
    if fmt == "PNG" and len(frames) > 1:
        return animation.encode_apng(frames, picture.mode, picture.animation, level=compress_level, **chunks)
    if fmt == "GIF":
        return animation.encode_gif(frames, picture.animation, comment=metadata.get("comment"))
    if fmt == "WEBP" and len(frames) > 1:
        return animation.encode_webp(frames, picture.animation, _webp_options(picture, quality), **chunks)
    if fmt == "TIFF":
        # Pillow holds neither 16-bit colour nor the wider types, and writes pages of
        # different sizes all at the last page's size: tifffile writes those.
        by_pillow = picture.mode in _PILLOW_TIFF and len({f.shape for f in frames}) == 1
        bilevel = by_pillow and _bilevel(frames, picture)
        scheme = tiff_compression(picture, compression, bilevel)
        if not by_pillow:
            return _encode_tifffile(frames, picture, metadata, scheme)
        if bilevel:
            frames = [f > 0 for f in frames]  # Pillow's mode 1, exactly
    else:
        scheme = None
    return _encode_pillow(frames, picture, fmt, metadata, quality, subsampling, compress_level, scheme, name)


# --compression for TIFF outputs: the TIFF Compression tag's numbers.
TIFF_COMPRESSION = {"none": 1, "deflate": 8, "lzw": 5, "zstd": 50000, "packbits": 32773}
# The lossless schemes an input's compression is kept in (LZMA too), with Pillow's
# names for them; the old Deflate number (32946) is the same codec as Adobe's (8).
# Group 3 and 4 fax codes hold bilevel samples only.
_PILLOW_SCHEMES = {1: "raw", 5: "tiff_lzw", 8: "tiff_adobe_deflate", 32773: "packbits", 50000: "zstd",
                   34925: "lzma", 3: "group3", 4: "group4"}
_FAX = frozenset([3, 4])
_PILLOW_TIFF = frozenset(["L", "LA", "RGB", "RGBA", "I;16", "I", "F"])


def tiff_compression(picture: Picture, requested: str | None = None, bilevel: bool = False) -> int:
    """The TIFF Compression number a TIFF output of ``picture`` is written with:
    ``requested`` (a name of `TIFF_COMPRESSION`) if given, else a TIFF input's own
    scheme where it is lossless (fax codes only for ``bilevel`` output), else Adobe
    Deflate, which every TIFF reader decodes, in place of a lossy scheme (JPEG, WebP)
    or one no writer here has."""
    if requested is not None:
        if requested not in TIFF_COMPRESSION:
            raise InvalidInputError(f"--compression {requested}: a TIFF output takes {', '.join(TIFF_COMPRESSION)}")
        return TIFF_COMPRESSION[requested]
    scheme = {32946: 8}.get(picture.encoding.get("compression"), picture.encoding.get("compression"))
    if picture.format != "TIFF" or scheme not in _PILLOW_SCHEMES or (scheme in _FAX and not bilevel):
        return TIFF_COMPRESSION["deflate"]
    return scheme


def _bilevel(frames: list, picture: Picture) -> bool:
    """Whether a bilevel TIFF input's result is still two-valued (0 and 255), and so
    written at 1 bit a sample, exactly."""
    return bool(picture.encoding.get("bilevel")) and picture.mode == "L" and \
        all(((f == 0) | (f == 255)).all() for f in frames)


def _encode_tifffile(frames, picture, metadata, scheme):
    """A TIFF by tifffile, a page a frame, each of its own size. The ICC profile and XMP
    are kept; tifffile cannot write an EXIF directory."""
    import tifffile

    buffer = io.BytesIO()
    extratags = [(700, "B", len(metadata["xmp"]), metadata["xmp"], True)] if "xmp" in metadata else []
    with tifffile.TiffWriter(buffer) as tiff:
        for samples in frames:
            colour = samples.ndim == 3 and samples.shape[2] >= 3
            tiff.write(samples, photometric="rgb" if colour else "minisblack", planarconfig="contig",
                       extrasamples=["unassalpha"] if picture.has_alpha else None, compression=scheme,
                       iccprofile=metadata.get("icc_profile"), extratags=extratags, metadata=None)
    return buffer.getvalue()


def _encode_pillow(frames, picture, fmt, metadata, quality, subsampling, compress_level, scheme, name):
    from PIL import Image

    images = [Image.fromarray(np.ascontiguousarray(f)) for f in frames]
    groups = {}
    if fmt == "TIFF" and ("xmp" in metadata or (scheme != 1 and "exif" in metadata)):
        # Pillow's TIFF writer takes extra tags from the EXIF (or from tiffinfo, but then
        # ignores the EXIF), so XMP goes in as the EXIF's tag 700. Its compressing writer
        # (libtiff's) fails on EXIF's sub-directories (camera settings, GPS): those are
        # added to its file afterwards.
        from PIL import TiffTags

        exif = Image.Exif()
        exif.load(metadata.get("exif", b""))
        if "xmp" in metadata:
            exif[_XMP] = metadata.pop("xmp")
        if scheme != 1:
            groups = {tag: exif.get_ifd(tag) for tag in list(exif) if tag in TiffTags.TAGS_V2_GROUPS}
            for tag in groups:
                del exif[tag]
            groups = {tag: entries for tag, entries in groups.items() if entries}
        metadata["exif"] = exif.tobytes()
    options = {key: metadata[key] for key in ("icc_profile", "exif", "xmp") if key in metadata}
    if "comment" in metadata and fmt == "JPEG":
        options["comment"] = metadata["comment"]
    if fmt == "PNG":
        options["compress_level"] = compress_level
    elif fmt == "TIFF":
        options["compression"] = _PILLOW_SCHEMES[scheme]
    elif fmt == "JPEG":
        if quality is None and "qtables" in picture.encoding:
            options["qtables"] = picture.encoding["qtables"]
        else:
            options["quality"] = quality or DEFAULT_QUALITY[fmt]
        options["subsampling"] = subsampling or picture.encoding.get("subsampling", DEFAULT_SUBSAMPLING)
    elif fmt == "WEBP":
        options.update(_webp_options(picture, quality))
    elif fmt == "AVIF":
        options["quality"] = quality or DEFAULT_QUALITY[fmt]
    if len(images) > 1:  # TIFF pages
        options.update(save_all=True, append_images=images[1:])
    buffer = io.BytesIO()
    try:
        images[0].save(buffer, format=fmt, **options)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ImageWriteError(f"{name}: cannot write {picture.description} as {fmt} ({exc})") from None
    except RuntimeError as exc:  # libtiff's compressing writer refusing one of the input's tags
        raise ImageWriteError(f"{name}: cannot write the input's tags in a compressed TIFF ({exc}); --strip leaves "
                              "them out, --compression none keeps them") from None
    return _with_subdirectories(buffer.getvalue(), groups) if groups else buffer.getvalue()


def _with_subdirectories(data: bytes, groups: dict) -> bytes:
    """A classic TIFF with EXIF sub-directories (``{tag: {tag: value}}``) added to its
    first IFD: the sub-directories, as Pillow writes them, and a copy of that IFD with
    their entries are appended, and the header points at the copy (the old IFD stays,
    unreferenced, a few hundred bytes)."""
    from PIL import TiffImagePlugin

    order = "<" if data[:2] == b"II" else ">"
    (first,) = struct.unpack_from(order + "L", data, 4)
    (count,) = struct.unpack_from(order + "H", data, first)
    entries = [data[first + 2 + 12 * i : first + 14 + 12 * i] for i in range(count)]
    following = data[first + 2 + 12 * count : first + 6 + 12 * count]  # the next page's IFD
    directory = TiffImagePlugin.ImageFileDirectory_v2(data[:8])
    for tag, values in groups.items():
        directory[tag] = values
    start = len(data) + len(data) % 2  # IFDs start on a word boundary
    block = directory.tobytes(start)
    entries += [block[2 + 12 * i : 14 + 12 * i] for i in range(len(groups))]
    entries.sort(key=lambda entry: struct.unpack_from(order + "H", entry)[0])
    where = start + len(block) + len(block) % 2
    table = struct.pack(order + "H", len(entries)) + b"".join(entries) + following
    result = bytearray(data.ljust(start, b"\0") + block.ljust(where - start, b"\0") + table)
    struct.pack_into(order + "L", result, 4, where)
    return bytes(result)


def _webp_options(picture, quality):
    """Lossless for a lossless WebP input when no quality is asked for, else lossy."""
    if quality is None and picture.encoding.get("lossless"):
        return {"lossless": True}
    return {"quality": quality or DEFAULT_QUALITY["WEBP"]}
