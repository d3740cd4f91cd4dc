"""Pictures of samples Pillow cannot hold, kept in their own type: 16-bit colour PNGs by
libpng, and `.npy` arrays."""

import math
from typing import Any

import numpy as np

from .. import npyfile
from ..errors import ImageReadError
from . import formats
from .budget import PixelBudget
from .formats import NPY
from .picture import Picture


def deep_picture(arrays: list[np.ndarray], fmt: str, metadata: dict[str, Any], name: str,
                 encoding: dict[str, Any] | None = None) -> Picture:
    """The picture of samples Pillow cannot hold, kept in their own type (in the
    machine's byte order)."""
    arrays = [a.astype(a.dtype.newbyteorder("="), copy=False) for a in arrays]
    channels = 1 if arrays[0].ndim == 2 else arrays[0].shape[2]
    mode = formats.mode_of(arrays[0].dtype, channels)
    if mode is None or arrays[0].dtype == np.bool_:
        raise ImageReadError(f"{name}: {channels} channel(s) of {arrays[0].dtype} samples: not an image imgconv reads")
    return Picture(arrays, mode, fmt, metadata, encoding or {})


def picture_from_deep_png(data: bytes, indices: list[int], animated: bool, metadata: dict[str, Any],
                          name: str) -> Picture:
    """A 16-bit colour PNG by libpng; ``indices`` count an APNG's default image."""
    import imagecodecs

    if animated:
        arrays = list(imagecodecs.apng_decode(data)[indices])
    else:
        arrays = [imagecodecs.png_decode(data)]
    return deep_picture(arrays, "PNG", metadata, name)


def picture_from_npy(data: bytes, name: str, budget: PixelBudget) -> Picture:
    header = npyfile.read_header(data, name, ImageReadError)
    if len(header.shape) not in (2, 3) or 0 in header.shape:
        raise ImageReadError(f"{name}: expected an (H, W) or (H, W, C) array, got shape {header.shape}")
    budget.take(*header.shape[:2], *[math.ceil(c / 4) for c in header.shape[2:]])
    array = npyfile.array(data, header, name, ImageReadError)
    array = array.astype(array.dtype.newbyteorder("="), copy=False)
    channels = 1 if array.ndim == 2 else array.shape[2]
    mode = formats.mode_of(array.dtype, channels) or (formats.MULTICHANNEL if channels > 4 else None)
    if mode is None:
        raise ImageReadError(f"{name}: {array.dtype} samples: not an image imgconv reads")
    return Picture([array], mode, NPY)
