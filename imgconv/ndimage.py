"""The filter commands as functions on arrays, named as the commands are.

``imgconv.blur(image, sigma=3)`` computes what ``imgconv blur --sigma 3`` computes:
the same kernel (`imgconv.kernels`), the same engine, the same pixels. Each function
takes its command's own options as keywords (sigma and radius by name), and the
engine's as `imgconv.correlate` takes them, in ``scipy.ndimage``'s and scikit-image's
words:

- ``output``: None, a NumPy type or an array to fill. The rule for the result's type:
  by default floats in the image's own units (0-255 stays 0-255, nothing is rescaled),
  float64 for float64 images and integers of more than 16 bits, float32 otherwise
  (`imgconv.engine.work_dtype`); signs are kept, so a derivative's negative half
  survives. scikit-image also returns floats (rescaled to 0-1); ``scipy.ndimage``
  returns the input's type, truncated and wrapped around. ``output=image.dtype`` gives
  the input's type, rounded to nearest and clipped to its range.
- ``mode`` and ``cval``: the boundary, as in ``scipy.ndimage`` (``reflect`` by
  default); the command line's ``--boundary`` and ``--cval``.
- ``channel_axis``: which axis holds the channels, as in scikit-image; by default
  (H, W) or (H, W, C) with at most 4 channels, and anything else refused with a
  message naming ``channel_axis`` (see `imgconv.engine.arrays`). Channels are filtered
  independently, an alpha channel like any other.
- ``method`` and ``threads``: the engine's strategy and threads (``--method``,
  ``--threads``).

Each returns a new array of the image's shape, or ``output`` filled: an array given is
written band by band, so calling again with the same array allocates only the bands in
flight (7-10 MiB a thread for a 4K RGB photo), not another result; the truncate mode
and FFTs of whole channels still hold a float response whole.

What the command line does beyond the filter is not done here: premultiplying colour
by alpha, showing a signed response in an image (its absolute value, or stretched by
``--normalize``), and writing files; `imgconv.pipeline.process_file` does all of it.
A function's result holds the values the command writes to a ``.npy`` output, and,
given ``output=`` the image's type, the samples it writes to an image of that type
wherever the response is not shown as its absolute value (all but a derivative's
``x`` and ``y``).
"""

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from . import kernels
from .engine import ChannelAxis, EngineOptions, OutputLike
from .errors import InvalidInputError
from .filters import Filter, gradient_filter, preset_filter

__all__ = ["blur", "box", "emboss", "identity", "laplacian", "motion", "prewitt", "scharr", "sharpen", "sobel",
           "tent", "unsharp"]

DIRECTIONS = ("x", "y", "magnitude")


def blur(image: ArrayLike, sigma: float | None = None, *, radius: float | None = None, output: OutputLike = None,
         mode: str = "reflect", cval: float = 0.0, channel_axis: ChannelAxis = "auto", method: str = "auto",
         threads: int | None = None) -> np.ndarray:
    """Gaussian blur: ``imgconv blur --sigma SIGMA --radius RADIUS``.

    Parameters
    ----------
    image : array_like
        (H, W), or 3-D with an axis of channels (``channel_axis``).
    sigma : float, optional
        Standard deviation in pixels; default ``radius / 3``.
    radius : int, optional
        The kernel reaches this far each way (size 2r+1); default ``ceil(3 sigma)``
        (``scipy.ndimage.gaussian_filter``'s is ``round(4 sigma)``: give it to match).
        Up to 100000.

    Other Parameters
    ----------------
    output, mode, cval, channel_axis, method, threads
        As for `imgconv.correlate` (see the module docstring).

    Returns
    -------
    numpy.ndarray
        The image's shape, of the type ``output`` gives (floats by default).

    Examples
    --------
    >>> import imgconv, numpy as np
    >>> impulse = np.zeros((5, 5), np.uint8)
    >>> impulse[2, 2] = 100
    >>> imgconv.blur(impulse, sigma=1, radius=1)[1:4, 1:4].round(3)
    array([[ 7.511, 12.384,  7.511],
           [12.384, 20.418, 12.384],
           [ 7.511, 12.384,  7.511]], dtype=float32)
    >>> imgconv.blur(impulse, sigma=1, radius=1, output=np.uint8)[1:4, 1:4]
    array([[ 8, 12,  8],
           [12, 20, 12],
           [ 8, 12,  8]], dtype=uint8)
    """
    return run(preset_filter(kernels.separable_gaussian(sigma, radius=radius)), image, output, mode, cval,
                channel_axis, method, threads)


