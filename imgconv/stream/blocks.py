"""A tiled image filtered block by block: full-width blocks cut as
`imgconv.dask.map_bands` cuts them (so the result equals the whole image's, sample for
sample), each filtered by `imgconv.filters.filter_picture` as a whole picture is,
computed a few at a time in order."""

import concurrent.futures
import functools
import math
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from ..engine import EngineOptions
from ..errors import INSTALL_HINT, InvalidInputError, MissingExtraError
from ..io.depth import change_depth
from ..io.picture import Picture
from ..io.tiled_image import TiledImage
from ..io.tiles import read_rows

if TYPE_CHECKING:
    import dask.array

    from ..filters import Filter

# The result's bytes per block. A block in flight holds its rows and the rows its kernel
# reaches, the rows of tiles it shares, the engine's float32 work and its result, and
# the command's peak grew by about ten times this: `blur -s 2` streaming an 8192x8192
# grey tiled TIFF (256x256 tiles, 2 cores) peaked at 258-289 MiB with 16 MiB blocks,
# 179-194 with 8, 149-150 with 6, 146-148 with 4 (82 for a 512x512 one: the imports),
# and took 0.94, 1.0, 1.0 and 1.1 s of CPU; a 32768x4096 one, 340-343, 243-246, 241-247
# and 218-231 MiB, 2.3, 2.3, 2.4 and 2.8-2.9 s.
BLOCK_BYTES = 6 * 2**20
# Blocks computed at once, and the engine's threads in each, whatever the CPU count:
# each block holds the above, and each engine thread a band of full-width rows with the
# kernel's reach in float32 (a 48-row band of a 32768-pixel row and 10 rows of reach
# is 7.3 MiB, held a few times over), so memory grows with these, not with the machine.
# At most 4 cores work on one streamed image.
MAX_IN_FLIGHT = 2
MAX_BLOCK_THREADS = 2


def dask_modules() -> tuple[ModuleType, ModuleType]:
    try:
        import dask
        import dask.array as da
    except ImportError:
        raise MissingExtraError(f"tiled inputs need Dask, which is not installed: {INSTALL_HINT}") from None
    return dask, da


