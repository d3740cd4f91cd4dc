"""Shaped kernels: Gaussians with a sigma and a radius per axis, their derivatives and
rotations, and boxes with a size per axis.

Pairs are written horizontal first, ``(x, y)``, as OpenCV's ``sigmaX, sigmaY`` and
ImageMagick's ``WxH``; a single number is used for both axes. As in `imgconv.kernels`,
kernels are written as they lie over the image for `imgconv.correlate`, so
``correlate(image, axis_gaussian(sigma, order=(ox, oy), radius=r))`` equals
``scipy.ndimage.gaussian_filter(image, (sy, sx), order=(oy, ox), radius=(ry, rx))``.

Defaults follow `imgconv.kernels.gaussian`: with only a sigma the radius is
``ceil(3 sigma)``; with only a radius the sigma is ``radius / 3``.
"""

import math
from collections.abc import Sequence

import numpy as np

from .engine import MAX_KERNEL_SIZE, MAX_SEPARABLE_SIZE, SeparableKernel
from .errors import InvalidInputError, KernelError

Pair = float | Sequence[float]
"""One number for both axes, or ``(x, y)``."""

MAX_ORDER = 3
"""The highest derivative order along an axis (scipy's own has none; third derivatives
are the highest that scale-space feature detectors use)."""


def pair(value: Pair | None, name: str) -> tuple[float, float] | None:
    """``value`` as ``(x, y)``: a number twice, or a pair as it is; None stays None."""
    if value is None:
        return None
    if isinstance(value, (int, float, np.number)):
        return float(value), float(value)
    values = tuple(float(v) for v in value)
    if len(values) != 2:
        raise InvalidInputError(f"{name} takes one number or two (x, y), got {len(values)}")
    return values[0], values[1]


def gaussian_taps(sigma: float | None, radius: float | None = None, order: int = 0,
                  largest: int = MAX_SEPARABLE_SIZE) -> np.ndarray:
    """The 1-D Gaussian ``g[i] = exp(-i² / (2 sigma²))``, ``i`` in ``[-r, r]``, normalised
    to sum 1, or its derivative of ``order`` (1 to 3) with respect to ``i``, as
    ``scipy.ndimage``'s ``_gaussian_kernel1d`` makes it: the polynomial that the
    derivative multiplies ``g`` by, evaluated on the same taps (so a derivative of the
    normalised Gaussian). Written as a function of ``i``, not reversed for correlation.

    Refused, before anything is allocated, if longer than ``largest`` taps.

    Examples
    --------
    >>> gaussian_taps(1.0, 1, order=1).round(4)
    array([ 0.2741,  0.    , -0.2741])
    """
    if sigma is None:
        if radius is None:
            raise InvalidInputError("a Gaussian needs a radius or a sigma")
        if not radius > 0:
            raise InvalidInputError(f"radius must be > 0 when sigma is not given, got {radius}")
        sigma = radius / 3
    if not 0 < sigma < math.inf:
        raise InvalidInputError(f"sigma must be > 0 and finite, got {sigma}")
    if radius is None:
        if 3 * sigma > 2**53:  # beyond any kernel; its size refused in words before ceil() meets infinity
            raise KernelError(f"Gaussian of sigma {sigma:.6g} would be wider than the widest, {largest} taps")
        radius = math.ceil(3 * sigma)
    if not (radius >= 0 and radius == int(radius)):
        raise InvalidInputError(f"radius must be a whole number >= 0, got {radius}")
    if order not in range(MAX_ORDER + 1):
        raise InvalidInputError(f"derivative order must be 0 to {MAX_ORDER}, got {order}")
    if 2 * int(radius) + 1 > largest:
        raise KernelError(f"Gaussian would be {2 * int(radius) + 1} taps wide (radius {int(radius)}); "
                          f"the widest is {largest}")
    x = np.arange(-int(radius), int(radius) + 1, dtype=np.float64)
    g = np.exp(-(x**2) / (2.0 * sigma**2))
    g /= g.sum()
    # d/dx (q(x) g(x)) = (q'(x) - q(x) x / sigma²) g(x): the polynomial's coefficients,
    # lowest power first, updated once per order.
    q = np.zeros(order + 1)
    q[0] = 1.0
    for _ in range(order):
        q = np.append(q[1:] * np.arange(1, len(q)), 0.0) - np.concatenate([[0.0], q[:-1]]) / sigma**2
    return np.polynomial.polynomial.polyval(x, q) * g


