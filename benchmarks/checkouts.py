"""``--against NAME=PATH``: other checkouts of imgconv that a benchmark compares with the
one it stands in (whose columns are named ``now``)."""

import argparse
from pathlib import Path


def tree_argument(text: str) -> tuple[str, Path]:
    """``NAME=PATH``: a checkout of imgconv and the name its columns get."""
    name, _, path = text.partition("=")
    if not name or not path or name == "now":
        raise argparse.ArgumentTypeError(f"{text!r}: give NAME=PATH, NAME not 'now'")
    return name, Path(path).resolve()
