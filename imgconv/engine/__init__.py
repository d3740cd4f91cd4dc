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

Kernel anchoring is that of ``scipy.ndimage``: a kernel of size n along an axis is
centred on index ``n // 2 + origin``. For correlation with ``origin=0``, output sample
i sees input samples ``i - n//2 ... i + (n-1) - n//2``; convolution flips the kernel,
so for even sizes the reach is one sample longer after the centre than before it.
Inputs, outputs, channels and origins are taken as `imgconv.engine.arrays` says.
"""

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ..errors import InvalidInputError
from ..vocabulary import TRUNCATE, resolve_mode
from . import bands, channels, truncate
from .arrays import (
    ChannelAxis,
    OriginLike,
    OutputLike,
    channel_axis_of,
    channels_last,
    check_image,
    check_origin,
    check_output,
    make_output,
    planes,
)
from .bands import to_dtype, work_dtype
from .channels import ChannelValues
from .cost import cheapest
from .hooks import NO_HOOKS, Hooks, filter_whole
from .norm import Norm
from .options import EngineOptions
from .plans import (
    STRATEGY_NAMES,
    Plan,
    check_method,
    kernel_parts,
    kernel_shape,
    part,
    strategy_for,
    taps_for,
)
from .ranges import stays_in_range
from .strategy import Layout, Samples, Strategy
from .taps import separable_terms
from .weights import (
    MAX_KERNEL_SIZE,
    MAX_RADIUS,
    MAX_SEPARABLE_SIZE,
    Kernel,
    KernelLike,
    SeparableKernel,
    check_kernel,
)

__all__ = ["MAX_KERNEL_SIZE", "MAX_RADIUS", "MAX_SEPARABLE_SIZE", "STRATEGY_NAMES", "ChannelAxis", "EngineOptions",
           "Hooks", "Kernel", "KernelLike", "Layout", "OriginLike", "OutputLike", "Plan", "SeparableKernel",
           "check_kernel", "choose_method", "convolve", "correlate", "magnitude", "plan", "separable_terms", "to_dtype",
           "work_dtype"]


def correlate(input: ArrayLike, weights: KernelLike, output: OutputLike = None, mode: str = "reflect",
              cval: ChannelValues = 0.0, origin: OriginLike = 0, *, channel_axis: ChannelAxis = "auto",
              method: str = "auto", threads: int | None = None, hooks: Hooks = NO_HOOKS) -> np.ndarray:
    """Correlate each channel of an image with a 2-D kernel.

    Output sample (y, x) is ``sum(weights[i, j] * input[y + i - kh//2 - oy, x + j - kw//2 - ox])``
    for ``origin`` (oy, ox): the kernel lies over the image as it is written. Equal to
    ``scipy.ndimage.correlate(input, weights, mode=mode, cval=cval, origin=origin)`` on
    each channel.

    Parameters
    ----------
    input : array_like
        (H, W), or 3-D with an axis of channels (see ``channel_axis``); any real numeric
        dtype. Channels are filtered independently.
    weights : array_like, shape (kh, kw), Kernel or SeparableKernel; or one per channel
        Finite weights, any size up to 1025x1025, odd or even (a `SeparableKernel` up to
        200001 a side). A `Kernel`'s offset is added to the result. One kernel per
        channel, as a NumPy array (kh, kw, C) or a list of C kernels, filters channel c
        with kernel c (`imgconv.engine.channels`).
    output : numpy dtype or numpy.ndarray, optional
        The result's type, or an array of the input's shape to write it into (it may be
        the input itself), which is returned. Integer types get results rounded to
        nearest and clipped to their range, band by band, with no full-size float copy
        (``scipy.ndimage`` truncates and wraps around instead). Default: floats, float64
        for a float64 input or one of integers of more than 16 bits, float32 otherwise
        (`work_dtype`), whatever the input's type (``scipy.ndimage`` gives the input's).
    mode : str
        What lies beyond the edges: ``reflect`` (default), ``mirror``, ``nearest``,
        ``wrap`` or ``constant``, as in ``scipy.ndimage``, or one of their aliases (see
        `imgconv.vocabulary`); or ``truncate``, the weighted mean over the part of the
        kernel inside the image (`imgconv.engine.truncate`).
    cval : float or sequence of C floats
        The value beyond the edges in ``constant`` mode, in the input's units; C values
        give channel c value c.
    origin : int or (int, int)
        Moves the kernel's anchor from its centre by (rows, columns), as in
        ``scipy.ndimage`` (see the formula above; `convolve`'s has the signs of its
        flip). For n taps along an axis, ``-(n // 2) <= origin <= (n - 1) // 2``.
    channel_axis : int, None or "auto"
        The axis of a 3-D input that holds the channels, as in scikit-image; None for a
        2-D input. ``auto`` (the default) takes a 2-D input as one image and a 3-D one as
        (H, W, C) when C is at most 4, and refuses other shapes, such as a channel-first
        (3, 64, 64), asking for ``channel_axis`` (see `imgconv.engine.arrays`).
    method : {"auto", "direct", "separable", "fft", "running-sums"} or a name in `STRATEGY_NAMES`
        The strategy (see the module docstring); all give the same result to within
        float rounding. ``auto`` picks the one expected to be fastest, ``fft`` the
        quicker of its two layouts, ``direct`` of its two forms; a strategy's own name
        (``banded-fft``, ``kernel-columns``...) forces it, and is refused where it
        cannot run.
    threads : int, optional
        Bands filtered at once; default all CPUs. The result does not depend on it.
    hooks : Hooks, optional
        Work done on each band around the filter (`imgconv.engine.hooks`): a table
        that decodes the samples, a change made to them as they are gathered, a
        difference below which the input is kept, a factor for each pixel's results,
        an encoder that writes the results.

    Returns
    -------
    numpy.ndarray
        The input's shape and layout, of the type ``output`` gives.

    Examples
    --------
    Python's integers make an int64 image, filtered in float64:

    >>> correlate([[0, 0, 0], [0, 1, 0], [0, 0, 0]], [[1, 2, 3]], mode="constant")
    array([[0., 0., 0.],
           [3., 2., 1.],
           [0., 0., 0.]])
    >>> correlate([[0, 0, 0], [0, 1, 0], [0, 0, 0]], [[1, 2, 3]], mode="constant", origin=(0, 1))
    array([[0., 0., 0.],
           [0., 3., 2.],
           [0., 0., 0.]])

    A channel-first RGB array of flat channels, 10, 100 and 255, rounded and clipped into
    its own type (the first row of each channel shown):

    >>> import numpy as np
    >>> rgb = np.stack([np.full((2, 3), value, np.uint8) for value in (10, 100, 255)])
    >>> correlate(rgb, [[1, 1, 1]], output=np.uint8, mode="constant", channel_axis=0)[:, 0]
    array([[ 20,  30,  20],
           [200, 255, 200],
           [255, 255, 255]], dtype=uint8)
    """
    return _filter(input, [weights], output, mode, cval, method, threads, channel_axis, origin=origin, hooks=hooks)


def convolve(input: ArrayLike, weights: KernelLike, output: OutputLike = None, mode: str = "reflect",
             cval: ChannelValues = 0.0, origin: OriginLike = 0, *, channel_axis: ChannelAxis = "auto",
             method: str = "auto", threads: int | None = None, hooks: Hooks = NO_HOOKS) -> np.ndarray:
    """Convolve each channel of an image with a 2-D kernel (the kernel is flipped).

    Output sample (y, x) is ``sum(weights[i, j] * input[y - i + kh//2 + oy, x - j + kw//2 + ox])``
    for ``origin`` (oy, ox). Equal to ``scipy.ndimage.convolve(input, weights,
    mode=mode, cval=cval, origin=origin)`` on each channel. Parameters and result are
    those of `correlate`.

    Examples
    --------
    >>> convolve([[0, 0, 0], [0, 1, 0], [0, 0, 0]], [[1, 2, 3]], mode="constant")
    array([[0., 0., 0.],
           [1., 2., 3.],
           [0., 0., 0.]])
    """
    return _filter(input, [weights], output, mode, cval, method, threads, channel_axis, flip=True, origin=origin,
                   hooks=hooks)


def plan(image_shape: Sequence[int], kernel: KernelLike, mode: str = "reflect", method: str = "auto",
         convolution: bool = False, threads: int | None = None, dtype: DTypeLike = np.float32, cval: float = 0.0,
         origin: OriginLike = 0) -> Plan:
    """The strategy and layout `correlate` (or, with ``convolution``, `convolve`) takes
    for an image of ``image_shape`` (H, W or H, W, C) and ``dtype``: what
    `choose_method` picks, and how the image is cut for it, without filtering anything.
    The calls filter exactly as planned; the same errors as theirs for an invalid
    kernel, mode, method or origin."""
    weights, terms = kernel_parts(kernel)
    shift = check_origin(origin, kernel_shape(kernel, weights))
    mode, cval = resolve_mode(mode, cval)
    check_method(method)
    shape = (image_shape[0], image_shape[1])
    samples = np.dtype(dtype)
    with bands.blas_on_one_thread():
        _, strategy = strategy_for(kernel, weights, terms, convolution, mode, shape, method, work_dtype(samples),
                                Samples(samples, cval), shift)
    return Plan(strategy.name, strategy.layout(shape, bands.thread_count(threads)))


def choose_method(kernel: KernelLike, mode: str = "reflect", shape: tuple[int, int] | None = None,
                  dtype: DTypeLike | None = None, cval: float = 0.0, origin: OriginLike = 0) -> str:
    """The method expected to be fastest for correlating an image of ``shape`` (height,
    width) with ``kernel`` (an array or a `SeparableKernel`) in this boundary mode: the
    kernel's size, rank and symmetry about its anchor (which ``origin`` moves) decide,
    and the image's size when given (the whole-channel FFT is slower for lengths with
    large prime factors), and its ``dtype`` and ``cval`` (``integer`` runs only on 8-bit
    images, and in constant mode only with a whole sample value beyond the edges; None:
    any type). A separable kernel too large to hold densely can only take
    ``separable`` or ``fft``."""
    weights, terms = kernel_parts(kernel)
    shift = check_origin(origin, kernel_shape(kernel, weights))
    mode, cval = resolve_mode(mode, cval)
    taps = taps_for(weights, terms, False, mode, shape, shift)
    samples = None if dtype is None else Samples(np.dtype(dtype), cval)
    return cheapest(taps, mode, shape, "auto", kernel_shape(kernel, weights), samples).method


def magnitude(input: ArrayLike, kernels: Sequence[KernelLike], output: OutputLike = None, mode: str = "reflect",
              cval: ChannelValues = 0.0, *, channel_axis: ChannelAxis = "auto", method: str | Sequence[str] = "auto",
              threads: int | None = None, convolution: bool = False) -> np.ndarray:
    """The Euclidean norm, sample by sample, of an image's responses to several kernels.

    For a gradient's two derivatives (``kernels=[gx, gy]``) that is
    ``hypot(correlate(input, gx), correlate(input, gy))``; for one kernel, the absolute
    value of its response. Each band is filtered by every kernel and combined before it
    is written, so no full-size response is held (a 4K photo's Sobel magnitude as 8-bit
    needs no 100 MB float arrays). Parameters are those of `correlate` (or, with
    ``convolution``, `convolve`), ``origin`` aside, for each kernel; ``method`` may
    also be a sequence, one method per kernel (`imgconv.stream` fixes each kernel's
    own, so that blocks equal the whole image's ``auto``).

    Examples
    --------
    >>> magnitude([[0, 0, 3], [0, 0, 3], [0, 4, 0]], [[[1, 0, -1]], [[1], [0], [-1]]], mode="constant")
    array([[0., 3., 3.],
           [0., 5., 3.],
           [4., 0., 5.]])
    """
    if len(kernels) < 1:
        raise InvalidInputError("magnitude needs at least one kernel")
    methods = [method] * len(kernels) if isinstance(method, str) else list(method)
    if len(methods) != len(kernels):
        raise InvalidInputError(f"magnitude got {len(methods)} methods for {len(kernels)} kernels")
    return _filter(input, kernels, output, mode, cval, methods, threads, channel_axis, flip=convolution, combine=True)


def _filter(values: ArrayLike, kernels: Sequence[KernelLike], output: OutputLike, mode_name: str,
            cval: ChannelValues, methods: str | Sequence[str], threads: int | None, channel_axis: ChannelAxis, *,
            flip: bool = False, origin: OriginLike = 0, combine: bool = False, hooks: Hooks = NO_HOOKS) -> np.ndarray:
    """Filter ``values`` with each of ``kernels`` (one, unless ``combine`` asks for the
    norm of several responses), each by its method of ``methods`` (one, or one per
    kernel), into ``output``, with ``hooks`` around each band: channel by channel
    (`channels.split`) where kernels or cval are per channel, through `truncate` in
    that mode (the hooks on the whole image), else band by band."""
    image = check_image(values)
    axis = channel_axis_of(image.shape, channel_axis)
    plane = channels_last(image, axis)
    work = work_dtype(image.dtype)
    dtype = check_output(output, image.shape, work)
    constant = resolve_mode(mode_name, truncate=True)[0] == "constant"

    def again(part: np.ndarray, own: Sequence[KernelLike], value: ChannelValues, mode: str = mode_name,
              method: str | Sequence[str] = methods, into: OutputLike = dtype, around: Hooks = hooks) -> np.ndarray:
        return _filter(part, own, into, mode, value, method, threads, -1, flip=flip, origin=origin, combine=combine,
                       hooks=around)

    # Results computed whole go straight into an output array (channels last, as filtered).
    into = channels_last(output, axis) if isinstance(output, np.ndarray) else None
    by_channel = channels.split(plane, kernels, cval, constant, again, dtype, work, out=into)
    if by_channel is not None:
        return cast(np.ndarray, output) if into is not None else _deliver(by_channel, output, image.shape, axis)
    mode, cval = resolve_mode(mode_name, cast(float, cval), truncate=True)  # one number: else by channel above
    methods = [methods] * len(kernels) if isinstance(methods, str) else methods
    for method in methods:
        check_method(method)
    if mode == TRUNCATE:
        shifts = [check_origin(origin, kernel_shape(kernel, kernel_parts(kernel)[0])) for kernel in kernels]

        def truncated(samples: np.ndarray, into_type: np.dtype[Any], out: np.ndarray | None = None) -> np.ndarray:
            return truncate.filter_truncated(samples, kernels, flip, into_type, combine, lambda kernel, method: again(
                samples, [kernel], 0.0, "constant", method, None, NO_HOOKS), methods, shifts, out=out)

        if not hooks.idle:
            total = filter_whole(plane, hooks, work, dtype, lambda samples: truncated(samples, work), to_dtype)
            return _deliver(total, output, image.shape, axis)
        total = truncated(plane, dtype, into)
        return cast(np.ndarray, output) if into is not None else _deliver(total, output, image.shape, axis)
    threads = bands.thread_count(threads)
    with bands.blas_on_one_thread():
        # Hooks give the strategies float samples, and need their results as floats.
        samples = plane.dtype if hooks.idle else work
        parts = [part(plane, kernel, method, flip, mode, cval, origin, work, samples)
                 for kernel, method in zip(kernels, methods, strict=True)]
        result = make_output(output, image.shape, dtype)
        # Bands read rows beyond their own: a result written over its input goes
        # through a copy, as in scipy.ndimage.
        target = np.empty_like(result) if np.may_share_memory(result, image) else result
        for source, into in zip(planes(image, axis), planes(target, axis), strict=True):
            if combine:
                _combine(source, kernels, methods, parts, into, mode, cval, flip, threads)
            else:
                (strategy, offset, blur), = parts
                clip = not stays_in_range(image.dtype, dtype, blur, offset, mode, cval)
                layout = strategy.layout((plane.shape[0], plane.shape[1]), threads)
                bands.filter_image(source, strategy, layout, mode, cval, offset, into, clip, threads, hooks)
    if target is not result:
        np.copyto(result, target)
    return result


def _deliver(values: np.ndarray, output: OutputLike, shape: tuple[int, ...], axis: int | None) -> np.ndarray:
    """A result computed whole, (H, W, C) and of the output's type, in the input's
    ``shape`` and layout: itself where that is its own, else copied into ``output``
    or a new array."""
    if output is None or not isinstance(output, np.ndarray):
        if axis in (None, 2):
            return values.reshape(shape)
    result = make_output(output, shape, values.dtype)
    np.copyto(channels_last(result, axis), values.reshape(*values.shape[:2], -1))
    return result


def _combine(plane: np.ndarray, kernels: Sequence[KernelLike], methods: Sequence[str],
             parts: list[tuple[Strategy, float, bool]], into: np.ndarray, mode: str, cval: float, flip: bool,
             threads: int) -> None:
    """The norm of the kernels' responses (`magnitude`) into ``into`` (H, W, C): band by
    band where the strategies can share bands, else each response whole."""
    shape = (plane.shape[0], plane.shape[1])
    strategies = [strategy for strategy, _, _ in parts]
    if Norm.joins(strategies, shape, threads):
        norm = Norm([(strategy, offset) for strategy, offset, _ in parts], shape, threads)
        bands.filter_image(plane, norm, norm.layout(shape, threads), mode, cval, 0.0, into, True, threads)
        return
    # Strategies that cannot share bands (FFTs, planes): each response whole, one at a
    # time, the norm gathered in ``into`` itself where it holds the work type.
    total: np.ndarray | None = None
    for kernel, method in zip(kernels, methods, strict=True):
        own = into if total is None and into.dtype == work_dtype(plane.dtype) else None
        response = _filter(plane, [kernel], own, mode, cval, method, threads, -1, flip=flip)
        total = np.abs(response, out=response) if total is None else np.hypot(total, response, out=total)
    if total is not into:
        to_dtype(cast(np.ndarray, total), into.dtype, out=into)
