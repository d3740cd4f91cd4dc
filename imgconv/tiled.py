"""Large tiled TIFF and Zarr files, filtered block by block and written tile by tile.

A tiled TIFF (BigTIFF too, any compression tifffile decodes) or a Zarr store (a folder
named ``*.zarr``) written to a TIFF file or a Zarr store is never held whole: its tiles
are read one row of tiles at a time, cut into blocks of full-width rows as
`imgconv.dask.map_bands` cuts them (so the result equals the whole image's, sample for
sample), each block filtered by the same `imgconv.filters.filter_picture` as a whole
picture, on Dask's threaded scheduler (or a cluster's), at most `MAX_IN_FLIGHT` blocks
at once, and the result written in order, one row of tiles at a time, to a temporary
file or store that takes the output's name at the end (`imgconv.sink`). Memory is
bounded by the blocks in flight, not by the image::

    filt = imgconv.filters.preset_filter(imgconv.kernels.separable_gaussian(5, 3))
    imgconv.pipeline.process_file("big.tif", "out.tif", filt)   # streams through here

Before any pixel is read, the header is checked: the tile size against the pixel
budget (a row of tiles and a block of rows must fit in ``max_pixels``), the tile count
against the image's size, and every tile's bytes against the file's length.
"""

import concurrent.futures
import functools
import math
import os
import stat
import threading
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from . import formats
from .errors import (INSTALL_HINT, ImageReadError, ImageWriteError, ImgconvError, InvalidInputError,
                     MissingExtraError, PixelLimitError)
from .cpus import cpu_count
from .engine import work_dtype
from .filters import rounds_in_engine
from .imageio import _ICC, _TIFF_MAGIC, _XMP, STDIO, Picture, change_depth, open_input, orientation_of, output_format
from .sink import atomic_file, atomic_folder, check_replaceable

ZARR = "ZARR"
# The result's bytes per block. A block in flight holds its rows and the rows its kernel
# reaches, the rows of tiles it shares, the engine's float32 work and its result: with
# 16 MiB (480 rows of a 32768-pixel 8-bit row), benchmarks/tiled_memory.py's 1 GiB grey
# image peaked at 342 to 376 MiB resident, within the 456 MiB asked (a quarter of the
# image plus 200 MiB).
BLOCK_BYTES = 16 * 2**20
# Blocks computed at once, and the engine's threads in each, whatever the CPU count:
# each block holds the above, and each engine thread a band of full-width rows with the
# kernel's reach in float32 (a 48-row band of a 32768-pixel row and 10 rows of reach
# is 7.3 MiB, held a few times over), so memory grows with these, not with the machine.
# At most 4 cores work on one streamed image.
MAX_IN_FLIGHT = 2
MAX_BLOCK_THREADS = 2
# A TIFF tile's sides are multiples of 16 (TIFF 6.0, section 15).
TIFF_TILE_MULTIPLE = 16


@dataclass(frozen=True)
class TiledImage:
    """One page of a tiled TIFF, or a Zarr array, as far as its header says.

    Attributes
    ----------
    path : str
        Absolute, so that a cluster's workers, in other folders, read the same file.
    name : str
        The path as given, for messages.
    kind : str
        ``"TIFF"`` or ``"ZARR"``.
    page : int
        The TIFF page (0 for Zarr).
    shape : tuple
        (H, W) or (H, W, C), as the samples are read.
    dtype : numpy.dtype
    mode : str
        The image's mode (`imgconv.formats`).
    tile : (int, int)
        Rows and columns of a tile (a Zarr chunk).
    options : dict
        How the input was stored, for an output written the same way: ``compression``,
        ``predictor``, ``photometric``, ``extrasamples``, ``bigtiff`` (TIFF);
        ``compressors``, ``zarr_format`` (Zarr).
    """

    path: str
    name: str
    kind: str
    page: int
    shape: tuple
    dtype: np.dtype
    mode: str
    tile: tuple
    options: dict = field(default_factory=dict)

    @property
    def pixels(self):
        return self.shape[0] * self.shape[1]


STREAM_HINT = ("only the filter commands stream a tiled TIFF or Zarr input, tile by tile, to a .tif or .zarr "
               "output")


