"""Many files: discovery, planning, parallel runs, progress and reports.

A batch is planned first (`plan_batch`: every input and the output it will write, all
checked before any work starts) and then run (`run_batch`). Files are handed to
workers through a `concurrent.futures.Executor`, the one interface between the batch
and where the work runs: a local process pool by default, or any other executor with
``submit`` (a Dask cluster's ``client.get_executor()``, say).

- `plan`: the inputs of folders and lists, the output of each, the path checks;
- `workers`: the worker processes, how many, the executors;
- `run`: the tasks run, signals held while a file is handed over;
- `report`: each task's `Result`, the summary line, the ``--report``;
- `progress`: the progress line on a terminal.
"""

from .plan import Task, is_batch, plan_batch, plan_line, plan_one, read_files_from
from .progress import ProgressLine
from .report import Result, summary
from .run import make_output_folder, process_batch, process_one, run_batch, run_task
from .workers import InlineExecutor, local_executor, max_jobs, worker_count

__all__ = ["InlineExecutor", "ProgressLine", "Result", "Task", "is_batch", "local_executor", "make_output_folder",
           "max_jobs", "plan_batch", "plan_line", "plan_one", "process_batch", "process_one", "read_files_from",
           "run_batch", "run_task", "summary", "worker_count"]
