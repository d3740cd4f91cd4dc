"""The program: ``imgconv`` and ``python -m imgconv``.

A stop signal (Ctrl-C, SIGTERM) may arrive at any moment, also while the command line's
modules are still being imported: the handlers are set first, and what stops the import
ends the program as a stop during a command does, with one line and status 130 (143),
no traceback.
"""

import signal
import sys
from typing import NoReturn

from .errors import STOPPED, Terminated, ending, on_signal


def main() -> NoReturn:
    # SIGINT that came ignored stays so: a shell without job control (a script's
    # ``imgconv ... &``) starts background commands that way, for Ctrl-C not to reach them.
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        from .cli import main as run

        run()
    except (KeyboardInterrupt, Terminated) as exc:
        ending()
        message, status = STOPPED[type(exc)]
        sys.stderr.write(f"imgconv: error: {message}\n")
        sys.exit(status)


if __name__ == "__main__":
    main()
