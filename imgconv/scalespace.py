"""Scale-space filters: Gaussian derivatives, difference of Gaussians, Laplacian of
Gaussian and Gaussian gradient magnitude, as kernels and as calls of the engine.

Each kernel is held as 1-D factors (`imgconv.SeparableKernel`): the engine runs
them as pairs of 1-D passes, as it runs a blur. They equal ``scipy.ndimage``'s
functions with the same radius (pairs are ``(x, y)``, scipy's axes are ``(y, x)``):

=====================================  ===================================================
``gaussian_derivative(im, s, o)``      ``gaussian_filter(im, s, order=o)``
``difference_of_gaussians(im, a, b)``  ``gaussian_filter(im, a) - gaussian_filter(im, b)``
``laplacian_of_gaussian(im, s)``       ``gaussian_laplace(im, s)``
``gradient_magnitude(im, s)``          ``gaussian_gradient_magnitude(im, s)``
=====================================  ===================================================

The calls take the engine's options as keywords (``mode``, ``cval``, ``method``,
``output``, ``threads``: see `imgconv.engine.correlate`) and filter each channel of an
(H, W) or (H, W, C) image. Defaults are those of `imgconv.gaussians`: a radius of
``ceil(3 sigma)`` (scipy's is ``round(4 sigma)``).
"""

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .engine import SeparableKernel, correlate, magnitude
from .gaussians import Pair, axis_gaussian


def difference_of_gaussians_kernel(sigma1: Pair, sigma2: Pair, *, radius: Pair | None = None) -> SeparableKernel:
    """The kernel of ``blur(sigma1) - blur(sigma2)``: two terms, ``g1 ⊗ g1 - g2 ⊗ g2``.

    With ``radius``, both Gaussians reach that far (scipy's ``radius=``); without, each
    its own default, the narrower one padded with zeros to the wider one's size. A
    band-pass for ``sigma1 < sigma2`` (the usual order); swapped, the sign flips.

    Examples
    --------
    >>> k = difference_of_gaussians_kernel(1.0, 2.0)
    >>> k.shape, abs(k.sum()) < 1e-12
    ((13, 13), True)
    """
    first, second = (axis_gaussian(s, radius=radius).terms[0] for s in (sigma1, sigma2))
    rows, columns = (max(len(a), len(b)) for a, b in zip(first, second, strict=True))
    (c1, r1), (c2, r2) = ((_padded(c, rows), _padded(r, columns)) for c, r in (first, second))
    return SeparableKernel([(c1, r1), (-c2, r2)])


def laplacian_of_gaussian_kernel(sigma: Pair, *, radius: Pair | None = None) -> SeparableKernel:
    """The kernel of ``∂²/∂x² + ∂²/∂y²`` of a Gaussian blur: ``g ⊗ g'' + g'' ⊗ g``.

    Examples
    --------
    >>> laplacian_of_gaussian_kernel(1.0, radius=1).dense().round(3)
    array([[ 0.   , -0.124,  0.   ],
           [-0.124, -0.408, -0.124],
           [ 0.   , -0.124,  0.   ]])
    """
    (c, r2), = axis_gaussian(sigma, radius=radius, order=(2, 0)).terms
    (c2, r), = axis_gaussian(sigma, radius=radius, order=(0, 2)).terms
    return SeparableKernel([(c, r2), (c2, r)])


def gradient_kernels(sigma: Pair, *, radius: Pair | None = None) -> tuple[SeparableKernel, SeparableKernel]:
    """The first derivatives of a Gaussian blur along x and y, whose responses'
    Euclidean norm is the gradient magnitude (`gradient_magnitude`)."""
    return axis_gaussian(sigma, radius=radius, order=(1, 0)), axis_gaussian(sigma, radius=radius, order=(0, 1))


def gaussian_derivative(image: ArrayLike, sigma: Pair, order: int | Sequence[int] = 0, *, radius: Pair | None = None,
                        **engine: Any) -> np.ndarray:
    """A Gaussian blur, or its derivative of ``order`` (``(x, y)``, each 0 to 3).

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
        Any real numeric dtype; channels are filtered independently.
    sigma : float or (float, float)
        Standard deviations in pixels, ``(x, y)``.
    order : int or (int, int)
        Derivative order along each axis, ``(x, y)``; 0 is the blur itself.
    radius : int or (int, int), optional
        Taps each side of the centre, ``(x, y)``; default ``ceil(3 sigma)``.
    **engine
        `imgconv.engine.correlate`'s options: ``mode`` (``truncate`` too),
        ``cval``, ``method``, ``output``, ``threads``.

    Returns
    -------
    numpy.ndarray
        The image's shape, of `imgconv.engine.correlate`'s type: float32 (float64 for
        float64 images) unless ``output`` says otherwise.

    Examples
    --------
    >>> gaussian_derivative([[0.0, 1.0, 2.0, 3.0]], 1.0, (1, 0), mode="nearest").round(3)
    array([[0.498, 0.848, 0.848, 0.498]])
    """
    return correlate(image, axis_gaussian(sigma, radius=radius, order=order), **engine)


def difference_of_gaussians(image: ArrayLike, sigma1: Pair, sigma2: Pair, *, radius: Pair | None = None,
                            **engine: Any) -> np.ndarray:
    """``blur(image, sigma1) - blur(image, sigma2)``, in one call of the engine (see
    `difference_of_gaussians_kernel`); parameters and result as `gaussian_derivative`'s,
    ``sigma1`` and ``sigma2`` each one number or ``(x, y)``. Signed: positive on spots
    smaller than about ``sigma2`` brighter than their surround."""
    return correlate(image, difference_of_gaussians_kernel(sigma1, sigma2, radius=radius), **engine)


def laplacian_of_gaussian(image: ArrayLike, sigma: Pair, *, radius: Pair | None = None, **engine: Any) -> np.ndarray:
    """The Laplacian of a Gaussian blur (see `laplacian_of_gaussian_kernel`): negative
    on bright spots about sigma·√2 across, positive on dark ones. Parameters and result
    as `gaussian_derivative`'s."""
    return correlate(image, laplacian_of_gaussian_kernel(sigma, radius=radius), **engine)


def gradient_magnitude(image: ArrayLike, sigma: Pair, *, radius: Pair | None = None, **engine: Any) -> np.ndarray:
    """``hypot`` of the Gaussian's x and y derivatives, band by band
    (`imgconv.engine.magnitude`, whose options ``engine`` passes on). Parameters and
    result as `gaussian_derivative`'s; never negative."""
    return magnitude(image, gradient_kernels(sigma, radius=radius), **engine)


def _padded(taps: np.ndarray, length: int) -> np.ndarray:
    """``taps`` centred in ``length`` with zeros each side (both lengths are odd)."""
    side = (length - len(taps)) // 2
    return np.pad(taps, side)

