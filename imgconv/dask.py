"""Correlation and convolution of Dask arrays, equal to `imgconv.correlate` and
`imgconv.convolve` on the whole array.

``imgconv.dask.correlate(input, weights, ...)`` returns a lazy ``dask.array.Array`` of
the input's shape. Each block of the result is one band of full-width rows, computed by
`imgconv.correlate` (or `convolve`) on the rows it needs, gathered from the input. With
``direct`` and ``separable`` the result is bit-identical to `imgconv.correlate` on the
whole NumPy array; with ``fft`` it agrees to float32 rounding.

Why blocks are whole bands of rows, and where they start. The engine filters an image
one band of rows at a time, and the separable passes round a sample slightly
differently depending on the shape of the matrix products it falls in: where its row's
runs of pixels start and how long the row is (the partial last run), and, in the column
pass and the row pass alike, how many rows its band has and where the band starts
(measured: a block of a 41-tap Gaussian's rows, or rows near the bottom of an RGB
image for an 11-tap one, differed from the whole image's in a few samples when the
block's bands were not the whole image's). So a block here

- spans the full width and every channel, so that every row is the whole image's row;
- starts on a multiple of the engine's band height and is a whole number of bands, so
  that the engine, given the block's rows, cuts them into the same bands as the whole
  image (the band of the image's last rows ends where the image ends, in the block too);
- is given the rows the kernel reaches beyond it, taken from the image as the boundary
  mode extends it (every mode, including repeated reflections of kernels longer than the
  image), and, at the image's own edges, whatever makes the engine's own extension of
  the block equal the whole image's: the image's edge itself (``constant``, whose fill
  is then never rounded to an integer type, and ``nearest``), enough rows for a
  reflection (``reflect``, ``mirror``), and, in ``wrap`` mode, the image's first rows
  ahead of the block's last ones.

Blocks are chosen from a byte budget (``block_bytes``, the result's bytes per block),
since a full-width block of a wide image holds many samples; ``block_rows`` sets them
directly. Either is rounded to whole bands.
"""

import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .engine import (
    MAX_KERNEL_SIZE,
    ChannelAxis,
    KernelLike,
    OriginLike,
    SeparableKernel,
    check_kernel,
    choose_method,
    work_dtype,
)
from .engine import convolve as engine_convolve
from .engine import correlate as engine_correlate
from .engine.arrays import channel_axis_of, check_origin
from .engine.taps import anchor
from .errors import INSTALL_HINT, InvalidInputError, MissingExtraError
from .vocabulary import METHODS, resolve_mode

try:
    import dask.array as da
except ImportError:  # pragma: no cover - the test extra installs dask
    raise MissingExtraError(f"imgconv.dask needs Dask, which is not installed: {INSTALL_HINT}") from None


# The result's bytes per block when neither block_rows nor block_bytes is given.
BLOCK_BYTES = 32 * 2**20


def correlate(input: ArrayLike, weights: KernelLike, output: DTypeLike | None = None, mode: str = "reflect",
              cval: float = 0.0, origin: OriginLike = 0, *, channel_axis: ChannelAxis = "auto", method: str = "auto",
              threads: int = 1, block_rows: int | None = None, block_bytes: int | None = None) -> da.Array:
    """Correlate each channel of a Dask array with a 2-D kernel, lazily.

    Equal to ``imgconv.correlate(input.compute(), weights, output, mode, cval, origin,
    channel_axis=channel_axis, method=method)``: bit for bit with ``direct`` and
    ``separable``, to float32 rounding with ``fft``.

    Parameters
    ----------
    input : dask.array.Array or array_like
        (H, W), or 3-D with an axis of channels, as ``channel_axis`` says; any chunks:
        they are rechunked into full-width bands of rows with all channels.
    weights : array_like, Kernel or SeparableKernel
        As for `imgconv.correlate`; a kernel's offset is added.
    output : numpy dtype, optional
        As for `imgconv.correlate`, but a type only: to write the result into an array,
        store it (``dask.array.store``).
    mode, cval, origin, channel_axis
        As for `imgconv.correlate`.
    method : {"auto", "direct", "separable", "fft"}
        ``auto`` (the default) is chosen once for the whole array from the kernel, never
        per block, and is always exact (`exact_method`).
    threads : int
        Threads of the engine per block (default 1: Dask's scheduler runs blocks at once).
    block_rows : int, optional
        Rows per block, rounded up to whole bands of the engine.
    block_bytes : int, optional
        The result's bytes per block (default 32 MiB): blocks take as many whole bands
        as fit, at least one.

    Returns
    -------
    dask.array.Array
        The input's shape and layout, chunked in full-width bands of rows; of type
        ``output``, else `imgconv.engine.work_dtype`'s: float64 for a float64 array or
        one of integers of more than 16 bits, float32 otherwise.
    """
    return _filter(input, weights, mode, cval, method, output, threads, block_rows, block_bytes, False, origin,
                   channel_axis)


