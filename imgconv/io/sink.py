"""Atomic, durable writing: an output appears whole under its name, or not at all, and
survives a power loss once imgconv has said it is written.

A file is written through a descriptor that nothing else can reach: an unnamed file
in the output's folder (``O_TMPFILE``, on Linux file systems that have it), or else a
file in a private folder (mode 0700, made in the output's folder). No step after
it is made goes by a name that another user could change: the bytes are written, the
mode and owner set and the data synced (``fsync``) through the descriptor; the file
then gets the output's name (linked in as a new name, or renamed from the private
folder over the old file), and the folder is synced, as SQLite and git do. Another
user who may write to a shared output folder can rename or replace any name in it,
but never makes imgconv write, chmod or rename anything but its own file. The
temporary's name is short and fixed in length (``.imgconv-XXXXXXXXXXXX.tmp``), so any
output name that fits the file system fits beside it.

A Zarr store (a folder) is written in the private folder, through a path that goes
through the folder's descriptor (``/proc/self/fd/N``; without /proc, by its name),
synced file by file and folder by folder, then exchanged with the old store in one
step (``renameat2`` with ``RENAME_EXCHANGE``), where the system has it, and the old
one removed.
"""

import contextlib
import io
import os
import stat
import sys
from collections.abc import Iterator
from typing import BinaryIO

from ..errors import ImageWriteError, InvalidInputError, ReaderGone
from .staging import APPEND_ONLY, Staging, append_only

STDIO = "-"
# What names an input or output: a path, or STDIO for standard input or output.
Path = str | os.PathLike[str]


def check_destination(dest: Path) -> None:
    """Fail early, before any filtering, when ``dest`` cannot be written."""
    if dest == STDIO:
        if sys.stdout is None:  # started with standard output closed
            raise ImageWriteError("<stdout>: standard output is closed")
        if sys.stdout.isatty():
            raise InvalidInputError("refusing to write image data to a terminal; redirect standard output")
        return
    descriptor = _descriptor_of(dest)
    if descriptor is not None:
        try:
            os.fstat(descriptor)
        except OSError as exc:
            raise ImageWriteError(f"{dest}: cannot write: {exc.strerror}") from None
        if os.isatty(descriptor):
            raise InvalidInputError(f"{dest}: refusing to write image data to a terminal; redirect it")
        return
    target = os.path.realpath(dest)
    if os.path.isdir(target):
        raise ImageWriteError(f"{dest}: is a folder")
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise ImageWriteError(f"{dest}: folder {folder} does not exist")
    check_replaceable(dest)


def check_replaceable(dest: Path) -> None:
    """Refuse, before any work, an existing ``dest`` in an append-only folder
    (``chattr +a``): no name there can be removed or renamed over, so the output could
    not replace it, nor its temporary be cleared away."""
    target = os.path.realpath(dest)
    if not os.path.lexists(target) or not os.path.exists(os.path.dirname(target)):
        return
    folder = os.open(os.path.dirname(target), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if append_only(folder):
            raise ImageWriteError(f"{os.fspath(dest)}: {APPEND_ONLY}")
    finally:
        os.close(folder)


def write_bytes(data: bytes | memoryview, dest: Path, *, sync: bool = True) -> None:
    """Write ``data`` to ``dest``, or to standard output for ``"-"``.

    A regular file (or a new one) is written atomically and durably (`atomic_file`;
    ``sync=False`` skips the syncs), so readers see the old file or the new one, never
    half of one, and an error or Ctrl-C leaves nothing behind. A symbolic link is
    followed to the file it names, as ``cp`` does, and that file is written so.
    Anything else that exists (a device such as ``/dev/null``, a named pipe) is written
    into directly, never replaced. A path to a file descriptor of this process
    (``/dev/stdout``, ``/dev/fd/N``, ``/proc/self/fd/N``, or a link to one) is written
    into that descriptor, as ``-`` is into standard output: at its offset, whatever it
    is open on (a pipe, a socket, a file the shell appends to).

    A reader of standard output that goes away raises `ReaderGone`; other failures
    are `ImageWriteError`.
    """
    name = "<stdout>" if dest == STDIO else os.fspath(dest)
    try:
        if dest == STDIO:
            # A write that meets a closed pipe part-way returns what it wrote; the next
            # one raises. Without the loop, a cut-short output would look written.
            view = memoryview(data)
            while view:
                view = view[sys.stdout.buffer.write(view):]
            sys.stdout.buffer.flush()
            return
        descriptor = _descriptor_of(dest)
        if descriptor is not None:
            _write_all(descriptor, data)
            return
        target = os.path.realpath(dest)
        if not _written_into_special_file(data, target):
            with atomic_file(target, sync=sync) as file:
                file.write(data)
    except BrokenPipeError:
        raise ReaderGone() from None
    except OSError as exc:
        raise ImageWriteError(f"{name}: cannot write: {exc.strerror or exc}") from None


@contextlib.contextmanager
def output_file(dest: Path, *, sync: bool = True) -> Iterator[BinaryIO]:
    """A file to encode an output into, which becomes ``dest`` as `write_bytes` would
    write it when the ``with`` block ends without an error, and leaves nothing when it
    does not.

    A regular file (or a new one) is the atomic file itself (`atomic_file`), written as
    the encoder goes, so that the output is never held whole in memory; it is made only
    when the block starts, so refuse what must be refused before. Standard output, a
    descriptor, a device or a named pipe are given the bytes at the end by
    `write_bytes`: a reader never sees part of an output that fails.
    """
    target = None if dest == STDIO or _descriptor_of(dest) is not None else os.path.realpath(dest)
    if target is None or _special(target):
        buffer = io.BytesIO()
        yield buffer
        write_bytes(buffer.getbuffer(), dest, sync=sync)  # its memory, not a copy
        return
    try:
        with atomic_file(target, sync=sync) as file:
            yield file
    except OSError as exc:  # the file's, or an encoder's writing into it
        raise ImageWriteError(f"{os.fspath(dest)}: cannot write: {exc.strerror or exc}") from None


def _write_all(descriptor: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view):]


