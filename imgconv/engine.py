"""The convolution engine: boundary handling, then one of several strategies.

Every strategy works the same way: the image is first extended by the kernel's reach
on each side (see `imgconv.boundary`), then the kernel is applied to the extended
image with no further boundary logic ("valid" filtering). Extending once, in 2-D, is
what keeps the separable strategy exact in ``constant`` mode too: filtering rows and
then columns of an image extended only along one axis at a time would see ``cval`` in
the corners where the 2-D filter sees a row sum of ``cval``.

Kernel anchoring is that of ``scipy.ndimage`` with ``origin=0``: a kernel of size n
along an axis is centred on index ``n // 2``. For correlation, output sample i sees
input samples ``i - n//2 ... i + (n-1) - n//2``; convolution flips the kernel, so for
even sizes the reach is one sample longer after the centre than before it.
"""

from dataclasses import dataclass

import numpy as np

from .boundary import pad, resolve_mode
from .errors import InvalidInputError, KernelError

METHODS = ("auto", "direct", "separable")
MAX_KERNEL_SIZE = 1025


@dataclass(frozen=True)
class Kernel:
    """Kernel weights and an offset added to every filtered sample.

    The offset (in the image's sample units) comes from kernel files such as libvips
    matrices, whose result is ``sum(weights * pixels) + offset``. `convolve` and
    `correlate` accept a `Kernel` wherever they accept an array.
    """

    weights: np.ndarray
    offset: float = 0.0

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.weights, dtype=dtype)


def check_kernel(weights, name="kernel"):
    """Return ``weights`` as a 2-D float64 array, or raise `KernelError` saying why not."""
    try:
        array = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise KernelError(f"{name} is not an array of numbers: {exc}") from None
    if array.ndim != 2:
        raise KernelError(f"{name} must be 2-D, got {array.ndim} dimension(s)")
    if array.size == 0:
        raise KernelError(f"{name} is empty")
    if not np.all(np.isfinite(array)):
        raise KernelError(f"{name} contains NaN or infinite values")
    if max(array.shape) > MAX_KERNEL_SIZE:
        rows, cols = array.shape
        raise KernelError(
            f"{name} is {cols}x{rows}; the largest kernel is "
            f"{MAX_KERNEL_SIZE}x{MAX_KERNEL_SIZE}"
        )
    return array


def correlate(image, kernel, boundary="reflect", cval=0.0, method="auto"):
    """Correlate each channel of an image with a 2-D kernel.

    Output sample (y, x) is ``sum(kernel[i, j] * image[y + i - kh//2, x + j - kw//2])``:
    the kernel lies over the image as it is written. Equal to
    ``scipy.ndimage.correlate(image, kernel, mode=boundary, cval=cval)`` per channel.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
        Any real numeric dtype. Channels are filtered independently.
    kernel : array_like, shape (kh, kw), or Kernel
        Finite weights, any size up to 1025x1025, odd or even. A `Kernel`'s offset is
        added to the result.
    boundary : str
        ``reflect`` (default), ``mirror``, ``nearest``, ``wrap`` or ``constant``, or one
        of their aliases (see `imgconv.boundary`).
    cval : float
        The value beyond the edges in ``constant`` mode, in the image's units.
    method : {"auto", "direct", "separable"}
        ``direct`` sums one shifted copy of the image per non-zero weight;
        ``separable`` runs a pair of 1-D passes per singular value of the kernel
        (one pair for a separable kernel such as a Gaussian); ``auto`` picks the
        one with fewer multiply-adds per pixel.

    Returns
    -------
    numpy.ndarray
        The image's shape; float64 for a float64 image, float32 otherwise.

    Examples
    --------
    >>> correlate([[0, 0, 0], [0, 1, 0], [0, 0, 0]], [[1, 2, 3]], boundary="constant")
    array([[0., 0., 0.],
           [3., 2., 1.],
           [0., 0., 0.]], dtype=float32)
    """
    return _filter(image, kernel, boundary, cval, method, flip=False)


