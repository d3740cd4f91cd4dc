"""Where a batch's files are filtered: worker processes that ignore stop signals and die
with the batch, how many to start, and the executors that hand them files."""

import concurrent.futures
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from ..cpus import cpu_count
from ..io.staging import remove_unfinished

_P = ParamSpec("_P")
_T = TypeVar("_T")


def _ignore_stop_signals() -> None:
    """Workers leave Ctrl-C and SIGTERM to the main process, which lets running files
    finish (so no output is ever half-written) and cancels the rest."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


PARENT_POLL_SECONDS = 0.2


def start_worker(parent: int, direct_child: bool) -> None:
    """Initializer of each worker process (`local_executor` gives it to the pool): ignore
    stop signals, and die with the batch. A worker whose main process died before it
    started exits at once, with status 1.

    ``parent`` is the main process's id; ``direct_child`` says whether it is this
    worker's parent (not so with the ``forkserver`` start method, whose server forks
    the workers and exits when the main process does).
    """
    _ignore_stop_signals()
    ppid = os.getppid()
    if (ppid != parent) if direct_child else not _alive(parent):
        os._exit(1)  # the main process died before this worker started
    threading.Thread(target=_watch_parent, args=(ppid,), name="imgconv-watch-parent", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _watch_parent(ppid: int) -> None:
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


def max_jobs() -> int:
    """The most worker processes a batch starts, and threads a file gets: 4 per CPU.

    Filtering is CPU-bound: past one process per CPU, more only take turns on the same
    cores, and each holds its images in memory. A few per CPU still help while others
    wait on a slow disk or network folder.
    """
    return JOBS_PER_CPU * cpu_count()


def worker_count(jobs: int | None, files: int) -> int:
    """Worker processes for ``files`` files, ``jobs`` at a time (default: the CPUs):
    never more than the files, nor than `max_jobs`, and at least one."""
    return max(1, min(jobs or cpu_count(), max_jobs(), files))


def local_executor(jobs: int) -> concurrent.futures.Executor:
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
    return concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=start_worker,
                                                  initargs=(os.getpid(), direct_child))


class InlineExecutor(concurrent.futures.Executor):
    """Runs each task at once in the calling thread (``run_batch(executor=InlineExecutor())``).

    `local_executor` does not use it for one job: there a Ctrl-C would stop the file in
    progress midway, where a thread beside the main one lets it finish.
    """

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> concurrent.futures.Future[_T]:
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()
        future.set_result(fn(*args, **kwargs))
        return future
