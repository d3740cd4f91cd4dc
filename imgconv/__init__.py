"""imgconv: image convolution with a NumPy engine that matches scipy.ndimage.

The public API, one import away::

    import imgconv
    smooth = imgconv.convolve(pixels, imgconv.kernels.gaussian(radius=5, sigma=3))

Names are imported on first use (PEP 562), so that ``imgconv --version`` and
``import imgconv.vocabulary`` do not load NumPy.
"""

import importlib

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


def __getattr__(name):
    if name not in _HOMES:
        raise AttributeError(f"module 'imgconv' has no attribute {name!r}")
    home = _HOMES[name]
    if home is None:
        return importlib.import_module(f".{name}", __name__)
    return getattr(importlib.import_module(f".{home}", __name__), name)


def __dir__():
    return sorted(set(globals()) | set(_HOMES))
