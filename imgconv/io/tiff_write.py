"""TIFF outputs: their compression, and their writers (tifffile's, strip by strip; Pillow's for 1 bit a sample)."""

import io
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from ..errors import InvalidInputError
from .formats import CMYK_MODES
from .picture import Picture
from .pillow_write import encode_pillow, metadata_options
from .tiffinfo import XMP

if TYPE_CHECKING:
    from .formats import Format
    from .write import EncodeOptions

# --compression for TIFF outputs: the TIFF Compression tag's numbers.
TIFF_COMPRESSION = {"none": 1, "deflate": 8, "lzw": 5, "zstd": 50000, "packbits": 32773}


# The lossless schemes an input's compression is kept in (LZMA too), with Pillow's
# names for them; the old Deflate number (32946) is the same codec as Adobe's (8).
# Group 3 and 4 fax codes hold bilevel samples only.
PILLOW_SCHEMES = {1: "raw", 5: "tiff_lzw", 8: "tiff_adobe_deflate", 32773: "packbits", 50000: "zstd",
                   34925: "lzma", 3: "group3", 4: "group4"}


_FAX = frozenset([3, 4])


# Classic TIFF's offsets are 32-bit: from samples of this size (tifffile's own threshold,
# which leaves 32 MiB for the tags) a TIFF output is a BigTIFF, written by tifffile.
# Pillow writes classic TIFF only: a 65536x65600 grey picture (4.3 GB) failed in its
# uncompressed writer with a struct.error, a traceback, and tifffile unasked refuses it.
BIGTIFF_BYTES = 2**32 - 2**25

# A classic TIFF's and a BigTIFF's layout: where the first IFD's offset is, and an IFD's
# count of entries, an entry's size and an offset's format.
_LAYOUTS = {False: (4, "H", 12, "L"), True: (8, "Q", 20, "Q")}


# A TIFF output's strips: tifffile's own size for compressed ones (a strip is compressed
# at a time), which holds a row or more of samples.
STRIP_BYTES = 2**18


# The samples compressed in one pass, by as many threads as tifffile starts: the strips
# compressed are held until written, and tifffile's own pass (512 MiB) could hold as much
# of a picture's compressed strips where the file is slower to write than they are made.
PASS_BYTES = 32 * STRIP_BYTES


_RESOLUTION = frozenset([282, 283, 296])  # XResolution, YResolution, ResolutionUnit


_SAMPLES, _CONTIGUOUS = frozenset([277]), {284: 1}  # SamplesPerPixel; PlanarConfiguration: contiguous


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
    stored = picture.encoding.get("compression")
    scheme = 8 if stored == 32946 else stored
    if picture.format != "TIFF" or scheme not in PILLOW_SCHEMES or (scheme in _FAX and not bilevel):
        return TIFF_COMPRESSION["deflate"]
    return scheme


def write_tiff(frames: list[np.ndarray], picture: Picture, record: "Format", metadata: dict[str, Any],
               asked: "EncodeOptions", name: str, out: BinaryIO) -> None:
    """A TIFF, a page a frame, written into ``out`` strip by strip (`write_strips`). A
    bilevel result (`is_bilevel`) is written at 1 bit a sample by Pillow (libtiff), the
    only writer here of the fax codes, unless it is large enough to be a BigTIFF
    (`BIGTIFF_BYTES`), which Pillow does not write."""
    bilevel = len({f.shape for f in frames}) == 1 and is_bilevel(frames, picture)
    big = sum(f.nbytes for f in frames) // (8 if bilevel else 1) >= BIGTIFF_BYTES
    bilevel = bilevel and not big
    scheme = tiff_compression(picture, asked.compression, bilevel)
    if not bilevel:
        write_strips(frames, picture, metadata, scheme, big, out)
        return
    frames = [f > 0 for f in frames]  # Pillow's mode 1, exactly
    groups: dict[int, dict] = {}
    if "xmp" in metadata or (scheme != 1 and "exif" in metadata):
        groups = _exif_for_pillow(metadata, scheme)
    saving = {**metadata_options(metadata), "compression": PILLOW_SCHEMES[scheme]}
    # In memory first (a bit a pixel): sub-directories are added to it, and libtiff's
    # compressing writer, given a file, writes through a descriptor of its own.
    buffer = io.BytesIO()
    encode_pillow(frames, picture, record.name, saving, name, buffer)
    if groups:
        buffer.seek(0)
        retag(buffer, groups)
    out.write(buffer.getbuffer())


