"""Images in and out: Pillow formats and modes, .npy arrays, stdin/stdout, atomic writes.

A `Picture` holds an image's samples as a NumPy array in the file's own units (0-255
for 8-bit, 0-65535 for 16-bit, floats as stored) and what is needed to write a result
back the same way: the Pillow mode, the format, the ICC profile and EXIF data.

Modes are read as follows; the output keeps the mode it was read as:

========  ====================  =========================================
file      read as               why
========  ====================  =========================================
L, LA     L, LA (uint8)
RGB(A)    RGB, RGBA (uint8)
P, PA     RGB or RGBA           a palette cannot hold blurred colours
1         L (uint8, 0 or 255)   a filtered bilevel image has grey levels
I;16*     I;16 (uint16)         16-bit grey stays 16-bit (16-bit PGM too)
I         I (int32)
F         F (float32)
other     RGB (uint8)           CMYK, YCbCr, LAB, HSV
========  ====================  =========================================
"""

import io
import os
import sys
import tempfile
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import ImageReadError, ImageWriteError, InvalidInputError
from .png import COLOUR_TYPES, encode_png
from .vocabulary import DEFAULT_COMPRESS_LEVEL, FORMATS

STDIO = "-"
NPY = FORMATS["npy"]
_NPY_MAGIC = b"\x93NUMPY"

# Largest sample value, by mode: what alpha is divided by and what --normalize stretches to.
SAMPLE_MAX = {"L": 255, "LA": 255, "RGB": 255, "RGBA": 255, "I;16": 65535, "I": 65535, "F": 1.0}
_DTYPE = {"L": np.uint8, "LA": np.uint8, "RGB": np.uint8, "RGBA": np.uint8, "I;16": np.uint16, "I": np.int32, "F": np.float32}
_MODES_BY_CHANNELS = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
# Formats that can hold the modes not every format can, for error messages.
_FORMATS_FOR_MODE = {"LA": "PNG, TIFF or WebP", "RGBA": "PNG, TIFF or WebP", "I;16": "PNG or TIFF",
                     "I": "TIFF", "F": "TIFF"}
# TIFF tags that describe how the pixels are stored. A TIFF's getexif() lists them with
# the real metadata; carried into the output, they would contradict the new pixels.
_LAYOUT_TAGS = frozenset([256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 320, 322, 323, 324, 325,
                          338, 339, 529, 530, 531, 532, 34675])

@dataclass
class Picture:
    """An image's samples and how to write a result back in the same form.

    Attributes
    ----------
    pixels : numpy.ndarray
        (H, W) or (H, W, C) samples in the file's units.
    mode : str
        The Pillow mode the result is written in (see the table above); for a `.npy`
        input, the mode its dtype and channel count suggest.
    format : str
        Pillow's name of the input format, or ``"NPY"``.
    info : dict
        ``icc_profile`` and ``exif`` bytes when the input had them.
    """

    pixels: np.ndarray
    mode: str
    format: str
    info: dict = field(default_factory=dict)

    @property
    def has_alpha(self):
        return self.mode in ("LA", "RGBA")

    @property
    def sample_max(self):
        return SAMPLE_MAX[self.mode]

    @property
    def sample_dtype(self):
        """The NumPy type of the samples written in ``mode``."""
        return np.dtype(_DTYPE[self.mode])


def read_image(source):
    """Read an image file, ``.npy`` array, or ``"-"`` for standard input.

    Raises `ImageReadError` with the file name and the reason when it cannot.
    """
    name = "<stdin>" if source == STDIO else os.fspath(source)
    data = _read_bytes(source, name)
    if data.startswith(_NPY_MAGIC):
        return _picture_from_npy(data, name)
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return _picture_from_pillow(image)
    except UnidentifiedImageError:
        raise ImageReadError(f"{name}: not an image, or a format imgconv cannot read") from None
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"{name}: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageReadError(f"{name}: corrupt or truncated image ({exc})") from None


def _read_bytes(source, name):
    try:
        if source == STDIO:
            if sys.stdin.isatty():
                raise ImageReadError(f"{name}: standard input is a terminal; pipe an image in")
            return sys.stdin.buffer.read()
        with open(source, "rb") as file:
            return file.read()
    except FileNotFoundError:
        raise ImageReadError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ImageReadError(f"{name}: is a folder, not an image file") from None
    except OSError as exc:
        raise ImageReadError(f"{name}: cannot read: {exc.strerror or exc}") from None


def _picture_from_npy(data, name):
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ImageReadError(f"{name}: corrupt .npy file ({exc})") from None
    if array.ndim not in (2, 3) or array.dtype.kind not in "biuf" or array.size == 0:
        raise ImageReadError(f"{name}: expected an (H, W) or (H, W, C) numeric array, got shape {array.shape}, dtype {array.dtype}")
    channels = 1 if array.ndim == 2 else array.shape[2]
    if array.dtype == np.uint16 and channels == 1:
        mode = "I;16"
    else:
        # Written to an image format, values are taken as 8-bit samples.
        mode = _MODES_BY_CHANNELS.get(channels, "RGB")
    return Picture(array, mode, NPY)


