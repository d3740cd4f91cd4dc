"""Missing data: filtering an image whose NaN samples mark pixels with no value.

Normalized convolution, as astropy.convolution interpolates over NaN: each output is
the kernel-weighted mean of the valid (non-NaN) samples it covers,
``correlate(where(nan, 0, x)) / correlate(~nan)``, both in the same boundary mode. In
``constant`` mode the fill value beyond the edges is a valid sample (it is what the
mode says lies there); in ``truncate`` mode (`imgconv.engine.truncate`) the outside is
missing as NaN is.

The masks of valid samples, then the data, are filtered by the engine band by band,
with one mask for all channels when their NaN lie at the same pixels (one channel more
to filter than the image has), the work around them done on each band as it is
gathered and written (`imgconv.engine.hooks`): the masks made from the samples, their
filtered sums turned into reciprocals, NaN data set to 0, and the data's sums
multiplied by those reciprocals.
"""

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .engine import ChannelAxis, Hooks, KernelLike, OutputLike, convolve, correlate, work_dtype
from .engine.arrays import channel_axis_of, channels_last, check_image, check_output
from .engine.bands import CHUNK_ROWS, in_chunks
from .engine.hooks import Encoder
from .engine.truncate import ZERO_SUM, Coverage
from .errors import BoundaryError, InvalidInputError
from .vocabulary import TRUNCATE, resolve_mode

# Sums of valid weights at most this many float epsilons of the weights' magnitudes mean
# that no valid sample is covered: the direct and separable strategies give exact zeros
# there, the FFTs rounding errors of a few epsilons (below 1e-6 of the magnitudes in
# float32 for the kernels of tests/test_missing.py).
UNCOVERED_EPSILONS = 64


def interpolate_missing(input: ArrayLike, weights: KernelLike, output: OutputLike = None, mode: str = "reflect",
                        cval: float = 0.0, *, channel_axis: ChannelAxis = "auto", method: str = "auto",
                        threads: int | None = None, convolution: bool = False) -> np.ndarray:
    """Filter ``input`` with NaN samples as missing: the weighted mean of the valid ones.

    Parameters are those of `imgconv.engine.correlate` (or, with ``convolution``,
    `imgconv.engine.convolve`), ``truncate`` mode included; ``origin`` aside, and
    ``output`` a type only (an array is refused).

    Returns
    -------
    numpy.ndarray
        The image's shape and the engine's work type, or ``output``. Where a kernel
        covers no valid sample (or only some whose weights sum to less than
        `UNCOVERED_EPSILONS` float epsilons of the weights' magnitudes), the result is
        NaN, which an integer ``output`` cannot hold: refused.

    Examples
    --------
    >>> nan = float("nan")
    >>> interpolate_missing([[1.0, nan, 3.0, nan, nan, nan]], [[1.0, 1.0, 1.0]], mode="nearest")
    array([[ 1.,  2.,  3.,  3., nan, nan]])
    """
    if isinstance(output, np.ndarray):
        raise InvalidInputError("missing data are interpolated into a new array: give output as a type")
    pixels = check_image(input)
    axis = channel_axis_of(pixels.shape, channel_axis)
    filter_ = convolve if convolution else correlate
    plane = channels_last(pixels, axis)
    work = work_dtype(pixels.dtype)
    dtype = check_output(output, pixels.shape, work)
    masks = _valid_masks(plane, work, threads) if pixels.dtype.kind == "f" else None
    if masks is None:
        return filter_(pixels, weights, output, mode, cval, channel_axis=channel_axis, method=method, threads=threads)
    mode, cval = resolve_mode(mode, cval, truncate=True)
    coverage = Coverage(weights, convolution, (plane.shape[0], plane.shape[1]))
    if abs(coverage.interior()) <= ZERO_SUM * coverage.magnitude:
        raise BoundaryError("a kernel whose weights sum to 0 (an edge detector) has no mean of valid samples to take")
    # Truncated, the outside is missing: 0 in the data and the masks. In constant mode
    # the fill value is a valid sample: 1 in the masks.
    edges, fill = ("constant", 0.0) if mode == TRUNCATE else (mode, 1.0)
    encode = _reciprocals(UNCOVERED_EPSILONS * np.finfo(work).eps * coverage.magnitude)
    scales = [filter_(mask, weights, None, edges, fill, channel_axis=None, method=method, threads=threads,
                      hooks=Hooks(encode=encode)) for mask in masks]
    if dtype.kind != "f":
        uncovered = sum(int(np.count_nonzero(np.isnan(scale))) for scale in scales)
        if uncovered:
            raise InvalidInputError(f"{uncovered} sample(s) have no valid (non-NaN) sample within the kernel's "
                                    f"reach: their NaN results need a float output, not {dtype}")
    result = np.empty(plane.shape, dtype)
    # One mask serves every channel, or each channel has its own.
    groups = [slice(None)] if len(scales) == 1 else [slice(c, c + 1) for c in range(len(scales))]
    for group, scale in zip(groups, scales, strict=True):
        filter_(plane[:, :, group], weights, result[:, :, group], edges, cval, channel_axis=-1, method=method,
                threads=threads, hooks=Hooks(prepare=_zero_missing, scale=scale))
    return result[..., 0] if axis is None else np.moveaxis(result, 2, axis)


