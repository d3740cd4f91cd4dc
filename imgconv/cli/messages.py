"""The command line's messages: each one line, with no control character a name brought."""

import sys
from typing import NoReturn

import click

from ..names import printable


def fail(message: str, status: int) -> NoReturn:
    """Say ``message`` as an error and exit with ``status``."""
    say_error(message)
    sys.exit(status)


def say_error(message: str) -> None:
    """``imgconv: error: message`` on stderr."""
    # One line, whatever a library's message holds (numpy's run over several).
    say(f"imgconv: error: {' '.join(message.split())}")


def say(line: str, err: bool = True) -> None:
    """Print one line of a message; a control character a name brought into it is
    escaped, so that no name can move the cursor, set the terminal's title or fake a
    line. Names are quoted where messages are made (`imgconv.names.quote_name`); this
    is the guard for any a library left as it was."""
    click.echo(printable(line), err=err)
