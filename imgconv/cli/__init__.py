"""The imgconv command line: options in, library calls, one-line messages out.

This module holds the group and `main`, which sets up the process and runs it (the
program, `imgconv.__main__`, sets the stop signals' handlers first); the commands
live beside it: `presets` (the preset filters and ``convolve``), `lecture`
(``conv-layer``, ``params``, ``learn``, ``animate``, ``demo``), `completion`, with
`run` (one file, a batch, a cluster), `progress` (one file's progress line),
`sections` (shared options, sectioned ``--help``), `types` (option types and their
completion), `messages` (one-line messages) and `lazy` (library modules loaded on
first use).
"""

import atexit
import contextlib
import functools
import gc
import logging
import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Any, NoReturn

import click

from .. import __version__
from ..errors import STOPPED, ImgconvError, ReaderGone, Terminated, ending, on_signal
from . import lecture
from .completion import completion
from .lazy import formats
from .messages import fail
from .presets import PRESETS, convolve, deconvolve_command, list_kernels, preset_command

RENAMED = {
    "conv": "conv-layer (the feature maps of a neural network's layer; convolve filters with your own kernel)",
    "box --size": "--kernel-size",
    "learn --size": "--kernel-size",
    "learn -o": "OUTPUT, the third argument: imgconv learn INPUT TARGET OUTPUT",
    "learn --output": "OUTPUT, the third argument: imgconv learn INPUT TARGET OUTPUT",
    "params --input": "--input-size",
    "params --filter": "--kernel-size (--filters is their number)",
}
"""What a command or an option of an earlier version is called now, for the error that
meets its old name."""

SECTIONS = {
    "Filters": (*(preset.command for preset in PRESETS), "convolve", "deconvolve"),
    "The lecture (convolution in neural networks)": tuple(command.name or "" for command in lecture.COMMANDS),
    "Other": ("formats", "kernels", "completion"),
}
"""The commands of each section of the group's ``--help``, in order."""

BARE = "imgconv.bare"
"""The key of `click.Context.meta` saying a command was given no argument at all."""


class ImgconvGroup(click.Group):
    """A group whose every error is one line, ``imgconv: error: ...``, and no traceback;
    a command given no argument at all shows its usage before the line, and an old
    name (`RENAMED`) is met with the new one.

    Exit status 2 for usage errors (bad options, kernels, boundary names), 1 for
    failures while reading, filtering or writing, 130 for Ctrl-C.
    """

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None,
                                                                             list[str]]:
        if args and args[0] in RENAMED:
            raise click.UsageError(f"no command {args[0]!r}; it is now {RENAMED[args[0]]}", ctx)
        name, command, rest = super().resolve_command(ctx, args)
        ctx.meta[BARE] = not rest
        return name, command, rest

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        with past_click():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with past_click():
            return super().invoke(ctx)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        width = formatter.width - 6 - max(map(len, self.commands))
        for title, names in SECTIONS.items():
            with formatter.section(title):
                formatter.write_dl([(name, self.commands[name].get_short_help_str(width)) for name in names])

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> NoReturn:
        try:
            try:
                # What a warning could say is either an error, reported as one line, or noise.
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    status = super().main(args, "imgconv", complete_var, standalone_mode=False, **extra)
            finally:
                ending()  # what follows says how it ended; a late signal changes nothing
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help(), err=True)
            sys.exit(2)
        except click.ClickException as exc:
            usage = bare_usage(exc)
            if usage:
                click.echo(usage, err=True)
            failure = message_of(exc), exc.exit_code
        except ReaderGone as exc:
            # Quiet, as cat is; and Python must not complain when it flushes at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(exc.exit_code)
        except ImgconvError as exc:
            failure = str(exc), exc.exit_code
        except (click.Abort, Interrupted, KeyboardInterrupt):
            if sys.stderr.isatty():
                click.echo(err=True)  # below the ^C the terminal shows
            failure = STOPPED[KeyboardInterrupt]
        except Terminated:
            failure = STOPPED[Terminated]
        else:
            sys.exit(status if isinstance(status, int) else 0)
        # Exited from here, past the handlers: exiting inside one would keep the error, and
        # through its traceback all the command held (an open input among it), in a cycle
        # that only the garbage collector frees, for whoever calls this in-process.
        fail(*failure)


class Interrupted(BaseException):
    """Ctrl-C, carried past Click (`past_click`)."""


@contextlib.contextmanager
def past_click() -> Iterator[None]:
    """Ctrl-C as `Interrupted`, which Click lets through to `ImgconvGroup.main`: Click
    catches KeyboardInterrupt and prints an empty line before its Abort, a second line
    where standard error is not a terminal. And a reader of standard output gone while
    text is printed (``imgconv kernels | head -1``, ``--help``) as `ReaderGone`, as when
    an image is written there: Click ends a broken pipe with status 1."""
    try:
        yield
    except KeyboardInterrupt as exc:
        raise Interrupted() from exc
    except BrokenPipeError:
        raise ReaderGone() from None


