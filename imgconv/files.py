"""Images in and out of files: as arrays (`imread`, `imwrite`), or as pictures, with all
a file holds (`read_image` gives an `imgconv.io.picture.Picture`; `write_image`).

Both ways follow the command line's rules, those of ``imgconv identity IN OUT``:

- Reading gives samples in the file's own units and type: 8-bit files as uint8
  (0-255), 16-bit as uint16 (0-65535), float TIFFs and ``.npy`` arrays as stored;
  (H, W) for grey, (H, W, C) for grey with alpha, RGB and RGBA (channels last). A
  palette is read as RGB(A), a bilevel image as grey 0 and 255, CMYK as sRGB (through
  its ICC profile, as a PNG output gets it) unless ``cmyk=True`` asks for its four inks,
  other colour spaces as RGB; the EXIF orientation is applied unless
  ``auto_orient=False``. An image of more pixels than ``max_pixels`` is refused from
  its header.
- Writing takes the format from the file's extension (or ``format=``) and never
  writes less than it is given: a 16-bit array to an 8-bit format, floats to an
  integer one, or alpha that is not opaque everywhere to a format without alpha are
  refused, saying what holds them and which keyword converts (``depth=8``, ``depth=16``,
  ``background=``). The messages name the command line's options, which are these
  keywords. The file appears whole under its name or not at all.

An array does not say what its channels are: four are RGBA unless ``cmyk=True`` says
they are inks, both ways, so that inks are never written as colours.
"""

import functools
import os
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from . import kernels
from .errors import ImageWriteError, InvalidInputError
from .filters import preset_filter
from .io import formats, gain_map
from .io.cmyk import to_srgb as inks_to_srgb
from .io.picture import Picture
from .io.read import read_image
from .io.sink import STDIO, check_destination, output_file
from .io.srgb import to_srgb
from .io.tiled_image import Path
from .io.write import EncodeOptions, output_format
from .names import quote_name
from .options import WriteOptions
from .pipeline import render_into
from .vocabulary import DEFAULT_COMPRESS_LEVEL, DEFAULT_MAX_PIXELS

__all__ = ["imread", "imwrite", "read_image", "write_image"]


def imread(path: Path, *, frame: int | None = 0, auto_orient: bool = True, max_pixels: int = DEFAULT_MAX_PIXELS,
           cmyk: bool = False, srgb: bool = False) -> np.ndarray:
    """The samples of an image file, or of ``"-"`` (standard input), as an array.

    Parameters
    ----------
    path : str or os.PathLike
        Any image imgconv reads (``imgconv formats``), a ``.npy`` array, or a Zarr store.
    frame : int or None
        The frame of an animation or page of a TIFF, from 0; None reads every frame,
        stacked into (N, H, W[, C]) (refused when their sizes differ, or for a JPEG
        photo with an HDR gain map, whose photo is frame 0: `read_image` gives them
        one by one).
    auto_orient : bool
        Turn the pixels as the EXIF orientation says, so that they are the image as
        it is displayed.
    max_pixels : int
        Refuse, from the header, an image of more pixels than this (all frames read
        counted); 0 for no limit.
    cmyk : bool
        Give a CMYK file's four inks (C, M, Y, K, 0 for none; a fifth channel is
        alpha) as they are, to filter and write back with ``imwrite(..., cmyk=True)``.
        By default a CMYK file gives sRGB, converted through its ICC profile (LittleCMS,
        relative colorimetric with black-point compensation) or without one as Pillow
        converts, as ``imgconv identity cmyk.jpg out.png`` does. Other files are read
        alike either way.
    srgb : bool
        Give colours that an ICC profile (or a PNG's gAMA and cHRM) describes other
        than as sRGB, Display P3's or Adobe RGB's, converted to sRGB, as
        ``imgconv identity --srgb`` does (`imgconv.io.srgb.to_srgb`): RGB through the
        profile by LittleCMS, relative colorimetric with black-point compensation, grey
        by its curve, at the file's own depth, alpha as it is; CMYK too, even with
        ``cmyk=True``. sRGB files, and files that describe no colours, are read alike
        either way.

    Returns
    -------
    numpy.ndarray
        (H, W) or (H, W, C), in the file's own units and type (see the module
        docstring).

    Raises
    ------
    imgconv.ImageReadError
        Naming the file and the reason, for an unreadable or damaged file.

    Examples
    --------
    >>> import imgconv, numpy as np, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     imgconv.imwrite(f"{folder}/ramp.png", np.array([[0, 100, 200]], np.uint8))
    ...     imgconv.imread(f"{folder}/ramp.png")
    array([[  0, 100, 200]], dtype=uint8)
    """
    picture = read_image(path, frame=frame, auto_orient=auto_orient, max_pixels=max_pixels)
    if srgb:
        picture = to_srgb(picture)
    elif picture.mode in formats.CMYK_MODES and not cmyk:
        picture = inks_to_srgb(picture, advice="give cmyk=True to read its inks")
    if frame is not None:
        return picture.frames[0]
    if gain_map.is_photo_with_gain_map(picture):
        raise InvalidInputError(f"{picture.name}: {gain_map.described(picture)}; give frame=0 for the photo "
                                "without its gain map, or take both from read_image(path).frames")
    shapes = {f.shape for f in picture.frames}
    if len(shapes) > 1:
        raise InvalidInputError(f"{picture.name}: its frames differ in size, and one array holds frames of one size; "
                                "give frame=N, or take them one by one from read_image(path).frames")
    return np.stack(picture.frames)


