"""Filtered rows written tile by tile: a TIFF file or a Zarr store, under a temporary
name that the output takes at the end (`imgconv.io.sink`)."""

import concurrent.futures
import math
import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from ..errors import ImageWriteError, InvalidInputError
from ..io import formats
from ..io.sink import check_replaceable
from ..io.tiffinfo import XMP
from ..io.tiled_image import ZARR, Path, TiledImage
from ..io.zarr_store import zarr_module
from .blocks import MAX_BLOCK_THREADS, tile_rows

if TYPE_CHECKING:
    import dask.array

# A filtered image to write: its lazy blocks, its tile size and its writer's options;
# and what computes blocks in order (`imgconv.stream.blocks.blocks_in_order`).
Planned = tuple["dask.array.Array", tuple[int, ...], dict[str, Any]]
Ordered = Callable[["dask.array.Array"], Iterator[np.ndarray]]

# A TIFF tile's sides are multiples of 16 (TIFF 6.0, section 15).
TIFF_TILE_MULTIPLE = 16


def _tiff_tiles(rows_of_tiles: Iterable[tuple[int, np.ndarray]], tile: tuple[int, ...], width: int,
                progress: Callable[[int], None]) -> Iterator[np.ndarray]:
    """Each tile in order, padded to the full tile size as TIFF stores edge tiles."""
    th, tw = tile
    for _, rows in rows_of_tiles:
        pad = [(0, th - len(rows)), (0, -width % tw)] + [(0, 0)] * (rows.ndim - 2)
        padded = np.pad(rows, pad) if any(after for _, after in pad) else rows
        progress(-(-width // tw))  # counted once filtered: tifffile asks for no tile past the last
        for x in range(0, width, tw):
            yield np.ascontiguousarray(padded[:, x : x + tw])


def tiff_options(image: TiledImage, mode: str, compression: str | None, strip: bool) -> dict[str, Any]:
    """How a TIFF output stores its samples: as a TIFF input did (compression, predictor,
    photometric, extra samples, ICC profile, XMP and resolution, the XMP and resolution
    not with ``strip``), else deflate; ``compression`` as told."""
    if image.kind == "TIFF":
        dropped = ("bigtiff", "resolution", "resolutionunit") if strip else ("bigtiff",)
        options = {k: v for k, v in image.options.items() if k not in dropped}
        xmp = options.pop("xmp", None)
        if xmp and not strip:
            options["extratags"] = [(XMP, "B", len(xmp), xmp, True)]
    else:
        options = {"compression": "adobe_deflate", "photometric": "rgb" if mode.startswith("RGB") else "minisblack",
                       "extrasamples": (2,) if mode in formats.WITH_ALPHA else None}  # 2: unassociated alpha
    if compression is not None:
        options.update(compression=TIFF_COMPRESSION[compression], predictor=None)
    if options.get("predictor") in (1, None):  # 1: none
        options.pop("predictor", None)
    return options


def zarr_options(image: TiledImage, compression: str | None) -> dict[str, Any]:
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
    return {"zarr_format": zarr_format, "compressors": codec}


# --compression for each output: tifffile's names, and Zarr's codecs.
TIFF_COMPRESSION = {"none": None, "deflate": "adobe_deflate", "lzw": "lzw", "zstd": "zstd", "packbits": "packbits"}
ZARR_COMPRESSION = {"none": None, "deflate": "gzip", "zstd": "zstd"}


def output_tile(tile: tuple[int, int] | None, image: TiledImage, kind: str) -> tuple[int, ...]:
    """Tiles as told, else the input's; a TIFF's are multiples of 16, so a Zarr input's
    chunks are rounded up to that, while a size told that is not one is refused."""
    if kind == "TIFF":
        if tile is not None and any(t % TIFF_TILE_MULTIPLE for t in tile):
            raise InvalidInputError(f"--tile-size {tile[0]},{tile[1]}: a TIFF's tile sides are multiples of "
                                    f"{TIFF_TILE_MULTIPLE}")
        return tuple(-(-t // TIFF_TILE_MULTIPLE) * TIFF_TILE_MULTIPLE for t in tile or image.tile)
    return tuple(tile or image.tile)


def check_dest(dest: Path, kind: str) -> None:
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


def _is_zarr_store(path: str) -> bool:
    return any(os.path.exists(os.path.join(path, n)) for n in ("zarr.json", ".zarray", ".zgroup"))


# Below this, handing each tile to a thread costs more than compressing it there: blur -s 2
# of a 3000x3000 grey TIFF, zlib, 4 runs each at load 9-12, took 2.76-3.29 s of CPU on one
# writer thread against 3.22-3.74 on two with 16x16 tiles (256 bytes), and 1.79-2.01
# against 1.40-1.94 with 32x32 (1 KiB); the same bytes written.
SMALL_TILE_BYTES = 1024


def write_tiff(file: BinaryIO, planned: list[Planned], bigtiff: bool, ordered: Ordered,
               progress: Callable[[int], None]) -> None:
    import tifffile

    with tifffile.TiffWriter(file, bigtiff=bigtiff) as writer:
        for blocks, tile, options in planned:
            rows = tile_rows(ordered(blocks), tile[0], blocks.shape[0])
            # Tiles are compressed on MAX_BLOCK_THREADS threads a row of tiles at a time:
            # tifffile's default takes half the CPUs and 2 x 256 MB of tiles at once.
            row_bytes = tile[0] * blocks.shape[1] * math.prod(blocks.shape[2:]) * blocks.dtype.itemsize
            tile_bytes = row_bytes * tile[1] // blocks.shape[1]
            writer.write(_tiff_tiles(rows, tile, blocks.shape[1], progress), shape=blocks.shape, dtype=blocks.dtype,
                         tile=tile, planarconfig="contig", metadata=None, buffersize=row_bytes,
                         maxworkers=1 if tile_bytes < SMALL_TILE_BYTES else MAX_BLOCK_THREADS, **options)


def write_zarr(path: str, blocks: "dask.array.Array", tile: tuple[int, ...], options: dict[str, Any],
               ordered: Ordered, progress: Callable[[int], None]) -> None:
    zarr = zarr_module()
    from .steady_gzip import steady

    if "compressors" in options:
        options = {**options, "compressors": steady(options["compressors"])}
    out = zarr.create_array(store=path, shape=blocks.shape, chunks=tuple(tile) + blocks.shape[2:],
                            dtype=blocks.dtype, overwrite=True, **options)
    # zarr writes on a thread of its own: a Ctrl-C that stops the wait would leave it
    # writing into the temporary store as it is removed. Each write is waited for.
    with concurrent.futures.ThreadPoolExecutor(1) as writer:
        for top, rows in tile_rows(ordered(blocks), tile[0], blocks.shape[0]):
            written = writer.submit(out.__setitem__, slice(top, top + len(rows)), rows)
            try:
                written.result()
            except BaseException:
                concurrent.futures.wait([written])
                raise
            progress(-(-blocks.shape[1] // tile[1]))
