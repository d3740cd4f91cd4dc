"""Where an output is made before it takes its name: an unnamed file, or a private folder
beside the output that only this process uses, and how the result replaces the old
output (see `imgconv.io.sink`)."""

import contextlib
import contextvars
import ctypes
import errno
import fcntl
import functools
import io
import os
import stat
import struct
import sys
from collections.abc import Callable, Iterator
from types import TracebackType

_PRIVATE = ".imgconv-{}.tmp"


_NEW, _OLD = "new", "old"  # names inside the private folder


_RENAME_EXCHANGE = 2  # linux/fs.h


# FS_IOC_GETFLAGS is _IOR('f', 1, long): its number holds the size of a long (x86, ARM
# and most others; elsewhere the call fails and the folder is taken as an ordinary one).
_FS_IOC_GETFLAGS = 0x80006601 | struct.calcsize("l") << 16


_FS_APPEND_FL = 0x20


_REPLACED = "another user or process replaced imgconv's temporary folder beside it; not written"


APPEND_ONLY = "its folder is append-only (chattr +a): nothing in it can be replaced"


_ESCAPED = "its folder no longer lies inside the batch's output folder (a link was put on its way); not written"


_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


# The real path of the folder that outputs made in this thread must lie in (`beneath`).
_beneath: contextvars.ContextVar[str | None] = contextvars.ContextVar("imgconv_beneath", default=None)


_unfinished: set["Staging"] = set()  # the writes in progress that have a private folder (`remove_unfinished`)


def append_only(folder: int) -> bool:
    try:
        flags = fcntl.ioctl(folder, _FS_IOC_GETFLAGS, bytes(8))
    except OSError:  # a file system without attributes
        return False
    return bool(int.from_bytes(flags[:4], sys.byteorder) & _FS_APPEND_FL)


def remove_unfinished() -> None:
    """Remove the private folders of the writes in progress (for a worker whose batch
    died: its unnamed files vanish with the process, these do not)."""
    for staging in list(_unfinished):
        staging.discard()


@contextlib.contextmanager
def beneath(root: str | None) -> Iterator[None]:
    """Meanwhile, in this thread, outputs are made only in folders inside ``root`` (a
    batch's OUTPUT), reached from it one folder at a time without following a link
    (`open_folder`). A batch checks that each output lies inside OUTPUT, then decodes
    and filters, then writes: another user who may write to OUTPUT could, in between,
    swap a sub-folder for a link leading anywhere, and the write would follow it. Here
    such a link makes the write fail instead."""
    token = _beneath.set(None if root is None else os.path.realpath(root))
    try:
        yield
    finally:
        _beneath.reset(token)


def open_folder(path: str, make: bool = False) -> int:
    """A descriptor of the folder ``path``, made first with the folders above it
    (``mkdir -p``) if ``make``; inside `beneath`, reached from its root by `open_inside`."""
    root = _beneath.get()
    if root is None:
        if make:
            os.makedirs(path, exist_ok=True)
        return os.open(path, _DIRECTORY)
    if make:
        os.makedirs(root, exist_ok=True)
    return open_inside(root, path, _ESCAPED, make=make)


def open_inside(root: str, path: str, outside: str, flags: int = _DIRECTORY, make: bool = False) -> int:
    """A descriptor of ``path`` (opened with ``flags``), which must lie inside the folder
    ``root`` (a real path), reached from it one name at a time, none of them a link:
    links inside the root leading inside it are resolved first, and one put on the way
    meanwhile, or leading outside, raises OSError (EXDEV) with the message ``outside``.
    With ``make``, missing folders on the way (and ``path`` itself) are made."""
    relative = os.path.relpath(os.path.realpath(path), root)
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        raise OSError(errno.EXDEV, outside)
    names = [] if relative == os.curdir else relative.split(os.sep)
    descriptor = os.open(root, _DIRECTORY)  # the folder the user named, wherever it leads
    try:
        for i, name in enumerate(names):
            if make:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o777, dir_fd=descriptor)
            try:
                inner = os.open(name, (flags if i == len(names) - 1 else _DIRECTORY) | os.O_NOFOLLOW,
                                dir_fd=descriptor)
            except OSError as exc:  # a link: ELOOP, or ENOTDIR with O_DIRECTORY
                if exc.errno in (errno.ELOOP, errno.ENOTDIR) and \
                        stat.S_ISLNK(os.stat(name, dir_fd=descriptor, follow_symlinks=False).st_mode):
                    os.stat(name, dir_fd=descriptor)  # a loop of links, or one to nothing, says so
                    raise OSError(errno.EXDEV, outside) from None
                raise
            os.close(descriptor)
            descriptor = inner
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


