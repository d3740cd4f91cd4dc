"""Running a filter command: one INPUT to one OUTPUT, a batch of files, either on a Dask
cluster, with a progress line."""

import importlib
import sys
from collections.abc import Callable
from typing import Any

import click

from ..errors import InvalidInputError
from ..names import quote_name
from .lazy import batch, kernelfile, stream_run
from .messages import say, say_error
from .sections import (
    OptionSpec,
    SectionedCommand,
    SectionOption,
    batch_options,
    engine_options,
    input_options,
    options,
    output_options,
)

Maker = Callable[..., Any]
"""``make(engine=..., **own_options) -> Filter``: a filter command's own part."""

ENGINE = ("boundary", "cval", "method", "threads")
BATCH = ("recursive", "include", "exclude", "files_from", "null", "suffix", "skip_existing", "dry_run", "jobs",
         "progress", "quiet", "fail_fast", "report", "cluster")
WRITE = ("fmt", "quality", "subsampling", "compress_level", "depth", "strip", "auto_orient", "frame", "max_pixels",
         "view", "in_place", "tile_size", "compression", "background", "sync")


def filter_command(name: str, make: Maker, own_options: tuple[OptionSpec, ...] = (), *, preset: bool = True,
                   help: str | None = None) -> click.Command:
    """The filter command ``name`` of ``make(engine=..., **own_options) -> Filter``, with
    the ``help`` text (by default ``make``'s docstring).

    The command's ``own_options`` come first in ``--help``, in the order given, then the
    shared sections. A ``preset`` command also takes ``--print-kernel``.
    """

    def command(paths: tuple[str, ...], engine: dict[str, Any], write: dict[str, Any], batching: dict[str, Any],
                print_kernel: bool = False, **own: Any) -> int | None:
        filt = make(engine=engine, **own)
        if print_kernel:
            if filt.kernel is None:
                raise click.UsageError(f"{name} with these options is not a single kernel; nothing to print")
            click.echo(kernelfile.format_kernel(filt.kernel), nl=False)
        elif batch.is_batch(paths, batching["files_from"]):
            return run_batch(paths, filt, write, **batching)
        elif len(paths) != 2:
            raise click.UsageError(f"{name} takes INPUT and OUTPUT (use - for stdin/stdout), got {len(paths)} path(s)")
        else:
            source, dest = paths
            run_one(source, dest, filt, write, batching)
        return None

    shared: Any = split_options(command)
    shared.__doc__ = make.__doc__ if help is None else help
    if preset:
        shared = click.option("--print-kernel", is_flag=True, cls=SectionOption, section="Output",
                              help="Print the kernel in the plain text format and exit; "
                                   "imgconv convolve -k FILE reproduces this command.")(shared)
    # Click lists parameters in the reverse of the order their decorators are applied:
    # the command's own, applied last, come first.
    for decorate in reversed([options(*own_options), click.argument("paths", nargs=-1, metavar="INPUT... OUTPUT"),
                              engine_options, output_options, input_options, batch_options]):
        shared = decorate(shared)
    return click.command(name, cls=SectionedCommand)(shared)


def split_options(command: Callable[..., int | None]) -> Callable[..., int | None]:
    """The Click callback: every option by name in, ``command``'s groups out."""

    def callback(paths: tuple[str, ...], **options: Any) -> int | None:
        engine = {key: options.pop(key) for key in ENGINE}
        batching = {key: options.pop(key) for key in BATCH}
        write = {key: options.pop(key) for key in WRITE}
        write["format"], write["depth"] = write.pop("fmt"), write["depth"] and int(write["depth"])
        if engine["threads"] is None and batch.is_batch(paths, batching["files_from"]):
            engine["threads"] = 1  # in a batch, --jobs alone sets how many cores work
        elif engine["threads"] is not None:
            engine["threads"] = min(engine["threads"], batch.max_jobs())
        return command(paths, engine, write, batching, **options)

    return callback


def run_one(source: str, dest: str, filt: Any, write: dict[str, Any], batching: dict[str, Any]) -> None:
    """One INPUT to one OUTPUT; a streamed tiled input runs its blocks on --cluster."""
    for option in ("include", "exclude", "suffix"):
        if batching[option]:
            raise click.UsageError(f"--{option} applies to the files of a batch, not to one INPUT and OUTPUT file; "
                                   f"end OUTPUT with / to write into that folder (a batch of one file), or drop "
                                   f"--{option}")
    task = batch.plan_one(source, dest, in_place=write["in_place"], report=batching["report"])
    streamed = stream_run.streams(source, dest, write["format"], write["frame"])
    address = batching["cluster"]
    if address and not streamed and click.get_current_context().get_parameter_source("cluster") \
            != click.core.ParameterSource.ENVIRONMENT:
        raise click.UsageError("--cluster runs batches, and tiled TIFF or Zarr inputs streamed to a .tif or .zarr, "
                               "not one other INPUT and OUTPUT; end OUTPUT with / to make it a folder (a batch of one "
                               "file), or drop --cluster")
    if batching["dry_run"]:
        say(batch.plan_line(task, batching["skip_existing"]), err=False)
        return
    client = connect(address) if address and streamed else None
    bar = batch.ProgressLine(0, unit="tiles") if shows_progress(batching) else None
    try:  # only a streamed tiled image reports progress
        result = batch.process_one(task, filt, report=batching["report"], skip_existing=batching["skip_existing"],
                                   on_progress=bar and bar.set, get=client and client.get, **write)
    finally:
        if client is not None:
            client.close()
        if bar:
            bar.close()
    if result.status == "skipped" and not batching["quiet"]:
        say(f"imgconv: note: {quote_name(dest)}: newer than {quote_name(source)}; skipped (--skip-existing)")


