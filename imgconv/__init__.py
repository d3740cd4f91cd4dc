"""imgconv: image convolution with a NumPy engine that matches scipy.ndimage.

The public API, one import away::

    import imgconv
    smooth = imgconv.convolve(pixels, imgconv.kernels.gaussian(radius=5, sigma=3))

Names are imported on first use (PEP 562), so that ``imgconv --version`` and
``import imgconv.vocabulary`` do not load NumPy.
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what a type checker sees of the names below, which load on first use
    from . import kernels as kernels
    from .engine import Kernel as Kernel
    from .engine import SeparableKernel as SeparableKernel
    from .engine import convolve as convolve
    from .engine import correlate as correlate
    from .errors import BoundaryError as BoundaryError
    from .errors import ImageReadError as ImageReadError
    from .errors import ImageWriteError as ImageWriteError
    from .errors import ImgconvError as ImgconvError
    from .errors import InvalidInputError as InvalidInputError
    from .errors import KernelError as KernelError
    from .kernelfile import format_kernel as format_kernel
    from .kernelfile import load_kernel as load_kernel
    from .vocabulary import METHODS as METHODS
    from .vocabulary import MODES as MODES

__version__ = "0.1.0"

_HOMES = {
    "kernels": None,  # a submodule
    "Kernel": "engine",
    "SeparableKernel": "engine",
    "convolve": "engine",
    "correlate": "engine",
    "METHODS": "vocabulary",
    "MODES": "vocabulary",
    "format_kernel": "kernelfile",
    "load_kernel": "kernelfile",
    "BoundaryError": "errors",
    "ImageReadError": "errors",
    "ImageWriteError": "errors",
    "ImgconvError": "errors",
    "InvalidInputError": "errors",
    "KernelError": "errors",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module 'imgconv' has no attribute {name!r}")
    home = _HOMES[name]
    if home is None:
        return importlib.import_module(f".{name}", __name__)
    return getattr(importlib.import_module(f".{home}", __name__), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