def _valid_masks(plane: np.ndarray, work: np.dtype[Any], threads: int | None = None) -> np.ndarray | None:
    """The masks of valid samples of ``plane`` (H, W, C) as floats of ``work``, 1 for
    a number and 0 for NaN: (1, H, W) when every pixel has all its channels NaN or
    none, so that one mask serves them all, else (C, H, W); None if no sample is NaN.

    Chunks of rows, on ``threads`` threads, count the NaN samples, look for a pixel
    whose channels are not all alike (a change between neighbouring samples of the
    NaN flags, read in memory order, that is not between two pixels) and make the
    first channel's mask.
    """
    height, width, channels = plane.shape
    first = np.empty((1, height, width), work)
    counts = np.zeros((-(-height // CHUNK_ROWS), 2), np.int64)

    def count(rows: slice) -> None:
        missing = np.isnan(plane[rows])
        np.logical_not(missing[:, :, 0], out=first[0, rows], casting="unsafe")
        unlike = 0
        if channels > 1:
            flags = missing.reshape(len(missing), width * channels)
            changes = flags[:, 1:] != flags[:, :-1]
            unlike = np.count_nonzero(changes) - np.count_nonzero(changes[:, channels - 1 :: channels])
        counts[rows.start // CHUNK_ROWS] = np.count_nonzero(missing), unlike

    in_chunks(height, count, threads)
    samples, unlike = counts.sum(axis=0)
    if samples == 0:
        return None
    if unlike == 0:
        return first
    return np.logical_not(np.isnan(plane)).transpose(2, 0, 1).astype(work, order="C")


def _zero_missing(band: np.ndarray) -> None:
    """NaN samples of a band set to 0, every other kept bit for bit: its bits, as
    integers, times 1 for numbers and 0 for NaN. That costs 1.1 ns a pixel where
    ``np.copyto(band, 0, where=np.isnan(band))`` took 2.2 (bands of a 4K RGB float32
    image, one thread)."""
    bits = band.view(f"i{band.itemsize}")
    np.multiply(bits, np.equal(band, band), out=bits)


def _reciprocals(threshold: float) -> Encoder:
    """An encoder of filtered masks: the reciprocals of the sums of valid weights,
    NaN where they are at most ``threshold``, none being covered."""

    def encode(covered: np.ndarray, target: np.ndarray) -> None:
        uncovered = np.abs(covered) <= threshold
        with np.errstate(divide="ignore"):
            np.reciprocal(covered, out=target)
        target[uncovered] = np.nan

    return encode
