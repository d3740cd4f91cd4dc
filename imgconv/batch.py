"""Many files: discovery, planning, parallel runs, progress and reports.

A batch is planned first (`plan_batch`: every input and the output it will write, all
checked before any work starts) and then run (`run_batch`). Files are handed to
workers through a `concurrent.futures.Executor`, the one interface between the batch
and where the work runs: a local process pool by default, or any other executor with
``submit`` (a Dask cluster's ``client.get_executor()``, say).
"""

import concurrent.futures
import contextlib
import fnmatch
import json
import os
import signal
import stat
import sys
import threading
import time
from dataclasses import dataclass

from .errors import ImageWriteError, ImgconvError, InvalidInputError
from . import formats
from .imageio import kind_of
from .cpus import cpu_count
from .names import json_fields, json_text, quote_name
from .sink import STDIO, remove_unfinished, write_bytes
from .pipeline import check_paths, process_file, same_file
from .io.tiled_image import is_zarr


@dataclass(frozen=True)
class Task:
    """One input file and the output file it becomes.

    ``root`` is the batch's OUTPUT folder: when given, `run_task` writes ``dest`` only
    if it still lies inside it (see `destination_problem`).
    """

    source: str
    dest: str
    root: str = None


@dataclass
class Result:
    """What happened to one task; a line of the ``--report``."""

    input: str
    output: str | None  # None for an input settled while planning
    status: str  # "ok", "skipped" or "failed"
    error: str = None  # why it failed, or why it was skipped if not for being up to date
    seconds: float = 0.0

    def to_json(self) -> str:
        """The report's line: names that are not UTF-8 as `imgconv.names.json_fields`
        gives them (text, and their bytes in base64 as ``input_bytes``, ``output_bytes``)."""
        return json.dumps({**json_fields("input", self.input), **json_fields("output", self.output),
                           "status": self.status, "error": json_text(self.error), "seconds": self.seconds})


def is_batch(paths, files_from=None):
    """Several inputs, a folder input, a folder output, or a ``--files-from`` list make a
    batch; one INPUT and one OUTPUT file do not, nor does a Zarr store (a ``*.zarr``
    folder), which is one image."""
    if files_from is not None or len(paths) > 2:
        return True

    def folder(path):
        return os.path.isdir(path) and not is_zarr(path)

    return len(paths) == 2 and (folder(paths[0]) or folder(paths[1]) or paths[1].endswith(("/", os.sep)))


def read_file_list(data, null=False):
    """Paths from ``--files-from`` bytes: one per line, or NUL-separated with ``null``."""
    separator = b"\0" if null else b"\n"
    names = data.split(separator)
    if not null:
        names = [name.rstrip(b"\r") for name in names]
    return [os.fsdecode(name) for name in names if name]


def read_files_from(path, null=False):
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


def plan_batch(inputs, output, *, recursive=False, include=(), exclude=(), format=None, suffix="", in_place=False,
               on_note=None, on_result=None):
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
        A name from `imgconv.formats.names`: every output gets that format's extension.
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
    if not os.path.exists(output) and os.path.splitext(output)[1].lower() in formats.readable_extensions():
        raise InvalidInputError(f"{quote_name(output)}: the output of a batch is a folder, but this names an image "
                                "file")
    output_real = os.path.realpath(output)
    candidates = []
    for source, relative, status, message in _discover(inputs, output_real, recursive):
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
        candidates.append((source, os.path.join(output, stem + suffix + extension)))
    # With a suffix, a file that another input becomes is what an earlier run like this
    # one wrote: a.png and a_sharp.png in OUTPUT are an input and its output, and a
    # re-run must not make a_sharp_sharp.png.
    made_by = {os.path.realpath(dest): source for source, dest in candidates} if suffix else {}
    tasks, writers = [], {}
    for source, dest in candidates:
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
        tasks.append(Task(source, dest, output))
    return tasks


_SEPARATORS = {"/", "\0", os.sep, os.altsep} - {None}


