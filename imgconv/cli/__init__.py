"""The imgconv command line: options in, library calls, one-line messages out."""

import importlib.util
import logging
import math
import os
import signal
import sys
import warnings

import click

from . import __version__
from .errors import ImgconvError, InvalidInputError, ReaderGone, Terminated
from .names import printable, quote_name
from .vocabulary import (DEFAULT_COMPRESS_LEVEL, DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD_PIXELS, METHODS, VIEWS,
                         resolve_mode)


def _lazy(name):
    """A module that is imported when one of its attributes is first used.

    The commands need NumPy and Pillow, but ``--version`` and ``--help`` do not; loading
    them only when a command runs keeps those instant.
    """
    spec = importlib.util.find_spec(name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    package, _, child = name.rpartition(".")
    setattr(sys.modules[package], child, module)  # as a real import would
    spec.loader.exec_module(module)
    return module


batch = _lazy("imgconv.batch")
demo = _lazy("imgconv.demo")
filters = _lazy("imgconv.filters")
formats = _lazy("imgconv.formats")
kernelfile = _lazy("imgconv.kernelfile")
kernels = _lazy("imgconv.kernels")
animate = _lazy("imgconv.lecture.animate")
layers = _lazy("imgconv.lecture.layers")
learn = _lazy("imgconv.lecture.learn")
params = _lazy("imgconv.lecture.params")
pipeline = _lazy("imgconv.pipeline")
tiled = _lazy("imgconv.tiled")


class ImgconvGroup(click.Group):
    """A group whose every error is one line, ``imgconv: error: ...``, and no traceback.

    Exit status 2 for usage errors (bad options, kernels, boundary names), 1 for
    failures while reading, filtering or writing, 130 for Ctrl-C.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            # What a warning could say is either an error, reported as one line, or noise.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                status = super().main(args, "imgconv", complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help(), err=True)
            sys.exit(2)
        except click.ClickException as exc:
            _fail(exc.format_message(), exc.exit_code)
        except ReaderGone as exc:
            # Quiet, as cat is; and Python must not complain when it flushes at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(exc.exit_code)
        except ImgconvError as exc:
            _fail(str(exc), exc.exit_code)
        except (click.Abort, KeyboardInterrupt):
            _fail("interrupted", 130)
        except Terminated:
            _fail("terminated", Terminated.exit_code)
        sys.exit(status if isinstance(status, int) else 0)


def _fail(message, status):
    _say_error(message)
    sys.exit(status)


def _say_error(message):
    # One line, whatever a library's message holds (numpy's run over several).
    _say(f"imgconv: error: {' '.join(message.split())}")


def _say(line, err=True):
    """Print one line of a message; a control character a name brought into it is
    escaped, so that no name can move the cursor, set the terminal's title or fake a
    line. Names are quoted where messages are made (`imgconv.names.quote_name`); this
    is the guard for any a library left as it was."""
    click.echo(printable(line), err=err)


class BoundaryType(click.ParamType):
    name = "mode"

    def convert(self, value, param, ctx):
        try:
            resolve_mode(value)
        except ImgconvError as exc:
            self.fail(str(exc), param, ctx)
        return value


class FormatType(click.ParamType):
    """A format name this Pillow writes (``imgconv formats`` lists them), checked only
    when given, so that ``--help`` does not load Pillow."""

    name = "FMT"

    def convert(self, value, param, ctx):
        if value.lower() not in formats.names():
            self.fail(f"unknown format {value!r}; imgconv writes {', '.join(sorted(formats.names()))}", param, ctx)
        return value.lower()


class ColourType(click.ParamType):
    """A colour name or #rrggbb, read (by Pillow) only when given."""

    name = "COLOR"

    def convert(self, value, param, ctx):
        try:
            return pipeline.parse_background(value)
        except ImgconvError as exc:
            self.fail(str(exc), param, ctx)


class KernelSpecType(click.ParamType):
    name = "kernel"

    def convert(self, value, param, ctx):
        try:
            return kernelfile.load_kernel(value)
        except ImgconvError as exc:
            self.fail(str(exc), param, ctx)


class FiniteFloat(click.FloatRange):
    """A float within a range, never NaN or infinite (Click's own FloatRange lets both
    through: comparisons with NaN are false, and infinity is beyond no open bound)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.min is None and self.max is None:
            self.name = "float"  # no range to show in --help

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number

    def _describe_range(self):
        return "" if self.min is None and self.max is None else super()._describe_range()


RADIUS = click.IntRange(min=0)
FINITE = FiniteFloat()
POSITIVE = FiniteFloat(min=0, min_open=True)


class SectionOption(click.Option):
    """An option listed in ``--help`` under the heading of its ``section``."""

    def __init__(self, *args, section=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.section = section


class SectionedCommand(click.Command):
    """A command whose ``--help`` lists its own options first, then the shared ones by
    section (Engine, Output, Input, Batch).

    Written here rather than taken from cloup, which does the same: importing cloup
    takes 40-70 ms (importlib.metadata among it) on every run, a quarter of a small
    file's whole command, for the sake of ``--help``.
    """

    def format_options(self, ctx, formatter):
        sections = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
            if record is not None:
                sections.setdefault(getattr(param, "section", None) or "Options", []).append(record)
        for title, records in sections.items():
            with formatter.section(title):
                formatter.write_dl(records)


def _section(title, *options):
    """The options (``(param_decls, attrs)``) of one ``--help`` section, as one decorator."""

    def decorate(function):
        for declarations, attributes in reversed(options):
            function = click.option(*declarations, cls=SectionOption, section=title, **attributes)(function)
        return function

    return decorate


def boundary_options(default="reflect", help_boundary=None):
    """``--boundary`` and ``--cval``, for the filters and for ``conv`` and ``learn``."""
    return _section(
        "Engine",
        (("--boundary", "-b"), dict(type=BoundaryType(), default=default, show_default=True,
                                    help=help_boundary or "What lies beyond the edges: reflect, mirror, nearest, wrap, "
                                                          "constant (or an alias).")),
        (("--cval",), dict(type=FINITE, default=0.0, show_default=True,
                           help="Value beyond the edges in constant mode, in the image's sample units.")))


class PairType(click.ParamType):
    """``N`` or ``A,B`` (also ``AxB``): one whole number for both axes, or one each."""

    name = "N|A,B"

    def __init__(self, minimum=1):
        self.minimum = minimum

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        parts = str(value).replace("x", ",").split(",")
        try:
            numbers = tuple(int(p) for p in parts)
        except ValueError:
            self.fail(f"{value!r} is not a whole number or a pair like 2,3", param, ctx)
        if len(numbers) not in (1, 2) or min(numbers) < self.minimum:
            self.fail(f"{value!r}: expected N or A,B, each at least {self.minimum}", param, ctx)
        return numbers * 2 if len(numbers) == 1 else numbers


MAX_PIXELS = (("--max-pixels",), dict(
    type=click.IntRange(min=0), default=DEFAULT_MAX_PIXELS, show_default=True, envvar="IMGCONV_MAX_PIXELS",
    metavar="N", help="Refuse an input of more pixels (all frames read; from its header, before decoding); "
                      "0 lifts the limit. A tiled input streamed to a tiled output is bounded by what is decoded "
                      "at once instead. Also IMGCONV_MAX_PIXELS."))

input_options = _section(
    "Input",
    (("--auto-orient/--no-auto-orient",), dict(
        default=True, show_default=True,
        help="Turn the input upright as its EXIF orientation says before filtering, and write the result upright; "
             "--no-auto-orient filters the stored pixels and keeps the tag.")),
    (("--frame",), dict(type=click.IntRange(min=0), metavar="N",
                        help="Only frame N (0-based) of an animation or page N of a TIFF [default: every frame].")),
    MAX_PIXELS,
)

output_options = _section(
    "Output",
    (("--format", "fmt"), dict(type=FormatType(),
                               help="Output format when OUTPUT's extension does not say (e.g. for -); in a batch, "
                                    "every output's format and extension. 'imgconv formats' lists them.")),
    (("--quality",), dict(type=click.IntRange(1, 100),
                          help="JPEG, WebP and AVIF quality, 1-100 [default: a JPEG input's own tables, a lossless "
                               "WebP input's losslessness, else 92 for JPEG and 90 for WebP and AVIF].")),
    (("--subsampling",), dict(type=click.Choice(["4:4:4", "4:2:2", "4:2:0"]),
                              help="JPEG chroma subsampling [default: a JPEG input's own, else 4:4:4].")),
    (("--depth",), dict(type=click.Choice(["8", "16"]),
                        help="Bits a sample of image outputs [default: the input's]. 16-bit images keep 16 bits in "
                             "PNG, TIFF and .npy; other formats hold 8, and need --depth 8, which rounds v/257. "
                             "Float samples map 0.0-1.0 to 0-255 (0-65535), rounded and clipped.")),
    (("--strip",), dict(is_flag=True, help="Write no EXIF (GPS included), XMP or comments; keep the ICC profile.")),
    (("--compress-level",), dict(type=click.IntRange(0, 9), default=DEFAULT_COMPRESS_LEVEL, show_default=True,
                                 help="PNG compression level: 0 fastest and largest, 9 smallest and slowest.")),
    (("--view",), dict(type=click.Choice(VIEWS), default="result", show_default=True,
                       help="result alone, side-by-side with the original, or with a thumbnail of the original "
                            "inset.")),
    (("--background",), dict(type=ColourType(),
                             help="Composite an image with alpha over this colour (a name or #rrggbb) after "
                                  "filtering, and write it without alpha [default: keep alpha; an output format "
                                  "without alpha takes only fully opaque images].")),
    (("--in-place",), dict(is_flag=True, help="Allow an output to overwrite its input.")),
    (("--sync/--no-sync",), dict(default=True, show_default=True,
                                 help="Sync each output to disk before it replaces the old one, and its folder after, "
                                      "so that a power loss leaves one or the other; --no-sync skips that for "
                                      "scratch work.")),
    (("--tile-size",), dict(type=PairType(), metavar="N|H,W",
                            help="Tiles (chunks) of a streamed tiled TIFF or Zarr output [default: the input's].")),
    (("--compression",), dict(type=click.Choice(["none", "deflate", "lzw", "zstd", "packbits"]),
                              help="Compression of a TIFF output (or a streamed Zarr one: none, deflate, zstd) "
                                   "[default: a TIFF input's own where lossless, else deflate].")),
)


def engine_options(function):
    """The engine's options: boundary, cval, method and threads."""
    function = _section(
        "Engine",
        (("--method",), dict(type=click.Choice(METHODS), default="auto", show_default=True,
                             help="Engine strategy; auto picks the one expected to be fastest.")),
        (("--threads",), dict(type=click.IntRange(min=1),
                              help="Threads filtering one image [default: CPUs; 1 per file in a batch; "
                                   "at most 4 per CPU].")),
    )(function)
    return boundary_options()(function)


batch_options = _section(
    "Batch (several inputs, a folder, or --files-from)",
    (("--recursive", "-R"), dict(is_flag=True, help="Descend into sub-folders, mirroring the tree.")),
    (("--include",), dict(multiple=True, metavar="GLOB", help="Only files whose name matches (repeatable).")),
    (("--exclude",), dict(multiple=True, metavar="GLOB", help="Skip files whose name matches (repeatable).")),
    (("--files-from",), dict(type=click.Path(allow_dash=True, dir_okay=False), metavar="FILE",
                             help="Read input paths from FILE, one per line; - is stdin.")),
    (("--null", "-0"), dict(is_flag=True, help="--files-from paths are NUL-separated (find -print0).")),
    (("--suffix",), dict(default="", metavar="S", help="Insert S before each output's extension (no '/' or NUL).")),
    (("--skip-existing",), dict(is_flag=True, help="Leave outputs newer than their input alone.")),
    (("--dry-run",), dict(is_flag=True, help="Print the planned 'input -> output' pairs and stop; nothing is written, not even the "
                                      "--report.")),
    (("--jobs", "-j"), dict(type=click.IntRange(min=1),
                            help="Files processed at once, each in a worker process [default: CPUs; never more than "
                                 "the files, nor than 4 per CPU: more would only take turns on the same cores].")),
    (("--progress/--no-progress",), dict(default=None,
                                          help="Show a progress bar on stderr [default: when stderr is a terminal].")),
    (("--quiet", "-q"), dict(is_flag=True, help="Print only errors.")),
    (("--fail-fast",), dict(is_flag=True, help="Stop at the first file that fails.")),
    (("--report",), dict(type=click.Path(allow_dash=True, dir_okay=False), metavar="FILE",
                         help="Write one JSON object per input to FILE (- for stdout).")),
    (("--cluster",), dict(metavar="ADDRESS", envvar="IMGCONV_CLUSTER",
                          help="Run the batch on the Dask scheduler at ADDRESS (tcp://HOST:PORT), whose workers see "
                               "the same files; --jobs defaults to its threads. Also IMGCONV_CLUSTER.")),
)


def filter_command(name, preset=True):
    """Turn ``make(engine=..., **own_options) -> Filter`` into a filter command.

    The command's own options (declared on ``make``) come first in ``--help``, then
    the shared sections. A ``preset`` command also takes ``--print-kernel``.
    """

    def decorator(make):
        def command(paths, engine, write, batching, print_kernel=False, **own):
            filt = make(engine=engine, **own)
            if print_kernel:
                if filt.kernel is None:
                    raise click.UsageError(f"{name} with these options is not a single kernel; nothing to print")
                click.echo(kernelfile.format_kernel(filt.kernel), nl=False)
            elif batch.is_batch(paths, batching["files_from"]):
                return _run_batch(paths, filt, write, **batching)
            elif len(paths) != 2:
                raise click.UsageError(f"{name} takes INPUT and OUTPUT (use - for stdin/stdout), got {len(paths)} path(s)")
            else:
                _run_one(*paths, filt, write, batching)

        own_params = getattr(make, "__click_params__", [])
        shared = _split_options(command, preset)
        shared.__doc__ = make.__doc__
        if preset:
            shared = click.option("--print-kernel", is_flag=True, cls=SectionOption, section="Output",
                                  help="Print the kernel in the plain text format and exit; "
                                       "imgconv convolve -k FILE reproduces this command.")(shared)
        for decorate in reversed([click.argument("paths", nargs=-1, metavar="INPUT... OUTPUT"),
                                  engine_options, output_options, input_options, batch_options]):
            shared = decorate(shared)
        # Click lists parameters in the reverse of their stored order: the command's own,
        # stored last, come first.
        shared.__click_params__ = [p for p in shared.__click_params__ if p not in own_params] + own_params
        return cli.command(name, cls=SectionedCommand)(shared)

    return decorator


_ENGINE = ("boundary", "cval", "method", "threads")
_BATCH = ("recursive", "include", "exclude", "files_from", "null", "suffix", "skip_existing", "dry_run", "jobs",
          "progress", "quiet", "fail_fast", "report", "cluster")
_WRITE = ("fmt", "quality", "subsampling", "compress_level", "depth", "strip", "auto_orient", "frame", "max_pixels",
          "view", "in_place", "tile_size", "compression", "background", "sync")


def _split_options(command, preset):
    """The Click callback: every option by name in, ``command``'s groups out."""

    def callback(paths, **options):
        engine = {key: options.pop(key) for key in _ENGINE}
        batching = {key: options.pop(key) for key in _BATCH}
        write = {key: options.pop(key) for key in _WRITE}
        write["format"], write["depth"] = write.pop("fmt"), write["depth"] and int(write["depth"])
        if engine["threads"] is None and batch.is_batch(paths, batching["files_from"]):
            engine["threads"] = 1  # in a batch, --jobs alone sets how many cores work
        elif engine["threads"] is not None:
            engine["threads"] = min(engine["threads"], batch.max_jobs())
        return command(paths, engine, write, batching, **options)

    return callback


def _run_one(source, dest, filt, write, batching):
    """One INPUT to one OUTPUT; a streamed tiled input runs its blocks on --cluster."""
    for option in ("include", "exclude", "suffix"):
        if batching[option]:
            raise click.UsageError(f"--{option} applies to the files of a batch, not to one INPUT and OUTPUT file; "
                                   f"end OUTPUT with / to write into that folder (a batch of one file), or drop "
                                   f"--{option}")
    task = batch.plan_one(source, dest, in_place=write["in_place"], report=batching["report"])
    streamed = tiled.streams(source, dest, write["format"], write["frame"])
    address = batching["cluster"]
    if address and not streamed and click.get_current_context().get_parameter_source("cluster") \
            != click.core.ParameterSource.ENVIRONMENT:
        raise click.UsageError("--cluster runs batches, and tiled TIFF or Zarr inputs streamed to a .tif or .zarr, "
                               "not one other INPUT and OUTPUT; end OUTPUT with / to make it a folder (a batch of one "
                               "file), or drop --cluster")
    if batching["dry_run"]:
        _say(batch.plan_line(task, batching["skip_existing"]), err=False)
        return
    client = _connect(address) if address and streamed else None
    bar = batch.ProgressLine(0, unit="tiles") if _shows_progress(batching) else None
    try:  # only a streamed tiled image reports progress
        result = batch.process_one(task, filt, report=batching["report"], skip_existing=batching["skip_existing"],
                                   on_progress=bar and bar.set, get=client and client.get, **write)
    finally:
        if client is not None:
            client.close()
        if bar:
            bar.close()
    if result.status == "skipped" and not batching["quiet"]:
        _say(f"imgconv: note: {quote_name(dest)}: newer than {quote_name(source)}; skipped (--skip-existing)")


def _connect(address):
    cluster_module = importlib.import_module("imgconv.cluster")
    cluster_module.logs_quiet()
    return cluster_module.connect(address)


def _run_batch(paths, filt, write, *, recursive, include, exclude, files_from, null, suffix, skip_existing, dry_run,
               jobs, progress, quiet, fail_fast, report, cluster):
    if not paths:
        raise click.UsageError("a batch needs an OUTPUT folder")
    *inputs, output = paths
    if files_from is not None:
        inputs = batch.read_files_from(files_from, null) + inputs

    def on_note(message):
        if not quiet:
            _say(f"imgconv: note: {message}")

    settled = []  # inputs skipped (not regular files) or failed (unreadable folders) while planning

    def on_planned(result):
        settled.append(result)
        if result.status == "failed":
            _say_error(result.error)
        else:
            on_note(result.error)

    in_place, fmt = write.pop("in_place"), write.pop("format")
    tasks = batch.plan_batch(inputs, output, recursive=recursive, include=include, exclude=exclude,
                             format=fmt, suffix=suffix, in_place=in_place, on_note=on_note, on_result=on_planned)
    failed = any(r.status == "failed" for r in settled)
    if dry_run:
        for task in tasks:
            _say(batch.plan_line(task, skip_existing), err=False)
        return 1 if failed else 0
    if not tasks and not failed:
        raise InvalidInputError("no input images found")
    if failed and fail_fast:
        tasks = []  # the first failure came before any file started
    if tasks:
        batch.make_output_folder(output)  # or one line why not, before any summary
    run_options = {}
    client = None
    if cluster:
        client = _connect(cluster)
        executor = importlib.import_module("imgconv.cluster").ClusterExecutor(client)
        # As many files in flight as the cluster has threads: --jobs can lower that.
        jobs = min(jobs or executor.threads, executor.threads)
        run_options = dict(executor=executor, in_flight=jobs)
    bar = batch.ProgressLine(len(tasks)) if _shows_progress(dict(quiet=quiet, progress=progress)) else None

    results = list(settled)  # and the files that ran, also when an interrupt ends the run

    def on_result(result):
        results.append(result)
        if result.status == "failed":
            if bar and bar.done:
                click.echo(err=True)  # leave the progress line before the message
            _say_error(result.error)
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
            _say(batch.summary(results))
    return 1 if any(r.status == "failed" for r in results) else 0


def _shows_progress(batching):
    """A progress line unless --quiet: with --progress, or when stderr is a terminal."""
    return not batching["quiet"] and (batching["progress"] or batching["progress"] is None and sys.stderr.isatty())


@click.group(cls=ImgconvGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="imgconv", message="%(prog)s %(version)s")
def cli():
    """Filter images with convolution kernels: presets or your own.

    Every filter command is  imgconv COMMAND [OPTIONS] INPUT OUTPUT ; - reads standard
    input or writes standard output.

    \b
    Examples:
      imgconv blur --radius 5 --sigma 3 in.png out.png
      cat in.png | imgconv blur -s 2 - - | imgconv sobel - edges.png
      imgconv convolve -k "0 -1 0; -1 5 -1; 0 -1 0" in.jpg sharp.jpg
    """


@filter_command("blur")
@click.option("--radius", "-r", type=RADIUS, help="Kernel radius; size is 2r+1. Default ceil(3 sigma).")
@click.option("--sigma", "-s", type=POSITIVE, help="Standard deviation in pixels. Default radius / 3.")
def blur(engine, radius, sigma):
    """Gaussian blur. Give --radius, --sigma or both.

    \b
    Example:
      imgconv blur --radius 5 --sigma 3 in.png out.png
    """
    return filters.preset_filter(kernels.separable_gaussian(radius, sigma), **engine)


@filter_command("box")
@click.option("--radius", "-r", type=RADIUS, help="Kernel radius; size is 2r+1.")
@click.option("--size", type=click.IntRange(min=1), help="Kernel size, odd or even.")
def box(engine, radius, size):
    """Box blur: the mean of a square neighbourhood. Give --radius or --size.

    \b
    Example:
      imgconv box --radius 2 in.png out.png
    """
    return filters.preset_filter(kernels.separable_box(radius, size), **engine)


def _gradient_command(name):
    @filter_command(name)
    @click.option("--direction", "-d", type=click.Choice(["x", "y", "magnitude"]), default="magnitude",
                  show_default=True, help="x (positive rightwards), y (positive downwards), or hypot of both.")
    @click.option("--normalize", is_flag=True, help="Stretch the response so its maximum is full white.")
    def command(engine, direction, normalize):
        operator = getattr(kernels, name)  # kernels.sobel, kernels.prewitt, kernels.scharr
        return filters.gradient_filter(operator, direction, normalize=normalize, **engine)

    command.__doc__ = f"""{name.capitalize()} edge detection.

    Images show |gx|, |gy| or hypot(gx, gy), clipped to the output range (or stretched
    with --normalize); .npy outputs keep the signed float32 response.

    \b
    Example:
      imgconv {name} --direction x in.png edges.png
    """
    command.help = command.__doc__


for _name in ("sobel", "prewitt", "scharr"):
    _gradient_command(_name)


@filter_command("sharpen")
@click.option("--amount", "-a", type=FINITE, default=1.0, show_default=True, help="Strength; 1 is the classic 3x3 sharpen.")
def sharpen(engine, amount):
    """Sharpen: identity minus amount times the Laplacian.

    \b
    Example:
      imgconv sharpen --amount 0.5 in.png out.png
    """
    return filters.preset_filter(kernels.sharpen(amount), **engine)


@filter_command("unsharp")
@click.option("--radius", "-r", type=RADIUS, help="Radius of the Gaussian; default ceil(3 sigma).")
@click.option("--sigma", "-s", type=POSITIVE, help="Sigma of the Gaussian; default radius / 3.")
@click.option("--amount", "-a", type=FINITE, default=1.0, show_default=True, help="How much detail to add back.")
def unsharp(engine, radius, sigma, amount):
    """Unsharp mask: identity + amount * (identity - Gaussian).

    \b
    Example:
      imgconv unsharp --sigma 2 --amount 1.5 in.png out.png
    """
    return filters.preset_filter(kernels.separable_unsharp(radius, sigma, amount), **engine)


@filter_command("laplacian")
@click.option("--diagonals", is_flag=True, help="Use the 8-neighbour Laplacian.")
def laplacian(engine, diagonals):
    """Laplacian (second derivative): edges and spots. Negative responses clip to 0
    in images; write .npy to keep them.

    \b
    Example:
      imgconv laplacian in.png out.npy
    """
    return filters.preset_filter(kernels.laplacian(diagonals), **engine)


@filter_command("emboss")
def emboss(engine):
    """Emboss: relief lit from the top left.

    \b
    Example:
      imgconv emboss in.png out.png
    """
    return filters.preset_filter(kernels.emboss(), **engine)


@filter_command("motion")
@click.option("--length", "-l", type=FiniteFloat(min=1), default=9, show_default=True, help="Length of the blur in pixels.")
@click.option("--angle", type=FINITE, default=0.0, show_default=True, help="Degrees counter-clockwise from the x axis.")
def motion(engine, length, angle):
    """Motion blur along a line.

    \b
    Example:
      imgconv motion --length 15 --angle 30 in.png out.png
    """
    return filters.preset_filter(kernels.motion(length, angle), **engine)


@filter_command("identity")
def identity(engine):
    """The identity kernel: converts between formats without changing pixels.

    \b
    Example:
      imgconv identity in.png out.tiff
    """
    return filters.preset_filter(kernels.identity(), **engine)


@filter_command("convolve", preset=False)
@click.option("--kernel", "-k", "kernel", type=KernelSpecType(), required=True,
              help="A kernel file (.txt .csv .kernel .mat .npy .json) or an inline kernel like '1 2 1; 2 4 2; 1 2 1'.")
@click.option("--normalize", is_flag=True, help="Divide the kernel by its sum.")
@click.option("--divisor", type=FINITE, help="Divide the kernel by this.")
@click.option("--offset", type=FINITE, help="Add this to every result, in sample units.")
@click.option("--correlate", is_flag=True, help="Correlate (do not flip the kernel).")
def convolve(engine, kernel, normalize, divisor, offset, correlate):
    """Filter with your own kernel, by true convolution (the kernel is flipped)
    unless --correlate is given.

    \b
    Examples:
      imgconv convolve -k samples/kernels/sharpen.txt in.png out.png
      imgconv convolve -k "1 2 1; 2 4 2; 1 2 1" --normalize in.png out.png
    """
    kernel = kernelfile.adjust_kernel(kernel, normalize=normalize, divisor=divisor, offset=offset)
    return filters.kernel_filter(kernel, correlate=correlate, **engine)


class PaddingType(click.ParamType):
    """``valid``, ``same``, ``full``, ``N`` or ``PY,PX``: per axis, a name or a number."""

    name = "valid|same|full|N|PY,PX"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        text = str(value).strip().lower()
        if text in ("valid", "same", "full"):
            return (text, text)
        return PairType(minimum=0).convert(text, param, ctx)


class BiasType(click.ParamType):
    """Comma-separated numbers, or a .npy file of them."""

    name = "B1,B2,...|FILE.npy"

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        try:
            return layers.parse_bias(value)
        except ImgconvError as exc:
            self.fail(str(exc), param, ctx)


@cli.command("conv", cls=SectionedCommand)
@click.argument("source", metavar="INPUT")
@click.argument("dest", metavar="OUTPUT")
@click.option("--kernel", "-k", "kernel_specs", type=KernelSpecType(), multiple=True,
              help="A kernel (file or inline); repeat for more filters. Each filters the image in grey.")
@click.option("--weights", type=click.Path(dir_okay=False),
              help="A .npy of shape (F, C, kh, kw): F filters summing over the image's C channels.")
@click.option("--bias", type=BiasType(), help="One bias per filter: comma-separated, or a .npy file.")
@click.option("--stride", type=PairType(), default="1", show_default=True, help="S or SY,SX.")
@click.option("--dilation", type=PairType(), default="1", show_default=True, help="D or DY,DX: taps D apart.")
@click.option("--padding", type=PaddingType(), default="valid", show_default=True,
              help="valid, same (ceil(size/stride) outputs, extra at bottom/right), full, N or PY,PX.")
@boundary_options("constant", "What the padding holds (constant with --cval 0: zeros, as in deep learning).")
@click.option("--activation", type=click.Choice(["none", "relu"]), default="none", show_default=True,
              help="Applied after the bias.")
@click.option("--columns", type=click.IntRange(min=1), help="Montage columns [default: near-square grid].")
@_section("Input", MAX_PIXELS)
def conv(source, dest, kernel_specs, weights, bias, stride, dilation, padding, boundary, cval, activation, columns,
         max_pixels):
    """A convolution layer, as deep learning defines it (cross-correlation).

    OUTPUT.npy gets the (F, H', W') float32 feature maps, in the input's sample units;
    an image OUTPUT gets a montage, each map stretched from its minimum to its maximum.

    \b
    Examples:
      imgconv conv -k "-1 0 1; -2 0 2; -1 0 1" -k "-1 -2 -1; 0 0 0; 1 2 1" --stride 2 in.png maps.png
      imgconv conv --weights w.npy --bias 0.1,0,-0.2 --padding same --activation relu in.png maps.npy
    """
    if bool(kernel_specs) == (weights is not None):
        raise click.UsageError("give --kernel (one or more) or --weights")
    if weights is not None:
        weights = layers.read_array(weights)
    kernels_ = list(kernel_specs) or None
    layers.conv_layer_file(source, dest, kernels=kernels_, weights=weights, bias=bias, columns=columns,
                           max_pixels=max_pixels,
                           stride=stride, padding=padding, dilation=dilation, boundary=boundary, cval=cval,
                           activation=activation)


@cli.command("params")
@click.option("--input", "input_size", type=PairType(), default="1000x1000", show_default=True,
              help="Image size HxW.")
@click.option("--hidden", type=click.IntRange(min=1), default=1_000_000, show_default=True, help="Hidden units.")
@click.option("--filter", "filter_size", type=PairType(), default="10x10", show_default=True, help="Filter size HxW.")
@click.option("--filters", type=click.IntRange(min=1), default=100, show_default=True, help="Convolution filters.")
@click.option("--channels", type=click.IntRange(min=1), default=1, show_default=True, help="Input channels.")
@click.option("--bias", is_flag=True, help="Count a bias per unit (per filter for the convolution).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def params_command(input_size, hidden, filter_size, filters, channels, bias, as_json):
    """Why convolution: parameters of fully connected, locally connected and
    convolutional layers on one image.

    \b
    Example (the lecture's numbers: 10^12, 10^8 and 10^4):
      imgconv params --input 1000x1000 --hidden 1000000 --filter 10x10 --filters 100
    """
    counts = params.parameter_counts(input_size, hidden, filter_size, filters, channels, bias)
    if as_json:
        import json

        click.echo(json.dumps({
            "input": list(input_size), "channels": channels, "hidden": hidden, "filter": list(filter_size),
            "filters": filters, "bias": bias,
            "counts": counts, "ratios": params.ratios(counts),
        }, indent=2))
    else:
        click.echo(params.format_table(counts), nl=False)


@cli.command("learn", cls=SectionedCommand)
@click.argument("source", metavar="INPUT")
@click.argument("target", metavar="TARGET")
@click.option("--size", type=click.IntRange(min=1), required=True, help="Kernel size K (K x K).")
@click.option("-o", "--output", "dest", required=True, metavar="FILE", help="Where to write the kernel (plain text).")
@boundary_options("reflect", "How INPUT is extended beyond its edges, as for convolve.")
@click.option("--per-channel", is_flag=True, help="Learn one kernel per channel: FILE-0, FILE-1, ...")
@click.option("--ridge", type=FiniteFloat(min=0), default=0.0, show_default=True,
              help="Ridge penalty on the weights (helps with flat or small images).")
@_section("Input", MAX_PIXELS)
def learn_command(source, target, size, dest, boundary, cval, per_channel, ridge, max_pixels):
    """Learn the K x K kernel that turns INPUT into TARGET, by least squares.

    One kernel is shared by every position, the point of convolution. The fit (RMSE,
    PSNR) goes to stderr; imgconv convolve -k FILE INPUT OUT reproduces TARGET.

    \b
    Example:
      imgconv blur -r 2 -s 1 in.png blurred.png
      imgconv learn in.png blurred.png --size 5 -o kernel.txt
    """
    fit, paths = learn.learn_files(source, target, dest, size, boundary=boundary, cval=cval,
                                   per_channel=per_channel, ridge=ridge, max_pixels=max_pixels)
    _say(f"fit: RMSE {fit.rmse:.6g}, PSNR {fit.psnr:.2f} dB (peak {fit.peak:g}); "
         f"wrote {', '.join(map(quote_name, paths))}")


@cli.command("animate")
@click.argument("dest", metavar="OUTPUT.gif")
@click.option("--input-size", type=PairType(), default="5", show_default=True, help="Input grid H or HxW.")
@click.option("--kernel-size", type=PairType(), default="3", show_default=True, help="Kernel K or KhxKw.")
@click.option("--stride", type=PairType(), default="1", show_default=True, help="S or SY,SX.")
@click.option("--padding", type=PaddingType(), default="0", show_default=True,
              help="Zero padding: N, PY,PX, valid, same or full.")
@click.option("--dilation", type=PairType(), default="1", show_default=True, help="D or DY,DX.")
@click.option("--fps", type=click.FloatRange(min=0.1, max=100), default=2.0, show_default=True, help="Frames per second.")
@click.option("--numbers", is_flag=True, help="Write input values, weights and outputs into the cells.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the input values and weights.")
@click.option("--max-pixels", type=click.IntRange(min=0), default=DEFAULT_MAX_PIXELS, show_default=True,
              envvar="IMGCONV_MAX_PIXELS", metavar="N",
              help="Refuse, before drawing, an animation of more pixels in all its frames; 0 lifts the limit. "
                   "Also IMGCONV_MAX_PIXELS.")
def animate_command(dest, input_size, kernel_size, stride, padding, dilation, fps, numbers, seed, max_pixels):
    """Animate a kernel sliding over an input: one frame per output position, looping.

    The format follows OUTPUT's extension: .gif, or animated .png or .webp.

    \b
    Example:
      imgconv animate slide.gif --input-size 5 --kernel-size 3 --stride 2 --padding 1 --numbers
    """
    geometry = animate.make_geometry(input_size, kernel_size, stride, padding, dilation)
    count = animate.animate_file(dest, geometry, fps=fps, numbers=numbers, seed=seed, max_pixels=max_pixels)
    click.echo(f"{count} frames: output {geometry.output[0]}x{geometry.output[1]}", err=True)


@cli.command("demo", cls=SectionedCommand)
@click.argument("image", required=False, metavar="[IMAGE]")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; the default is reachable from this machine only.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="Port; 0 picks a free one.")
@click.option("--no-browser", is_flag=True, help="Only print the URL; do not open a browser.")
@_section("Input", MAX_PIXELS, (("--max-upload-pixels",), {
    "type": click.IntRange(min=1), "default": DEFAULT_MAX_UPLOAD_PIXELS, "show_default": True, "metavar": "N",
    "help": "Refuse an upload of more pixels (all frames; from its header), or of more than --max-pixels."}))
def demo_command(image, host, port, no_browser, max_pixels, max_upload_pixels):
    """The lecture's live demonstrations in a web page: Gaussian blur with sliders,
    the sliding kernel of a convolution layer, and parameter counts.

    Prints the page's URL as its first line, opens a browser on it, and serves until
    Ctrl-C. IMAGE (default: a 451x300 sample) is the blurred picture; the page can
    load others, kept in memory only.

    \b
    Example:
      imgconv demo photo.jpg --port 8000 --no-browser
    """
    server = demo.make_server(image, host, port, max_pixels, max_upload_pixels)
    click.echo(server.url)
    try:
        demo.serve(server, open_browser=not no_browser)
    except KeyboardInterrupt:
        sys.exit(130)  # Ctrl-C is how a demonstration ends: no message


@cli.command("formats")
def list_formats():
    """List the image formats this installation reads and writes, with their
    extensions and what each holds.

    \b
    Example:
      imgconv formats
    """
    for line in formats.table():
        click.echo(line)


_COMMAND_OF_PRESET = {"gaussian": "blur"}


@cli.command("kernels")
def list_kernels():
    """List the preset kernels, one line each.

    \b
    Example:
      imgconv kernels
    """
    for preset in kernels.PRESETS.values():
        command = _COMMAND_OF_PRESET.get(preset.name, preset.name)
        click.echo(f"{command:<10} {preset.summary}")


def _terminate(signum, frame):
    raise Terminated()


# glibc's mallopt parameters, and the size up to which freed memory is kept for reuse.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_REUSED_BYTES = 64 << 20


def _reuse_freed_memory():
    """Have glibc keep freed blocks up to `_REUSED_BYTES` for the next allocation (batch
    workers, which fork from this process, too) rather than give each array back to the
    system and fault it in anew. Measured with benchmarks/batch_scaling.py's 40 photos
    of 1-2 MP: 2.05-2.14 s instead of 2.17-2.19 with --jobs 1, 1.16-1.24 s instead of
    1.27-1.36 with --jobs 2 (1.72-1.83x instead of 1.64-1.67x), a fifth of the page
    faults. Both settings or neither: either alone made the batch 25-60% slower. The
    cost: on the 4K PNG, peaks of 142-156 MiB instead of 133-148 (32, 64 and 256 MiB
    gave the same). Elsewhere than glibc, nothing."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, _REUSED_BYTES)
        libc.mallopt(_M_TRIM_THRESHOLD, _REUSED_BYTES)
    except (OSError, AttributeError):
        pass


def main():
    signal.signal(signal.SIGTERM, _terminate)
    # The engine holds BLAS to one thread while it runs (threadpoolctl), so OpenBLAS's
    # own pool, which NumPy starts on import, is only a cost: 60-80 ms of a 512x512 blur
    # (290 against 350-370 ms, best of 8, on 2 busy CPUs); `learn` ran as fast without it.
    # Set before NumPy is imported; a user's own setting stands.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    _reuse_freed_memory()
    # Beyond the group's own silence (ImgconvGroup.main): what a library leaves to be
    # collected at exit, such as zarr's writes cut short by Ctrl-C, must not warn either.
    warnings.simplefilter("ignore")
    # Libraries log what they repair or skip in damaged files; Python would print it on
    # stderr beside the one-line error. The CLI has nothing to add to that line.
    logging.getLogger().addHandler(logging.NullHandler())
    cli.main()
