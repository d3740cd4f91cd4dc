"""Filters as the command line applies them to whole pictures, alpha included.

A `Filter` is a record of what to compute on samples (channels independently) and how a
signed result is shown in an image: data only, so that it pickles for worker processes
and a cluster's workers, and a copy with other engine options is `Filter.with_engine`.
`filter_picture` applies one to a `Picture`: colour channels are filtered premultiplied
by alpha and divided back afterwards, so the colour hidden under fully transparent
pixels never bleeds into visible ones; strip by strip where strips give the whole
picture's result (`imgconv.strips`), so that this float work is never image-sized.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import cast

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .engine import (
    ChannelAxis,
    EngineOptions,
    Hooks,
    Kernel,
    KernelLike,
    OutputLike,
    SeparableKernel,
    check_kernel,
    convolve,
    correlate,
    magnitude,
    to_dtype,
    work_dtype,
)
from .engine.hooks import NO_HOOKS
from .errors import ReachError
from .io import pages
from .io.picture import Picture
from .strips import Strips, each_strip, plan_strips

ONE_KERNEL, MAGNITUDE = "kernel", "magnitude"
"""How a `Filter`'s passes combine: one kernel's response, or the Euclidean norm of all
of theirs (a gradient magnitude, `imgconv.engine.magnitude`)."""
LINEAR, LUMINANCE = "linear", "luminance"
"""A `Filter`'s ``light``: what of a picture it filters (see `Filter`)."""
ABSOLUTE, STRETCHED = "absolute", "stretched"
"""A `Filter`'s display steps: the absolute response, or that stretched so that its
maximum becomes the largest sample value."""


