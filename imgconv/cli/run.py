"""Running a filter command: one INPUT to one OUTPUT, a batch of files, either on a Dask
cluster, with a progress line."""

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from ..errors import InvalidInputError, ending
from ..names import quote_name
from ..vocabulary import KERNEL_FORMATS
from . import progress
from .lazy import batch, file_options, filters, kernelfile, missing_filter, probe
from .messages import say, say_error
from .sections import (
    OptionSpec,
    SectionedCommand,
    SectionOption,
    batch_options,
    check_messages,
    engine_options,
    input_options,
    message_options,
    options,
    output_options,
)
from .types import PathType

if TYPE_CHECKING:
    from ..engine import EngineOptions
    from ..filters import Filter
    from ..options import ReadOptions, WriteOptions

Maker = Callable[..., "Filter"]
"""``make(engine=EngineOptions(...), **own_options) -> Filter``: a filter command's own part."""

R = TypeVar("R")


@dataclass(frozen=True)
class Batching:
    """The options of the Batch section (`imgconv.cli.sections.batch_options`), as given."""

    recursive: bool
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    files_from: str | None
    null: bool
    suffix: str
    skip_existing: bool
    dry_run: bool
    jobs: int | None
    fail_fast: bool
    report: str | None
    cluster: str | None


@dataclass(frozen=True)
class Messages:
    """The options of the Messages section (`imgconv.cli.sections.message_options`)."""

    progress: bool | None
    quiet: bool
    verbose: bool


@dataclass(frozen=True)
class Command:
    """What a filter command was asked, its own options aside: the options of each
    section, as records, and the paths."""

    paths: tuple[str, ...]
    engine: "EngineOptions"
    read: "ReadOptions"
    write: "WriteOptions"
    in_place: bool
    batching: Batching
    messages: Messages


def filter_command(name: str, make: Maker, own_options: tuple[OptionSpec, ...] = (), *, preset: bool = True,
                   help: str | None = None) -> click.Command:
    """The filter command ``name`` of ``make(engine=..., **own_options) -> Filter``, with
    the ``help`` text (by default ``make``'s docstring).

    The command's ``own_options`` come first in ``--help``, in the order given, then the
    shared sections. A ``preset`` command also takes ``--print-kernel``.
    """

    def command(asked: Command, print_kernel: bool = False, print_as: str = "text", linear: bool = False,
                luminance: bool = False, nan: str = "refuse", **own: Any) -> int | None:
        if linear and luminance:
            raise click.UsageError("give --linear (every channel in linear light) or --luminance (Y' only), not both")
        if print_as != "text" and not print_kernel:
            raise click.UsageError("--as chooses the form --print-kernel writes; give --print-kernel too")
        filt = make(engine=asked.engine, **own)
        if nan == "interpolate":
            filt = missing_filter.interpolating(filt)
        if linear or luminance:
            filt = replace(filt, light=filters.LINEAR if linear else filters.LUMINANCE)
        if print_kernel:
            # A threshold, NaN interpolation or another light is more than convolve reproduces.
            if filt.kernel is None or type(filt) is not filters.Filter or filt.light is not None:
                raise click.UsageError(f"{name} with these options is not a single kernel; nothing to print")
            click.echo(kernelfile.format_kernel(filt.kernel, print_as), nl=False)
        elif batch.is_batch(asked.paths, asked.batching.files_from):
            return run_batch(asked, filt)
        elif not asked.paths:
            raise click.UsageError(f"{name} needs INPUT and OUTPUT (- for standard input and output)")
        elif len(asked.paths) != 2:
            raise click.UsageError(f"{name} takes INPUT and OUTPUT (use - for stdin/stdout), got "
                                   f"{len(asked.paths)} path(s)")
        else:
            run_one(asked, filt)
        return None

    shared: Any = split_options(command)
    shared.__doc__ = make.__doc__ if help is None else help
    shared = click.option("--linear", is_flag=True, cls=SectionOption, section="Engine",
                          help="Filter 8- and 16-bit samples in linear light (the sRGB curve, a PNG's gAMA or the "
                               "ICC profile's own curve undone, then redone, rounded once); alpha is not converted. "
                               "Profiles with lookup tables or unlike channel curves are refused.")(shared)
    if preset:
        shared = click.option("--print-kernel", is_flag=True, cls=SectionOption, section="Output",
                              help="Print the kernel and exit; imgconv convolve -k FILE computes the same response "
                                   "(where this command shows a signed one as its absolute value, convolve clips "
                                   "it at 0: compare in .npy).")(shared)
        shared = click.option("--as", "print_as", type=click.Choice(KERNEL_FORMATS), default="text",
                              cls=SectionOption, section="Output", show_default=True,
                              help="The form --print-kernel writes: plain text, an ImageMagick kernel string "
                                   "(-morphology Convolve), a libvips .mat, or a nested list for np.array "
                                   "(a .json kernel file).")(shared)
    # Click lists parameters in the reverse of the order their decorators are applied:
    # the command's own, applied last, come first.
    paths = click.argument("paths", nargs=-1, metavar="INPUT... OUTPUT", type=PathType())
    messages = message_options("Also say each file written, and how long it took.",
                               "a batch's files; one file's frames and rows, or its tiles if streamed",
                               "when stderr is a terminal: a batch's at once, one file's once it has taken a second")
    for decorate in reversed([options(*own_options), paths, engine_options, output_options, input_options,
                              messages, batch_options]):
        shared = decorate(shared)
    return click.command(name, cls=SectionedCommand)(shared)