def imwrite(path: Path, image: ArrayLike | Sequence[np.ndarray], *, format: str | None = None,
            depth: int | None = None, background: str | tuple[int, int, int] | None = None,
            quality: int | None = None, subsampling: str | None = None,
            compress_level: int = DEFAULT_COMPRESS_LEVEL, compression: str | None = None,
            duration: float | Sequence[float] | None = None, loop: int | None = None, cmyk: bool = False,
            srgb: bool = False, sync: bool = True) -> None:
    """Write an array to an image file, or to ``"-"`` (standard output), as
    ``imgconv identity`` writes a ``.npy`` of it.

    Parameters
    ----------
    path : str or os.PathLike
        The format comes from its extension (``.png``, ``.jpg``, ``.tif``, ``.npy``...).
    image : array_like, or a list of arrays
        (H, W) grey or (H, W, C) with C = 2 (grey with alpha), 3 (RGB) or 4 (RGBA), in
        sample units: uint8 0-255, uint16 0-65535, floats or other types as they are
        (TIFF and ``.npy`` hold them); more channels only in ``.npy``. A list or tuple
        of NumPy arrays is the frames of an animation (GIF, PNG, WebP) or the pages of
        a TIFF.
    format : str, optional
        The format when the extension gives none (``imgconv formats`` lists them).
    depth : {8, 16}, optional
        Convert to this many bits a sample: 16 to 8 bits is ``round(v / 257)``, floats
        map 0.0-1.0 to the whole range. Default: the array's own, or a refusal if the
        format cannot hold it.
    background : str or (int, int, int), optional
        Composite an image with alpha over this opaque colour (a name, ``#rrggbb`` or
        (r, g, b) in 0-255) and write it without alpha.
    quality, subsampling, compress_level, compression
        The encoder's: JPEG, WebP and AVIF quality; JPEG chroma subsampling
        (``4:4:4`` by default); PNG compression level 0-9; TIFF compression (see
        `imgconv.io.write.EncodeOptions`).
    duration : float or list of float, optional
        Of several frames: how long each shows, in ms (one for all, or one a frame);
        default 0, which viewers show at their own pace.
    loop : int, optional
        Of several frames: how many times the animation plays, 0 for ever; default the
        format's (a GIF plays once, PNG and WebP for ever).
    cmyk : bool
        The array's channels are CMYK inks (0 none, the maximum full), four, or five
        with alpha, 8- or 16-bit, as ``imread(..., cmyk=True)`` gives them: kept as
        CMYK in TIFF and JPEG (which holds it without alpha, at 8 bits), converted to
        sRGB for other formats (as Pillow converts: the array carries no profile).
    srgb : bool
        Inks (``cmyk=True``) converted to sRGB for every format, TIFF and JPEG too; an
        array's other samples carry no profile, and are written as they are.
    sync : bool
        Sync the file to disk before it takes its name (False for scratch files).

    Raises
    ------
    imgconv.ImageWriteError
        Naming the file, for what the format cannot hold as it is, and what to do.

    Examples
    --------
    16-bit grey stays 16-bit in a PNG; a JPEG cannot hold it, and says how to convert:

    >>> import imgconv, numpy as np, tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> grey = np.array([[0, 1000], [30000, 65535]], np.uint16)
    >>> imgconv.imwrite(f"{folder.name}/grey.png", grey)
    >>> imgconv.imread(f"{folder.name}/grey.png")
    array([[    0,  1000],
           [30000, 65535]], dtype=uint16)
    >>> imgconv.imwrite(f"{folder.name}/grey.jpg", grey)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    imgconv.errors.ImageWriteError: .../grey.jpg: JPEG holds 8 bits a sample and the input is 16-bit grey; ...
    >>> imgconv.imwrite(f"{folder.name}/grey.jpg", grey, depth=8)
    >>> imgconv.imread(f"{folder.name}/grey.jpg").dtype
    dtype('uint8')
    >>> folder.cleanup()
    """
    frames = list(image) if isinstance(image, (list, tuple)) and all(
        isinstance(f, np.ndarray) for f in image) else [np.asarray(image)]
    picture = picture_of(frames)
    if cmyk:
        picture.mode = _inks_mode(picture)
    if duration is not None:
        durations = [float(d) for d in duration] if isinstance(duration, Sequence) else [float(duration)] * len(frames)
        if len(durations) != len(frames):
            raise InvalidInputError(f"{len(durations)} durations for {len(frames)} frames")
        picture.animation["duration"] = durations
    if loop is not None:
        picture.animation["loop"] = loop
    _check_floats(path, picture, format, depth)
    write_image(path, picture, format=format, depth=depth, background=background, quality=quality,
                subsampling=subsampling, compress_level=compress_level, compression=compression, srgb=srgb,
                sync=sync)