def box(image: ArrayLike, *, radius: int | None = None, size: int | None = None, output: OutputLike = None,
        mode: str = "reflect", cval: float = 0.0, channel_axis: ChannelAxis = "auto", method: str = "auto",
        threads: int | None = None) -> np.ndarray:
    """Box blur, the mean of a square neighbourhood: ``imgconv box --radius R`` or
    ``--size N``.

    Parameters
    ----------
    image : array_like
    radius : int, optional
        The square is 2r+1 a side.
    size : int, optional
        The square's side, odd or even; an even one reaches one pixel further up and
        left than down and right, as ``scipy.ndimage.convolve`` anchors it. Give
        ``radius`` or ``size``.

    Other Parameters
    ----------------
    output, mode, cval, channel_axis, method, threads
        As for `imgconv.correlate`.

    Examples
    --------
    >>> import imgconv
    >>> imgconv.box([[0, 3, 0, 6]] * 3, radius=1, mode="nearest")[1]
    array([1., 1., 3., 4.])
    """
    return run(preset_filter(kernels.separable_box(radius=radius, size=size)), image, output, mode, cval,
                channel_axis, method, threads)


def tent(image: ArrayLike, *, radius: int | None = None, size: int | None = None, output: OutputLike = None,
         mode: str = "reflect", cval: float = 0.0, channel_axis: ChannelAxis = "auto", method: str = "auto",
         threads: int | None = None) -> np.ndarray:
    """Tent blur, weights 1, 2, ..., r+1, ..., 2, 1 along each axis (a box of a box):
    ``imgconv tent --radius R`` or ``--kernel-size N``; a quick stand-in for a Gaussian,
    at a cost that does not grow with the radius (`imgconv.kernels.tent`).

    Parameters
    ----------
    image : array_like
    radius, size : int, optional
        As for `box`: give one.

    Other Parameters
    ----------------
    output, mode, cval, channel_axis, method, threads
        As for `imgconv.correlate`.

    Examples
    --------
    >>> import imgconv
    >>> imgconv.tent([[0, 0, 8, 0, 0]] * 3, radius=1, mode="nearest")[1]
    array([0., 2., 4., 2., 0.])
    """
    return run(preset_filter(kernels.separable_tent(radius=radius, size=size)), image, output, mode, cval,
                channel_axis, method, threads)


def sharpen(image: ArrayLike, amount: float = 1.0, *, output: OutputLike = None, mode: str = "reflect",
            cval: float = 0.0, channel_axis: ChannelAxis = "auto", method: str = "auto", threads: int | None = None
            ) -> np.ndarray:
    """Sharpen, the identity minus ``amount`` times the Laplacian: ``imgconv sharpen
    --amount AMOUNT``.

    Parameters
    ----------
    image : array_like
    amount : float
        Strength; 1 is the classic ``[[0, -1, 0], [-1, 5, -1], [0, -1, 0]]``.

    Other Parameters
    ----------------
    output, mode, cval, channel_axis, method, threads
        As for `imgconv.correlate`.

    Examples
    --------
    >>> import imgconv
    >>> imgconv.sharpen([[10, 10, 20, 20]], amount=0.5)
    array([[10.,  5., 25., 20.]])
    """
    return run(preset_filter(kernels.sharpen(amount)), image, output, mode, cval, channel_axis, method, threads)


def unsharp(image: ArrayLike, sigma: float | None = None, *, radius: float | None = None, amount: float = 1.0,
            output: OutputLike = None, mode: str = "reflect", cval: float = 0.0, channel_axis: ChannelAxis = "auto",
            method: str = "auto", threads: int | None = None) -> np.ndarray:
    """Unsharp mask, the identity plus ``amount`` times the detail a Gaussian blur
    removes: ``imgconv unsharp --sigma SIGMA --radius RADIUS --amount AMOUNT``.

    Parameters
    ----------
    image : array_like
    sigma, radius : float, optional
        The Gaussian's, as for `blur` (scikit-image's ``unsharp_mask`` calls its sigma
        ``radius``).
    amount : float
        How much of the detail to add back.

    Other Parameters
    ----------------
    output, mode, cval, channel_axis, method, threads
        As for `imgconv.correlate`.

    Examples
    --------
    >>> import imgconv
    >>> imgconv.unsharp([[10, 10, 20, 20]], sigma=1, radius=1, amount=2).round(2)
    array([[10.  ,  4.52, 25.48, 20.  ]])
    """
    return run(preset_filter(kernels.separable_unsharp(sigma, radius=radius, amount=amount)), image, output, mode,
                cval, channel_axis, method, threads)


