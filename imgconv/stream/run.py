"""A tiled TIFF or Zarr input filtered into a TIFF file or Zarr store, block by block."""

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..cpus import cpu_count
from ..engine import work_dtype
from ..errors import ImageReadError, ImageWriteError, ImgconvError, InvalidInputError
from ..filters import rounds_in_engine
from ..io import formats
from ..io.probe import Probe, output_kind, probe
from ..io.sink import atomic_file, atomic_folder
from ..io.tiff_tiles import open_tiff
from ..io.tiled_image import ZARR, Path
from ..options import ReadOptions, WriteOptions
from .blocks import MAX_IN_FLIGHT, blocks_in_order, exact_options, filter_blocks, result_type
from .writers import check_dest, output_tile, tiff_options, write_tiff, write_zarr, zarr_options

if TYPE_CHECKING:
    from ..filters import Filter


def process_tiled(source: Path, dest: Path, filt: "Filter", read: ReadOptions = ReadOptions(),
                  write: WriteOptions = WriteOptions(), *, on_progress: Callable[[int, int], object] | None = None,
                  get: Callable[..., Any] | None = None, probed: Probe | None = None) -> str:
    """Filter a tiled TIFF or Zarr store ``source`` into a TIFF file or Zarr store
    ``dest``, block by block; see the module's description.

    Parameters
    ----------
    source, dest : str or os.PathLike
    filt : imgconv.filters.Filter
        Any filter the CLI makes but a ``--normalize``d gradient; a method ``auto`` is
        resolved here (`exact_options`).
    read, write : imgconv.options.ReadOptions, imgconv.options.WriteOptions
        As for `imgconv.pipeline.process_file`; ``write.view`` must be ``result``, and
        ``write.background`` is not used. A TIFF input's ICC profile and XMP (not with
        ``strip``) are carried to a TIFF output. ``read.max_pixels`` bounds what a row of
        tiles, and a block of rows, may hold (0: no limit). The output's tiles (chunks)
        are ``write.tile_size``, default the input's (rounded up to a multiple of 16 for
        TIFF); its compression, a key of `TIFF_COMPRESSION` (or `ZARR_COMPRESSION`),
        default the input's.
    on_progress : callable, optional
        ``on_progress(done, total)``, in tiles written, after each row of tiles.
    get : callable, optional
        The scheduler's ``get`` (a ``distributed.Client``'s); default Dask's threads.
    probed : imgconv.io.probe.Probe, optional
        ``source``'s probe for the same frame, pixel limit and orientation
        (`imgconv.io.probe.streamed_probe`), whose checked images are taken; default
        read here.

    Returns
    -------
    str
        ``"TIFF"`` or ``"ZARR"``.
    """
    kind = output_kind(dest, write.format)
    name = os.fspath(dest)
    if kind is None:
        raise InvalidInputError(f"{name}: a tiled input streams to a TIFF file or a Zarr store")
    if write.view != "result":
        raise InvalidInputError(f"{name}: --view {write.view} composes whole images, and a tiled input is streamed to "
                                "a TIFF or Zarr output tile by tile; write another format to decode it whole")
    check_dest(dest, kind)
    probed = probed or probe(source, read.frame, read.max_pixels, read.auto_orient)
    # A source that is not tiled gets open_tiff's refusal, which opens it again.
    images = probed.checked() if probed.tiled else open_tiff(source, read.frame, read.max_pixels, read.auto_orient)
    if kind == ZARR and len(images) > 1:
        raise InvalidInputError(f"{name}: a Zarr output holds one image and {source} has {len(images)} pages; "
                                "give --frame N")
    if kind == ZARR and images[0].mode in formats.CMYK_MODES:  # a Zarr store's array says nothing of inks
        raise InvalidInputError(f"{name}: a Zarr store cannot say its four channels are CMYK inks; write TIFF")
    in_flight = min(MAX_IN_FLIGHT, cpu_count())
    # The engine's method follows the type of what it is given, as on the whole image.
    dtypes = set()
    for image in images:
        dtype, mode = result_type(image, write.depth)
        dtypes.add(dtype if rounds_in_engine(filt, mode in formats.WITH_ALPHA, dtype) else work_dtype(dtype))
    filt = filt.with_engine(exact_options(filt, in_flight, dtypes.pop() if len(dtypes) == 1 else None))
    planned = []
    for image in images:
        blocks, mode = filter_blocks(image, filt, depth=write.depth, max_pixels=read.max_pixels, in_flight=in_flight)
        held = blocks.chunks[0][0] * image.shape[1]
        if read.max_pixels and held > read.max_pixels:
            raise ImageReadError(f"{image.name}: a block of {blocks.chunks[0][0]} full-width rows is {held} pixels, "
                                 f"more than the limit of {read.max_pixels} (--max-pixels N raises it; 0 lifts it)")
        layout = output_tile(write.tile_size, image, kind)
        compression = write.encoding.compression
        options = tiff_options(image, mode, compression, write.encoding.strip) if kind == "TIFF" else \
            zarr_options(image, compression)
        planned.append((blocks, layout, options))
    total = sum(-(-b.shape[0] // t[0]) * -(-b.shape[1] // t[1]) for b, t, _ in planned)
    progress = _Progress(total, on_progress)
    bigtiff = any(i.options.get("bigtiff") for i in images) or \
        sum(b.nbytes for b, _, _ in planned) > 2**32 - 2**27  # room for tags, offsets and incompressible tiles
    ordered = functools.partial(blocks_in_order, in_flight=in_flight, get=get)
    try:
        if kind == ZARR:
            with atomic_folder(os.path.realpath(dest), sync=write.sync) as store:
                write_zarr(store, *planned[0], ordered, progress)
        else:
            with atomic_file(os.path.realpath(dest), sync=write.sync) as file:
                write_tiff(file, planned, bigtiff, ordered, progress)
    except ImgconvError:
        raise
    except OSError as exc:  # no room, no permission...
        raise ImageWriteError(f"{name}: cannot write: {exc.strerror or exc}") from None
    except (ValueError, TypeError, KeyError, RuntimeError) as exc:  # what tifffile and zarr refuse
        stop = _interruption(exc)
        if stop is not None:  # an error of a library's clean-up as a Ctrl-C unwound: the Ctrl-C is what happened
            raise stop from None
        raise ImageWriteError(f"{name}: cannot write: {' '.join(str(exc).split())}") from None
    return kind


def _interruption(exc: BaseException) -> BaseException | None:
    """The KeyboardInterrupt (or other non-Exception) that ``exc`` was raised while handling, if any."""
    seen = exc.__context__
    while seen is not None and isinstance(seen, Exception):
        seen = seen.__context__
    return seen


class _Progress:
    def __init__(self, total: int, callback: Callable[[int, int], object] | None) -> None:
        self.done, self.total, self.callback = 0, total, callback

    def __call__(self, tiles: int) -> None:
        self.done += tiles
        if self.callback:
            self.callback(self.done, self.total)
