"""Missing data: filtering an image whose NaN samples mark pixels with no value.

Normalized convolution, as astropy.convolution interpolates over NaN: each output is
the kernel-weighted mean of the valid (non-NaN) samples it covers,
``correlate(where(nan, 0, x)) / correlate(~nan)``, both in the same boundary mode. In
``constant`` mode the fill value beyond the edges is a valid sample (it is what the
mode says lies there); in ``truncate`` mode (`imgconv.engine.truncate`) the outside is
missing as NaN is.

The data and the masks of valid samples are filtered by two calls of the engine, with
one mask for all channels when their NaN lie in the same places, so the cost is about
that of filtering ``C + 1`` channels instead of ``C`` (interleaving them as channels
of one array would cost more in copies than it saves).
"""

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .engine import ChannelAxis, KernelLike, convolve, correlate, to_dtype, work_dtype
from .engine.arrays import channel_axis_of, channels_last, check_image
from .engine.truncate import ZERO_SUM, Coverage, edge_blocks
from .errors import BoundaryError, InvalidInputError
from .vocabulary import TRUNCATE, resolve_mode

# Sums of valid weights at most this many float epsilons of the weights' magnitudes mean
# that no valid sample is covered: the direct and separable strategies give exact zeros
# there, the FFTs rounding errors of a few epsilons (below 1e-6 of the magnitudes in
# float32 for the kernels of tests/test_missing.py).
UNCOVERED_EPSILONS = 64


def interpolate_missing(input: ArrayLike, weights: KernelLike, output: DTypeLike | None = None, mode: str = "reflect",
                        cval: float = 0.0, *, channel_axis: ChannelAxis = "auto", method: str = "auto",
                        threads: int | None = None, convolution: bool = False) -> np.ndarray:
    """Filter ``input`` with NaN samples as missing: the weighted mean of the valid ones.

    Parameters are those of `imgconv.engine.correlate` (or, with ``convolution``,
    `imgconv.engine.convolve`), ``truncate`` mode included; ``origin`` aside, and
    ``output`` a type only.

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
    pixels = check_image(input)
    axis = channel_axis_of(pixels.shape, channel_axis)
    filter_ = convolve if convolution else correlate
    plane = channels_last(pixels, axis)
    missing = np.isnan(plane) if pixels.dtype.kind == "f" else None
    if missing is None or not missing.any():
        return filter_(pixels, weights, output, mode, cval, channel_axis=channel_axis, method=method, threads=threads)
    mode, cval = resolve_mode(mode, cval, truncate=True)
    coverage = Coverage(weights, convolution, (plane.shape[0], plane.shape[1]))
    if abs(coverage.interior()) <= ZERO_SUM * coverage.magnitude:
        raise BoundaryError("a kernel whose weights sum to 0 (an edge detector) has no mean of valid samples to take")
    channels = plane.shape[2]
    shared = all(np.array_equal(missing[..., 0], missing[..., c]) for c in range(1, channels))
    data = np.where(missing, plane.dtype.type(0), plane)
    masks = np.logical_not(missing[..., 0] if shared else missing).astype(work_dtype(pixels.dtype))
    # Truncated, the outside is missing: zeros in both the data and the masks.
    edges = "constant" if mode == TRUNCATE else mode
    total = filter_(data, weights, None, edges, cval, channel_axis=-1, method=method, threads=threads)
    covered = filter_(masks, weights, None, edges, cval, channel_axis=None if shared else -1, method=method,
                      threads=threads)
    if mode == "constant" and cval != 1.0:
        _count_fill_as_valid(covered, coverage, cval)
    uncovered = np.abs(covered) <= UNCOVERED_EPSILONS * np.finfo(covered.dtype).eps * coverage.magnitude
    # One reciprocal a mask, then products: quicker than a division per channel.
    with np.errstate(divide="ignore"):
        scale = np.reciprocal(covered, out=covered)
    scale[uncovered] = np.nan
    result = np.multiply(total, scale[..., np.newaxis] if shared else scale, out=total)
    result = result[..., 0] if axis is None else np.moveaxis(result, 2, axis)
    if output is None or np.dtype(output).kind == "f":
        return result if output is None else result.astype(output)
    if uncovered.any():
        raise InvalidInputError(f"{int(np.count_nonzero(uncovered))} sample(s) have no valid (non-NaN) sample within "
                                f"the kernel's reach: their NaN results need a float output, not {np.dtype(output)}")
    return to_dtype(result, output)


def _count_fill_as_valid(covered: np.ndarray, coverage: Coverage, cval: float) -> None:
    """In constant mode the masks were filtered with ``cval`` beyond the edges, where a
    valid sample counts 1: add ``(1 - cval)`` times the weights beyond the edges."""
    whole = coverage.interior()
    for rows, columns, inside in edge_blocks(coverage):
        if inside is not None:
            fill = ((1.0 - cval) * (whole - inside)).astype(covered.dtype)
            covered[rows, columns] += fill if covered.ndim == 2 else fill[..., np.newaxis]
