"""Running a planned batch: each task through `imgconv.pipeline.process_file`, a few at a
time on an executor, every file handed over counted even when a signal ends the run,
and the report written in task order."""

import concurrent.futures
import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from ..cpus import cpu_count
from ..errors import ImageWriteError, ImgconvError
from ..filters import Filter
from ..io.source import read_inside
from ..io.staging import beneath, open_folder
from ..names import quote_name
from ..options import ReadOptions, WriteOptions
from ..pipeline import process_file, reusing_memory
from .plan import Task, destination_problem, is_up_to_date
from .report import Result, write_report
from .workers import local_executor, worker_count


def run_task(task: Task, filt: Filter, read: ReadOptions = ReadOptions(),
             write: WriteOptions = WriteOptions()) -> Result:
    """Process one file as `process_file` does with ``read`` and ``write``, the input a
    regular file only and the output allowed to replace it (the plan has checked it);
    never raises for a bad file, the `Result` says what happened. Its folder is made
    and written in only inside ``task.root``, reached without following a link
    (`imgconv.io.staging.beneath`); its input, found in ``task.source_root``, is read
    only inside that folder (`imgconv.io.source.read_inside`)."""
    start = time.perf_counter()
    try:
        problem = destination_problem(task)
        if problem:
            raise ImgconvError(problem)
        with beneath(task.root), read_inside(task.source_root), reusing_memory():  # a worker goes on to another
            os.close(open_folder(os.path.dirname(os.path.abspath(task.dest)), make=True))
            process_file(task.source, task.dest, filt, replace(read, only_regular=True), write, in_place=True)
        status, error = "ok", None
    except ImgconvError as exc:
        status, error = "failed", str(exc)
    except OSError as exc:
        status, error = "failed", f"{quote_name(task.dest)}: {exc.strerror or exc}"
    except Exception as exc:  # a bug must not take the rest of the batch down with it
        status, error = "failed", f"{quote_name(task.source)}: unexpected error: {exc!r}"
    return Result(task.source, task.dest, status, error, round(time.perf_counter() - start, 6))


def run_batch(tasks: Sequence[Task], filt: Filter, *, jobs: int | None = None, read: ReadOptions = ReadOptions(),
              write: WriteOptions = WriteOptions(), skip_existing: bool = False, fail_fast: bool = False,
              on_result: Callable[[Result], object] | None = None, executor: concurrent.futures.Executor | None = None,
              in_flight: int | None = None) -> list[Result]:
    """Run every task, ``jobs`` at a time, each read and written as ``read`` and
    ``write`` say (`run_task`); return the results in task order.

    ``on_result(result)`` is called as each one finishes (for progress). With
    ``fail_fast``, no new file starts after the first failure; files already running
    finish. On KeyboardInterrupt (or any exception) files not started are cancelled,
    running ones finish, ``on_result`` is called for each of those too, and the
    exception propagates.

    Without ``executor``, `worker_count` processes are started: no more than the files
    to make (those not skipped), nor than `max_jobs`; two or more take the files
    `largest_first`. With one, ``jobs`` (default: the
    CPUs) sets only how many files are handed to it at a time: twice ``jobs`` (one with
    one job), so that a worker never waits for its next file, or ``in_flight``. A Dask
    cluster's `imgconv.cluster.ClusterExecutor` is given as many as it has threads:
    what it was handed runs, what was not is what Ctrl-C cancels.
    """
    skipped = {i for i, task in enumerate(tasks) if is_up_to_date(task)} if skip_existing else set()
    own_executor = executor is None
    if executor is None:
        jobs = worker_count(jobs, len(tasks) - len(skipped))
        executor = local_executor(jobs)
    else:
        jobs = jobs or cpu_count()
    if in_flight is None:
        in_flight = 2 * jobs if jobs > 1 else 1
    results: dict[int, Result] = {}
    pending: dict[concurrent.futures.Future[Result], int] = {}  # submitted: the index of its task
    queue, stop = iter(largest_first(tasks) if own_executor and jobs > 1 else enumerate(tasks)), False

    def record(index: int, result: Result) -> None:
        results[index] = result
        if on_result is not None:
            on_result(result)

    try:
        while True:
            # Keep a few files queued per worker, not the whole batch: progress stays
            # live, and --fail-fast or Ctrl-C has little to cancel. One job runs one
            # file at a time, so that --fail-fast stops right after a failure.
            while not stop and len(pending) < in_flight and (item := next(queue, None)) is not None:
                index, task = item
                if index in skipped:
                    record(index, Result(task.source, task.dest, "skipped"))
                    continue
                with _signals_deferred():  # a file handed over is a file counted
                    pending[executor.submit(run_task, task, filt, read, write)] = index
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
        for index, result in _finish_pending(pending, executor, own_executor):
            if index not in results:
                record(index, result)
    return [results[i] for i in sorted(results)]


