"""Whether a frame's encoded data can hold the pixels its header claims, checked before
the decoder allocates them.

Unchecked, a 300-byte BLP claiming 1 x 84 million pixels takes 700 MB before its decoder
finds the data missing, and a 519-byte progressive JPEG claiming 10000 x 10000 is read
as 100 million grey pixels in 900 MB (libjpeg fills what is missing). No codec can pack more pixels into a byte than
the bounds below, so a frame whose data, from where it starts to the end of the file,
is shorter than its pixels over its bound cannot be whole: it is refused from its
header. Each bound is what the codec reaches at best. Of the 1,371 files of the
public test collections (Pillow's, PngSuite, image-png, image-tiff, imagetestsuite,
libvips') that decode, the densest are a G4 fax at 4,723 pixels a byte (its bound, 8
times its width, is 26,456), a PNG at 210 (8,256), a JPEG at 111 (512), TGA run-lengths
at 17 (64), and, at their bounds as fixed-size codings are, 1-bit raw BMP, PBM and TIFF
data at 8 (8), a DXT1 BLP at 1.9 (2) and a BC1 DDS at 2 (2). The one beyond its bound
is a 193 x 31237 JPEG of 613 bytes (9,835 pixels a byte), which libjpeg fills with
grey: it is refused.

Codecs whose data can end early by design (BMP's run-lengths end the image with two
bytes; FLI has a chunk that blacks a whole frame) or compress without such a bound
(zstd, LZMA, WebP, arithmetic-coded JPEG) have no rule; nor have formats whose decoders
fail at the first missing byte before touching much memory (GIF, PCX, QOI, SGI's
run-lengths: 39 to 43 MiB for a 10000 x 10000 claim over 100 bytes, as little as a
refusal from the header).
"""

import math
import struct
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..errors import ImageReadError

if TYPE_CHECKING:
    from PIL import Image, ImageFile, TiffImagePlugin

_COLORMAP = 320  # the TIFF tag of a palette image's colour map
_BIT = 8  # pixels a byte of raw data holds at most: one bit a pixel
_DEFLATE = 1032  # bytes one deflated byte yields at most: a 258-byte match in 2 bits
_JPEG_BLOCK = 64  # pixels of an 8x8 block, which takes a bit at least (its DC code)

# The most pixels a byte of a frame's data can hold, by Pillow's format and decoder
# (its tile's codec).
_MOST_PIXELS_A_BYTE = {
    **dict.fromkeys([("BMP", "raw"), ("DIB", "raw"), ("DDS", "raw"), ("DDS", "dds_rgb"), ("PPM", "raw"),
                     ("PPM", "ppm"), ("TGA", "raw"), ("TIFF", "raw")], _BIT),  # uncompressed
    ("PPM", "ppm_plain"): 1,  # plain PBM: a "0" or "1" a pixel, nothing between
    ("TGA", "tga_rle"): 64,  # a packet: a header byte and a pixel of a byte at least, for 128 pixels at most
    ("PNG", "zip"): _BIT * _DEFLATE,
    # Huffman-coded; arithmetic coding (SOF9-11, SOF13-15) has no such bound and no rule.
    ("JPEG", "jpeg"): _BIT * _JPEG_BLOCK, ("MPO", "jpeg"): _BIT * _JPEG_BLOCK,
    ("BLP", "BLP1"): _BIT * _JPEG_BLOCK,  # JPEG, or palette indices of a byte a pixel
    ("BLP", "BLP2"): 2,  # DXT1: 8 bytes a 4x4 block (DXT3 and DXT5 16); palette indices a byte a pixel
    ("DDS", "bcn"): 2,  # BC1 and BC4: 8 bytes a 4x4 block; the other block codings 16
}
# TIFFs Pillow decodes through libtiff, by their Compression tag.
_TIFF_MOST_PIXELS_A_BYTE: dict[int | None, float] = {
    # LZW: a code takes 9 bits at least and yields a string shorter than libtiff's table
    # (4096 codes and 1024 more for broken encoders).
    5: _BIT * 5120 * 8 // 9,
    8: _BIT * _DEFLATE, 32946: _BIT * _DEFLATE,  # deflate
    32773: _BIT * 64,  # PackBits: 2 bytes repeat a byte 128 times at most
}
_SEGMENT_TAGS = {273: "StripOffsets", 279: "StripByteCounts", 324: "TileOffsets", 325: "TileByteCounts"}
_CCITT = (2, 3, 4)  # fax codings: a row takes a bit at least (a G4 row equal to the one above)
_ARITHMETIC_SOF = frozenset([0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF])  # JPEG frame markers