def convolve(input: ArrayLike, weights: KernelLike, output: DTypeLike | None = None, mode: str = "reflect",
             cval: float = 0.0, origin: OriginLike = 0, *, channel_axis: ChannelAxis = "auto", method: str = "auto",
             threads: int = 1, block_rows: int | None = None, block_bytes: int | None = None) -> da.Array:
    """Convolve each channel of a Dask array with a 2-D kernel (flipped), lazily.

    Equal to ``imgconv.convolve`` on the whole array; parameters and result are those
    of `correlate`.
    """
    return _filter(input, weights, mode, cval, method, output, threads, block_rows, block_bytes, True, origin,
                   channel_axis)


def exact_method(kernel: KernelLike, mode: str = "reflect", dtype: DTypeLike | None = None,
                 cval: float = 0.0) -> str:
    """The method ``auto`` takes for ``kernel`` on an array of ``dtype``: chosen from the
    kernel alone, and never ``fft``, so that the result is bit-identical to the engine's
    on the whole array.

    It is `imgconv.engine.choose_method`'s choice with no image size where that is
    ``integer`` (8-bit arrays), ``direct`` or ``separable``; where it is ``fft``,
    ``separable`` for a `SeparableKernel` or a kernel of rank 1 or 2, and ``direct``
    otherwise.

    Examples
    --------
    >>> import imgconv
    >>> exact_method(imgconv.kernels.gaussian(radius=100, sigma=33))
    'separable'
    >>> exact_method(imgconv.kernels.sharpen())
    'direct'
    """
    choice = choose_method(kernel, mode, dtype=dtype, cval=cval)
    if choice == "fft":
        if isinstance(kernel, SeparableKernel):
            return "separable"
        weights = check_kernel(kernel)
        rank = np.linalg.matrix_rank(weights) if weights.any() else 0
        return "separable" if rank <= 2 else "direct"
    return choice


def band_height(method: str | Sequence[str], kernel_height: int) -> int:
    """Rows per band of the engine's strategy for a kernel ``kernel_height`` tall: blocks
    start on multiples of it; for several methods (one per kernel of a magnitude), on
    multiples of each one's. (It mirrors the engine's ``band_height`` functions; the tests
    compare every method with the engine on the whole array, so a change shows there.)"""
    if not isinstance(method, str):
        return math.lcm(*(band_height(m, kernel_height) for m in method))
    if method == "integer":  # exact sums: any band gives the same result
        return 64
    if method == "separable":
        return 48 if kernel_height <= 25 else max(64, kernel_height)
    if method == "fft":
        return max(128, 3 * kernel_height)
    return 32


def kernel_shape(kernel: KernelLike) -> tuple[int, int]:
    """The kernel's (height, width), without making a `SeparableKernel` dense."""
    if isinstance(kernel, SeparableKernel):
        return kernel.shape
    return check_kernel(kernel).shape


def _filter(values: ArrayLike, kernel: KernelLike, mode: str, cval: float, method: str, output: DTypeLike | None,
            threads: int, block_rows: int | None, block_bytes: int | None, flip: bool, origin: OriginLike,
            channel_axis: ChannelAxis) -> da.Array:
    array = da.asarray(values)
    if array.dtype.kind not in "biuf":
        raise InvalidInputError(f"image must hold real numbers, got dtype {array.dtype}")
    if any(math.isnan(n) for n in array.shape):
        raise InvalidInputError("the array's shape must be known (call compute_chunk_sizes() first)")
    if array.size == 0:
        raise InvalidInputError(f"image is empty (shape {array.shape})")
    axis = channel_axis_of(array.shape, channel_axis)
    if isinstance(output, np.ndarray):
        raise InvalidInputError("imgconv.dask takes output as a type, not an array: store the lazy result in one "
                                "(dask.array.store)")
    resolve_mode(mode, cval)  # an unknown mode is refused before any work
    if method not in METHODS:
        raise InvalidInputError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    kh, kw = kernel_shape(kernel)
    shift = check_origin(origin, (kh, kw))
    if method == "auto":
        method = exact_method(kernel, mode, array.dtype, cval)
    result_dtype = work_dtype(array.dtype) if output is None else np.dtype(output)
    engine = _engine_call(kernel, mode, cval, method, output, threads, flip, shift, None if axis is None else -1)
    # A separable kernel held as factors longer than the engine's densest kernel is folded
    # onto the image's height by the engine, so it needs the whole height at once.
    whole = isinstance(kernel, SeparableKernel) and max(kernel.shape) > MAX_KERNEL_SIZE
    moved = array if axis in (None, 2) else da.moveaxis(array, axis, 2)
    result = map_bands(moved, engine, kh, method, mode, flip=flip, dtype=result_dtype, block_rows=block_rows,
                       block_bytes=block_bytes, whole=whole, origin=shift[0])
    return result if axis in (None, 2) else da.moveaxis(result, 2, axis)