def write_image(path: Path, picture: Picture, *, format: str | None = None, depth: int | None = None,
                background: str | tuple[int, int, int] | None = None, quality: int | None = None,
                subsampling: str | None = None, compress_level: int = DEFAULT_COMPRESS_LEVEL,
                compression: str | None = None, strip: bool = False, srgb: bool = False, sync: bool = True) -> None:
    """Write a `Picture` (as `read_image` gives one, its frames changed or not) to an
    image file, with all it holds that the format keeps: frames and their timing, the
    ICC profile, EXIF, XMP and comment (unless ``strip``), and, with no ``quality``, a
    JPEG's quantisation tables and subsampling or a WebP's losslessness.

    Parameters are those of `imwrite`, ``strip`` (leave out EXIF, XMP and comments) and
    ``srgb``: convert colours an ICC profile (or a PNG's gAMA and cHRM) describes other
    than as sRGB, and CMYK, to sRGB, and write no profile (as `imread`'s ``srgb``). A
    format that carries no profile refuses such colours without it. A picture read from
    one format and written to the same format with nothing changed gives the file
    ``imgconv identity`` writes.

    Examples
    --------
    A two-frame GIF blurred frame by frame, its timing kept:

    >>> import imgconv, numpy as np, tempfile
    >>> frames = [np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 255, np.uint8)]
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     imgconv.imwrite(f"{folder}/flash.gif", frames, duration=[500, 250])
    ...     picture = imgconv.read_image(f"{folder}/flash.gif")
    ...     picture.mode, len(picture.frames), picture.animation["duration"]
    ...     picture.frames = [imgconv.blur(f, sigma=1, output=f.dtype) for f in picture.frames]
    ...     imgconv.write_image(f"{folder}/soft.gif", picture)
    ...     imgconv.read_image(f"{folder}/soft.gif").animation["duration"]
    ('RGB', 2, [500, 250])
    [500, 250]
    """
    name = "<stdout>" if path == STDIO else quote_name(path)
    fmt = _format_of(path, format, picture)
    check_destination(path)
    encoding = EncodeOptions(quality=quality, subsampling=subsampling, compress_level=compress_level,
                             compression=compression, strip=strip)
    options = WriteOptions(format=format, depth=depth, background=background, sync=sync, srgb=srgb,
                           encoding=encoding)
    render_into(functools.partial(output_file, path, sync=sync), picture, preset_filter(kernels.identity()), fmt,
                options, name=name)


