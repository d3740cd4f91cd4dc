"""The band driver: the image cut into bands as a strategy's `Layout` asks, each band
gathered with its extension (`extend`), handed to the strategy and written into the
output (`to_dtype`), on a thread pool (`run_bands`) with BLAS held to one thread."""

import contextlib
import ctypes
import functools
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import DTypeLike

from ..boundary import index_map
from ..cpus import cpu_count
from .gather import empty_band, extend
from .hooks import NO_HOOKS, Hooks, keep_inputs
from .strategy import Layout, Strategy, Values

if TYPE_CHECKING:
    from threadpoolctl import ThreadpoolController


def filter_image(plane: np.ndarray, strategy: Strategy, layout: Layout, mode: str, cval: float, offset: float,
                 result: np.ndarray, clip: bool, threads: int, hooks: Hooks = NO_HOOKS) -> None:
    """Filter ``plane`` (H, W, C) into ``result`` (same shape) with ``strategy``, band by
    band as ``layout`` says, each band gathered in the strategy's ``dtype`` and extended
    by ``mode`` (``cval`` beyond the edges in constant mode); ``offset`` is added to
    every sample, ``clip`` as in `to_dtype`; ``threads`` share the bands; ``hooks``
    work on each band around the strategy (`imgconv.engine.hooks`).

    Bands do not depend on the thread count, and each is computed the same way
    whichever thread runs it, so results are bit-identical for any number of threads.
    """
    height, width, channels = plane.shape
    (above, below), (left, right) = layout.reach
    rows = index_map(height, above, below, mode)
    columns = index_map(width, left, right, mode)
    extra, band = above + below, layout.band_height
    write = _writer(strategy, hooks, offset, clip)
    groups = [slice(c, c + 1) for c in range(channels)] if layout.one_channel else [slice(None)]
    # One buffer per thread, which every band that thread gathers reuses (its first rows
    # for a shorter band; planar bands, whose planes would not be contiguous, get one of
    # their own shape). New arrays band after band cost far more: glibc gives freed
    # blocks of a few megabytes back to the system and faults them in anew, which took
    # a 16 MP RGB photo's Gaussian (sigma 2, one thread) from 108 to 255 ms of CPU.
    buffers: dict[int, np.ndarray] = {}
    # A band's first rows are the last of the band above. Where gathering decodes (0.47 ns a
    # sample, a copy 0.1), a thread that filtered the band above copies them from its buffer,
    # if the strategy left it as gathered, the threads taking bands as `_Claims` hands them out.
    reuse = hooks.decode is not None and hooks.prepare is None and getattr(strategy, "keeps_band", False)

    def filter_band(source: np.ndarray, target: np.ndarray, top: int, workers: int, follows: bool = False) -> None:
        """Filter the band of ``source`` starting at output row ``top`` into ``target``;
        with ``workers`` > 1, the strategy and the copies around it use that many threads;
        ``follows``: this thread's buffer holds the band above, gathered."""
        bottom = min(top + band, height)
        band_rows = rows[top : bottom + extra]
        held = buffers.get(threading.get_ident())
        if held is None or len(held) < len(band_rows) or (layout.planar and len(held) != len(band_rows)):
            held = buffers[threading.get_ident()] = empty_band((len(band_rows), len(columns), source.shape[2]),
                                                               strategy.dtype, layout.planar)
            follows = False
        buffer = held[: len(band_rows)]
        kept = extra if follows else 0
        if kept:
            buffer[:kept] = held[band : band + kept]  # the last rows of the band above
        _gather(source, band_rows[kept:], columns, left, cval, buffer[kept:], hooks, workers)
        destination = target[top:bottom]
        # Float results of the strategy's own type go straight into the output (no copy).
        into = destination if (destination.dtype == strategy.dtype and not layout.planar
                               and destination.flags.c_contiguous and hooks.idle) else None
        values = strategy(buffer, workers, into)
        if into is not None and values is into:
            if offset:
                into += into.dtype.type(offset)
            return
        scale = None if hooks.scale is None else hooks.scale[top:bottom]
        _write_band(values, destination, source[top:bottom], scale, layout.planar, write, workers)

    filter_band = _counted(filter_band, band, height, len(groups))
    for group in groups:
        source, target = plane[:, :, group], result[:, :, group]
        tops = range(0, height, band)
        if layout.workers > 1:
            for top in tops:
                filter_band(source, target, top, layout.workers)
        elif reuse:
            run_bands(functools.partial(_filter_claimed, filter_band, source, target, tops, _Claims(len(tops))),
                      range(threads), threads)
        else:
            run_bands(functools.partial(filter_band, source, target, workers=1), tops, threads)


