"""The pixel limit (``--max-pixels``): counted frame by frame from headers, and applied to
Pillow's own size checks in this call only."""

import contextvars
import functools
import math
from typing import Any

from ..errors import ImageReadError, PixelLimitError


@functools.cache
def pillow_limit() -> contextvars.ContextVar[int | None]:
    """The pixel limit of Pillow's size checks in the `decode_image` call running in
    this thread (None: no limit).

    Pillow's decoders check each size they learn against one process-wide number,
    ``Image.MAX_IMAGE_PIXELS``: set per call, two threads decoding under different
    limits would each use the other's. So Pillow's check (``_decompression_bomb_check``,
    which its plugins call by that name) is wrapped, once: inside `decode_image` it
    refuses a size over that call's limit; anywhere else it is Pillow's own, under
    Pillow's number, as a program that imports imgconv expects.
    """
    from PIL import Image

    limit: contextvars.ContextVar[int | None] = contextvars.ContextVar("imgconv_pillow_limit")
    pillows = Image._decompression_bomb_check

    @functools.wraps(pillows)
    def check(size: tuple[int, int], *args: Any, **options: Any) -> None:
        pixels = limit.get(Ellipsis)
        if pixels is Ellipsis:
            return pillows(size, *args, **options)
        if pixels is not None and max(1, size[0]) * max(1, size[1]) > pixels:
            raise Image.DecompressionBombError(f"{size[0]} x {size[1]} is more pixels than {pixels}")
        return None

    Image._decompression_bomb_check = check
    return limit


class PixelBudget:
    """The pixels an image may still hold under ``--max-pixels``, taken frame by frame."""

    def __init__(self, limit: int, name: str) -> None:
        self.left, self.limit, self.name = limit or math.inf, limit, name
        self.frames = self.taken = 0

    def take(self, *dimensions: int) -> None:
        if not all(type(d) is int and d >= 0 for d in dimensions):  # a damaged TIFF gives a tuple
            raise ImageReadError(f"{self.name}: corrupt image: dimensions {dimensions}")
        pixels = math.prod(dimensions)
        self.left -= pixels
        self.frames, self.taken = self.frames + 1, self.taken + pixels
        if self.left < 0:
            size = " x ".join(map(str, dimensions))
            # Frames are held at once, so the limit counts them all: a frame under it
            # alone is named with the total it brings, and --frame as the way out.
            what = f"{size} is more pixels" if self.frames == 1 else \
                f"its first {self.frames} frames ({size} the last) hold {self.taken} pixels, more"
            hint = "" if self.frames == 1 else "--frame N reads one; "
            raise PixelLimitError(f"{self.name}: {what} than the limit of {self.limit} ({hint}--max-pixels N raises "
                                  "it; 0 lifts it)")