def axis_gaussian(sigma: Pair | None = None, *, radius: Pair | None = None, order: int | Sequence[int] = 0
                  ) -> SeparableKernel:
    """A Gaussian with its own sigma and radius along each axis, or its derivatives.

    The kernel is ``outer(gy, gx)``, held as its factors (one term, so filtered by two
    1-D passes as `imgconv.kernels.separable_gaussian` is), with each factor
    `gaussian_taps` along its axis reversed for correlation.

    Parameters
    ----------
    sigma : float or (float, float), optional
        Standard deviations in pixels, ``(x, y)``.
    radius : int or (int, int), optional
        Taps each side of the centre, ``(x, y)``; up to 100000.
    order : int or (int, int)
        Derivative order along each axis, ``(x, y)``, 0 (smoothing) to 3.

    Returns
    -------
    SeparableKernel
        ``2 ry + 1`` rows by ``2 rx + 1`` columns.

    Examples
    --------
    >>> axis_gaussian((2.0, 1.0)).shape
    (7, 13)
    >>> axis_gaussian(1.0, radius=1, order=(1, 0)).dense().round(3)
    array([[-0.075,  0.   ,  0.075],
           [-0.124,  0.   ,  0.124],
           [-0.075,  0.   ,  0.075]])
    """
    sigmas = pair(sigma, "sigma") or (None, None)
    radii = pair(radius, "radius") or (None, None)
    orders = (order, order) if isinstance(order, (int, np.integer)) else tuple(order)
    if len(orders) != 2:
        raise InvalidInputError(f"order takes one number or two (x, y), got {len(orders)}")
    row, column = (gaussian_taps(s, r, int(o))[::-1].copy() for s, r, o in zip(sigmas, radii, orders, strict=True))
    return SeparableKernel([(column, row)])


def axis_box(size: Pair) -> SeparableKernel:
    """A box (mean) filter ``size = (width, height)`` samples; one number for a square.

    Held as its factors, a column of ``1 / (width · height)`` and a row of ones, as
    `imgconv.kernels.separable_box`; an even size is anchored as `imgconv.engine` says.

    Examples
    --------
    >>> axis_box((3, 1)).dense()
    array([[0.33333333, 0.33333333, 0.33333333]])
    """
    width, height = pair(size, "size") or (0.0, 0.0)
    for n in (width, height):
        if not (1 <= n <= MAX_SEPARABLE_SIZE and n == int(n)):
            raise InvalidInputError(f"box size must be a whole number from 1 to {MAX_SEPARABLE_SIZE}, got {n:g}")
    return SeparableKernel([(np.full(int(height), 1.0 / (width * height)), np.ones(int(width)))])


def rotated_gaussian(sigma: Pair, angle: float, *, radius: Pair | None = None) -> np.ndarray:
    """A Gaussian whose impulse response is an ellipse turned by ``angle``.

    ``sigma`` is ``(along, across)``: the standard deviation along the ellipse's major
    axis, which lies at ``angle`` degrees counter-clockwise from the positive x axis as
    seen on screen (as `imgconv.kernels.motion`'s angle; rows grow downwards), and
    across it. Weight ``(y, x)`` is ``exp(-½ pᵀ C⁻¹ p)`` for ``p = (x, y)``, with ``C``
    the covariance ``R diag(along², across²) Rᵀ``, R the rotation; the weights sum to 1.
    At 0° (90°) it equals `axis_gaussian` with ``(along, across)`` (``(across, along)``).

    The kernel is dense (a rotated Gaussian is not a product of two 1-D ones), so at
    most 1025x1025. By default each axis reaches ``ceil(3 s)`` taps, ``s`` the
    ellipse's standard deviation along that axis (``sqrt(C[0, 0])`` for x); ``radius``
    sets ``(x, y)``.

    Examples
    --------
    >>> k = rotated_gaussian((3.0, 1.0), 45)
    >>> k.shape, bool(k[0, -1] > k[0, 0])  # the top right corner lies on the major axis
    ((15, 15), True)
    """
    along, across = pair(sigma, "sigma") or (0.0, 0.0)
    for s in (along, across):
        if not 0 < s < math.inf:
            raise InvalidInputError(f"sigma must be > 0 and finite, got {s}")
    if not math.isfinite(angle):
        raise InvalidInputError(f"angle must be finite, got {angle}")
    theta = math.radians(angle)
    # The major axis's direction in (x, y) with y growing downwards, hence the minus.
    rotation = np.array([[math.cos(theta), math.sin(theta)], [-math.sin(theta), math.cos(theta)]])
    covariance = rotation @ np.diag([along**2, across**2]) @ rotation.T
    # Less 1e-9: cos(90°) is 6e-17, not 0, which must not add a tap to 3 across.
    radii = pair(radius, "radius") or tuple(math.ceil(3 * math.sqrt(covariance[a, a]) - 1e-9) for a in (0, 1))
    for r in radii:
        if not (r >= 0 and r == int(r)):
            raise InvalidInputError(f"radius must be a whole number >= 0, got {r}")
        if 2 * int(r) + 1 > MAX_KERNEL_SIZE:
            raise KernelError(f"rotated Gaussian would be {2 * int(r) + 1} taps wide; the largest dense kernel "
                              f"is {MAX_KERNEL_SIZE}x{MAX_KERNEL_SIZE}")
    rx, ry = int(radii[0]), int(radii[1])
    y, x = np.mgrid[-ry:ry + 1, -rx:rx + 1].astype(np.float64)
    inverse = np.linalg.inv(covariance)
    exponent = inverse[0, 0] * x * x + 2 * inverse[0, 1] * x * y + inverse[1, 1] * y * y
    weights = np.exp(-0.5 * exponent)
    return weights / weights.sum()