def _gather(source: np.ndarray, rows: np.ndarray, columns: np.ndarray, left: int, cval: float, out: np.ndarray,
            hooks: Hooks, workers: int) -> None:
    """``rows`` and ``columns`` of ``source`` into ``out`` (`extend`), decoded and
    prepared as ``hooks`` say, the rows split among ``workers`` threads."""
    decode = None if hooks.decode is None else hooks.look_up
    chunk = -(-len(rows) // workers)
    run_bands(lambda start: extend(source, rows[start : start + chunk], columns, left, cval, out.dtype,
                                   out=out[start : start + chunk], decode=decode, prepare=hooks.prepare),
              range(0, len(rows), chunk), workers)


class _Claims:
    """Bands handed out one at a time to threads that reuse the rows above: a thread
    takes the band below its last while that is free, so that it can copy the rows
    they share, and otherwise the middle of the longest run of free bands (its start,
    if no thread is working down into it). Runs of consecutive bands fixed beforehand
    kept the copies but not the balance: a thread held up by another process left the
    other idle (the 4K photo's best wall times 101-128 ms where bands taken one at a
    time took 77-100 in five rounds of six, load 2)."""

    def __init__(self, count: int) -> None:
        self.free = [True] * count
        self.lock = threading.Lock()

    def next(self, last: int | None) -> int | None:
        """The band a thread whose last band was ``last`` takes next; None when none is free."""
        with self.lock:
            if last is not None and last + 1 < len(self.free) and self.free[last + 1]:
                choice: int | None = last + 1
            else:
                choice = self._middle_of_longest_run()
            if choice is not None:
                self.free[choice] = False
            return choice

    def _middle_of_longest_run(self) -> int | None:
        best, longest, start = None, 0, None
        for index, free in enumerate([*self.free, False]):
            if free and start is None:
                start = index
            elif not free and start is not None:
                if index - start > longest:
                    best, longest = (start if start == 0 else start + (index - start) // 2), index - start
                start = None
        return best


def _filter_claimed(filter_band: Callable[..., None], source: np.ndarray, target: np.ndarray, tops: range,
                    claims: _Claims, thread: int) -> None:
    """``filter_band`` for each band ``claims`` hands this thread (whichever ``thread``
    it is), each band following the one above it if this thread filtered that last."""
    last = None
    while (index := claims.next(last)) is not None:
        filter_band(source, target, tops[index], 1, follows=last is not None and index == last + 1)
        last = index


Writer = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None], None]
"""``write(values, target, samples, scale)``: see `_writer`."""


