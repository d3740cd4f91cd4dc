"""Filters as the command line applies them to whole pictures, alpha included.

A `Filter` says what to compute on samples (channels independently) and how a signed
result is shown in an image; it is made of module-level functions and partials so that
it pickles, for worker processes. `filter_picture` applies one to a `Picture`: colour
channels are filtered premultiplied by alpha and divided back afterwards, so the colour
hidden under fully transparent pixels never bleeds into visible ones.
"""

import functools
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from . import engine
from .errors import ReachError


@dataclass(frozen=True)
class Filter:
    """A filter ready to run on samples.

    Attributes
    ----------
    apply : callable
        ``apply(samples, output=None)``: (H, W, C) samples in, filtered samples of the
        same shape out, as float32 or as the integer type ``output`` (rounded, clipped).
    kernel : numpy.ndarray, imgconv.SeparableKernel or None
        The kernel that ``imgconv.convolve`` applies to give ``apply``'s result, for
        printing; None when the filter is not one kernel (a gradient magnitude).
    preserves_mean : bool
        The weights sum to 1, so alpha is filtered with the colour. Otherwise (edge
        detectors) alpha is kept and only colour is filtered.
    display : callable or None
        ``display(result, sample_max)`` turns a signed float result into image samples
        (``.npy`` outputs get the raw result); None keeps it as it is.
    identity : bool
        The kernel is ``[[1]]`` with no offset: every sample stays as it is, alpha or
        not (premultiplying by alpha and dividing back would round in float32).
    passes : tuple of (kernel, bool)
        Each kernel ``apply`` hands the engine, and whether it is convolved (True) or
        correlated: what decides how an image can be cut into blocks (`imgconv.stream`).
    options : dict
        The engine options ``apply`` passes: ``boundary``, ``cval``, ``method``, ``threads``.
    remake : callable or None
        ``remake(**options)``: this filter with other engine options.
    whole_display : bool
        ``display`` needs the whole result at once (it stretches by its maximum).
    """

    apply: Callable[..., np.ndarray]
    kernel: Optional[np.ndarray]
    preserves_mean: bool
    display: Optional[Callable[[np.ndarray, float], np.ndarray]] = None
    identity: bool = False
    passes: tuple = ()
    options: dict = field(default_factory=dict)
    remake: Optional[Callable[..., "Filter"]] = None
    whole_display: bool = False


def _sums_to_one(total):
    return abs(total - 1.0) < 1e-6


def kernel_filter(kernel, *, correlate=False, **options):
    """Filter with a kernel (an array, an `imgconv.Kernel` or an
    `imgconv.SeparableKernel`), by convolution by default.

    ``options`` are the engine's: ``boundary``, ``cval``, ``method``, ``threads``.
    """
    function = engine.correlate if correlate else engine.convolve
    if isinstance(kernel, engine.SeparableKernel):
        # Kept as factors: it may be too large to hold densely.
        shown, total = kernel.rotated() if correlate else kernel, kernel.sum()
    else:
        weights = engine.check_kernel(kernel)
        shown, total = (weights[::-1, ::-1] if correlate else weights).copy(), float(np.sum(weights))
    identity = isinstance(shown, np.ndarray) and shown.shape == (1, 1) and shown[0, 0] == 1
    return Filter(
        apply=functools.partial(function, kernel=kernel, **options),
        kernel=shown,
        preserves_mean=_sums_to_one(total),
        identity=identity and not getattr(kernel, "offset", 0.0),
        passes=((kernel, not correlate),),
        options=options,
        remake=functools.partial(kernel_filter, kernel, correlate=correlate),
    )


def preset_filter(kernel, **options):
    """Apply a preset from `imgconv.kernels`, written as it lies over the image.

    The preset is convolved after a 180° rotation. That is the same as correlating with
    it for every odd-sized preset (Sobel stays positive where intensity grows), and it
    makes the rotated kernel, which ``--print-kernel`` prints, reproduce the command
    exactly under plain convolution, an even-sized box included. A
    `imgconv.SeparableKernel` is rotated factor by factor, so never made dense.
    """
    if isinstance(kernel, engine.SeparableKernel):
        return kernel_filter(kernel.rotated(), **options)
    return kernel_filter(np.asarray(kernel)[::-1, ::-1], **options)


