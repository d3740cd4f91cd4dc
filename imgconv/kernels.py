"""Preset kernels, each with its formula, and a registry that lists them.

Kernels are written as they lie over the image: weight ``[i, j]`` multiplies the pixel
``i - kh//2`` rows below and ``j - kw//2`` columns right of the output pixel when the
kernel is applied by `imgconv.correlate`. For the symmetric presets (Gaussian, box,
Laplacian, sharpen, unsharp, motion) correlation and convolution give the same result;
for the oriented ones (Sobel, Prewitt, Scharr, emboss) correlation is what makes the
response positive where intensity grows to the right (x) or downwards (y), as
``scipy.ndimage.sobel`` does.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .engine import MAX_KERNEL_SIZE, MAX_RADIUS, MAX_SEPARABLE_SIZE, SeparableKernel
from .errors import InvalidInputError, KernelError


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidInputError(message)


def _limit(size: int, largest: int, name: str) -> None:
    """Refuse a kernel of ``size`` taps along an axis above ``largest``, before anything
    is allocated: a dense one has ``size²`` weights."""
    if size > largest:
        if largest == MAX_KERNEL_SIZE:
            raise KernelError(f"{name} kernel would be {_count(size)}x{_count(size)}; the largest dense kernel is "
                              f"{largest}x{largest}")
        radius = f" (radius {_count(size // 2)})" if size % 2 else ""
        raise KernelError(f"{name} kernel would be {_count(size)} taps wide{radius}; the widest is "
                          f"{largest} (radius {MAX_RADIUS})")


def _count(number: float) -> str:
    """A whole number for a message: its digits, or ``6e+300`` once they are too many to read."""
    return str(number) if number < 10**12 else f"{number:.3g}"


def identity() -> np.ndarray:
    """The 1x1 kernel ``[[1]]``: filtering with it returns the image unchanged."""
    return np.ones((1, 1))


def gaussian(sigma: float | None = None, *, radius: float | None = None) -> np.ndarray:
    """Gaussian blur: ``outer(g, g)`` with ``g[i] = exp(-i² / (2 sigma²))``, i in [-r, r].

    ``g`` is normalised to sum 1, so the kernel (size 2r+1) sums to 1. Sigma comes
    first, as in ``scipy.ndimage.gaussian_filter`` and ``skimage.filters.gaussian``, and
    the radius is a keyword, as scipy's ``radius``. With only ``sigma``, ``radius =
    ceil(3 sigma)`` (scipy's default is ``round(4 sigma)``: give ``radius`` to match it);
    with only ``radius``, ``sigma = radius / 3``. The kernel is dense, so at most
    1025x1025 (radius 512); `separable_gaussian` is the same kernel held as its factor,
    for radii up to 100000.

    Examples
    --------
    >>> gaussian(1).shape, gaussian(radius=6).shape
    ((7, 7), (13, 13))
    >>> gaussian(1, radius=1).round(4)
    array([[0.0751, 0.1238, 0.0751],
           [0.1238, 0.2042, 0.1238],
           [0.0751, 0.1238, 0.0751]])
    """
    g = _gaussian_taps(sigma, radius, MAX_KERNEL_SIZE)
    return np.outer(g, g)


def separable_gaussian(sigma: float | None = None, *, radius: float | None = None) -> SeparableKernel:
    """`gaussian` as a `SeparableKernel`, one term ``(g, g)``: radius up to 100000.

    Examples
    --------
    >>> separable_gaussian(1, radius=1).terms[0][0].round(4)
    array([0.2741, 0.4519, 0.2741])
    """
    g = _gaussian_taps(sigma, radius, MAX_SEPARABLE_SIZE)
    return SeparableKernel([(g, g)])


def _gaussian_taps(sigma: float | None, radius: float | None, largest: int) -> np.ndarray:
    """`gaussian`'s ``g``, refused if longer than ``largest`` before it is made."""
    if sigma is None:
        if radius is None:
            raise InvalidInputError("gaussian needs a radius or a sigma")
        _require(radius > 0, f"radius must be > 0 when sigma is not given, got {radius}")
        sigma = radius / 3
    _require(0 < sigma < math.inf, f"sigma must be > 0 and finite, got {sigma}")
    if radius is None:
        if 3 * sigma > 2**53:  # beyond any kernel; its size refused in words before ceil() meets infinity
            raise KernelError(f"a gaussian kernel of sigma {sigma:.6g} would be wider than the widest, {largest} taps")
        radius = math.ceil(3 * sigma)
    _require(radius >= 0 and radius == int(radius), f"radius must be a whole number >= 0, got {radius}")
    _limit(2 * int(radius) + 1, largest, "gaussian")
    i = np.arange(-int(radius), int(radius) + 1)
    g = np.exp(-(i**2) / (2.0 * sigma**2))
    return g / g.sum()


def box(*, radius: float | None = None, size: float | None = None) -> np.ndarray:
    """Box (mean) filter: a size x size kernel of ``1 / size²``; size = 2·radius + 1.

    Give ``radius`` or ``size``, by name; an even ``size`` is anchored as
    `imgconv.engine` says. The kernel is dense, so at most 1025x1025; `separable_box`
    has no such limit.

    Examples
    --------
    >>> box(radius=1)
    array([[0.11111111, 0.11111111, 0.11111111],
           [0.11111111, 0.11111111, 0.11111111],
           [0.11111111, 0.11111111, 0.11111111]])
    """
    size = _box_size(radius, size, MAX_KERNEL_SIZE)
    return np.full((size, size), 1.0 / size**2)


def separable_box(*, radius: float | None = None, size: float | None = None) -> SeparableKernel:
    """`box` as a `SeparableKernel`: columns of ``1 / size²`` and rows of ones, whose
    product is exactly `box`'s weight; radius up to 100000 (size 200001)."""
    size = _box_size(radius, size, MAX_SEPARABLE_SIZE)
    return SeparableKernel([(np.full(size, 1.0 / size**2), np.ones(size))])


def _box_size(radius: float | None, size: float | None, largest: int, name: str = "box") -> int:
    """The taps along an axis of a box (or tent) of ``radius`` or ``size``, refused
    beyond ``largest``."""
    _require((radius is None) != (size is None), f"{name} needs exactly one of radius or size")
    if radius is not None:  # and size is None
        _require(radius >= 0 and radius == int(radius), f"radius must be a whole number >= 0, got {radius}")
        size = 2 * int(radius) + 1
    assert size is not None  # exactly one of the two is given
    _require(size >= 1 and size == int(size), f"size must be a whole number >= 1, got {size}")
    _limit(int(size), largest, name)
    return int(size)


def tent(*, radius: float | None = None, size: float | None = None) -> np.ndarray:
    """Tent (triangle) filter: ``outer(t, t)`` with ``t`` the weights 1, 2, ..., r+1,
    ..., 2, 1 normalised to sum 1; size = 2·radius + 1.

    ``t`` is the convolution of two boxes of r + 1 taps, so the tent is the fast stand-in
    for a Gaussian that running sums filter at a cost that does not grow with the
    radius (`imgconv.engine`'s ``running-sums``). An even ``size`` n gives the weights
    ``min(i + 1, n - i)``, 1, 2, ..., n/2, n/2, ..., 2, 1 (two boxes of n/2 and n/2 + 1
    taps), anchored as `imgconv.engine` says. The kernel is dense, so at most
    1025x1025; `separable_tent` has no such limit.

    Examples
    --------
    >>> tent(radius=1) * 16
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    t = _tent_taps(radius, size, MAX_KERNEL_SIZE)
    return np.outer(t, t)


def separable_tent(*, radius: float | None = None, size: float | None = None) -> SeparableKernel:
    """`tent` as a `SeparableKernel`, one term ``(t, t)`` (its dense form is `tent`'s
    array bit for bit); radius up to 100000."""
    t = _tent_taps(radius, size, MAX_SEPARABLE_SIZE)
    return SeparableKernel([(t, t)])


def _tent_taps(radius: float | None, size: float | None, largest: int) -> np.ndarray:
    """`tent`'s ``t``, refused if longer than ``largest`` before it is made."""
    length = _box_size(radius, size, largest, "tent")
    t = np.minimum(np.arange(1, length + 1), np.arange(length, 0, -1)).astype(np.float64)
    return t / t.sum()


def _gradient(smoothing: Sequence[float], direction: str) -> np.ndarray:
    """``outer(smoothing, [-1, 0, 1])`` for x; its transpose for y."""
    _require(direction in ("x", "y"), f"direction must be 'x' or 'y', got {direction!r}")
    x = np.outer(smoothing, [-1.0, 0.0, 1.0])
    return x if direction == "x" else x.T.copy()


def sobel(direction: str = "x") -> np.ndarray:
    """Sobel derivative: x = ``[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]``, y its transpose."""
    return _gradient([1.0, 2.0, 1.0], direction)


def prewitt(direction: str = "x") -> np.ndarray:
    """Prewitt derivative: x = ``[[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]]``, y its transpose."""
    return _gradient([1.0, 1.0, 1.0], direction)


def scharr(direction: str = "x") -> np.ndarray:
    """Scharr derivative: x = ``[[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]]``, y its transpose."""
    return _gradient([3.0, 10.0, 3.0], direction)


_LAPLACE_4 = np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def laplacian(diagonals: bool = False) -> np.ndarray:
    """Discrete Laplacian: ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]``.

    With ``diagonals=True`` the 8-neighbour form ``[[1, 1, 1], [1, -8, 1], [1, 1, 1]]``.
    """
    if diagonals:
        kernel = np.ones((3, 3))
        kernel[1, 1] = -8.0
        return kernel
    return _LAPLACE_4.copy()


def sharpen(amount: float = 1.0) -> np.ndarray:
    """Sharpen: ``identity - amount · laplacian``.

    That is ``[[0, -a, 0], [-a, 1 + 4a, -a], [0, -a, 0]]``; amount 1 gives the classic
    ``[[0, -1, 0], [-1, 5, -1], [0, -1, 0]]``. It sums to 1 for every amount.
    """
    kernel = -amount * _LAPLACE_4 + 0.0  # + 0.0 turns -0.0 into 0.0 for printing
    kernel[1, 1] += 1.0
    return kernel


def emboss() -> np.ndarray:
    """Emboss, lit from the top left: ``[[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]`` (sums to 1)."""
    return np.array([[-2.0, -1.0, 0.0], [-1.0, 1.0, 1.0], [0.0, 1.0, 2.0]])


def unsharp(sigma: float | None = None, *, radius: float | None = None, amount: float = 1.0) -> np.ndarray:
    """Unsharp mask: ``identity + amount · (identity - gaussian(sigma, radius=radius))``.

    Sums to 1; the size is that of the Gaussian, at most 1025x1025 as it is dense;
    `separable_unsharp` has no such limit.

    Examples
    --------
    >>> unsharp(1, radius=1, amount=2).round(3)
    array([[-0.15 , -0.248, -0.15 ],
           [-0.248,  2.592, -0.248],
           [-0.15 , -0.248, -0.15 ]])
    """
    blur = gaussian(sigma, radius=radius)
    kernel = -amount * blur
    centre = blur.shape[0] // 2
    kernel[centre, centre] += 1.0 + amount
    return kernel


def separable_unsharp(sigma: float | None = None, *, radius: float | None = None, amount: float = 1.0
                      ) -> SeparableKernel:
    """`unsharp` as a `SeparableKernel` of two terms, ``(1 + a) · δ ⊗ δ - a · g ⊗ g``
    (δ the unit impulse at the centre, ``g`` the Gaussian's factor); radius up to 100000."""
    g = _gaussian_taps(sigma, radius, MAX_SEPARABLE_SIZE)
    impulse = np.zeros_like(g)
    impulse[len(g) // 2] = 1.0
    return SeparableKernel([((1.0 + amount) * impulse, impulse), (-amount * g, g)])


def motion(length: float, angle: float = 0.0) -> np.ndarray:
    """Motion blur along a line segment of ``length`` pixels through the centre.

    ``angle`` is in degrees, counter-clockwise from the positive x axis as seen on
    screen (rows grow downwards). Each weight is the length of the segment that
    crosses that pixel's unit square, normalised to sum 1, so an odd length at 0° gives
    a row of equal weights and other angles an anti-aliased line. The kernel is
    square, of size ``2·ceil((length - 1) / 2) + 1``, at most 1025 (length 1025).
    """
    _require(length >= 1, f"length must be >= 1, got {length}")
    # The size is at most 1025 exactly when the length is; checked first, as the
    # kernel is dense and an infinite length has no ceiling.
    if length > MAX_KERNEL_SIZE:
        raise KernelError(f"motion length {length:g} is too long: the kernel would be wider than the largest "
                          f"dense kernel, {MAX_KERNEL_SIZE}x{MAX_KERNEL_SIZE} (length {MAX_KERNEL_SIZE})")
    radius = math.ceil((length - 1) / 2)
    theta = math.radians(angle)
    # Direction in (column, row) coordinates; rows grow downwards, hence the minus.
    dx, dy = math.cos(theta), -math.sin(theta)
    dx, dy = (0.0 if abs(d) < 1e-12 else d for d in (dx, dy))
    centres = np.arange(-radius, radius + 1, dtype=np.float64)
    rows, cols = np.meshgrid(centres, centres, indexing="ij")
    lo = np.full(rows.shape, -length / 2)
    hi = np.full(rows.shape, length / 2)
    for d, c in ((dx, cols), (dy, rows)):
        # The segment point t·d lies inside the square |coordinate - c| <= 0.5 for t in
        # [(c - 0.5) / d, (c + 0.5) / d] (swapped for d < 0); d = 0 means always or never.
        if d == 0:
            outside = np.abs(c) > 0.5
            hi[outside] = lo[outside]
        else:
            a, b = (c - 0.5) / d, (c + 0.5) / d
            lo = np.maximum(lo, np.minimum(a, b))
            hi = np.minimum(hi, np.maximum(a, b))
    kernel = np.clip(hi - lo, 0.0, None)
    return kernel / kernel.sum()


@dataclass(frozen=True)
class Preset:
    """A named preset: the function that makes its kernel and a one-line summary."""

    name: str
    make: Callable[..., np.ndarray]
    summary: str


PRESETS = {
    p.name: p
    for p in (
        Preset("gaussian", gaussian, "Gaussian blur with radius and sigma"),
        Preset("box", box, "mean of a square neighbourhood"),
        Preset("tent", tent, "triangle-weighted mean (weights 1, 2, ..., r+1, ..., 2, 1): a box of a box"),
        Preset("sobel", sobel, "Sobel derivative in x or y"),
        Preset("prewitt", prewitt, "Prewitt derivative in x or y"),
        Preset("scharr", scharr, "Scharr derivative in x or y, the most rotation-invariant 3x3"),
        Preset("laplacian", laplacian, "second derivative: edges and spots, 4 or 8 neighbours"),
        Preset("sharpen", sharpen, "identity minus amount times the Laplacian"),
        Preset("unsharp", unsharp, "identity plus amount times (identity minus Gaussian)"),
        Preset("emboss", emboss, "relief lit from the top left"),
        Preset("motion", motion, "blur along a line of given length and angle"),
        Preset("identity", identity, "returns the image unchanged"),
    )
}