def map_bands(array: da.Array, function: Callable[[np.ndarray], np.ndarray], kernel_height: int,
              method: str | Sequence[str], mode: str = "reflect", *, flip: bool = False,
              dtype: DTypeLike | None = None, block_rows: int | None = None, block_bytes: int | None = None,
              whole: bool = False, origin: int = 0) -> da.Array:
    """Apply ``function`` to a Dask array block by block, cut as `correlate` cuts it.

    ``function(values)`` takes rows of the image, full width, as the engine's
    ``method`` cuts them into bands for a kernel ``kernel_height`` tall (convolved if
    ``flip``) in ``mode``, and returns a result for every row it is given: the
    engine's result on those rows, or anything computed from it sample by sample (the
    CLI's filters: alpha, display, rounding). Each block keeps the rows that equal the
    whole array's result, as `correlate` explains.

    Parameters
    ----------
    array : dask.array.Array, shape (H, W) or (H, W, C)
    function : callable
    kernel_height : int
    method : {"direct", "separable", "fft"} or a sequence of them
        The engine's method inside ``function``, fixed (see `exact_method`); one per
        kernel for a magnitude whose kernels take different ones.
    mode : str
    flip : bool
        The engine convolves (the kernel's anchor is then below its middle row).
    origin : int
        Moves the kernel's anchor by this many rows (``origin`` of `correlate`).
    dtype : numpy.dtype
        The result's type (default the array's).
    block_rows, block_bytes : int, optional
        As for `correlate`.
    whole : bool
        Give ``function`` the whole array at once (one block).

    Returns
    -------
    dask.array.Array
        The array's shape, in full-width blocks of whole bands.
    """
    dtype = np.dtype(dtype or array.dtype)
    mode, _ = resolve_mode(mode)
    height = array.shape[0]
    before = anchor((kernel_height, 1), flip, (origin, 0))[0]
    after = kernel_height - 1 - before
    band = band_height(method, kernel_height)
    rows = block_height(array, method, kernel_height, dtype, block_rows, block_bytes)
    # Channels are never split, nor rows: blocks are full-width bands. The input's rows
    # stay in their chunks, so that a block computes only the chunks it takes rows from.
    source = array.rechunk({1: -1, 2: -1} if array.ndim == 3 else {1: -1})
    meta = np.empty((0,) * array.ndim, dtype)
    if rows >= height or whole:
        return source.rechunk({0: -1}).map_blocks(function, dtype=dtype, meta=meta)

    blocks = []
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        pieces, first = _gather(top, bottom, height, before, after, band, mode)
        gathered = da.concatenate([_piece(source, start, stop, step) for start, stop, step in pieces], axis=0)
        gathered = gathered.rechunk({0: -1})
        chunks = (bottom - top, *gathered.chunks[1:])
        blocks.append(gathered.map_blocks(_kept, function, first, bottom - top, chunks=chunks, dtype=dtype, meta=meta))
    return da.concatenate(blocks, axis=0)


