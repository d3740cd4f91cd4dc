"""A tiled image as its header describes it: one page of a tiled TIFF, or a Zarr array.

The header is checked before any pixel is read: the tile size against the pixel
budget (a row of tiles must fit in ``max_pixels``), and samples imgconv reads.
"""

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ImageReadError
from . import formats
from .sink import STDIO, Path

ZARR = "ZARR"


class Opened:
    """What a process makes, on the first read, to read an image's tiles (for a TIFF the
    open file and its tile offsets), shared by the threads that read its blocks. Never
    pickled: a cluster's worker makes its own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: Any = None

    def __reduce__(self) -> tuple[type["Opened"], tuple[()]]:
        return Opened, ()

    def get(self, make: Callable[[], Any]) -> Any:
        """The value ``make()`` gave on the first call, made once whatever the threads."""
        with self._lock:
            if self._value is None:
                self._value = make()
            return self._value


@dataclass(frozen=True)
class TiledImage:
    """One page of a tiled TIFF, or a Zarr array, as far as its header says.

    Attributes
    ----------
    path : str
        Absolute, so that a cluster's workers, in other folders, read the same file.
    name : str
        The path as given, for messages.
    kind : str
        ``"TIFF"`` or ``"ZARR"``.
    page : int
        The TIFF page (0 for Zarr).
    shape : tuple
        (H, W) or (H, W, C), as the samples are read.
    dtype : numpy.dtype
    mode : str
        The image's mode (`imgconv.io.formats`).
    tile : (int, int)
        Rows and columns of a tile (a Zarr chunk).
    options : dict
        How the input was stored, for an output written the same way: ``compression``,
        ``predictor``, ``photometric``, ``extrasamples``, ``bigtiff``, ``iccprofile``, ``xmp``,
        ``resolution`` (dots per inch) and ``resolutionunit`` (TIFF);
        ``compressors``, ``zarr_format`` (Zarr).
    opened : Opened
        What this process opened to read the tiles, once for all the blocks.
    """

    path: str
    name: str
    kind: str
    page: int
    shape: tuple
    dtype: np.dtype
    mode: str
    tile: tuple[int, int]
    options: dict = field(default_factory=dict)
    opened: Opened = field(default_factory=Opened, init=False, compare=False, repr=False)

    @property
    def pixels(self) -> int:
        return self.shape[0] * self.shape[1]


def is_zarr(path: Path) -> bool:
    """Whether ``path`` names a Zarr store: a path ending in ``.zarr``."""
    return path != STDIO and os.fspath(path).rstrip("/\\").lower().endswith(".zarr")


def sample_mode(dtype: np.dtype, channels: int, name: str) -> str:
    """The mode of the samples as stored; not 1-bit ones, which the whole image's path
    reads as 0 and 255."""
    mode = None if dtype == np.bool_ else formats.mode_of(dtype, channels)
    if mode is None:
        raise ImageReadError(f"{name}: {channels} channel(s) of {dtype} samples: not an image imgconv reads")
    return mode


def check_budget(name: str, shape: tuple[int, ...], tile: tuple[int, int], max_pixels: int) -> None:
    """A row of tiles (what is decoded at once), edge tiles whole, must fit in the pixel
    budget: so must a tile, however much larger than the image its header says it is."""
    th, tw = tile
    if th < 1 or tw < 1:
        raise ImageReadError(f"{name}: corrupt image: tile size {th} x {tw}")
    held = th * -(-shape[1] // tw) * tw
    if max_pixels and held > max_pixels:
        raise ImageReadError(f"{name}: a row of {th} x {tw} tiles across {shape[1]} columns is {held} pixels, more "
                             f"than the limit of {max_pixels} that a streamed block must fit in (--max-pixels N "
                             "raises it; 0 lifts it)")