def exact_options(filt: "Filter", in_flight: int = 1, dtype: np.dtype | None = None) -> EngineOptions:
    """The engine options that make ``filt`` exact block by block: ``auto`` resolved to
    `imgconv.dask.exact_method` of its kernels for samples of ``dtype`` (chosen once,
    never per block; one per kernel where its kernels take different ones, as a
    gradient's two derivatives may), and the filter's engine threads shared by the
    blocks in flight (at most `MAX_BLOCK_THREADS` each)."""
    from ..dask import exact_method
    from ..engine.bands import thread_count

    options = filt.engine
    method = options.method
    if method == "auto":
        methods = tuple(exact_method(kernel, options.mode, dtype, options.cval) for kernel, _ in filt.passes)
        method = methods[0] if len(set(methods)) == 1 else methods if methods else "direct"
    threads = min(MAX_BLOCK_THREADS, max(1, thread_count(options.threads) // in_flight))
    return replace(options, method=method, threads=threads)


def _geometry(filt: "Filter", name: str) -> tuple[int, bool]:
    """The one (kernel height, convolved) that every kernel of ``filt`` shares."""
    from ..dask import kernel_shape
    from ..engine import MAX_KERNEL_SIZE, SeparableKernel

    shapes = {(kernel_shape(kernel)[0], flip) for kernel, flip in filt.passes}
    if any(isinstance(k, SeparableKernel) and max(k.shape) > MAX_KERNEL_SIZE for k, _ in filt.passes):
        raise InvalidInputError(f"{name}: a kernel longer than {MAX_KERNEL_SIZE} taps needs the whole image at once, "
                                "which a streamed tiled input never is; write another format to decode it whole")
    if len(shapes) != 1:  # no filter of the CLI has kernels of different heights
        raise InvalidInputError(f"{name}: this filter's kernels differ in height; it cannot be streamed block by block")
    return shapes.pop()


def filter_blocks(image: TiledImage, filt: "Filter", *, depth: int | None = None, block_bytes: int | None = None,
                  max_pixels: int = 0, in_flight: int = 1) -> tuple["dask.array.Array", str]:
    """The filtered image as a lazy Dask array in full-width blocks, and its mode.

    ``filt`` must have its method fixed (see `exact_options`); each block equals the
    rows of `imgconv.filters.filter_picture` on the whole image. A block holds at most
    ``block_bytes`` of result (default `BLOCK_BYTES`) and ``max_pixels`` pixels, or one
    band of the engine if that is more; ``in_flight`` blocks at once share the rows of
    tiles they read.
    """
    dask, da = dask_modules()
    from ..dask import map_bands

    if filt.whole_display:
        raise InvalidInputError(f"{image.name}: --normalize stretches by the whole image's maximum, which a streamed "
                                "tiled input never holds; drop it, or write another format to decode it whole")
    if filt.engine.method == "auto":
        raise InvalidInputError("a streamed filter needs its method fixed: see imgconv.stream.blocks.exact_options")
    kernel_height, flip = _geometry(filt, image.name) if filt.passes else (1, False)
    dtype, mode = result_type(image, depth)
    budget = block_bytes or BLOCK_BYTES
    if max_pixels:
        budget = min(budget, max_pixels * math.prod(image.shape[2:]) * dtype.itemsize)

    th = image.tile[0]
    height = image.shape[0]
    reader = _TileRows(image)
    pieces = [da.from_delayed(_delayed(reader, top, min(top + th, height)),
                              (min(top + th, height) - top, *image.shape[1:]), dtype=image.dtype)
              for top in range(0, height, th)]
    source = da.concatenate(pieces, axis=0)
    function = BlockFilter(filt, image.mode, image.kind, depth, dtype, image.name)
    # Rechunked by tasks, as Dask does where no cluster's client is the default; left to
    # choose, it imports distributed to ask (0.3-0.4 s of a streamed command). A client
    # could pick its p2p shuffle, which these blocks, computed key by key, do not take.
    with dask.config.set({"array.rechunk.method": "tasks"}):
        blocks = map_bands(source, function, kernel_height, filt.engine.method, filt.engine.mode, flip=flip,
                           dtype=dtype, block_bytes=budget)
    # The rows of tiles that the blocks in flight and the kernel's reach span, plus the
    # partial rows of tiles at either end.
    reader.held = -(-(in_flight * blocks.chunks[0][0] + kernel_height) // th) + 2
    return blocks, mode


def result_type(image: TiledImage, depth: int | None = None) -> tuple[np.dtype, str]:
    """The samples' type and mode once ``--depth`` has changed the input's, as the whole
    image's path filters them: told by one pixel."""
    probe = change_depth(Picture([np.zeros((1, 1, *image.shape[2:]), image.dtype)], image.mode, image.kind), depth)
    return probe.sample_dtype, probe.mode


class _TileRows:
    """`read_rows` of one row of tiles at a time, each decoded once: blocks that do not
    line up with the tiles, and the rows the kernel reaches beyond a block, share rows of
    tiles with the next block, so the lowest ``held`` rows of tiles read are kept for
    it, and a block that asks for a row another is decoding waits for it. (Without
    this, 128-row tiles under 480-row blocks of a 32768-row image were decoded 35,328
    rows' worth, 1.08 times; 256-row tiles under 96-row blocks, 4.3 times.)"""

    def __init__(self, image: TiledImage, held: int = 1) -> None:
        self.image, self.held = image, held
        self._rows: dict[int, concurrent.futures.Future[np.ndarray]] = {}
        self._lock = threading.Lock()

    def __call__(self, top: int, bottom: int) -> np.ndarray:
        with self._lock:
            rows = self._rows.get(top)
            mine = rows is None
            if rows is None:
                rows = self._rows[top] = concurrent.futures.Future()
                while len(self._rows) > self.held:  # blocks go down the image: drop the highest rows
                    del self._rows[min(self._rows)]
        if mine:
            try:
                rows.set_result(read_rows(self.image, top, bottom))
            except BaseException as exc:
                rows.set_exception(exc)
        return rows.result()

    def __reduce__(self) -> tuple[type["_TileRows"], tuple[TiledImage, int]]:
        return _TileRows, (self.image, self.held)  # a cluster's worker keeps rows of its own

    def __dask_tokenize__(self) -> tuple[str, int]:
        return ("imgconv.stream.blocks.TileRows", id(self))


def _delayed(function: Callable[..., Any], *args: Any) -> Any:
    import dask

    return dask.delayed(function, pure=True)(*args)


@dataclass(frozen=True)
class BlockFilter:
    """``filter_picture`` on a block of rows, as on a whole picture (picklable for a
    cluster)."""

    filt: "Filter"
    mode: str
    fmt: str
    depth: int | None
    dtype: np.dtype
    name: str

    def __call__(self, values: np.ndarray) -> np.ndarray:
        from ..filters import filter_picture

        picture = change_depth(Picture([values], self.mode, self.fmt, name=self.name), self.depth)
        return filter_picture(picture, self.filt, self.dtype)


def blocks_in_order(blocks: "dask.array.Array", in_flight: int,
                    get: Callable[..., Any] | None = None) -> Iterator[np.ndarray]:
    """The blocks of a Dask array, computed at most ``in_flight`` at once, in order.

    Each block's tasks, culled once from the whole graph (culling the whole graph for
    each block took a time that grew with the square of the blocks), run on Dask's
    threaded scheduler, or on ``get`` (a cluster client's); the next blocks are started
    while the finished one is written.
    """
    dask, _ = dask_modules()
    from dask.core import flatten
    from dask.optimization import cull

    get = get or functools.partial(dask.threaded.get, num_workers=1)
    graph = dict(blocks.__dask_graph__())
    keys = list(flatten(blocks.__dask_keys__()))
    pending: deque[concurrent.futures.Future[np.ndarray]] = deque()
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


def tile_rows(blocks: Iterable[np.ndarray], th: int, height: int) -> Iterator[tuple[int, np.ndarray]]:
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
