"""The scale-space and deconvolution commands as functions on arrays, named as the
commands are: ``imgconv.dog(image, 1, 2)`` computes what ``imgconv dog --sigma 1
--sigma2 2`` computes, with the same kernels (`imgconv.scalespace`), the same
deconvolution (`imgconv.restoration`) and the same engine.

They take the words of `imgconv.ndimage`'s filters (``output``, ``mode``, ``cval``,
``channel_axis``, ``method``, ``threads``: see its module docstring) and return floats
by its rule, float32 for images of up to 16 bits (``deconvolve``: float64), with their
signs: the command line shows a signed response in an image as its absolute value, and
writes the float one to ``.npy``, as these return it. Sigmas and radii are one number each, the same along
both axes (the command line's ``SX,SY`` pairs are `imgconv.scalespace`'s).

Their independent references, to float precision: ``scipy.ndimage``'s
``gaussian_filter`` (a difference of two), ``gaussian_laplace`` and
``gaussian_gradient_magnitude`` with the same ``radius``, and scikit-image's
``filters.difference_of_gaussians``, ``restoration.richardson_lucy`` and
``restoration.wiener`` where their choices agree (see each function).
"""

from numbers import Real

import numpy as np
from numpy.typing import ArrayLike

from .engine import ChannelAxis, KernelLike, OutputLike
from .engine.arrays import channel_axis_of, check_image
from .errors import InvalidInputError
from .ndimage import run
from .restoration import RICHARDSON_LUCY, deconvolve_filter
from .scale_filters import difference_of_gaussians_filter, gradient_magnitude_filter, laplacian_of_gaussian_filter

__all__ = ["deconvolve", "dog", "gradient", "log"]


def dog(image: ArrayLike, sigma: float, sigma2: float, *, radius: int | None = None, output: OutputLike = None,
        mode: str = "reflect", cval: float = 0.0, channel_axis: ChannelAxis = "auto", method: str = "auto",
        threads: int | None = None) -> np.ndarray:
    """Difference of Gaussians, ``blur(sigma) - blur(sigma2)``: ``imgconv dog --sigma
    SIGMA --sigma2 SIGMA2 --radius RADIUS``, a band-pass that keeps detail between the
    two scales, in one pass of the engine (`imgconv.scalespace.difference_of_gaussians_kernel`).

    Parameters
    ----------
    image : array_like
        (H, W), or 3-D with an axis of channels (``channel_axis``).
    sigma, sigma2 : float
        The two standard deviations in pixels, ``sigma < sigma2``.
    radius : int, optional
        Both Gaussians reach this far each way; by default each its own ``ceil(3
        sigma)``, the narrower padded with zeros.

    Other Parameters
    ----------------
    output, mode, cval, channel_axis, method, threads
        As for `imgconv.correlate` (see `imgconv.ndimage`).

    Returns
    -------
    numpy.ndarray
        The image's shape, floats by default, signed.

    Notes
    -----
    Equal to ``gaussian_filter(image, sigma, radius=r) - gaussian_filter(image, sigma2,
    radius=r)`` (``scipy.ndimage``, per channel) in every mode; without ``radius``, to
    scikit-image's ``difference_of_gaussians(image, sigma, sigma2, truncate=3)`` on
    float images where ``3 sigma`` and ``3 sigma2`` are whole numbers (its radii are
    ``round(truncate sigma)``, imgconv's ``ceil(3 sigma)``). scikit-image rescales
    integer images to 0-1 first; imgconv keeps their units.

    Examples
    --------
    >>> import imgconv, numpy as np
    >>> spot = np.zeros((9, 9))
    >>> spot[4, 4] = 100
    >>> imgconv.dog(spot, 1, 2, mode="constant")[4, 2:7].round(2)
    array([-0.26,  6.14, 11.94,  6.14, -0.26])
    """
    low, high = _number(sigma, "sigma"), _number(sigma2, "sigma2")
    filt = difference_of_gaussians_filter(low, high, radius=_radius(radius))
    if not low < high:
        raise InvalidInputError(f"dog needs sigma2 larger than sigma (sigma < sigma2), got {sigma} and {sigma2}")
    return run(filt, image, output, mode, cval, channel_axis, method, threads)


