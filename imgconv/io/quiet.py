"""Decoders' warnings silenced while any decode runs, in any thread.

Pillow warns of what it skips in a damaged file (whatever matters fails on its own).
`warnings.catch_warnings` saves and restores the process's one list of filters, so two
decodes that overlap in two threads and end in the other order restore each other's
"ignore": warnings would stay off for the rest of the process. Here the first decode in
saves the filters and the last one out restores them.
"""

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_running = 0
_saved: "warnings.catch_warnings[None] | None" = None


@contextmanager
def quiet_warnings() -> Iterator[None]:
    """No warning is shown while this is entered, here or in another thread."""
    global _running, _saved
    with _lock:
        if _running == 0:
            _saved = warnings.catch_warnings()
            _saved.__enter__()
            warnings.simplefilter("ignore")
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and _saved is not None:
                _saved.__exit__(None, None, None)
                _saved = None
