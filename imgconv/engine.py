"""The convolution engine: boundary handling, bands of rows, and three strategies.

The image is filtered one band of rows at a time. Each band is gathered from the image
together with the rows and columns the kernel reaches beyond it, extended with the
boundary mode (`imgconv.boundary.index_map`) and converted to float32 (float64 for
float64 images); a strategy then filters it with no further boundary logic ("valid"
filtering), and the result is rounded and clipped straight into the output when the
caller asks for an integer type. So no full-size float copy of an 8-bit image is ever
made (the FFT on whole channels holds one channel at a time), the working set stays
in the CPU cache, and bands run on a thread pool (NumPy, BLAS and scipy.fft release
the GIL). Bands do not depend on the thread count, and each
is computed the same way whichever thread runs it, so results are bit-identical for
any number of threads.

Strategies:

- ``direct``: one multiply-add of a shifted view per non-zero weight; for small kernels.
- ``separable``: the kernel as a sum of outer products ``column ⊗ row`` by SVD (one for
  a Gaussian or a box, a few for a low-rank kernel). Per term, the column pass weighs
  each output row's input rows as one batched vector product over a strided view (up
  to 25 taps), or is a series of products with banded (Toeplitz) blocks. Rows of up
  to 40 taps keep the channels interleaved as they are in the image: every run of
  output pixels with about 16 samples (5 RGB pixels) is a small product with
  ``kron(toeplitz, identity(channels))``, all of them in one ``np.matmul`` over a
  strided view of overlapping windows. Longer rows run on planes (the band is
  gathered channel by channel), so both passes are Toeplitz products along
  contiguous rows, with no transposition. BLAS does the arithmetic in every case.
- ``fft``: convolution through ``scipy.fft`` (imported only on this path, as importing
  scipy takes a noticeable part of a second), in one of two layouts, whichever is
  expected to be quicker. Whole channels (`_Spectral`), for kernels symmetric about
  their anchor along both axes (any kernel in ``wrap`` mode): each channel, or a
  frame around it for some modes and sizes, goes through one DCT (FFT in ``wrap``
  mode) and back, at a cost that hardly depends on the kernel. Otherwise bands,
  gathered as planes, a few kernel heights tall; when there are too few of them to
  keep every thread busy, they run one after another.
  Either way each transform is split over the threads (scipy.fft's ``workers``,
  which compute each line of a transform the same way whatever their number).

``auto`` estimates the time per output sample of each from the kernel's size, rank and
symmetry, the boundary mode and the image's size (`choose_method`) and takes the
smallest.

A `SeparableKernel` (a sum of outer products of 1-D factors: Gaussians, boxes, unsharp
masks) larger than a dense kernel may be is filtered from its factors, each folded onto
the image first (`_fold`), by ``separable`` or the whole-channel ``fft``; ``direct``
and FFT bands need the dense kernel.

Kernel anchoring is that of ``scipy.ndimage`` with ``origin=0``: a kernel of size n
along an axis is centred on index ``n // 2``. For correlation, output sample i sees
input samples ``i - n//2 ... i + (n-1) - n//2``; convolution flips the kernel, so for
even sizes the reach is one sample longer after the centre than before it.
"""

import functools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .boundary import index_map
from .errors import InvalidInputError, KernelError
from .vocabulary import METHODS, resolve_mode

# Kernels held as one dense array (user kernels, motion, Sobel-like presets) are at most
# this size along each axis; separable ones (`SeparableKernel`) may have factors of up to
# MAX_SEPARABLE_SIZE taps, radius 100000.
MAX_KERNEL_SIZE = 1025
MAX_RADIUS = 100_000
MAX_SEPARABLE_SIZE = 2 * MAX_RADIUS + 1

# Rows of at most this many taps run with channels interleaved, longer ones on planes.
SHORT_ROW = 40
# Columns of at most this many taps run as batched vector products, longer ones as
# Toeplitz matrix products.
SHORT_COLUMN = 25
# Output rows (columns) per Toeplitz block of a long column (row) pass. Each output
# also multiplies block - 1 zeros, but much smaller blocks make BLAS slower.
COLUMN_BLOCK = 32
ROW_BLOCK = 32


def _pixel_block(channels):
    """Output pixels per small product of an interleaved row pass: as many as make at
    most 16 samples. Each output also multiplies (pixels - 1) * channels zeros, but
    products with 15 or 16 output columns ran quickest for every row length measured
    (7 to 41 taps, 1 to 4 channels; RGB, 11 taps: 5 pixels 0.51-0.62 ms a band, 4
    pixels 0.60-0.70, 8 pixels 0.74-0.99), likely the width OpenBLAS's kernels take
    at once here."""
    return max(1, 16 // channels)


@dataclass(frozen=True)
class Kernel:
    """Kernel weights and an offset added to every filtered sample.

    The offset (in the image's sample units) comes from kernel files such as libvips
    matrices, whose result is ``sum(weights * pixels) + offset``. `convolve` and
    `correlate` accept a `Kernel` wherever they accept an array.
    """

    weights: np.ndarray
    offset: float = 0.0

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.weights, dtype=dtype)


