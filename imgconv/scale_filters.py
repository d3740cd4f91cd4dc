"""The command line's filters for shaped and scale-space kernels: `imgconv.filters.Filter`
records made from `imgconv.gaussians` and `imgconv.scalespace`, as a command applies them.

Kernels are applied as the presets are (`imgconv.filters.preset_filter`: convolved after
a 180° rotation, so that ``--print-kernel`` prints what convolution reproduces), so the
results equal ``scipy.ndimage``'s correlations with them. Signed responses (derivatives,
DoG, LoG) show their absolute value in images, as ``sobel`` does; ``.npy`` outputs keep
the sign.
"""

from collections.abc import Sequence
from dataclasses import replace

from .engine import EngineOptions
from .errors import InvalidInputError
from .filters import ABSOLUTE, MAGNITUDE, Filter, preset_filter
from .gaussians import Pair, axis_box, axis_gaussian, rotated_gaussian
from .scalespace import difference_of_gaussians_kernel, gradient_kernels, laplacian_of_gaussian_kernel


def shaped_blur_filter(sigma: Pair | None = None, *, radius: Pair | None = None, angle: float = 0.0,
                       order: int | Sequence[int] = 0, engine: EngineOptions = EngineOptions()) -> Filter:
    """``blur`` with sigmas and radii per axis (``(x, y)``), derivative ``order``, or
    turned by ``angle`` degrees counter-clockwise (then ``sigma`` is ``(along,
    across)`` the ellipse's major axis, and the kernel dense: no derivatives)."""
    derivative = any((order,) if isinstance(order, int) else order)
    if angle:
        if derivative or sigma is None:
            raise InvalidInputError("a rotated Gaussian takes its sigmas and no derivative order")
        filt = preset_filter(rotated_gaussian(sigma, angle, radius=radius), engine=engine)
    else:
        filt = preset_filter(axis_gaussian(sigma, radius=radius, order=order), engine=engine)
    return replace(filt, display=ABSOLUTE) if derivative else filt


def box_filter(size: Pair, *, engine: EngineOptions = EngineOptions()) -> Filter:
    """``box --size W,H``."""
    return preset_filter(axis_box(size), engine=engine)


def difference_of_gaussians_filter(sigma1: Pair, sigma2: Pair, *, radius: Pair | None = None,
                                   engine: EngineOptions = EngineOptions()) -> Filter:
    """``dog``: ``blur(sigma1) - blur(sigma2)``."""
    kernel = difference_of_gaussians_kernel(sigma1, sigma2, radius=radius)
    return replace(preset_filter(kernel, engine=engine), display=ABSOLUTE)


def laplacian_of_gaussian_filter(sigma: Pair, *, radius: Pair | None = None,
                                 engine: EngineOptions = EngineOptions()) -> Filter:
    """``log``: the Laplacian of a Gaussian blur."""
    kernel = laplacian_of_gaussian_kernel(sigma, radius=radius)
    return replace(preset_filter(kernel, engine=engine), display=ABSOLUTE)


def gradient_magnitude_filter(sigma: Pair, *, radius: Pair | None = None,
                              engine: EngineOptions = EngineOptions()) -> Filter:
    """``gradient``: the Gaussian gradient magnitude, band by band."""
    passes = tuple((kernel.rotated(), True) for kernel in gradient_kernels(sigma, radius=radius))
    return Filter(passes, MAGNITUDE, None, engine)
