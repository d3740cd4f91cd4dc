"""Sectioned ``--help`` and the option groups the filter commands share: Engine,
Output, Input and Batch."""

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..vocabulary import DEFAULT_COMPRESS_LEVEL, DEFAULT_MAX_PIXELS, METHODS, VIEWS
from .types import FINITE, BoundaryType, ChannelValuesType, ColourType, FormatType, PairType

F = TypeVar("F", bound=Callable[..., Any])

OptionSpec = tuple[tuple[str, ...], dict[str, Any]]
"""One option as ``(param_decls, attrs)``: the arguments of `click.option`."""

KERNEL_SIZE = "--kernel-size"
"""The one spelling of a kernel's size, in every command that takes one."""


class SectionOption(click.Option):
    """An option listed in ``--help`` under the heading of its ``section``."""

    def __init__(self, *args: Any, section: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.section = section


class SectionedCommand(click.Command):
    """A command whose ``--help`` lists its own options first, then the shared ones by
    section (Engine, Output, Input, Batch).

    Written here rather than taken from cloup, which does the same: importing cloup
    takes 40-70 ms (importlib.metadata among it) on every run, a quarter of a small
    file's whole command, for the sake of ``--help``.
    """

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
            if record is not None:
                sections.setdefault(getattr(param, "section", None) or "Options", []).append(record)
        for title, records in sections.items():
            with formatter.section(title):
                formatter.write_dl(records)


def options(*specs: OptionSpec, **common: Any) -> Callable[[F], F]:
    """The options ``specs``, each also given ``common``, as one decorator: in ``--help``
    they are listed in the order given."""

    def decorate(function: F) -> F:
        for declarations, attributes in reversed(specs):
            function = click.option(*declarations, **common, **attributes)(function)
        return function

    return decorate


def section(title: str, *specs: OptionSpec) -> Callable[[F], F]:
    """The options ``specs`` of one ``--help`` section, as one decorator."""
    return options(*specs, cls=SectionOption, section=title)


def boundary_options(default: str = "reflect", help_boundary: str | None = None,
                     truncate: bool = False) -> Callable[[F], F]:
    """``--boundary`` and ``--cval``, for the filters (with ``truncate`` mode) and for
    ``conv`` and ``learn``: the parameters ``mode`` and ``cval`` of the calls they make."""
    return section(
        "Engine",
        (("--boundary", "-b", "mode"), {
            "type": BoundaryType(truncate), "default": default, "show_default": True,
            "help": help_boundary or "What lies beyond the edges: reflect, mirror, nearest, wrap, "
                                     "constant (or an alias)."}),
        (("--cval",), {"type": ChannelValuesType() if truncate else FINITE, "default": 0.0, "show_default": True,
                       "help": "Value beyond the edges in constant mode, in the image's sample units" +
                               ("; or one per channel, R,G,B[,A] (C,M,Y,K[,A] for CMYK kept in TIFF or JPEG)."
                                if truncate else ".")}))


MAX_PIXELS: OptionSpec = (("--max-pixels",), {
    "type": click.IntRange(min=0), "default": DEFAULT_MAX_PIXELS, "show_default": True, "envvar": "IMGCONV_MAX_PIXELS",
    "metavar": "N", "help": "Refuse an input of more pixels (all frames read; from its header, before decoding); "
                            "0 lifts the limit. A tiled input streamed to a tiled output is bounded by what is decoded "
                            "at once instead. Also IMGCONV_MAX_PIXELS."})

input_options = section(
    "Input",
    (("--auto-orient/--no-auto-orient",), {
        "default": True, "show_default": True,
        "help": "Turn the input upright as its EXIF orientation says before filtering, and write the result upright; "
                "--no-auto-orient filters the stored pixels and keeps the tag."}),
    (("--frame",), {"type": click.IntRange(min=0), "metavar": "N",
                    "help": "Only frame N (0-based) of an animation or page N of a TIFF [default: every frame]."}),
    MAX_PIXELS,
)

output_options = section(
    "Output",
    (("--format",), {"type": FormatType(),
                           "help": "Output format when OUTPUT's extension does not say (e.g. for -); in a batch, "
                                   "every output's format and extension. 'imgconv formats' lists them."}),
    (("--quality",), {"type": click.IntRange(1, 100),
                      "help": "JPEG, WebP and AVIF quality, 1-100 [default: a JPEG input's own tables, a lossless "
                              "WebP input's losslessness, else 92 for JPEG and 90 for WebP and AVIF]."}),
    (("--subsampling",), {"type": click.Choice(["4:4:4", "4:2:2", "4:2:0"]),
                          "help": "JPEG chroma subsampling [default: a JPEG input's own, else 4:4:4]."}),
    (("--depth",), {"type": click.Choice(["8", "16"]),
                    "help": "Bits a sample of image outputs [default: the input's]. 16-bit images keep 16 bits in "
                            "PNG, TIFF and .npy; other formats hold 8, and need --depth 8, which rounds v/257. "
                            "Float samples map 0.0-1.0 to 0-255 (0-65535), rounded and clipped."}),
    (("--strip",), {"is_flag": True, "help": "Write no EXIF (GPS included), XMP, comments, PNG text or "
                                             "resolution; keep the ICC profile."}),
    (("--srgb",), {"is_flag": True,
                   "help": "Convert colours an ICC profile or a PNG's gAMA/cHRM describes other than as sRGB (Display "
                           "P3, Adobe RGB, a grey gamma), and CMYK, to sRGB before filtering (LittleCMS, relative "
                           "colorimetric with black-point compensation; grey by its curve), and write no profile "
                           "[default: keep them; formats that carry no profile refuse them]."}),
    (("--compress-level",), {"type": click.IntRange(0, 9), "default": DEFAULT_COMPRESS_LEVEL, "show_default": True,
                             "help": "PNG compression level: 0 fastest and largest, 9 smallest and slowest."}),
    (("--view",), {"type": click.Choice(VIEWS), "default": "result", "show_default": True,
                   "help": "result alone, side-by-side with the original, or with a thumbnail of the original "
                           "inset."}),
    (("--background",), {"type": ColourType(),
                         "help": "Composite an image with alpha over this colour (a name or #rrggbb) after "
                                 "filtering, and write it without alpha [default: keep alpha; an output format "
                                 "without alpha takes only fully opaque images]."}),
    (("--in-place",), {"is_flag": True, "help": "Allow an output to overwrite its input."}),
    (("--sync/--no-sync",), {"default": True, "show_default": True,
                             "help": "Sync each output to disk before it replaces the old one, and its folder after, "
                                     "so that a power loss leaves one or the other; --no-sync skips that for "
                                     "scratch work."}),
    (("--tile-size",), {"type": PairType(), "metavar": "N|H,W",
                        "help": "Tiles (chunks) of a streamed tiled TIFF or Zarr output [default: the input's]."}),
    (("--compression",), {"type": click.Choice(["none", "deflate", "lzw", "zstd", "packbits"]),
                          "help": "Compression of a TIFF output (or a streamed Zarr one: none, deflate, zstd) "
                                  "[default: a TIFF input's own where lossless, else deflate]."}),
)


def message_options(verbose: str, progress: str,
                    default: str = "when stderr is a terminal, once the work has taken a second") -> Callable[[F], F]:
    """``--progress/--no-progress`` (``progress`` says of what, ``default`` when it is
    shown), ``-q/--quiet`` and ``-v/--verbose`` (``verbose`` says what it adds): the
    Messages section of every command that writes to stderr. `check_messages` refuses
    -q and -v together."""
    return section(
        "Messages",
        (("--progress/--no-progress",), {
            "default": None, "help": f"Show progress on stderr: {progress} [default: {default}]."}),
        (("--quiet", "-q"), {"is_flag": True, "help": "Print only errors."}),
        (("--verbose", "-v"), {"is_flag": True, "help": verbose}))


def check_messages(quiet: bool, verbose: bool) -> None:
    """Refuse ``-q`` and ``-v`` together: each says the other is not wanted."""
    if quiet and verbose:
        raise click.UsageError("give -q (only errors) or -v (more), not both")


def engine_options(function: F) -> F:
    """The engine's options: mode (``--boundary``), cval, method, threads, and what NaN
    samples mean."""
    function = section(
        "Engine",
        (("--nan",), {"type": click.Choice(["refuse", "interpolate"]), "default": "refuse", "show_default": True,
                      "help": "NaN samples of float inputs: refuse them, or take each output as the kernel-weighted "
                              "mean of the valid samples it covers (NaN where none)."}),
        (("--method",), {"type": click.Choice(METHODS), "default": "auto", "show_default": True,
                         "help": "Engine strategy; auto picks the one expected to be fastest."}),
        (("--threads",), {"type": click.IntRange(min=1),
                          "help": "Threads filtering one image [default: CPUs; 1 per file in a batch; "
                                  "at most 4 per CPU]."}),
    )(function)
    return boundary_options(help_boundary="What lies beyond the edges: reflect, mirror, nearest, wrap, constant (or "
                                          "an alias), or truncate: the weighted mean of the kernel's part inside "
                                          "the image (not for kernels summing to 0).", truncate=True)(function)


batch_options = section(
    "Batch (several inputs, a folder, or --files-from)",
    (("--recursive", "-R"), {"is_flag": True, "help": "Descend into sub-folders, mirroring the tree."}),
    (("--include",), {"multiple": True, "metavar": "GLOB", "help": "Only files whose name matches (repeatable)."}),
    (("--exclude",), {"multiple": True, "metavar": "GLOB", "help": "Skip files whose name matches (repeatable)."}),
    (("--files-from",), {"type": click.Path(allow_dash=True, dir_okay=False), "metavar": "FILE",
                         "help": "Read input paths from FILE, one per line; - is stdin."}),
    (("--null", "-0"), {"is_flag": True, "help": "--files-from paths are NUL-separated (find -print0)."}),
    (("--suffix",), {"default": "", "metavar": "S",
                     "help": "Insert S before each output's extension (no '/' or NUL)."}),
    (("--skip-existing",), {"is_flag": True, "help": "Leave outputs newer than their input alone."}),
    (("--dry-run",), {"is_flag": True,
                      "help": "Print the planned 'input -> output' pairs and stop; nothing is written, not even the "
                              "--report."}),
    (("--jobs", "-j"), {"type": click.IntRange(min=1),
                        "help": "Files processed at once, each in a worker process [default: CPUs; never more than "
                                "the files, nor than 4 per CPU: more would only take turns on the same cores]."}),
    (("--fail-fast",), {"is_flag": True, "help": "Stop at the first file that fails."}),
    (("--report",), {"type": click.Path(allow_dash=True, dir_okay=False), "metavar": "FILE",
                     "help": "Write one JSON object per input to FILE (- for stdout)."}),
    (("--cluster",), {"metavar": "ADDRESS", "envvar": "IMGCONV_CLUSTER",
                      "help": "Run the batch on the Dask scheduler at ADDRESS (tcp://HOST:PORT), whose workers see "
                              "the same files; --jobs defaults to its threads. Also IMGCONV_CLUSTER."}),
)