def laplacian(image: ArrayLike, *, diagonals: bool = False, output: OutputLike = None, mode: str = "reflect",
              cval: float = 0.0, channel_axis: ChannelAxis = "auto", method: str = "auto", threads: int | None = None
              ) -> np.ndarray:
    """The discrete Laplacian, a second derivative: ``imgconv laplacian``.

    ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]``, as ``scipy.ndimage.laplace``; its negative
    responses are kept (an integer ``output`` clips them to 0, as the command's images
    do).

    Parameters
    ----------
    image : array_like
    diagonals : bool
        The 8-neighbour form ``[[1, 1, 1], [1, -8, 1], [1, 1, 1]]`` (``--diagonals``).

    Other Parameters
    ----------------
    output, mode, cval, channel_axis, method, threads
        As for `imgconv.correlate`.

    Examples
    --------
    >>> import imgconv
    >>> imgconv.laplacian([[0, 0, 0], [0, 8, 0], [0, 0, 0]], mode="constant")
    array([[  0.,   8.,   0.],
           [  8., -32.,   8.],
           [  0.,   8.,   0.]])
    """
    return run(preset_filter(kernels.laplacian(diagonals)), image, output, mode, cval, channel_axis, method, threads)


def emboss(image: ArrayLike, *, output: OutputLike = None, mode: str = "reflect", cval: float = 0.0,
           channel_axis: ChannelAxis = "auto", method: str = "auto", threads: int | None = None) -> np.ndarray:
    """Emboss, a relief lit from the top left: ``imgconv emboss``, the kernel
    ``[[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]`` laid over the image.

    Parameters
    ----------
    image : array_like

    Other Parameters
    ----------------
    output, mode, cval, channel_axis, method, threads
        As for `imgconv.correlate`.

    Examples
    --------
    >>> import imgconv
    >>> imgconv.emboss([[0, 0, 0], [0, 10, 0], [0, 0, 0]], mode="constant")
    array([[ 20.,  10.,   0.],
           [ 10.,  10., -10.],
           [  0., -10., -20.]])
    """
    return run(preset_filter(kernels.emboss()), image, output, mode, cval, channel_axis, method, threads)


def motion(image: ArrayLike, length: float = 9.0, angle: float = 0.0, *, output: OutputLike = None,
           mode: str = "reflect", cval: float = 0.0, channel_axis: ChannelAxis = "auto", method: str = "auto",
           threads: int | None = None) -> np.ndarray:
    """Motion blur along a line: ``imgconv motion --length LENGTH --angle ANGLE``.

    Parameters
    ----------
    image : array_like
    length : float
        The line's length in pixels, at least 1 (see `imgconv.kernels.motion`).
    angle : float
        Degrees counter-clockwise from the x axis, as seen on screen.

    Other Parameters
    ----------------
    output, mode, cval, channel_axis, method, threads
        As for `imgconv.correlate`.

    Examples
    --------
    >>> import imgconv
    >>> imgconv.motion([[0, 0, 9, 0, 0]], length=3, mode="constant")
    array([[0., 3., 3., 3., 0.]])
    """
    return run(preset_filter(kernels.motion(length, angle)), image, output, mode, cval, channel_axis, method,
                threads)


def identity(image: ArrayLike, *, output: OutputLike = None, mode: str = "reflect", cval: float = 0.0,
             channel_axis: ChannelAxis = "auto", method: str = "auto", threads: int | None = None) -> np.ndarray:
    """The identity kernel ``[[1]]``: the image's own values, as the result type rule
    gives them (``imgconv identity`` converts files).

    Parameters
    ----------
    image : array_like

    Other Parameters
    ----------------
    output, mode, cval, channel_axis, method, threads
        As for `imgconv.correlate`.

    Examples
    --------
    >>> import imgconv, numpy as np
    >>> imgconv.identity(np.array([[0, 128, 255]], np.uint8))
    array([[  0., 128., 255.]], dtype=float32)
    """
    return run(preset_filter(kernels.identity()), image, output, mode, cval, channel_axis, method, threads)


