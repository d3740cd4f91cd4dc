"""The convolution engine: the public calls, their validation, and the plan of a call.

The image is filtered one band of rows at a time (`imgconv.engine.bands`). Each band is
gathered from the image together with the rows and columns the kernel reaches beyond
it, extended with the boundary mode (`imgconv.boundary.index_map`) and converted to
float32 (float64 for float64 images); a strategy then filters it with no further
boundary logic ("valid" filtering), and the result is rounded and clipped straight into
the output when the caller asks for an integer type. So no full-size float copy of an
8-bit image is ever made (the FFT on whole channels holds one channel at a time), the
working set stays in the CPU cache, and bands run on a thread pool (NumPy, BLAS and
scipy.fft release the GIL), with bit-identical results for any number of threads.

Strategies, one module each, each with its own cost estimate (`imgconv.engine.cost`):

- ``integer`` (`integer`): exact sums in 16-bit integers, for 8-bit images and kernels
  of small integers times one scale (Sobel, boxes, sharpen...); its bands are gathered
  as 16-bit integers, not floats.
- ``direct``, in one of two forms, whichever is expected to be quicker: shifted views
  (`direct`), one multiply-add of a shifted view per non-zero weight, for kernels of
  few weights; or kernel columns (`kernel_columns`), every column of a kernel up to 9
  wide as a column pass, all in one BLAS product, then summed at their shifts.
- ``separable`` (`separable`): the kernel as a sum of outer products ``column ⊗ row``,
  a column pass and a row pass per term, BLAS products throughout.
- ``running-sums`` (`running_sums`): boxes and tents (one outer product of factors of
  one or two runs of equal weights), as cumulative sums along each axis in float64, at
  a cost that does not grow with their size.
- ``fft``, in one of two layouts, whichever is expected to be quicker: bands
  (`banded_fft`), for any kernel held densely, or whole channels
  (`whole_channel_fft`), for kernels symmetric about their anchor along both axes
  (any kernel in ``wrap`` mode), at a cost that hardly depends on the kernel.

``auto`` takes the strategy whose estimate of the time per output sample is smallest
(`choose_method`, `plan`). A `SeparableKernel` larger than a dense kernel may be is
filtered from its factors, each folded onto the image first (`imgconv.engine.taps.fold`),
by ``separable`` or the whole-channel ``fft``; ``direct`` and FFT bands need the dense
kernel.

Kernel anchoring is that of ``scipy.ndimage`` with ``origin=0``: a kernel of size n
along an axis is centred on index ``n // 2``. For correlation, output sample i sees
input samples ``i - n//2 ... i + (n-1) - n//2``; convolution flips the kernel, so for
even sizes the reach is one sample longer after the centre than before it.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ..errors import InvalidInputError, ReachError
from ..vocabulary import METHODS, TRUNCATE, resolve_mode
from . import bands, channels, truncate
from .bands import to_dtype, work_dtype
from .channels import ChannelValues
from .cost import BY_NAME, cheapest
from .norm import Norm
from .options import EngineOptions
from .strategy import Layout, Samples, Strategy
from .taps import Taps, Term, separable_terms
from .weights import (
    MAX_KERNEL_SIZE,
    MAX_RADIUS,
    MAX_SEPARABLE_SIZE,
    Kernel,
    KernelLike,
    SeparableKernel,
    check_kernel,
)

__all__ = ["MAX_KERNEL_SIZE", "MAX_RADIUS", "MAX_SEPARABLE_SIZE", "STRATEGY_NAMES", "EngineOptions", "Kernel",
           "KernelLike", "Layout", "Plan", "SeparableKernel", "check_kernel", "choose_method", "convolve", "correlate",
           "magnitude", "plan", "separable_terms", "to_dtype", "work_dtype"]

# The strategies' own names, which ``method=`` also takes, to force one strategy (an
# error if it cannot run): "integer", "shifted-views", "kernel-columns", "running-sums",
# "banded-fft", "whole-channel-fft", "separable".
STRATEGY_NAMES = tuple(BY_NAME)


@dataclass(frozen=True)
class Plan:
    """How a call filters: the ``strategy``'s name (one of `STRATEGY_NAMES`) and the
    ``layout`` it cuts the image into (`imgconv.engine.bands.Layout`: band height,
    the reach gathered around each band or the whole-channel frame, threads)."""

    strategy: str
    layout: Layout


def correlate(image: ArrayLike, kernel: KernelLike, boundary: str = "reflect", cval: ChannelValues = 0.0,
              method: str = "auto", output: DTypeLike | None = None, threads: int | None = None) -> np.ndarray:
    """Correlate each channel of an image with a 2-D kernel.

    Output sample (y, x) is ``sum(kernel[i, j] * image[y + i - kh//2, x + j - kw//2])``:
    the kernel lies over the image as it is written. Equal to
    ``scipy.ndimage.correlate(image, kernel, mode=boundary, cval=cval)`` per channel.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
        Any real numeric dtype. Channels are filtered independently.
    kernel : array_like, shape (kh, kw), or Kernel; or one per channel
        Finite weights, any size up to 1025x1025, odd or even. A `Kernel`'s offset is
        added to the result. One kernel per channel, as a NumPy array (kh, kw, C) or a
        list of C kernels, filters channel c with kernel c (`imgconv.engine.channels`).
    boundary : str
        ``reflect`` (default), ``mirror``, ``nearest``, ``wrap`` or ``constant``, or one
        of their aliases (see `imgconv.boundary`); or ``truncate``, the weighted mean
        over the part of the kernel inside the image (`imgconv.engine.truncate`).
    cval : float or sequence of C floats
        The value beyond the edges in ``constant`` mode, in the image's units; C values
        give channel c value c.
    method : {"auto", "direct", "separable", "fft", "running-sums"} or a name in `STRATEGY_NAMES`
        The strategy (see the module docstring); all give the same result to within
        float rounding. ``auto`` picks the one expected to be fastest, ``fft`` the
        quicker of its two layouts, ``direct`` of its two forms; a strategy's own name
        (``banded-fft``, ``kernel-columns``...) forces it, and is refused where it
        cannot run.
    output : numpy dtype, optional
        The result's type. Integer types get results rounded to nearest and clipped to
        their range, band by band, with no full-size float copy.
    threads : int, optional
        Bands filtered at once; default all CPUs. The result does not depend on it.

    Returns
    -------
    numpy.ndarray
        The image's shape; of type ``output``, else `work_dtype`'s: float64 for a
        float64 image or one of integers of more than 16 bits, float32 otherwise.

    Examples
    --------
    Python's integers make an int64 image, filtered in float64:

    >>> correlate([[0, 0, 0], [0, 1, 0], [0, 0, 0]], [[1, 2, 3]], boundary="constant")
    array([[0., 0., 0.],
           [3., 2., 1.],
           [0., 0., 0.]])
    """
    return _filter(image, [kernel], boundary, cval, method, False, output, threads)


def convolve(image: ArrayLike, kernel: KernelLike, boundary: str = "reflect", cval: ChannelValues = 0.0,
             method: str = "auto", output: DTypeLike | None = None, threads: int | None = None) -> np.ndarray:
    """Convolve each channel of an image with a 2-D kernel (the kernel is flipped).

    Output sample (y, x) is ``sum(kernel[i, j] * image[y - i + kh//2, x - j + kw//2])``.
    Equal to ``scipy.ndimage.convolve(image, kernel, mode=boundary, cval=cval)`` per
    channel. Parameters and result are those of `correlate`.

    Examples
    --------
    >>> convolve([[0, 0, 0], [0, 1, 0], [0, 0, 0]], [[1, 2, 3]], boundary="constant")
    array([[0., 0., 0.],
           [1., 2., 3.],
           [0., 0., 0.]])
    """
    return _filter(image, [kernel], boundary, cval, method, True, output, threads)


def plan(image_shape: Sequence[int], kernel: KernelLike, boundary: str = "reflect", method: str = "auto",
         convolution: bool = False, threads: int | None = None, dtype: DTypeLike = np.float32, cval: float = 0.0
         ) -> Plan:
    """The strategy and layout `correlate` (or, with ``convolution``, `convolve`) takes
    for an image of ``image_shape`` (H, W or H, W, C) and ``dtype``: what
    `choose_method` picks, and how the image is cut for it, without filtering anything.
    The calls filter exactly as planned; the same errors as theirs for an invalid
    kernel, mode or method."""
    weights, terms = _kernel_parts(kernel)
    mode, cval = resolve_mode(boundary, cval)
    _check_method(method)
    shape = (image_shape[0], image_shape[1])
    samples = np.dtype(dtype)
    with bands.blas_on_one_thread():
        _, strategy = _strategy(kernel, weights, terms, convolution, mode, shape, method, work_dtype(samples),
                                Samples(samples, cval))
    return Plan(strategy.name, strategy.layout(shape, bands.thread_count(threads)))


def choose_method(kernel: KernelLike, boundary: str = "reflect", shape: tuple[int, int] | None = None,
                  dtype: DTypeLike | None = None, cval: float = 0.0) -> str:
    """The method expected to be fastest for correlating an image of ``shape`` (height,
    width) with ``kernel`` (an array or a `SeparableKernel`) in this boundary mode: the
    kernel's size, rank and symmetry decide, and the image's size when given (the
    whole-channel FFT is slower for lengths with large prime factors), and its
    ``dtype`` and ``cval`` (``integer`` runs only on 8-bit images, and in constant mode
    only with a whole sample value beyond the edges; None: any type). A separable
    kernel too large to hold densely can only take ``separable`` or ``fft``."""
    weights, terms = _kernel_parts(kernel)
    mode, cval = resolve_mode(boundary, cval)
    taps = _taps(weights, terms, False, mode, shape)
    samples = None if dtype is None else Samples(np.dtype(dtype), cval)
    return cheapest(taps, mode, shape, "auto", _shape(kernel, weights), samples).method


def magnitude(image: ArrayLike, kernels: Sequence[KernelLike], boundary: str = "reflect", cval: ChannelValues = 0.0,
              method: str | Sequence[str] = "auto", output: DTypeLike | None = None, threads: int | None = None,
              convolution: bool = False) -> np.ndarray:
    """The Euclidean norm, sample by sample, of an image's responses to several kernels.

    For a gradient's two derivatives (``kernels=[gx, gy]``) that is
    ``hypot(correlate(image, gx), correlate(image, gy))``; for one kernel, the absolute
    value of its response. Each band is filtered by every kernel and combined before it
    is written, so no full-size response is held (a 4K photo's Sobel magnitude as 8-bit
    needs no 100 MB float arrays). Parameters are those of `correlate` (or, with
    ``convolution``, `convolve`), for each kernel; ``method`` may also be a sequence,
    one method per kernel (`imgconv.stream` fixes each kernel's own, so that blocks equal
    the whole image's ``auto``).

    Examples
    --------
    >>> magnitude([[0, 0, 3], [0, 0, 3], [0, 4, 0]], [[[1, 0, -1]], [[1], [0], [-1]]], boundary="constant")
    array([[0., 3., 3.],
           [0., 5., 3.],
           [4., 0., 5.]])
    """
    if len(kernels) < 1:
        raise InvalidInputError("magnitude needs at least one kernel")
    methods = [method] * len(kernels) if isinstance(method, str) else list(method)
    if len(methods) != len(kernels):
        raise InvalidInputError(f"magnitude got {len(methods)} methods for {len(kernels)} kernels")
    return _filter(image, kernels, boundary, cval, methods, convolution, output, threads, combine=True)


def _filter(image: ArrayLike, kernels: Sequence[KernelLike], boundary: str, cval: ChannelValues,
            methods: str | Sequence[str], flip: bool, output: DTypeLike | None, threads: int | None,
            combine: bool = False) -> np.ndarray:
    """Filter ``image`` with each of ``kernels`` (one, unless ``combine`` asks for the
    norm of several responses), each by its method of ``methods`` (one, or one per
    kernel); channel by channel (`channels.split`) where kernels or cval are per channel."""
    pixels = _check_image(image)
    constant = resolve_mode(boundary, truncate=True)[0] == "constant"
    by_channel = channels.split(pixels, kernels, cval, constant,
                                lambda part, own, value: _filter(part, own, boundary, value, methods, flip, output,
                                                                 threads, combine), output, work_dtype(pixels.dtype))
    if by_channel is not None:
        return by_channel
    mode, cval = resolve_mode(boundary, cast(float, cval), truncate=True)  # one number: else by channel above
    methods = [methods] * len(kernels) if isinstance(methods, str) else methods
    for method in methods:
        _check_method(method)
    if mode == TRUNCATE:
        return truncate.filter_truncated(pixels, kernels, flip, output, combine, lambda kernel, method: _filter(
            pixels, [kernel], "constant", 0.0, method, flip, None, threads), methods)
    work = work_dtype(pixels.dtype)
    shape = pixels.shape[:2]
    parts: list[tuple[Strategy, float, bool]] = []  # (strategy, offset, blur) per kernel
    with bands.blas_on_one_thread():
        for kernel, method in zip(kernels, methods, strict=True):
            offset = kernel.offset if isinstance(kernel, (Kernel, SeparableKernel)) else 0.0
            weights, terms = _kernel_parts(kernel)
            if weights is None:
                reach = float(sum(np.abs(c).sum() * np.abs(r).sum() for c, r in cast(tuple[Term, ...], terms)))
            else:
                reach = np.abs(weights).sum()
            _check_reach(pixels, reach, offset, cval if mode == "constant" else 0.0, work,
                         getattr(kernel, "source", None))
            taps, strategy = _strategy(kernel, weights, terms, flip, mode, shape, method, work,
                                       Samples(pixels.dtype, cval))
            if taps.is_dense:
                blur = bool(taps.weights.min() >= 0 and taps.weights.sum() <= 1 + BLUR_SLACK)
            else:
                blur = (all(c.min() >= 0 and r.min() >= 0 for c, r in taps.terms())
                        and cast(SeparableKernel, kernel).sum() <= 1 + BLUR_SLACK)
            parts.append((strategy, offset, blur))
        threads = bands.thread_count(threads)
        if combine and not Norm.joins([strategy for strategy, _, _ in parts], shape, threads):
            # Strategies that cannot share bands (FFTs, planes): each response whole.
            responses = [_filter(pixels, [kernel], boundary, cval, method, flip, None, threads)
                         for kernel, method in zip(kernels, methods, strict=True)]
            total = np.abs(responses[0])
            for response in responses[1:]:
                np.hypot(total, response, out=total)
            return total if output is None else to_dtype(total, output)
        plane = pixels.reshape(*shape, -1)
        result = np.empty(plane.shape, work if output is None else output)
        if combine:
            strategy = Norm([(strategy, offset) for strategy, offset, _ in parts], shape, threads)
            offset, clip = 0.0, True
        else:
            (strategy, offset, blur), = parts
            clip = not _stays_in_range(pixels.dtype, result.dtype, blur, offset, mode, cval)
        bands.filter_image(plane, strategy, strategy.layout(shape, threads), mode, cval, offset, result, clip,
                           threads)
    return result.reshape(pixels.shape)


# A blur's weights may sum to 1 plus this and still count as summing to at most 1: the
# presets normalise by dividing by a float64 sum, which leaves rounding of about 1e-16
# per weight, so 1e-9 allows for a million weights with room to spare. A judgement; the
# float32 overshoot this lets through is absorbed by rounding (`_stays_in_range`).
BLUR_SLACK = 1e-9


def _kernel_parts(kernel: KernelLike) -> tuple[np.ndarray, None] | tuple[None, tuple[Term, ...]]:
    """``(weights, None)`` for a kernel filtered from its dense weights (validated), or
    ``(None, terms)`` for a `SeparableKernel` too large to hold densely, filtered from
    its factors."""
    if isinstance(kernel, SeparableKernel) and not kernel.fits_densely:
        return None, kernel.terms
    return check_kernel(kernel), None


def _strategy(kernel: KernelLike, weights: np.ndarray | None, terms: Sequence[Term] | None, flip: bool, mode: str,
              shape: tuple[int, int], method: str, dtype: np.dtype[Any], samples: Samples | None
              ) -> tuple[Taps, Strategy]:
    """The `Taps` for an image of ``shape`` and `Samples` ``samples``, and the strategy
    `cheapest` picks for them, built to work in ``dtype``: the one decision `plan`
    reports and the calls follow."""
    taps = _taps(weights, terms, flip, mode, shape)
    chosen = cheapest(taps, mode, shape, method, _shape(kernel, weights), samples)
    return taps, chosen(taps, mode, shape, dtype)


def _taps(weights: np.ndarray | None, terms: Sequence[Term] | None, flip: bool, mode: str,
          shape: tuple[int, int] | None) -> Taps:
    """The kernel as the strategies take it, oriented and, if factored, folded for an
    image of ``shape`` (unless it is None)."""
    if terms is None:
        return Taps.dense(cast(np.ndarray, weights), flip)  # `_kernel_parts` gives one of the two
    return Taps.factored(terms, flip, mode, shape)


def _shape(kernel: KernelLike, weights: np.ndarray | None) -> tuple[int, int]:
    """The kernel's own size (before folding), for messages."""
    return cast(SeparableKernel, kernel).shape if weights is None else (weights.shape[0], weights.shape[1])


def _check_method(method: str) -> None:
    if method not in METHODS and method not in STRATEGY_NAMES:
        raise InvalidInputError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)} "
                                f"(or a strategy: {', '.join(STRATEGY_NAMES)})")


def _stays_in_range(source: np.dtype[Any], target: np.dtype[Any], blur: bool, offset: float, mode: str, cval: float
                    ) -> bool:
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


def _check_reach(image: np.ndarray, magnitude: float, offset: float, cval: float, work: np.dtype[Any],
                 source: str | None = None) -> None:
    """Refuse, before filtering, a kernel whose results could overflow the ``work`` type:
    no result exceeds the sum of the weights' magnitudes times the largest sample
    (the type's, for integers; the image's own, for floats), plus the offset. The
    refusal names the kernel's ``source`` file, if any."""
    if not (math.isfinite(offset) and math.isfinite(cval)):
        raise InvalidInputError(f"the offset and cval must be finite, got {offset} and {cval}")
    peak: float
    if image.dtype.kind in "iu":
        peak = max(-int(np.iinfo(image.dtype).min), int(np.iinfo(image.dtype).max))
    else:
        # The extremes, not np.abs's full-size copy: half the time on a 4K float32 photo.
        peak = max(-float(image.min()), float(image.max())) if image.dtype.kind == "f" else 1.0
    reach = float(magnitude) * max(peak, abs(cval)) + abs(offset)
    if reach > np.finfo(work).max:
        raise ReachError(f"{source + ': ' if source else ''}the kernel's weights (magnitudes summing to "
                         f"{float(magnitude):.3g}) on samples",
                         f" up to {max(peak, abs(cval)):.6g} could give {reach:.3g}, beyond the "
                         f"{np.finfo(work).max:.3g} that {work} holds")


def _check_image(pixels: ArrayLike) -> np.ndarray:
    image = np.asarray(pixels)
    if image.ndim not in (2, 3):
        raise InvalidInputError(f"image must be 2-D (H, W) or 3-D (H, W, C), got shape {image.shape}")
    if image.dtype.kind not in "biuf":
        raise InvalidInputError(f"image must hold real numbers, got dtype {image.dtype}")
    if image.size == 0:
        raise InvalidInputError(f"image is empty (shape {image.shape})")
    return image
