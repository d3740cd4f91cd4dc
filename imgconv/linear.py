"""Filtering in linear light: sRGB samples decoded to light intensities, filtered, encoded.

Averaging gamma-encoded samples darkens edges and highlights (a blur of a red/green edge
turns brown); the average of light is what a lens or the eye makes. `filter_linear`
decodes 8- and 16-bit samples with the sRGB transfer function (IEC 61966-2-1, the
piecewise curve: linear below 0.04045, a 2.4 power above), filters in float32, and
encodes back, rounding once. Without alpha, the engine decodes each band by a table as
it gathers it and encodes its results as it writes them (`imgconv.engine.hooks`), so
no full-size float image is made; with alpha, the picture is decoded whole and
filtered by `imgconv.filters.filter_picture` (so alpha is premultiplied in linear
light). Alpha is never converted; grey is treated as sRGB grey.

Inputs with no ICC profile, or one whose description names sRGB, are sRGB. Another
profile is read for its transfer curve (`imgconv.io.icc_curves.tone_curve`): filtering
each channel in linear light does not depend on the primaries (a change of primaries is
a 3x3 matrix on linear light, which commutes with the same filter on every channel), so
the samples stay in the profile's colours and the output keeps the profile. A curve that
is sRGB's (Display P3's) takes sRGB's tables; a pure power (Adobe RGB's, a gamma or
linear profile) `imgconv.power_light.PowerCurves`; another parametric curve or a table
`imgconv.power_light.ToneCurves`. Refused in one line: a profile LittleCMS cannot read,
a damaged one, one of another colour space, one with lookup tables (viewers convert
through those), one whose red, green and blue curves differ. A PNG whose gAMA, where no
sRGB chunk or ICC profile overrides it, declares other than sRGB's (gamma 1/2.2, which
PNG takes for sRGB's curve) is decoded by its own power
(`imgconv.power_light.PowerCurves`): a gamma of 1 is light already linear. Its cHRM's
primaries, like a profile's, do not matter.
"""

import functools
import math
import threading
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
from numpy.typing import DTypeLike

from .engine import Hooks, KernelLike, SeparableKernel, bands, check_kernel, to_dtype
from .errors import InvalidInputError, ReachError
from .filters import ONE_KERNEL, Filter, channel_kernels, filter_picture
from .io.formats import CMYK_MODES
from .io.icc_curves import ProfileError, tone_curve
from .io.metadata import declared_gamma
from .io.picture import Picture
from .io.srgb import profile_name
from .power_light import RoundedCurves, power_curves_for, tone_curves_for
from .vocabulary import TRUNCATE, resolve_mode

# Modes whose samples are sRGB-encoded integers (`imgconv.io.formats`), by sample maximum.
SRGB_MODES = {"L": 255, "LA": 255, "RGB": 255, "RGBA": 255,
              "I;16": 65535, "LA;16": 65535, "RGB;16": 65535, "RGBA;16": 65535}
COLOUR_MODES = frozenset(("RGB", "RGBA", "RGB;16", "RGBA;16"))


def decode(encoded: np.ndarray) -> np.ndarray:
    """The sRGB transfer function: encoded values in [0, 1] to linear light, in float64."""
    values = np.asarray(encoded, np.float64)
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def encode(linear: np.ndarray) -> np.ndarray:
    """The inverse of `decode`: linear light in [0, 1] to encoded values, in float64."""
    values = np.clip(np.asarray(linear, np.float64), 0.0, 1.0)
    return np.where(values <= 0.0031308, values * 12.92, 1.055 * values ** (1 / 2.4) - 0.055)


