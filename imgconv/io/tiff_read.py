"""TIFFs read by tifffile: those Pillow would not read as they are, and large ones of
plain strips, which tifffile decodes strip by strip into the picture's own array."""

import io
import itertools
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ImageReadError
from . import pages as given_pages
from .claims import check_colour_map
from .deep import deep_picture
from .picture import Picture, frame_indices
from .tiffinfo import (
    ASSOCIATED_ALPHA,
    CMYK,
    ICC,
    INKSET,
    JPEG_COMPRESSIONS,
    MINISBLACK,
    MINISWHITE,
    ORIENTATION,
    PALETTE,
    RGB,
    TILE_OFFSETS,
    TILE_WIDTH,
    UNASSOCIATED_ALPHA,
    WEBP,
    XMP,
    YCBCR,
    YCBCR_SUBSAMPLING,
)

# Compressions whose strips `picture_from_tifffile` decodes one by one into the picture's
# array: none, LZW, Adobe and old-style deflate, PackBits.
STRIP_CODECS = (1, 5, 8, 32946, 32773)

# Pictures of plain strips (`plain_strips`) of at least these bytes are read by tifffile,
# not Pillow. Below it, Pillow's copies are small beside importing tifffile (10-18 ms),
# which a command on a small TIFF then does without.
STRIPS_BYTES = 64 << 20

if TYPE_CHECKING:
    import tifffile
    from PIL import TiffImagePlugin

    from .budget import PixelBudget


def beyond_pillow(image: "TiffImagePlugin.TiffImageFile") -> bool:
    """Whether a TIFF holds samples Pillow would not read as they are, which tifffile
    reads: 16-bit colour (which Pillow cannot hold), signed or float samples or
    unsigned ones of more than 16 bits (Pillow reads signed 8-bit samples as unsigned,
    and unsigned 32-bit ones as signed), a predictor on uncompressed samples of 9 to 15
    bits (Pillow reads the differences; libtiff leaves a predictor on uncompressed
    samples undone, and at 8 and 16 bits Pillow reads as libtiff does), and grey or RGB
    stored plane by plane (Pillow mixes up or refuses the planes of grey+alpha and of
    RGBA). Also what Pillow fails on that tifffile decodes: WebP compression (which
    libtiff as Pillow's wheels build it lacks: "WEBP compression support is not
    configured"), and tiles located by StripOffsets (TileWidth without TileOffsets, as
    libtiff reads them; Pillow takes them for strips the image's width). And
    uncompressed YCbCr with chroma subsampling (by default 2 x 2), which Pillow reads
    (without libtiff) as if it had none, so that it is refused by name below; libtiff
    undoes the subsampling of compressed YCbCr for Pillow."""
    tags = image.tag_v2
    bits, sample_formats = (tags.get(tag, default) for tag, default in ((258, 1), (339, 1)))
    bits = bits if isinstance(bits, tuple) else (bits,)
    sample_formats = sample_formats if isinstance(sample_formats, tuple) else (sample_formats,)
    samples, photometric = tags.get(277, 1), tags.get(262)
    return ((16 in bits and samples > 1) or max(bits) > 16 or bool({2, 3} & set(sample_formats))
            or (tags.get(317, 1) != 1 and tags.get(259, 1) == 1 and max(bits) % 8 != 0)
            or (tags.get(284, 1) == 2 and samples > 1 and photometric in (MINISWHITE, MINISBLACK, RGB))
            or tags.get(259) == WEBP or (TILE_WIDTH in tags and TILE_OFFSETS not in tags)
            or (photometric == YCBCR and tags.get(259, 1) == 1
                and tuple(tags.get(YCBCR_SUBSAMPLING, (2, 2))) != (1, 1)))


def read_by_tifffile(image: "TiffImagePlugin.TiffImageFile") -> bool:
    """Whether tifffile reads a TIFF that Pillow opened: one `beyond_pillow`, or one of
    `plain_strips`."""
    return beyond_pillow(image) or plain_strips(image)


