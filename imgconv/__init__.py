"""imgconv: image convolution with a NumPy engine that matches scipy.ndimage.

The public API, one import away::

    import imgconv
    smooth = imgconv.convolve(pixels, imgconv.kernels.gaussian(radius=5, sigma=3))
"""

from . import kernels
from .boundary import MODES
from .engine import METHODS, Kernel, convolve, correlate
from .errors import (
    BoundaryError,
    ImageReadError,
    ImageWriteError,
    ImgconvError,
    InvalidInputError,
    KernelError,
)
from .kernelfile import format_kernel, load_kernel

__version__ = "0.1.0"

__all__ = [
    "BoundaryError",
    "ImageReadError",
    "ImageWriteError",
    "ImgconvError",
    "InvalidInputError",
    "Kernel",
    "KernelError",
    "METHODS",
    "MODES",
    "convolve",
    "correlate",
    "format_kernel",
    "kernels",
    "load_kernel",
]
