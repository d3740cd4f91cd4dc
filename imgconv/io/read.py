"""Images read whole: a file, a ``.npy`` array or standard input decoded into a
`Picture` (by Pillow, imagecodecs or tifffile: see `imgconv.io`), refused from its
header when it holds more pixels than the limit, and turned upright as its EXIF
orientation says."""

import io
import math
import re
import struct
from collections.abc import Callable

from ..errors import ImageReadError, ImgconvError, PixelLimitError
from ..names import quote_name
from ..vocabulary import DEFAULT_MAX_PIXELS
from . import bmp, chunks, gif, jpeg2000, jpeg_header, pages, pam, pcx, rgbe, tga
from .budget import PixelBudget, pillow_limit
from .deep import openable_jpeg, picture_from_npy
from .libtiff import LibtiffErrors, libtiff_error_log
from .metadata import classic_exif, turn_resolution
from .orient import orient, orientation_of, upright_xmp
from .picture import Picture, frame_indices
from .pillow_memory import one_block
from .pillow_read import picture_from_pillow
from .quiet import quiet_warnings
from .sink import STDIO, Path
from .source import NPY_MAGIC, max_bytes, read_bytes
from .tiff_read import picture_from_tifffile
from .tiffinfo import ORIENTATION, TIFF_MAGIC
from .tiled_image import is_zarr


