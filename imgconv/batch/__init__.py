"""Many files: discovery, planning, parallel runs, progress and reports.

A batch is planned first (`plan_batch`: every input and the output it will write, all
checked before any work starts) and then run (`run_batch`). Files are handed to
workers through a `concurrent.futures.Executor`, the one interface between the batch
and where the work runs: a local process pool by default, or any other executor with
``submit`` (a Dask cluster's ``client.get_executor()``, say).

- `plan`: the inputs of folders and lists, the output of each, the path checks;
- `workers`: the worker processes, how many, the executors;
- `run`: the tasks run, signals held while a file is handed over;
- `one`: one INPUT and OUTPUT file as a batch of one;
- `report`: each task's `Result`, the summary line, the ``--report``;
- `progress`: the progress line on a terminal.

The names below load their module on first use (PEP 562): a command on one file loads
`plan` and `one`, not the worker processes' modules.
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what a type checker sees of the names below, which load on first use
    from .one import process_one as process_one
    from .plan import Task as Task
    from .plan import is_batch as is_batch
    from .plan import plan_batch as plan_batch
    from .plan import plan_line as plan_line
    from .plan import plan_one as plan_one
    from .plan import read_files_from as read_files_from
    from .progress import ProgressLine as ProgressLine
    from .report import Result as Result
    from .report import summary as summary
    from .run import make_output_folder as make_output_folder
    from .run import process_batch as process_batch
    from .run import run_batch as run_batch
    from .run import run_task as run_task
    from .workers import InlineExecutor as InlineExecutor
    from .workers import local_executor as local_executor
    from .workers import max_jobs as max_jobs
    from .workers import worker_count as worker_count

_SUBMODULES = ("one", "plan", "progress", "report", "run", "workers")
_HOMES = {
    "process_one": "one",
    "Task": "plan",
    "is_batch": "plan",
    "plan_batch": "plan",
    "plan_line": "plan",
    "plan_one": "plan",
    "read_files_from": "plan",
    "ProgressLine": "progress",
    "Result": "report",
    "summary": "report",
    "make_output_folder": "run",
    "process_batch": "run",
    "run_batch": "run",
    "run_task": "run",
    "InlineExecutor": "workers",
    "local_executor": "workers",
    "max_jobs": "workers",
    "worker_count": "workers",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> object:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES) | set(_SUBMODULES))