def log(image: ArrayLike, sigma: float, *, radius: int | None = None, output: OutputLike = None,
        mode: str = "reflect", cval: float = 0.0, channel_axis: ChannelAxis = "auto", method: str = "auto",
        threads: int | None = None) -> np.ndarray:
    """Laplacian of Gaussian, ``∂²/∂x² + ∂²/∂y²`` of a Gaussian blur: ``imgconv log
    --sigma SIGMA --radius RADIUS``; negative on bright spots about ``sigma·√2`` across,
    positive on dark ones (`imgconv.scalespace.laplacian_of_gaussian_kernel`).

    Parameters
    ----------
    image : array_like
    sigma : float
        The Gaussian's standard deviation in pixels.
    radius : int, optional
        The kernel reaches this far each way; default ``ceil(3 sigma)``
        (``scipy.ndimage``'s is ``round(4 sigma)``: give it to match).

    Other Parameters
    ----------------
    output, mode, cval, channel_axis, method, threads
        As for `imgconv.correlate`.

    Returns
    -------
    numpy.ndarray
        The image's shape, floats by default, signed: equal to
        ``scipy.ndimage.gaussian_laplace(image, sigma, radius=radius)`` per channel.

    Examples
    --------
    >>> import imgconv, numpy as np
    >>> spot = np.zeros((7, 7))
    >>> spot[3, 3] = 100
    >>> imgconv.log(spot, 1, radius=1, mode="constant")[2:5, 2:5].round(2)
    array([[  0.  , -12.38,   0.  ],
           [-12.38, -40.84, -12.38],
           [  0.  , -12.38,   0.  ]])
    """
    filt = laplacian_of_gaussian_filter(_number(sigma, "sigma"), radius=_radius(radius))
    return run(filt, image, output, mode, cval, channel_axis, method, threads)


def gradient(image: ArrayLike, sigma: float, *, radius: int | None = None, output: OutputLike = None,
             mode: str = "reflect", cval: float = 0.0, channel_axis: ChannelAxis = "auto", method: str = "auto",
             threads: int | None = None) -> np.ndarray:
    """Gaussian gradient magnitude, ``hypot`` of a Gaussian blur's x and y derivatives:
    ``imgconv gradient --sigma SIGMA --radius RADIUS``, edge strength at a scale, band
    by band (`imgconv.engine.magnitude`: no full-size response is held).

    Parameters
    ----------
    image : array_like
    sigma : float
        The Gaussian's standard deviation in pixels.
    radius : int, optional
        As for `log`.

    Other Parameters
    ----------------
    output, mode, cval, channel_axis, method, threads
        As for `imgconv.correlate`.

    Returns
    -------
    numpy.ndarray
        The image's shape, floats by default, never negative: equal to
        ``scipy.ndimage.gaussian_gradient_magnitude(image, sigma, radius=radius)`` per
        channel.

    Examples
    --------
    >>> import imgconv, numpy as np
    >>> ramp = np.tile(np.arange(8.0) * 10, (5, 1))  # a slope of 10 along x
    >>> imgconv.gradient(ramp, 1, mode="nearest")[2].round(2)
    array([4.98, 8.61, 9.83, 9.96, 9.96, 9.83, 8.61, 4.98])
    """
    filt = gradient_magnitude_filter(_number(sigma, "sigma"), radius=_radius(radius))
    return run(filt, image, output, mode, cval, channel_axis, method, threads)