@dataclass(frozen=True, eq=False)
class SeparableKernel:
    """A kernel held as a sum of outer products, ``sum(outer(column, row))`` over
    ``terms``, and an offset added to every filtered sample.

    A Gaussian or a box is one such product, an unsharp mask two. Held this way, a
    kernel of radius r takes memory in proportion to r, not r², so its factors may have
    up to `MAX_SEPARABLE_SIZE` taps (radius 100000), where a dense kernel stops at
    `MAX_KERNEL_SIZE`. `convolve` and `correlate` accept it wherever they accept an
    array. One that fits densely is filtered as its dense form (`dense`), exactly as
    that array would be, so that the kernel ``--print-kernel`` prints reproduces a
    result bit for bit; a larger one is filtered from its factors (the separable
    strategy, or the FFT on whole channels), each first folded onto the offsets that
    reach distinct samples of the image (`_fold`).

    Parameters
    ----------
    terms : sequence of (column, row)
        1-D finite weights; every column has the same length, and so has every row.
    offset : float
        Added to every filtered sample, in the image's units.
    """

    terms: tuple
    offset: float = 0.0

    def __post_init__(self):
        terms = tuple((_check_factor(column, "column"), _check_factor(row, "row")) for column, row in self.terms)
        if not terms:
            raise KernelError("a separable kernel needs at least one term")
        if len({len(column) for column, _ in terms}) > 1 or len({len(row) for _, row in terms}) > 1:
            raise KernelError("every column of a separable kernel must have one length, and every row one length")
        object.__setattr__(self, "terms", terms)
        object.__setattr__(self, "offset", float(self.offset))

    @property
    def shape(self):
        """(rows, columns) of the dense kernel."""
        column, row = self.terms[0]
        return len(column), len(row)

    def dense(self):
        """The kernel as one 2-D array; `KernelError`, before allocating, if it would be
        larger than `MAX_KERNEL_SIZE` along an axis."""
        if max(self.shape) > MAX_KERNEL_SIZE:
            raise KernelError(f"kernel is {_size(self.shape)}: too large to hold densely "
                              f"(the largest dense kernel is {_size((MAX_KERNEL_SIZE,) * 2)})")
        weights = np.outer(*self.terms[0])
        for column, row in self.terms[1:]:
            weights += np.outer(column, row)
        return weights

    def rotated(self):
        """The kernel turned by 180°: each factor reversed."""
        return SeparableKernel([(column[::-1], row[::-1]) for column, row in self.terms], self.offset)

    def sum(self):
        """The sum of the weights, from the factors."""
        return float(sum(column.sum() * row.sum() for column, row in self.terms))

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.dense(), dtype=dtype)


def _size(shape):
    """A kernel's size as the messages write it: width x height."""
    return f"{shape[1]}x{shape[0]}"