def read_image(source: Path, *, frame: int | None = None, auto_orient: bool = True,
               max_pixels: int = DEFAULT_MAX_PIXELS, only_regular: bool = False) -> Picture:
    """Read an image file, ``.npy`` array, or ``"-"`` for standard input.

    Parameters
    ----------
    source : str or os.PathLike
    frame : int, optional
        Read only this frame (page) of an animation or multi-page TIFF, 0-based;
        default every frame. A JPEG photo with an HDR gain map (MPF and XMP as Apple
        and Android write them, `imgconv.io.gain_map`) reads as two frames: the photo,
        then its gain map (``encoding["gain_map"]`` says so).
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
    if is_zarr(source):
        from .tiles import read_picture

        return read_picture(source, frame=frame, max_pixels=max_pixels)
    try:
        data = read_bytes(source, name, max_bytes(max_pixels), only_regular)
        with pages.giving_up([data]):  # read by its decoder alone, which may release it as it goes
            return decode_image(data, name, frame=frame, auto_orient=auto_orient, max_pixels=max_pixels)
    except PixelLimitError as exc:
        from .probe import probe
        from .tiles import STREAM_HINT

        if probe(source, frame).tiled:
            raise PixelLimitError(f"{exc}; {STREAM_HINT}") from None
        raise


def decode_image(data: bytes, name: str, *, frame: int | None = None, auto_orient: bool = True,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> Picture:
    """`read_image` on an encoded image held in memory (``bytes``); ``name`` is what
    error messages call it."""
    budget = PixelBudget(max_pixels, name)
    if (own := _own_reader(data)) is not None:
        picture = own(data, name, budget)
        frame_indices(1, frame, name)
        picture.name = name
        return picture
    from PIL import Image, UnidentifiedImageError

    if data.startswith(TIFF_MAGIC):
        # Pillow opens its first five formats (PNG, JPEG, GIF, BMP, PPM) with their own
        # plugins, and any other after loading all of its plugins (40-47 ms); TIFF's
        # alone takes 1-5 ms (`imgconv.io.formats.format_of_extension`).
        from PIL import TiffImagePlugin  # noqa: F401
    data = chunks.checked_png(data, name) if data.startswith(chunks.PNG_SIGNATURE) else \
        jpeg_header.tidy(bmp.full_header(data))  # the same picture, as every reader then reads it
    # Headers Pillow refuses, made openable; an uncompressed PCX's rows as Pillow decodes them.
    opened = pcx.openable(tga.openable(openable_jpeg(bmp.openable(data, name))))
    # imgconv's limit decides, not Pillow's process-wide one, and only in this call
    # (`pillow_limit`): none while the file is opened, so that imgconv's own check
    # names the first frame's size. Then Pillow's check guards what only Pillow sees:
    # seeking to a GIF frame, it allocates the frame's canvas or the area its disposal
    # clears from the frame's header, before imgconv can take the frame's size (a 24x16
    # GIF whose second frame claimed 65534x4096 took 1 GB before imgconv refused it).
    limit = pillow_limit().set(None)
    libtiff_errors = LibtiffErrors()
    recording = libtiff_error_log().set(libtiff_errors)
    try:
        with quiet_warnings():
            try:
                with Image.open(io.BytesIO(opened)) as image, one_block(image.size):
                    pillow_limit().set(max_pixels or None)
                    picture = picture_from_pillow(image, data, frame, name, budget)
            except UnidentifiedImageError:
                if not data.startswith(TIFF_MAGIC):
                    raise _unidentified(data, name, budget) from None
                # Pillow cannot open 16-bit grey+alpha TIFFs
                picture = picture_from_tifffile(data, frame, name, {}, budget)
        libtiff_errors.check(name)
    except ImgconvError:
        raise
    except Image.DecompressionBombError:
        raise PixelLimitError(f"{name}: its header gives a frame more pixels than the limit of {max_pixels} "
                              "(--max-pixels N raises it; 0 lifts it)") from None
    except Exception as exc:
        # Parsers of damaged or hostile files fail in every way: OSError and ValueError
        # mostly, but also TypeError, IndexError, MemoryError, imagecodecs' RuntimeErrors.
        raise _decoder_failed(exc, data, name) from None
    finally:
        pillow_limit().reset(limit)
        libtiff_error_log().reset(recording)
    picture.name = name
    _settle_exif(picture, auto_orient)
    return picture


def _decoder_failed(exc: Exception, data: bytes, name: str) -> ImageReadError:
    """The error for a decoder's failure ``exc`` on ``data``. What a decoder lacks (a TIFF
    compression, Ghostscript for EPS, a stub format's loader, a JPEG 2000's subsampling,
    a feature of libavif's) is said as such; a TypeError's "not supported" is damage."""
    if _is_avif(data) and str(exc).startswith(_LIBAVIF_FAILED):
        return libavif_error(str(exc), name)
    if (subsampled := jpeg2000.subsampled(data)) is not None:
        return ImageReadError(f"{name}: unsupported by the decoders imgconv uses: {subsampled}")
    if _X10_BITMAP.match(data):
        return ImageReadError(f"{name}: unsupported by the decoders imgconv uses: an X10 bitmap (an XBM of 16-bit "
                              "words), which Pillow reads as one of bytes, finding too few")
    lacking = not isinstance(exc, TypeError) and LACKING.search(str(exc))
    what = "unsupported by the decoders imgconv uses" if lacking else "corrupt or truncated image"
    return ImageReadError(f"{name}: {what} ({exc})")


# An X10 bitmap's header: an XBM whose bits are 16-bit words (X11's are bytes).
_X10_BITMAP = re.compile(rb"\s*(#define[^\n]*\n\s*)+static\s+(unsigned\s+)?short\s")


def _own_reader(data: bytes) -> Callable[[bytes, str, PixelBudget], Picture] | None:
    """The reader of a file Pillow does not open: a ``.npy`` array, a PAM, a Radiance
    HDR, a PCX of a layout Pillow lacks, a JPEG 2000 of more than four components; else
    None."""
    if data.startswith(NPY_MAGIC):
        return picture_from_npy
    if data.startswith(pam.SIGNATURE):
        return pam.picture_from_pam
    if rgbe.is_rgbe(data):
        return rgbe.picture_from_rgbe
    if pcx.lacking(data):
        return pcx.picture_from_pcx
    return jpeg2000.picture_of_many_components if jpeg2000.many_components(data) else None


def _settle_exif(picture: Picture, auto_orient: bool) -> None:
    """A BigTIFF's EXIF made classic, so that it can be written back; with
    ``auto_orient``, the pixels turned as the EXIF orientation says, the tag dropped and
    the XMP's set to 1."""
    exif = picture.metadata.get("exif")
    if exif is not None and exif.bigtiff:
        picture.metadata["exif"] = exif = classic_exif(exif)
    if auto_orient and exif is not None and orientation_of(exif.get(ORIENTATION)) != 1:
        orientation = orientation_of(exif.pop(ORIENTATION))
        picture.frames = [orient(f, orientation) for f in picture.frames]
        turn_resolution(picture.metadata, orientation)
        if "xmp" in picture.metadata:
            picture.metadata["xmp"] = upright_xmp(picture.metadata["xmp"])
        if not len(exif):
            del picture.metadata["exif"]