class Curves:
    """Tables for samples of one depth (``sample_max`` 255 or 65535): decoding every
    sample value, and encoding linear light straight to the nearest sample value.

    Encoding rounds once and exactly: the result is the number of thresholds (the
    linear light of each half-way point between two sample values) at or below the
    value. Linear light is cut into steps of ``step`` sample units, each holding at
    most one threshold (they are at least 1 / 12.92 apart, where the curve is
    steepest), a power of two so that a value's step is exact. Most steps hold none,
    and give their sample value from one table (``sure``); only values in the few
    steps that hold one are compared with it.

    `step_hooks` filter light counted in steps rather than sample units, so that the
    encode needs no multiplication: scaling a linear filter's input by a power of two
    scales every sum and product it rounds by the same power, exactly.
    """

    # Steps of 1/1024 for 8 bits (a table of 261,121, 512 KB): a threshold in 0.1% of
    # the steps; encoding the blurred 4K photo band by band took 52-55 ms on one thread
    # where steps of 1/256 took 55-59 and of 1/64 72-77; in steps (`step_hooks`), 40,
    # 42 and 44 ms for 1/1024, 1/512 and 1/256 (load 3.5). 16 bits take 1/16 (a
    # million steps): a threshold in about one step in twenty.
    STEPS: ClassVar[dict[int, float]] = {255: 1 / 1024, 65535: 1 / 16}

    # Encoded values in [0, 1] as linear light (as `imgconv.power_light.PowerCurves`').
    light = staticmethod(decode)

    def __init__(self, sample_max: int) -> None:
        self.sample_max = sample_max
        self.step = self.STEPS[sample_max]
        self.scale = 1 / self.step  # steps per sample unit
        self.decoded = (decode(np.arange(sample_max + 1) / sample_max) * sample_max).astype(np.float32)
        # The thresholds and every step's start, counted in steps (exactly: a power of two).
        thresholds = decode((np.arange(1, sample_max + 1) - 0.5) / sample_max) * sample_max * self.scale
        starts = np.arange(int(sample_max * self.scale) + 1)
        # Per step: the thresholds at or below its start, and the next one.
        self.below = np.searchsorted(thresholds, starts, side="right").astype(np.int32)
        self.next = np.append(thresholds, np.nan)[self.below]  # NaN: never at or below a value
        # The sample value of every value in the step, or -1 where the next threshold
        # lies inside it.
        holds = self.next < starts + 1
        self.sure = np.where(holds, -1, self.below).astype(np.int16 if sample_max <= 255 else np.int32)

    def to_samples(self, linear: np.ndarray, dtype: DTypeLike, out: np.ndarray | None = None,
                   in_steps: bool = False) -> np.ndarray:
        """Linear light as sample values of ``dtype``, into ``out`` if given: float32 or
        float64 in sample units (any values, held to the range), or with ``in_steps`` in
        `step` units, from a filter that `scales_exactly` (so finite, and below 2**62
        in magnitude). Encoded a few rows at a time, up to about `ENCODE_SAMPLES`."""
        if out is None:
            out = np.empty(linear.shape, dtype)
        values, target = (linear, out) if linear.ndim else (linear.reshape(1), out.reshape(1))
        pieces = -(-values.size // ENCODE_SAMPLES)
        rows = max(1, -(-len(values) // max(pieces, 1)))
        with np.errstate(invalid="ignore"):  # NaN and values below 0 take step 0 or less: clipped
            for top in range(0, len(values), rows):
                self._encode(values[top : top + rows], target[top : top + rows], in_steps)
        return out

    def _encode(self, linear: np.ndarray, out: np.ndarray, in_steps: bool) -> None:
        """`to_samples` of a few rows."""
        steps = linear if in_steps else self._held_steps(linear)
        step, counts = _scratch(steps.shape, self.sure.dtype)
        np.copyto(step, steps, casting="unsafe")
        np.take(self.sure, step, mode="clip", out=counts)
        unsure = np.flatnonzero(counts < 0)
        if unsure.size:
            at = np.maximum(step.reshape(-1)[unsure], 0)
            counts.reshape(-1)[unsure] = self.below[at] + (self.next[at] <= np.ravel(steps)[unsure])
        np.copyto(out, counts, casting="unsafe")

    def _held_steps(self, linear: np.ndarray) -> np.ndarray:
        """Light in sample units counted in steps, in its own type (so that each value
        is its step exactly: float32 would round float64 values, and move one just
        below a step's end into the next), and held where its step could not be
        found: values below 2**62 convert to a step exactly and `np.take` holds steps
        outside the table to its ends, so only values beyond, infinities and NaN
        (which the maximum shows, at half the cost of holding every value) are held
        first."""
        with np.errstate(over="ignore"):  # values beyond float32's range: infinite, and held
            steps = np.multiply(linear, self.scale, dtype=np.result_type(linear, np.float32))
        if not steps.max(initial=0.0) < 2.0**62:
            steps = np.minimum(steps, np.float32(len(self.sure) - 1))
        return steps

    @functools.cached_property
    def hooks(self) -> Hooks:
        """The engine's work around each band for these tables: decoding and encoding,
        made once (its table of pairs of 8-bit samples takes a millisecond)."""
        return Hooks(decode=self.decoded, encode=self.write)

    @functools.cached_property
    def step_hooks(self) -> Hooks:
        """`hooks` for light in `step` units, encoded to integer samples: the decoding
        table times ``scale``. The encode needs neither the multiplication nor the
        maximum that looks for values to hold: on hot 48-row bands of the blurred 4K
        photo, 1.30 ns a sample where multiplying light in sample units and holding
        every value with ``np.minimum`` took 1.74 (1.47 against 1.69 with the maximum,
        under a load of 4)."""
        return Hooks(decode=self.decoded * np.float32(self.scale), encode=self.write_steps)

    def write_steps(self, steps: np.ndarray, target: np.ndarray) -> None:
        """Linear light in `step` units into integer ``target`` as sample values."""
        self.to_samples(steps, target.dtype, out=target, in_steps=True)

    def write(self, linear: np.ndarray, target: np.ndarray) -> None:
        """Linear light in sample units into ``target`` (`imgconv.engine.Hooks`'
        encoder): sample values for an integer type, else encoded values, unrounded."""
        if target.dtype.kind in "iu":
            self.to_samples(linear, target.dtype, out=target)
        else:
            target[...] = encode(linear / self.sample_max) * self.sample_max


@functools.cache
def curves_for(sample_max: int) -> Curves:
    """The `Curves` of a depth, made once: 16-bit tables take tens of milliseconds,
    which every block of a streamed picture would pay again."""
    return Curves(sample_max)


# Samples `Curves.to_samples` encodes at a time (10 rows of a 4K RGB image, a fifth of
# a 48-row band): its int64 indices (1 MiB) and sample values stay in the core's 2 MiB
# L2 cache from one step to the next, where a whole band's (4.4 MB) went out to the L3
# the cores share, and back. blur --linear of the 4K photo on two threads (the
# default), six fresh processes each, interleaved, load 9-14: 163-191 ms of CPU, 1.53-1.82
# times the plain blur, where whole bands took 190-230 ms, 1.66-2.26; on one thread,
# 152-164 ms against 147-175 (no gain there: the pieces' extra calls cost about what
# the cache saves).
ENCODE_SAMPLES = 2**17

# Each thread's scratch for `Curves.to_samples`: the steps as indices and their sample
# values, made once for all the bands the thread encodes rather than anew for each
# (the 4K photo's blur in linear light took 165 ms of CPU where new arrays took 177).
_SCRATCH = threading.local()


def _scratch(shape: tuple[int, ...], dtype: np.dtype[Any]) -> tuple[np.ndarray, np.ndarray]:
    """This thread's index and value arrays of ``shape`` (values of ``dtype``), grown
    as needed."""
    size = math.prod(shape)
    held = getattr(_SCRATCH, "arrays", None)
    if held is None or len(held[0]) < size or held[1].dtype != dtype:
        held = _SCRATCH.arrays = (np.empty(size, np.intp), np.empty(size, dtype))
    return held[0][:size].reshape(shape), held[1][:size].reshape(shape)


def light_curves(picture: Picture) -> "Curves | RoundedCurves":
    """The curves that decode ``picture``'s samples to linear light: sRGB's, the power
    of a PNG's gAMA that declares other than sRGB's
    (`imgconv.io.metadata.declared_gamma`), or its ICC profile's (`profile_curves`).
    Refused, in one line naming the file, a picture that is not 8- or 16-bit grey or
    RGB."""
    if picture.mode not in SRGB_MODES:
        inks = "; write PNG to filter its sRGB in linear light" if picture.mode in CMYK_MODES else ""
        raise InvalidInputError(f"{picture.name}: linear light converts 8- and 16-bit sRGB samples; the image is "
                                f"{picture.description}{inks}")
    sample_max, gamma = SRGB_MODES[picture.mode], declared_gamma(picture.metadata)
    if gamma is not None:
        return power_curves_for(sample_max, gamma / 100000)
    icc = picture.metadata.get("icc_profile")
    return profile_curves(picture, icc, sample_max) if icc else curves_for(sample_max)


def profile_curves(picture: Picture, icc: bytes, sample_max: int) -> "Curves | RoundedCurves":
    """The curves of ``picture``'s ICC profile ``icc``: sRGB's for a profile whose
    description names sRGB or whose curve is sRGB's, else its curve's
    (`imgconv.io.icc_curves.tone_curve`); refused in one line naming the file where
    LittleCMS cannot read the profile or its curve cannot be used."""
    name = profile_name(icc)
    if name is None:
        raise InvalidInputError(f"{picture.name}: linear light decodes by the image's ICC profile, which is "
                                "unreadable")
    if "srgb" in name.lower():
        return curves_for(sample_max)
    try:
        curve = tone_curve(icc, grey=picture.mode not in COLOUR_MODES)
    except ProfileError as exc:
        raise InvalidInputError(f"{picture.name}: linear light decodes by the image's ICC profile's curves, and "
                                f"its profile {name!r} {exc}") from None
    if curve.is_srgb:
        return curves_for(sample_max)
    if curve.gamma is not None:
        return power_curves_for(sample_max, 1 / curve.gamma)
    return tone_curves_for(sample_max, curve)


def filter_linear(picture: Picture, filt: Filter, dtype: DTypeLike | None = None,
                  background: tuple[float, ...] | None = None) -> np.ndarray:
    """`imgconv.filters.filter_picture` in linear light.

    Parameters
    ----------
    picture : Picture
        8- or 16-bit grey or RGB, with or without alpha, with no ICC profile, an
        sRGB one or one whose curves `light_curves` reads; anything else is refused
        in one line naming the file.
    filt : Filter
        Any filter; it sees linear light in the samples' units (0 to 255 or 65535).
    dtype : numpy dtype, optional
        The picture's ``sample_dtype``, for image outputs.
    background : tuple of float, optional
        As in `imgconv.filters.filter_picture`, in encoded sample units; composited
        in linear light.

    Returns
    -------
    numpy.ndarray
        With ``dtype``, sample values: colours encoded and rounded once, alpha
        rounded. Without, float32: colours clipped to the samples' range and encoded,
        unrounded; alpha as filtered.
    """
    curves = light_curves(picture)
    try:
        return _filter_decoded(picture, filt, curves, dtype, background)
    finally:
        vars(_SCRATCH).clear()  # the engine's threads end with the call; this one need not keep a band's


def _filter_decoded(picture: Picture, filt: Filter, curves: "Curves | RoundedCurves", dtype: DTypeLike | None,
                    background: tuple[float, ...] | None) -> np.ndarray:
    """`filter_linear` of a picture: band by band, or decoded whole."""
    # Filters that compute otherwise (subclasses with their own `apply`) are given the
    # picture decoded whole, as are pictures with alpha.
    banded = type(filt).apply is Filter.apply and filt.combine == ONE_KERNEL and filt.display is None
    if picture.has_alpha or not banded:
        return _filter_whole(picture, filt, curves, dtype, background)
    samples = picture.pixels
    hooks = curves.hooks if dtype is None or not scales_exactly(filt) else curves.step_hooks
    try:
        result = filt.apply_with(hooks, np.atleast_3d(samples), np.float32 if dtype is None else dtype)
    except ReachError as exc:
        raise exc.naming(picture.name) from None
    return result.reshape(samples.shape)


# Filters whose weights' magnitudes sum to more than this run in sample units: light in
# steps is below 2**20 (65535 times 16), so their results stay below 2**60 (the encode
# converts values below 2**62 without holding them) and an FFT's sums below 2**100, far
# from float32's largest value (2**128); heavier kernels could overflow in steps where
# they do not in sample units.
MOST_WEIGHT = 2.0**40


def scales_exactly(filt: Filter) -> bool:
    """Whether ``filt``'s samples are the same for light in `step` units as in sample
    units, with results bounded so that `Curves.to_samples` need not hold them: it
    adds nothing to the light (no offset, no constant ``cval``), does not divide it
    (the ``truncate`` mode divides by the weights inside the image, which may be
    near 0), and its weights cannot overflow float32 (`MOST_WEIGHT`). Float rounding
    commutes with scaling by a power of two, except for results below 2**-126
    (float32's smallest normal value); those differ by less than 2**-149, which any
    sum of a size that could reach a rounding threshold (the first is 0.039) absorbs."""
    planes = channel_kernels(filt.passes[0][0])
    if (np.any(filt.engine.cval) or any(getattr(plane, "offset", 0.0) for plane in planes)
            or resolve_mode(filt.engine.mode, truncate=True)[0] == TRUNCATE):
        return False
    return all(_weight_total(plane) <= MOST_WEIGHT for plane in planes)


def _weight_total(kernel: KernelLike) -> float:
    """The sum of a kernel's weights' magnitudes; for a separable one, the bound its
    factors give."""
    if isinstance(kernel, SeparableKernel):
        return float(sum(np.abs(column).sum() * np.abs(row).sum() for column, row in kernel.terms))
    return float(np.abs(check_kernel(kernel)).sum())


def _filter_whole(picture: Picture, filt: Filter, curves: "Curves | RoundedCurves", dtype: DTypeLike | None,
                  background: tuple[float, ...] | None) -> np.ndarray:
    """`filter_linear` on the picture decoded whole: for alpha (premultiplied in
    linear light) and for filters whose results `imgconv.filters.filter_picture`
    shows or combines itself."""
    samples = picture.pixels
    colours = _colours(samples, picture.has_alpha)
    light = np.empty(samples.shape, np.float32)
    bands.in_chunks(len(samples), lambda rows: _decode_rows(samples[rows], light[rows], curves, colours))
    over = None if background is None else tuple(float(v) for v in curves.light(np.array(background) /
                                                                                curves.sample_max) * curves.sample_max)
    result = filter_picture(replace(picture, frames=[light]), filt, None if dtype is None else np.float32, over)
    colours = _colours(result, picture.has_alpha and background is None)
    if dtype is None:
        curves.write(result[..., :colours], result[..., :colours])
        return result
    out = np.empty(result.shape, dtype)
    bands.in_chunks(len(result), lambda rows: _encode_rows(result[rows], out[rows], curves, colours))
    return out


def _colours(samples: np.ndarray, alpha: bool) -> int | None:
    """How many leading channels are colour: all but alpha; None for grey (H, W)."""
    if samples.ndim == 2:
        return None
    return samples.shape[2] - 1 if alpha else samples.shape[2]


def _decode_rows(samples: np.ndarray, light: np.ndarray, curves: "Curves | RoundedCurves", colours: int | None) -> None:
    light[..., :colours] = np.take(curves.decoded, samples[..., :colours])
    if colours is not None:
        light[..., colours:] = samples[..., colours:]


def _encode_rows(result: np.ndarray, out: np.ndarray, curves: "Curves | RoundedCurves", colours: int | None) -> None:
    out[..., :colours] = curves.to_samples(result[..., :colours], out.dtype)
    if colours is not None and colours < result.shape[-1]:
        out[..., colours:] = to_dtype(result[..., colours:].copy(), out.dtype)

