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

from .engine import KernelLike, convolve, correlate, to_dtype, work_dtype
from .engine.truncate import ZERO_SUM, Coverage, edge_blocks
from .errors import BoundaryError, InvalidInputError
from .vocabulary import TRUNCATE, resolve_mode

# Sums of valid weights at most this many float epsilons of the weights' magnitudes mean
# that no valid sample is covered: the direct and separable strategies give exact zeros
# there, the FFTs rounding errors of a few epsilons (below 1e-6 of the magnitudes in
# float32 for the kernels of tests/test_missing.py).
UNCOVERED_EPSILONS = 64


def interpolate_missing(image: ArrayLike, kernel: KernelLike, boundary: str = "reflect", cval: float = 0.0,
                        method: str = "auto", output: DTypeLike | None = None, threads: int | None = None, *,
                        convolution: bool = False) -> np.ndarray:
    """Filter ``image`` with NaN samples as missing: the weighted mean of the valid ones.

    Parameters are those of `imgconv.engine.correlate` (or, with ``convolution``,
    `imgconv.engine.convolve`), ``truncate`` mode included.

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
    >>> interpolate_missing([[1.0, nan, 3.0, nan, nan, nan]], [[1.0, 1.0, 1.0]], "nearest")
    array([[ 1.,  2.,  3.,  3., nan, nan]])
    """
    pixels = np.asarray(image)
    filter_ = convolve if convolution else correlate
    plane = pixels.reshape(*pixels.shape[:2], -1)
    missing = np.isnan(plane) if pixels.dtype.kind == "f" else None
    if missing is None or not missing.any():
        return filter_(pixels, kernel, boundary, cval, method, output, threads)
    mode, cval = resolve_mode(boundary, cval, truncate=True)
    coverage = Coverage(kernel, convolution, plane.shape[:2])
    if abs(coverage.interior()) <= ZERO_SUM * coverage.magnitude:
        raise BoundaryError("a kernel whose weights sum to 0 (an edge detector) has no mean of valid samples to take")
    channels = plane.shape[2]
    shared = all(np.array_equal(missing[..., 0], missing[..., c]) for c in range(1, channels))
    data = np.where(missing, plane.dtype.type(0), plane)
    masks = np.logical_not(missing[..., 0] if shared else missing).astype(work_dtype(pixels.dtype))
    # Truncated, the outside is missing: zeros in both the data and the masks.
    edges = "constant" if mode == TRUNCATE else mode
    total = filter_(data, kernel, edges, cval, method, None, threads)
    covered = filter_(masks, kernel, edges, cval, method, None, threads)
    if mode == "constant" and cval != 1.0:
        _count_fill_as_valid(covered, coverage, cval)
    uncovered = np.abs(covered) <= UNCOVERED_EPSILONS * np.finfo(covered.dtype).eps * coverage.magnitude
    # One reciprocal a mask, then products: quicker than a division per channel.
    with np.errstate(divide="ignore"):
        scale = np.reciprocal(covered, out=covered)
    scale[uncovered] = np.nan
    result = np.multiply(total, scale[..., np.newaxis] if shared else scale, out=total).reshape(pixels.shape)
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