def take(record: type[R], options: dict[str, Any]) -> R:
    """A ``record`` (a dataclass) of the options named as its fields, taken out of ``options``."""
    names = [field.name for field in fields(cast(Any, record)) if field.name in options]
    return record(**{name: options.pop(name) for name in names})


def split_options(command: Callable[..., int | None]) -> Callable[..., int | None]:
    """The Click callback: every option by name in; ``command`` gets a `Command` and the
    command's own options."""

    def callback(paths: tuple[str, ...], **options: Any) -> int | None:
        batching, messages = take(Batching, options), take(Messages, options)
        check_messages(messages.quiet, messages.verbose)
        engine = take(file_options.EngineOptions, options)
        if engine.threads is None and batch.is_batch(paths, batching.files_from):
            engine = replace(engine, threads=1)  # in a batch, --jobs alone sets how many cores work
        elif engine.threads is not None:
            engine = replace(engine, threads=min(engine.threads, batch.max_jobs()))
        encoding = take(file_options.EncodeOptions, options)
        write = take(file_options.WriteOptions, options)
        write = replace(write, depth=write.depth and int(write.depth), encoding=encoding)
        asked = Command(paths, engine, take(file_options.ReadOptions, options), write, options.pop("in_place"),
                        batching, messages)
        return command(asked, **options)

    return callback


def run_one(asked: Command, filt: "Filter") -> None:
    """One INPUT to one OUTPUT; a streamed tiled input runs its blocks on --cluster."""
    (source, dest), batching, read, messages = asked.paths, asked.batching, asked.read, asked.messages
    for option in ("include", "exclude", "suffix"):
        if getattr(batching, option):
            raise click.UsageError(f"--{option} applies to the files of a batch, not to one INPUT and OUTPUT file; "
                                   f"end OUTPUT with / to write into that folder (a batch of one file), or drop "
                                   f"--{option}")
    task = batch.plan_one(source, dest, in_place=asked.in_place, report=batching.report)
    # The one reading of the input's header: it decides here, and is passed on.
    probed = probe.streamed_probe(source, dest, asked.write.format, read.frame, read.max_pixels,
                                   read.auto_orient)
    address = batching.cluster
    if address and probed is None and click.get_current_context().get_parameter_source("cluster") \
            != click.core.ParameterSource.ENVIRONMENT:
        raise click.UsageError("--cluster runs batches, and tiled TIFF or Zarr inputs streamed to a .tif or .zarr, "
                               "not one other INPUT and OUTPUT; end OUTPUT with / to make it a folder (a batch of one "
                               "file), or drop --cluster")
    if batching.dry_run:
        # The plan is what standard output carries, unless that is the image's place:
        # a pipe's next command reads image bytes there, never text.
        say(batch.plan_line(task, batching.skip_existing), err=dest == "-")
        return
    client = connect(address) if address and probed is not None else None
    # A streamed image counts its tiles; any other, its frames and the engine's rows.
    bar = progress.file_progress(messages.quiet, messages.progress, "frame" if probed is None else "tile",
                                 counted=probed is not None)
    try:
        with progress.showing(bar, rows=probed is None):
            result = batch.process_one(task, filt, read, asked.write, in_place=asked.in_place,
                                       report=batching.report, skip_existing=batching.skip_existing,
                                       on_progress=bar and bar.parts, get=client and client.get,
                                       probed=probe.Probe() if probed is None else probed)
            # The output has its name: a stop arriving from here would end the program
            # as stopped with its output written.
            ending()
    finally:
        if client is not None:
            client.close()
    if result.status == "skipped" and not messages.quiet:
        say(f"imgconv: note: {quote_name(dest)}: newer than {quote_name(source)}; skipped (--skip-existing)")
    elif result.status == "ok" and messages.verbose:
        say(done_line(result))