def deconvolve(image: ArrayLike, psf: KernelLike, iterations: int = 30, *, algorithm: str = RICHARDSON_LUCY,
               balance: float = 0.01, start: float | None = None, output: OutputLike = None, mode: str = "reflect",
               cval: float = 0.0, channel_axis: ChannelAxis = "auto", method: str = "auto",
               threads: int | None = None) -> np.ndarray:
    """Undo a known blur: ``imgconv deconvolve -k PSF --algorithm ALGORITHM
    --iterations N --balance B``, by Richardson-Lucy (`imgconv.restoration.richardson_lucy`)
    or Wiener (`imgconv.restoration.wiener`), computed in float64, the result clipped to
    the image's range.

    Parameters
    ----------
    image : array_like
        (H, W), or 3-D with an axis of channels; for Richardson-Lucy, no sample below 0.
    psf : array_like or Kernel
        The blur, as convolved (its point spread function), divided by its sum, which
        must not be 0; ``imgconv.kernels.gaussian(2, radius=6)`` is the command's
        ``-k gaussian:s=2,r=6``.
    iterations : int
        Richardson-Lucy's updates, at least 1: more sharpen more, and amplify noise more.
    algorithm : {"richardson-lucy", "wiener"}
        The command's ``--algorithm`` (``method`` is the engine's strategy, as in every
        filter).
    balance : float
        Wiener's regulariser, > 0, added to ``|H|²``: smaller restores more detail, and
        more noise.
    start : float, optional
        Richardson-Lucy's first estimate, that value everywhere, > 0; by default the
        image itself (the command's choice). scikit-image starts from 0.5.

    Other Parameters
    ----------------
    output, mode, cval, channel_axis, method, threads
        As for `imgconv.correlate`: ``mode`` and ``cval`` extend the image for every
        blur of Richardson-Lucy and before Wiener's FFT; ``method`` and ``threads`` do
        not change the result.

    Returns
    -------
    numpy.ndarray
        The image's shape; float64 by default (what the command writes to ``.npy``),
        or as ``output`` says, rounded once for integers. An array given as ``output``
        is filled, but the computation itself holds a few float64 images.

    Notes
    -----
    scikit-image's ``restoration.richardson_lucy(image, psf, n)`` starts from 0.5,
    convolves with ``scipy.signal.convolve(mode="same")`` (zero padding; a psf of even
    size anchored one sample earlier), takes the psf as given, adds 1e-12 to each blurred
    sample before dividing (``filter_epsilon`` zeroes ratios below it) and with
    ``clip=True`` clips to -1..1. For an odd-sized psf summing to 1 it equals
    ``deconvolve(image, psf, n, start=0.5, mode="constant")`` wherever the clips agree
    (an image spanning exactly 0..1, or ``clip=False`` clipped to the image's range) to
    float64 precision. Its ``restoration.wiener(image, psf, balance)`` divides by
    ``|H|² + balance·|L|²`` with ``L`` a Laplacian's transfer function, on the image as
    the FFT wraps it: with ``reg`` an impulse (``np.ones((1, 1))``) and ``clip=False`` it
    equals ``algorithm="wiener", mode="wrap"`` clipped to the image's range; other modes
    extend the image by twice the psf's size on each side first.

    Examples
    --------
    >>> import imgconv, numpy as np
    >>> step = np.repeat([[10.0] * 4 + [90.0] * 4], 3, axis=0)
    >>> psf = [[1, 6, 1]]
    >>> blurred = imgconv.convolve(step, psf, mode="nearest") / 8
    >>> blurred[0]
    array([10., 10., 10., 20., 80., 90., 90., 90.])
    >>> imgconv.deconvolve(blurred, psf, 10, mode="nearest")[0].round(1)
    array([10. , 10.1, 10. , 10.7, 89.2, 90. , 89.8, 90. ])
    >>> imgconv.deconvolve(blurred, psf, algorithm="wiener", balance=1e-4, mode="nearest")[0].round(1)
    array([10., 10., 10., 10., 90., 90., 90., 90.])
    """
    samples = check_image(image)
    axis = channel_axis_of(samples.shape, channel_axis)  # refused here for Wiener as for the engine
    filt = deconvolve_filter(psf, method=algorithm, iterations=iterations, balance=balance, start=start)
    return run(filt, samples, output, mode, cval, axis, method, threads)


def _number(value: object, name: str) -> float:
    """``value``, one real number, as a float; `InvalidInputError` for anything else
    (a pair, whose axis order would differ from ``scipy.ndimage``'s, included)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InvalidInputError(f"{name} takes one number, the same along both axes, got {value!r}")
    return float(value)


def _radius(radius: int | None) -> float | None:
    return None if radius is None else _number(radius, "radius")

