"""The demo's answers, and the pictures it has made, kept for the next request that asks
for the same: a page reloaded, or a slider moved back, is answered at once.

A kept answer is found by everything that decides its bytes: what was asked for (the
page's path), the picture (the sample, or an upload by its random id, never given to
another) and each checked setting. The pictures do not change while the demo runs, and
neither does the code that makes the answers, so a kept answer is the one that would be
made again. Kept answers are bounded in bytes, the least recently asked for forgotten
first.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import NamedTuple

# Bytes of answers kept. A page load of the sample asks for 0.84 MB (blur.png 0.12 MB,
# restore.json 0.71 MB, which took 0.46 s of CPU to make, a frame of the animation 9 kB;
# the largest frame is 42 kB): this keeps some 40 settings of the sample, or the blur of
# an upload of a few megapixels.
KEPT_BYTES = 32 << 20


class Answer(NamedTuple):
    """An answer to a request, checked but not yet made: ``make()`` gives its bytes, to
    be made and sent in a turn of ``cost`` pixels of `Demo.turns` (None: at once)."""

    make: Callable[[], bytes]
    content_type: str
    cost: int | None = None


class Kept:
    """Answers' bytes, by key, up to ``capacity`` bytes in all (one larger is not kept)."""

    def __init__(self, capacity: int = KEPT_BYTES) -> None:
        self.capacity = capacity
        self._answers: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def answer(self, key: Hashable, answer: Answer) -> Answer:
        """The answer kept under ``key``, sent at once; else ``answer``, kept once made."""
        with self._lock:
            made = self._answers.get(key)
            if made is not None:
                self._answers.move_to_end(key)
                return Answer(lambda: made, answer.content_type)

        def make() -> bytes:
            made = answer.make()
            self._keep(key, made)
            return made

        return answer._replace(make=make)

    def _keep(self, key: Hashable, made: bytes) -> None:
        if len(made) > self.capacity:
            return
        with self._lock:
            self._bytes += len(made) - len(self._answers.pop(key, b""))
            self._answers[key] = made
            while self._bytes > self.capacity:
                self._bytes -= len(self._answers.popitem(last=False)[1])