# The most an AVIF may hold for libavif (as Pillow 13 builds it, 1.4.2) to open it, its
# default imageSizeLimit and imageDimensionLimit: measured by giving an AVIF's header
# (ispe) 16384 x 16384 (opened) and 16385 x 16384 (refused), 32768 x 100 (opened) and
# 32769 x 100 (refused).
_LIBAVIF_MAX_PIXELS = 16384 * 16384


_LIBAVIF_MAX_SIDE = 32768


# A decoder's words for a feature or format it lacks (tifffile: "<COMPRESSION.SGILOG:
# 34676> not supported"; Pillow: "Unsupported BMP compression (6)", "cannot find loader
# for this HDF5 file", "Unable to locate Ghostscript on paths", and for DDS formats it
# lacks, "Unimplemented DXGI format 72" (sRGB BC1), "Unknown pixel format flags 2" (A8)).
LACKING = re.compile(r"\bnot supported\b|^unsupported\b|^unimplemented\b|^unknown pixel format\b|^cannot find loader"
                     r"|Ghostscript", re.IGNORECASE)


# What some of the reasons Pillow's plugins give mean.
_PILLOWS_WORDS = {
    "not identified by this driver": "its header gives no size or mode",  # ImageFile's check
    "unpack": "its header is cut short",  # struct.error: "unpack requires a buffer of ..."
    "unpack_from": "its header is cut short",
}


def _unidentified(data: bytes, name: str, budget: PixelBudget) -> ImageReadError:
    """The error for a file no Pillow plugin opened, saying why where it can: an AVIF
    over the pixel limit or beyond libavif's limits (read from its header, which libavif
    refuses without a reason), else the reason Pillow's plugin for the file's signature
    gives, asked as Image.open asks it (Image.open says it only as a warning, when the
    process-wide WARN_POSSIBLE_FORMATS is set). Plugins without a signature (TGA, for
    one) try every file, and their reasons are not taken."""
    from PIL import Image

    if data[:4] == b"GIF8" and (size := gif.empty_frame(data)):
        return gif.empty_frame_error(name, size)
    if _is_avif(data) and chunks.avif_sizes(data):
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
            # A PSD's mode missing from Pillow's table, whose key (colour mode, bits a channel) is the reason.
            if fmt == "PSD" and reason == str(struct.unpack_from(">HH", data, 22)[::-1]):
                depth, mode = struct.unpack_from(">HH", data, 22)
                reason = f"its {depth}-bit channels (colour mode {mode}) are not what Pillow, its reader, reads"
            if fmt == "AVIF" and reason.startswith(_LIBAVIF_FAILED):
                return libavif_error(reason, name)
            return ImageReadError(f"{name}: a damaged or unsupported {fmt} file: {reason}")
    return ImageReadError(f"{name}: not an image, or a format imgconv cannot read")


def _is_avif(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in chunks.AVIF_BRANDS


# How Pillow's AVIF plugin words libavif's refusal ("Failed to decode image: " and
# libavif's result), and what some of libavif's results say of the file. They cannot
# tell a broken file from one whose feature libavif refuses: libheif (libvips) and
# ImageMagick read the images of libavif's own test files that libavif refuses
# this way (a gain map whose gamma is 0, a grid naming one tile twice).
_LIBAVIF_FAILED = "Failed to decode image: "
_LIBAVIF_RESULTS = {
    "BMFF parsing failed": "cannot parse its boxes",
    "Invalid image grid": "refuses its image grid",
    "Invalid tone mapped image item": "refuses its gain map (its tone-mapped image item), and with it the image",
}


def libavif_error(reason: str, name: str) -> ImageReadError:
    """The error for an AVIF libavif refuses, Pillow's ``reason`` given in libavif's
    words: a feature libavif does not implement as unsupported, anything else as damaged
    or unsupported."""
    result = reason.removeprefix(_LIBAVIF_FAILED)
    if result == "Not implemented":
        return ImageReadError(f"{name}: unsupported by the decoders imgconv uses: the AVIF uses a feature libavif "
                              "(Pillow's AVIF decoder) does not implement")
    meaning = _LIBAVIF_RESULTS.get(result, "refuses it")
    return ImageReadError(f"{name}: a damaged or unsupported AVIF file: libavif (Pillow's AVIF decoder) {meaning} "
                          f"('{result}')")


def _has_signature_of(fmt: str, data: bytes) -> bool:
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