@dataclass(frozen=True)
class Filter:
    """A filter ready to run on samples: what it computes, as data.

    Attributes
    ----------
    passes : tuple of (kernel, bool)
        Each kernel handed to the engine (an array, an `imgconv.Kernel` or an
        `imgconv.SeparableKernel`), and whether it is convolved (True) or correlated:
        what `apply` computes, and what decides how an image can be cut into blocks
        (`imgconv.stream`).
    combine : str
        `ONE_KERNEL` (one pass, its response) or `MAGNITUDE` (``hypot`` of the passes'
        responses).
    display : str or None
        How an image shows a signed float result: `ABSOLUTE`, `STRETCHED` (by the
        whole result's maximum) or None, as it is. ``.npy`` outputs get the raw result.
    engine : imgconv.engine.EngineOptions
        How the engine runs: mode, cval, method, threads.
    light : str or None
        `LINEAR` or `LUMINANCE`: the picture is filtered in linear light
        (`imgconv.linear.filter_linear`) or on Y' only
        (`imgconv.luminance.filter_luminance`) by the pipeline; None, as it is.

    A filter computing otherwise is a subclass overriding `apply`; its ``passes`` must
    still name the kernels it reaches with (streaming cuts blocks by them), and it
    pickles only where its class can be imported or sent by value.
    """

    passes: tuple[tuple[KernelLike, bool], ...]
    combine: str = ONE_KERNEL
    display: str | None = None
    engine: EngineOptions = EngineOptions()
    light: str | None = None

    def __post_init__(self) -> None:
        for kernel, _ in self.passes:
            for plane in channel_kernels(kernel):
                if not isinstance(plane, SeparableKernel):
                    check_kernel(plane)  # a bad kernel is refused when the filter is made

    def apply(self, samples: ArrayLike, output: OutputLike = None, channel_axis: ChannelAxis = -1) -> np.ndarray:
        """Samples in, filtered samples of the same shape out: (H, W, C), or as
        ``channel_axis`` says (see `imgconv.correlate`), as the engine's float work type
        (`imgconv.engine.work_dtype`) or as ``output`` says (a type, rounded and clipped
        for integers, or an array to fill)."""
        return self.apply_with(NO_HOOKS, samples, output, channel_axis)

    def apply_with(self, hooks: Hooks, samples: ArrayLike, output: OutputLike = None,
                   channel_axis: ChannelAxis = -1) -> np.ndarray:
        """`apply` with ``hooks`` around each band (`imgconv.engine.hooks`); a
        magnitude (`MAGNITUDE`) takes none."""
        options = self.engine.keywords()
        if self.combine == MAGNITUDE:
            assert hooks.idle, "a magnitude takes no hooks"
            return magnitude(samples, [k for k, _ in self.passes], output, convolution=True,
                             channel_axis=channel_axis, **options)
        (kernel, convolved), = self.passes
        function = convolve if convolved else correlate
        return function(samples, kernel, output, channel_axis=channel_axis, hooks=hooks, **options)

    def show(self, result: np.ndarray, sample_max: float) -> np.ndarray:
        """A signed float result as image samples, as `display` says."""
        shown = np.abs(result)
        if self.display == STRETCHED:
            peak = shown.max()
            if peak > 0:
                shown *= sample_max / peak
        return shown

    def with_engine(self, options: EngineOptions) -> "Filter":
        """This filter run with other engine options."""
        return replace(self, engine=options)

    @cached_property
    def kernel(self) -> np.ndarray | SeparableKernel | None:
        """The kernel that `imgconv.convolve` applies to give `apply`'s result, for
        printing; None when the filter is not one kernel (a gradient magnitude). A
        `imgconv.SeparableKernel` stays one: it may be too large to hold densely."""
        if self.combine != ONE_KERNEL or self.per_channel:
            return None
        (kernel, convolved), = self.passes
        if isinstance(kernel, SeparableKernel):
            return kernel if convolved else kernel.rotated()
        weights = check_kernel(kernel)
        return (weights if convolved else weights[::-1, ::-1]).copy()

    @cached_property
    def preserves_mean(self) -> bool:
        """The weights sum to 1, so alpha is filtered with the colour. Otherwise (edge
        detectors) alpha is kept and only colour is filtered."""
        if self.combine != ONE_KERNEL:
            return False
        totals = [plane.sum() if isinstance(plane, SeparableKernel) else float(np.sum(check_kernel(plane)))
                  for plane in channel_kernels(self.passes[0][0])]
        return all(abs(total - 1.0) < 1e-6 for total in totals)

    @property
    def per_channel(self) -> bool:
        """Each channel has a kernel of its own (see `channel_kernels`)."""
        return any(len(channel_kernels(kernel)) > 1 for kernel, _ in self.passes)

    @property
    def identity(self) -> bool:
        """The kernel is ``[[1]]`` with no offset: every sample stays as it is, alpha or
        not (premultiplying by alpha and dividing back would round in float32)."""
        shown = self.kernel
        return isinstance(shown, np.ndarray) and shown.shape == (1, 1) and shown[0, 0] == 1 \
            and not getattr(self.passes[0][0], "offset", 0.0)

    @property
    def whole_display(self) -> bool:
        """`display` needs the whole result at once (it stretches by its maximum)."""
        return self.display == STRETCHED

    def in_strips(self, shape: tuple[int, ...], dtype: DTypeLike,
                  strip_bytes: int) -> tuple[Strips, "Filter"] | None:
        """How samples of ``shape`` (H, W, C) and ``dtype`` are cut into strips of about
        ``strip_bytes`` that give this filter's result on the whole of them
        (`imgconv.strips.plan_strips`), and this filter with each pass's method forced
        to the one the whole would take; None where they cannot, or per-channel kernels."""
        if self.per_channel:
            return None
        cut = plan_strips(shape, dtype, self.passes, self.combine == MAGNITUDE, self.engine, strip_bytes)
        if cut is None:
            return None
        methods = cut.methods if self.combine == MAGNITUDE else cut.methods[0]
        return cut, self.with_engine(replace(self.engine, method=methods))


def channel_kernels(kernel: KernelLike | Sequence[KernelLike]) -> list[KernelLike]:
    """The kernels of a pass: one, or one per channel (a list of 2-D kernels, or a 3-D
    array whose last axis is the channel, as `imgconv.engine.channels` takes them)."""
    if isinstance(kernel, np.ndarray) and kernel.ndim == 3:
        return [kernel[:, :, c] for c in range(kernel.shape[2])]
    if isinstance(kernel, (list, tuple)) and kernel and all(isinstance(k, (Kernel, SeparableKernel))
                                                             or np.ndim(k) == 2 for k in kernel):
        return list(kernel)
    return [cast(KernelLike, kernel)]


def kernel_filter(kernel: KernelLike, *, correlate: bool = False, engine: EngineOptions = EngineOptions()) -> Filter:
    """Filter with a kernel (an array, an `imgconv.Kernel` or an
    `imgconv.SeparableKernel`), by convolution by default, run as ``engine`` says."""
    return Filter(((kernel, not correlate),), engine=engine)


def preset_filter(kernel: KernelLike, *, engine: EngineOptions = EngineOptions()) -> Filter:
    """Apply a preset from `imgconv.kernels`, written as it lies over the image.

    The preset is convolved after a 180° rotation. That is the same as correlating with
    it for every odd-sized preset (Sobel stays positive where intensity grows), and it
    makes the rotated kernel, which ``--print-kernel`` prints, reproduce the command
    exactly under plain convolution, an even-sized box included. A
    `imgconv.SeparableKernel` is rotated factor by factor, so never made dense.
    """
    if isinstance(kernel, SeparableKernel):
        return kernel_filter(kernel.rotated(), engine=engine)
    return kernel_filter(np.asarray(kernel)[::-1, ::-1], engine=engine)