def connect(address: str) -> Any:
    """A client of the Dask scheduler at ``address``, its logs kept quiet."""
    cluster_module = importlib.import_module("imgconv.cluster")
    cluster_module.logs_quiet()
    return cluster_module.connect(address)


def run_batch(paths: tuple[str, ...], filt: Any, write: dict[str, Any], *, recursive: bool, include: tuple[str, ...],
              exclude: tuple[str, ...], files_from: str | None, null: bool, suffix: str, skip_existing: bool,
              dry_run: bool, jobs: int | None, progress: bool | None, quiet: bool, fail_fast: bool,
              report: str | None, cluster: str | None) -> int:
    """Every input of a batch into the OUTPUT folder; the exit status."""
    if not paths:
        raise click.UsageError("a batch needs an OUTPUT folder")
    *inputs, output = paths
    if files_from is not None:
        inputs = batch.read_files_from(files_from, null) + inputs
    settled: list[Any] = []  # inputs skipped (not regular files) or failed (unreadable folders) while planning
    tasks = _plan_batch(inputs, output, write, settled, quiet, recursive=recursive, include=include, exclude=exclude,
                        suffix=suffix)
    failed = any(r.status == "failed" for r in settled)
    if dry_run:
        for task in tasks:
            say(batch.plan_line(task, skip_existing), err=False)
        return 1 if failed else 0
    if not tasks and not failed:
        raise InvalidInputError("no input images found")
    if failed and fail_fast:
        tasks = []  # the first failure came before any file started
    if tasks:
        batch.make_output_folder(output)  # or one line why not, before any summary
    client, jobs, run_options = _on_cluster(cluster, jobs)
    bar = batch.ProgressLine(len(tasks)) if shows_progress({"quiet": quiet, "progress": progress}) else None

    results = list(settled)  # and the files that ran, also when an interrupt ends the run

    def on_result(result: Any) -> None:
        results.append(result)
        if result.status == "failed":
            if bar and bar.done:
                click.echo(err=True)  # leave the progress line before the message
            say_error(result.error)
        if bar:
            bar.update()

    try:
        batch.process_batch(tasks, output, filt, report=report, on_result=on_result, settled=settled, jobs=jobs,
                            write_options=write, skip_existing=skip_existing, fail_fast=fail_fast, **run_options)
    finally:
        if client is not None:
            client.close()
        if bar:
            bar.close()
        if not quiet:
            say(batch.summary(results))
    return 1 if any(r.status == "failed" for r in results) else 0


def _plan_batch(inputs: list[str], output: str, write: dict[str, Any], settled: list[Any], quiet: bool,
                **selection: Any) -> list[Any]:
    """The batch's tasks, each input's output named as ``write`` and ``selection`` say;
    the inputs settled while planning are added to ``settled``, and said."""

    def on_note(message: str) -> None:
        if not quiet:
            say(f"imgconv: note: {message}")

    def on_planned(result: Any) -> None:
        settled.append(result)
        if result.status == "failed":
            say_error(result.error)
        else:
            on_note(result.error)

    in_place, fmt = write.pop("in_place"), write.pop("format")
    return batch.plan_batch(inputs, output, format=fmt, in_place=in_place, on_note=on_note, on_result=on_planned,
                            **selection)


def _on_cluster(address: str | None, jobs: int | None) -> tuple[Any, int | None, dict[str, Any]]:
    """A client of the cluster at ``address`` (None without one), how many files run at
    once, and the options that have `batch.process_batch` run them there."""
    if not address:
        return None, jobs, {}
    client = connect(address)
    executor = importlib.import_module("imgconv.cluster").ClusterExecutor(client)
    # As many files in flight as the cluster has threads: --jobs can lower that.
    jobs = min(jobs or executor.threads, executor.threads)
    return client, jobs, {"executor": executor, "in_flight": jobs}


def shows_progress(batching: dict[str, Any]) -> bool:
    """A progress line unless --quiet: with --progress, or when stderr is a terminal."""
    return not batching["quiet"] and (batching["progress"] or (batching["progress"] is None and sys.stderr.isatty()))
