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
import ctypes
import errno
import fcntl
import functools
import io
import os
import secrets
import shutil
import stat
import struct
import sys

from ..errors import ImageWriteError, InvalidInputError, ReaderGone

STDIO = "-"
_PRIVATE = ".imgconv-{}.tmp"
_NEW, _OLD = "new", "old"  # names inside the private folder
_RENAME_EXCHANGE = 2  # linux/fs.h
# FS_IOC_GETFLAGS is _IOR('f', 1, long): its number holds the size of a long (x86, ARM
# and most others; elsewhere the call fails and the folder is taken as an ordinary one).
_FS_IOC_GETFLAGS = 0x80006601 | struct.calcsize("l") << 16
_FS_APPEND_FL = 0x20
_REPLACED = "another user or process replaced imgconv's temporary folder beside it; not written"
_APPEND_ONLY = "its folder is append-only (chattr +a): nothing in it can be replaced"
_unfinished = set()  # the writes in progress that have a private folder (`remove_unfinished`)


def check_destination(dest):
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


def check_replaceable(dest) -> None:
    """Refuse, before any work, an existing ``dest`` in an append-only folder
    (``chattr +a``): no name there can be removed or renamed over, so the output could
    not replace it, nor its temporary be cleared away."""
    target = os.path.realpath(dest)
    if not os.path.lexists(target) or not os.path.exists(os.path.dirname(target)):
        return
    folder = os.open(os.path.dirname(target), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if _append_only(folder):
            raise ImageWriteError(f"{os.fspath(dest)}: {_APPEND_ONLY}")
    finally:
        os.close(folder)


def _append_only(folder: int) -> bool:
    try:
        flags = fcntl.ioctl(folder, _FS_IOC_GETFLAGS, bytes(8))
    except OSError:  # a file system without attributes
        return False
    return bool(int.from_bytes(flags[:4], sys.byteorder) & _FS_APPEND_FL)


def write_bytes(data, dest, *, sync=True):
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


def _write_all(descriptor: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view):]


def _descriptor_of(path) -> int | None:
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