def check_frame_data(image: "ImageFile.ImageFile", data: bytes, name: str) -> None:
    """Refuse the current frame of Pillow's ``image`` (opened, not loaded) when ``data``,
    the whole file, cannot hold the pixels its tiles claim, or, for a TIFF, when its
    strips or tiles do not cover the image (`check_tiff_segments`)."""
    if image.format == "TIFF":
        segments = check_tiff_segments(cast("TiffImagePlugin.TiffImageFile", image).tag_v2, len(data), name)
        if segments is not None and len(image.tile) > segments:
            image.tile = image.tile[:segments]  # Pillow's strips or tiles, one an offset
    for tile in image.tile:
        most = _most_pixels_a_byte(image, tile.codec_name, data)
        if most is None:
            continue
        left, top, right, bottom = cast("tuple[int, int, int, int]", tile.extents)
        width, height = right - left, bottom - top
        needed = math.ceil(width * height / (most(width) if callable(most) else most))
        available = len(data) - (tile.offset or 0)
        if available < needed:
            raise ImageReadError(f"{name}: truncated: its header claims {width} x {height} pixels, more than its "
                                 f"{max(available, 0)} bytes of {image.format} data can hold (at least {needed})")


def check_tiff_segments(tags: Mapping[int, Any], size: int, name: str) -> int | None:
    """Refuse a TIFF directory (Pillow's ``tag_v2``) of a ``size``-byte file whose
    offsets or byte counts hold fewer values than the strips or tiles its size and
    RowsPerStrip or tile size make, whose RowsPerStrip is 0, or whose byte counts run
    past the end of the file. The readers part ways there: Pillow makes a strip or tile
    of each offset and leaves the rest black, and reads an uncompressed one as long as
    its rows whatever its byte count; libtiff pads what is missing with zeros; tifffile
    reads only the segments counted, and none past the end.

    Where they hold more, libtiff, tifffile and ImageMagick read the first, as many as
    there are segments, and Pillow makes a strip or tile of each offset, the ones after
    written over the first (commons-imaging's IndexColorPaletteTiled.tif: 6 offsets for
    4 tiles): that number is returned, for Pillow to read no more; else None."""
    width, height = tags.get(256, 0), tags.get(257, 0)
    planes = tags.get(277, 1) if tags.get(284, 1) == 2 else 1
    if not all(isinstance(v, int) and v > 0 for v in (width, height, planes)):
        return None  # no image to cover: Pillow refuses it
    # A tile size makes a TIFF tiled for libtiff, whose offsets may then stand in the
    # strip tags (libtiff's own old tiled test images).
    if 322 in tags or 323 in tags:
        across, down = tags.get(322, 0), tags.get(323, 0)
        if not all(isinstance(v, int) and v > 0 for v in (across, down)):
            return None  # Pillow refuses it: "Invalid tile dimensions"
        expected = math.ceil(width / across) * math.ceil(height / down) * planes
        unit, layout = "tile", f"size ({width} x {height}) and tile size ({across} x {down})"
        segment_tags = (324 if 324 in tags else 273, 325 if 325 in tags else 279)
    elif 273 in tags:
        rows = tags.get(278, height)
        if not isinstance(rows, int) or rows < 1:
            raise ImageReadError(f"{name}: damaged TIFF: its RowsPerStrip is {rows}")
        expected, unit = math.ceil(height / rows) * planes, "strip"
        layout = f"height ({height}) and RowsPerStrip ({rows})"
        segment_tags = (273, 279)
    else:
        return None
    if planes > 1:
        layout += f" in {planes} planes"
    held = {tag: tags[tag] if isinstance(tags[tag], tuple) else (tags[tag],) for tag in segment_tags if tag in tags}
    for tag, values in held.items():
        if len(values) < expected:
            raise ImageReadError(f"{name}: damaged TIFF: its {_SEGMENT_TAGS[tag]} holds {len(values)} "
                                 f"value{'s' * (len(values) != 1)} for the {expected} {unit}{'s' * (expected != 1)} "
                                 f"its {layout} make")
    offsets, counts = (held.get(tag, ())[:expected] for tag in segment_tags)
    for index, (offset, count) in enumerate(zip(offsets, counts, strict=False)):
        if isinstance(offset, int) and isinstance(count, int) and offset + count > size:
            raise ImageReadError(f"{name}: damaged TIFF: its {_SEGMENT_TAGS[segment_tags[1]]} give {unit} {index} "
                                 f"{count} bytes from byte {offset}, past the end of the {size}-byte file")
    return expected if any(len(values) > expected for values in held.values()) else None


