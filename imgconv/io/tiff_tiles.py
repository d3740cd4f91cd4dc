"""Tiled TIFF pages, read a row of tiles at a time (BigTIFF too, any compression
tifffile decodes)."""

import functools
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..errors import ImageReadError, ImgconvError, InvalidInputError
from .metadata import X_RESOLUTION, Y_RESOLUTION, tiff_resolution
from .orient import orientation_of
from .tiff_read import ink_mode
from .tiffinfo import CIELAB_KINDS, ICC, OLD_JPEG, ORIENTATION, PALETTE, RESOLUTION_UNIT, XMP
from .tiled_image import Path, TiledImage, check_budget, sample_mode

if TYPE_CHECKING:
    import tifffile


def open_tiff(path: Path, frame: int | None = None, max_pixels: int = 0,
              auto_orient: bool = True) -> list[TiledImage]:
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
            return tiff_pages(tiff, name, size, frame, max_pixels, auto_orient)
    except ImgconvError:
        raise
    except Exception as exc:
        raise corrupt(name, exc) from None


def corrupt(name: str, exc: Exception) -> ImageReadError:
    """The error for what tifffile's parser, which meets damaged headers in every way,
    raised reading the file ``name``."""
    return ImageReadError(f"{name}: corrupt or truncated image ({' '.join(str(exc).split())})")


def tiff_pages(tiff: "tifffile.TiffFile", name: str, size: int, frame: int | None, max_pixels: int,
               auto_orient: bool) -> list[TiledImage]:
    """`open_tiff`'s pages of a TIFF already open, of ``size`` bytes."""
    count = len(tiff.pages)
    if frame is not None and frame >= count:
        raise InvalidInputError(f"{name}: --frame {frame} does not exist; the image has {count} frame(s), "
                                "numbered from 0")
    indices = [frame] if frame is not None else range(count)
    # The blocks read the file this header came from (a duplicate of its descriptor),
    # never what has its name by then: another user who may write to the folder could
    # have put a link to a file they cannot read in its place.
    file = Descriptor(os.dup(tiff.filehandle.fileno()))
    images = []
    try:
        for i in indices:
            page = cast("tifffile.TiffPage", tiff.pages[i])  # TiffFrames come only when asked for (useframes)
            image = _tiff_page(tiff, page, i, name, size, max_pixels, auto_orient)
            image.opened.get(functools.partial(PageTiles, file, page))
            images.append(image)
    except BaseException:
        # Closed now: the refusal's traceback keeps this frame, and with it the file, until
        # the garbage collector breaks its cycles.
        file.close()
        raise
    return images


def streamable(page: "tifffile.TiffPage") -> bool:
    """Whether a tiled page can be streamed: its samples as stored are those imgconv
    reads from it whole (`imgconv.io.tiff_read`), not a palette's indices (read through
    the colour map), nor CIELab (read as RGB), nor samples of fewer than 8 bits (scaled
    to 0-255); and tifffile decodes its tiles, which it does not for old-style JPEG
    (libtiff, through Pillow, does). Other tiled pages are decoded whole."""
    return (int(page.photometric) not in (PALETTE, *CIELAB_KINDS) and page.bitspersample >= 8
            and int(page.compression) != OLD_JPEG)


def _tiff_page(tiff: "tifffile.TiffFile", page: "tifffile.TiffPage", index: int, name: str, size: int,
               max_pixels: int, auto_orient: bool) -> TiledImage:
    import tifffile

    where = f"{name}: page {index}" if len(tiff.pages) > 1 else name
    if not page.is_tiled:
        raise ImageReadError(f"{where} is not tiled; give --frame N for a tiled page, or write another format to "
                             "decode the file whole")
    if not streamable(page):
        kind = getattr(page.photometric, "name", page.photometric)
        raise ImageReadError(f"{where}: {page.bitspersample}-bit {kind} samples of compression "
                             f"{int(page.compression)}, which a tile-by-tile stream cannot take as stored; give "
                             "--frame N for this page alone, which is decoded whole")
    if page.imagedepth != 1 or page.tiledepth != 1:
        raise ImageReadError(f"{where}: a volume of {page.imagedepth} slices: not an image imgconv reads")
    stored = page.tags.valueof(ORIENTATION)
    if auto_orient and orientation_of(stored) != 1:
        raise InvalidInputError(f"{where}: EXIF orientation {stored}: a streamed image is filtered as stored; give "
                                "--no-auto-orient")
    height, width, channels = page.imagelength, page.imagewidth, page.samplesperpixel
    tile = (page.tilelength, page.tilewidth)
    if height < 1 or width < 1:
        raise ImageReadError(f"{where}: corrupt image: dimensions {width} x {height}")
    if page.photometric in (tifffile.PHOTOMETRIC.RGB, tifffile.PHOTOMETRIC.YCBCR) and channels < 3:
        # Written back as it claims, such a page would make a TIFF no reader can open.
        colour = tifffile.PHOTOMETRIC(page.photometric).name
        raise ImageReadError(f"{where}: corrupt image: {colour} colour with {channels} sample(s) a pixel")
    mode = _mode(page, where)
    check_budget(where, (height, width), tile, max_pixels)
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
    options: dict[str, Any] = {"compression": page.compression, "predictor": page.predictor,
                               "photometric": page.photometric, "extrasamples": extras or None,
                               "bigtiff": tiff.is_bigtiff}
    options.update({key: bytes(page.tags[tag].value) for key, tag in (("iccprofile", ICC), ("xmp", XMP))
                    if tag in page.tags})
    dpi = tiff_resolution(*(page.tags.valueof(tag) for tag in (X_RESOLUTION, Y_RESOLUTION, RESOLUTION_UNIT)))
    if dpi is not None:
        options.update(resolution=dpi, resolutionunit="INCH")
    return TiledImage(os.path.abspath(name), name, "TIFF", index, shape, np.dtype(page.dtype), mode, tile, options)