def sobel(image: ArrayLike, direction: str = "magnitude", *, output: OutputLike = None, mode: str = "reflect",
          cval: float = 0.0, channel_axis: ChannelAxis = "auto", method: str = "auto", threads: int | None = None
          ) -> np.ndarray:
    """Sobel edge detection: ``imgconv sobel --direction DIRECTION``.

    Parameters
    ----------
    image : array_like
    direction : {"magnitude", "x", "y"}
        ``x``: the derivative along rows, positive where intensity grows rightwards,
        as ``scipy.ndimage.sobel(image, axis=1)``; ``y``: positive downwards, as
        ``axis=0``; ``magnitude`` (the default, as ``skimage.filters.sobel``, whose
        scale differs): ``hypot`` of both, computed band by band.

    Other Parameters
    ----------------
    output, mode, cval, channel_axis, method, threads
        As for `imgconv.correlate`. An integer ``output`` clips a derivative's negative
        half to 0 (the command's images show its absolute value: take ``np.abs`` of the
        float result for that).

    Examples
    --------
    >>> import imgconv
    >>> step = [[0, 0, 10, 10]] * 3
    >>> imgconv.sobel(step, "x")[1]
    array([ 0., 40., 40.,  0.])
    >>> imgconv.sobel(step, "y")[1]
    array([0., 0., 0., 0.])
    """
    return _derivative(kernels.sobel, direction, image, output, mode, cval, channel_axis, method, threads)


def prewitt(image: ArrayLike, direction: str = "magnitude", *, output: OutputLike = None, mode: str = "reflect",
            cval: float = 0.0, channel_axis: ChannelAxis = "auto", method: str = "auto", threads: int | None = None
            ) -> np.ndarray:
    """Prewitt edge detection: ``imgconv prewitt --direction DIRECTION``; as `sobel`,
    with the smoothing ``[1, 1, 1]`` across the derivative (``scipy.ndimage.prewitt``).

    Examples
    --------
    >>> import imgconv
    >>> imgconv.prewitt([[0, 0, 10, 10]] * 3, "x")[1]
    array([ 0., 30., 30.,  0.])
    """
    return _derivative(kernels.prewitt, direction, image, output, mode, cval, channel_axis, method, threads)


def scharr(image: ArrayLike, direction: str = "magnitude", *, output: OutputLike = None, mode: str = "reflect",
           cval: float = 0.0, channel_axis: ChannelAxis = "auto", method: str = "auto", threads: int | None = None
           ) -> np.ndarray:
    """Scharr edge detection: ``imgconv scharr --direction DIRECTION``; as `sobel`, with
    the smoothing ``[3, 10, 3]``, the most rotation-invariant of the three.

    Examples
    --------
    >>> import imgconv
    >>> imgconv.scharr([[0, 0, 10, 10]] * 3, "magnitude")[1]
    array([  0., 160., 160.,   0.])
    """
    return _derivative(kernels.scharr, direction, image, output, mode, cval, channel_axis, method, threads)


def _derivative(operator: Callable[[str], np.ndarray], direction: str, image: ArrayLike, output: OutputLike, mode: str,
                cval: float, channel_axis: ChannelAxis, method: str, threads: int | None) -> np.ndarray:
    if direction not in DIRECTIONS:
        raise InvalidInputError(f"direction must be 'x', 'y' or 'magnitude', got {direction!r}")
    return run(gradient_filter(operator, direction), image, output, mode, cval, channel_axis, method, threads)


def run(filt: Filter, image: ArrayLike, output: OutputLike, mode: str, cval: float, channel_axis: ChannelAxis,
         method: str, threads: int | None) -> np.ndarray:
    """``filt`` (an `imgconv.filters.Filter`) on ``image`` with these engine options, as
    the command line runs it: what each function here and in `imgconv.ndimage_more`
    returns."""
    return filt.with_engine(EngineOptions(mode, cval, method, threads)).apply(image, output, channel_axis)
