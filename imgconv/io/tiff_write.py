"""TIFF outputs: their compression, and the writers of each layout (Pillow's, tifffile's)."""

import io
import struct

from ..errors import InvalidInputError
from .picture import Picture

# --compression for TIFF outputs: the TIFF Compression tag's numbers.
TIFF_COMPRESSION = {"none": 1, "deflate": 8, "lzw": 5, "zstd": 50000, "packbits": 32773}


# The lossless schemes an input's compression is kept in (LZMA too), with Pillow's
# names for them; the old Deflate number (32946) is the same codec as Adobe's (8).
# Group 3 and 4 fax codes hold bilevel samples only.
PILLOW_SCHEMES = {1: "raw", 5: "tiff_lzw", 8: "tiff_adobe_deflate", 32773: "packbits", 50000: "zstd",
                   34925: "lzma", 3: "group3", 4: "group4"}


_FAX = frozenset([3, 4])


PILLOW_TIFF = frozenset(["L", "LA", "RGB", "RGBA", "I;16", "I", "F"])


def tiff_compression(picture: Picture, requested: str | None = None, bilevel: bool = False) -> int:
    """The TIFF Compression number a TIFF output of ``picture`` is written with:
    ``requested`` (a name of `TIFF_COMPRESSION`) if given, else a TIFF input's own
    scheme where it is lossless (fax codes only for ``bilevel`` output), else Adobe
    Deflate, which every TIFF reader decodes, in place of a lossy scheme (JPEG, WebP)
    or one no writer here has."""
    if requested is not None:
        if requested not in TIFF_COMPRESSION:
            raise InvalidInputError(f"--compression {requested}: a TIFF output takes {', '.join(TIFF_COMPRESSION)}")
        return TIFF_COMPRESSION[requested]
    scheme = {32946: 8}.get(picture.encoding.get("compression"), picture.encoding.get("compression"))
    if picture.format != "TIFF" or scheme not in PILLOW_SCHEMES or (scheme in _FAX and not bilevel):
        return TIFF_COMPRESSION["deflate"]
    return scheme


def is_bilevel(frames: list, picture: Picture) -> bool:
    """Whether a bilevel TIFF input's result is still two-valued (0 and 255), and so
    written at 1 bit a sample, exactly."""
    return bool(picture.encoding.get("bilevel")) and picture.mode == "L" and \
        all(((f == 0) | (f == 255)).all() for f in frames)


def encode_tifffile(frames, picture, metadata, scheme):
    """A TIFF by tifffile, a page a frame, each of its own size. The ICC profile and XMP
    are kept; tifffile cannot write an EXIF directory."""
    import tifffile

    buffer = io.BytesIO()
    extratags = [(700, "B", len(metadata["xmp"]), metadata["xmp"], True)] if "xmp" in metadata else []
    with tifffile.TiffWriter(buffer) as tiff:
        for samples in frames:
            colour = samples.ndim == 3 and samples.shape[2] >= 3
            tiff.write(samples, photometric="rgb" if colour else "minisblack", planarconfig="contig",
                       extrasamples=["unassalpha"] if picture.has_alpha else None, compression=scheme,
                       iccprofile=metadata.get("icc_profile"), extratags=extratags, metadata=None)
    return buffer.getvalue()


def with_subdirectories(data: bytes, groups: dict) -> bytes:
    """A classic TIFF with EXIF sub-directories (``{tag: {tag: value}}``) added to its
    first IFD: the sub-directories, as Pillow writes them, and a copy of that IFD with
    their entries are appended, and the header points at the copy (the old IFD stays,
    unreferenced, a few hundred bytes)."""
    from PIL import TiffImagePlugin

    order = "<" if data[:2] == b"II" else ">"
    (first,) = struct.unpack_from(order + "L", data, 4)
    (count,) = struct.unpack_from(order + "H", data, first)
    entries = [data[first + 2 + 12 * i : first + 14 + 12 * i] for i in range(count)]
    following = data[first + 2 + 12 * count : first + 6 + 12 * count]  # the next page's IFD
    directory = TiffImagePlugin.ImageFileDirectory_v2(data[:8])
    for tag, values in groups.items():
        directory[tag] = values
    start = len(data) + len(data) % 2  # IFDs start on a word boundary
    block = directory.tobytes(start)
    entries += [block[2 + 12 * i : 14 + 12 * i] for i in range(len(groups))]
    entries.sort(key=lambda entry: struct.unpack_from(order + "H", entry)[0])
    where = start + len(block) + len(block) % 2
    table = struct.pack(order + "H", len(entries)) + b"".join(entries) + following
    result = bytearray(data.ljust(start, b"\0") + block.ljust(where - start, b"\0") + table)
    struct.pack_into(order + "L", result, 4, where)
    return bytes(result)