def block_height(array: da.Array, method: str | Sequence[str], kernel_height: int, dtype: DTypeLike,
                 block_rows: int | None = None, block_bytes: int | None = None) -> int:
    """Rows of `map_bands`' blocks: ``block_rows`` rounded up to whole bands, or as many
    whole bands as ``block_bytes`` of the result hold (default `BLOCK_BYTES`), at least
    one."""
    band = band_height(method, kernel_height)
    if block_rows is None:
        row_bytes = math.prod(array.shape[1:]) * np.dtype(dtype).itemsize
        return max(1, (block_bytes or BLOCK_BYTES) // row_bytes // band) * band
    return max(1, -(-int(block_rows) // band)) * band


def _engine_call(kernel: KernelLike, mode: str, cval: float, method: str, output: DTypeLike | None, threads: int,
                 flip: bool, origin: tuple[int, int], channel_axis: int | None) -> Callable[[np.ndarray], np.ndarray]:
    function = engine_convolve if flip else engine_correlate

    def engine(values: np.ndarray) -> np.ndarray:
        return function(values, kernel, output, mode, cval, origin, channel_axis=channel_axis, method=method,
                        threads=threads)

    return engine


def _kept(values: np.ndarray, engine: Callable[[np.ndarray], np.ndarray], first: int, count: int) -> np.ndarray:
    return engine(values)[first : first + count]


def _piece(source: da.Array, start: int, stop: int, step: int) -> da.Array:
    """Image rows ``start, start + step, ...`` short of ``stop`` (``step`` is 1 or -1)."""
    if step == 1:
        return source[start:stop]
    return source[stop + 1 : start + 1][::-1]


def source_rows(start: int, stop: int, height: int, mode: str) -> np.ndarray:
    """The image row that each row ``start ... stop - 1`` of the image extended by
    ``mode`` repeats (-1 beyond the edge in ``constant`` mode).

    Examples
    --------
    >>> source_rows(-3, 6, 3, "reflect")
    array([2, 1, 0, 0, 1, 2, 2, 1, 0])
    >>> source_rows(-2, 5, 3, "mirror")
    array([2, 1, 0, 1, 2, 1, 0])
    """
    index = np.arange(start, stop)
    if mode == "reflect":
        index = np.mod(index, 2 * height)
        return np.where(index < height, index, 2 * height - 1 - index)
    if mode == "mirror":
        if height == 1:
            return np.zeros_like(index)
        index = np.mod(index, 2 * height - 2)
        return np.where(index < height, index, 2 * height - 2 - index)
    if mode == "wrap":
        return np.mod(index, height)
    if mode == "nearest":
        return np.clip(index, 0, height - 1)
    return np.where((index >= 0) & (index < height), index, -1)


def _gather(top: int, bottom: int, height: int, before: int, after: int, band: int,
            mode: str) -> tuple[list[tuple[int, int, int]], int]:
    """The image rows the engine is given for result rows ``top ... bottom - 1``, as runs
    (start, stop, step), and where the result's first row is among the engine's.

    The engine is given rows of the extended image from ``start`` (a multiple of
    ``band``, so that its bands are the whole image's) to ``stop``. A block that ends
    where the image ends gives the engine the image's last row last, so that the engine's
    last band is the image's, and the rows beyond come from the engine's own extension
    of what it is given: right for ``constant`` and ``nearest`` at once, for ``reflect``
    and ``mirror`` once it is given as many rows as the kernel reaches, and for ``wrap``
    when the image's first rows lead (ahead of rows whose results are not kept).
    Likewise at the top in ``constant`` and ``nearest`` mode, the engine extends the
    image's own first row, so that no fill value is ever stored in the image's type.
    """
    last = bottom >= height
    start = band * math.floor((top - before) / band)
    stop = height if last else bottom + after
    if mode in ("constant", "nearest"):
        start, stop = max(start, 0), min(stop, height)
    lead: list[int] = []
    if last and mode in ("reflect", "mirror"):
        while stop - start < after + (mode == "mirror"):
            start -= band
    if last and mode == "wrap" and after:
        lead = [height + i for i in range(band * -(-after // band))]
    rows = np.concatenate([source_rows(0, 0, height, mode), np.mod(lead, height),
                           source_rows(start, stop, height, mode)]).astype(np.int64)
    assert rows.min() >= 0
    return _runs(rows), len(lead) + top - start


def _runs(rows: np.ndarray) -> list[tuple[int, int, int]]:
    """``rows`` as maximal runs of consecutive rows, each (start, stop, step)."""
    runs = []
    i = 0
    while i < len(rows):
        j = i + 1
        step = 1
        if j < len(rows) and rows[j] - rows[i] in (1, -1):
            step = int(rows[j] - rows[i])
            while j < len(rows) and rows[j] - rows[j - 1] == step:
                j += 1
        runs.append((int(rows[i]), int(rows[j - 1]) + step, step))
        i = j
    return runs