def read_picture(path, frame=None, max_pixels=0):
    """A Zarr store decoded whole, as `imgconv.imageio.read_image` decodes a file
    (refused over ``max_pixels``): for outputs that are not written tile by tile."""
    image = open_zarr(path, frame=frame)
    if max_pixels and image.pixels > max_pixels:
        raise PixelLimitError(f"{image.name}: {image.shape[1]} x {image.shape[0]} is more pixels than the limit of "
                              f"{max_pixels} (--max-pixels N raises it; 0 lifts it); {STREAM_HINT}")
    return Picture([read_rows(image, 0, image.shape[0])], image.mode, ZARR, name=image.name)


def is_zarr(path):
    """Whether ``path`` names a Zarr store: a path ending in ``.zarr``."""
    return path != STDIO and os.fspath(path).rstrip("/\\").lower().endswith(".zarr")


def output_kind(dest, format=None):
    """``"TIFF"`` or ``"ZARR"`` when ``dest`` is written tile by tile, else None (standard
    output, other formats, and names whose format cannot be told)."""
    if dest == STDIO:
        return None
    if is_zarr(dest):
        return ZARR
    try:
        return "TIFF" if output_format(dest, format, "TIFF") == "TIFF" else None
    except ImgconvError:
        return None


def is_tiled_tiff(source, frame=None):
    """Whether ``source`` is a TIFF whose page ``frame`` (default the first) is tiled.
    A file that is not a TIFF, or whose header tifffile cannot parse, is not: the
    whole-image path reports what is wrong with it. Nor is anything but a regular file:
    a FIFO is not even opened, as a reader that comes and goes breaks the pipe of a
    writer waiting for the image's reader (and the file is opened without waiting, see
    `imgconv.imageio.open_input`, should a FIFO take its name in between)."""
    if source == STDIO or is_zarr(source):
        return False
    try:
        if not stat.S_ISREG(os.stat(source).st_mode):
            return False
        with open_input(source, os.fspath(source), only_regular=True) as file:
            if not file.read(4) in _TIFF_MAGIC:
                return False
            file.seek(0)
            import tifffile

            with tifffile.TiffFile(file, name=os.path.basename(source)) as tiff:
                page = tiff.pages[frame or 0]
                return bool(page.is_tiled)
    except Exception:  # missing, damaged, no such page, not a file: not this module's to say
        return False


def streams(source, dest, format=None, frame=None):
    """Whether `imgconv.pipeline.process_file` streams ``source`` to ``dest`` through
    this module: a Zarr store or tiled TIFF, to a TIFF file or a Zarr store."""
    return output_kind(dest, format) is not None and (is_zarr(source) or is_tiled_tiff(source, frame))


def _dask():
    try:
        import dask
        import dask.array as da
    except ImportError:
        raise MissingExtraError(f"tiled inputs need Dask, which is not installed: {INSTALL_HINT}") from None
    return dask, da


def _zarr():
    try:
        import zarr
    except ImportError:
        raise MissingExtraError(f"Zarr stores need zarr, which is not installed: {INSTALL_HINT}") from None
    return zarr


# ---------------------------------------------------------------------------------------
# Headers, checked before anything is read


def _mode(dtype, channels, name):
    """The mode of the samples as stored; not 1-bit ones, which the whole image's path
    reads as 0 and 255."""
    mode = None if np.dtype(dtype) == np.bool_ else formats.mode_of(dtype, channels)
    if mode is None:
        raise ImageReadError(f"{name}: {channels} channel(s) of {np.dtype(dtype)} samples: not an image imgconv reads")
    return mode


