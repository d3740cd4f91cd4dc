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
more entries than the palette, or in a PNG with an alpha channel). So are the
ancillary chunks libpng skips as invalid where Pillow fails on them (`_valid_ancillary`).

The header and palette are held to libpng's rules where Pillow reads on and makes up or
misreads pixels (`_Layout`), and where Pillow decodes the pixels, their data must
inflate to all the rows (`check_image_data`).
"""

import struct
import zlib
from collections.abc import Iterable, Iterator

from ..errors import ImageReadError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Ancillary by the case of their name, but an APNG's frames: skipped, they would take
# frames away without a word, so a wrong CRC in them is refused as in a critical chunk.
_ANIMATION_CHUNKS = frozenset([b"acTL", b"fcTL", b"fdAT"])
# Chunks of one length, which libpng skips as invalid at any other ("benign" errors)
# and Pillow refuses, shorter, as a truncated file.
_FIXED_LENGTHS = {b"gAMA": 4, b"cHRM": 32, b"sRGB": 1, b"pHYs": 9}
_LONGEST_KEYWORD = 79


def _valid_ancillary(kind: bytes, body: memoryview) -> bool:
    """Whether libpng takes an ancillary chunk's contents, for those Pillow fails on
    where libpng skips them as invalid: one of `_FIXED_LENGTHS` of another length; an
    iCCP without a keyword of 1 to 79 bytes and its nul, or whose compression method
    is not deflate (0)."""
    if kind in _FIXED_LENGTHS:
        return len(body) == _FIXED_LENGTHS[kind]
    if kind == b"iCCP":
        nul = bytes(body[: _LONGEST_KEYWORD + 1]).find(b"\0")
        return nul >= 1 and len(body) > nul + 1 and body[nul + 1] == 0
    return True
_MAX_CHUNK = (1 << 31) - 1  # PNG's limit on its four-byte numbers: a chunk's length, a width, a height


def checked_png(data: bytes, name: str) -> bytes:
    """``data`` (a PNG) less its ancillary chunks whose CRC is wrong and the tRNS chunks
    libpng ignores; a critical or animation chunk with a wrong CRC is refused, naming
    the chunk, and so is a header or palette `_Layout` refuses. The walk stops at IEND,
    at a chunk cut short and at a name that is not four letters: what follows is left
    to the decoder, which says how the file is broken."""
    view = memoryview(data)
    position, dropped, transparency, layout = len(PNG_SIGNATURE), [], _Transparency(data), _Layout(name)
    while position + 12 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        end = position + 12 + length
        if length > _MAX_CHUNK or end > len(data) or not kind.isalpha():
            break
        if zlib.crc32(view[position + 4:end - 4]) != int.from_bytes(view[end - 4:end], "big"):
            if kind[:1].isupper() or kind in _ANIMATION_CHUNKS:
                raise ImageReadError(f"{name}: corrupt PNG: bad CRC in {kind.decode()} chunk")
            dropped.append((position, end))
        elif not transparency.kept(kind, length) or not _valid_ancillary(kind, view[position + 8:end - 4]):
            dropped.append((position, end))
        layout.check(kind, view[position + 8:end - 4])
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


# Bit depths PNG defines, by colour type: grey, RGB, palette, grey and alpha, RGBA.
_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # samples a pixel, by colour type
# Adam7's seven passes: first column, first row, column step, row step.
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
_PIECE = 1 << 20  # bytes inflated at a time by check_image_data, then dropped


def header_problem(ihdr: bytes) -> str | None:
    """What is wrong with an IHDR chunk's contents, as libpng's png_check_IHDR finds it,
    or None. Pillow reads on where it finds a compression method other than deflate
    (inflating data in a method it does not know) or an interlace method other than
    Adam7 (read as Adam7); it refuses the other faults as a file it cannot identify."""
    if len(ihdr) != 13:
        return f"IHDR chunk of {len(ihdr)} bytes, not 13"
    width, height, depth, colour_type, compression, filtering, interlace = struct.unpack(">IIBBBBB", ihdr)
    for side, size in (("width", width), ("height", height)):
        if not 0 < size <= _MAX_CHUNK:
            return f"IHDR gives a {side} of {size}, not 1 to {_MAX_CHUNK}"
    if depth not in _DEPTHS.get(colour_type, ()):
        return f"IHDR gives bit depth {depth} with colour type {colour_type}, which PNG does not define"
    for what, value, defined in (("compression", compression, {0: "deflate"}), ("filter", filtering, {0: "adaptive"}),
                                 ("interlace", interlace, {0: "none", 1: "Adam7"})):
        if value not in defined:
            words = " and ".join(f"{number} ({method})" for number, method in defined.items())
            return f"IHDR gives {what} method {value}, where PNG defines {words}"
    return None


class _Layout:
    """libpng's rules for the header and the palette (pngrutil.c: png_handle_IHDR,
    png_handle_PLTE, and the palette looked for at the first IDAT), where Pillow reads
    on: it takes the last of two palettes; for a palette image without a palette, with
    an empty one or with one before IHDR, it makes every pixel black; it reads a
    palette whose length is not whole entries. A second palette equal to the first is
    read on, although libpng refuses it: the pixels are the same whichever is taken.

    libpng only warns of a palette in a grey image, and of a misshapen or second one in
    an RGB image, where it suggests colours for a display of few (as Pillow reads it
    too): the pixels do not depend on it, so it is let be."""

    def __init__(self, name: str):
        self.name = name
        self.colour_type: int | None = None  # from IHDR, once seen
        self.palette: bytes | None = None  # the first PLTE's contents, in a palette image
        self.pixels = False  # whether an IDAT has been seen

    def check(self, kind: bytes, contents: memoryview) -> None:
        """Refuse the chunk of ``kind`` and ``contents`` where libpng does."""
        problem = None
        if kind == b"IHDR":
            problem = "a second IHDR chunk" if self.colour_type is not None else header_problem(bytes(contents))
            self.colour_type = None if problem else contents[9]
        elif self.colour_type is None:
            problem = f"its first chunk is {kind.decode()}, where PNG puts IHDR"
        elif kind == b"PLTE" and self.colour_type == 3:
            if self.palette is None and not (0 < len(contents) <= 768 and len(contents) % 3 == 0):
                problem = f"PLTE chunk of {len(contents)} bytes, not 1 to 256 entries of 3 bytes"
            elif self.palette is not None and self.palette != contents:
                problem = "a second PLTE chunk, unlike the first"
            self.palette = self.palette or bytes(contents)
        elif kind == b"IDAT" and not self.pixels:
            self.pixels = True
            if self.colour_type == 3 and self.palette is None:
                problem = "no PLTE chunk before the image data of a palette image"
        if problem:
            raise ImageReadError(f"{self.name}: corrupt PNG: {problem}")


def check_image_data(data: bytes, name: str) -> None:
    """Refuse a PNG (whose header `checked_png` took) when its IDAT chunks inflate to
    fewer bytes than its rows need: Pillow ends the image where the zlib stream ends,
    leaving the rows it lacks black (libpng: "Not enough image data"), and says a file
    cut short is truncated only as it decodes, once the pixels are allocated. A stream cut
    short, which libpng refuses too, is read on when the rows are whole: nothing
    Pillow reads is made up. The rows are inflated a piece at a time and dropped."""
    width, height, depth, colour_type, _, _, interlace = struct.unpack_from(">IIBBBBB", data, 16)
    bits = depth * _SAMPLES[colour_type]
    needed = 0
    for column, row, across, down in _ADAM7 if interlace else ((0, 0, 1, 1),):
        columns, rows = -(-(width - column) // across), -(-(height - row) // down)
        if columns > 0 and rows > 0:
            needed += rows * (1 + (columns * bits + 7) // 8)  # a filter byte, then the row's bits
    inflater, got = zlib.decompressobj(), 0
    try:
        for start, stop in image_data(data):
            contents: bytes | memoryview = memoryview(data)[start:stop]
            while contents and got < needed:
                got += len(inflater.decompress(contents, min(needed - got, _PIECE)))
                contents = inflater.unconsumed_tail
    except zlib.error:
        return  # damaged, not short: the decoder says so
    if got < needed:
        # a stream that ended is whole but short; one that did not is cut (the file, mostly)
        fault = "not enough image data" if inflater.eof else "truncated"
        raise ImageReadError(f"{name}: corrupt PNG: {fault}: its IDAT chunks inflate to {got} bytes, "
                             f"where its {width} x {height} pixels need {needed}")


def image_data(data: bytes) -> Iterator[tuple[int, int]]:
    """Where the contents of a PNG's first run of IDAT chunks lie in ``data``, (start,
    stop) each, the last cut short if the file is."""
    position, seen = len(PNG_SIGNATURE), False
    while position + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        if kind == b"IDAT":
            seen = True
            yield position + 8, min(position + 8 + length, len(data))
        elif seen:
            return
        position += 12 + length


def chunk(kind: bytes, data: bytes) -> list[bytes]:
    """A chunk's parts, written one after another or joined once with the file's
    others: the image data is the bulk of a PNG, and each copy of it would add to the
    peak memory of a command."""
    return [struct.pack(">I", len(data)), kind, data, struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))]


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
