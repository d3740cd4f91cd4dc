"""The kernel as the strategies take it (`Taps`): oriented for correlation, anchored,
dense or as folded 1-D factors; and what the strategies and the cost model ask of it:
its symmetry, its rank (one criterion for rank one, `is_rank_one`) and its terms."""

import functools
from collections.abc import Sequence

import numpy as np

# A kernel's 1-D factors, ``(column, row)``: their outer product is one term of the kernel.
Term = tuple[np.ndarray, np.ndarray]
# ((above, below), (left, right)): taps beyond the anchor along each axis.
Reach = tuple[tuple[int, int], tuple[int, int]]
# (rows, columns): how far the anchor moves from the kernel's centre, as
# ``scipy.ndimage``'s ``origin`` moves it (`anchor`).
Origin = tuple[int, int]

# A kernel is taken as rank one when `factor`'s outer product reproduces each weight to
# within this fraction of the largest: about 450 float64 ulps (eps is 2.2e-16). Building
# a rank-one kernel (an outer product, normalised, flipped) and factoring it back
# through its largest entry rounds each weight by a few ulps; genuinely higher ranks
# (random, Laplacian, unsharp kernels) miss by many orders of magnitude more. A
# judgement, not a measurement.
RANK_ONE_TOLERANCE = 1e-13


class Taps:
    """A kernel oriented for correlation: dense ``weights``, or ``terms``, the outer
    products of 1-D factors, folded onto the image; ``before`` taps lie above and left
    of the anchor.

    Use `Taps.dense` or `Taps.factored`; the edge (`imgconv.engine`) builds one per call
    and every strategy reads it.
    """

    def __init__(self, before: tuple[int, int], weights: np.ndarray | None = None, terms: list[Term] | None = None
                 ) -> None:
        self.before = before
        self._weights = weights
        self._terms = terms
        self.shape: tuple[int, int] = self.weights.shape if terms is None else (len(terms[0][0]), len(terms[0][1]))

    @classmethod
    def dense(cls, weights: np.ndarray, flip: bool, origin: Origin = (0, 0)) -> "Taps":
        """Dense ``weights`` (float64, 2-D), flipped when ``flip`` (convolution), anchored
        as `anchor` says for ``origin``."""
        before = anchor(weights.shape, flip, origin)
        return cls(before, weights=weights[::-1, ::-1] if flip else weights)

    @classmethod
    def factored(cls, terms: Sequence[Term], flip: bool, mode: str, shape: tuple[int, int] | None,
                 origin: Origin = (0, 0)) -> "Taps":
        """A `SeparableKernel`'s ``terms``, flipped when ``flip``, anchored as `anchor`
        says for ``origin``, and folded (`fold`) for an image of ``shape`` in ``mode``
        unless ``shape`` is None."""
        before = anchor((len(terms[0][0]), len(terms[0][1])), flip, origin)
        if flip:
            terms = [(column[::-1], row[::-1]) for column, row in terms]
        terms = list(terms)
        if shape is not None:
            columns, top = fold([column for column, _ in terms], before[0], shape[0], mode)
            rows, left = fold([row for _, row in terms], before[1], shape[1], mode)
            terms, before = list(zip(columns, rows, strict=True)), (top, left)
        return cls(before, terms=terms)

    @property
    def weights(self) -> np.ndarray:
        """The dense weights, which only dense taps have (`is_dense`)."""
        if self._weights is None:
            raise TypeError("folded factors have no dense weights; see Taps.is_dense")
        return self._weights

    @property
    def is_dense(self) -> bool:
        """Whether the weights are held as one 2-D array (`direct` and FFT bands need it)."""
        return self._terms is None

    @property
    def reach(self) -> Reach:
        """((above, below), (left, right)): how far the kernel reaches from the anchor."""
        (top, left), (height, width) = self.before, self.shape
        return (top, height - 1 - top), (left, width - 1 - left)

    @functools.cached_property
    def symmetric(self) -> bool:
        """Whether the kernel is symmetric about its anchor along both axes (each factor
        along its own, for folded terms), which the DCT needs."""
        if self._terms is None:
            return _even(self.weights, self.before)
        return all(_even(column[:, None], (self.before[0], 0)) and _even(row[None, :], (0, self.before[1]))
                   for column, row in self._terms)

    @functools.cached_property
    def rank(self) -> int:
        """The number of outer products `terms` gives, found without building them."""
        if self._terms is not None:
            return len(self._terms)
        if self.one_term is not None:
            return 1
        return int(np.count_nonzero(_significant(np.linalg.svd(self.weights, compute_uv=False), self.shape)))

    @functools.cached_property
    def one_term(self) -> Term | None:
        """The kernel's one outer product ``(column, row)`` (`factor`), or None if it is
        not one: found once, as each strategy's estimate may ask (`rank` among them)."""
        if self._terms is not None:
            return self._terms[0] if len(self._terms) == 1 else None
        return rank_one_factor(self.weights)

    def terms(self) -> list[Term]:
        """The kernel as a list of outer products ``(column, row)``: its own factors, or
        `separable_terms` of the dense weights."""
        return self._terms if self._terms is not None else separable_terms(self.weights)


