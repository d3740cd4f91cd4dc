"""The progress line of one file: what is being done, the share done and the time left.

A batch counts its files (`imgconv.batch.ProgressLine`); one file counts its parts: the
tiles of a streamed tiled image or the frames of any other, and within a frame the rows
the engine has filtered (`imgconv.engine.bands.watching`); the kernels of a convolution
layer, the rows a kernel is learned from, the frames of an animation.
"""

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from typing import TextIO

DELAY = 1.0
"""Seconds a file runs before its progress shows on a terminal, so that the quick ones,
most files, leave no line behind."""

INTERVAL = 0.2
"""Seconds between redraws: often enough to look alive, seldom enough to cost nothing."""


class FileProgress:
    """``[ 45%] filtering frame 2/4  ETA 0:03`` rewritten in place on ``stream`` (stderr)
    by a thread of its own, from ``delay`` seconds after it is made until `close`; as a
    context manager, closed finished unless an exception ends it.

    The work is counted in parts of a ``unit`` (`parts`), which `verb` says what is done
    to: one after another, each made of rows (`rows`, the engine's band watcher), such
    as a picture's frames; or, ``counted``, parts that say all there is, such as a
    streamed image's tiles. Before the parts are known the line says ``reading``, after
    the last one ``writing``. Both calls may come from any thread.
    """

    def __init__(self, unit: str, verb: str = "filtering", counted: bool = False, delay: float = DELAY,
                 stream: TextIO | None = None) -> None:
        self.unit, self.verb, self.counted, self.delay = unit, verb, counted, delay
        self.stream = stream or sys.stderr
        self.lock = threading.Lock()
        self.done, self.total, self.share = 0, 0, 0.0  # parts done, of total; share of the next one done
        self.first: tuple[float, float] | None = None  # (time, fraction) of the first news of work done
        self.start, self.width, self.shown, self.broken = time.monotonic(), 0, False, False
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._redraw, name="imgconv-progress", daemon=True)
        self.thread.start()

    def __enter__(self) -> "FileProgress":
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.close(finished=kind is None)

    def parts(self, done: int, total: int) -> None:
        """``done`` parts of ``total``: ``(0, total)`` once they are known, then as each is done."""
        with self.lock:
            self.done, self.total, self.share = done, total, 0.0
            self._note()

    def rows(self, done: int, total: int) -> None:
        """``done`` rows of ``total`` filtered in the part under way (an engine's band watcher)."""
        with self.lock:
            self.share = max(self.share, done / total)  # a second pass over the part starts again at 0
            self._note()

    def close(self, finished: bool = True) -> None:
        """Stop redrawing; a line shown (always, with no ``delay``, once ``finished``)
        ends with the parts done and the time taken when ``finished``, and a new line."""
        self.stopped.set()
        self.thread.join()
        if finished and (self.shown or not self.delay):
            parts = f"{self.total} {self.unit}{'s' * (self.total != 1)}"
            self._draw(f"[100%] {parts} done in {time.monotonic() - self.start:.1f} s", "\n")
        elif self.shown:
            self._write("\n")  # the line as it stopped, and what follows on a line of its own

    def fraction(self) -> float:
        """The share of the whole work done, 0 to 1."""
        return min((self.done + self.share) / self.total, 1.0) if self.total else 0.0

    def line(self) -> str:
        """The line as it stands."""
        with self.lock:
            fraction, done, total, first = self.fraction(), self.done, self.total, self.first
        if not total:
            return "[  0%] reading"
        if done == total:
            return "[100%] writing"
        text = f"[{int(fraction * 100):3d}%] {self.verb}"
        if self.counted:
            text += f" {self.unit}s {done}/{total}"
        elif total > 1:
            text += f" {self.unit} {done + 1}/{total}"
        if first is not None and fraction > first[1]:
            left = int((time.monotonic() - first[0]) * (1 - fraction) / (fraction - first[1]))
            text += f"  ETA {left // 60}:{left % 60:02d}"
        return text

    def _note(self) -> None:
        if self.first is None and (self.share or self.done):
            self.first = (time.monotonic(), self.fraction())

    def _redraw(self) -> None:
        if self.stopped.wait(self.delay):
            return
        drawn = None
        while True:
            text = self.line()
            if text != drawn:
                self._draw(text)
                drawn, self.shown = text, True
            if self.stopped.wait(INTERVAL):
                return

    def _draw(self, text: str, end: str = "") -> None:
        """``text`` over the line drawn before, padded to cover all of it."""
        self.width = max(self.width, len(text))
        self._write(f"\r{text:<{self.width}}{end}")

    def _write(self, text: str) -> None:
        """``text`` on the stream; a stream gone (a closed pipe, a terminal hung up)
        ends the line quietly, and the work goes on."""
        if self.broken:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # ValueError: a stream closed in this process
            self.broken = True


def file_progress(quiet: bool, asked: bool | None, unit: str, verb: str = "filtering",
                  counted: bool = False) -> FileProgress | None:
    """One file's `FileProgress` line (``unit``, ``verb``, ``counted``), unless ``quiet``
    or not ``asked`` (--no-progress): at once when ``asked`` (--progress); by default on
    a terminal, once the file has taken `DELAY`."""
    if quiet or asked is False:
        return None
    if asked:
        return FileProgress(unit, verb, counted, delay=0)
    return FileProgress(unit, verb, counted, delay=DELAY) if sys.stderr.isatty() else None


@contextlib.contextmanager
def showing(bar: FileProgress | None, rows: bool = True) -> Iterator[None]:
    """Within the context, ``bar`` (if any) is told the rows the engine filters (with
    ``rows``), and then closed: finished, unless an exception ends the context."""
    with contextlib.ExitStack() as stack:
        if bar is not None:
            stack.enter_context(bar)
            if rows:
                from ..engine.bands import watching  # here: the engine brings NumPy, which --help does without

                stack.enter_context(watching(bar.rows))
        yield