def gradient_filter(operator: Callable[[str], np.ndarray], direction: str = "magnitude", *, normalize: bool = False,
                    engine: EngineOptions = EngineOptions()) -> Filter:
    """A derivative filter: ``operator`` is `kernels.sobel`, `kernels.prewitt` or `kernels.scharr`.

    ``x`` and ``y`` give the signed response (shown as its absolute value in images);
    ``magnitude`` gives ``hypot(gx, gy)``. With ``normalize``, images show the response
    stretched so that its maximum becomes the largest sample value.
    """
    # A magnitude is never negative: only stretching it needs a display step.
    display = STRETCHED if normalize else None if direction == "magnitude" else ABSOLUTE
    if direction == "magnitude":
        # Both derivatives band by band (the engine's magnitude), as each preset is
        # filtered: convolved after a 180° rotation.
        passes = tuple((np.asarray(operator(d))[::-1, ::-1], True) for d in "xy")
        return Filter(passes, MAGNITUDE, display, engine)
    return replace(preset_filter(operator(direction), engine=engine), display=display)


def filter_picture(picture: Picture, filt: Filter, dtype: DTypeLike | None = None,
                   background: tuple[float, ...] | None = None) -> np.ndarray:
    """Apply ``filt`` to a `Picture`; the result has the picture's shape.

    With ``dtype`` (the picture's ``sample_dtype``, for image outputs) the result is
    image samples: the filter's display step (`Filter.show`) applied to colour, rounded and clipped
    to an integer type's range. Without it, the raw response in the engine's work type
    (`imgconv.engine.work_dtype`), signs kept; an identity's is the samples themselves.

    With ``background`` (see `composite`), a picture with alpha comes out without it:
    its filtered result composited over the background before the one rounding.

    A kernel whose results could overflow the work type on these samples is refused
    naming the picture's file (and the kernel's, where it came from one).
    """
    samples = picture.pixels
    squeeze = samples.ndim == 2
    if squeeze:
        samples = samples[..., np.newaxis]
    over = background if picture.has_alpha else None
    try:
        if filt.identity and over is None:
            result = samples if dtype is None else samples.astype(dtype, copy=False)
        elif rounds_in_engine(filt, picture.has_alpha, dtype):
            # The common case: the engine rounds into the output type band by band.
            result = filt.apply(samples, output=dtype)
        else:
            cut = filter_rows_with_alpha(samples, filt, picture.sample_max, dtype, over) if picture.has_alpha else None
            if cut is None:
                result = _float_result(samples, filt, picture.sample_max, picture.has_alpha, dtype, over)
            else:
                result = _gathered(samples, *cut)
    except ReachError as exc:
        raise exc.naming(picture.name) from None
    return result[..., 0] if squeeze else result


def composite(samples: np.ndarray, background: tuple[float, ...], sample_max: float, clip: bool = True) -> np.ndarray:
    """Samples with alpha last, colour not premultiplied, over an opaque background:
    ``colour * a + background * (1 - a)``, with ``a`` the alpha as a fraction, in
    float32 and not rounded.

    ``background`` is one value a colour channel in sample units, or three for grey
    samples, which then come out as RGB. With ``clip``, colour and alpha are first held
    to 0..sample_max, as an image output holds them, so that the result is what a viewer
    shows of that output over the background; without it (raw ``.npy`` results), a
    signed colour is composited as it is.
    """
    samples = np.asarray(samples, np.float32)
    coverage = np.clip(samples[..., -1:], 0, sample_max) / np.float32(sample_max)
    colour = np.clip(samples[..., :-1], 0, sample_max) if clip else samples[..., :-1]
    return colour * coverage + np.asarray(background, np.float32) * (1 - coverage)


def rounds_in_engine(filt: Filter, has_alpha: bool, dtype: DTypeLike | None = None) -> bool:
    """Whether `filter_picture` hands ``filt.apply`` the picture's own samples, to be
    rounded into ``dtype`` by the engine (which decides the engine's methods), rather
    than float32 ones, where alpha or a display step needs the float response first."""
    return not has_alpha and (dtype is None or filt.display is None)


# Samples of the float work a strip of a picture with alpha holds (`filter_rows_with_alpha`):
# its few float32 temporaries of that size are the peak beyond the picture and the result.
ALPHA_STRIP_BYTES = 4 * 2**20


