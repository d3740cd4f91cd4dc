"""Planning a batch: the inputs found in folders and lists, the output each becomes, and
the checks that keep every output inside OUTPUT, all made before any work starts."""

import fnmatch
import functools
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from ..errors import InvalidInputError
from ..io import formats
from ..io.sink import STDIO
from ..io.source import kind_of
from ..io.tiled_image import is_zarr
from ..names import quote_name
from ..pipeline import check_paths, same_file
from .report import Result


@dataclass(frozen=True)
class Task:
    """One input file and the output file it becomes.

    ``root`` is the batch's OUTPUT folder: when given, `run_task` writes ``dest`` only
    if it still lies inside it (see `destination_problem`). ``source_root`` is the input
    folder ``source`` was found in: when given, `run_task` reads it only inside that
    folder (`imgconv.io.source.read_inside`).
    """

    source: str
    dest: str
    root: str | None = None
    source_root: str | None = None


def is_batch(paths: Sequence[str], files_from: str | None = None) -> bool:
    """Several inputs, a folder input, a folder output, or a ``--files-from`` list make a
    batch; one INPUT and one OUTPUT file do not, nor does a Zarr store (a ``*.zarr``
    folder), which is one image."""
    if files_from is not None or len(paths) > 2:
        return True

    def folder(path: str) -> bool:
        return os.path.isdir(path) and not is_zarr(path)

    return len(paths) == 2 and (folder(paths[0]) or folder(paths[1]) or paths[1].endswith(("/", os.sep)))


def read_file_list(data: bytes, null: bool = False) -> list[str]:
    """Paths from ``--files-from`` bytes: one per line, or NUL-separated with ``null``."""
    separator = b"\0" if null else b"\n"
    names = data.split(separator)
    if not null:
        names = [name.rstrip(b"\r") for name in names]
    return [os.fsdecode(name) for name in names if name]


def read_files_from(path: str, null: bool = False) -> list[str]:
    """The paths listed in the file ``path`` (``-`` for standard input), see `read_file_list`."""
    try:
        if path == STDIO:
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as file:
                data = file.read()
    except OSError as exc:
        raise InvalidInputError(f"{quote_name(path)}: cannot read the file list: {exc.strerror or exc}") from None
    return read_file_list(data, null)


def plan_batch(inputs: Iterable[str], output: str, *, recursive: bool = False, include: Sequence[str] = (),
               exclude: Sequence[str] = (), format: str | None = None, suffix: str = "", in_place: bool = False,
               on_note: Callable[[str], object] | None = None,
               on_result: Callable[[Result], object] | None = None) -> list[Task]:
    """Every (input, output) pair of a batch, in a stable order.

    Parameters
    ----------
    inputs : list of str
        Files and folders. A folder gives the image files in it (by extension, any
        case; hidden files and folders skipped), and with ``recursive`` those of its
        sub-folders too, keeping their paths relative to it. A file keeps its name.
        Inside a folder, a symbolic link that leads outside that folder is skipped
        (``on_note`` is told), one that stays inside is read; links to folders are
        never descended into; an entry that is not a regular file (a FIFO, a device)
        is skipped and a folder that cannot be read fails (``on_result`` is told of
        both). Files and folders named in ``inputs`` are read wherever they lead.
    output : str
        The output folder. Every planned output lies inside it, after resolving
        symbolic links.
    include, exclude : sequence of str
        Glob patterns matched against each file's name and its path relative to the
        folder it came from; a file is taken if it matches some ``include`` (when any
        are given) and no ``exclude``.
    format : str, optional
        A name from `imgconv.io.formats.names`: every output gets that format's extension.
    suffix : str
        Inserted before each output's extension; no path separator or NUL. A file that
        another input of the batch would be written as (its name with the suffix, in
        ``format``'s extension, in ``output``) is not an input: it is that input's
        output from an earlier run.
    in_place : bool
        Allow an output to be its own input.
    on_note : callable, optional
        ``on_note(message)`` for each input skipped for safety (a symbolic link leading
        out of its folder); such an input is neither planned nor failed.
    on_result : callable, optional
        ``on_result(result)`` with a `Result` (no output, the reason as its ``error``)
        for each input settled while planning: a folder entry that is not a regular
        file, "skipped", and a folder that cannot be read, "failed".

    Raises
    ------
    InvalidInputError
        Before any work: an output that is a file, a suffix holding a path separator,
        an output that would lie outside ``output``, two inputs writing the same
        output, an output that would overwrite its input without ``in_place``.
    """
    if any(bad in suffix for bad in _SEPARATORS):
        raise InvalidInputError(f"--suffix {suffix!r}: a suffix cannot hold a path separator or NUL; "
                                "it only goes before each output's extension")
    if os.path.exists(output) and not os.path.isdir(output):
        raise InvalidInputError(f"{quote_name(output)}: the output of a batch must be a folder")
    if not os.path.exists(output) and is_readable_extension(os.path.splitext(output)[1].lower()):
        raise InvalidInputError(f"{quote_name(output)}: the output of a batch is a folder, but this names an image "
                                "file")
    output_real = os.path.realpath(output)
    candidates = []
    for source, relative, status, message, source_root in _discover(inputs, output_real, recursive):
        if status != "failed" and not _selected(relative, include, exclude):
            continue
        if status == "note":
            if on_note is not None:
                on_note(message)
            continue
        if status is not None:
            if on_result is not None:
                on_result(Result(source, None, status, message))
            continue
        stem, extension = os.path.splitext(relative)
        if format is not None:
            extension = formats.extension_of(formats.names()[format.lower()])
        candidates.append((source, os.path.join(output, stem + suffix + extension), source_root))
    # With a suffix, a file that another input becomes is what an earlier run like this
    # one wrote: a.png and a_sharp.png in OUTPUT are an input and its output, and a
    # re-run must not make a_sharp_sharp.png.
    made_by = {os.path.realpath(dest): source for source, dest, _ in candidates} if suffix else {}
    tasks: list[Task] = []
    writers: dict[str, str] = {}  # output (real path): its input
    for source, dest, source_root in candidates:
        if made_by.get(os.path.realpath(source), source) != source:
            continue
        if os.path.basename(dest) in ("", os.curdir, os.pardir):
            raise InvalidInputError(f"{quote_name(source)}: has no file name to write in {quote_name(output)}; "
                                    "nothing was done")
        if not _inside(os.path.realpath(os.path.dirname(dest)), output_real):
            raise InvalidInputError(f"{quote_name(dest)}: would be written outside {quote_name(output)}; "
                                    "nothing was done")
        key = os.path.realpath(dest)
        if key in writers:
            raise InvalidInputError(f"{quote_name(writers[key])} and {quote_name(source)} would both write "
                                    f"{quote_name(dest)}")
        if not in_place and key == os.path.realpath(source):
            raise InvalidInputError(f"{quote_name(dest)}: would overwrite its input; give --in-place, --suffix or "
                                    "another folder")
        writers[key] = source
        tasks.append(Task(source, dest, output, source_root))
    return tasks


