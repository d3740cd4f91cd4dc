"""One image file through one filter: read, filter, encode, write atomically.

This is what every filter command of the CLI does for each input; Python users get
the same result with `process_file`.
"""

import os
from dataclasses import replace

import numpy as np

from .errors import ImageWriteError, InvalidInputError
from .filters import composite, filter_picture
from .io import formats
from .io.depth import change_depth
from .io.formats import NPY
from .io.picture import Picture
from .io.read import read_image
from .io.sink import STDIO, check_destination, write_bytes
from .io.write import EncodeOptions, check_writable, encode_image, output_format
from .names import quote_name
from .stream.run import process_tiled, streamed_probe
from .views import compose
from .vocabulary import DEFAULT_COMPRESS_LEVEL, DEFAULT_MAX_PIXELS


def process_file(source, dest, filt, *, format=None, quality=None, subsampling=None,
                 compress_level=DEFAULT_COMPRESS_LEVEL, depth=None, strip=False, auto_orient=True, frame=None,
                 max_pixels=DEFAULT_MAX_PIXELS, view="result", in_place=False, tile_size=None, compression=None,
                 background=None, on_progress=None, get=None, sync=True, only_regular=False):
    """Apply a `Filter` to the image ``source`` and write the result to ``dest``.

    Parameters
    ----------
    source, dest : str or os.PathLike
        Files, or ``"-"`` for standard input and output.
    filt : imgconv.filters.Filter
    format : str, optional
        Output format when ``dest``'s extension does not give one (see `imgconv.io.formats.names`).
    quality : int, optional
        JPEG, WebP and AVIF quality, 1-100 (see `imgconv.io.encode_image` for the defaults).
    subsampling : str, optional
        JPEG chroma subsampling: ``4:4:4``, ``4:2:2`` or ``4:2:0``.
    compress_level : int
        PNG compression level, 0-9.
    depth : int, optional
        8 or 16: bits a sample of an image output (see `imgconv.io.change_depth`);
        default the input's.
    strip : bool
        Write no EXIF, XMP or comments (the ICC profile stays).
    auto_orient : bool
        Apply the input's EXIF orientation before filtering and write the result upright.
    frame : int, optional
        Filter only this frame of an animation or page of a TIFF (0-based); default all.
    max_pixels : int
        Refuse an input of more pixels, from its header (see `imgconv.io.read_image`).
    view : str
        ``result``, ``side-by-side`` or ``thumbnail`` (see `imgconv.views`); image
        outputs only.
    in_place : bool
        Allow ``dest`` to be ``source`` itself.
    tile_size : (int, int), optional
        Tiles (chunks) of a streamed TIFF or Zarr output; default the input's.
    compression : str, optional
        Compression of a TIFF output (a name of `imgconv.io.TIFF_COMPRESSION`; see
        `imgconv.io.tiff_compression` for the default) or of a streamed Zarr one
        (see `imgconv.stream.run.process_tiled`).
    background : str or (int, int, int), optional
        Composite an image with alpha over this colour (see `parse_background`) after
        filtering, and write it without alpha. Without it, alpha the output format
        cannot hold is dropped when every pixel is opaque, and refused otherwise.
    on_progress : callable, optional
        ``on_progress(done, total)`` in tiles, when a tiled input is streamed.
    get : callable, optional
        The Dask scheduler a streamed tiled input's blocks run on (a
        ``distributed.Client``'s ``get``); default Dask's threads.
    sync : bool
        Sync the output to disk before it takes its name (``fsync``), and its folder
        after, so that a power loss leaves the old output or the new one
        (`imgconv.io.sink`); False skips both, for scratch work.
    only_regular : bool
        Refuse an input that is not a regular file (or a Zarr store), as a batch does
        (see `imgconv.io.read_image`).

    A tiled TIFF or a Zarr store written to a TIFF file or a Zarr store is streamed tile
    by tile (`imgconv.stream`): ``max_pixels`` then bounds what is decoded at once.

    Returns
    -------
    str
        The output format written.
    """
    check_paths(source, dest, in_place)
    probed = streamed_probe(source, dest, format, frame, max_pixels, auto_orient)
    if probed is not None:
        if background is not None:
            raise InvalidInputError(f"{quote_name(dest)}: --background composites whole images, and a tiled input is "
                                    "streamed to a TIFF or Zarr output tile by tile, alpha kept; write another format "
                                    "to decode it whole")
        return process_tiled(source, dest, filt, format=format, depth=depth, strip=strip, frame=frame,
                             max_pixels=max_pixels, auto_orient=auto_orient, view=view, tile=tile_size,
                             compression=compression, on_progress=on_progress, get=get, sync=sync, probed=probed)
    if tile_size is not None:
        raise InvalidInputError(f"{quote_name(dest)}: --tile-size is for tiled outputs, written from a tiled TIFF or "
                                "Zarr input to a .tif or .zarr")
    check_destination(dest)
    name = "<stdout>" if dest == STDIO else quote_name(dest)
    picture = read_image(source, frame=frame, auto_orient=auto_orient, max_pixels=max_pixels,
                         only_regular=only_regular)
    fmt = output_format(dest, format, picture.format)
    data = render(picture, filt, fmt, view=view, depth=depth, quality=quality, subsampling=subsampling,
                  compress_level=compress_level, compression=compression, strip=strip, background=background,
                  name=name)
    write_bytes(data, dest, sync=sync)
    return fmt


