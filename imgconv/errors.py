"""The exception types imgconv raises, and the exit status each maps to.

Every error carries a message meant to be printed as is on one line; the CLI prints
``imgconv: error: <message>`` and exits with ``exit_code``.
"""


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