def _format_of(path: Path, format: str | None, picture: Picture) -> str:
    """The format ``path`` is written in: its extension's, else ``format``; for standard
    output, the picture's own, as the command line's."""
    if format is None and path != STDIO and not os.path.splitext(os.fspath(path))[1]:
        raise InvalidInputError(f"{quote_name(path)}: no extension to tell the format by; give format=, such as "
                                "format='png'")
    return output_format(path, format, picture.format)


def _check_floats(path: Path, picture: Picture, format: str | None, depth: int | None) -> None:
    """Refuse floats that ``path``'s format cannot hold, pointing to ``output=``: the
    array functions' float results are in sample units (0-255 for an 8-bit image),
    which ``depth=`` would map from 0.0-1.0, as for float image files, all but the
    darkest to white."""
    if picture.mode not in formats.FLOAT or depth is not None:
        return
    fmt = _format_of(path, format, picture)
    record = formats.FORMATS[fmt]
    if not record.raw and picture.mode not in record.holds:
        raise ImageWriteError(f"{quote_name(path)}: {fmt} holds integer samples and the array holds "
                              f"{picture.frames[0].dtype} ones; give imgconv's filter output=np.uint8 (or "
                              f"output=image.dtype) to round its result into samples, write "
                              f"{formats.holders(picture.mode)} to keep the floats, or give depth=8 or 16 to "
                              "map floats of 0.0-1.0 to the whole range")


def picture_of(frames: list[np.ndarray], name: str = "the array") -> Picture:
    """A `Picture` of arrays of samples, as a ``.npy`` input is read: (H, W) or (H, W, C)
    frames of one type and channel count, whose mode follows from them
    (`imgconv.io.formats.mode_of`, or ``multichannel`` beyond four channels)."""
    first = frames[0]
    if any(f.ndim not in (2, 3) or f.size == 0 for f in frames):
        raise InvalidInputError(f"{name} must be (H, W) or (H, W, C) samples, got shape "
                                f"{next(f.shape for f in frames if f.ndim not in (2, 3) or f.size == 0)}")
    if any(f.dtype != first.dtype or f.shape[2:] != first.shape[2:] for f in frames):
        raise InvalidInputError(f"{name}: its frames differ in type or channels")
    channels = 1 if first.ndim == 2 else first.shape[2]
    mode = formats.mode_of(first.dtype, channels) or (formats.MULTICHANNEL if channels > 4 else None)
    if mode is None:
        raise InvalidInputError(f"{name}: {first.dtype} samples are not an image imgconv writes")
    return Picture(frames, mode, formats.NPY, name=name)


def _inks_mode(picture: Picture) -> str:
    """The CMYK mode of an array's samples (``imwrite(..., cmyk=True)``), or a refusal
    of one that cannot be inks."""
    frame = picture.frames[0]
    channels = 1 if frame.ndim == 2 else frame.shape[2]
    if channels not in (4, 5) or frame.dtype not in (np.uint8, np.uint16):
        raise InvalidInputError(f"cmyk=True takes 8- or 16-bit inks, four channels or five with alpha; the array has "
                                f"{channels} channel(s) of {frame.dtype}")
    return ("CMYK" if channels == 4 else "CMYKA") + (";16" if frame.dtype == np.uint16 else "")