def _check_factor(taps, name):
    array = np.array(taps, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise KernelError(f"a separable kernel's {name} must be a non-empty 1-D array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise KernelError(f"a separable kernel's {name} contains NaN or infinite values")
    if array.size > MAX_SEPARABLE_SIZE:
        raise KernelError(f"a separable kernel's {name} has {array.size} taps; the most is "
                          f"{MAX_SEPARABLE_SIZE} (radius {MAX_RADIUS})")
    return array


def check_kernel(weights, name="kernel"):
    """Return ``weights`` as a 2-D float64 array, or raise `KernelError` saying why not."""
    if isinstance(weights, SeparableKernel):
        return weights.dense()
    try:
        array = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: an integer beyond float64
        raise KernelError(f"{name} is not an array of numbers: {exc}") from None
    if array.ndim != 2:
        raise KernelError(f"{name} must be 2-D, got {array.ndim} dimension(s)")
    if array.size == 0:
        raise KernelError(f"{name} is empty")
    if not np.all(np.isfinite(array)):
        raise KernelError(f"{name} contains NaN or infinite values")
    if max(array.shape) > MAX_KERNEL_SIZE:
        raise KernelError(f"{name} is {_size(array.shape)}; the largest kernel is {_size((MAX_KERNEL_SIZE,) * 2)}")
    return array


def correlate(image, kernel, boundary="reflect", cval=0.0, method="auto", output=None, threads=None):
    """Correlate each channel of an image with a 2-D kernel.

    Output sample (y, x) is ``sum(kernel[i, j] * image[y + i - kh//2, x + j - kw//2])``:
    the kernel lies over the image as it is written. Equal to
    ``scipy.ndimage.correlate(image, kernel, mode=boundary, cval=cval)`` per channel.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
        Any real numeric dtype. Channels are filtered independently.
    kernel : array_like, shape (kh, kw), or Kernel
        Finite weights, any size up to 1025x1025, odd or even. A `Kernel`'s offset is
        added to the result.
    boundary : str
        ``reflect`` (default), ``mirror``, ``nearest``, ``wrap`` or ``constant``, or one
        of their aliases (see `imgconv.boundary`).
    cval : float
        The value beyond the edges in ``constant`` mode, in the image's units.
    method : {"auto", "direct", "separable", "fft"}
        The strategy (see the module docstring); all give the same result to within
        float rounding. ``auto`` picks the one expected to be fastest.
    output : numpy dtype, optional
        The result's type. Integer types get results rounded to nearest and clipped to
        their range, band by band, with no full-size float copy.
    threads : int, optional
        Bands filtered at once; default all CPUs. The result does not depend on it.

    Returns
    -------
    numpy.ndarray
        The image's shape; of type ``output``, else float64 for a float64 image and
        float32 otherwise.

    Examples
    --------
    >>> correlate([[0, 0, 0], [0, 1, 0], [0, 0, 0]], [[1, 2, 3]], boundary="constant")
    array([[0., 0., 0.],
           [3., 2., 1.],
           [0., 0., 0.]], dtype=float32)
    """
    return _filter(image, kernel, boundary, cval, method, False, output, threads)


def convolve(image, kernel, boundary="reflect", cval=0.0, method="auto", output=None, threads=None):
    """Convolve each channel of an image with a 2-D kernel (the kernel is flipped).

    Output sample (y, x) is ``sum(kernel[i, j] * image[y - i + kh//2, x - j + kw//2])``.
    Equal to ``scipy.ndimage.convolve(image, kernel, mode=boundary, cval=cval)`` per
    channel. Parameters and result are those of `correlate`.

    Examples
    --------
    >>> convolve([[0, 0, 0], [0, 1, 0], [0, 0, 0]], [[1, 2, 3]], boundary="constant")
    array([[0., 0., 0.],
           [1., 2., 3.],
           [0., 0., 0.]], dtype=float32)
    """
    return _filter(image, kernel, boundary, cval, method, True, output, threads)


def to_dtype(values, dtype, out=None, clip=True):
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
        np.rint(values, out=out, casting="unsafe")  # rounds and converts in one pass
    else:
        np.copyto(out, values, casting="unsafe")
    return out


def work_dtype(dtype):
    """The float type samples of ``dtype`` are filtered in, and results come in: float64
    for float64 images, float32 for every other type."""
    return np.dtype(np.float64 if dtype == np.float64 else np.float32)


def _filter(image, kernel, boundary, cval, method, flip, output, threads):
    image = _check_image(image)
    offset = kernel.offset if isinstance(kernel, (Kernel, SeparableKernel)) else 0.0
    # A separable kernel too large to hold densely is filtered from its factors (terms),
    # every other kernel from its dense weights.
    factored = isinstance(kernel, SeparableKernel) and max(kernel.shape) > MAX_KERNEL_SIZE
    weights, terms = (None, kernel.terms) if factored else (check_kernel(kernel), None)
    mode, cval = resolve_mode(boundary, cval)
    if method not in METHODS:
        raise InvalidInputError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    work = work_dtype(image.dtype)
    magnitude = sum(np.abs(c).sum() * np.abs(r).sum() for c, r in terms) if factored else np.abs(weights).sum()
    _check_reach(image, magnitude, offset, cval if mode == "constant" else 0.0, work)
    kh, kw = kernel.shape if factored else weights.shape
    if flip:
        before = (kh - 1 - kh // 2, kw - 1 - kw // 2)
        if factored:
            terms = [(column[::-1], row[::-1]) for column, row in terms]
        else:
            weights = weights[::-1, ::-1]
    else:
        before = (kh // 2, kw // 2)
    height, width = image.shape[:2]
    if factored:
        terms, before = _fold_terms(terms, before, (height, width), mode)
        kh, kw = len(terms[0][0]), len(terms[0][1])
    rows = index_map(height, before[0], kh - 1 - before[0], mode)
    columns = index_map(width, before[1], kw - 1 - before[1], mode)
    # BLAS runs on one thread throughout: the bands are our threads; a product BLAS
    # split over its own threads could round differently with their number; and BLAS
    # threads, once woken (even by the small SVD that analyses the kernel), spin for a
    # while after each call and take cores from the bands.
    with _blas_controller().limit(limits=1, user_api="blas"):
        if factored:
            method = _factored_method(method, terms, before, mode, (height, width), kernel.shape)
            blur = all(column.min() >= 0 and row.min() >= 0 for column, row in terms) and kernel.sum() <= 1 + 1e-9
        else:
            spectral = _Spectral.cost(weights.shape, _even(weights, before), before, mode, (height, width))
            if method == "auto":
                method = _cheapest(weights, spectral)
            blur = weights.min() >= 0 and weights.sum() <= 1 + 1e-9
        plane = image.reshape(height, width, -1)
        result = np.empty(plane.shape, work if output is None else output)
        clip = not _stays_in_range(image.dtype, result.dtype, blur, offset, mode, cval)
        threads = threads or os.cpu_count() or 1
        if method == "fft" and (factored or _fft_cost(weights, spectral)[1]):
            spectral = _Spectral(weights, terms, before, mode, cval, (height, width), work, threads)
            spectral.filter(plane, result, offset, clip, threads)
        else:
            if method == "separable":
                strategy = _Separable(separable_terms(weights) if terms is None else terms, (kh, kw), work)
            else:
                strategy = _STRATEGIES[method](weights, work)
            _filter_bands(plane, strategy, (rows, columns), before[1], cval, offset, work, result, clip, threads)
    return result.reshape(image.shape)


def _fold_terms(terms, before, shape, mode):
    """``terms`` with each factor folded along its axis of the image (`_fold`), and the
    new number of taps before the anchor along each axis."""
    columns, top = _fold([column for column, _ in terms], before[0], shape[0], mode)
    rows, left = _fold([row for _, row in terms], before[1], shape[1], mode)
    return list(zip(columns, rows)), (top, left)


def _fold(factors, before, n, mode):
    """Factors along an axis of ``n`` samples, ``before`` taps of each ahead of the
    anchor, folded so that each tap lands on the offset nearest the anchor that reaches
    the same sample for every output; and the new ``before``.

    This is exact, and keeps a factor from reaching further than about the image: the
    extension repeats with period 2n in ``reflect``, 2n - 2 in ``mirror`` (1 for a single
    sample) and n in ``wrap``, so taps a period apart meet the same sample, and each goes
    to its offset within half a period of the anchor (at exactly half, the one on its
    own side, so that symmetric factors stay symmetric). In ``nearest`` every offset of
    n - 1 or more reaches the last sample from every output, and in ``constant`` every
    offset of n or more lies beyond the edge; so for their negatives at the other edge:
    each tail is lumped onto its first offset. Factors within reach stay as they are.
    """
    offsets = np.arange(len(factors[0])) - before
    if mode in ("nearest", "constant"):
        reach = n - 1 if mode == "nearest" else n
        folded = np.clip(offsets, -reach, reach)
    else:
        period = {"reflect": 2 * n, "mirror": max(2 * n - 2, 1), "wrap": n}[mode]
        reach = period // 2
        folded = np.mod(offsets, period)
        folded[folded > period / 2] -= period
        folded[(2 * folded == period) & (offsets < 0)] -= period
    if -offsets[0] <= reach and offsets[-1] <= reach:
        return factors, before
    # Summed nearest taps first on both sides alike, so that the taps folded onto -t
    # and onto t add up in the same order: a symmetric factor stays exactly symmetric,
    # which the FFT on whole channels needs.
    order = np.argsort(np.abs(offsets), kind="stable")
    low, length = folded.min(), folded.max() - folded.min() + 1
    bins = folded[order] - low
    return [np.bincount(bins, weights=factor[order], minlength=length) for factor in factors], -int(low)


def _factored_method(method, terms, before, mode, shape, size):
    """The strategy for a kernel filtered from its factors (``terms``, folded for an image
    of ``shape``; ``size`` is the kernel's own). ``direct`` and FFT bands need the dense
    kernel, so only ``separable`` and the FFT on whole channels, where it applies, can
    run: ``auto`` takes the cheaper, an explicit ``method`` that cannot run is an error."""
    kh, kw = len(terms[0][0]), len(terms[0][1])
    term, planes = _separable_term_cost(kh, kw)
    costs = {"separable": len(terms) * term + planes}
    even = all(_even(column[:, None], (before[0], 0)) and _even(row[None, :], (0, before[1])) for column, row in terms)
    spectral = _Spectral.cost((kh, kw), even, before, mode, shape)
    if spectral is not None:
        costs["fft"] = spectral
    if method == "auto":
        return min(costs, key=costs.get)
    if method == "direct":
        raise KernelError(f"method 'direct' needs the kernel as one dense array, at most "
                          f"{_size((MAX_KERNEL_SIZE,) * 2)}, and this one is {_size(size)}; use auto or separable")
    if method not in costs:
        raise KernelError(f"method 'fft' can filter a {_size(size)} kernel only on whole channels, which needs it "
                          f"symmetric about its anchor (outside wrap mode) and, in wrap mode, image sides with no "
                          f"prime factor above 11; use auto or separable")
    return method


def _filter_bands(plane, strategy, index_maps, left, cval, offset, work, result, clip, threads):
    """Filter ``plane`` (H, W, C) into ``result`` one band of rows at a time, in ``work``
    precision; ``index_maps`` extend the rows and columns, ``left`` columns before the image."""
    rows, columns = index_maps
    height = plane.shape[0]
    kh = len(rows) - height + 1
    band = strategy.band_height

    def filter_band(top):
        bottom = min(top + band, height)
        extended = _extend(plane, rows[top : bottom + kh - 1], columns, left, cval, work, strategy.planar)
        values = strategy(extended)
        target = result[top:bottom]
        # Planar strategies give a plane per channel, and each goes out on its own:
        # much faster than one pass that strides through the values or the target.
        pairs = zip(values, np.moveaxis(target, 2, 0)) if strategy.planar else [(values, target)]
        for source, destination in pairs:
            if offset:
                source += work.type(offset)
            to_dtype(source, result.dtype, out=destination, clip=clip)

    tops = range(0, height, band)
    if isinstance(strategy, _FFT) and len(tops) < 2 * threads:
        # Run few large bands one after another, each transform on every thread:
        # bands at once would leave threads idle while the last ones finish.
        strategy.workers, threads = threads, 1
    _run_bands(filter_band, tops, threads)


@functools.cache
def _blas_controller():
    """threadpoolctl's view of the loaded BLAS libraries, NumPy's among them. Taken once:
    `threadpoolctl.threadpool_limits` looks for them afresh on every call, which costs
    a quarter of a millisecond per image."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _stays_in_range(source, target, blur, offset, mode, cval):
    """Whether every filtered sample is sure to fit the integer ``target`` type unclipped.

    ``blur`` says the weights are non-negative and sum to at most 1. Those make each
    output a weighted mean of inputs and 0, so it stays within the input type's range;
    float32 rounding can overshoot by far less than the 0.5 that rounding to an integer
    absorbs, as long as the type has at most 16 bits.
    """
    if target.kind not in "iu" or source.kind not in "iub" or target.itemsize > 2 or offset:
        return False
    if source.kind != "b":
        low, high = np.iinfo(source).min, np.iinfo(source).max
        if low < np.iinfo(target).min or high > np.iinfo(target).max:
            return False
    if mode == "constant" and not np.iinfo(target).min <= cval <= np.iinfo(target).max:
        return False
    return bool(blur)


def _check_reach(image, magnitude, offset, cval, work):
    """Refuse, before filtering, a kernel whose results could overflow the ``work`` type:
    no result exceeds the sum of the weights' magnitudes times the largest sample
    (the type's, for integers; the image's own, for floats), plus the offset."""
    if not (math.isfinite(offset) and math.isfinite(cval)):
        raise InvalidInputError(f"the offset and cval must be finite, got {offset} and {cval}")
    if image.dtype.kind in "iu":
        peak = max(-int(np.iinfo(image.dtype).min), int(np.iinfo(image.dtype).max))
    else:
        peak = float(np.max(np.abs(image))) if image.dtype.kind == "f" else 1.0
    reach = float(magnitude) * max(peak, abs(cval)) + abs(offset)
    if reach > np.finfo(work).max:
        raise KernelError(f"the kernel's weights (magnitudes summing to {float(magnitude):.3g}) on samples up to "
                          f"{max(peak, abs(cval)):.6g} could give {reach:.3g}, beyond the {np.finfo(work).max:.3g} "
                          f"that {work} holds")


def _check_image(image):
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise InvalidInputError(f"image must be 2-D (H, W) or 3-D (H, W, C), got shape {image.shape}")
    if image.dtype.kind not in "biuf":
        raise InvalidInputError(f"image must hold real numbers, got dtype {image.dtype}")
    if image.size == 0:
        raise InvalidInputError(f"image is empty (shape {image.shape})")
    return image


def _extend(plane, rows, columns, left, cval, dtype, planar=False, out=None):
    """The rows and columns of ``plane`` that two index maps select, as ``dtype``.

    The columns of the image itself are one slice (the index map is the identity
    there), so only the few extension columns need fancy indexing; -1 marks positions
    beyond the edge in constant mode, which get ``cval``. The result has the shape
    (rows, columns, channels); ``planar`` stores it channel by channel in memory, so
    that ``result.transpose(2, 0, 1)`` is contiguous. ``out``, if given, receives it.
    """
    width = plane.shape[1]
    if rows[0] >= 0 and np.array_equal(rows, np.arange(rows[0], rows[0] + len(rows))):
        source = plane[rows[0] : rows[0] + len(rows)]  # a view: no copy for inner bands
    else:
        source = plane[np.maximum(rows, 0)]
    if out is not None:
        extended = out
    elif planar:
        extended = np.empty((plane.shape[2], len(rows), len(columns)), dtype).transpose(1, 2, 0)
    else:
        extended = np.empty((len(rows), len(columns), plane.shape[2]), dtype)
    right = left + width
    extended[:, left:right] = source
    if left:
        extended[:, :left] = source[:, np.maximum(columns[:left], 0)]
    if right < len(columns):
        extended[:, right:] = source[:, np.maximum(columns[right:], 0)]
    if rows.min() < 0 or columns.min() < 0:
        extended[rows < 0] = cval
        extended[:, columns < 0] = cval
    return extended


def _run_bands(filter_band, tops, threads):
    if threads == 1 or len(tops) == 1:
        for top in tops:
            filter_band(top)
    else:
        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(filter_band, tops):
                pass


def _significant(singular_values, shape):
    """Singular values above the numerical rank threshold, as ``numpy.linalg.matrix_rank``
    defines it; those below are float64 rounding noise."""
    return singular_values > singular_values[0] * max(shape) * np.finfo(np.float64).eps


def separable_terms(weights):
    """The kernel as a sum of outer products ``column ⊗ row``, one per singular value.

    A rank-one kernel is factored from its own entries instead, through its largest
    one, so that kernels of small integers (Sobel, box) get exact taps and results.
    """
    u, s, vt = np.linalg.svd(weights)
    keep = _significant(s, weights.shape)
    if np.count_nonzero(keep) == 1:
        return [_factor(weights)]
    return [(u[:, r] * s[r], vt[r]) for r in range(len(s)) if keep[r]]


def _factor(weights):
    """``(column, row)`` whose outer product is ``weights`` if it has rank one: the
    column and row through the largest entry, the column divided by that entry."""
    i, j = np.unravel_index(np.argmax(np.abs(weights)), weights.shape)
    return weights[:, j] / (weights[i, j] or 1.0), weights[i, :].copy()  # a zero kernel: zeros


def _toeplitz(taps, outputs, dtype):
    """The (outputs, outputs + len(taps) - 1) matrix whose product correlates with taps."""
    matrix = np.zeros((outputs, outputs + len(taps) - 1), dtype)
    diagonal = np.arange(outputs)
    for i, tap in enumerate(taps):
        matrix[diagonal, diagonal + i] = tap
    return matrix


class _Direct:
    """``direct``: one multiply-add of a shifted view of the band per non-zero weight."""

    band_height = 32
    planar = False

    def __init__(self, weights, dtype):
        self.shape = weights.shape
        self.taps = [(i, j, dtype.type(w)) for (i, j), w in np.ndenumerate(weights) if w]

    def __call__(self, extended):
        kh, kw = self.shape
        height, width = extended.shape[0] - kh + 1, extended.shape[1] - kw + 1
        out = np.zeros((height, width, extended.shape[2]), extended.dtype)
        product = np.empty_like(out)
        for i, j, weight in self.taps:
            np.multiply(extended[i : i + height, j : j + width], weight, out=product)
            out += product
        return out


class _Separable:
    """``separable``: per outer product of the kernel, a column pass, then a row pass.

    Short rows run with the channels interleaved as they are in the image. Long rows
    run on planes, one channel after another: then every pass is a plain matrix
    product along contiguous rows, and no pass multiplies the zeros of a Kronecker
    matrix or needs a transposition.
    """

    def __init__(self, terms, shape, dtype):
        """``terms``: the kernel's outer products (`separable_terms` of a dense kernel, or
        a `SeparableKernel`'s own, with no SVD); ``shape``: the kernel's."""
        self.dtype = dtype
        self.shape = shape
        self.terms = [(column.astype(dtype), row.astype(dtype)) for column, row in terms]
        kh, kw = self.shape
        self.planar = kw > SHORT_ROW
        # Taller bands amortise the kh - 1 rows gathered beyond them, but should stay
        # in cache.
        self.band_height = 48 if kh <= SHORT_COLUMN else max(64, kh)
        self._matrices = {}

    def _matrix(self, key, build):
        # Filled lazily from several threads; a race builds the same matrix twice.
        if key not in self._matrices:
            self._matrices[key] = build()
        return self._matrices[key]

    def __call__(self, extended):
        kh, kw = self.shape
        rows, columns, channels = extended.shape
        height, width = rows - kh + 1, columns - kw + 1
        # A stack of matrices whose rows are the image's rows: one per channel, or one
        # with the channels interleaved.
        if self.planar:
            stack = extended.transpose(2, 0, 1)
        else:
            stack = extended.reshape(1, rows, columns * channels)
        out = None
        for index, (column, row) in enumerate(self.terms):
            vertical = self._column_pass(index, stack, column, height)
            if self.planar:
                term = self._planar_row_pass(index, vertical, row, width)
            else:
                term = self._interleaved_row_pass(index, vertical.reshape(height, columns, channels), row, width)
            out = term if out is None else np.add(out, term, out=out)
        if out is None:  # every term was negligible: a zero kernel
            return np.zeros((channels, height, width) if self.planar else (height, width, channels), extended.dtype)
        return out

    def _column_pass(self, index, stack, taps, height):
        """Correlate the rows of each matrix of ``stack`` with ``taps``."""
        if len(taps) <= SHORT_COLUMN:
            # Output row y is the weighted sum of rows y ... y + kh - 1: a vector times a
            # strided view of those rows, batched over y. No zeros are multiplied.
            depth, rows, length = stack.shape
            windows = as_strided(stack, shape=(depth, height, len(taps), length),
                                 strides=(stack.strides[0], stack.strides[1], stack.strides[1], stack.strides[2]),
                                 writeable=False)
            return np.matmul(taps, windows)
        # Long columns: products with banded (Toeplitz) blocks are faster.
        out = np.empty((stack.shape[0], height, stack.shape[2]), stack.dtype)
        for start in range(0, height, COLUMN_BLOCK):
            size = min(COLUMN_BLOCK, height - start)
            block = self._matrix(("column", index, size), lambda: _toeplitz(taps, size, self.dtype))
            np.matmul(block, stack[:, start : start + size + len(taps) - 1], out=out[:, start : start + size])
        return out

    def _planar_row_pass(self, index, planes, taps, width):
        """Correlate the rows of each plane with ``taps``: each block of output columns
        is the product of a slice of the planes' rows and a Toeplitz block."""
        depth, height, columns = planes.shape
        rows = planes.reshape(depth * height, columns)
        out = np.empty((depth, height, width), planes.dtype)
        out_rows = out.reshape(depth * height, width)
        for start in range(0, width, ROW_BLOCK):
            size = min(ROW_BLOCK, width - start)
            # Row blocks multiply from the right, so they are kept transposed.
            block = self._matrix(("row", index, size), lambda: _toeplitz(taps, size, self.dtype).T.copy())
            np.matmul(rows[:, start : start + size + len(taps) - 1], block, out=out_rows[:, start : start + size])
        return out

    def _interleaved_row_pass(self, index, values, taps, width):
        """Short rows, channels left interleaved: each run of a few output pixels is one
        small matrix product with ``kron(toeplitz, identity(channels))``.

        The windows overlap, so they are a strided view of the band, not a copy, and one
        ``np.matmul`` call runs the products for every window of every row.
        """
        height, columns, channels = values.shape
        rows = values.reshape(height, columns * channels)
        out = np.empty((height, width, channels), values.dtype)
        out_rows = out.reshape(height, width * channels)
        item = values.itemsize
        pixels = _pixel_block(channels)
        blocks, rest = divmod(width, pixels)
        # (number of windows, first output pixel, pixels per window): the full blocks,
        # then what is left over.
        for count, first, size in ((blocks, 0, pixels), (int(rest > 0), blocks * pixels, rest)):
            if not count:
                continue
            matrix = self._matrix(("kron", index, size, channels), lambda: np.kron(
                _toeplitz(taps, size, self.dtype).T, np.eye(channels, dtype=self.dtype)))
            inputs, outputs = matrix.shape
            offset = first * channels
            # as_strided does no bounds checking: the last window must end inside the row.
            assert offset + (count - 1) * outputs + inputs <= rows.shape[1]
            assert offset + count * outputs <= out_rows.shape[1]
            windows = as_strided(rows[:, offset:], shape=(count, height, inputs),
                                 strides=(outputs * item, rows.strides[0], item), writeable=False)
            targets = as_strided(out_rows[:, offset:], shape=(count, height, outputs),
                                 strides=(outputs * item, out_rows.strides[0], item))
            np.matmul(windows, matrix, out=targets)
        return out


class _FFT:
    """``fft``: each band convolved through ``scipy.fft``, kernel spectra cached per size.

    Bands are gathered as planes, so that every transform runs along contiguous rows.
    """

    planar = True
    workers = 1  # threads per transform (scipy.fft's own)

    def __init__(self, weights, dtype):
        import scipy.fft  # only here: importing scipy costs start-up time

        self.fft = scipy.fft
        self.flipped = weights[::-1, ::-1].astype(dtype)
        kh = weights.shape[0]
        # Each band re-reads kh - 1 rows; bands of a few times that keep the waste low.
        self.band_height = max(128, 3 * kh)
        self._spectra = {}

    def __call__(self, extended):
        """The band's planes, each transformed only when the one before has been taken."""
        kh, kw = self.flipped.shape
        rows, columns, _ = extended.shape
        # Circular convolution over a size >= the band wraps only into the first
        # kh - 1 rows and kw - 1 columns, which are exactly the ones thrown away.
        shape = (self.fft.next_fast_len(rows, real=True), self.fft.next_fast_len(columns, real=True))
        if shape not in self._spectra:
            self._spectra[shape] = self.fft.rfft2(self.flipped, s=shape, workers=self.workers)
        for plane in extended.transpose(2, 0, 1):
            spectrum = self.fft.rfft2(plane, s=shape, workers=self.workers)
            spectrum *= self._spectra[shape]
            yield self.fft.irfft2(spectrum, s=shape, workers=self.workers)[kh - 1 : rows, kw - 1 : columns]


class _Spectral:
    """``fft`` on whole channels, with no bands: two transforms per channel, whatever
    the kernel's size.

    ``wrap`` extends the image periodically, so a discrete Fourier transform of the
    image's own size convolves it exactly with any kernel. ``reflect`` extends it into
    an even signal of period 2n, whose cosine transform is the DCT-II of the image
    itself: for a kernel symmetric about its anchor along both axes, filtering is a
    product with the kernel's cosine transform, and kernels reaching many times across
    the image (repeated reflections) fold onto one period. Other modes take the DCT-II
    of a frame that holds the image and the kernel's reach on both sides, extended by
    the mode: the DCT's reflections beyond the frame reach no sample that is kept (see
    `_frames`). Each transform runs on every thread (``workers``), which computes each
    line the same way whatever their number.
    """

    def __init__(self, weights, terms, before, mode, cval, shape, dtype, workers):
        """The kernel is dense ``weights``, or the outer products ``terms`` (then
        ``weights`` is None)."""
        import scipy.fft  # only here: importing scipy costs start-up time

        self.fft = scipy.fft
        self.dtype = dtype
        self.cval = cval
        self.periodic = mode == "wrap"
        kernel_shape = weights.shape if terms is None else (len(terms[0][0]), len(terms[0][1]))
        frames = _frames(kernel_shape, before, mode, shape)
        # Index maps of each axis into the image, and where the image lies in the frame.
        self.extensions = [index_map(n, lead, length - n - lead, mode) for n, (lead, length) in zip(shape, frames)]
        self.crop = tuple(slice(lead, lead + n) for n, (lead, _) in zip(shape, frames))
        self.shape = tuple(length for _, length in frames)
        if terms is None:
            # A rank-one kernel (a Gaussian, a box) multiplies by the outer product of its
            # column's and row's transforms, which are much quicker to make than a 2-D one.
            column, row = _factor(weights)
            if np.allclose(np.outer(column, row), weights, rtol=0, atol=1e-13 * np.abs(weights).max()):
                terms = [(column, row)]
        if terms is None:
            self.multipliers = [self._spectrum(weights, (0, 1), before, workers)]
        else:
            spectra = [(self._spectrum(column[:, None], (0,), before, workers),
                        self._spectrum(row[None, :], (1,), before, workers)) for column, row in terms]
            # One term multiplies by each factor's spectrum in turn, with no array the
            # size of the image; more are summed into one.
            self.multipliers = list(spectra[0]) if len(spectra) == 1 else [sum(c * r for c, r in spectra)]

    def _spectrum(self, weights, axes, before, workers):
        """The transform of ``weights`` along ``axes`` that filtering multiplies by.

        Along each axis: the period sums of the weights, flipped (correlation is
        convolution with the flipped kernel; offset j from the anchor lands on -j mod
        period), then the transform: for the DCT-II's even period 2n, the DCT-I of the
        sums from 0 to n, which weighs each by the cosine of its offset. For the DCT,
        axis 0 goes first, while the array is as narrow as the kernel, so that the long
        transforms run along contiguous rows. For wrap, axis 1 goes first, as in the
        image's transform: it is real, and only half of its spectrum is kept.
        """
        for axis in sorted(axes, reverse=self.periodic):
            n, reach = self.shape[axis], before[axis]
            period, kept = (n, n) if self.periodic else (2 * n, n + 1)
            weights = _period_sum(np.flip(weights, axis), reach + 1 - weights.shape[axis], period, kept, axis)
            if not self.periodic:
                weights = self.fft.dct(weights, type=1, axis=axis, workers=workers)[_cut(axis, 0, n)]
            elif axis == 1:
                weights = self.fft.rfft(weights, axis=1, workers=workers)
            else:
                weights = self.fft.fft(weights, axis=0, workers=workers)
        return weights.astype(np.result_type(self.dtype, np.complex64) if self.periodic else self.dtype)

    @staticmethod
    def cost(kernel_shape, even, before, mode, shape=None):
        """Estimated nanoseconds per output sample for an image of ``shape`` (height,
        width; None: one whose frame is its own size), or None if this path cannot
        filter with this kernel in this mode. ``even``: the kernel is symmetric about
        its anchor along each axis (see `_even`), which the DCT needs outside ``wrap``."""
        if mode != "wrap" and not even:
            return None
        ns = _NS_SPECTRAL_WRAP if mode == "wrap" else _NS_SPECTRAL
        if shape is None:
            return ns
        frames = _frames(kernel_shape, before, mode, shape)
        if None in frames:
            return None
        area = np.prod([length for _, length in frames]) / np.prod(shape)
        return ns * area * (_FRAMED if area > 1 else 1.0)

    def _transform(self, values, inverse, workers):
        if self.periodic:
            if inverse:
                return self.fft.irfft2(values, s=self.shape, workers=workers, overwrite_x=True)
            return self.fft.rfft2(values, workers=workers, overwrite_x=True)
        function = self.fft.idctn if inverse else self.fft.dctn
        return function(values, type=2, workers=workers, overwrite_x=True)

    def filter(self, plane, result, offset, clip, threads):
        """Filter ``plane`` (H, W, C) into ``result`` channel by channel."""
        (rows, columns), left = self.extensions, self.crop[1].start
        values = np.empty(self.shape + (1,), self.dtype)
        # Gathering a channel and writing it back are elementwise, so row chunks of
        # them run on the threads too.
        frame_step, step = (-(-n // threads) for n in (self.shape[0], plane.shape[0]))
        for channel in range(plane.shape[2]):
            _run_bands(lambda top: _extend(plane[:, :, channel : channel + 1], rows[top : top + frame_step],
                                           columns, left, self.cval, self.dtype,
                                           out=values[top : top + frame_step]),
                       range(0, self.shape[0], frame_step), threads)
            spectrum = self._transform(values[:, :, 0], False, threads)
            for multiplier in self.multipliers:
                spectrum *= multiplier
            filtered = self._transform(spectrum, True, threads)[self.crop]
            if offset:
                filtered += self.dtype.type(offset)
            _run_bands(lambda top: to_dtype(filtered[top : top + step], result.dtype,
                                            out=result[top : top + step, :, channel], clip=clip),
                       range(0, plane.shape[0], step), threads)


def _frames(kernel_shape, before, mode, shape):
    """Per axis, where the image starts in the array that is transformed (its frame)
    and the frame's length; None for an axis that cannot be framed.

    In reflect mode the frame is the image, whose DCT-II builds in the extension; so is
    the period in wrap mode. Other modes' frames hold the kernel's reach on both sides
    of the image, so that no kept sample meets the DCT's reflections. Frame lengths
    with a prime factor above 11 are lengthened to one without (pocketfft transforms
    those several times slower); a reflect frame then runs on past the image's far end
    as far as the kernel reaches, while a wrap period cannot be lengthened.
    """
    frames = []
    for n, k, b in zip(shape, kernel_shape, before):
        if mode == "wrap":
            frames.append((0, n) if _smooth(n) else None)
            continue
        if mode == "reflect":
            lead, length = 0, n if _smooth(n) else max(n + k - 1 - b, b)
        else:
            lead, length = b, n + k - 1
        while not _smooth(length):
            length += 1
        frames.append((lead, length))
    return frames


def _even(weights, before):
    """Whether ``weights`` are symmetric about the anchor along both axes: padded with
    zeros to reach as far on both sides, they equal their mirror images."""
    reach = [max(b, n - 1 - b) for b, n in zip(before, weights.shape)]
    padded = np.pad(weights, [(r - b, r - (n - 1 - b)) for r, b, n in zip(reach, before, weights.shape)])
    return np.array_equal(padded, padded[::-1]) and np.array_equal(padded, padded[:, ::-1])


def _smooth(n):
    """Whether ``n`` has no prime factor above 11."""
    for p in (2, 3, 5, 7, 11):
        while n > 1 and n % p == 0:
            n //= p
    return n == 1


def _period_sum(weights, first, period, kept, axis):
    """Entry p < ``kept`` of the result sums the ``weights`` at j ≡ p (mod ``period``)
    along ``axis``, where index 0 is j = ``first``."""
    shape = list(weights.shape)
    length, shape[axis] = shape[axis], kept
    out = np.zeros(shape, np.result_type(weights, np.float64))
    index = 0
    while index < length:  # a run of consecutive indices per period
        p = (first + index) % period
        count = min(period - p, length - index)
        stop = min(p + count, kept)
        if stop > p:
            out[_cut(axis, p, stop)] += weights[_cut(axis, index, index + stop - p)]
        index += count
    return out


def _cut(axis, start, stop):
    """The index of entries ``start:stop`` along ``axis``."""
    return (slice(None),) * axis + (slice(start, stop),)


# A strategy is built from the weights (or terms) and the working dtype and has a band_height. Called
# with a band extended by the kernel's reach, (rows, columns, channels), it returns the
# filtered band, (height, width, channels); a planar one (gathered as planes) returns a
# (height, width) plane per channel instead.
_STRATEGIES = {"direct": _Direct, "fft": _FFT}  # _Separable takes the kernel's terms

# Rough nanoseconds per output sample, measured on the project's machine: a shifted
# multiply-add, a BLAS matrix multiply-add, a batched vector tap, gathering a band into
# planes and writing it back interleaved, an FFT band, which grows slowly with the
# kernel's height (bands re-read kh - 1 rows, and their transforms get longer), and
# the FFT on whole channels (DCT; real FFT in wrap mode), which does not.
_NS_PER_TAP = 0.19
_NS_PER_BLAS_MAC = 0.035
_NS_PER_GEMV_TAP = 0.05
_NS_PLANAR = 0.5
_NS_FFT = 8.5
_NS_FFT_PER_ROW = 0.0545
_NS_SPECTRAL = 12.0
_NS_SPECTRAL_WRAP = 16.0
# A frame larger than the image costs more per sample than its area says: it is
# gathered through index maps, and long transforms run slower (measured: 1.5 times the
# time for 1.19 times the area at r=120 in nearest mode on the 4K photo).
_FRAMED = 1.3


def choose_method(kernel, boundary="reflect", shape=None):
    """The strategy expected to be fastest for correlating an image of ``shape``
    (height, width) with ``kernel`` (an array or a `SeparableKernel`) in this boundary
    mode: the kernel's size, rank and symmetry decide, and the image's size when given
    (the whole-channel FFT is slower for lengths with large prime factors). A separable
    kernel too large to hold densely can only take ``separable`` or ``fft``."""
    mode, _ = resolve_mode(boundary)
    if isinstance(kernel, SeparableKernel) and max(kernel.shape) > MAX_KERNEL_SIZE:
        terms, before = list(kernel.terms), tuple(n // 2 for n in kernel.shape)
        if shape is not None:
            terms, before = _fold_terms(terms, before, shape, mode)
        return _factored_method("auto", terms, before, mode, shape, kernel.shape)
    weights = check_kernel(kernel)
    before = (weights.shape[0] // 2, weights.shape[1] // 2)
    return _cheapest(weights, _Spectral.cost(weights.shape, _even(weights, before), before, mode, shape))


def _fft_cost(weights, spectral):
    """The estimated cost of ``fft``, and whether it takes whole channels (`_Spectral`,
    whose cost is ``spectral``, None where it cannot) rather than bands."""
    banded = _NS_FFT + _NS_FFT_PER_ROW * weights.shape[0]
    if spectral is not None and spectral < banded:
        return spectral, True
    return banded, False


def _separable_term_cost(kh, kw):
    """The estimated cost of one term of ``separable`` for a kh x kw kernel, and that of
    gathering the band into planes and writing them back, paid once whatever the rank."""
    planes = 0.0
    if kw <= SHORT_ROW:  # interleaved: the Kronecker matrix's zeros are multiplied too (3 channels)
        row_pass = (_pixel_block(3) + kw) * 3 * _NS_PER_BLAS_MAC
    else:
        row_pass = (ROW_BLOCK + kw) * _NS_PER_BLAS_MAC
        planes = _NS_PLANAR
    column_pass = kh * _NS_PER_GEMV_TAP if kh <= SHORT_COLUMN else (COLUMN_BLOCK + kh) * _NS_PER_BLAS_MAC
    return column_pass + row_pass, planes


def _cheapest(weights, spectral):
    """`choose_method`'s choice for dense weights; ``spectral`` as for `_fft_cost`."""
    costs = {"direct": np.count_nonzero(weights) * _NS_PER_TAP, "fft": _fft_cost(weights, spectral)[0]}
    term, planes = _separable_term_cost(*weights.shape)
    # The SVD takes a noticeable time for large kernels (0.13 s at 1001x1001): skip it
    # when even a single term would lose.
    if term + planes < min(costs.values()):
        rank = np.count_nonzero(_significant(np.linalg.svd(weights, compute_uv=False), weights.shape))
        costs["separable"] = rank * term + planes
    return min(costs, key=costs.get)