def _picture_from_pillow(image):
    info = {}
    if image.info.get("icc_profile"):
        info["icc_profile"] = image.info["icc_profile"]
    exif = image.getexif()
    for tag in _LAYOUT_TAGS.intersection(exif):
        del exif[tag]
    if len(exif):
        info["exif"] = exif.tobytes()
    mode = image.mode
    if mode.startswith("I;16") or (mode == "I" and image.format == "PPM"):
        # Pillow reads 16-bit PGM as I; its samples are 16-bit by definition.
        target = "I;16"
    elif mode in _DTYPE:
        target = mode
    elif mode == "1":
        target = "L"
    elif mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        target = "RGBA" if has_alpha else "RGB"
    elif mode in ("La", "RGBa"):
        target = mode.upper()
    else:
        target = "RGB"
    if target != mode and target != "I;16":
        image = image.convert(target)
    pixels = np.asarray(image)
    if target == "I;16":
        pixels = pixels.astype(np.uint16, copy=False)  # native byte order for I;16B files
    return Picture(pixels, target, image.format or "PNG", info)


def output_format(dest, requested=None, input_format="PNG"):
    """The format to write ``dest`` in: its extension, else ``requested``, else the input's.

    ``requested`` is a name from `imgconv.vocabulary.FORMATS` (case-insensitive) or None.
    """
    extension = "" if dest == STDIO else os.path.splitext(os.fspath(dest))[1].lower()
    if extension == ".npy":
        return NPY
    if extension:
        by_extension = Image.registered_extensions().get(extension)
        if by_extension in Image.SAVE:
            return by_extension
        if requested is None:
            raise InvalidInputError(f"{dest}: cannot tell the output format from {extension!r}; give --format")
    if requested is not None:
        return FORMATS[requested.lower()]
    return input_format


def encode_image(samples, picture, fmt, quality=None, compress_level=DEFAULT_COMPRESS_LEVEL, name="<stdout>",
                 threads=None):
    """Encode samples in the picture's mode (``picture.sample_dtype``) as bytes.

    For ``NPY``, ``samples`` is the raw float result and is saved as float32. PNGs in
    the modes `imgconv.png` writes are encoded on every core; other images by Pillow.
    ``name`` is the destination, for error messages only; ``threads`` encode a PNG.
    """
    buffer = io.BytesIO()
    if fmt == NPY:
        np.save(buffer, samples.astype(np.float32, copy=False))
        return buffer.getvalue()
    if samples.ndim == 3 and samples.shape[2] == 1:
        samples = samples[..., 0]
    if fmt == "PNG" and picture.mode in COLOUR_TYPES:
        return encode_png(samples, picture.mode, level=compress_level, threads=threads, **picture.info)
    image = Image.fromarray(samples)
    options = dict(picture.info, compress_level=compress_level)
    if quality is not None:
        options["quality"] = quality
    try:
        image.save(buffer, format=fmt, **options)
    except (OSError, ValueError, KeyError) as exc:
        advice = f"; write {_FORMATS_FOR_MODE[picture.mode]} or .npy" if picture.mode in _FORMATS_FOR_MODE else ""
        raise ImageWriteError(f"{name}: cannot write a {picture.mode} image as {fmt} ({exc}){advice}") from None
    return buffer.getvalue()


def check_destination(dest):
    """Fail early, before any filtering, when ``dest`` cannot be written."""
    if dest == STDIO:
        if sys.stdout.isatty():
            raise InvalidInputError("refusing to write image data to a terminal; redirect standard output")
        return
    folder = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(folder):
        raise ImageWriteError(f"{dest}: folder {folder} does not exist")
    if os.path.isdir(dest):
        raise ImageWriteError(f"{dest}: is a folder")


def write_bytes(data, dest):
    """Write ``data`` to ``dest`` atomically, or to standard output for ``"-"``.

    The bytes go to a temporary file in the destination folder which is then renamed
    over ``dest``, so readers see the old file or the new one, never half of one, and
    an error or Ctrl-C leaves nothing behind.
    """
    if dest == STDIO:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    dest = os.fspath(dest)
    folder, name = os.path.split(os.path.abspath(dest))
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ImageWriteError(f"{dest}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, _new_file_mode(dest))
        os.replace(temporary, dest)
    except BaseException as exc:
        os.unlink(temporary)
        if isinstance(exc, OSError):
            raise ImageWriteError(f"{dest}: cannot write: {exc.strerror or exc}") from None
        raise


def _new_file_mode(dest):
    """Keep an existing file's permissions; give a new one what open() would."""
    try:
        return os.stat(dest).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
