"""The progress line of a batch, or of a streamed tiled image, on a terminal."""

import sys
import time
from typing import TextIO


class ProgressLine:
    """``[ 12/40] 3.4 files/s  ETA 0:07`` rewritten in place on a terminal stream; the
    unit is files for a batch, tiles for a streamed tiled image."""

    def __init__(self, total: int, stream: TextIO | None = None, unit: str = "files") -> None:
        self.total, self.done, self.start, self.unit = total, 0, time.monotonic(), unit
        self.stream = stream or sys.stderr

    def update(self, count: int = 1) -> None:
        self.done += count
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = self.done / elapsed
        remaining = int((self.total - self.done) / rate) if rate else 0
        width = len(str(self.total))
        self.stream.write(f"\r[{self.done:>{width}}/{self.total}] {rate:.1f} {self.unit}/s  "
                          f"ETA {remaining // 60}:{remaining % 60:02d} ")
        self.stream.flush()

    def set(self, done: int, total: int) -> None:
        """``done`` of ``total`` (as `imgconv.pipeline.process_file`'s ``on_progress`` gives)."""
        self.total = total
        self.update(done - self.done)

    def close(self) -> None:
        if self.done:
            self.stream.write("\n")
            self.stream.flush()