def _written_into_special_file(data, target: str) -> bool:
    """Write into ``target`` if it is a device or a named pipe, and say so; False for a
    regular file or none. It is opened without following a link and checked again once
    open: a name swapped meanwhile for a link or a file is never written through."""
    try:
        if stat.S_ISREG(os.lstat(target).st_mode):
            return False
    except FileNotFoundError:
        return False
    descriptor = os.open(target, os.O_WRONLY | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        if stat.S_ISREG(os.fstat(descriptor).st_mode):
            return False
        _write_all(descriptor, data)
    finally:
        os.close(descriptor)
    return True


@contextlib.contextmanager
def atomic_file(path, *, sync=True):
    """A binary file to write that becomes ``path`` when the ``with`` block ends
    without an error, and is dropped when it does not (Ctrl-C included), so ``path`` is
    the old output or the whole new one, never a part (see the module's description).

    ``path`` is a real path (no link in its last part). An existing file keeps its
    permissions, and its owner and group as far as this process may give them (as
    root, both). With ``sync``, the file is synced before it takes the name and the
    folder after. A file that cannot be replaced because it is a mount point (a file
    bind-mounted onto it) is written into instead, as ``cp`` does.
    """
    with _Staging(path, sync) as staging:
        raw = io.FileIO(staging.open_file(), "w", closefd=False)
        raw.name = os.fspath(path)  # what a writer that wants a name (tifffile) sees
        with io.BufferedWriter(raw) as file:
            yield file
        staging.place_file()


@contextlib.contextmanager
def atomic_folder(path, *, sync=True):
    """A path at which to make a folder (a Zarr store) that replaces ``path`` as a whole
    when the ``with`` block ends without an error, and is removed when it does not.
    ``path`` is a real path; the rest is as for `atomic_file`. The path yielded leads
    into the private folder through its descriptor: write there, never by another name.
    """
    with _Staging(path, sync) as staging:
        yield staging.make_folder()
        staging.place_folder()


def remove_unfinished() -> None:
    """Remove the private folders of the writes in progress (for a worker whose batch
    died: its unnamed files vanish with the process, these do not)."""
    for staging in list(_unfinished):
        staging.discard()


class _Staging:
    """One write in progress, into the folder of ``path``, which is held open."""

    def __init__(self, path, sync):
        self.folder_path, self.name = os.path.split(os.fspath(path))
        self.sync = sync
        self.descriptor, self.unnamed = None, False  # the new file's, and whether it has no name yet
        self.private = None  # the private folder's name and descriptor, once made
        self.folder = os.open(self.folder_path or os.curdir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            self.existing = os.stat(self.name, dir_fd=self.folder, follow_symlinks=False)
        except FileNotFoundError:
            self.existing = None
        except BaseException:
            os.close(self.folder)
            raise
        if self.existing is not None and _append_only(self.folder):
            os.close(self.folder)
            raise OSError(errno.EPERM, _APPEND_ONLY)

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is not None:
            self.discard()
        for descriptor in (self.descriptor, self.folder):
            if descriptor is not None:
                os.close(descriptor)
        self.descriptor = self.folder = None

    def open_file(self) -> int:
        """The descriptor of the new file: unnamed where the system allows (Linux's
        O_TMPFILE, linked in through /proc), else in the private folder."""
        try:
            if not os.path.isdir("/proc/self/fd"):
                raise NotImplementedError
            self.descriptor = os.open(os.curdir, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o666, dir_fd=self.folder)
            self.unnamed = True
        except (AttributeError, NotImplementedError, OSError):  # not Linux, or a file system without them
            self.descriptor = os.open(_NEW, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666,
                                      dir_fd=self._private())
        return self.descriptor

    def place_file(self) -> None:
        """Give the written file its name (see the module's description)."""
        if self.existing is not None and stat.S_ISREG(self.existing.st_mode):
            _keep_owner(functools.partial(os.fchown, self.descriptor), self.existing, os.fstat(self.descriptor))
            os.fchmod(self.descriptor, self.existing.st_mode & 0o777)
        if self.sync:
            os.fsync(self.descriptor)
        if self.unnamed:
            source = f"/proc/self/fd/{self.descriptor}"
            if self.existing is None:
                try:  # a new name: the file appears under it, whole, in one step
                    os.link(source, self.name, dst_dir_fd=self.folder)
                    return self._finish()
                except FileExistsError:  # made meanwhile: replaced as any other
                    pass
            os.link(source, _NEW, dst_dir_fd=self._private())
        try:
            os.rename(_NEW, self.name, src_dir_fd=self.private[1], dst_dir_fd=self.folder)
        except OSError as exc:
            if exc.errno not in (errno.EBUSY, errno.EXDEV):
                raise
            self._write_in_place()
        self._finish()

    def _write_in_place(self) -> None:
        """Copy the new file into the file at the output's name, which cannot be
        replaced (a mount point), as ``cp`` writes: not atomically."""
        target = os.open(self.name, os.O_WRONLY | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC, dir_fd=self.folder)
        with io.FileIO(target, "w") as out, io.FileIO(self.descriptor, "r", closefd=False) as source:
            if not stat.S_ISREG(os.fstat(target).st_mode):
                raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
            out.truncate(0)
            source.seek(0)
            shutil.copyfileobj(source, out)
            if self.sync:
                os.fsync(target)

    def make_folder(self) -> str:
        """The path of a new folder in the private folder, through its descriptor."""
        private = self._private()
        os.mkdir(_NEW, 0o777, dir_fd=private)  # as any new folder: the umask decides
        through = f"/proc/self/fd/{private}"
        return os.path.join(through if os.path.isdir(through) else os.path.join(self.folder_path, self.private[0]),
                            _NEW)

    def place_folder(self) -> None:
        """Put the folder made in place of the old one, in one step where the system can."""
        private = self.private[1]
        if self.existing is not None and stat.S_ISDIR(self.existing.st_mode):
            _keep_owners(private, _NEW, self.existing)
            os.chmod(_NEW, self.existing.st_mode & 0o777, dir_fd=private)
        if self.sync:
            _sync_tree(private, _NEW)
        if self.existing is None:
            os.rename(_NEW, self.name, src_dir_fd=private, dst_dir_fd=self.folder)
        elif _exchange(private, _NEW, self.folder, self.name):
            _remove(_NEW, private)  # the old folder, now in the private one
        else:  # the old folder out of the way, the new one in: for a moment, none
            os.rename(self.name, _OLD, src_dir_fd=self.folder, dst_dir_fd=private)
            os.rename(_NEW, self.name, src_dir_fd=private, dst_dir_fd=self.folder)
            _remove(_OLD, private)
        self._finish()

    def _private(self) -> int:
        """The private folder's descriptor, made on first use: only this process's user
        (and root) can make or change a name in it."""
        if self.private is None:
            while True:
                name = _PRIVATE.format(secrets.token_hex(6))
                try:
                    os.mkdir(name, 0o700, dir_fd=self.folder)
                    break
                except FileExistsError:
                    continue
            # Another user who may write to the folder may rename this one away and put
            # a link or a folder in its place: not one of this user's (they cannot make
            # one), and another of this user's would not be empty. It is left alone.
            try:
                descriptor = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                                     dir_fd=self.folder)
            except OSError as exc:
                if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
                    raise
                raise OSError(errno.EEXIST, _REPLACED) from None
            if os.fstat(descriptor).st_uid != os.geteuid() or os.listdir(descriptor):
                os.close(descriptor)
                raise OSError(errno.EEXIST, _REPLACED)
            os.fchmod(descriptor, 0o700)  # whatever the umask took
            self.private = (name, descriptor)
            _unfinished.add(self)
        return self.private[1]

    def _finish(self) -> None:
        self.discard()
        if self.sync:
            os.fsync(self.folder)

    def discard(self) -> None:
        """Remove the private folder and what is left in it, as far as possible: an
        error here must not hide the one that ended the write."""
        private, self.private = self.private, None
        if private is None:
            return
        _unfinished.discard(self)
        name, descriptor = private
        with contextlib.suppress(OSError):
            for entry in (_NEW, _OLD):
                with contextlib.suppress(FileNotFoundError):
                    _remove(entry, descriptor)
            # By name, so only if the name still leads to it.
            here, made = os.stat(name, dir_fd=self.folder, follow_symlinks=False), os.fstat(descriptor)
            if (here.st_dev, here.st_ino) == (made.st_dev, made.st_ino):
                os.rmdir(name, dir_fd=self.folder)
        os.close(descriptor)


def _keep_owner(chown, existing: os.stat_result, new: os.stat_result) -> None:
    """Give the new file the old one's owner and group, or its group alone (a user may
    give a file any group they belong to; only root may give it away)."""
    if (new.st_uid, new.st_gid) == (existing.st_uid, existing.st_gid):
        return
    try:
        chown(existing.st_uid, existing.st_gid)
    except PermissionError:
        with contextlib.suppress(PermissionError):
            chown(-1, existing.st_gid)


def _keep_owners(folder: int, name: str, existing: os.stat_result) -> None:
    """`_keep_owner` for the folder ``name`` and everything in it."""
    def keep(entry, parent):
        chown = functools.partial(os.chown, entry, dir_fd=parent, follow_symlinks=False)
        _keep_owner(chown, existing, os.stat(entry, dir_fd=parent, follow_symlinks=False))

    for _, folders, files, descriptor in os.fwalk(name, dir_fd=folder):
        for entry in folders + files:
            keep(entry, descriptor)
    keep(name, folder)


def _sync_tree(folder: int, name: str) -> None:
    """Sync every file and folder under ``name``, the deepest first."""
    for _, _, files, descriptor in os.fwalk(name, dir_fd=folder, topdown=False):
        for file in files:
            handle = os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=descriptor)
            try:
                os.fsync(handle)
            finally:
                os.close(handle)
        os.fsync(descriptor)


def _remove(name: str, folder: int) -> None:
    """Remove ``name`` in ``folder``, a file or a whole tree, never following a link."""
    try:
        os.unlink(name, dir_fd=folder)
        return
    except (IsADirectoryError, PermissionError):  # a folder (Linux says EISDIR, others EPERM)
        pass
    descriptor = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
    try:
        for entry in os.listdir(descriptor):
            _remove(entry, descriptor)
    finally:
        os.close(descriptor)
    os.rmdir(name, dir_fd=folder)


@functools.cache
def _renameat2():
    """libc's renameat2, or None (not Linux, or a C library without it)."""
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return function


def _exchange(source_folder: int, source: str, target_folder: int, target: str) -> bool:
    """Swap two names in one step; False where the system or file system cannot."""
    function = _renameat2()
    if function is None:
        return False
    if function(source_folder, os.fsencode(source), target_folder, os.fsencode(target), _RENAME_EXCHANGE) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.ENOSYS, errno.EINVAL):  # an older kernel, or a file system without it
        return False
    raise OSError(error, os.strerror(error))