def anchor(shape: tuple[int, int], flip: bool, origin: Origin = (0, 0)) -> tuple[int, int]:
    """Taps above and left of the anchor, once the kernel of ``shape`` is oriented for
    correlation (flipped when ``flip``), as in ``scipy.ndimage``: correlation anchors a
    kernel of n taps at ``n // 2 + origin``; convolution at ``n // 2 + origin`` before
    the flip, which is ``n - 1 - n // 2 - origin`` after it. ``origin`` is checked by
    the caller to keep the anchor on the kernel (`imgconv.engine.arrays.check_origin`).

    Examples
    --------
    >>> anchor((3, 4), False), anchor((3, 4), True), anchor((3, 4), True, (1, -2))
    ((1, 2), (1, 1), (0, 3))
    """
    (kh, kw), (oy, ox) = shape, origin
    if flip:
        return kh - 1 - kh // 2 - oy, kw - 1 - kw // 2 - ox
    return kh // 2 + oy, kw // 2 + ox


def is_rank_one(weights: np.ndarray) -> bool:
    """Whether ``weights`` is one outer product: `factor`'s column and row rebuild every
    weight to within `RANK_ONE_TOLERANCE` of the largest magnitude. The one rank-one
    test of the engine; quick, with no SVD, so that the 1025x1025 kernels the FFT takes
    pay nothing for it."""
    return rank_one_factor(weights) is not None


def rank_one_factor(weights: np.ndarray) -> Term | None:
    """`factor` of ``weights`` if it is one outer product (`is_rank_one`), else None.

    The largest error is found in place in the rebuilt weights (2.6 ms for a 1001x1001
    tent where ``numpy.allclose`` took 9), and a NaN error fails as it does there."""
    column, row = factor(weights)
    error = np.outer(column, row)
    np.subtract(error, weights, out=error)
    np.abs(error, out=error)
    # The row runs through the largest magnitude.
    return (column, row) if error.max() <= RANK_ONE_TOLERANCE * np.abs(row).max() else None


def separable_terms(weights: np.ndarray) -> list[Term]:
    """The kernel as a sum of outer products ``column ⊗ row``.

    A rank-one kernel (`is_rank_one`) is factored from its own entries, through its
    largest one, so that kernels of small integers (Sobel, box) get exact taps and
    results. Others take one term per significant singular value (`_significant`).
    """
    if is_rank_one(weights):
        return [factor(weights)]
    u, s, vt = np.linalg.svd(weights)
    keep = _significant(s, weights.shape)
    return [(u[:, r] * s[r], vt[r]) for r in range(len(s)) if keep[r]]


def factor(weights: np.ndarray) -> Term:
    """``(column, row)`` whose outer product is ``weights`` if it has rank one: the
    column and row through the largest entry, the column divided by that entry."""
    i, j = np.unravel_index(np.argmax(np.abs(weights)), weights.shape)
    return weights[:, j] / (weights[i, j] or 1.0), weights[i, :].copy()  # a zero kernel: zeros


def _significant(singular_values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Singular values above the numerical rank threshold, as ``numpy.linalg.matrix_rank``
    defines it; those below are float64 rounding noise."""
    return singular_values > singular_values[0] * max(shape) * np.finfo(np.float64).eps


def _even(weights: np.ndarray, before: tuple[int, int]) -> bool:
    """Whether ``weights`` are symmetric about the anchor along both axes: padded with
    zeros to reach as far on both sides, they equal their mirror images."""
    reach = [max(b, n - 1 - b) for b, n in zip(before, weights.shape, strict=True)]
    padded = np.pad(weights, [(r - b, r - (n - 1 - b)) for r, b, n in zip(reach, before, weights.shape, strict=True)])
    return np.array_equal(padded, padded[::-1]) and np.array_equal(padded, padded[:, ::-1])


def fold(factors: list[np.ndarray], before: int, n: int, mode: str) -> tuple[list[np.ndarray], int]:
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