def largest_first(tasks: Sequence[Task]) -> list[tuple[int, Task]]:
    """The tasks with their indices, the largest input file first, ties in task order
    (one that cannot be read counts as empty: it fails at once).

    Workers that take files as they free up then finish together: in the given order, a
    large file met last keeps one worker busy after the others have run out of files.
    Twelve camera JPEGs of 12, 16, 18 and 24 MP in turn on two workers (each file's CPU
    time measured, 0.22-0.46 s, dealt as the pool deals them): the last file ended 0.14
    s after an even split (1.92 s a worker) in the given order, 0.03 s largest first.
    """

    def size(item: tuple[int, Task]) -> int:
        try:
            return os.stat(item[1].source).st_size
        except OSError:
            return 0

    return sorted(enumerate(tasks), key=lambda item: -size(item))


def _finish_pending(pending: dict[concurrent.futures.Future[Result], int], executor: concurrent.futures.Executor,
                    own_executor: bool) -> list[tuple[int, Result]]:
    """The (index, result) of each file handed over that finished, in task order, once
    the run loop has ended, however it ended.

    Files not started are cancelled. Those running, and any the executor had already
    handed to a worker, finish: they are waited for and returned, so that the results
    (and the summary and report made from them) count every output written, even when a
    KeyboardInterrupt or SIGTERM ended the loop. The batch's ``own_executor`` is shut down.
    """
    for future in pending:
        future.cancel()
    if own_executor:
        executor.shutdown(wait=True, cancel_futures=True)
    else:
        concurrent.futures.wait(pending)
    return [(index, future.result()) for future, index in sorted(pending.items(), key=lambda item: item[1])
            if not future.cancelled() and future.exception() is None]


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, then act on them as before it.

    Handing a file to a worker and noting its future must not be split: interrupted in
    between, the worker would still write the file, and the summary would not count it.
    Only the main thread can set handlers; elsewhere the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {number: signal.signal(number, lambda number, frame: received.append(number))
                for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for signum in received:
            handler = previous[signal.Signals(signum)]
            if callable(handler):
                handler(signum, None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(signum)


def process_batch(tasks: Sequence[Task], output: str, filt: Filter, *, report: str | None = None,
                  on_result: Callable[[Result], object] | None = None, settled: Iterable[Result] = (),
                  write: WriteOptions = WriteOptions(), **run_options: Any) -> list[Result]:
    """What a batch command does once planned: make the OUTPUT folder, run every task
    (`run_batch`'s ``write`` and ``run_options``), and write the ``report`` in task order, even when
    an interrupt ends the run early, after the ``settled`` results of inputs settled
    while planning (`plan_batch`'s ``on_result``). Returns the results in task order."""
    results: list[Result] = []

    def record(result: Result) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    if tasks:
        make_output_folder(output)
    try:
        return run_batch(tasks, filt, on_result=record, write=write, **run_options) if tasks else []
    finally:
        if report is not None:
            # Results arrive as files finish; the report lists them as the tasks were given.
            order = {task.source: i for i, task in enumerate(tasks)}
            write_report([*settled, *sorted(results, key=lambda r: order[r.input])], report, sync=write.sync)


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
