"""Container headers read before a decoder sees the file: PNG chunks checked as libpng
checks them, and the size an AVIF's header gives.

Pillow checks the CRC of the chunks before a PNG's pixels only, and refuses any that is
wrong, an ancillary one included, as a file it cannot identify; it never checks the
pixels' (IDAT) CRC. libpng's default, which imgconv follows: a critical chunk with a
wrong CRC is an error, and an ancillary one is skipped (libpng warns; imgconv says
nothing, as the image is whole without it).

A tRNS chunk libpng ignores is left out too, so that the transparency is libpng's:
Pillow takes the last of two tRNS chunks where libpng keeps the first, and takes one
libpng finds invalid (after the pixels, before the palette, of the wrong length, with
more entries than the palette, or in a PNG with an alpha channel).
"""

import struct
import zlib
from collections.abc import Iterable, Iterator

from ..errors import ImageReadError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Ancillary by the case of their name, but an APNG's frames: skipped, they would take
# frames away without a word, so a wrong CRC in them is refused as in a critical chunk.
_ANIMATION_CHUNKS = frozenset([b"acTL", b"fcTL", b"fdAT"])
_MAX_CHUNK = (1 << 31) - 1  # PNG's limit on a chunk's length


def checked_png(data: bytes, name: str) -> bytes:
    """``data`` (a PNG) less its ancillary chunks whose CRC is wrong and the tRNS chunks
    libpng ignores; a critical or animation chunk with a wrong CRC is refused, naming
    the chunk. The walk stops at IEND, at a chunk cut short and at a name that is not
    four letters: what follows is left to the decoder, which says how the file is
    broken."""
    view = memoryview(data)
    position, dropped, transparency = len(PNG_SIGNATURE), [], _Transparency(data)
    while position + 12 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        end = position + 12 + length
        if length > _MAX_CHUNK or end > len(data) or not kind.isalpha():
            break
        if zlib.crc32(view[position + 4:end - 4]) != int.from_bytes(view[end - 4:end], "big"):
            if kind[:1].isupper() or kind in _ANIMATION_CHUNKS:
                raise ImageReadError(f"{name}: corrupt PNG: bad CRC in {kind.decode()} chunk")
            dropped.append((position, end))
        elif not transparency.kept(kind, length):
            dropped.append((position, end))
        if kind == b"IEND":
            break
        position = end
    if not dropped:
        return data
    kept, start = [], 0
    for begin, end in dropped:
        kept.append(view[start:begin])
        start = end
    kept.append(view[start:])
    return b"".join(kept)


class _Transparency:
    """Which of a PNG's tRNS chunks libpng uses (pngrutil.c, png_handle_tRNS and the
    position and duplicate checks before it): the first valid one before the pixels;
    an invalid one is skipped and does not count as the first."""

    def __init__(self, data: bytes) -> None:
        # IHDR, the first chunk: bit depth and colour type at bytes 24 and 25.
        self.depth, self.colour_type = (data[24], data[25]) if data[12:16] == b"IHDR" and len(data) > 25 else (0, 0)
        self.palette: int | None = None  # entries of the first PLTE, once seen
        self.pixels = self.found = False

    def kept(self, kind: bytes, length: int) -> bool:
        """Whether the chunk of ``kind`` and ``length`` is kept (every chunk but tRNS is)."""
        if kind == b"PLTE" and self.palette is None:
            # libpng keeps no more entries than the bit depth indexes
            self.palette = min(length // 3, 1 << self.depth)
        self.pixels = self.pixels or kind == b"IDAT"
        if kind != b"tRNS":
            return True
        if self.colour_type == 3:
            valid = self.palette is not None and 0 < length <= min(self.palette, 256)
        else:
            valid = length == {0: 2, 2: 6}.get(self.colour_type)
        if self.pixels or self.found or not valid:
            return False
        self.found = True
        return True


AVIF_BRANDS = (b"avif", b"avis")
# The boxes on the way to an image's spatial extent (ispe): meta, a full box (4 bytes of
# version and flags before its children), then iprp and ipco.
_ISPE_PATH = ((b"meta", 4), (b"iprp", 0), (b"ipco", 0))


def avif_sizes(data: bytes) -> list:
    """The (width, height) of every image an AVIF's header describes (its ``ispe``
    boxes: the primary image, and any alpha plane, grid tile or thumbnail), found
    without decoding; [] where the boxes are not found."""
    boxes = [(0, len(data))]
    for kind, skip in _ISPE_PATH:
        boxes = [(start + skip, end) for child, start, end in _boxes(data, boxes) if child == kind]
    return [struct.unpack_from(">II", data, start + 4) for child, start, end in _boxes(data, boxes)
            if child == b"ispe" and end - start >= 12]


def _boxes(data: bytes, spans: Iterable[tuple[int, int]]) -> Iterator[tuple[bytes, int, int]]:
    """(kind, start of contents, end) of each ISO BMFF box in each (start, end) span."""
    for position, end in spans:
        while position + 8 <= end:
            size, kind = struct.unpack_from(">I4s", data, position)
            header = 8
            if size == 1 and position + 16 <= end:  # a 64-bit size follows the kind
                size, header = struct.unpack_from(">Q", data, position + 8)[0], 16
            elif size == 0:  # to the end of the span
                size = end - position
            if size < header or position + size > end:
                break
            yield kind, position + header, position + size
            position += size
