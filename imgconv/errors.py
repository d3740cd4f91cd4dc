"""The exception types imgconv raises, and the exit status each maps to.

Every error carries a message meant to be printed as is on one line; the CLI prints
``imgconv: error: <message>`` and exits with ``exit_code``. The stop signals become
exceptions too (`on_signal`).
"""

import signal
from types import FrameType


class ImgconvError(Exception):
    """Base of every error imgconv reports to a user."""

    exit_code = 1


class InvalidInputError(ImgconvError, ValueError):
    """An argument is wrong before any work starts (exit status 2, as a usage error)."""

    exit_code = 2


class BoundaryError(InvalidInputError):
    """An unknown boundary mode name."""


class KernelError(InvalidInputError):
    """A kernel that cannot be used: empty, not 2-D, not finite, unreadable or too large."""


class ReachError(KernelError):
    """A kernel whose results could overflow the type filtering works in, on an image's
    samples. Its two arguments join into the message, which names the kernel's file
    where it came from one; `naming` puts the image's name between them."""

    def __str__(self) -> str:
        return "".join(self.args)

    def naming(self, image: str) -> "ReachError":
        head, tail = self.args
        return ReachError(f"{head} of {image}", tail)


class ImageReadError(ImgconvError):
    """An image that cannot be read: missing, unreadable, corrupt or of an unknown format."""


class PixelLimitError(ImageReadError):
    """An image with more pixels than ``--max-pixels`` allows to decode whole."""


class ImageWriteError(ImgconvError):
    """An image that cannot be written: no such folder, a format that cannot hold it."""


class MissingExtraError(ImgconvError, ImportError):
    """An optional dependency (an extra) is not installed; the message names the extra."""


INSTALL_HINT = "pip install 'imgconv[dask]'"  # what MissingExtraError's messages name


class ReaderGone(ImgconvError):
    """The program reading standard output closed it (a broken pipe, as after ``| head``).
    Not an error to report: the CLI ends quietly with 141, the status a shell gives a
    program killed by SIGPIPE. (Not an OSError, which Click would swallow as success.)"""

    exit_code = 141


class Terminated(BaseException):
    """SIGTERM arrived. A BaseException, like KeyboardInterrupt, so that no handler meant
    for a failing file swallows it and every ``finally`` (temporary files) still runs."""

    exit_code = 143


STOPPED = {KeyboardInterrupt: ("interrupted", 130), Terminated: ("terminated", Terminated.exit_code)}
"""The message and exit status of the program stopped by Ctrl-C (SIGINT) or SIGTERM."""


_received: list[type[BaseException]] = []  # the stops `on_signal` raised, first first


def on_signal(signum: int, frame: FrameType | None) -> None:
    """The program's handler of SIGINT and SIGTERM (`imgconv.__main__`), set before it
    imports anything else: KeyboardInterrupt or `Terminated`, caught where the program
    ends with one line, until `ending` sets them aside. Each is recorded first
    (`first_stop`): Python may swallow it (raised in the import machinery's clean-up) or
    wrap it (in a class's ``__set_name__``), and the program must still end as stopped."""
    stop = KeyboardInterrupt if signum == signal.SIGINT else Terminated
    _received.append(stop)
    raise stop


def first_stop() -> type[BaseException] | None:
    """KeyboardInterrupt or `Terminated`: what the first stop signal `on_signal` received
    raised, if any did."""
    return _received[0] if _received else None


def ending() -> None:
    """The program has decided how it ends (its last line, its status): from here a stop
    signal is ignored, so that none arriving as it says that line or exits (atexit,
    the interpreter's shutdown) adds a traceback, a second line, or another status.
    Only where `on_signal` is the handler: in-process callers keep theirs.

    A KeyboardInterrupt that went through code run from a string (``exec``, as
    dataclasses and namedtuple make their methods while a module is imported) has
    CPython end the process by SIGINT once it exits, whatever status it exits with;
    running a string again clears that, and the status stands."""
    ours = [number for number in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(number) is on_signal]
    for number in ours:
        signal.signal(number, signal.SIG_IGN)
    if ours:
        exec("")

