"""Inputs read whole but bounded: files, FIFOs and standard input, refused once they hold
more than an image within the pixel limit can take."""

import contextlib
import contextvars
import io
import os
import select
import stat
import sys
from collections.abc import Iterator
from typing import BinaryIO

from ..errors import ImageReadError
from . import chunks
from .quiet import quiet_warnings
from .sink import STDIO, Path
from .staging import open_inside
from .tiffinfo import TIFF_MAGIC

NPY_MAGIC = b"\x93NUMPY"


# The real path of the folder inputs opened in this thread must lie in (`read_inside`).
_read_root: contextvars.ContextVar[str | None] = contextvars.ContextVar("imgconv_read_root", default=None)


# No image under the pixel limit takes more bytes a pixel than four 32-bit samples, plus
# room for metadata: a larger input (or an endless one such as /dev/zero) is refused
# before it is read whole.
_MAX_BYTES_A_PIXEL = 16


_METADATA_BYTES = 64 << 20


def max_bytes(max_pixels: int) -> int:
    """The most bytes an encoded image within ``max_pixels`` can take (0: no limit), so
    that a larger input is refused before it is read whole."""
    return max_pixels and max_pixels * _MAX_BYTES_A_PIXEL + _METADATA_BYTES


def read_bytes(source: Path, name: str, limit: int, only_regular: bool = False) -> bytes:
    """The whole input, or a refusal once it holds more than ``limit`` bytes (0: none)."""
    try:
        if source == STDIO:
            if sys.stdin.isatty():
                raise ImageReadError(f"{name}: standard input is a terminal; pipe an image in")
            return _read_at_most(sys.stdin.buffer, limit, name)
        with open_input(source, name, only_regular) as file:
            return _read_at_most(file, limit, name)
    except FileNotFoundError:
        raise ImageReadError(f"{name}: no such file") from None
    except OSError as exc:
        raise ImageReadError(f"{name}: cannot read: {exc.strerror or exc}") from None


_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


def kind_of(mode: int) -> str:
    """What a file of ``st_mode`` ``mode`` is, in words: "a named pipe (FIFO)"..."""
    return next((words for test, words in _KINDS if test(mode)), "not a regular file")


@contextlib.contextmanager
def read_inside(folder: str | None) -> Iterator[None]:
    """Meanwhile, in this thread, inputs are opened (`open_input`) only inside ``folder``
    (the input folder a batch found them in), reached from it one name at a time
    without following a link out of it. The batch's plan skipped links leading out of
    the folder; another user who may write to it could put one in a file's place after
    the plan, to have a file they cannot read (as root) filtered into the output."""
    token = _read_root.set(None if folder is None else os.path.realpath(folder))
    try:
        yield
    finally:
        _read_root.reset(token)


def open_input(path: Path, name: str, only_regular: bool = False) -> io.BufferedReader:
    """``path`` open for reading, found out with ``fstat`` before anything waits on it.

    The file is opened with ``O_NONBLOCK``: opening a FIFO would otherwise wait for a
    writer, for ever if none comes, and no check by name beforehand can stop it (the
    name can be replaced between the check and the open). A regular file is read as it
    is. With ``only_regular`` anything else is refused (`ImageReadError`); without it, a
    FIFO is read as ``cat`` reads it, once its writer has written (or come and gone; a
    signal still ends the wait in the main thread), and a device in blocking mode.
    """
    flags, root = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC, _read_root.get()
    descriptor = os.open(path, flags) if root is None else open_inside(
        root, os.fspath(path), f"a link leading outside {root} was put in its place; not read", flags)
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            if stat.S_ISDIR(mode):
                raise ImageReadError(f"{name}: is a folder, not an image file")
            if only_regular:
                raise ImageReadError(f"{name}: is {kind_of(mode)}, not a regular file; a batch reads regular "
                                     "files only (one INPUT and one OUTPUT may be a pipe)")
            if stat.S_ISFIFO(mode):
                # Read now, a FIFO no writer has opened yet is at its end. Linux's poll
                # reports nothing on it until a writer has written or closed; opening it
                # again in blocking mode instead would wait for ever for a writer that
                # wrote its few bytes and left in between.
                poller = select.poll()
                poller.register(descriptor, select.POLLIN)
                poller.poll()
            os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def _read_at_most(file: BinaryIO, limit: int, name: str) -> bytes:
    """A regular file's size is known; a pipe or device is read a piece at a time
    (``read(limit + 1)`` would allocate all of ``limit`` at once)."""
    try:
        status = os.fstat(file.fileno())
    except OSError:  # an in-memory stream, as tests and embedding programs give
        status = None
    regular = status is not None and stat.S_ISREG(status.st_mode)
    if not limit or (regular and status is not None and status.st_size <= limit):
        return file.read()
    pieces: list[bytes] = []
    size = 0
    while not regular and (piece := file.read(min(1 << 20, limit + 1 - size))):
        if len(pieces) == 1 and not _could_be_image(pieces[0]):
            raise ImageReadError(f"{name}: not an image, or a format imgconv cannot read")
        pieces.append(piece)
        size += len(piece)
    if regular or size > limit:
        raise ImageReadError(f"{name}: more than {limit} bytes, more than an image within the pixel limit "
                             "can take (--max-pixels N raises it; 0 lifts it)")
    return b"".join(pieces)


def _could_be_image(prefix: bytes) -> bool:
    """Whether a stream's first piece starts an image, so that an endless stream of
    something else (/dev/zero) is refused at once, not at the byte limit. A TIFF may
    keep its header at the far end: its signature is enough."""
    if prefix.startswith((NPY_MAGIC, *TIFF_MAGIC)):
        return True
    from PIL import Image, UnidentifiedImageError

    try:
        if prefix.startswith(chunks.PNG_SIGNATURE):
            prefix = chunks.checked_png(prefix, "")  # as decode_image reads it
        with quiet_warnings():
            Image.open(io.BytesIO(prefix)).close()  # reads the header only
    except UnidentifiedImageError:
        return False
    except Exception:  # recognised, but damaged or too large: read_image says which
        return True
    return True