def _write_band(values: Values, destination: np.ndarray, samples: np.ndarray, scale: np.ndarray | None,
                planar: bool, write: Writer, workers: int) -> None:
    """A band's ``values`` into ``destination`` by ``write`` (`_writer`), ``samples``
    the input and ``scale`` (`Hooks.scale`, if any) the factors at the same places,
    the rows split among ``workers`` threads."""
    # Planar strategies give a plane per channel, and each goes out on its own:
    # much faster than one pass that strides through the values or the target.
    if planar:
        planes = zip(values, np.moveaxis(destination, 2, 0), np.moveaxis(samples, 2, 0), strict=True)
    else:
        planes = zip([cast(np.ndarray, values)], [destination], [samples], strict=True)  # one array, not planes
    step = -(-len(destination) // workers)

    def write_rows(filtered: np.ndarray, written: np.ndarray, seen: np.ndarray, start: int) -> None:
        rows = slice(start, start + step)
        write(filtered[rows], written[rows], seen[rows], None if scale is None else scale[rows])

    for filtered, written, seen in planes:
        run_bands(functools.partial(write_rows, filtered, written, seen), range(0, len(destination), step), workers)


BandWatcher = Callable[[int, int], object]
"""``watcher(done, total)``: rows filtered of an image, counted once per channel group."""

_WATCHER: ContextVar[BandWatcher | None] = ContextVar("imgconv_band_watcher", default=None)


@contextlib.contextmanager
def watching(watcher: BandWatcher) -> Iterator[None]:
    """Have every `filter_image` run in this context (in this thread, or in a task
    started from it with its context) call ``watcher(done, total)`` after each band,
    ``done`` of ``total`` rows of that image filtered, from the thread that filtered
    the band: a progress display's source, which costs nothing when no one watches."""
    token = _WATCHER.set(watcher)
    try:
        yield
    finally:
        _WATCHER.reset(token)


def current_watcher() -> BandWatcher | None:
    """The watcher `watching` set in this context, if any: for a caller that filters an
    image in parts, so that it can report the parts' rows as the whole image's."""
    return _WATCHER.get()


def _counted(filter_band: Callable[..., None], band: int, height: int, groups: int) -> Callable[..., None]:
    """``filter_band`` reporting each band to the watcher of `watching`, if any."""
    watcher = _WATCHER.get()
    if watcher is None:
        return filter_band
    lock, done, total = threading.Lock(), [0], height * groups

    def counted(source: np.ndarray, target: np.ndarray, top: int, workers: int, follows: bool = False) -> None:
        filter_band(source, target, top, workers, follows)
        with lock:
            done[0] += min(top + band, height) - top
            watcher(done[0], total)

    return counted


def _write(values: np.ndarray, target: np.ndarray, offset: float, clip: bool) -> None:
    if offset:
        values += values.dtype.type(offset)
    to_dtype(values, target.dtype, out=target, clip=clip)


def _writer(strategy: Strategy, hooks: Hooks, offset: float, clip: bool) -> Writer:
    """``write(values, target, samples, scale)``: a strategy's values into the output as
    `filter_image` writes them, ``samples`` the input at the same places, for
    `Hooks.keep`, and ``scale`` the factors of `Hooks.scale` there (or None); encoded
    by `Hooks.encode`, if given, which clips as it must."""
    rounded = getattr(strategy, "write", _write)

    def write(values: np.ndarray, target: np.ndarray, samples: np.ndarray, scale: np.ndarray | None) -> None:
        if hooks.keep:
            keep_inputs(values, samples, hooks)
        if hooks.encode is None and scale is None:
            rounded(values, target, offset, clip)
            return
        if offset:
            values += values.dtype.type(offset)
        if scale is not None:
            # Floats of the values' own type take the products as they are: no copy.
            if hooks.encode is None and target.dtype == values.dtype:
                _multiply(values, scale, target)
                return
            _multiply(values, scale, values)
        if hooks.encode is None:
            rounded(values, target, 0.0, clip)
        else:
            hooks.encode(values, target)

    return write


# Rows `_multiply` takes at a time: 8 rows of a 4K RGB image are 368 kB in float32,
# which stay in cache while each channel is multiplied in turn.
SCALE_ROWS = 8


def _multiply(values: np.ndarray, scale: np.ndarray, out: np.ndarray) -> None:
    """``values`` (rows, columns[, channels]) times ``scale`` (rows, columns) into
    ``out``. Channel by channel, a few rows at a time: NumPy's product with a
    broadcast channel axis loops over one pixel's few samples at a time, and took
    3.4 ns a pixel where this takes 1.3 (bands of a 4K RGB float32 image, one
    thread; 4, 16 or 48 rows at a time took 1.4 to 2.6)."""
    if values.ndim == 2:
        np.multiply(values, scale, out=out)
        return
    for top in range(0, len(values), SCALE_ROWS):
        rows = slice(top, top + SCALE_ROWS)
        for channel in range(values.shape[2]):
            np.multiply(values[rows, :, channel], scale[rows], out=out[rows, :, channel])


def run_bands(filter_band: Callable[[int], object], tops: Sequence[int], threads: int) -> None:
    """``filter_band(top)`` for every top, on ``threads`` threads."""
    if threads == 1 or len(tops) == 1:
        for top in tops:
            filter_band(top)
    else:
        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(filter_band, tops):
                pass


# Rows a thread works on at a time in `in_chunks`: 32 rows of a 4K RGB image are 1.5 MB
# in float32, so that a chunk's arrays stay in cache between its few operations.
CHUNK_ROWS = 32


def in_chunks(height: int, work: Callable[[slice], object], threads: int | None = None) -> None:
    """``work(rows)`` for every slice of `CHUNK_ROWS` rows of an image ``height`` rows
    tall, on ``threads`` threads (default every CPU): a pass over a whole image whose
    steps each chunk takes in turn, its temporaries small and in cache."""
    run_bands(lambda top: work(slice(top, top + CHUNK_ROWS)), range(0, height, CHUNK_ROWS), thread_count(threads))


def thread_count(threads: int | None) -> int:
    """The bands filtered at once: ``threads``, or every CPU."""
    return threads or cpu_count()


@contextlib.contextmanager
def blas_on_one_thread() -> Iterator[None]:
    """Hold BLAS to one thread while filtering: the bands are our threads; a product
    BLAS split over its own threads could round differently with their number; and
    BLAS threads, once woken (even by the small SVD that analyses the kernel), spin for
    a while after each call and take cores from the bands.

    Where NumPy's own OpenBLAS says it runs on one thread already (as the command line
    has it, with ``OPENBLAS_NUM_THREADS=1``), nothing is done: threadpoolctl's import
    and its search for the libraries took 3.3 ms of every process, asking OpenBLAS
    0.16 ms."""
    if _numpy_openblas_threads() == 1:
        yield
        return
    with _blas_controller().limit(limits=1, user_api="blas"):
        yield


def _numpy_openblas_threads() -> int | None:
    """The threads of the OpenBLAS that NumPy's wheels bring (in ``numpy.libs``), as
    it reports them now; None where there is no such library (another build of NumPy,
    another BLAS), for threadpoolctl to find what there is."""
    library = _numpy_openblas()
    return None if library is None else int(library())


@functools.cache
def _numpy_openblas() -> Callable[[], int] | None:
    """OpenBLAS's ``get_num_threads`` in NumPy's bundled library, already loaded."""
    folder = Path(np.__file__).parent.parent / "numpy.libs"
    for path in sorted(folder.glob("lib*openblas*.so*")):
        try:
            library = ctypes.CDLL(str(path), mode=os.RTLD_NOLOAD)
        except OSError:  # not loaded: not the library NumPy uses
            continue
        for name in ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads", "openblas_get_num_threads"):
            function = getattr(library, name, None)
            if function is not None:
                return cast(Callable[[], int], function)
    return None


@functools.cache
def _blas_controller() -> "ThreadpoolController":
    """threadpoolctl's view of the loaded BLAS libraries, NumPy's among them. Taken once:
    `threadpoolctl.threadpool_limits` looks for them afresh on every call, which costs
    a quarter of a millisecond per image."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def to_dtype(values: np.ndarray, dtype: DTypeLike, out: np.ndarray | None = None, clip: bool = True) -> np.ndarray:
    """Float results as ``dtype``: integers rounded to nearest and clipped to the range.

    ``values`` may be overwritten. The clip bounds are the largest floats that fit, so
    that, say, float32 2**31 never wraps around in an int32. ``clip=False`` is for
    values known to lie within the range already.
    """
    dtype = np.dtype(dtype)
    if out is None:
        out = np.empty(values.shape, dtype)
    if dtype.kind in "iu":
        if clip:
            info = np.iinfo(dtype)
            low, high = (values.dtype.type(bound) for bound in (info.min, info.max))
            if int(high) > info.max:
                high = np.nextafter(high, values.dtype.type(0))
            np.clip(values, low, high, out=values)
        # Rounded straight into the output: one pass over the values, where rounding in
        # place and then converting took two (bands of a 16 MP RGB photo, float32 to
        # uint8, one thread: 134 against 160 us a band).
        np.rint(values, out=out, casting="unsafe")
    else:
        np.copyto(out, values, casting="unsafe")
    return out


def work_dtype(dtype: DTypeLike) -> np.dtype[Any]:
    """The float type samples of ``dtype`` are filtered in, and results come in: float64
    for float64 images and for integers of more than 16 bits (float32's 24-bit
    significand would round samples above 2**24), float32 for every other type."""
    dtype = np.dtype(dtype)
    wide = dtype == np.float64 or (dtype.kind in "iu" and dtype.itemsize > 2)
    return np.dtype(np.float64 if wide else np.float32)