def _mode(page: "tifffile.TiffPage", where: str) -> str:
    """The mode of a streamed page's samples as stored: CMYK's inks as CMYK (no alpha
    among them, but an alpha after them)."""
    dtype, channels = np.dtype(page.dtype), page.samplesperpixel
    return ink_mode(int(page.photometric), channels, dtype) or sample_mode(dtype, channels, where)


class Descriptor:
    """An open file read at offsets from any thread, closed once nothing refers to it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._lock = threading.Lock()
        self.close = weakref.finalize(self, os.close, fd)  # closes it once, called or collected

    def read(self, offset: int, count: int) -> bytes:
        """``count`` bytes at ``offset`` (fewer at the end of the file)."""
        if hasattr(os, "pread"):
            return os.pread(self.fd, count, offset)
        with self._lock:  # no pread (Windows): a seek and a read, one thread at a time
            os.lseek(self.fd, offset, os.SEEK_SET)
            return os.read(self.fd, count)


class PageTiles:
    """A tiled page opened for reading tiles: the file, the page's tile offsets and byte
    counts as arrays (a Python int apiece would take 70 bytes a tile, 46 MiB for a
    13000x13000 image in 16x16 tiles), and tifffile's decoder for its compression and
    predictor. Made once per image and process (`TiledImage.opened`), so a block costs
    its own tiles, not the page's count of them."""

    def __init__(self, file: Descriptor, page: "tifffile.TiffPage") -> None:
        import tifffile

        self.file = file
        self.offsets = np.asarray(page.dataoffsets, np.uint64)
        self.counts = np.asarray(page.databytecounts, np.uint64)
        self.decode = page.decode
        self.jpegtables = page.jpegtables
        self.planes = page.samplesperpixel if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE else 1

    @classmethod
    def reopen(cls, image: TiledImage) -> "PageTiles":
        """The page of a copy of ``image`` sent to a cluster's worker, which opens the
        file itself, by absolute path."""
        import tifffile

        file = Descriptor(os.open(image.path, os.O_RDONLY | getattr(os, "O_BINARY", 0)))
        with open(file.fd, "rb", closefd=False) as handle, tifffile.TiffFile(handle, name=image.name) as tiff:
            return cls(file, cast("tifffile.TiffPage", tiff.pages[image.page]))

    def tile(self, index: int) -> np.ndarray | None:
        """Tile ``index`` decoded, or None for a tile without data."""
        count = int(self.counts[index])
        data = self.file.read(int(self.offsets[index]), count) if count else None
        return self.decode(data, index, jpegtables=self.jpegtables)[0]


def read_tiff_rows(image: TiledImage, top: int, bottom: int) -> np.ndarray:
    """Rows ``top ... bottom - 1`` of a tiled TIFF page, from the tiles that hold them."""
    tiles = cast(PageTiles, image.opened.get(lambda: PageTiles.reopen(image)))
    th, tw = image.tile
    height, width = image.shape[:2]
    channels = 1 if len(image.shape) == 2 else image.shape[2]
    across = -(-width // tw)
    down = -(-height // th)
    if len(tiles.offsets) != tiles.planes * down * across or len(tiles.counts) != len(tiles.offsets):
        raise ImageReadError(f"{image.name}: corrupt image: the tiles changed since the header was read")
    rows = np.zeros((bottom - top, width, channels), image.dtype)
    for plane in range(tiles.planes):
        for row in range(top // th, -(-bottom // th)):
            for column in range(across):
                index = (plane * down + row) * across + column
                tile = tiles.tile(index)
                if tile is None:  # a sparse tile holds nothing: zeros, as tifffile reads it
                    continue
                tile = tile.reshape(th, tw, -1)
                y0, x0 = row * th, column * tw
                a, b = max(y0, top), min(y0 + th, bottom)
                w = min(tw, width - x0)
                target = slice(plane, plane + 1) if tiles.planes > 1 else slice(None)
                rows[a - top : b - top, x0 : x0 + w, target] = tile[a - y0 : b - y0, :w]
    return rows[..., 0] if len(image.shape) == 2 else rows
