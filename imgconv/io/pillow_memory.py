"""A Pillow image's own memory seen by NumPy, without a copy.

Pillow keeps an image in blocks of rows (16 MiB each by default) and gives NumPy a copy
of its samples. Pillow exports an image held in one block through the Arrow C data
interface (``Image.__arrow_c_array__``): a capsule holding an ``ArrowArray`` (a stable C
ABI) whose data buffer is the image's memory, kept alive by the capsule. `one_block` has
Pillow allocate large images so; `view` makes that memory a NumPy array. RGB is stored
as four bytes a pixel (RGBX), as are RGBA and CMYK: the view has the fourth byte.
"""

import contextlib
import ctypes
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

# Images of at least this many bytes (at four a pixel) are allocated in one block by
# `one_block`: below it the copy they save is small, and a block that calloc must clear
# (one from reused heap memory) costs more than the 16 MiB ones Pillow fills itself.
ONE_BLOCK_BYTES = 64 << 20

# Pillow modes stored as one byte a sample and one or four samples a pixel.
_PIXEL_BYTES = {"L": 1, "RGB": 4, "RGBA": 4, "RGBX": 4, "CMYK": 4}


class _ArrowArray(ctypes.Structure):
    """``struct ArrowArray`` of the Arrow C data interface."""


_ArrowArray._fields_ = [
    ("length", ctypes.c_int64), ("null_count", ctypes.c_int64), ("offset", ctypes.c_int64),
    ("n_buffers", ctypes.c_int64), ("n_children", ctypes.c_int64), ("buffers", ctypes.POINTER(ctypes.c_void_p)),
    ("children", ctypes.POINTER(ctypes.POINTER(_ArrowArray))), ("dictionary", ctypes.c_void_p),
    ("release", ctypes.c_void_p), ("private_data", ctypes.c_void_p),
]


class _Memory:
    """NumPy's array interface for ``address``; ``owner`` keeps the memory alive while
    an array made of it (whose base this is) lives."""

    def __init__(self, address: int, shape: tuple[int, ...], owner: Any) -> None:
        self.__array_interface__ = {"shape": shape, "typestr": "|u1", "data": (address, False), "version": 3}
        self.owner = owner


class _Allocator:
    """Pillow's process-wide choice of one block an image, held for every thread in
    `one_block` at once and given back as it was when the last leaves."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.before = 0

    def enter(self, core: Any) -> None:
        with self.lock:
            if not self.users:
                self.before = core.get_use_block_allocator()
                core.set_use_block_allocator(1)
            self.users += 1

    def leave(self, core: Any) -> None:
        with self.lock:
            self.users -= 1
            if not self.users:
                core.set_use_block_allocator(self.before)


_ALLOCATOR = _Allocator()


@contextlib.contextmanager
def one_block(size: tuple[int, int]) -> Iterator[None]:
    """Within this context, Pillow allocates every image in one block, where an image
    of ``size`` (width, height) takes at least `ONE_BLOCK_BYTES`. Pillow's setting is
    process-wide: another thread's images meanwhile are allocated so too, which changes
    nothing but their layout."""
    from PIL import Image

    if size[0] * size[1] * 4 < ONE_BLOCK_BYTES or not hasattr(Image.Image, "__arrow_c_array__"):
        yield  # small, or a Pillow before 11.2, which does not export its images
        return
    _ALLOCATOR.enter(Image.core)
    try:
        yield
    finally:
        _ALLOCATOR.leave(Image.core)


def view(image: "Image.Image") -> np.ndarray | None:
    """The loaded ``image``'s memory as a writable uint8 array, (H, W) for L and
    (H, W, 4) for RGB (its fourth byte unused), RGBA, RGBX and CMYK; None for other
    modes and where Pillow holds the image in several blocks."""
    pixel = _PIXEL_BYTES.get(image.mode)
    export = getattr(image, "__arrow_c_array__", None)  # Pillow 11.2 and later
    if pixel is None or export is None:
        return None
    try:
        _, capsule = export()
    except ValueError:  # in several blocks
        return None
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    array = _ArrowArray.from_address(get(capsule, b"arrow_array"))
    if array.n_children == 1:  # four bytes a pixel: a fixed-size list of four uint8
        array = array.children[0].contents
    width, height = image.size
    if array.n_buffers != 2 or array.offset != 0 or array.length != width * height * pixel:
        return None
    shape = (height, width) if pixel == 1 else (height, width, pixel)
    return np.asarray(_Memory(array.buffers[1], shape, capsule))
