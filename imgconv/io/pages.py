"""Results given up to their encoder, and their memory handed back as it goes.

An encoder copies a result into a layout of its own: PNG's filtered rows, Pillow's image
(which keeps RGB as four bytes a pixel). Copied whole, that is a second full-size image
beside the result. A caller that has no further use for its results says so
(`giving_up`); the encoders then copy them strip by strip, and `release_rows` gives
the pages of each strip copied back to the system, so that the copy grows as the result
shrinks. A file read whole is given up by its reader in the same way, and its decoder
releases it as it reads it (`release_bytes`). Pages go back with
``madvise(MADV_DONTNEED)`` (Linux): a page released reads as zeros afterwards, which is
why only what was given up is released; elsewhere, and for anything else,
`release_rows` and `release_bytes` do nothing.
"""

import contextlib
import functools
import mmap
import sys
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import ctypes

# Rows an encoder copies at a time: large enough that the copies cost no more than one
# whole copy, small enough to be nothing beside the image (a 12000-pixel RGB row is
# 36 KB; 64 rows, 2.3 MB).
STRIP_ROWS = 64

_GIVEN_UP: ContextVar[tuple[np.ndarray | bytes, ...]] = ContextVar("imgconv_given_up", default=())


@contextlib.contextmanager
def giving_up(arrays: Sequence[np.ndarray | bytes]) -> Iterator[None]:
    """Within this context, `release_rows` and `release_bytes` may release ``arrays``'
    memory: the caller reads nothing of them again (nor of any view of them)."""
    token = _GIVEN_UP.set(tuple(arrays))
    try:
        yield
    finally:
        _GIVEN_UP.reset(token)


def given_up(array: np.ndarray | bytes) -> bool:
    """Whether ``array`` is one that `giving_up` names."""
    return any(array is other for other in _GIVEN_UP.get())


def strips(height: int) -> Iterator[tuple[int, int]]:
    """(top, bottom) of the strips of `STRIP_ROWS` an image ``height`` rows high is copied in."""
    for top in range(0, height, STRIP_ROWS):
        yield top, min(top + STRIP_ROWS, height)


def release_rows(array: np.ndarray, top: int, bottom: int) -> None:
    """Hand back to the system the pages that lie wholly within rows ``top`` to
    ``bottom`` (exclusive) of ``array``, if `giving_up` names it and it is C-contiguous;
    otherwise nothing."""
    if given_up(array) and array.flags.c_contiguous and bottom > top:
        _release(array.ctypes.data + top * array.strides[0], (bottom - top) * array.strides[0])


def release_bytes(data: bytes, start: int, stop: int) -> None:
    """`release_rows` for the bytes ``start`` to ``stop`` of ``data``, an encoded file
    read whole that its reader gave up (`giving_up`) and reads no more than its decoder
    does: past them, the decoder reads only what follows."""
    if given_up(data) and stop > start:
        _release(np.frombuffer(data, np.uint8).ctypes.data + start, stop - start)


def _release(start: int, size: int) -> None:
    """``madvise(MADV_DONTNEED)`` the pages wholly within ``size`` bytes from the
    address ``start``, where there is ``madvise``."""
    advise = _madvise()
    first = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE
    last = (start + size) // mmap.PAGESIZE * mmap.PAGESIZE
    if advise is not None and last > first:
        advise(first, last - first, mmap.MADV_DONTNEED)


def trim() -> None:
    """Hand the freed memory at the heap's top and in its arenas back to the system
    (glibc's ``malloc_trim``; elsewhere nothing): the CLI has glibc keep up to 64 MiB
    of freed blocks for reuse, which a large picture's encoder would hold beside its
    copy. After filtering the 12000x8400 RGB photo in place, 50-75 MiB went back."""
    malloc_trim = getattr(_libc(), "malloc_trim", None)  # glibc's own: not in musl
    if malloc_trim is not None:
        malloc_trim(0)


@functools.cache
def _libc() -> "ctypes.CDLL | None":
    """The C library, on Linux (glibc's functions), else None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


@functools.cache
def _madvise() -> Callable[[int, int, int], int] | None:
    """libc's ``madvise``, on Linux; None elsewhere."""
    libc = _libc()
    if libc is None:
        return None
    import ctypes

    function = libc.madvise
    function.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    function.restype = ctypes.c_int
    return function