class Staging:
    """One write in progress, into the folder of ``path``, which is held open."""

    def __init__(self, path: str | os.PathLike[str], sync: bool) -> None:
        self.folder_path, self.name = os.path.split(os.fspath(path))
        self.sync = sync
        self.descriptor: int | None = None  # the new file's
        self.unnamed = False  # whether the new file has no name yet
        self.private: tuple[str, int] | None = None  # the private folder's name and descriptor, once made
        self.folder: int | None = open_folder(self.folder_path or os.curdir)
        self.existing: os.stat_result | None
        try:
            self.existing = os.stat(self.name, dir_fd=self.folder, follow_symlinks=False)
        except FileNotFoundError:
            self.existing = None
        except BaseException:
            os.close(self.folder)
            raise
        if self.existing is not None and append_only(self.folder):
            os.close(self.folder)
            raise OSError(errno.EPERM, APPEND_ONLY)

    def __enter__(self) -> "Staging":
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
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
            descriptor = os.open(os.curdir, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o666, dir_fd=self.folder)
            self.unnamed = True
        except (AttributeError, NotImplementedError, OSError):  # not Linux, or a file system without them
            descriptor = os.open(_NEW, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666,
                                 dir_fd=self._private())
        self.descriptor = descriptor
        return descriptor

    def place_file(self) -> None:
        """Give the written file its name (see the module's description)."""
        assert self.descriptor is not None, "open_file comes first"
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
            os.rename(_NEW, self.name, src_dir_fd=self._private(), dst_dir_fd=self.folder)
        except OSError as exc:
            if exc.errno not in (errno.EBUSY, errno.EXDEV):
                raise
            self._write_in_place()
        self._finish()

    def _write_in_place(self) -> None:
        """Copy the new file into the file at the output's name, which cannot be
        replaced (a mount point), as ``cp`` writes: not atomically."""
        assert self.descriptor is not None, "open_file comes first"
        target = os.open(self.name, os.O_WRONLY | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC, dir_fd=self.folder)
        with io.FileIO(target, "w") as out, io.FileIO(self.descriptor, "r", closefd=False) as source:
            if not stat.S_ISREG(os.fstat(target).st_mode):
                raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
            out.truncate(0)
            source.seek(0)
            import shutil  # here only: with bz2 and lzma it takes 1.5 ms, and this path is rare

            shutil.copyfileobj(source, out)
            if self.sync:
                os.fsync(target)

    def make_folder(self) -> str:
        """The path of a new folder in the private folder, through its descriptor."""
        private = self._private()
        os.mkdir(_NEW, 0o777, dir_fd=private)  # as any new folder: the umask decides
        through = f"/proc/self/fd/{private}"
        assert self.private is not None, "made just now"
        return os.path.join(through if os.path.isdir(through) else os.path.join(self.folder_path, self.private[0]),
                            _NEW)

    def place_folder(self) -> None:
        """Put the folder made in place of the old one, in one step where the system can."""
        private = self._private()  # make_folder's
        assert self.folder is not None, "held open until the with block ends"
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
                name = _PRIVATE.format(os.urandom(6).hex())
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
        assert self.folder is not None, "held open until the with block ends"
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


def _keep_owner(chown: Callable[[int, int], None], existing: os.stat_result, new: os.stat_result) -> None:
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
    def keep(entry: str, parent: int) -> None:
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
def renameat2() -> Callable[..., int] | None:
    """libc's renameat2, or None (not Linux, or a C library without it)."""
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return function


def _exchange(source_folder: int, source: str, target_folder: int, target: str) -> bool:
    """Swap two names in one step; False where the system or file system cannot."""
    function = renameat2()
    if function is None:
        return False
    if function(source_folder, os.fsencode(source), target_folder, os.fsencode(target), _RENAME_EXCHANGE) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.ENOSYS, errno.EINVAL):  # an older kernel, or a file system without it
        return False
    raise OSError(error, os.strerror(error))