def message_of(exc: click.ClickException) -> str:
    """The message of a Click error, saying an old option's new name."""
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.NoSuchOption) and ctx is not None:
        new = RENAMED.get(f"{ctx.info_name} {exc.option_name}")
        if new is not None:
            return f"no option {exc.option_name}; it is now {new}"
    return exc.format_message()


def bare_usage(exc: click.ClickException) -> str | None:
    """The usage lines of a command given no argument at all that the usage error
    ``exc`` stopped, to go before its message; None for any other error."""
    ctx = getattr(exc, "ctx", None)
    if not isinstance(exc, click.UsageError) or ctx is None or ctx.parent is None or not ctx.meta.get(BARE):
        return None
    return f"{ctx.get_usage()}\nTry '{ctx.command_path} --help' for help."


@click.group(cls=ImgconvGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="imgconv", message="%(prog)s %(version)s")
def cli() -> None:
    """Filter images with convolution kernels: presets or your own.

    Every filter command is  imgconv COMMAND [OPTIONS] INPUT OUTPUT ; - reads standard
    input or writes standard output.

    \b
    Examples:
      imgconv blur --radius 5 --sigma 3 in.png out.png
      cat in.png | imgconv blur -s 2 - - | imgconv sobel - edges.png
      imgconv convolve -k "0 -1 0; -1 5 -1; 0 -1 0" in.jpg sharp.jpg

    Completion of commands, options and their values in bash, zsh or fish:
    imgconv completion --help says how to turn it on.
    """


@click.command("formats")
def list_formats() -> None:
    """List the image formats this installation reads and writes, with their
    extensions and what each holds.

    \b
    Example:
      imgconv formats
    """
    for line in formats.table():
        click.echo(line)


class LazyCommands(MutableMapping[str, click.Command]):
    """A group's commands by name, each made by its maker when first looked up.

    A command line runs one command: making the fifteen presets' commands, forty-odd
    options each, when only one is used took 3-5 ms of importing `imgconv.cli` (98-102
    ms with all fifteen made, 95-97 with one, NumPy, Pillow and Click already loaded;
    best and median of 20 at a load of 2.4). ``--help`` and completion make them all.
    """

    def __init__(self, makers: dict[str, Callable[[], click.Command]]) -> None:
        self._makers = dict(makers)
        self._made: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._made:
            self._made[name] = self._makers[name]()
        return self._made[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._makers[name] = lambda: command
        self._made[name] = command

    def __delitem__(self, name: str) -> None:
        del self._makers[name]
        self._made.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._makers)

    def __len__(self) -> int:
        return len(self._makers)


cli.commands = LazyCommands({preset.command: functools.partial(preset_command, preset) for preset in PRESETS})
for _command in (convolve, deconvolve_command, *lecture.COMMANDS, list_formats, list_kernels, completion):
    cli.add_command(_command)


# glibc's mallopt parameters, and the size up to which freed memory is kept for reuse.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
_REUSED_BYTES = 64 << 20


def _reuse_freed_memory() -> None:
    """Have glibc keep freed blocks up to `_REUSED_BYTES` for the next allocation (batch
    workers, which fork from this process, too) rather than give each array back to the
    system and fault it in anew. Measured with benchmarks/batch_scaling.py's 40 photos
    of 1-2 MP: 2.05-2.14 s instead of 2.17-2.19 with --jobs 1, 1.16-1.24 s instead of
    1.27-1.36 with --jobs 2 (1.72-1.83x instead of 1.64-1.67x), a fifth of the page
    faults. Both settings or neither: either alone made the batch 25-60% slower. The
    cost: on the 4K PNG, peaks of 142-156 MiB instead of 133-148 (32, 64 and 256 MiB
    gave the same).

    One arena for every thread: a thread's arena never hands back the freed memory at
    its top below the trim threshold, and `imgconv.io.pages.trim` reaches only the
    main arena's top, so each of the engine's band threads kept its last blocks (50-60
    MiB in all after filtering a 12000x8400 RGB photo in place, held while it was
    encoded). With one arena that photo's blur -s 2 to JPEG peaked at 434 MiB instead
    of 469-492, sobel at 459-470 instead of 558-565 (benchmarks/memory.py), and 4K
    commands and a batch of 27 photos (--jobs 1 and 2) took the same time, within 2%
    (best of 7, interleaved). Elsewhere than glibc, nothing."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, _REUSED_BYTES)
        libc.mallopt(_M_TRIM_THRESHOLD, _REUSED_BYTES)
        libc.mallopt(_M_ARENA_MAX, 1)
    except (OSError, AttributeError):
        pass


def main() -> NoReturn:
    """Set up the process (signals, memory, warnings, logs) and run the command line
    from ``sys.argv``."""
    signal.signal(signal.SIGTERM, on_signal)
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
    # At exit Python searches every object left for cycles before it frees the modules;
    # frozen (after the atexit handlers registered since, before those registered
    # earlier, which still run), they go with the process. Blurring the 4K JPEG, the
    # process's end after its last atexit handler took 8-13 ms instead of 29-61, 26 ms
    # less CPU (medians of 20, at a load of 4). Registered once, however often main runs.
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    cli.main()