def _inside(path, folder):
    """``path`` is ``folder`` or lies under it (both already real, absolute paths)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _discover(inputs, output_real, recursive):
    """(path, path relative to where it came from, status, message) for every candidate
    file, status None, and for each thing met that is not one:

    - ``"note"``: a symbolic link inside a folder input that leads outside it;
    - ``"skipped"``: a folder entry with an image's name that is not a regular file (a
      FIFO, a device, a socket), as ``find -type f`` leaves them out: opening a FIFO
      waits for a writer, for ever if none comes;
    - ``"failed"``: a folder that cannot be listed (no permission, a path longer than
      the system takes), whose files would otherwise be left out unsaid.
    """
    extensions = formats.readable_extensions()
    for item in inputs:
        if item == STDIO:
            raise InvalidInputError("'-' cannot be an input of a batch; use --files-from - for a list on stdin")
        if not os.path.isdir(item) or is_zarr(item):
            # A missing or unreadable file is reported when it is processed, like a corrupt one.
            yield item, os.path.basename(item), None, None
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
                    "processed")
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
                    yield path, relative, "note", f"{quote_name(path)}: {outside_note}"
                elif is_zarr(entry.name):  # a Zarr store is one image, never descended into
                    yield path, relative, None, None
                elif recursive and not entry.is_symlink():
                    kept.append((path, relative))
            for entry in entries:
                if _is_folder(entry) or os.path.splitext(entry.name)[1].lower() not in extensions:
                    continue
                path, relative = entry.path, os.path.join(relative_folder, entry.name)
                if entry.is_symlink() and not _inside(os.path.realpath(path), root_real):
                    yield path, relative, "note", f"{quote_name(path)}: {outside_note}"
                elif (kind := _special_kind(entry)) is not None:
                    yield path, relative, "skipped", f"{quote_name(path)}: is {kind}, not a regular file; skipped"
                else:
                    yield path, relative, None, None
            folders.extend(reversed(kept))


def _is_folder(entry):
    try:
        return entry.is_dir()  # following a symbolic link
    except OSError:
        return False


def _special_kind(entry):
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


def _selected(relative, include, exclude):
    def matches(pattern):
        return fnmatch.fnmatch(os.path.basename(relative), pattern) or fnmatch.fnmatch(relative, pattern)

    return (not include or any(map(matches, include))) and not any(map(matches, exclude))


def is_up_to_date(task):
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


def process_one(task: Task, filt, *, report: str | None = None, skip_existing: bool = False, **options) -> Result:
    """Run one task planned by `plan_one`, as a batch of one would: ``skip_existing``
    leaves an output newer than its input alone, and the ``report`` (a file, or ``-``)
    gets the task's line whatever happened. ``options`` are `process_file`'s.

    Returns the `Result`, "ok" or "skipped"; a failure is written in the report and
    then raised as it came.
    """
    results = []
    try:
        if skip_existing and is_up_to_date(task):
            results.append(Result(task.source, task.dest, "skipped"))
        else:
            start = time.perf_counter()
            try:
                process_file(task.source, task.dest, filt, **options)
            except ImgconvError as exc:
                results.append(Result(task.source, task.dest, "failed", str(exc),
                                      round(time.perf_counter() - start, 6)))
                raise
            results.append(Result(task.source, task.dest, "ok", None, round(time.perf_counter() - start, 6)))
    finally:
        if report is not None:  # as a batch's: also when an interrupt ended the run, empty then
            write_report(results, report, sync=options.get("sync", True))
    return results[0]


def destination_problem(task):
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
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) and is_zarr(task.dest)):
        return f"{dest}: is {kind_of(mode)}, not a regular file; not written"
    return None


def run_task(task, filt, write_options=None):
    """Process one file; never raises for a bad file, the `Result` says what happened.

    ``write_options`` are `process_file`'s keyword options (``quality``, ``depth``,
    ``frame``, ``view``...).
    """
    start = time.perf_counter()
    try:
        problem = destination_problem(task)
        if problem:
            raise ImgconvError(problem)
        os.makedirs(os.path.dirname(os.path.abspath(task.dest)), exist_ok=True)
        process_file(task.source, task.dest, filt, in_place=True, only_regular=True, **(write_options or {}))
        status, error = "ok", None
    except ImgconvError as exc:
        status, error = "failed", str(exc)
    except OSError as exc:
        status, error = "failed", f"{quote_name(task.dest)}: {exc.strerror or exc}"
    except Exception as exc:  # a bug must not take the rest of the batch down with it
        status, error = "failed", f"{quote_name(task.source)}: unexpected error: {exc!r}"
    return Result(task.source, task.dest, status, error, round(time.perf_counter() - start, 6))


def _ignore_stop_signals():
    """Workers leave Ctrl-C and SIGTERM to the main process, which lets running files
    finish (so no output is ever half-written) and cancels the rest."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


