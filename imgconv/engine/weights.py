"""The kernels callers hand the engine: `Kernel`, `SeparableKernel`, their size limits
and `check_kernel`, which turns any of them into validated dense weights."""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ..errors import KernelError
from .taps import Term

# Kernels held as one dense array (user kernels, motion, Sobel-like presets) are at most
# this size along each axis; separable ones (`SeparableKernel`) may have factors of up to
# MAX_SEPARABLE_SIZE taps, radius 100000.
MAX_KERNEL_SIZE = 1025
MAX_RADIUS = 100_000
MAX_SEPARABLE_SIZE = 2 * MAX_RADIUS + 1


@dataclass(frozen=True)
class Kernel:
    """Kernel weights and an offset added to every filtered sample.

    The offset (in the image's sample units) comes from kernel files such as libvips
    matrices, whose result is ``sum(weights * pixels) + offset``. `convolve` and
    `correlate` accept a `Kernel` wherever they accept an array. ``source`` is the file
    it was read from, if any, which the engine's refusals name.
    """

    weights: np.ndarray
    offset: float = 0.0
    source: str | None = None

    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None) -> np.ndarray:
        return np.asarray(self.weights, dtype=dtype)


@dataclass(frozen=True, eq=False, init=False)
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
    reach distinct samples of the image (`imgconv.engine.taps.fold`).

    Parameters
    ----------
    terms : sequence of (column, row)
        1-D finite weights; every column has the same length, and so has every row.
    offset : float
        Added to every filtered sample, in the image's units.
    """

    terms: tuple[Term, ...]
    offset: float = 0.0

    def __init__(self, terms: Iterable[tuple[ArrayLike, ArrayLike]], offset: float = 0.0) -> None:
        checked = tuple((_check_factor(column, "column"), _check_factor(row, "row")) for column, row in terms)
        if not checked:
            raise KernelError("a separable kernel needs at least one term")
        if len({len(column) for column, _ in checked}) > 1 or len({len(row) for _, row in checked}) > 1:
            raise KernelError("every column of a separable kernel must have one length, and every row one length")
        object.__setattr__(self, "terms", checked)
        object.__setattr__(self, "offset", float(offset))

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the dense kernel."""
        column, row = self.terms[0]
        return len(column), len(row)

    @property
    def fits_densely(self) -> bool:
        """Whether the dense form is within `MAX_KERNEL_SIZE` along both axes."""
        return max(self.shape) <= MAX_KERNEL_SIZE

    def dense(self) -> np.ndarray:
        """The kernel as one 2-D array; `KernelError`, before allocating, if it would be
        larger than `MAX_KERNEL_SIZE` along an axis."""
        if not self.fits_densely:
            raise KernelError(f"kernel is {size_in_words(self.shape)}: too large to hold densely "
                              f"(the largest dense kernel is {size_in_words((MAX_KERNEL_SIZE,) * 2)})")
        weights = np.outer(*self.terms[0])
        for column, row in self.terms[1:]:
            weights += np.outer(column, row)
        return weights

    def rotated(self) -> "SeparableKernel":
        """The kernel turned by 180°: each factor reversed."""
        return SeparableKernel([(column[::-1], row[::-1]) for column, row in self.terms], self.offset)

    def sum(self) -> float:
        """The sum of the weights, from the factors."""
        return float(sum(column.sum() * row.sum() for column, row in self.terms))

    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None) -> np.ndarray:
        return np.asarray(self.dense(), dtype=dtype)


# What the engine's calls take as a kernel: weights as any array-like, or a `Kernel` or
# `SeparableKernel`.
KernelLike = ArrayLike | Kernel | SeparableKernel


def size_in_words(shape: tuple[int, ...]) -> str:
    """A kernel's size as the messages write it: width x height."""
    return f"{shape[1]}x{shape[0]}"


def _check_factor(taps: ArrayLike, name: str) -> np.ndarray:
    array = np.array(taps, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise KernelError(f"a separable kernel's {name} must be a non-empty 1-D array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise KernelError(f"a separable kernel's {name} contains NaN or infinite values")
    if array.size > MAX_SEPARABLE_SIZE:
        raise KernelError(f"a separable kernel's {name} has {array.size} taps; the most is "
                          f"{MAX_SEPARABLE_SIZE} (radius {MAX_RADIUS})")
    return array


def check_kernel(weights: KernelLike, name: str = "kernel") -> np.ndarray:
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
        raise KernelError(f"{name} is {size_in_words(array.shape)}; the largest kernel is "
                          f"{size_in_words((MAX_KERNEL_SIZE,) * 2)}")
    return array