def _exif_for_pillow(metadata: dict[str, Any], scheme: int) -> dict[int, dict]:
    """Pillow's TIFF writer takes extra tags from the EXIF (or from tiffinfo, but then
    ignores the EXIF), so XMP goes in as the EXIF's tag 700 (``metadata`` is changed so).
    Its compressing writer (libtiff's) fails on EXIF's sub-directories (camera settings,
    GPS): those are left out of the EXIF and returned, ``{tag: {tag: value}}``, to be
    added to its file afterwards (`retag`)."""
    from PIL import Image, TiffTags

    exif = Image.Exif()
    exif.load(metadata.get("exif", b""))
    if "xmp" in metadata:
        exif[XMP] = metadata.pop("xmp")
    groups = {}
    if scheme != 1:
        groups = {tag: exif.get_ifd(tag) for tag in list(exif) if tag in TiffTags.TAGS_V2_GROUPS}
        for tag in groups:
            del exif[tag]
        groups = {tag: entries for tag, entries in groups.items() if entries}
    metadata["exif"] = exif.tobytes()
    return groups


def is_bilevel(frames: list[np.ndarray], picture: Picture) -> bool:
    """Whether a bilevel TIFF input's result is still two-valued (0 and 255), and so
    written at 1 bit a sample, exactly."""
    return bool(picture.encoding.get("bilevel")) and picture.mode == "L" and \
        all(((f == 0) | (f == 255)).all() for f in frames)