PARENT_POLL_SECONDS = 0.2


def _start_worker(parent, direct_child):
    """Initializer of each worker process: ignore stop signals, and die with the batch.

    ``parent`` is the main process's id; ``direct_child`` says whether it is this
    worker's parent (not so with the ``forkserver`` start method, whose server forks
    the workers and exits when the main process does).
    """
    _ignore_stop_signals()
    ppid = os.getppid()
    if (ppid != parent) if direct_child else not _alive(parent):
        os._exit(1)  # the main process died before this worker started
    threading.Thread(target=_watch_parent, args=(ppid,), name="imgconv-watch-parent", daemon=True).start()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _watch_parent(ppid):
    """Poll the parent; when it is gone (even killed by SIGKILL, which nothing can
    catch), remove the temporary files of the output being made and exit at once.

    A thread that polls, rather than ``prctl(PR_SET_PDEATHSIG)``: it works wherever
    ``getppid`` does, it fires when the process dies, not the thread that started the
    worker, and it can clean up, where the death signal would have to be SIGKILL
    (workers ignore SIGINT and SIGTERM on purpose) and would leave the temporary folder.
    The output itself is whole or absent either way: it appears only by a rename.
    """
    while os.getppid() == ppid:
        time.sleep(PARENT_POLL_SECONDS)
    try:
        remove_unfinished()
    finally:
        os._exit(1)


JOBS_PER_CPU = 4


def max_jobs():
    """The most worker processes a batch starts, and threads a file gets: 4 per CPU.

    Filtering is CPU-bound: past one process per CPU, more only take turns on the same
    cores, and each holds its images in memory. A few per CPU still help while others
    wait on a slow disk or network folder.
    """
    return JOBS_PER_CPU * cpu_count()


def worker_count(jobs, files):
    """Worker processes for ``files`` files, ``jobs`` at a time (default: the CPUs):
    never more than the files, nor than `max_jobs`, and at least one."""
    return max(1, min(jobs or cpu_count(), max_jobs(), files))


def local_executor(jobs):
    """``jobs`` worker processes, started once and reused; jobs = 1 runs in this process.

    Each worker exits within `PARENT_POLL_SECONDS` of the main process's death, however
    it died. One job runs on one thread beside the main one: Ctrl-C and SIGTERM reach
    the main thread only, so the file in progress finishes, and is counted, as in a
    worker process.
    """
    if jobs == 1:
        return concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="imgconv-batch")
    import multiprocessing  # only here: one file on its own needs no worker processes

    context = multiprocessing.get_context()
    direct_child = context.get_start_method() != "forkserver"
    return concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_start_worker,
                                                  initargs=(os.getpid(), direct_child))


class InlineExecutor(concurrent.futures.Executor):
    """Runs each task at once in the calling thread (``run_batch(executor=InlineExecutor())``).

    `local_executor` no longer uses it for one job: there a Ctrl-C would stop the file in
    progress midway, where a thread beside the main one lets it finish.
    """

    def submit(self, fn, /, *args, **kwargs):
        future = concurrent.futures.Future()
        future.set_result(fn(*args, **kwargs))
        return future