def render(picture, filt, fmt, *, view="result", depth=None, quality=None, subsampling=None,
           compress_level=DEFAULT_COMPRESS_LEVEL, compression=None, strip=False, background=None,
           name="<stdout>"):
    """The bytes `process_file` writes for a `Picture` already read: filtered, shown as
    ``view`` says and encoded in ``fmt`` (a name of `imgconv.io.output_format`).

    The options are `process_file`'s; ``name`` is the destination, for messages only.
    """
    if view != "result" and fmt == NPY:
        raise InvalidInputError(f"{name}: --view {view} makes a picture; a .npy output holds the raw result")
    if compression is not None and fmt != "TIFF":
        raise InvalidInputError(f"{name}: --compression is for TIFF outputs (and streamed Zarr ones), not "
                                f"{'.npy' if fmt == NPY else fmt}")
    picture = change_depth(picture, depth)
    picture, written, over = _alpha_for(picture, fmt, background, name)
    check_writable(written, fmt, name)
    results = []
    for pixels in picture.frames:
        one = replace(picture, frames=[pixels])
        samples = filter_picture(one, filt, None if fmt == NPY else picture.sample_dtype, over)
        if fmt == NPY and pixels.dtype.kind == "f":
            samples = samples.astype(pixels.dtype, copy=False)  # a float input's own type: float16 stays float16
        original = pixels if over is None else composite(pixels, over, picture.sample_max)
        results.append(compose(original, samples, view, picture.sample_max))
    encoding = EncodeOptions(quality, subsampling, compress_level, compression, strip)
    return encode_image(results, written, fmt, encoding, name=name)


def parse_background(spec) -> tuple[int, int, int]:
    """The opaque colour of ``--background`` as (r, g, b), 0-255: a name (white, black,
    ...) or #rrggbb, as Pillow's ImageColor reads them (#rgb, rgb(...) and hsl(...)
    too), or (r, g, b) itself."""
    from PIL import ImageColor

    try:
        colour = ImageColor.getrgb(spec) if isinstance(spec, str) else tuple(int(v) for v in spec)
    except (ValueError, TypeError):
        raise InvalidInputError(f"{spec!r} is not a colour; give a name such as white, or #rrggbb") from None
    if len(colour) == 4 and colour[3] == 255:
        colour = colour[:3]  # #rrggbbff: opaque all the same
    if len(colour) != 3 or not all(0 <= v <= 255 for v in colour):
        raise InvalidInputError(f"{spec!r}: a background is an opaque colour, such as white or #rrggbb")
    return colour


# The mode of each mode with alpha without it, and of grey made colour by a background.
_OPAQUE = {"LA": "L", "RGBA": "RGB", "LA;16": "I;16", "RGBA;16": "RGB;16"}
_COLOUR = {"L": "RGB", "I;16": "RGB;16"}


def _alpha_for(picture: Picture, fmt: str, background, name: str) -> tuple[Picture, Picture, tuple | None]:
    """How a picture's alpha reaches ``fmt``: (the picture to filter, the picture as
    written, the background its result is composited over in sample units, or None).

    With ``background``, alpha goes after filtering: the filtered result is composited
    over it (grey over a colour becomes RGB). Without, alpha that ``fmt`` cannot hold
    is dropped before filtering when every pixel is opaque, which loses nothing, and
    refused otherwise, naming --background.
    """
    if not picture.has_alpha:
        return picture, picture, None
    opaque = _OPAQUE.get(picture.mode)
    if background is not None:
        if opaque is None:
            raise ImageWriteError(f"{name}: --background composites 8- and 16-bit images, not "
                                  f"{formats.WORDS[picture.mode]}")
        colour = parse_background(background)
        if opaque in _COLOUR and len(set(colour)) == 1:
            colour = colour[:1]
        else:
            opaque = _COLOUR.get(opaque, opaque)
        over = tuple(v * picture.sample_max / 255 for v in colour)
        return picture, replace(picture, mode=opaque), over
    if fmt == NPY or picture.mode in formats.FORMATS[fmt].holds or opaque not in formats.FORMATS[fmt].holds:
        return picture, picture, None  # kept, or check_writable names what holds it
    if not all(np.all(f[..., -1] == picture.sample_max) for f in picture.frames):
        raise ImageWriteError(f"{name}: {fmt} cannot hold {formats.WORDS[picture.mode]} and the input's alpha is not "
                              "opaque everywhere; give --background COLOR (a name or #rrggbb) to composite it over "
                              f"that colour, or write {formats.holders(picture.mode)}")
    frames = [np.ascontiguousarray(f[..., 0] if f.shape[2] == 2 else f[..., :-1]) for f in picture.frames]
    flat = replace(picture, frames=frames, mode=opaque)
    return flat, flat, None


def check_paths(source, dest, in_place: bool = False) -> None:
    """Refuse ``dest`` being ``source`` itself, unless ``in_place`` allows it."""
    if not in_place and same_file(source, dest):
        raise InvalidInputError(f"{quote_name(dest)}: output is the input file; give --in-place to overwrite it")


def same_file(source, dest) -> bool:
    """The two paths name one file (or, where one does not exist, the same path)."""
    if STDIO in (source, dest):
        return False
    try:
        return os.path.samefile(source, dest)
    except OSError:
        return os.path.abspath(source) == os.path.abspath(dest)