def convolve(image, kernel, boundary="reflect", cval=0.0, method="auto"):
    """Convolve each channel of an image with a 2-D kernel (the kernel is flipped).

    Output sample (y, x) is ``sum(kernel[i, j] * image[y - i + kh//2, x - j + kw//2])``.
    Equal to ``scipy.ndimage.convolve(image, kernel, mode=boundary, cval=cval)`` per
    channel. Parameters and result are those of `correlate`.

    Examples
    --------
    >>> convolve([[0, 0, 0], [0, 1, 0], [0, 0, 0]], [[1, 2, 3]], boundary="constant")
    array([[0., 0., 0.],
           [1., 2., 3.],
           [0., 0., 0.]], dtype=float32)
    """
    return _filter(image, kernel, boundary, cval, method, flip=True)


def _filter(image, kernel, boundary, cval, method, flip):
    image = _check_image(image)
    offset = kernel.offset if isinstance(kernel, Kernel) else 0.0
    weights = check_kernel(kernel)
    mode, cval = resolve_mode(boundary, cval)
    if method not in METHODS:
        raise InvalidInputError(
            f"unknown method {method!r}; valid methods: {', '.join(METHODS)}"
        )
    kh, kw = weights.shape
    if flip:
        weights = weights[::-1, ::-1]
        before, after = (kh - 1 - kh // 2, kw - 1 - kw // 2), (kh // 2, kw // 2)
    else:
        before, after = (kh // 2, kw // 2), (kh - 1 - kh // 2, kw - 1 - kw // 2)
    work = np.float64 if image.dtype == np.float64 else np.float32
    padded = pad(image.astype(work, copy=False), before, after, mode, cval)
    if method == "auto":
        method = _cheapest_method(weights)
    result = _STRATEGIES[method](padded, weights, image.shape[:2])
    if offset:
        result += result.dtype.type(offset)
    return result


def _check_image(image):
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise InvalidInputError(
            f"image must be 2-D (H, W) or 3-D (H, W, C), got shape {image.shape}"
        )
    if image.dtype.kind not in "biuf":
        raise InvalidInputError(f"image must hold real numbers, got dtype {image.dtype}")
    if image.size == 0:
        raise InvalidInputError(f"image is empty (shape {image.shape})")
    return image


def _direct(padded, weights, shape):
    """Valid filtering of an extended image: one multiply-add of a shifted view per tap."""
    height, width = shape
    out = np.zeros((height, width) + padded.shape[2:], padded.dtype)
    product = np.empty_like(out)
    for (i, j), weight in np.ndenumerate(weights):
        if weight:
            np.multiply(padded[i : i + height, j : j + width], weight.astype(out.dtype), out=product)
            out += product
    return out


def _separable_terms(weights):
    """The kernel as a sum of outer products ``column ⊗ row``, one per singular value.

    Singular values below the numerical rank threshold (as ``numpy.linalg.matrix_rank``
    defines it) are float64 rounding noise and are dropped.
    """
    u, s, vt = np.linalg.svd(weights)
    threshold = s[0] * max(weights.shape) * np.finfo(np.float64).eps
    return [(u[:, r] * s[r], vt[r]) for r in range(len(s)) if s[r] > threshold]


def _separable(padded, weights, shape):
    height, width = shape
    out = np.zeros((height, width) + padded.shape[2:], padded.dtype)
    for column, row in _separable_terms(weights):
        rows_done = _direct(padded, row[np.newaxis, :], (padded.shape[0], width))
        out += _direct(rows_done, column[:, np.newaxis], (height, width))
    return out


def _cheapest_method(weights):
    """Pick the method with fewer multiply-adds per output sample."""
    direct_cost = np.count_nonzero(weights)
    separable_cost = len(_separable_terms(weights)) * sum(weights.shape)
    return "separable" if separable_cost < direct_cost else "direct"


_STRATEGIES = {"direct": _direct, "separable": _separable}
