"""One INPUT and one OUTPUT file, run as a batch of one (planned by
`imgconv.batch.plan.plan_one`): ``--skip-existing`` and the ``--report`` line as a
batch's, without its workers."""

import time
from collections.abc import Callable
from typing import Any

from ..errors import ImgconvError
from ..filters import Filter
from ..io.probe import Probe
from ..options import ReadOptions, WriteOptions
from ..pipeline import process_file
from .plan import Task, is_up_to_date
from .report import Result, write_report


def process_one(task: Task, filt: Filter, read: ReadOptions = ReadOptions(), write: WriteOptions = WriteOptions(), *,
                in_place: bool = False, report: str | None = None, skip_existing: bool = False,
                on_progress: Callable[[int, int], object] | None = None,
                get: Callable[..., Any] | None = None, probed: Probe | None = None) -> Result:
    """Run one task planned by `imgconv.batch.plan.plan_one`, as a batch of one would:
    ``skip_existing`` leaves an output newer than its input alone, and the ``report`` (a
    file, or ``-``) gets the task's line whatever happened. ``read``, ``write``, ``in_place``,
    ``on_progress``, ``get`` and ``probed`` are `process_file`'s.

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
                process_file(task.source, task.dest, filt, read, write, in_place=in_place, on_progress=on_progress,
                             get=get, probed=probed)
            except ImgconvError as exc:
                results.append(Result(task.source, task.dest, "failed", str(exc),
                                      round(time.perf_counter() - start, 6)))
                raise
            results.append(Result(task.source, task.dest, "ok", None, round(time.perf_counter() - start, 6)))
    finally:
        if report is not None:  # as a batch's: also when an interrupt ended the run, empty then
            write_report(results, report, sync=write.sync)
    return results[0]