def _most_pixels_a_byte(image: "ImageFile.ImageFile", codec: str,
                        data: bytes) -> float | Callable[[int], float] | None:
    """The bound for this tile's pixels (a number, or a function of the tile's width),
    or None where there is none."""
    if image.format == "TIFF" and codec == "libtiff":
        compression = cast("TiffImagePlugin.TiffImageFile", image).tag_v2.get(259)
        return (lambda width: _BIT * width) if compression in _CCITT else _TIFF_MOST_PIXELS_A_BYTE.get(compression)
    if codec == "jpeg" and _jpeg_frame_marker(data) in _ARITHMETIC_SOF:
        return None
    return _MOST_PIXELS_A_BYTE.get((image.format or "", codec))


def _jpeg_frame_marker(data: bytes) -> int | None:
    """The second byte of a JPEG's first start-of-frame marker (0xC0 to 0xCF less DHT
    0xC4, JPG 0xC8 and DAC 0xCC), or None before a scan or the end of the data."""
    position = 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return marker
        if marker == 0xDA:  # start of scan
            return None
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        position += 2 + int.from_bytes(data[position + 2:position + 4], "big")
    return None


def check_bmp(image: "ImageFile.ImageFile", data: bytes, name: str) -> None:
    """Refuse a BMP (Pillow's ``image`` of ``data``, opened) that its specification
    makes damaged where Pillow reads it without a word: a planes field other than 1, a
    width of 0 or less, run-length data that is top-down (which BMP does not allow) or
    runs past its row or the image (Pillow cuts a run at the row's end and wraps an
    absolute one into the next), or a palette index past the palette its header gives
    (Pillow shows a colour the file does not give). ImageMagick refuses the planes, the
    width and the index (imagecodecs the index too) and reads the run-length ones in its
    own ways; the format defines none of them. A run-length BMP's pixels are then
    decoded by `imgconv.io.bmp.picture_from_runs`."""
    if image.format != "BMP" or not image.tile or len(data) < 14 + 40 or int.from_bytes(data[14:18], "little") < 40:
        return  # OS/2's 12-byte header holds no palette size or coding; Pillow checks the rest
    start = image.tile[0].offset or 0
    width, height, planes, bits, coding = struct.unpack_from("<iiHHI", data, 18)
    colours = int.from_bytes(data[46:50], "little")
    if planes != 1:
        raise ImageReadError(f"{name}: damaged BMP: its planes field is {planes}, not 1")
    if width <= 0:
        raise ImageReadError(f"{name}: damaged BMP: its width is {width}")
    rle = (coding, bits) in ((1, 8), (2, 4))
    if rle and height < 0:
        raise ImageReadError(f"{name}: damaged BMP: it is run-length coded top-down, which BMP does not allow")
    palette = colours if bits in (1, 4, 8) and 0 < colours < 1 << bits else None
    if rle:
        most = bmp_runs(data, start, width, abs(height), bits, name)
    elif palette is not None and coding == 0:
        most = _most_index(data, start, width, abs(height), bits)
    else:
        return
    if palette is not None and most >= palette:
        raise ImageReadError(f"{name}: damaged BMP: a pixel's palette index is {most}, past its {palette} colours")