def write_strips(frames: list[np.ndarray], picture: Picture, metadata: dict[str, Any], scheme: int,
                 bigtiff: bool, out: BinaryIO) -> None:
    """A TIFF (a BigTIFF if ``bigtiff``) written into ``out`` by tifffile, a page a
    frame, each of its own size, with the ICC profile, XMP, resolution and EXIF on every
    page. The samples go into the file a strip (`STRIP_BYTES`) at a time, compressed or
    not, so that nothing the size of the picture is made beside them. tifffile
    cannot write an EXIF: its tags (camera, copyright, dates, and its sub-directories)
    are added to each page after (`retag`); ``out`` is read back for that."""
    import tifffile

    extratags = [(700, "B", len(metadata["xmp"]), metadata["xmp"], True)] if "xmp" in metadata else []
    resolution = {"resolution": metadata["dpi"], "resolutionunit": "INCH"} if "dpi" in metadata else {}
    start = out.tell()
    with tifffile.TiffWriter(out, bigtiff=bigtiff) as tiff:
        for samples in frames:
            colour = samples.ndim == 3 and samples.shape[2] >= 3
            photometric = "separated" if picture.mode in CMYK_MODES else "rgb" if colour else "minisblack"
            rows = max(1, STRIP_BYTES // max(1, samples.nbytes // max(1, samples.shape[0])))
            tiff.write(samples if scheme != 1 else _strips(samples, rows), shape=samples.shape, dtype=samples.dtype,
                       photometric=photometric, planarconfig="contig", rowsperstrip=rows, buffersize=PASS_BYTES,
                       extrasamples=["unassalpha"] if picture.has_alpha else None, compression=scheme,
                       iccprofile=metadata.get("icc_profile"), extratags=extratags, metadata=None,
                       software=False, **resolution)
    # tifffile, given no resolution, writes 1:1 and no unit: an output of an input without
    # one has none. Of a grey picture, it writes SamplesPerPixel and no PlanarConfiguration,
    # Pillow the other way round (both TIFF's defaults): Pillow's tags are kept.
    grey = frames[0].ndim == 2
    dropped = (frozenset() if "dpi" in metadata else _RESOLUTION) | (_SAMPLES if grey else frozenset())
    tags = {**(exif_tags(metadata["exif"]) if "exif" in metadata else {}), **(_CONTIGUOUS if grey else {})}
    if tags or dropped:
        out.seek(start)
        retag(out, tags, dropped)


def _strips(samples: np.ndarray, rows: int) -> Iterator[bytes]:
    """``samples`` as bytes, ``rows`` at a time. Given the array, tifffile writes it
    with NumPy's ``tofile``, which on a full disk raises an error without its cause."""
    for top in range(0, samples.shape[0], rows):
        yield samples[top : top + rows].tobytes()


def exif_tags(exif: bytes) -> dict[int, Any]:
    """An EXIF's tags as `retag` takes them: its sub-directories (camera settings,
    GPS) as ``{tag: {tag: value}}``."""
    from PIL import Image, TiffTags

    loaded = Image.Exif()
    loaded.load(exif)
    tags = {tag: loaded.get_ifd(tag) if tag in TiffTags.TAGS_V2_GROUPS else loaded[tag] for tag in loaded}
    return {tag: value for tag, value in tags.items() if value != {}}


def retag(file: BinaryIO, tags: dict[int, Any], dropped: frozenset[int] = frozenset()) -> None:
    """Take the ``dropped`` tags out of every page of the TIFF (classic or BigTIFF) that
    starts at ``file``'s position, and add ``tags``, EXIF sub-directories among them as
    ``{tag: {tag: value}}``; a tag a page still has (one that describes the pixels
    written) is not added. For each page changed, the tags' values and the
    sub-directories, as Pillow writes them, and a copy of its IFD with their entries are
    appended, and what pointed at the IFD points at the copy (the old IFD stays,
    unreferenced, a few hundred bytes). Only the IFDs are read back, never the samples."""
    from PIL import TiffImagePlugin

    start = file.tell()
    head = file.read(16)
    big = head[2:4] in (b"+\0", b"\0+")
    header, count_format, size, offset_format = _LAYOUTS[big]
    order = "<" if head[:2] == b"II" else ">"
    counted, offset_size = struct.calcsize(order + count_format), struct.calcsize(order + offset_format)
    pointer = header  # where the offset of the next IFD is written

    def tag_of(entry: bytes) -> int:
        return struct.unpack_from(order + "H", entry)[0]

    (ifd,) = struct.unpack_from(order + offset_format, head, header)
    while ifd:
        file.seek(start + ifd)
        (count,) = struct.unpack(order + count_format, file.read(counted))
        table = file.read(size * count + offset_size)
        entries = [table[size * i : size * (i + 1)] for i in range(count)]
        following = table[size * count :]  # the next page's IFD
        kept = [entry for entry in entries if tag_of(entry) not in dropped]
        missing = {tag: value for tag, value in tags.items() if tag not in set(map(tag_of, kept))}
        if missing or len(kept) < count:
            entries = kept
            end = file.seek(0, io.SEEK_END) - start
            block_start = end + end % 2  # IFDs start on a word boundary
            block = b""
            if missing:
                directory = TiffImagePlugin.ImageFileDirectory_v2(head[: 2 * header])
                for tag, values in missing.items():
                    directory[tag] = values
                block = directory.tobytes(block_start)
                entries += [block[counted + size * i : counted + size * (i + 1)] for i in range(len(missing))]
            entries.sort(key=tag_of)
            ifd = block_start + len(block) + len(block) % 2
            file.write(bytes(block_start - end) + block.ljust(ifd - block_start, b"\0")
                       + struct.pack(order + count_format, len(entries)) + b"".join(entries) + following)
            file.seek(start + pointer)
            file.write(struct.pack(order + offset_format, ifd))
        pointer = ifd + counted + size * len(entries)
        (ifd,) = struct.unpack(order + offset_format, following)