def run_batch(tasks, filt, *, jobs=None, write_options=None, skip_existing=False, fail_fast=False,
              on_result=None, executor=None, in_flight=None):
    """Run every task, ``jobs`` at a time; return the results in task order.

    ``on_result(result)`` is called as each one finishes (for progress). With
    ``fail_fast``, no new file starts after the first failure; files already running
    finish. On KeyboardInterrupt (or any exception) files not started are cancelled,
    running ones finish, ``on_result`` is called for each of those too, and the
    exception propagates.

    Without ``executor``, `worker_count` processes are started: no more than the files
    to make (those not skipped), nor than `max_jobs`. With one, ``jobs`` (default: the
    CPUs) sets only how many files are handed to it at a time: twice ``jobs`` (one with
    one job), so that a worker never waits for its next file, or ``in_flight``. A Dask
    cluster's `imgconv.cluster.ClusterExecutor` is given as many as it has threads:
    what it was handed runs, what was not is what Ctrl-C cancels.
    """
    skipped = {i for i, task in enumerate(tasks) if is_up_to_date(task)} if skip_existing else set()
    own_executor = executor is None
    if own_executor:
        jobs = worker_count(jobs, len(tasks) - len(skipped))
        executor = local_executor(jobs)
    else:
        jobs = jobs or cpu_count()
    if in_flight is None:
        in_flight = 2 * jobs if jobs > 1 else 1
    results, pending, queue, stop = {}, {}, iter(enumerate(tasks)), False

    def record(index, result):
        results[index] = result
        if on_result is not None:
            on_result(result)

    try:
        while True:
            # Keep a few files queued per worker, not the whole batch: progress stays
            # live, and --fail-fast or Ctrl-C has little to cancel. One job runs one
            # file at a time, so that --fail-fast stops right after a failure.
            while not stop and len(pending) < in_flight:
                index, task = next(queue, (None, None))
                if task is None:
                    break
                if index in skipped:
                    record(index, Result(task.source, task.dest, "skipped"))
                    continue
                with _signals_deferred():  # a file handed over is a file counted
                    pending[executor.submit(run_task, task, filt, write_options)] = index
            if not pending:
                break
            done, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                try:
                    result = future.result()
                except concurrent.futures.BrokenExecutor as exc:
                    raise ImgconvError(f"a worker process died ({exc}); is memory short? try fewer --jobs") from None
                record(pending[future], result)
                del pending[future]  # after recording: an interrupt in between leaves it to the finally
                stop = stop or (fail_fast and result.status == "failed")
    finally:
        # Files not started are cancelled. Those running, and any the executor had
        # already handed to a worker, finish: they are waited for and recorded, so that
        # the results (and the summary and report made from them) count every output
        # written, even when a KeyboardInterrupt or SIGTERM ended the loop.
        for future in pending:
            future.cancel()
        if own_executor:
            executor.shutdown(wait=True, cancel_futures=True)
        else:
            concurrent.futures.wait(pending)
        for future, index in sorted(pending.items(), key=lambda item: item[1]):
            if index not in results and not future.cancelled() and future.exception() is None:
                record(index, future.result())
    return [results[i] for i in sorted(results)]


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGINT and SIGTERM until the block ends, then act on them as before it.

    Handing a file to a worker and noting its future must not be split: interrupted in
    between, the worker still wrote the file, and the summary did not count it (seen in
    CI: 6 files on disk, "processed 5"). Only the main thread can set handlers; elsewhere
    the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = {number: signal.signal(number, lambda number, frame: received.append(number))
                for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for number in received:
            if callable(previous[number]):
                previous[number](number, None)
            elif previous[number] == signal.SIG_DFL:
                signal.raise_signal(number)


def process_batch(tasks, output, filt, *, report=None, on_result=None, settled=(), **run_options):
    """What a batch command does once planned: make the OUTPUT folder, run every task
    (`run_batch`'s ``run_options``), and write the ``report`` in task order, even when
    an interrupt ends the run early, after the ``settled`` results of inputs settled
    while planning (`plan_batch`'s ``on_result``). Returns the results in task order."""
    results = []

    def record(result):
        results.append(result)
        if on_result is not None:
            on_result(result)

    if tasks:
        make_output_folder(output)
    try:
        return run_batch(tasks, filt, on_result=record, **run_options) if tasks else []
    finally:
        if report is not None:
            # Results arrive as files finish; the report lists them as the tasks were given.
            order = {task.source: i for i, task in enumerate(tasks)}
            write_report([*settled, *sorted(results, key=lambda r: order[r.input])], report,
                         sync=(run_options.get("write_options") or {}).get("sync", True))


def make_output_folder(output: str) -> None:
    """Create a batch's OUTPUT folder and the folders above it, as ``mkdir -p`` does, or
    raise `ImageWriteError` saying in one line why not."""
    try:
        os.makedirs(output, exist_ok=True)
    except OSError as exc:
        raise ImageWriteError(f"{quote_name(output)}: cannot create the output folder: "
                              f"{_why_not_made(output, exc)}") from None


def _why_not_made(output: str, exc: OSError) -> str:
    """The reason `os.makedirs` failed, naming the part of the path at fault where its
    own message would mislead: "File exists" for a link to nothing, "No such file" for
    a folder beneath one, "Not a directory" for a file on the way."""
    for path in _from_the_top(output):
        if os.path.islink(path):
            try:
                os.stat(path)
            except FileNotFoundError:
                return f"{quote_name(path)} is a symbolic link to {quote_name(os.readlink(path))}, which does not exist"
            except OSError as error:
                return f"{quote_name(path)} is a symbolic link that cannot be followed: {error.strerror}"
        if os.path.lexists(path) and not os.path.isdir(path):
            return f"{quote_name(path)} is not a folder"
    return exc.strerror or str(exc)


def _from_the_top(path: str) -> list[str]:
    """``a``, ``a/b``, ``a/b/c`` for ``a/b/c``."""
    paths = [path]
    while (parent := os.path.dirname(paths[-1])) not in ("", paths[-1]):
        paths.append(parent)
    return paths[::-1]


def summary(results):
    """``processed N, skipped N, failed N``."""
    counts = {status: sum(r.status == status for r in results) for status in ("ok", "skipped", "failed")}
    return f"processed {counts['ok']}, skipped {counts['skipped']}, failed {counts['failed']}"


def write_report(results, dest, sync=True):
    """One JSON object per line, in task order; ``"-"`` for standard output. ``sync`` as
    for `imgconv.sink.write_bytes`."""
    write_bytes("".join(r.to_json() + "\n" for r in results).encode(), dest, sync=sync)


class ProgressLine:
    """``[ 12/40] 3.4 files/s  ETA 0:07`` rewritten in place on a terminal stream; the
    unit is files for a batch, tiles for a streamed tiled image."""

    def __init__(self, total, stream=None, unit="files"):
        self.total, self.done, self.start, self.unit = total, 0, time.monotonic(), unit
        self.stream = stream or sys.stderr

    def update(self, count=1):
        self.done += count
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = self.done / elapsed
        remaining = int((self.total - self.done) / rate) if rate else 0
        width = len(str(self.total))
        self.stream.write(f"\r[{self.done:>{width}}/{self.total}] {rate:.1f} {self.unit}/s  "
                          f"ETA {remaining // 60}:{remaining % 60:02d} ")
        self.stream.flush()

    def set(self, done, total):
        """``done`` of ``total`` (as `imgconv.pipeline.process_file`'s ``on_progress`` gives)."""
        self.total = total
        self.update(done - self.done)

    def close(self):
        if self.done:
            self.stream.write("\n")
            self.stream.flush()