def _descriptor_of(path: Path) -> int | None:
    """The file descriptor of this process that ``path`` leads to through
    ``/proc/self/fd`` (``/dev/fd`` and ``/dev/stdout`` are links into it), or None.

    Resolving such a path as a name does not work: the kernel's link names a pipe
    ``pipe:[N]`` or a socket, which no folder holds, and a file by a name that
    replacing it would take from the shell that opened it.
    """
    folders = {os.path.realpath("/proc/self/fd"), os.path.realpath("/proc/thread-self/fd")}
    path = os.path.abspath(os.fspath(path))
    for _ in range(40):  # Linux follows at most 40 links
        folder, name = os.path.split(path)
        if name.isdigit() and os.path.realpath(folder) in folders:
            return int(name)
        try:
            path = os.path.abspath(os.path.join(folder, os.readlink(path)))
        except OSError:  # not a link: a name like any other
            return None
    return None


def _written_into_special_file(data: bytes | memoryview, target: str) -> bool:
    """Write into ``target`` if it is a device or a named pipe, and say so; False for a
    regular file or none. It is opened without following a link and checked again once
    open: a name swapped meanwhile for a link or a file is never written through."""
    if not _special(target):
        return False
    descriptor = os.open(target, os.O_WRONLY | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        if stat.S_ISREG(os.fstat(descriptor).st_mode):
            return False
        _write_all(descriptor, data)
    finally:
        os.close(descriptor)
    return True


def _special(target: str) -> bool:
    """Whether ``target`` exists and is not a regular file (a device, a named pipe)."""
    try:
        return not stat.S_ISREG(os.lstat(target).st_mode)
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def atomic_file(path: Path, *, sync: bool = True) -> Iterator[BinaryIO]:
    """A binary file to write that becomes ``path`` when the ``with`` block ends
    without an error, and is dropped when it does not (Ctrl-C included), so ``path`` is
    the old output or the whole new one, never a part (see the module's description).

    ``path`` is a real path (no link in its last part). An existing file keeps its
    permissions, and its owner and group as far as this process may give them (as
    root, both). With ``sync``, the file is synced before it takes the name and the
    folder after. A file that cannot be replaced because it is a mount point (a file
    bind-mounted onto it) is written into instead, as ``cp`` does.
    """
    with Staging(path, sync) as staging:
        # Readable too: a TIFF's writer reads back the IFDs it adds tags to.
        raw = io.FileIO(staging.open_file(), "r+", closefd=False)
        raw.name = os.fspath(path)  # what a writer that wants a name (tifffile) sees
        with io.BufferedRandom(raw) as file:
            yield file
        staging.place_file()


@contextlib.contextmanager
def atomic_folder(path: Path, *, sync: bool = True) -> Iterator[str]:
    """A path at which to make a folder (a Zarr store) that replaces ``path`` as a whole
    when the ``with`` block ends without an error, and is removed when it does not.
    ``path`` is a real path; the rest is as for `atomic_file`. The path yielded leads
    into the private folder through its descriptor: write there, never by another name.
    """
    with Staging(path, sync) as staging:
        yield staging.make_folder()
        staging.place_folder()