_SEPARATORS = {separator for separator in ("/", "\0", os.sep, os.altsep) if separator is not None}


def _inside(path: str, folder: str) -> bool:
    """``path`` is ``folder`` or lies under it (both already real, absolute paths)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _discover(inputs: Iterable[str], output_real: str,
              recursive: bool) -> Iterator[tuple[str, str, str | None, str, str | None]]:
    """(path, path relative to where it came from, status, message, the input folder it
    was found in or None) for every candidate file, status None and message empty, and
    for each thing met that is not one:

    - ``"note"``: a symbolic link inside a folder input that leads outside it;
    - ``"skipped"``: a folder entry with an image's name that is not a regular file (a
      FIFO, a device, a socket), as ``find -type f`` leaves them out: opening a FIFO
      waits for a writer, for ever if none comes;
    - ``"failed"``: a folder that cannot be listed (no permission, a path longer than
      the system takes), whose files would otherwise be left out unsaid.
    """
    for item in inputs:
        if item == STDIO:
            raise InvalidInputError("'-' cannot be an input of a batch; use --files-from - for a list on stdin")
        if not os.path.isdir(item) or is_zarr(item):
            # A missing or unreadable file is reported when it is processed, like a corrupt one.
            yield item, os.path.basename(item), None, "", None
            continue
        root_real = os.path.realpath(item)
        outside_note = f"symbolic link leads outside {quote_name(item)}; skipped"
        # Depth first, in name order, as os.walk goes; on a stack, not by recursion, as
        # a tree can be deeper than Python's recursion limit.
        folders = [(item, "")]
        while folders:
            folder, relative_folder = folders.pop()
            try:
                with os.scandir(folder) as listing:
                    entries = sorted((e for e in listing if not e.name.startswith(".")), key=lambda e: e.name)
            except OSError as exc:
                yield folder, relative_folder or os.curdir, "failed", (
                    f"{quote_name(folder)}: cannot read this folder: {exc.strerror or exc}; its files were not "
                    "processed"), item
                continue
            kept = []
            for entry in filter(_is_folder, entries):
                # Never descend into the output folder itself, or links (one leading
                # outside gets a note).
                path, relative = entry.path, os.path.join(relative_folder, entry.name)
                real = os.path.realpath(path)
                outside = entry.is_symlink() and not _inside(real, root_real)
                if real == output_real:
                    continue
                if outside and (recursive or is_zarr(entry.name)):
                    yield path, relative, "note", f"{quote_name(path)}: {outside_note}", item
                elif is_zarr(entry.name):  # a Zarr store is one image, never descended into
                    yield path, relative, None, "", item
                elif recursive and not entry.is_symlink():
                    kept.append((path, relative))
            for entry in entries:
                if _is_folder(entry) or not is_readable_extension(os.path.splitext(entry.name)[1].lower()):
                    continue
                path, relative = entry.path, os.path.join(relative_folder, entry.name)
                if entry.is_symlink() and not _inside(os.path.realpath(path), root_real):
                    yield path, relative, "note", f"{quote_name(path)}: {outside_note}", item
                elif (kind := _special_kind(entry)) is not None:
                    yield path, relative, "skipped", f"{quote_name(path)}: is {kind}, not a regular file; skipped", item
                else:
                    yield path, relative, None, "", item
            folders.extend(reversed(kept))


@functools.cache
def is_readable_extension(extension: str) -> bool:
    """Whether a batch takes files of this extension (lower case, with its dot) from a
    folder: one of `imgconv.io.formats.readable_extensions`, looked up one extension at
    a time (`imgconv.io.formats.format_of_extension`). A folder of JPEGs or PNGs then
    loads only Pillow's first five plugins, before the workers start and while the other
    cores wait: 7.7 ms of CPU where all of Pillow's took 27.7 (best of 15, after the
    command's own imports). Another extension, even a text file's, still loads them all."""
    return bool(extension) and formats.format_of_extension(extension) is not None


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # following a symbolic link
    except OSError:
        return False


def _special_kind(entry: os.DirEntry[str]) -> str | None:
    """What a folder entry (or the file its link leads to) is when it exists and is
    not a regular file, e.g. "a named pipe (FIFO)"; None for a regular file, and for a
    link to nothing, which is reported when it is processed, as a missing file is."""
    try:
        if entry.is_file():  # no system call for what is not a link: the folder listing says
            return None
        mode = os.stat(entry.path).st_mode
    except OSError:  # a loop of links, say: reported when it is processed too
        return None
    return None if stat.S_ISREG(mode) else kind_of(mode)


def _selected(relative: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    def matches(pattern: str) -> bool:
        return fnmatch.fnmatch(os.path.basename(relative), pattern) or fnmatch.fnmatch(relative, pattern)

    return (not include or any(map(matches, include))) and not any(map(matches, exclude))


def is_up_to_date(task: Task) -> bool:
    """The output is a file at least as new as its input (``--skip-existing``); standard
    input or output, a pipe or a device never is."""
    if destination_problem(task) or STDIO in (task.source, task.dest):
        return False  # run_task reports a destination problem
    try:
        made = os.stat(task.dest)
        return stat.S_ISREG(made.st_mode) and made.st_mtime >= os.stat(task.source).st_mtime
    except OSError:
        return False


def plan_line(task: Task, skip_existing: bool = False) -> str:
    """What ``--dry-run`` prints for a task: ``input -> output``, and whether
    ``--skip-existing`` would leave it alone."""
    note = " (up to date, skipped)" if skip_existing and is_up_to_date(task) else ""
    return f"{quote_name(task.source)} -> {quote_name(task.dest)}{note}"


def plan_one(source: str, dest: str, *, in_place: bool = False, report: str | None = None) -> Task:
    """The task of one INPUT and one OUTPUT file, checked before any work as a batch's
    plan is: the output is not the input (unless ``in_place``), and the ``report`` is
    neither of them nor, as ``-``, the same standard output."""
    check_paths(source, dest, in_place)
    if report == STDIO == dest:
        raise InvalidInputError("--report - and OUTPUT - would both write standard output; give one a file name")
    for role, path in (("INPUT", source), ("OUTPUT", dest)):
        if STDIO not in (report, path) and report is not None and same_file(report, path):
            raise InvalidInputError(f"--report {quote_name(report)}: is the {role}; the report would overwrite it")
    return Task(source, dest)


def destination_problem(task: Task) -> str | None:
    """Why ``task.dest`` must not be written, or None.

    With ``task.root`` given: the output's folder must lie inside ``root`` (after
    resolving symbolic links, so that a link planted in OUTPUT during the run cannot
    lead the write elsewhere), and ``dest`` must not be a symbolic link leading out of
    ``root``: imgconv does not write through it, nor replace it. Nor does it write
    into something at ``dest`` that is not a regular file: opening a FIFO for writing
    waits for a reader, for ever if none comes.
    """
    if task.root is None:
        return None
    root_real = os.path.realpath(task.root)
    dest, root = quote_name(task.dest), quote_name(task.root)
    if not _inside(os.path.realpath(os.path.dirname(os.path.abspath(task.dest))), root_real):
        return f"{dest}: its folder leads outside {root}; not written"
    if os.path.islink(task.dest) and not _inside(os.path.realpath(task.dest), root_real):
        return f"{dest}: is a symbolic link leading outside {root}; not written"
    try:
        mode = os.stat(task.dest).st_mode
    except OSError:
        return None  # nothing there yet, or what writing it will report
    if not (stat.S_ISREG(mode) or (stat.S_ISDIR(mode) and is_zarr(task.dest))):
        return f"{dest}: is {kind_of(mode)}, not a regular file; not written"
    return None