def filter_rows_with_alpha(samples: np.ndarray, filt: Filter, sample_max: float, dtype: DTypeLike | None,
                           background: tuple[float, ...] | None = None
                           ) -> tuple[Strips, Callable[[slice, slice], np.ndarray]] | None:
    """`filter_picture`'s result on ``samples`` (H, W, C), alpha last, strip by strip:
    their `Strips`, and ``filter_strip(rows, read)``, the result's ``rows`` from the
    samples' rows ``read`` (`Strips.cuts`), so that no float work is image-sized; None
    where strips cannot give the whole's result: filters other than plain kernels and
    gradient magnitudes, a display stretched by the whole result's maximum, and what
    `Filter.in_strips` declines."""
    if type(filt) is not Filter or (dtype is not None and filt.whole_display):
        return None
    work = work_dtype(samples.dtype)
    filtered = samples.shape if filt.preserves_mean else (*samples.shape[:2], samples.shape[2] - 1)
    cut = filt.in_strips(filtered, work, ALPHA_STRIP_BYTES)
    if cut is None:
        return None
    planned, forced = cut

    def filter_strip(rows: slice, read: slice) -> np.ndarray:
        given = slice(rows.start - read.start, rows.stop - read.start)
        return _float_result(samples[read], forced, sample_max, True, dtype, background, given)

    return planned, filter_strip


def _gathered(samples: np.ndarray, planned: Strips, filter_strip: Callable[[slice, slice], np.ndarray]) -> np.ndarray:
    """The strips' results (`filter_rows_with_alpha`) in one new array; the rows of
    ``samples`` each result stands for released as it is written, where the caller
    gave them up (`imgconv.io.pages`): no later strip reads them (`each_strip`), so the
    result grows as the samples shrink."""
    out: list[np.ndarray] = []

    def write(rows: slice, result: np.ndarray) -> None:
        if not out:
            out.append(np.empty((samples.shape[0], *result.shape[1:]), result.dtype))
        out[0][rows] = result
        pages.release_rows(samples, rows.start, rows.stop)

    each_strip(planned, samples.shape[0], filter_strip, write)
    return out[0]


def _float_result(samples: np.ndarray, filt: Filter, sample_max: float, alpha: bool, dtype: DTypeLike | None,
                  over: tuple[float, ...] | None, rows: slice = slice(None)) -> np.ndarray:
    """`filter_picture`'s result through floats: of ``rows`` of ``samples`` (those and
    the rows the kernel reaches from them; all rows without ``alpha``, the last
    channel), displayed, composited over ``over`` and rounded to ``dtype``."""
    if alpha:
        result = _filter_with_alpha(samples, filt, sample_max, rows)
    else:
        result = filt.apply(samples.astype(work_dtype(samples.dtype)))
    if dtype is not None and filt.display is not None:
        colours = result.shape[2] - alpha
        result[..., :colours] = filt.show(result[..., :colours], sample_max)
    if over is not None:
        result = composite(result, over, sample_max, clip=dtype is not None)
    return result if dtype is None else to_dtype(result, dtype)


def _filter_with_alpha(samples: np.ndarray, filt: Filter, sample_max: float, rows: slice) -> np.ndarray:
    """``rows`` of ``samples`` (alpha last) filtered as floats, colour premultiplied by
    alpha and divided back; alpha filtered too where `Filter.preserves_mean`, else kept.

    Each colour channel is multiplied and divided on its own: NumPy's operations with
    alpha broadcast along the channel axis loop over one pixel's few samples at a time,
    and took 11 ns a pixel to premultiply and 30 to divide back where these take 3.1
    and 5.0 (96 rows of a 4K RGBA float32 image, one thread)."""
    floats = samples.astype(work_dtype(samples.dtype))
    factor = floats[..., -1] / sample_max
    for channel in range(floats.shape[2] - 1):
        np.multiply(floats[..., channel], factor, out=floats[..., channel])
    if filt.preserves_mean:
        result = filt.apply(floats)[rows]
    else:
        result = floats[rows]
        result[..., :-1] = filt.apply(floats[..., :-1])[rows]
    coverage = result[..., -1] / sample_max
    visible = coverage > 0
    hidden = ~visible
    for channel in range(result.shape[2] - 1):
        colour = result[..., channel]
        np.divide(colour, coverage, out=colour, where=visible)
        # Where nothing is visible the colour is undefined; the input's stays, so that
        # colour hidden under transparent pixels survives (and identity is lossless).
        np.copyto(colour, samples[rows, :, channel], where=hidden)
    return result
