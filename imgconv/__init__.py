"""imgconv: image filtering with a NumPy engine that matches scipy.ndimage.

The command line's filters, as functions on arrays, in ``scipy.ndimage``'s and
scikit-image's words::

    import imgconv
    pixels = imgconv.imread("photo.jpg")               # (H, W, 3) uint8
    soft = imgconv.blur(pixels, sigma=3)                # float32, 0-255
    imgconv.imwrite("soft.png", imgconv.blur(pixels, sigma=3, output=pixels.dtype))
    edges = imgconv.sobel(pixels, direction="x", mode="nearest")

Filters, named as the commands are (``imgconv <command>`` computes the same pixels)::

    blur(image, sigma, *, radius)      Gaussian blur
    box(image, *, radius | size)       mean of a square neighbourhood
    tent(image, *, radius | size)      a box of a box: a quick Gaussian at any radius
    sharpen(image, amount)             identity minus amount times the Laplacian
    unsharp(image, sigma, *, radius, amount)   unsharp mask
    laplacian(image, *, diagonals)     second derivative
    sobel, prewitt, scharr(image, direction="magnitude" | "x" | "y")   gradients
    emboss(image)                      relief lit from the top left
    motion(image, length, angle)       blur along a line
    identity(image)                    the image's own values
    dog(image, sigma, sigma2, *, radius)   difference of Gaussians
    log(image, sigma, *, radius)       Laplacian of Gaussian
    gradient(image, sigma, *, radius)  Gaussian gradient magnitude
    deconvolve(image, psf, iterations, *, algorithm, balance, start)   undo a known blur

Your own kernel::

    convolve(input, weights, output=None, mode="reflect", cval=0.0, origin=0)
    correlate(input, weights, ...)     the kernel as written, not flipped
    kernels                            the presets' kernels, sigma first
    load_kernel(spec), format_kernel(kernel)   kernel files and inline kernels
    Kernel, SeparableKernel            weights with an offset; factored kernels

Every filter also takes ``output`` (a type or an array to fill; by default floats
in the image's units: float32, or float64 for float64 images), ``mode`` and ``cval``
(the boundary: ``MODES``), ``channel_axis`` (default (H, W) or (H, W, C) with up to
4 channels; 0 for channel-first arrays), ``method`` (``METHODS``) and ``threads``.

Files::

    imread(path, *, frame=0)           an image's samples as an array
    imwrite(path, image, *, depth, background, quality, ...)   never silently lossier
    read_image(path) -> Picture        all a file holds: frames, mode, metadata
    write_image(path, picture)         the picture back, metadata and timing kept

Errors: ``ImgconvError``, and ``InvalidInputError`` (a ``ValueError``: ``KernelError``,
``BoundaryError``), ``ImageReadError``, ``ImageWriteError``.

More: ``help(imgconv.blur)`` and the other names above; `imgconv.ndimage` (the
filters' rules), `imgconv.engine` (strategies, ``magnitude``), `imgconv.dask` (Dask
arrays), `imgconv.pipeline.process_file` (a command's whole work on a file: alpha,
views, streaming), `imgconv.batch` (folders).

Names are imported on first use (PEP 562), so that ``imgconv --version`` and
``import imgconv`` do not load NumPy.
"""

import importlib

# typing.TYPE_CHECKING without importing typing (3 ms, twice the rest of this import);
# type checkers take any TYPE_CHECKING as true.
TYPE_CHECKING = False
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
    from .files import imread as imread
    from .files import imwrite as imwrite
    from .files import read_image as read_image
    from .files import write_image as write_image
    from .io.picture import Picture as Picture
    from .kernelfile import format_kernel as format_kernel
    from .kernelfile import load_kernel as load_kernel
    from .ndimage import blur as blur
    from .ndimage import box as box
    from .ndimage import emboss as emboss
    from .ndimage import identity as identity
    from .ndimage import laplacian as laplacian
    from .ndimage import motion as motion
    from .ndimage import prewitt as prewitt
    from .ndimage import scharr as scharr
    from .ndimage import sharpen as sharpen
    from .ndimage import sobel as sobel
    from .ndimage import tent as tent
    from .ndimage import unsharp as unsharp
    from .ndimage_more import deconvolve as deconvolve
    from .ndimage_more import dog as dog
    from .ndimage_more import gradient as gradient
    from .ndimage_more import log as log
    from .vocabulary import METHODS as METHODS
    from .vocabulary import MODES as MODES

del TYPE_CHECKING  # not a name of the package

__version__ = "0.1.0"

_HOMES = {
    "kernels": None,  # a submodule
    **dict.fromkeys(["Kernel", "SeparableKernel", "convolve", "correlate"], "engine"),
    **dict.fromkeys(["blur", "box", "emboss", "identity", "laplacian", "motion", "prewitt", "scharr", "sharpen",
                     "sobel", "tent", "unsharp"], "ndimage"),
    **dict.fromkeys(["deconvolve", "dog", "gradient", "log"], "ndimage_more"),
    **dict.fromkeys(["imread", "imwrite", "write_image"], "files"),
    "read_image": "io.read",
    "Picture": "io.picture",
    **dict.fromkeys(["format_kernel", "load_kernel"], "kernelfile"),
    **dict.fromkeys(["METHODS", "MODES"], "vocabulary"),
    **dict.fromkeys(["BoundaryError", "ImageReadError", "ImageWriteError", "ImgconvError", "InvalidInputError",
                     "KernelError"], "errors"),
}


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module 'imgconv' has no attribute {name!r}")
    home = _HOMES[name]
    if home is None:
        return importlib.import_module(f".{name}", __name__)
    return getattr(importlib.import_module(f".{home}", __name__), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
