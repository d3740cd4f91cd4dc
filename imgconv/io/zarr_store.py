"""Zarr stores (a folder named ``*.zarr``) holding one image, read by rows."""

import os
from types import ModuleType

import numpy as np

from ..errors import INSTALL_HINT, ImageReadError, ImgconvError, InvalidInputError, MissingExtraError
from .tiled_image import ZARR, Path, TiledImage, check_budget, sample_mode


def zarr_module() -> ModuleType:
    try:
        import zarr
    except ImportError:
        raise MissingExtraError(f"Zarr stores need zarr, which is not installed: {INSTALL_HINT}") from None
    return zarr


def open_zarr(path: Path, max_pixels: int = 0, frame: int | None = None) -> TiledImage:
    """The array of a Zarr store (one frame: ``frame`` may be 0), checked as `open_tiff`
    checks a page."""
    zarr = zarr_module()
    name = os.fspath(path)
    if frame not in (None, 0):
        raise InvalidInputError(f"{name}: --frame {frame} does not exist; a Zarr store holds 1 frame, numbered 0")
    if not os.path.isdir(path):
        raise ImageReadError(f"{name}: no such Zarr store" if not os.path.exists(path) else
                             f"{name}: not a Zarr store (a folder)")
    try:
        array = zarr.open_array(path, mode="r")
        shape, dtype, chunks = tuple(array.shape), np.dtype(array.dtype), tuple(array.chunks)
        options = {"compressors": array.compressors, "zarr_format": array.metadata.zarr_format}
    except ImgconvError:
        raise
    except Exception as exc:
        raise ImageReadError(f"{name}: not a Zarr array, or a damaged one ({' '.join(str(exc).split())})") from None
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ImageReadError(f"{name}: an array of shape {shape}: not an image (H, W) or (H, W, C)")
    channels = 1 if len(shape) == 2 else shape[2]
    mode = sample_mode(dtype, channels, name)
    check_budget(name, shape, chunks[:2], max_pixels)
    return TiledImage(os.path.abspath(name), name, ZARR, 0, shape, dtype, mode, chunks[:2], options)