def done_line(result: Any) -> str:
    """What -v says of a file done (a `imgconv.batch.Result`): ``input -> output``, and
    the seconds it took or why it was skipped."""
    how = f"{result.seconds:.2f} s" if result.status == "ok" else "skipped (up to date)"
    return f"{quote_name(result.input)} -> {quote_name(result.output)}: {how}"


def connect(address: str) -> Any:
    """A client of the Dask scheduler at ``address``, its logs kept quiet, waited for as
    long as ``IMGCONV_CLUSTER_TIMEOUT`` says (`imgconv.cluster.connect_timeout`)."""
    cluster_module = importlib.import_module("imgconv.cluster")
    timeout = cluster_module.connect_timeout()
    cluster_module.logs_quiet()
    return cluster_module.connect(address, timeout)


def run_batch(asked: Command, filt: "Filter") -> int:
    """Every input of a batch into the OUTPUT folder; the exit status."""
    batching = asked.batching
    if not asked.paths:
        raise click.UsageError("a batch needs an OUTPUT folder")
    *inputs, output = asked.paths
    if batching.files_from is not None:
        inputs = batch.read_files_from(batching.files_from, batching.null) + inputs
    settled: list[Any] = []  # inputs skipped (not regular files) or failed (unreadable folders) while planning
    tasks = _plan_batch(inputs, output, asked, settled)
    failed = any(r.status == "failed" for r in settled)
    if batching.dry_run:
        for task in tasks:
            say(batch.plan_line(task, batching.skip_existing), err=False)
        return 1 if failed else 0
    if not tasks and not failed:
        raise InvalidInputError("no input images found")
    if failed and batching.fail_fast:
        tasks = []  # the first failure came before any file started
    if tasks:
        batch.make_output_folder(output)  # or one line why not, before any summary
    client, jobs, run_options = _on_cluster(batching.cluster, batching.jobs)
    messages = asked.messages
    bar = batch.ProgressLine(len(tasks)) if shows_progress(messages) else None

    results = list(settled)  # and the files that ran, also when an interrupt ends the run

    def on_result(result: Any) -> None:
        results.append(result)
        if result.status == "failed" or messages.verbose:
            if bar and bar.done:
                click.echo(err=True)  # leave the progress line before the message
            if result.status == "failed":
                say_error(result.error)
            else:
                say(done_line(result))
        if bar:
            bar.update()

    try:
        batch.process_batch(tasks, output, filt, report=batching.report, on_result=on_result, settled=settled,
                            jobs=jobs, read=asked.read, write=asked.write, skip_existing=batching.skip_existing,
                            fail_fast=batching.fail_fast, **run_options)
    finally:
        if client is not None:
            client.close()
        if bar:
            bar.close()
        if not messages.quiet:
            say(batch.summary(results))
    return 1 if any(r.status == "failed" for r in results) else 0


def _plan_batch(inputs: list[str], output: str, asked: Command, settled: list[Any]) -> list[Any]:
    """The batch's tasks, each input's output named as ``asked`` says; the inputs
    settled while planning are added to ``settled``, and said."""
    batching = asked.batching

    def on_note(message: str) -> None:
        if not asked.messages.quiet:
            say(f"imgconv: note: {message}")

    def on_planned(result: Any) -> None:
        settled.append(result)
        if result.status == "failed":
            say_error(result.error)
        else:
            on_note(result.error)

    return batch.plan_batch(inputs, output, format=asked.write.format, in_place=asked.in_place, on_note=on_note,
                            on_result=on_planned, recursive=batching.recursive, include=batching.include,
                            exclude=batching.exclude, suffix=batching.suffix)


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


def shows_progress(messages: Messages) -> bool:
    """A batch's progress line unless --quiet: with --progress, or when stderr is a terminal."""
    return not messages.quiet and (messages.progress or (messages.progress is None and sys.stderr.isatty()))