def gradient_filter(operator, direction="magnitude", *, normalize=False, **options):
    """A derivative filter: ``operator`` is `kernels.sobel`, `kernels.prewitt` or `kernels.scharr`.

    ``x`` and ``y`` give the signed response (shown as its absolute value in images);
    ``magnitude`` gives ``hypot(gx, gy)``. With ``normalize``, images show the response
    stretched so that its maximum becomes the largest sample value.
    """
    if direction == "magnitude":
        # Both derivatives band by band (the engine's magnitude), as each preset is
        # filtered: convolved after a 180° rotation.
        rotated = [np.asarray(operator(d))[::-1, ::-1] for d in "xy"]
        apply = functools.partial(engine.magnitude, kernels=rotated, convolution=True, **options)
        kernel, passes = None, tuple((r, True) for r in rotated)
    else:
        single = preset_filter(operator(direction), **options)
        apply, kernel, passes = single.apply, single.kernel, single.passes
    # A magnitude is never negative: only stretching it needs the whole float result.
    shows_absolute = direction != "magnitude" or normalize
    display = functools.partial(_absolute_response, normalize) if shows_absolute else None
    return Filter(apply=apply, kernel=kernel, preserves_mean=False, display=display, passes=passes, options=options,
                  remake=functools.partial(gradient_filter, operator, direction, normalize=normalize),
                  whole_display=normalize)


def _absolute_response(normalize, result, sample_max):
    shown = np.abs(result)
    if normalize:
        peak = shown.max()
        if peak > 0:
            shown *= sample_max / peak
    return shown


def filter_picture(picture, filt, dtype=None, background=None):
    """Apply ``filt`` to a `Picture`; the result has the picture's shape.

    With ``dtype`` (the picture's ``sample_dtype``, for image outputs) the result is
    image samples: the filter's ``display`` step applied to colour, rounded and clipped
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
    over = background is not None and picture.has_alpha
    try:
        if filt.identity and not over:
            result = samples if dtype is None else samples.astype(dtype)
        elif rounds_in_engine(filt, picture.has_alpha, dtype):
            # The common case: the engine rounds into the output type band by band.
            result = filt.apply(samples, output=dtype)
        else:
            result = _filter_floats(samples.astype(engine.work_dtype(samples.dtype)), filt, picture, dtype is not None)
            if over:
                result = composite(result, background, picture.sample_max, clip=dtype is not None)
            if dtype is not None:
                result = engine.to_dtype(result, dtype)
    except ReachError as exc:
        raise exc.naming(picture.name) from None
    return result[..., 0] if squeeze else result


def composite(samples: np.ndarray, background, sample_max: float, clip: bool = True) -> np.ndarray:
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


def rounds_in_engine(filt, has_alpha, dtype=None):
    """Whether `filter_picture` hands ``filt.apply`` the picture's own samples, to be
    rounded into ``dtype`` by the engine (which decides the engine's methods), rather
    than float32 ones, where alpha or a display step needs the float response first."""
    return not has_alpha and (dtype is None or filt.display is None)


def _filter_floats(samples, filt, picture, for_image):
    if picture.has_alpha:
        result = _filter_with_alpha(samples, filt, picture.sample_max)
    else:
        result = filt.apply(samples)
    if for_image and filt.display is not None:
        colours = result.shape[2] - 1 if picture.has_alpha else result.shape[2]
        result[..., :colours] = filt.display(result[..., :colours], picture.sample_max)
    return result


def _filter_with_alpha(samples, filt, sample_max):
    alpha = samples[..., -1:]
    premultiplied = samples[..., :-1] * (alpha / sample_max)
    if filt.preserves_mean:
        filtered = filt.apply(np.concatenate([premultiplied, alpha], axis=2))
        colour, new_alpha = filtered[..., :-1], filtered[..., -1:]
    else:
        colour, new_alpha = filt.apply(premultiplied), alpha
    coverage = new_alpha / sample_max
    # Where nothing is visible the colour is undefined; the input's stays, so that
    # colour hidden under transparent pixels survives (and identity is lossless).
    unpremultiplied = np.divide(colour, coverage, out=samples[..., :-1].copy(), where=coverage > 0)
    return np.concatenate([unpremultiplied, new_alpha], axis=2)