def _most_index(data: bytes, start: int, width: int, height: int, bits: int) -> int:
    """The highest palette index of uncompressed rows of 1, 4 or 8 bits a pixel, of the
    rows the data holds (a shorter file is refused as truncated after)."""
    stride = (width * bits + 31) // 32 * 4
    rows = np.frombuffer(data, np.uint8, min(height, max(len(data) - start, 0) // stride) * stride, start)
    rows = rows.reshape(-1, stride)
    if bits == 8:
        indices = rows[:, :width]
    elif bits == 4:
        indices = np.concatenate([rows[:, :(width + 1) // 2] >> 4, rows[:, :width // 2] & 15], axis=1)
    else:
        indices = np.unpackbits(rows, axis=1, count=width)
    return int(indices.max()) if indices.size else 0


def bmp_runs(data: bytes, position: int, width: int, height: int, bits: int, name: str,
             indices: np.ndarray | None = None) -> int:
    """Walk a BMP's run-length data (RLE8 or RLE4, bottom-up) from byte ``position``;
    refuse a run past its row or the image; the highest palette index it uses. Each
    pixel's index goes into ``indices`` (bottom row first) if given, its pixels the
    data leaves unwritten untouched."""
    x = y = most = 0
    # RLE4 codes pixels in pairs: a row of odd width may end in a pair whose second pixel
    # is its byte's padding (bmpsuite's g04rle.bmp), which Pillow and Chromium leave out.
    spare = int(bits == 4 and width % 2 == 1)
    while position + 2 <= len(data):
        count, value = data[position], data[position + 1]
        position += 2
        if count == 0 and value < 3:
            if value == 1:  # end of the image
                break
            if value == 2:  # a delta: right and up by the next two bytes
                x, y = x + data[position], y + data[position + 1] if position + 2 <= len(data) else height
                position += 2
            else:  # end of the row
                x, y = 0, y + 1
            continue
        if count:  # a run of one value (RLE4: two alternating indices)
            run, values = count, [value] if bits == 8 else [value >> 4, value & 15][:count]
        else:  # absolute: `value` indices, padded to a 16-bit word
            run, size = value, value if bits == 8 else (value + 1) // 2
            chunk = data[position:position + size]
            values = list(chunk) if bits == 8 else [n for b in chunk for n in (b >> 4, b & 15)][:value]
            position += size + size % 2
        if y >= height:
            raise ImageReadError(f"{name}: damaged BMP: its run-length data runs past the image's {height} rows")
        if x + run > width + spare:
            raise ImageReadError(f"{name}: damaged BMP: its run-length data runs past the end of row {y} "
                                 f"({x + run} pixels of {width})")
        if indices is not None:  # a run's values alternate; absolute ones may be cut short by the file's end
            given = (values * run if count else values)[:max(0, min(run, width - x))]
            indices[y, x:x + len(given)] = given
        x += run
        most = max([most, *values])  # none where the file ends in an absolute run's count
    return most


def check_colour_map(indices: np.ndarray, first: int, entries: int, name: str, fmt: str) -> None:
    """Refuse a picture whose colour-map ``indices`` reach outside the map's ``entries``
    entries from ``first``: such a pixel has no colour (Pillow shows it black)."""
    outside = int(np.count_nonzero((indices < first) | (indices >= first + entries))) if indices.size else 0
    if outside:
        raise ImageReadError(f"{name}: damaged {fmt}: {outside} pixels index outside its colour map "
                             f"(entries {first} to {first + entries - 1}), and have no colour")


def check_tiff_palette(image: "Image.Image", name: str) -> None:
    """Refuse a TIFF palette image (Pillow's, loaded or not) with an index past its colour map."""
    if image.format == "TIFF" and image.mode == "P":
        entries = len(cast("TiffImagePlugin.TiffImageFile", image).tag_v2.get(_COLORMAP, ())) // 3
        if cast("tuple[int, int]", image.getextrema())[1] >= entries:
            check_colour_map(np.asarray(image), 0, entries, name, "TIFF")