def plain_strips(image: "TiffImagePlugin.TiffImageFile") -> bool:
    """Whether a TIFF is one page of at least `STRIPS_BYTES` of samples in strips of
    `STRIP_CODECS`, 8-bit grey or RGB or 16-bit grey, unsigned, no extra samples, pixel
    by pixel, as Pillow reads them (with a predictor only where compressed: Pillow, as
    libtiff, leaves the differences of uncompressed 8- and 16-bit samples undone).
    tifffile decodes those strip by strip into the picture's own array, releasing the
    file as it goes; Pillow decodes into its own image (RGB as four bytes a pixel),
    copied to the picture beside the file read whole: blur -s 2 of a 12000x8400 RGB
    uncompressed TIFF peaked at 716 MiB so, 288 MiB of it the file."""
    tags = image.tag_v2
    bits, offsets, counts = (_values(tags, tag) for tag in (258, 273, 279))
    samples, compression, rows = (tags.get(tag, default) for tag, default in ((277, 1), (259, 1), (278, 2**32 - 1)))
    if not all(isinstance(value, int) for value in (samples, compression, rows)):
        return False  # a damaged directory: as Pillow reads it
    width, height = image.size
    return (width * height * samples * max(bits, default=1) // 8 >= STRIPS_BYTES and TILE_WIDTH not in tags
            # Every strip with bytes of its own: libtiff guesses where they lack, tifffile reads nodata.
            and rows >= 1 and len(offsets) == len(counts) == -(-height // min(rows, height))
            and all(offsets) and all(counts)
            and compression in STRIP_CODECS and tags.get(317, 1) in ((1,) if compression == 1 else (1, 2))
            and (tags.get(262), samples, set(bits)) in ((MINISBLACK, 1, {8}), (MINISBLACK, 1, {16}), (RGB, 3, {8}))
            and tags.get(339, 1) in (1, (1,) * samples) and 338 not in tags  # SampleFormat, ExtraSamples
            and tags.get(266, 1) == 1 and tags.get(284, 1) == 1  # FillOrder, PlanarConfiguration
            and getattr(image, "n_frames", 1) == 1)


def _values(tags: "TiffImagePlugin.ImageFileDirectory_v2", tag: int) -> tuple[int, ...]:
    """A tag's values as a tuple (Pillow gives one value alone), () where it is missing."""
    value = tags.get(tag, ())
    return value if isinstance(value, tuple) else (value,)


def picture_from_tifffile(data: bytes, frame: int | None, name: str, metadata: dict[str, Any],
                          budget: "PixelBudget") -> "Picture":
    import tifffile

    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tiff:
            pages = tiff.pages
            arrays, modes = [], set()
            for index in frame_indices(len(pages), frame, name):
                page = pages[index]
                # As a .npy's: up to four samples a pixel (a TIFF claiming 65535 samples a
                # pixel asks for 194 GiB within the pixel limit), and a volume's slices.
                extra = [n for n in (page.imagedepth, math.ceil(page.samplesperpixel / 4)) if n != 1]
                budget.take(page.imagewidth, page.imagelength, *extra)
                if not page.imagewidth or not page.imagelength:
                    raise ImageReadError(f"{name}: damaged TIFF: a page of {page.imagewidth} x {page.imagelength} "
                                         "pixels")
                _check_colours(page, name)
                array = _samples(page, data, len(pages) == 1)
                if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE and array.ndim == 3:
                    array = np.moveaxis(array, 0, -1)
                arrays.append(_as_read(page, array, name))
                modes.add(ink_mode(int(page.photometric), array.shape[-1], array.dtype))
            tags = pages[0].tags
            if not metadata:  # Pillow could not open the file: take what tifffile sees
                metadata.update({key: bytes(tags[tag].value) for key, tag in (("icc_profile", ICC), ("xmp", XMP))
                                 if tag in tags})
                if tags.valueof(ORIENTATION, 1) != 1:
                    from PIL import Image

                    metadata["exif"] = Image.Exif()
                    metadata["exif"][ORIENTATION] = tags.valueof(ORIENTATION)
            encoding = {"compression": int(pages[0].compression)}
    except tifffile.TiffFileError as exc:
        raise ImageReadError(f"{name}: corrupt or truncated image ({exc})") from None
    if len(modes) > 1 or any(a.dtype != arrays[0].dtype or a.shape != arrays[0].shape for a in arrays):
        raise ImageReadError(f"{name}: pages of different kinds or sizes; take one with --frame N")
    (inks,) = modes
    if inks is not None:
        return Picture([a.astype(a.dtype.newbyteorder("="), copy=False) for a in arrays], inks, "TIFF", metadata,
                       encoding)
    return deep_picture(arrays, "TIFF", metadata, name, encoding)


def _samples(page: "tifffile.TiffPage", data: bytes, alone: bool) -> np.ndarray:
    """``page.asarray()``; a page in strips of `STRIP_CODECS` decoded strip by strip
    into one array in the machine's byte order, from ``data`` (the file) itself, each
    strip's bytes released once decoded (`imgconv.io.pages.release_bytes`) where the
    page is the file's ``alone`` and no two strips share bytes (nothing reads them
    again). tifffile's own read copies the strips, up to 256 MiB at a time, and the
    file's byte order into the machine's, beside the file and the array: blur -s 2 of
    a 12000x8400 16-bit RGB uncompressed TIFF peaked at 1264 MiB so, 715 MiB this way."""
    if page.is_tiled or int(page.compression) not in STRIP_CODECS or not isinstance(page.bitspersample, int) \
            or page.bitspersample % 8 or page.dtype is None or 0 in page.shaped:
        return page.asarray()
    offsets, counts = page.dataoffsets, page.databytecounts
    spans = sorted(zip(offsets, counts, strict=False))
    release = alone and all(start + count <= after for (start, count), (after, _) in itertools.pairwise(spans))
    shaped = np.empty(page.shaped, page.dtype.newbyteorder("="))
    decode, whole = page.decode, memoryview(data)
    for index in range(math.prod(page.chunked)):  # a strip without offset or bytes holds tifffile's nodata
        start, count = (offsets[index], counts[index]) if index < min(len(offsets), len(counts)) else (0, 0)
        segment, (s, d, h, w, _), shape = decode(whole[start:start + count] if start and count else None, index)
        shaped[s, d:d + shape[0], h:h + shape[1], w:w + shape[2]] = page.nodata if segment is None else segment
        if release and start and count:
            given_pages.release_bytes(data, start, start + count)
    return shaped.reshape(page.shape)


def ink_mode(photometric: int, samples: int, dtype: np.dtype) -> str | None:
    """The mode of a TIFF page's samples (``samples`` a pixel of ``dtype``) where they
    are CMYK inks, and an alpha after them, of 8 or 16 bits (as `_check_colours` lets
    them through); else None."""
    if photometric != CMYK or samples not in (4, 5) or dtype not in (np.uint8, np.uint16):
        return None
    return ("CMYK" if samples == 4 else "CMYKA") + (";16" if dtype == np.uint16 else "")


def _as_read(page: "tifffile.TiffPage", array: np.ndarray, name: str) -> np.ndarray:
    """A page's samples as tifffile gives them (as stored), in imgconv's units: CMYK
    inks as they are, white-is-zero turned, a palette through its colour map, grey and RGB of fewer than 8 bits
    scaled to 0-255, and associated alpha unpremultiplied, as Pillow reads 8-bit samples."""
    if array.dtype == np.bool_:  # 1 bit a sample
        array = array.astype(np.uint8)
    bits, photometric = page.bitspersample, int(page.photometric)
    if photometric == CMYK:
        return array  # the inks, and alpha after them (`_check_colours`)
    if photometric == PALETTE:
        if array.ndim != 2 or page.colormap is None:
            raise ImageReadError(f"{name}: a palette image with extra samples or without a colour map: "
                                 "not an image imgconv reads")
        colours = _palette_colours(np.asarray(page.colormap), bits)
        check_colour_map(array, 0, len(colours), name, "TIFF")
        return colours[array]
    if photometric == MINISWHITE:
        turn_white_is_zero(array, bits, page.samplesperpixel - len(page.extrasamples))
    if bits < 8 and photometric in (MINISWHITE, MINISBLACK, RGB) and array.dtype == np.uint8:
        top = (1 << bits) - 1
        array = ((array.astype(np.uint16) * 255 + top // 2) // top).astype(np.uint8)
    if tuple(page.extrasamples)[:1] == (ASSOCIATED_ALPHA,) and array.ndim == 3 and array.shape[-1] in (2, 4):
        array = unpremultiplied(array, name)
    return array


def unpremultiplied(array: np.ndarray, name: str) -> np.ndarray:
    """Colour multiplied by alpha (TIFF's associated alpha, the last of 2 or 4 samples)
    divided back, as imgconv holds colour: unsigned samples as Pillow unpremultiplies 8-bit
    ones (``min(max, c * max // a)``, kept where alpha is 0 or the maximum; equal to
    Pillow's RGBa and La conversions for every pair of 8-bit values) at their own depth;
    float samples ``c / a`` where alpha is not 0. Signed samples are refused (no rule
    gives their colour), and 64-bit ones, whose ``c * max`` overflows the widest
    integer NumPy multiplies in."""
    if array.dtype.kind not in "uf" or (array.dtype.kind == "u" and array.dtype.itemsize > 4):
        raise ImageReadError(f"{name}: associated (premultiplied) alpha with {array.dtype} samples: "
                             "not an image imgconv reads")
    colour, alpha = array[..., :-1], array[..., -1:]
    if array.dtype.kind == "f":
        divided = np.divide(colour, alpha, out=colour.copy(), where=alpha != 0)
    else:
        top = np.iinfo(array.dtype).max
        wide, wide_alpha = colour.astype(np.uint64), alpha.astype(np.uint64)
        divided = np.minimum(top, wide * top // np.maximum(wide_alpha, 1))
        divided = np.where((wide_alpha == 0) | (wide_alpha == top), wide, divided)
    return np.concatenate([divided.astype(array.dtype), alpha], axis=-1)


def _check_colours(page: "tifffile.TiffPage", name: str) -> None:
    """Refuse a page whose samples are not grey, RGB, a palette's indices, CMYK inks (8
    or 16 bits, unsigned, and at most an unassociated alpha after them) or YCbCr that a
    JPEG decoder turns into RGB: tifffile gives other photometric interpretations
    (CIELab, uncompressed YCbCr, a camera's colour filter array...) as stored, which
    read as grey or RGB would be silently wrong colours."""
    photometric, compression = int(page.photometric), int(page.compression)
    colours = page.samplesperpixel - len(page.extrasamples)
    inks = (colours == 4 and page.tags.valueof(INKSET, 1) == 1 and page.bitspersample in (8, 16)
            and int(page.sampleformat) == 1 and tuple(page.extrasamples) in ((), (UNASSOCIATED_ALPHA,)))
    if photometric in (MINISWHITE, MINISBLACK, RGB, PALETTE) or (photometric == CMYK and inks) \
            or (photometric == YCBCR and compression in JPEG_COMPRESSIONS):
        return
    kind = getattr(page.photometric, "name", f"PhotometricInterpretation {photometric}")  # an unknown number
    what = f"{kind} samples ({colours} colour samples of {page.bitspersample} bits"
    if photometric == YCBCR:
        what += ", subsampled {} x {}, without JPEG compression".format(*page.tags.valueof(YCBCR_SUBSAMPLING, (2, 2)))
    raise ImageReadError(f"{name}: a TIFF of {what}): not an image imgconv reads")


def _palette_colours(colormap: np.ndarray, bits: int) -> np.ndarray:
    """A TIFF colour map (3 x 2**bits entries of 16 bits) as RGB samples, one row an
    index. Up to 8 bits an index: 8-bit colours, the high byte (``v // 256``), as Pillow
    reads those palettes. Above: 8-bit where every entry is a multiple of 257 (then
    ``v // 257`` is exact), else the 16-bit entries as they are, so nothing is lost."""
    if bits <= 8:
        return (colormap // 256).astype(np.uint8).T
    if not (colormap % 257).any():
        return (colormap // 257).astype(np.uint8).T
    return colormap.astype(np.uint16).T


def turn_white_is_zero(samples: np.ndarray, bits: int, colours: int) -> None:
    """Turn, in place, grey samples stored white-is-zero (TIFF's MINISWHITE) into
    imgconv's black-is-zero: ``2**bits - 1 - v`` for the file's ``bits`` a sample, so
    that a 12-bit file stays in 0-4095 as a black-is-zero one is read. The ``colours``
    first samples of a pixel are turned, not its extra (alpha) samples. Float and signed
    samples have no such maximum and are left as stored."""
    if samples.dtype.kind != "u":
        return
    grey = samples[..., :colours] if samples.ndim == 3 else samples
    np.subtract(samples.dtype.type((1 << bits) - 1), grey, out=grey)