def _check_budget(name, shape, tile, max_pixels):
    """A row of tiles (what is decoded at once), edge tiles whole, must fit in the pixel
    budget: so must a tile, however much larger than the image its header says it is."""
    th, tw = tile
    if th < 1 or tw < 1:
        raise ImageReadError(f"{name}: corrupt image: tile size {th} x {tw}")
    held = th * -(-shape[1] // tw) * tw
    if max_pixels and held > max_pixels:
        raise ImageReadError(f"{name}: a row of {th} x {tw} tiles across {shape[1]} columns is {held} pixels, more "
                             f"than the limit of {max_pixels} that a streamed block must fit in (--max-pixels N "
                             "raises it; 0 lifts it)")


def open_tiff(path, frame=None, max_pixels=0, auto_orient=True):
    """The tiled pages of a TIFF (page ``frame`` alone, if given), checked.

    Raises `ImageReadError` naming the file for a page that is not tiled, tiles of an
    absurd size or too many pixels for ``max_pixels``, a tile count that does not match
    the image, tile data beyond the end of the file, and samples imgconv does not read.
    """
    import tifffile

    name = os.fspath(path)
    try:
        size = os.path.getsize(path)
        with tifffile.TiffFile(path) as tiff:
            count = len(tiff.pages)
            if frame is not None and frame >= count:
                raise InvalidInputError(f"{name}: --frame {frame} does not exist; the image has {count} frame(s), "
                                        "numbered from 0")
            indices = [frame] if frame is not None else range(count)
            return [_tiff_page(tiff, tiff.pages[i], i, name, size, max_pixels, auto_orient) for i in indices]
    except ImgconvError:
        raise
    except Exception as exc:  # tifffile's parser meets damaged headers in every way
        raise ImageReadError(f"{name}: corrupt or truncated image ({' '.join(str(exc).split())})") from None


def _tiff_page(tiff, page, index, name, size, max_pixels, auto_orient):
    import tifffile

    where = f"{name}: page {index}" if len(tiff.pages) > 1 else name
    if not page.is_tiled:
        raise ImageReadError(f"{where} is not tiled; give --frame N for a tiled page, or write another format to "
                             "decode the file whole")
    if page.imagedepth != 1 or page.tiledepth != 1:
        raise ImageReadError(f"{where}: a volume of {page.imagedepth} slices: not an image imgconv reads")
    if auto_orient and orientation_of(page.tags.valueof(274)) != 1:
        raise InvalidInputError(f"{where}: EXIF orientation {page.tags.valueof(274)}: a streamed image is filtered "
                                "as stored; give --no-auto-orient")
    height, width, channels = page.imagelength, page.imagewidth, page.samplesperpixel
    tile = (page.tilelength, page.tilewidth)
    if height < 1 or width < 1:
        raise ImageReadError(f"{where}: corrupt image: dimensions {width} x {height}")
    if page.photometric in (tifffile.PHOTOMETRIC.RGB, tifffile.PHOTOMETRIC.YCBCR) and channels < 3:
        # Written back as it claims, such a page would make a TIFF no reader can open.
        raise ImageReadError(f"{where}: corrupt image: {page.photometric.name} colour with {channels} sample(s) a "
                             "pixel")
    mode = _mode(page.dtype, channels, where)
    _check_budget(where, (height, width), tile, max_pixels)
    planes = channels if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE else 1
    expected = -(-height // tile[0]) * -(-width // tile[1]) * planes
    offsets, counts = page.dataoffsets, page.databytecounts
    if len(offsets) != expected or len(counts) != expected:
        raise ImageReadError(f"{where}: corrupt image: {len(offsets)} tile offsets and {len(counts)} tile sizes for "
                             f"{expected} tiles of {tile[0]} x {tile[1]} in {width} x {height}")
    ends = np.asarray(offsets, np.uint64) + np.asarray(counts, np.uint64)
    if len(ends) and int(ends.max()) > size:
        raise ImageReadError(f"{where}: truncated: tile data runs to byte {int(ends.max())} of a {size}-byte file")
    # Tiles without data (a sparse file) are read as zeros: a few bytes of header could
    # otherwise claim an image that fills the disk when written out. Within the pixel
    # limit they are an ordinary sparse file.
    empty = sum(1 for count in counts if count == 0) // planes * tile[0] * tile[1]
    if max_pixels and empty > max_pixels:
        raise ImageReadError(f"{where}: {empty} pixels in tiles that hold no data (a sparse file), more than the "
                             f"limit of {max_pixels} (--max-pixels N raises it; 0 lifts it)")
    shape = (height, width) if channels == 1 else (height, width, channels)
    extras = tuple(int(e) for e in page.extrasamples)
    options = dict(compression=page.compression, predictor=page.predictor, photometric=page.photometric,
                   extrasamples=extras or None, bigtiff=tiff.is_bigtiff)
    options.update({key: bytes(page.tags[tag].value) for key, tag in (("iccprofile", _ICC), ("xmp", _XMP))
                    if tag in page.tags})
    return TiledImage(os.path.abspath(name), name, "TIFF", index, shape, np.dtype(page.dtype), mode, tile, options)


def open_zarr(path, max_pixels=0, frame=None):
    """The array of a Zarr store (one frame: ``frame`` may be 0), checked as `open_tiff`
    checks a page."""
    zarr = _zarr()
    name = os.fspath(path)
    if frame not in (None, 0):
        raise InvalidInputError(f"{name}: --frame {frame} does not exist; a Zarr store holds 1 frame, numbered 0")
    if not os.path.isdir(path):
        raise ImageReadError(f"{name}: no such Zarr store" if not os.path.exists(path) else
                             f"{name}: not a Zarr store (a folder)")
    try:
        array = zarr.open_array(path, mode="r")
        shape, dtype, chunks = tuple(array.shape), np.dtype(array.dtype), tuple(array.chunks)
        options = dict(compressors=array.compressors, zarr_format=array.metadata.zarr_format)
    except ImgconvError:
        raise
    except Exception as exc:
        raise ImageReadError(f"{name}: not a Zarr array, or a damaged one ({' '.join(str(exc).split())})") from None
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ImageReadError(f"{name}: an array of shape {shape}: not an image (H, W) or (H, W, C)")
    channels = 1 if len(shape) == 2 else shape[2]
    mode = _mode(dtype, channels, name)
    _check_budget(name, shape, chunks[:2], max_pixels)
    return TiledImage(os.path.abspath(name), name, ZARR, 0, shape, dtype, mode, chunks[:2], options)


def read_rows(image, top, bottom):
    """Rows ``top ... bottom - 1`` of ``image`` (a `TiledImage`), decoded from the tiles
    that hold them. Opens the file itself, so that it runs on any thread or worker."""
    try:
        if image.kind == ZARR:
            return np.asarray(_zarr().open_array(image.path, mode="r")[top:bottom])
        return _read_tiff_rows(image, top, bottom)
    except ImgconvError:
        raise
    except Exception as exc:
        raise ImageReadError(f"{image.name}: corrupt or truncated tile data ({' '.join(str(exc).split())})") from None


def _read_tiff_rows(image, top, bottom):
    import tifffile

    th, tw = image.tile
    height, width = image.shape[:2]
    channels = 1 if len(image.shape) == 2 else image.shape[2]
    across = -(-width // tw)
    down = -(-height // th)
    rows = np.zeros((bottom - top, width, channels), image.dtype)
    with tifffile.TiffFile(image.path) as tiff:
        page = tiff.pages[image.page]
        planes = channels if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE else 1
        handle = tiff.filehandle
        for plane in range(planes):
            for row in range(top // th, -(-bottom // th)):
                for column in range(across):
                    index = (plane * down + row) * across + column
                    offset, count = page.dataoffsets[index], page.databytecounts[index]
                    data = None
                    if count:
                        handle.seek(offset)
                        data = handle.read(count)
                    tile, _, shape = page.decode(data, index, jpegtables=page.jpegtables)
                    if tile is None:  # a sparse tile holds nothing: zeros, as tifffile reads it
                        continue
                    tile = tile.reshape(th, tw, -1)
                    y0, x0 = row * th, column * tw
                    a, b = max(y0, top), min(y0 + th, bottom)
                    w = min(tw, width - x0)
                    target = slice(plane, plane + 1) if planes > 1 else slice(None)
                    rows[a - top : b - top, x0 : x0 + w, target] = tile[a - y0 : b - y0, :w]
    return rows[..., 0] if len(image.shape) == 2 else rows


# ---------------------------------------------------------------------------------------
# Filtering


def exact_options(filt, in_flight=1, dtype=None):
    """The engine options that make ``filt`` exact block by block: ``auto`` resolved to
    `imgconv.dask.exact_method` of its kernels for samples of ``dtype`` (chosen once,
    never per block; one per kernel where its kernels take different ones, as a
    gradient's two derivatives may), and the filter's engine threads shared by the
    blocks in flight (at most `MAX_BLOCK_THREADS` each)."""
    from .dask import exact_method
    from .engine.bands import thread_count

    options = dict(filt.options)
    if options.get("method", "auto") == "auto":
        methods = tuple(exact_method(kernel, options.get("boundary", "reflect"), dtype, options.get("cval", 0.0))
                        for kernel, _ in filt.passes)
        options["method"] = methods[0] if len(set(methods)) == 1 else methods if methods else "direct"
    options["threads"] = min(MAX_BLOCK_THREADS, max(1, thread_count(options.get("threads")) // in_flight))
    return options


def _geometry(filt, name):
    """The one (kernel height, convolved) that every kernel of ``filt`` shares."""
    from .dask import _kernel_shape
    from .engine import MAX_KERNEL_SIZE, SeparableKernel

    shapes = {(_kernel_shape(kernel)[0], flip) for kernel, flip in filt.passes}
    if any(isinstance(k, SeparableKernel) and max(k.shape) > MAX_KERNEL_SIZE for k, _ in filt.passes):
        raise InvalidInputError(f"{name}: a kernel longer than {MAX_KERNEL_SIZE} taps needs the whole image at once, "
                                "which a streamed tiled input never is; write another format to decode it whole")
    if len(shapes) != 1:  # no filter of the CLI has kernels of different heights
        raise InvalidInputError(f"{name}: this filter's kernels differ in height; it cannot be streamed block by block")
    return shapes.pop()


def filter_blocks(image, filt, *, depth=None, block_bytes=None, max_pixels=0, in_flight=1):
    """The filtered image as a lazy Dask array in full-width blocks, and its mode.

    ``filt`` must have its method fixed (see `exact_options`); each block equals the
    rows of `imgconv.filters.filter_picture` on the whole image. A block holds at most
    ``block_bytes`` of result (default `BLOCK_BYTES`) and ``max_pixels`` pixels, or one
    band of the engine if that is more; ``in_flight`` blocks at once share the rows of
    tiles they read.
    """
    _, da = _dask()
    from .dask import map_bands

    if filt.whole_display:
        raise InvalidInputError(f"{image.name}: --normalize stretches by the whole image's maximum, which a streamed "
                                "tiled input never holds; drop it, or write another format to decode it whole")
    if filt.options.get("method", "auto") == "auto":
        raise InvalidInputError("a streamed filter needs its method fixed: see imgconv.tiled.exact_options")
    kernel_height, flip = _geometry(filt, image.name) if filt.passes else (1, False)
    dtype, mode = result_type(image, depth)
    budget = block_bytes or BLOCK_BYTES
    if max_pixels:
        budget = min(budget, max_pixels * math.prod(image.shape[2:]) * dtype.itemsize)

    th = image.tile[0]
    height = image.shape[0]
    reader = _TileRows(image)
    pieces = [da.from_delayed(_delayed(reader, top, min(top + th, height)),
                              (min(top + th, height) - top,) + image.shape[1:], dtype=image.dtype)
              for top in range(0, height, th)]
    source = da.concatenate(pieces, axis=0)
    function = _BlockFilter(filt, image.mode, image.kind, depth, dtype, image.name)
    blocks = map_bands(source, function, kernel_height, filt.options["method"], filt.options.get("boundary", "reflect"),
                       flip=flip, dtype=dtype, block_bytes=budget)
    # The rows of tiles that the blocks in flight and the kernel's reach span, plus the
    # partial rows of tiles at either end.
    reader.held = -(-(in_flight * blocks.chunks[0][0] + kernel_height) // th) + 2
    return blocks, mode


def result_type(image, depth=None):
    """The samples' type and mode once ``--depth`` has changed the input's, as the whole
    image's path filters them: told by one pixel."""
    probe = change_depth(Picture([np.zeros((1, 1) + image.shape[2:], image.dtype)], image.mode, image.kind), depth)
    return probe.sample_dtype, probe.mode


class _TileRows:
    """`read_rows` of one row of tiles at a time, each decoded once: blocks that do not
    line up with the tiles, and the rows the kernel reaches beyond a block, share rows of
    tiles with the next block, so the lowest ``held`` rows of tiles read are kept for
    it, and a block that asks for a row another is decoding waits for it. (Without
    this, 128-row tiles under 480-row blocks of a 32768-row image were decoded 35,328
    rows' worth, 1.08 times; 256-row tiles under 96-row blocks, 4.3 times.)"""

    def __init__(self, image, held=1):
        self.image, self.held = image, held
        self._rows, self._lock = {}, threading.Lock()

    def __call__(self, top, bottom):
        with self._lock:
            rows = self._rows.get(top)
            mine = rows is None
            if mine:
                rows = self._rows[top] = concurrent.futures.Future()
                while len(self._rows) > self.held:  # blocks go down the image: drop the highest rows
                    del self._rows[min(self._rows)]
        if mine:
            try:
                rows.set_result(read_rows(self.image, top, bottom))
            except BaseException as exc:
                rows.set_exception(exc)
        return rows.result()

    def __getstate__(self):  # a cluster's worker keeps rows of its own
        return self.image, self.held

    def __setstate__(self, state):
        self.__init__(*state)

    def __dask_tokenize__(self):
        return ("imgconv.tiled._TileRows", id(self))


def _delayed(function, *args):
    import dask

    return dask.delayed(function, pure=True)(*args)


@dataclass(frozen=True)
class _BlockFilter:
    """``filter_picture`` on a block of rows, as on a whole picture (picklable for a
    cluster)."""

    filt: object
    mode: str
    fmt: str
    depth: object
    dtype: np.dtype
    name: str

    def __call__(self, values):
        from .filters import filter_picture

        picture = change_depth(Picture([values], self.mode, self.fmt, name=self.name), self.depth)
        return filter_picture(picture, self.filt, self.dtype)


def _blocks_in_order(blocks, in_flight, get=None):
    """The blocks of a Dask array, computed at most ``in_flight`` at once, in order.

    Each block's tasks, culled once from the whole graph (culling the whole graph for
    each block took a time that grew with the square of the blocks), run on Dask's
    threaded scheduler, or on ``get`` (a cluster client's); the next blocks are started
    while the finished one is written.
    """
    dask, _ = _dask()
    from dask.core import flatten
    from dask.optimization import cull

    get = get or functools.partial(dask.threaded.get, num_workers=1)
    graph = dict(blocks.__dask_graph__())
    keys = list(flatten(blocks.__dask_keys__()))
    pending = deque()
    with concurrent.futures.ThreadPoolExecutor(in_flight, thread_name_prefix="imgconv-tiled") as pool:
        try:
            for index in range(len(keys) + in_flight):
                if index < len(keys):
                    pending.append(pool.submit(get, cull(graph, keys[index])[0], keys[index]))
                if pending and (len(pending) == in_flight or index >= len(keys)):
                    yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _tile_rows(blocks, th, height):
    """Re-cut blocks of rows into rows of tiles (``th`` rows; the last may be fewer)."""
    held, top = [], 0
    for block in blocks:
        held.append(block)
        rows = sum(len(b) for b in held)
        while rows >= th or (rows and top + rows == height):
            joined = np.concatenate(held) if len(held) > 1 else held[0]
            take = min(th, rows)
            yield top, joined[:take]
            held = [joined[take:]] if rows > take else []
            top += take
            rows -= take


# ---------------------------------------------------------------------------------------
# Writing


def _tiff_tiles(rows_of_tiles, tile, width, progress):
    """Each tile in order, padded to the full tile size as TIFF stores edge tiles."""
    th, tw = tile
    for _, rows in rows_of_tiles:
        pad = [(0, th - len(rows)), (0, -width % tw)] + [(0, 0)] * (rows.ndim - 2)
        padded = np.pad(rows, pad) if any(after for _, after in pad) else rows
        progress(-(-width // tw))  # counted once filtered: tifffile asks for no tile past the last
        for x in range(0, width, tw):
            yield np.ascontiguousarray(padded[:, x : x + tw])


def _tiff_options(image, mode, compression, strip):
    """How a TIFF output stores its samples: as a TIFF input did (compression, predictor,
    photometric, extra samples, ICC profile and XMP, the XMP not with ``strip``), else
    deflate; ``compression`` as told."""
    if image.kind == "TIFF":
        options = {k: v for k, v in image.options.items() if k != "bigtiff"}
        xmp = options.pop("xmp", None)
        if xmp and not strip:
            options["extratags"] = [(_XMP, "B", len(xmp), xmp, True)]
    else:
        options = dict(compression="adobe_deflate", photometric="rgb" if mode.startswith("RGB") else "minisblack",
                       extrasamples=(2,) if mode in formats.WITH_ALPHA else None)  # 2: unassociated alpha
    if compression is not None:
        options.update(compression=TIFF_COMPRESSION[compression], predictor=None)
    if options.get("predictor") in (1, None):  # 1: none
        options.pop("predictor", None)
    return options


def _zarr_options(image, compression):
    """A Zarr output's format and compressors: a Zarr input's, else Zarr's defaults;
    ``compression`` as told."""
    options = dict(image.options) if image.kind == ZARR else {}
    if compression is None:
        return options
    if compression not in ZARR_COMPRESSION:
        raise InvalidInputError(f"--compression {compression}: a Zarr output takes "
                                f"{', '.join(ZARR_COMPRESSION)}")
    zarr_format = options.get("zarr_format", 3)
    import numcodecs
    import zarr.codecs

    codec = {(None, 2): None, (None, 3): None, ("gzip", 2): numcodecs.GZip(), ("gzip", 3): zarr.codecs.GzipCodec(),
             ("zstd", 2): numcodecs.Zstd(), ("zstd", 3): zarr.codecs.ZstdCodec()}[ZARR_COMPRESSION[compression],
                                                                                  zarr_format]
    return dict(zarr_format=zarr_format, compressors=codec)


# --compression for each output: tifffile's names, and Zarr's codecs.
TIFF_COMPRESSION = {"none": None, "deflate": "adobe_deflate", "lzw": "lzw", "zstd": "zstd", "packbits": "packbits"}
ZARR_COMPRESSION = {"none": None, "deflate": "gzip", "zstd": "zstd"}


def _output_tile(tile, image, kind):
    """Tiles as told, else the input's; a TIFF's are multiples of 16, so a Zarr input's
    chunks are rounded up to that, while a size told that is not one is refused."""
    if kind == "TIFF":
        if tile is not None and any(t % TIFF_TILE_MULTIPLE for t in tile):
            raise InvalidInputError(f"--tile-size {tile[0]},{tile[1]}: a TIFF's tile sides are multiples of "
                                    f"{TIFF_TILE_MULTIPLE}")
        return tuple(-(-t // TIFF_TILE_MULTIPLE) * TIFF_TILE_MULTIPLE for t in tile or image.tile)
    return tuple(tile or image.tile)


def process_tiled(source, dest, filt, *, format=None, depth=None, strip=False, frame=None, max_pixels=0,
                  auto_orient=True, view="result", tile=None, compression=None, on_progress=None, get=None,
                  sync=True):
    """Filter a tiled TIFF or Zarr store ``source`` into a TIFF file or Zarr store
    ``dest``, block by block; see the module's description.

    Parameters
    ----------
    source, dest : str or os.PathLike
    filt : imgconv.filters.Filter
        Any filter the CLI makes but a ``--normalize``d gradient; ``auto`` is resolved
        here (`exact_options`).
    format, depth, strip, frame, auto_orient, view
        As for `imgconv.pipeline.process_file`; ``view`` must be ``result``. A TIFF
        input's ICC profile and XMP (not with ``strip``) are carried to a TIFF output.
    max_pixels : int
        What a row of tiles, and a block of rows, may hold (0: no limit).
    tile : (int, int), optional
        The output's tile (chunk) size; default the input's (rounded up to a multiple of
        16 for TIFF).
    compression : str, optional
        A key of `TIFF_COMPRESSION` (or `ZARR_COMPRESSION`); default the input's.
    on_progress : callable, optional
        ``on_progress(done, total)``, in tiles written, after each row of tiles.
    get : callable, optional
        The scheduler's ``get`` (a ``distributed.Client``'s); default Dask's threads.
    sync : bool
        Sync the output to disk before it takes its name, and its folder after
        (`imgconv.sink`); False for scratch work.

    Returns
    -------
    str
        ``"TIFF"`` or ``"ZARR"``.
    """
    kind = output_kind(dest, format)
    name = os.fspath(dest)
    if kind is None:
        raise InvalidInputError(f"{name}: a tiled input streams to a TIFF file or a Zarr store")
    if view != "result":
        raise InvalidInputError(f"{name}: --view {view} composes whole images, and a tiled input is streamed to a "
                                "TIFF or Zarr output tile by tile; write another format to decode it whole")
    _check_dest(dest, kind)
    images = [open_zarr(source, max_pixels, frame)] if is_zarr(source) else \
        open_tiff(source, frame, max_pixels, auto_orient)
    if kind == ZARR and len(images) > 1:
        raise InvalidInputError(f"{name}: a Zarr output holds one image and {source} has {len(images)} pages; "
                                "give --frame N")
    in_flight = min(MAX_IN_FLIGHT, cpu_count())
    # The engine's method follows the type of what it is given, as on the whole image.
    dtypes = set()
    for image in images:
        dtype, mode = result_type(image, depth)
        dtypes.add(dtype if rounds_in_engine(filt, mode in formats.WITH_ALPHA, dtype) else work_dtype(dtype))
    filt = filt.remake(**exact_options(filt, in_flight, dtypes.pop() if len(dtypes) == 1 else None)) \
        if filt.remake else filt
    planned = []
    for image in images:
        blocks, mode = filter_blocks(image, filt, depth=depth, max_pixels=max_pixels, in_flight=in_flight)
        held = blocks.chunks[0][0] * image.shape[1]
        if max_pixels and held > max_pixels:
            raise ImageReadError(f"{image.name}: a block of {blocks.chunks[0][0]} full-width rows is {held} pixels, "
                                 f"more than the limit of {max_pixels} (--max-pixels N raises it; 0 lifts it)")
        layout = _output_tile(tile, image, kind)
        options = _tiff_options(image, mode, compression, strip) if kind == "TIFF" else \
            _zarr_options(image, compression)
        planned.append((blocks, layout, options))
    total = sum(-(-b.shape[0] // t[0]) * -(-b.shape[1] // t[1]) for b, t, _ in planned)
    progress = _Progress(total, on_progress)
    bigtiff = any(i.options.get("bigtiff") for i in images) or \
        sum(b.nbytes for b, _, _ in planned) > 2**32 - 2**27  # room for tags, offsets and incompressible tiles
    ordered = functools.partial(_blocks_in_order, in_flight=in_flight, get=get)
    try:
        if kind == ZARR:
            with atomic_folder(os.path.realpath(dest), sync=sync) as store:
                _write_zarr(store, *planned[0], ordered, progress)
        else:
            with atomic_file(os.path.realpath(dest), sync=sync) as file:
                _write_tiff(file, planned, bigtiff, ordered, progress)
    except ImgconvError:
        raise
    except OSError as exc:  # no room, no permission...
        raise ImageWriteError(f"{name}: cannot write: {exc.strerror or exc}") from None
    except (ValueError, TypeError, KeyError, RuntimeError) as exc:  # what tifffile and zarr refuse
        raise ImageWriteError(f"{name}: cannot write: {' '.join(str(exc).split())}") from None
    return kind


class _Progress:
    def __init__(self, total, callback):
        self.done, self.total, self.callback = 0, total, callback

    def __call__(self, tiles):
        self.done += tiles
        if self.callback:
            self.callback(self.done, self.total)


def _check_dest(dest, kind):
    """Fail before any work when ``dest`` cannot be written."""
    target = os.path.realpath(dest)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise ImageWriteError(f"{dest}: folder {folder} does not exist")
    if kind == ZARR:
        if os.path.exists(target) and not (os.path.isdir(target) and _is_zarr_store(target)):
            raise ImageWriteError(f"{dest}: exists and is not a Zarr store; not replaced")
    elif os.path.isdir(target):
        raise ImageWriteError(f"{dest}: is a folder")
    elif os.path.exists(target) and not os.path.isfile(target):
        raise ImageWriteError(f"{dest}: not a regular file; a streamed output is written under a temporary name "
                              "and renamed, so name a file")
    check_replaceable(dest)


def _is_zarr_store(path):
    return any(os.path.exists(os.path.join(path, n)) for n in ("zarr.json", ".zarray", ".zgroup"))


def _write_tiff(file, planned, bigtiff, ordered, progress):
    import tifffile

    with tifffile.TiffWriter(file, bigtiff=bigtiff) as writer:
        for blocks, tile, options in planned:
            rows = _tile_rows(ordered(blocks), tile[0], blocks.shape[0])
            # Tiles are compressed on MAX_BLOCK_THREADS threads a row of tiles at a time:
            # tifffile's default takes half the CPUs and 2 x 256 MB of tiles at once.
            row_bytes = tile[0] * blocks.shape[1] * math.prod(blocks.shape[2:]) * blocks.dtype.itemsize
            writer.write(_tiff_tiles(rows, tile, blocks.shape[1], progress), shape=blocks.shape, dtype=blocks.dtype,
                         tile=tile, planarconfig="contig", metadata=None, maxworkers=MAX_BLOCK_THREADS,
                         buffersize=row_bytes, **options)


def _write_zarr(path, blocks, tile, options, ordered, progress):
    zarr = _zarr()
    out = zarr.create_array(store=path, shape=blocks.shape, chunks=tuple(tile) + blocks.shape[2:],
                            dtype=blocks.dtype, overwrite=True, **options)
    # zarr writes on a thread of its own: a Ctrl-C that stops the wait would leave it
    # writing into the temporary store as it is removed. Each write is waited for.
    with concurrent.futures.ThreadPoolExecutor(1) as writer:
        for top, rows in _tile_rows(ordered(blocks), tile[0], blocks.shape[0]):
            written = writer.submit(out.__setitem__, slice(top, top + len(rows)), rows)
            try:
                written.result()
            except BaseException:
                concurrent.futures.wait([written])
                raise
            progress(-(-blocks.shape[1] // tile[1]))
