"""The program: ``imgconv`` and ``python -m imgconv``.

A stop signal (Ctrl-C, SIGTERM) may arrive at any moment, also while the command line's
modules are still being imported: the handlers are set first, and what stops the import
ends the program as a stop during a command does, with one line and status 130 (143),
no traceback. A stop that Python swallowed or wrapped on its way (see
`imgconv.errors.on_signal`) ends it the same way, and is not printed as "ignored".
"""

import signal
import sys
from typing import Any, NoReturn

from .errors import STOPPED, Terminated, ending, first_stop, on_signal


def main() -> NoReturn:
    # SIGINT that came ignored stays so: a shell without job control (a script's
    # ``imgconv ... &``) starts background commands that way, for Ctrl-C not to reach them.
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    sys.unraisablehook = _unless_stopped
    try:
        from .cli import main as run

        run()
    except BaseException as exc:  # every way out is checked for a stop
        _end(exc)
    _end(None)


def _end(exc: BaseException | None) -> NoReturn:
    """End as ``exc`` (None: success) does, unless a stop signal arrived and the program
    is not already ending with its status: then with the stop's one line and status."""
    stop = type(exc) if isinstance(exc, (KeyboardInterrupt, Terminated)) else first_stop()
    if stop is None or (isinstance(exc, SystemExit) and exc.code == STOPPED[stop][1]):
        if exc is None:
            sys.exit(0)
        raise exc
    ending()
    message, status = STOPPED[stop]
    sys.stderr.write(f"imgconv: error: {message}\n")
    sys.exit(status)


def _unless_stopped(unraisable: Any) -> None:
    """Python's report of an exception it could not raise, but for a stop: the program
    says it was stopped once, as it ends."""
    if not isinstance(unraisable.exc_value, (KeyboardInterrupt, Terminated)):
        sys.__unraisablehook__(unraisable)


if __name__ == "__main__":
    main()
