"""Fuzzing: hostile images and kernel files through the real command line.

imgconv must refuse fast, never crash, never clobber and never leak, whatever the
input. This module mutates real files and runs the real CLI on each,
asserting for every case:

- exit status 0, 1 or 2, and no exception escaping the command (a traceback);
- no warning text: no Python warning a normal run would print, no log record that
  would reach stderr, no C library writing on the process's own stdout/stderr, and on
  success nothing at all on stderr;
- on failure, exactly one line on stderr, starting ``imgconv: error: ``, and nothing on
  stdout;
- on failure no output file, on success only the output, and never a ``.*.tmp`` file:
  the case folder holds exactly the inputs afterwards (plus the output on success), and
  the case's private temporary folder (``$TMPDIR``) is empty;
- the input files are unchanged, and in a fifth of the cases, where the output file
  exists before the run, a failing run leaves it as it was (never clobber);
- an output, when written (to a file or to stdout), decodes, and is in the format asked.

Seeds are real images, crops of ``samples/chelsea.png`` and ``samples/camera.png`` (24x16,
so a case takes milliseconds), in every format ``imgconv formats`` lists and many modes
(8-bit grey/RGB/RGBA, 16-bit grey/RGB/RGBA, float and 32-bit integer TIFF, palette PNG
with transparency, animated GIF/APNG/WebP, multi-page TIFF, EXIF orientation, ...), and
kernel files of every kind ``imgconv convolve -k`` reads (plain text ``.txt``/``.csv``/
``.kernel``/no extension, libvips ``.mat``, ``.npy`` and ``.json``), the files of
``samples/kernels`` among them.

Case ``i`` is fully determined by `SEED` and ``i``: its seed file is ``seeds[i % len(seeds)]``
and its mutations come from ``random.Random(f"{SEED}:{i}")``. Mutations know the formats:
header fields set to extremes (PNG IHDR/acTL/fcTL with the CRC recomputed, TIFF IFD
entries, JPEG SOF/DQT/DHT/SOS/DRI and EXIF, GIF screen and frame descriptors, BMP, TGA,
QOI and WebP/VP8/VP8L/VP8X/ANMF headers, JPEG 2000 SIZ/COD and JP2 boxes, AVIF boxes,
PPM/PFM header tokens, ``.npy`` header shape/dtype/version), PNG chunk bodies with the
CRC fixed and image data inflated, damaged and deflated again, chunks/segments/boxes
dropped, repeated or swapped, and for kernels numbers set to extremes (1e308, 1e309,
NaN, 400-digit and 5000-digit numbers), thousands of rows or columns, deep JSON
nesting, odd divisors and offsets, bad encodings. Byte flips, truncation, insertion of
random bytes or runs, deletion and duplication of ranges apply to every file.

Each case runs in-process through ``imgconv.cli:main`` (what the ``imgconv`` script runs
once it has set its stop-signal handlers: it sets up logging and the process, then runs
the Click group ``imgconv.cli.cli``), with ``sys.argv`` set, under ``click.testing.CliRunner``, in a
fresh folder that is its working directory. Python warnings are recorded (those a
normal run would print: not DeprecationWarning and the like); the root logger's
handlers are replaced by one that records what logging's last resort would print in a
real run; file descriptors 1 and 2 are redirected, so that nothing a C library prints
escapes the check. A soft per-case time limit (SIGALRM) reports a hang instead of
stopping CI. If the CLI has ``--max-pixels``, every case passes ``--max-pixels 1000000``
so that a header claiming 2^31 x 2^31 pixels is refused before anything is allocated.

``benchmarks/fuzz.py`` runs the same cases, 20,000 and more, each in a forked child
with a wall-clock and an address-space limit, and prints totals.
``.venv/bin/python benchmarks/fuzz.py --show N`` writes case N's files to a folder and
prints the command that reproduces it.
"""

import contextlib
import functools
import hashlib
import io
import json
import logging
import os
import random
import re
import shlex
import signal
import struct
import sys
import tempfile
import time
import traceback
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

SEED = 20261127
CASES = 1000  # the CI run: BATCHES tests of BATCH cases each
BATCH = 50
BATCHES = CASES // BATCH
SOFT_TIMEOUT = 10.0  # seconds a case may take in-process before it is reported as a hang
MAX_PIXELS = 1_000_000  # passed as --max-pixels when the CLI has that option
MAX_INPUT_BYTES = 4 << 20  # a mutation that makes the file larger is undone
# Memory: a case whose peak resident memory grows by more than MEMORY_BUDGET over what
# the process held before it fails as "memory" (a 24x16 image needs a few MB at most),
# and ADDRESS_SPACE caps what it may map (RLIMIT_AS), so that a runaway allocation
# fails fast instead of taking the machine's memory; one that fails that way and is
# reported in the error line (numpy's "Unable to allocate", MemoryError) is a "memory"
# failure too, as is one whose error was raised while handling a MemoryError: the
# input should have been refused by a check, not by running out.
MEMORY_BUDGET = 256 << 20
ADDRESS_SPACE = 2 << 30
SAMPLES = Path(__file__).resolve().parent.parent / "samples"

# Failure kinds, in the order a case's main kind is chosen.
KINDS = ("hang", "crash", "memory", "traceback", "bad exit", "warning text", "error message", "leftover file",
         "clobbered file", "undecodable output", "leaked fd", "harness error")


# --------------------------------------------------------------------------- seeds


@dataclass
class Seed:
    """One well-formed input file: an image (``kind == "image"``) or a kernel file."""

    name: str
    suffix: str  # the file's extension, "" for an extension-less kernel file
    data: bytes
    kind: str  # "image" or "kernel"
    fmt: str  # which structure-aware mutators apply: PNG, TIFF, ..., NPY, TEXT, MAT, JSON

    @functools.cached_property
    def fields(self):
        return FIELD_PARSERS.get(self.fmt, lambda data: [])(self.data)

    @functools.cached_property
    def spans(self):
        return SPAN_PARSERS.get(self.fmt, lambda data: [])(self.data)


def _crops():
    from PIL import Image

    with Image.open(SAMPLES / "chelsea.png") as image:
        rgb = np.asarray(image.convert("RGB").crop((120, 60, 144, 76)))
    with Image.open(SAMPLES / "camera.png") as image:
        grey = np.asarray(image.convert("L").crop((200, 100, 224, 116)))
    ramp = np.linspace(0, 255, rgb.shape[1]).astype(np.uint8)
    alpha = np.broadcast_to(ramp, rgb.shape[:2])
    return rgb, grey, alpha


def _pillow(array, fmt, mode=None, **options):
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(array))
    if mode is not None:
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _animation(frames, fmt, **options):
    from PIL import Image

    images = [Image.fromarray(np.ascontiguousarray(f)) for f in frames]
    buffer = io.BytesIO()
    images[0].save(buffer, format=fmt, save_all=True, append_images=images[1:], duration=80, loop=0, **options)
    return buffer.getvalue()


def _tifffile(array, **options):
    import tifffile

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array, **options)
    return buffer.getvalue()


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _exif(orientation):
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "imgconv fuzz"  # Make
    return exif.tobytes()


def _image_seeds():
    import imagecodecs
    from PIL import Image

    from imgconv.io import formats

    rgb, grey, alpha = _crops()
    rgba = np.dstack([rgb, alpha])
    la = np.dstack([grey, alpha])
    # 16-bit samples whose low bytes are not their high bytes: not 8-bit data times 257
    rgb16 = np.minimum(rgb.astype(np.uint32) * 257 + 3, 65535).astype(np.uint16)
    grey16 = np.minimum(grey.astype(np.uint32) * 257 + 5, 65535).astype(np.uint16)
    rgba16 = np.dstack([rgb16, alpha.astype(np.uint16) * 257])
    moving = [np.roll(rgb, 5 * i, axis=1) for i in range(3)]
    moving_rgba = [np.roll(rgba, 5 * i, axis=1) for i in range(3)]
    palette = Image.fromarray(rgb).quantize(16)
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG", transparency=0)
    palette_png = buffer.getvalue()
    plain_grey = ("P2\n# plain grey\n24 16\n255\n" + "\n".join(" ".join(map(str, row)) for row in grey) + "\n").encode()
    plain_rgb = ("P3\n24 16\n255\n" + "\n".join(" ".join(map(str, row.ravel())) for row in rgb) + "\n").encode()
    seeds = [  # (name, extension, format, how to make it)
        ("png-rgb", ".png", "PNG", lambda: _pillow(rgb, "PNG")),
        ("png-grey", ".png", "PNG", lambda: _pillow(grey, "PNG")),
        ("png-rgba", ".png", "PNG", lambda: _pillow(rgba, "PNG")),
        ("png-la", ".png", "PNG", lambda: _pillow(la, "PNG")),
        ("png-palette-trns", ".png", "PNG", lambda: palette_png),
        ("png-grey16", ".png", "PNG", lambda: imagecodecs.png_encode(grey16)),
        ("png-rgb16", ".png", "PNG", lambda: imagecodecs.png_encode(rgb16)),
        ("png-rgba16", ".png", "PNG", lambda: imagecodecs.png_encode(rgba16)),
        ("png-exif-orient6", ".png", "PNG", lambda: _pillow(rgb, "PNG", exif=_exif(6))),
        ("apng-rgba", ".png", "PNG", lambda: _animation(moving_rgba, "PNG")),
        ("tiff-rgb", ".tif", "TIFF", lambda: _pillow(rgb, "TIFF")),
        ("tiff-grey-lzw", ".tif", "TIFF", lambda: _pillow(grey, "TIFF", compression="tiff_lzw")),
        ("tiff-rgba", ".tif", "TIFF", lambda: _pillow(rgba, "TIFF")),
        ("tiff-grey16", ".tif", "TIFF", lambda: _tifffile(grey16)),
        ("tiff-rgb16", ".tif", "TIFF", lambda: _tifffile(rgb16, photometric="rgb")),
        ("tiff-rgb16-deflate", ".tif", "TIFF",
         lambda: _tifffile(rgb16, photometric="rgb", compression="zlib", predictor=True)),
        ("tiff-la16", ".tif", "TIFF",
         lambda: _tifffile(rgba16[..., [0, 3]], photometric="minisblack", extrasamples=["unassalpha"])),
        ("tiff-float", ".tif", "TIFF", lambda: _tifffile(grey.astype(np.float32) / 255)),
        ("tiff-int32", ".tif", "TIFF", lambda: _tifffile(grey.astype(np.int32) * 100)),
        ("tiff-rgb-tiled-bigendian", ".tif", "TIFF",
         lambda: _tifffile(rgb, photometric="rgb", tile=(16, 16), byteorder=">")),
        ("tiff-pages", ".tif", "TIFF", lambda: _animation(moving, "TIFF")),
        ("jpeg-rgb", ".jpg", "JPEG", lambda: _pillow(rgb, "JPEG", quality=90)),
        ("jpeg-grey", ".jpg", "JPEG", lambda: _pillow(grey, "JPEG", quality=75)),
        ("jpeg-progressive-420", ".jpg", "JPEG",
         lambda: _pillow(rgb, "JPEG", progressive=True, subsampling="4:2:0")),
        ("jpeg-exif-orient6", ".jpg", "JPEG", lambda: _pillow(rgb, "JPEG", exif=_exif(6))),
        ("jp2-rgb", ".jp2", "JPEG2000", lambda: _pillow(rgb, "JPEG2000")),
        ("j2k-grey", ".j2k", "JPEG2000", lambda: _pillow(grey, "JPEG2000", no_jp2=True)),
        ("jp2-rgba", ".jp2", "JPEG2000", lambda: _pillow(rgba, "JPEG2000")),
        ("webp-lossy-rgb", ".webp", "WEBP", lambda: _pillow(rgb, "WEBP", quality=80)),
        ("webp-lossless-rgba", ".webp", "WEBP", lambda: _pillow(rgba, "WEBP", lossless=True)),
        ("webp-animated", ".webp", "WEBP", lambda: _animation(moving, "WEBP", lossless=True)),
        ("avif-rgb", ".avif", "AVIF", lambda: _pillow(rgb, "AVIF", quality=80)),
        ("avif-rgba", ".avif", "AVIF", lambda: _pillow(rgba, "AVIF", quality=80)),
        ("gif-grey", ".gif", "GIF", lambda: _pillow(grey, "GIF")),
        ("gif-rgb", ".gif", "GIF", lambda: _pillow(rgb, "GIF")),
        ("gif-animated", ".gif", "GIF", lambda: _animation(moving, "GIF")),
        ("bmp-rgb", ".bmp", "BMP", lambda: _pillow(rgb, "BMP")),
        ("bmp-grey", ".bmp", "BMP", lambda: _pillow(grey, "BMP")),
        ("tga-rgb", ".tga", "TGA", lambda: _pillow(rgb, "TGA")),
        ("tga-rgba-rle", ".tga", "TGA", lambda: _pillow(rgba, "TGA", compression="tga_rle")),
        ("tga-grey", ".tga", "TGA", lambda: _pillow(grey, "TGA")),
        ("qoi-rgb", ".qoi", "QOI", lambda: _pillow(rgb, "QOI")),
        ("qoi-rgba", ".qoi", "QOI", lambda: _pillow(rgba, "QOI")),
        ("ppm-rgb", ".ppm", "PPM", lambda: _pillow(rgb, "PPM")),
        ("pgm-grey", ".pgm", "PPM", lambda: _pillow(grey, "PPM")),
        ("pgm-grey16", ".pgm", "PPM", lambda: b"P5\n24 16\n65535\n" + grey16.astype(">u2").tobytes()),
        ("pbm-bilevel", ".pbm", "PPM", lambda: _pillow(grey, "PPM", mode="1")),
        ("pgm-plain", ".pgm", "PPM", lambda: plain_grey),
        ("ppm-plain", ".ppm", "PPM", lambda: plain_rgb),
        ("pfm-float", ".pfm", "PPM", lambda: b"Pf\n24 16\n-1.0\n" + (grey[::-1].astype("<f4") / 255).tobytes()),
        ("npy-rgb-uint8", ".npy", "NPY", lambda: _npy(rgb)),
        ("npy-grey-uint16", ".npy", "NPY", lambda: _npy(grey16)),
        ("npy-grey-float32", ".npy", "NPY", lambda: _npy(grey.astype(np.float32))),
        ("npy-rgba-float64", ".npy", "NPY", lambda: _npy(rgba.astype(np.float64))),
        ("npy-rgb-fortran", ".npy", "NPY", lambda: _npy(np.asfortranarray(rgb))),
        ("npy-grey-bigendian-u2", ".npy", "NPY", lambda: _npy(grey16.astype(">u2"))),
        ("npy-6-channels", ".npy", "NPY", lambda: _npy(np.dstack([rgb, rgb]).astype(np.float32))),
    ]
    available = formats.available()  # a Pillow built without AVIF, say, has no AVIF seeds
    return [Seed(name, suffix, make(), "image", fmt) for name, suffix, fmt, make in seeds if fmt in available]


def _kernel_seeds():
    samples = SAMPLES / "kernels"
    seeds = [(path.stem + "-sample", path.suffix, path.read_bytes()) for path in sorted(samples.iterdir())
             if path.suffix in (".txt", ".csv", ".mat", ".npy", ".json")]
    gaussian = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256.0
    seeds += [
        ("tabs-kernel", ".kernel", b"# tab separated, comments after rows\n1\t2\t1 # top\n2\t4\t2\n1\t2\t1\n"),
        ("no-extension", "", b"0 0 0\n0 1 0\n0 0 0\n"),
        ("exponents-txt", ".txt", "\n".join(" ".join(f"{v:.6e}" for v in row) for row in gaussian).encode() + b"\n"),
        ("plain-list-json", ".json", json.dumps(gaussian.tolist()).encode()),
        ("object-json", ".json", b'{"kernel": [[1, 2, 1], [2, 4, 2], [1, 2, 1]], "divisor": 16, "offset": 0.5}'),
        ("two-field-mat", ".mat", b"3 1\n1 2 1\n"),
        ("float32-npy", ".npy", _npy(gaussian.astype(np.float32))),
        ("int16-npy", ".npy", _npy(np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], np.int16))),
    ]
    kinds = {".npy": "NPY", ".json": "JSON", ".mat": "MAT"}
    return [Seed("kernel-" + name, suffix, data, "kernel", kinds.get(suffix, "TEXT")) for name, suffix, data in seeds]


@functools.cache
def build_seeds():
    """Every seed, in a fixed order: the images, then the kernel files."""
    return tuple(_image_seeds() + _kernel_seeds())


@functools.cache
def clean_image():
    """The image every kernel case filters: the RGB crop as PNG."""
    return next(s.data for s in build_seeds() if s.name == "png-rgb")


# --------------------------------------------------------------------------- format structure


@dataclass
class Field:
    """A header field: ``width`` bytes at ``offset``; ``crc`` = (start, end) when a CRC-32
    over ``data[start:end]`` follows at ``end`` (a PNG chunk) and must be recomputed."""

    name: str
    offset: int
    width: int
    order: str = "big"
    crc: tuple = None


def _u(data, offset, width, order):
    return int.from_bytes(data[offset : offset + width], order)


def png_chunks(data):
    """(start, length, type) of each whole chunk of a PNG."""
    chunks, pos = [], 8
    while pos + 12 <= len(data):
        length, kind = _u(data, pos, 4, "big"), bytes(data[pos + 4 : pos + 8])
        if pos + 12 + length > len(data):
            break
        chunks.append((pos, length, kind))
        pos += 12 + length
    return chunks


_PNG_LAYOUT = {
    b"IHDR": (("width", 0, 4), ("height", 4, 4), ("bit depth", 8, 1), ("colour type", 9, 1),
              ("compression", 10, 1), ("filter", 11, 1), ("interlace", 12, 1)),
    b"acTL": (("num_frames", 0, 4), ("num_plays", 4, 4)),
    b"fcTL": (("sequence", 0, 4), ("width", 4, 4), ("height", 8, 4), ("x_offset", 12, 4), ("y_offset", 16, 4),
              ("delay_num", 20, 2), ("delay_den", 22, 2), ("dispose_op", 24, 1), ("blend_op", 25, 1)),
    b"fdAT": (("sequence", 0, 4),),
    b"tRNS": (("first entry", 0, 1),),
    b"PLTE": (("first red", 0, 1),),
}


def png_fields(data):
    fields = []
    for index, (pos, length, kind) in enumerate(png_chunks(data)):
        name = f"{kind.decode('latin1')}#{index}"
        fields.append(Field(f"{name} chunk length", pos, 4))
        crc = (pos + 4, pos + 8 + length)
        for field_name, offset, width in _PNG_LAYOUT.get(kind, ()):
            if offset + width <= length:
                fields.append(Field(f"{name} {field_name}", pos + 8 + offset, width, "big", crc))
        if kind == b"eXIf":
            fields += tiff_fields(data, pos + 8, crc)
    return fields


def png_spans(data):
    return [(pos, 12 + length, kind.decode("latin1")) for pos, length, kind in png_chunks(data)]


TIFF_TAGS = {256: "ImageWidth", 257: "ImageLength", 258: "BitsPerSample", 259: "Compression", 262: "Photometric",
             273: "StripOffsets", 274: "Orientation", 277: "SamplesPerPixel", 278: "RowsPerStrip",
             279: "StripByteCounts", 284: "PlanarConfig", 317: "Predictor", 320: "ColorMap", 322: "TileWidth",
             323: "TileLength", 324: "TileOffsets", 325: "TileByteCounts", 338: "ExtraSamples", 339: "SampleFormat",
             34665: "ExifIFD", 271: "Make"}
_TIFF_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8,
                   18: 8}


def tiff_fields(data, base=0, crc=None):
    """The IFD entries of a classic TIFF (or an EXIF block) starting at ``base``: each
    entry's type, count and value (the first value where they lie elsewhere), each IFD's
    entry count and next-IFD offset, and the first IFD's offset."""
    order = {b"II": "little", b"MM": "big"}.get(bytes(data[base : base + 2]))
    if order is None or _u(data, base + 2, 2, order) != 42:
        return []
    fields = [Field("TIFF first IFD offset", base + 4, 4, order, crc)]
    ifd, seen = _u(data, base + 4, 4, order), set()
    for number in range(8):
        position = base + ifd
        if ifd == 0 or ifd in seen or position + 2 > len(data):
            break
        seen.add(ifd)
        count = _u(data, position, 2, order)
        fields.append(Field(f"IFD{number} entry count", position, 2, order, crc))
        for k in range(count):
            entry = position + 2 + 12 * k
            if entry + 12 > len(data):
                break
            tag, kind, values = _u(data, entry, 2, order), _u(data, entry + 2, 2, order), _u(data, entry + 4, 4, order)
            name = f"IFD{number} {TIFF_TAGS.get(tag, f'tag {tag}')}"
            fields.append(Field(f"{name} type", entry + 2, 2, order, crc))
            fields.append(Field(f"{name} count", entry + 4, 4, order, crc))
            size = _TIFF_TYPE_SIZE.get(kind, 1)
            if size * values <= 4:
                fields.append(Field(f"{name} value", entry + 8, size if size in (1, 2, 4) else 4, order, crc))
            else:
                fields.append(Field(f"{name} value offset", entry + 8, 4, order, crc))
                pointed = base + _u(data, entry + 8, 4, order)
                if size in (1, 2, 4) and pointed + size <= len(data):
                    fields.append(Field(f"{name}[0]", pointed, size, order, crc))
        end = position + 2 + 12 * count
        if end + 4 > len(data):
            break
        fields.append(Field(f"IFD{number} next IFD offset", end, 4, order, crc))
        ifd = _u(data, end, 4, order)
    return fields


_JPEG_MARKERS = {0xC0: "SOF0", 0xC1: "SOF1", 0xC2: "SOF2", 0xC4: "DHT", 0xDA: "SOS", 0xDB: "DQT", 0xDD: "DRI",
                 0xE0: "APP0", 0xE1: "APP1", 0xE2: "APP2", 0xFE: "COM"}


def jpeg_segments(data):
    """(start, total length, marker) of each marker segment, entropy-coded data included
    in its SOS segment."""
    segments, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xD9:
            break
        if marker == 0xFF:
            pos += 1
            continue
        length = _u(data, pos + 2, 2, "big")
        end = pos + 2 + length
        if marker == 0xDA:  # skip the entropy-coded data up to the next marker
            while end + 1 < len(data) and not (data[end] == 0xFF and data[end + 1] not in (0x00,) and
                                                 not 0xD0 <= data[end + 1] <= 0xD7):
                end += 1
        segments.append((pos, end - pos, marker))
        if end <= pos:
            break
        pos = end
    return segments


def jpeg_fields(data):
    fields = []
    for pos, _, marker in jpeg_segments(data):
        name = _JPEG_MARKERS.get(marker, f"marker {marker:#04x}")
        seg = pos + 4
        fields.append(Field(f"{name}@{pos} length", pos + 2, 2))
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            fields += [Field(f"{name} precision", seg, 1), Field(f"{name} height", seg + 1, 2),
                       Field(f"{name} width", seg + 3, 2), Field(f"{name} components", seg + 5, 1)]
            for c in range(min(data[seg + 5], 4) if seg + 5 < len(data) else 0):
                fields += [Field(f"{name} component {c} id", seg + 6 + 3 * c, 1),
                           Field(f"{name} component {c} sampling", seg + 7 + 3 * c, 1),
                           Field(f"{name} component {c} table", seg + 8 + 3 * c, 1)]
        elif marker == 0xDB:
            fields += [Field(f"DQT@{pos} precision/table", seg, 1), Field(f"DQT@{pos} first value", seg + 1, 1)]
        elif marker == 0xC4:
            fields += [Field(f"DHT@{pos} class/table", seg, 1), Field(f"DHT@{pos} first count", seg + 1, 1),
                       Field(f"DHT@{pos} 8-bit codes count", seg + 8, 1)]
        elif marker == 0xDD:
            fields.append(Field("DRI interval", seg, 2))
        elif marker == 0xDA:
            fields += [Field(f"SOS@{pos} components", seg, 1), Field(f"SOS@{pos} first selector", seg + 1, 1),
                       Field(f"SOS@{pos} first tables", seg + 2, 1)]
        elif marker == 0xE1 and data[seg : seg + 6] == b"Exif\0\0":
            fields += tiff_fields(data, seg + 6)
    return [f for f in fields if f.offset + f.width <= len(data)]


def jpeg_spans(data):
    return [(pos, length, _JPEG_MARKERS.get(marker, f"marker {marker:#04x}"))
            for pos, length, marker in jpeg_segments(data)]


def gif_fields(data):
    if data[:3] != b"GIF" or len(data) < 13:
        return []
    fields = [Field("screen width", 6, 2, "little"), Field("screen height", 8, 2, "little"),
              Field("screen flags", 10, 1), Field("background index", 11, 1)]
    pos, frame = 13, 0
    if data[10] & 0x80:
        pos += 3 << ((data[10] & 7) + 1)

    def skip_blocks(pos):
        while pos < len(data):
            size = data[pos]
            pos += 1 + size
            if size == 0:
                break
        return pos

    while pos + 1 < len(data):
        if data[pos] == 0x21:
            label = data[pos + 1]
            if label == 0xF9 and pos + 8 <= len(data):
                fields += [Field(f"GCE@{pos} flags", pos + 3, 1), Field(f"GCE@{pos} delay", pos + 4, 2, "little"),
                           Field(f"GCE@{pos} transparent index", pos + 6, 1)]
            if label == 0xFF and data[pos + 3 : pos + 14] == b"NETSCAPE2.0":
                fields.append(Field("NETSCAPE loop count", pos + 16, 2, "little"))
            pos = skip_blocks(pos + 2)
        elif data[pos] == 0x2C and pos + 11 <= len(data):
            name = f"frame {frame}"
            fields += [Field(f"{name} left", pos + 1, 2, "little"), Field(f"{name} top", pos + 3, 2, "little"),
                       Field(f"{name} width", pos + 5, 2, "little"), Field(f"{name} height", pos + 7, 2, "little"),
                       Field(f"{name} flags", pos + 9, 1)]
            flags, pos = data[pos + 9], pos + 10
            if flags & 0x80:
                pos += 3 << ((flags & 7) + 1)
            fields.append(Field(f"{name} LZW minimum code size", pos, 1))
            pos = skip_blocks(pos + 1)
            frame += 1
        else:
            break
    return [f for f in fields if f.offset + f.width <= len(data)]


def _fixed(layout, order):
    def parse(data):
        return [Field(name, offset, width, order) for name, offset, width in layout if offset + width <= len(data)]
    return parse


bmp_fields = _fixed((("bfSize", 2, 4), ("bfOffBits", 10, 4), ("biSize", 14, 4), ("biWidth", 18, 4),
                     ("biHeight", 22, 4), ("biPlanes", 26, 2), ("biBitCount", 28, 2), ("biCompression", 30, 4),
                     ("biSizeImage", 34, 4), ("biClrUsed", 46, 4), ("biClrImportant", 50, 4)), "little")
tga_fields = _fixed((("id length", 0, 1), ("colour map type", 1, 1), ("image type", 2, 1),
                     ("colour map first", 3, 2), ("colour map length", 5, 2), ("colour map depth", 7, 1),
                     ("x origin", 8, 2), ("y origin", 10, 2), ("width", 12, 2), ("height", 14, 2),
                     ("pixel depth", 16, 1), ("descriptor", 17, 1)), "little")
qoi_fields = _fixed((("width", 4, 4), ("height", 8, 4), ("channels", 12, 1), ("colorspace", 13, 1)), "big")


def riff_chunks(data, start=12, end=None, prefix=""):
    """(start, size, fourcc) of each chunk, frames' sub-chunks included."""
    end = len(data) if end is None else min(end, len(data))
    chunks, pos = [], start
    while pos + 8 <= end:
        fourcc, size = bytes(data[pos : pos + 4]).decode("latin1"), _u(data, pos + 4, 4, "little")
        chunks.append((pos, size, prefix + fourcc.strip()))
        if fourcc == "ANMF":
            chunks += riff_chunks(data, pos + 24, pos + 8 + size, "ANMF/")
        pos += 8 + size + (size & 1)
    return chunks


_RIFF_LAYOUT = {
    "VP8X": (("flags", 0, 1), ("canvas width-1", 4, 3), ("canvas height-1", 7, 3)),
    "ANIM": (("background", 0, 4), ("loop count", 4, 2)),
    "ANMF": (("x/2", 0, 3), ("y/2", 3, 3), ("width-1", 6, 3), ("height-1", 9, 3), ("duration", 12, 3),
             ("flags", 15, 1)),
    "VP8L": (("signature", 0, 1), ("14-bit width-1, height-1, alpha, version", 1, 4)),
    "VP8": (("frame tag", 0, 3), ("start code", 3, 3), ("width", 6, 2), ("height", 8, 2)),
    "ALPH": (("header", 0, 1),),
}


def webp_fields(data):
    fields = [Field("RIFF size", 4, 4, "little")]
    for pos, _, name in riff_chunks(data):
        fields.append(Field(f"{name}@{pos} size", pos + 4, 4, "little"))
        for field_name, offset, width in _RIFF_LAYOUT.get(name.split("/")[-1], ()):
            fields.append(Field(f"{name}@{pos} {field_name}", pos + 8 + offset, width, "little"))
        if name == "EXIF":
            fields += tiff_fields(data, pos + 8)
    return [f for f in fields if f.offset + f.width <= len(data)]


def webp_spans(data):
    return [(pos, 8 + size + (size & 1), name) for pos, size, name in riff_chunks(data)]


_BOX_CONTAINERS = {b"meta": 4, b"iprp": 0, b"ipco": 0, b"jp2h": 0, b"res ": 0, b"dinf": 0}
_BOX_LAYOUT = {
    b"ispe": (("width", 4, 4), ("height", 8, 4)),
    b"pixi": (("channels", 4, 1), ("first depth", 5, 1)),
    b"ihdr": (("height", 0, 4), ("width", 4, 4), ("components", 8, 2), ("depth", 10, 1), ("compression", 11, 1)),
    b"av1C": (("marker/version", 0, 1), ("profile/level", 1, 1), ("depth/mono/subsampling", 2, 1)),
    b"iloc": (("version", 0, 1), ("offset/length sizes", 4, 1), ("base offset/index sizes", 5, 1),
              ("item count", 6, 2)),
    b"colr": (("colour type", 0, 4),),
}


def boxes(data, start=0, end=None, depth=0):
    """(start, size, type, depth) of each ISO-BMFF / JP2 box, known containers opened."""
    end = len(data) if end is None else min(end, len(data))
    found, pos = [], start
    while pos + 8 <= end:
        size, kind = _u(data, pos, 4, "big"), bytes(data[pos + 4 : pos + 8])
        if size == 0:
            size = end - pos
        if size < 8:
            break
        found.append((pos, size, kind, depth))
        if kind in _BOX_CONTAINERS and depth < 4:
            found += boxes(data, pos + 8 + _BOX_CONTAINERS[kind], pos + size, depth + 1)
        pos += size
    return found


def box_fields(data):
    fields = []
    for pos, _, kind, _ in boxes(data):
        name = f"{kind.decode('latin1')}@{pos}"
        fields.append(Field(f"{name} box size", pos, 4))
        for field_name, offset, width in _BOX_LAYOUT.get(kind, ()):
            fields.append(Field(f"{name} {field_name}", pos + 8 + offset, width))
        if kind == b"jp2c":
            fields += j2k_fields(data, pos + 8)
    return [f for f in fields if f.offset + f.width <= len(data)]


def box_spans(data):
    return [(pos, size, kind.decode("latin1")) for pos, size, kind, _ in boxes(data)]


def j2k_fields(data, start=0):
    """The main header of a JPEG 2000 codestream: SIZ, COD, QCD and the first tile-part."""
    if data[start : start + 2] != b"\xff\x4f":
        return []
    fields, pos = [], start + 2
    siz = (("Rsiz", 0, 2), ("Xsiz", 2, 4), ("Ysiz", 6, 4), ("XOsiz", 10, 4), ("YOsiz", 14, 4), ("XTsiz", 18, 4),
           ("YTsiz", 22, 4), ("XTOsiz", 26, 4), ("YTOsiz", 30, 4), ("Csiz", 34, 2), ("Ssiz0", 36, 1),
           ("XRsiz0", 37, 1), ("YRsiz0", 38, 1))
    cod = (("Scod", 0, 1), ("progression", 1, 1), ("layers", 2, 2), ("MCT", 4, 1), ("levels", 5, 1),
           ("code-block width", 6, 1), ("code-block height", 7, 1), ("code-block style", 8, 1), ("transform", 9, 1))
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker, length = data[pos + 1], _u(data, pos + 2, 2, "big")
        if marker == 0x90:  # SOT: the main header ends here
            fields += [Field("SOT Isot", pos + 4, 2), Field("SOT Psot", pos + 6, 4), Field("SOT TPsot", pos + 10, 1),
                       Field("SOT TNsot", pos + 11, 1)]
            break
        fields.append(Field(f"marker {marker:#04x} length", pos + 2, 2))
        segment, layout = {0x51: ("SIZ", siz), 0x52: ("COD", cod),
                           0x5C: ("QCD", (("Sqcd", 0, 1), ("first SPqcd", 1, 1)))}.get(marker, ("", ()))
        fields += [Field(f"{segment} {name}", pos + 4 + offset, width) for name, offset, width in layout]
        pos += 2 + length
    return [f for f in fields if f.offset + f.width <= len(data)]


def jpeg2000_fields(data):
    return j2k_fields(data) if data[:2] == b"\xff\x4f" else box_fields(data)


def jpeg2000_spans(data):
    return [] if data[:2] == b"\xff\x4f" else box_spans(data)


FIELD_PARSERS = {"PNG": png_fields, "TIFF": tiff_fields, "JPEG": jpeg_fields, "GIF": gif_fields, "BMP": bmp_fields,
                 "TGA": tga_fields, "QOI": qoi_fields, "WEBP": webp_fields, "AVIF": box_fields,
                 "JPEG2000": jpeg2000_fields}
SPAN_PARSERS = {"PNG": png_spans, "JPEG": jpeg_spans, "WEBP": webp_spans, "AVIF": box_spans,
                "JPEG2000": jpeg2000_spans}


# --------------------------------------------------------------------------- mutators
#
# Each takes (data: bytearray, seed, rng) and returns a description of what it did, or
# None when it does not apply (the caller then picks another).


def _fix_crc(data, crc):
    start, end = crc
    if end + 4 <= len(data):
        data[end : end + 4] = struct.pack(">I", zlib.crc32(bytes(data[start:end])))


def _extreme(rng, width, original):
    top = (1 << (8 * width)) - 1
    values = [0, 1, 2, top, top - 1, top >> 1, (top >> 1) + 1, original + 1, original - 1, original * 2,
              original * 256, rng.randrange(top + 1)]
    if width >= 2:
        values += [255, 256, 16383, 16384]
    if width >= 3:
        values += [65535, 65536, 46341, 100000, 1 << 23]
    return min(max(rng.choice(values), 0), top)


# Fields that say how large the image is, how deep its samples or how long its data:
# chosen half the time.
_SIZE_FIELD = re.compile(r"width|height|length|size|bits|depth|samples|count|channels|components|siz\b|ihdr",
                         re.IGNORECASE)


def mutate_field(data, seed, rng):
    fields = [f for f in seed.fields if f.offset + f.width <= len(data)]
    if not fields:
        return None
    sizes = [f for f in fields if _SIZE_FIELD.search(f.name)]
    target = rng.choice(sizes if sizes and rng.random() < 0.5 else fields)
    original = _u(data, target.offset, target.width, target.order)
    value = _extreme(rng, target.width, original)
    data[target.offset : target.offset + target.width] = value.to_bytes(target.width, target.order)
    if target.crc:
        _fix_crc(data, target.crc)
    return f"{target.name} {original} -> {value}" + (" (CRC fixed)" if target.crc else "")


def mutate_png_chunk(data, seed, rng):
    """Bytes of one chunk's body changed, its CRC recomputed so that decoders read on."""
    chunks = [c for c in png_chunks(data) if c[1] > 0]
    if seed.fmt != "PNG" or not chunks:
        return None
    pos, length, kind = rng.choice(chunks)
    spots = sorted(rng.randrange(length) for _ in range(rng.randint(1, 4)))
    for spot in spots:
        data[pos + 8 + spot] = rng.randrange(256)
    _fix_crc(data, (pos + 4, pos + 8 + length))
    return f"{kind.decode('latin1')} chunk at {pos}: bytes {spots} of its body randomised (CRC fixed)"


def mutate_png_idat(data, seed, rng):
    """The image data inflated, damaged, deflated again, in a chunk with a right CRC."""
    chunks = png_chunks(data)
    idats = [c for c in chunks if c[2] == b"IDAT"]
    if seed.fmt != "PNG" or not idats or not chunks or chunks[0][2] != b"IHDR":
        return None
    pos, length, _ = idats[0]
    try:
        raw = bytearray(zlib.decompress(bytes(data[pos + 8 : pos + 8 + length])))
    except zlib.error:
        return None
    ihdr = chunks[0][0] + 8
    width, depth, colour = _u(data, ihdr, 4, "big"), data[ihdr + 8], data[ihdr + 9]
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour, 1)
    row = 1 + (width * channels * depth + 7) // 8
    how = rng.randrange(4)
    if how == 0 and raw:
        rows = sorted({rng.randrange(max(1, len(raw) // row)) for _ in range(rng.randint(1, 3))})
        value = rng.choice([5, 6, 127, 255])
        for r in rows:
            if r * row < len(raw):
                raw[r * row] = value
        what = f"filter type of rows {rows} set to {value}"
    elif how == 1:
        keep = rng.randrange(len(raw) + 1)
        what = f"cut to its first {keep} of {len(raw)} bytes"
        del raw[keep:]
    elif how == 2:
        extra = min(rng.choice([1, row, 10 * row, 100_000]), 1_000_000)  # row may come from a mutated IHDR
        raw += bytes([rng.randrange(256)]) * extra
        what = f"{extra} bytes appended"
    else:
        spots = sorted(rng.randrange(len(raw)) for _ in range(rng.randint(1, 8))) if raw else []
        for spot in spots:
            raw[spot] ^= 1 << rng.randrange(8)
        what = f"bits flipped at {spots}"
    body = zlib.compress(bytes(raw))
    chunk = struct.pack(">I", len(body)) + b"IDAT" + body + struct.pack(">I", zlib.crc32(b"IDAT" + body))
    data[pos : pos + 12 + length] = chunk
    return f"IDAT inflated, {what}, deflated again (length and CRC fixed)"


def mutate_span(data, seed, rng):
    """A whole chunk, segment or box dropped, repeated or swapped with the next."""
    spans = [s for s in SPAN_PARSERS.get(seed.fmt, lambda d: [])(data) if s[0] + s[1] <= len(data)]
    if not spans:
        return None
    index = rng.randrange(len(spans))
    pos, length, name = spans[index]
    piece = bytes(data[pos : pos + length])
    how = rng.randrange(3)
    if how == 0:
        del data[pos : pos + length]
        return f"{name} at {pos} ({length} bytes) dropped"
    if how == 1 or index + 1 == len(spans):
        times = rng.choice([1, 2, 50])
        data[pos + length : pos + length] = piece * times
        return f"{name} at {pos} ({length} bytes) repeated {times} more time(s)"
    next_pos, next_length, next_name = spans[index + 1]
    if next_pos != pos + length:
        return None
    data[pos : next_pos + next_length] = bytes(data[next_pos : next_pos + next_length]) + piece
    return f"{name} at {pos} swapped with the {next_name} after it"


def _spot(data, rng):
    """A position, in the first 64 bytes (the headers) half the time."""
    if rng.random() < 0.5:
        return rng.randrange(min(64, len(data)))
    return rng.randrange(len(data))


def flip_bits(data, seed, rng):
    if not data:
        return None
    spots = sorted(_spot(data, rng) for _ in range(rng.choice([1, 1, 2, 4, 8, 32])))
    for spot in spots:
        data[spot] ^= 1 << rng.randrange(8)
    return f"one bit flipped at each of {spots}"


def set_bytes(data, seed, rng):
    if not data:
        return None
    value = rng.choice([0x00, 0xFF, 0x7F, 0x80, 0x01])
    spots = sorted(_spot(data, rng) for _ in range(rng.randint(1, 6)))
    for spot in spots:
        data[spot] = value
    return f"bytes at {spots} set to {value:#04x}"


def truncate(data, seed, rng):
    keep = rng.choice([0, 1, 7, 8, 16, 32, len(data) // 2, len(data) - 1, rng.randrange(len(data) + 1)])
    keep = max(0, min(keep, len(data) - 1))
    del data[keep:]
    return f"truncated to {keep} bytes"


def insert_bytes(data, seed, rng):
    pos = _spot(data, rng) if data else 0
    if rng.random() < 0.5:
        piece = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        what = f"{len(piece)} random bytes {piece.hex()}"
    else:
        value, times = rng.choice([0x00, 0xFF, 0x41, 0x0A]), rng.choice([1, 16, 1000, 65536])
        piece = bytes([value]) * times
        what = f"a run of {times} x {value:#04x}"
    data[pos:pos] = piece
    return f"{what} inserted at {pos}"


def delete_range(data, seed, rng):
    if len(data) < 2:
        return None
    pos = _spot(data, rng)
    length = rng.randint(1, min(256, len(data) - pos))
    del data[pos : pos + length]
    return f"{length} bytes deleted at {pos}"


def duplicate_range(data, seed, rng):
    if len(data) < 2:
        return None
    start = rng.randrange(len(data))
    length = rng.randint(1, min(512, len(data) - start))
    at = rng.randrange(len(data) + 1)
    data[at:at] = data[start : start + length] * rng.choice([1, 1, 4])
    return f"bytes {start}..{start + length} copied to {at}"


# PPM family (PBM, PGM, PPM, PFM): text header tokens

_PNM_WHITESPACE = b" \t\r\n\x0b\x0c"
_PNM_EXTREMES = [b"0", b"1", b"2", b"255", b"256", b"32768", b"65535", b"65536", b"2147483647", b"2147483648",
                 b"4294967296", b"99999999999999999999", b"-1", b"+5", b"0x10", b"1e3", b"#", b"24#c\n", b"nan",
                 b"inf", b"-inf", b"1e308", b"-0", b"1e-320", b"-1e-45", b"3.4e38"]
_PNM_MAGIC = [b"P1", b"P2", b"P3", b"P4", b"P5", b"P6", b"P7", b"Pf", b"PF", b"P0", b"P8", b"p6", b"PX"]


def pnm_tokens(data):
    """(start, end) of the header's magic, width, height and maxval (scale for PFM)."""
    tokens, pos = [], 0
    count = 3 if data[1:2] in (b"1", b"4") else 4
    while len(tokens) < count and pos < min(len(data), 200):
        if data[pos] in _PNM_WHITESPACE:
            pos += 1
        elif data[pos] == ord("#"):
            end = data.find(b"\n", pos)
            pos = len(data) if end < 0 else end + 1
        else:
            start = pos
            while pos < len(data) and data[pos] not in _PNM_WHITESPACE and data[pos] != ord("#"):
                pos += 1
            tokens.append((start, pos))
    return tokens


def mutate_pnm_header(data, seed, rng):
    tokens = pnm_tokens(data) if seed.fmt == "PPM" else []
    if len(tokens) < 3:
        return None
    index = rng.choice([0] + [1, 2, 3][: len(tokens) - 1] * 4)
    start, end = tokens[index]
    old = bytes(data[start:end])
    value = rng.choice(_PNM_MAGIC if index == 0 else _PNM_EXTREMES)
    data[start:end] = value
    name = ["magic", "width", "height", "scale" if old.startswith(b"P") and data[1:2] in b"fF" else "maxval"][index]
    return f"header {name} {old.decode('latin1')!r} -> {value.decode('latin1')!r}"


# .npy headers


def npy_parts(data):
    """(major version, header text, offset of the data) or None."""
    if not data.startswith(b"\x93NUMPY") or len(data) < 10:
        return None
    major = data[6]
    width = 2 if major == 1 else 4
    length = _u(data, 8, width, "little")
    start = 8 + width
    return major, bytes(data[start : start + length]).decode("latin1"), start + length


_NPY_SHAPES = ["()", "(0,)", "(0, 24)", "(16, 0, 3)", "(2147483647, 2147483647)", "(1000000000000,)",
               "(100000, 100000)", "(16, 24, 100000)", "(-1, 24)", "(9223372036854775807, 2)", "(24, 16)",
               "(16, 24, 1)", "(1, 16, 24)", "(16, 24, 3, 2)", "(1026, 1)", "(1, 1026)", "(5,)", "(16.0, 24)",
               "(16, 'a')", "(True, 24)", "(65536, 65536, 4)", "(3, 3)", "(1, 1)", "None", "(2**31, 2)"]
_NPY_DESCRS = ["'|O'", "'<c16'", "'<M8[s]'", "'|V8'", "'<U4'", "'|S3'", "'>f8'", "'<f2'", "'|b1'", "'<i8'",
               "'<u2'", "'|u1'", "'<f16'", "'object'", "[('a', '<f4')]", "'<f4'", "'bogus'", "5", "'>u4'"]


def mutate_npy(data, seed, rng):
    parts = npy_parts(data)
    if parts is None:
        return None
    major, header, data_start = parts
    width = 2 if major == 1 else 4
    how = rng.randrange(8)
    if how < 3:
        new = rng.choice(_NPY_SHAPES)
        text, n = re.subn(r"'shape':\s*\([^)]*\)", f"'shape': {new}", header)
        what = f"header shape set to {new}"
    elif how < 5:
        new = rng.choice(_NPY_DESCRS)
        text, n = re.subn(r"'descr':\s*'[^']*'", f"'descr': {new}", header)
        what = f"header dtype set to {new}"
    elif how == 5:
        new = rng.choice(["True", "1", "'yes'", "None"])
        text, n = re.subn(r"'fortran_order':\s*\w+", f"'fortran_order': {new}", header)
        what = f"header fortran_order set to {new}"
    elif how == 6:
        text, what = rng.choice([("[]", "header is a list"), ("{'descr': '<f4'", "header dict unclosed"),
                                 ("{'descr': '<f4', 'shape': (3, 3)}", "header without fortran_order"),
                                 (header.rstrip()[:-1] + "'extra': 1, }", "header with an extra key"),
                                 ("{" + "(" * 200 + ")" * 200 + "}", "header nested 200 deep")])
        n = 1
    else:
        if rng.random() < 0.5:
            value = rng.choice([0, 1, max(len(header) - 1, 0), len(header) + 1, (1 << (8 * width)) - 1])
            data[8 : 8 + width] = value.to_bytes(width, "little")
            return f"header length field {len(header)} -> {value}"
        version = rng.choice([(2, 0), (3, 0), (0, 0), (255, 255), (1, 9)])
        data[6:8] = bytes(version)
        return f"format version 1.0 -> {version[0]}.{version[1]}"
    if not n:
        return None
    text = text.rstrip("\n ")
    size = len(header) if len(text) + 1 <= len(header) else (len(text) + 1 + 8 + width + 63) // 64 * 64 - 8 - width
    padded = text.ljust(size - 1) + "\n"
    data[8 : data_start] = len(padded).to_bytes(width, "little") + padded.encode("latin1")
    return what


# text kernels

_NUMBER = re.compile(rb"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_TEXT_EXTREMES = [b"1e308", b"-1e308", b"1e309", b"-1e309", b"nan", b"inf", b"-inf", b"1e-320", b"0", b"-0",
                  b"9" * 400, b"1" * 5000, b"0x10", b"1_000", "\u0661".encode(), "\u22121".encode(), b"1e", b"--1",
                  b"+.", b"1.7976931348623157e308", b"3.4028235e38", b"-3.5e38", b"4294967296"]
_MAT_HEADER_EXTREMES = [b"0", b"-3", b"3.5", b"1e308", b"2147483648", b"nan", b"inf", b"1e-320", b"-0",
                        b"99999999999999999999", b"1026", b"1e309"]


def mutate_text_number(data, seed, rng):
    numbers = list(_NUMBER.finditer(data))
    if not numbers:
        return None
    if seed.fmt == "MAT" and rng.random() < 0.5:  # the header: width height [scale [offset]]
        first_line = data.split(b"\n", 1)[0]
        header = [m for m in numbers if m.end() <= len(first_line)] or numbers
        match = rng.choice(header)
        value = rng.choice(_MAT_HEADER_EXTREMES + _TEXT_EXTREMES[:8])
    else:
        match = rng.choice(numbers)
        value = rng.choice(_TEXT_EXTREMES)
    old = match.group()  # before the change: a match reads the bytearray it was found in
    data[match.start() : match.end()] = value
    shown = value if len(value) <= 20 else value[:8] + b"...(%d digits)" % len(value)
    return f"number {old.decode()!r} at {match.start()} -> {shown.decode('utf-8', 'replace')!r}"


def mutate_plain_pnm(data, seed, rng):
    """A sample of a plain (text) PGM or PPM set to an extreme."""
    if seed.fmt != "PPM" or seed.data[1:2] not in (b"1", b"2", b"3"):
        return None
    return mutate_text_number(data, seed, rng)


def _rows(data):
    return [line for line in bytes(data).split(b"\n") if _NUMBER.search(line.split(b"#", 1)[0])]


def mutate_text_shape(data, seed, rng):
    rows = _rows(data)
    if seed.fmt == "MAT":
        rows = rows[1:]
    if not rows:
        return None
    how = rng.randrange(4)
    if how == 0:
        count = rng.choice([1025, 1026, 5000])
        repeated = [rows[i % len(rows)] for i in range(count)]
        # A body an earlier mutation made huge (a 1 MB line), repeated, would take the
        # harness a gigabyte before MAX_INPUT_BYTES refused it (case 57457: MemoryError).
        if sum(map(len, repeated)) + count > MAX_INPUT_BYTES:
            return None
        text = b"\n".join(repeated) + b"\n"
        what = f"{count} rows"
    elif how == 1:
        count = rng.choice([1025, 1026, 4096])
        numbers = [m.group() for m in _NUMBER.finditer(rows[0][: 64 * count])]  # enough to repeat
        line = b" ".join(numbers[i % len(numbers)] for i in range(count))
        text = b"\n".join([line] * rng.choice([1, 3])) + b"\n"
        what = f"rows of {count} numbers"
    elif how == 2:
        victim = rng.randrange(len(rows))
        rows = list(rows)
        rows[victim] = rows[victim] + rng.choice([b" 1", b",", b" 1 2 3", b" #"])
        rows[victim] = rows[victim] if rng.random() < 0.5 else b" ".join(rows[victim].split()[:-1])
        text = b"\n".join(rows) + b"\n"
        what = f"row {victim} made ragged"
    else:
        text, what = rng.choice([(b"", "empty file"), (b"\n \n\t\n", "blank lines only"),
                                 (b"# only a comment\n", "comments only"), (b"1", "a single number, no newline"),
                                 (b"1 2 1\n" * 3 + b"\x00\n", "a NUL line"), (b"1 2 1" * 200_000, "a 1 MB line")])
    if seed.fmt == "MAT" and how < 3:
        header = bytes(data).split(b"\n", 1)[0]
        text = header + b"\n" + text
    data[:] = text
    return f"body replaced: {what}"


def mutate_text_bytes(data, seed, rng):
    how = rng.randrange(6)
    if how == 0:
        data[:] = bytes(data).replace(b"\n", rng.choice([b"\r\n", b"\r", b"\x0c", b"\x1e", "\u2028".encode()]))
        return "line endings changed"
    pos = rng.randrange(len(data) + 1)
    piece = [b"\xef\xbb\xbf", b"\xff\xfe", b"\x80", b"\x00", b"\xc3\x28", "\u00a01".encode(), b"#", b";"][how]
    if how == 1:
        pos = 0
    data[pos:pos] = piece
    return f"{piece!r} inserted at {pos}"


# JSON kernels

_JSON_SPECIAL = ["NaN", "Infinity", "-Infinity", "1e309", "-1e309", "1e-400", "true", "null", '"1"', "[]", "{}",
                 "1" + "0" * 400, "-" + "9" * 400, "1" * 5000, "1.7976931348623157e308", "3.5e38", "0"]


def _json_kernel(data):
    try:
        value = json.loads(bytes(data))
    except (ValueError, RecursionError):
        return None
    kernel = value.get("kernel") if isinstance(value, dict) else value
    if not (isinstance(kernel, list) and kernel and all(isinstance(r, list) and r for r in kernel)):
        return None
    return kernel, value if isinstance(value, dict) else {}


def mutate_json(data, seed, rng):
    parsed = _json_kernel(data)
    if parsed is None:
        return None
    kernel, extra = parsed
    rows = [", ".join(json.dumps(v) for v in row) for row in kernel]
    how = rng.randrange(7)
    if how == 0:  # deep nesting
        depth = rng.choice([3, 64, 999, 1000, 5000, 100_000])
        text = "[" * depth + "1" + "]" * depth
        if rng.random() < 0.5:
            text = '{"kernel": ' + text + "}"
        what = f"a list nested {depth} deep"
    elif how in (1, 2):  # a number set to an extreme
        special = rng.choice(_JSON_SPECIAL)
        r, c = rng.randrange(len(rows)), rng.randrange(len(kernel[0]))
        cells = [[json.dumps(v) for v in row] for row in kernel]
        if c < len(cells[r]):
            cells[r][c] = special
        text = "[" + ", ".join("[" + ", ".join(row) + "]" for row in cells) + "]"
        what = f"entry [{r}][{c}] set to {special[:12]}{'...' if len(special) > 12 else ''}"
    elif how == 3:  # divisor and offset set to extremes
        key = rng.choice(["divisor", "offset"])
        special = rng.choice([*_JSON_SPECIAL, "-0.0", "1e-320", "5e-324"])
        text = '{"kernel": ' + json.dumps(kernel) + f', "{key}": {special}}}'
        what = f"{key} set to {special[:12]}{'...' if len(special) > 12 else ''}"
    elif how == 4:  # shapes
        count = rng.choice([1025, 1026, 3000])
        text, what = rng.choice([
            ("[" + ", ".join("[" + rows[i % len(rows)] + "]" for i in range(count)) + "]", f"{count} rows"),
            ("[[" + ", ".join(["1"] * count) + "]]", f"one row of {count}"),
            ("[]", "an empty list"), ("[[]]", "an empty row"), ("[[1], [1, 2]]", "ragged rows"),
            ("[[[1]]]", "a 3-D list"), ("5", "a bare number"), ('"1 2 1"', "a string"), ("null", "null"),
            ('{"kernel": {"0": [1]}}', "kernel as an object"), ('{"divisor": 2}', "no kernel"),
            ('{"kernel": [[1]], "extra": 1}', "an unknown key"),
            ('{"kernel": [[1]], "kernel": [[1, 2], [3]]}', "the kernel key twice"),
        ])
    elif how == 5:  # text-level damage
        raw = json.dumps({"kernel": kernel, **{k: v for k, v in extra.items() if k != "kernel"}})
        cut = rng.randrange(len(raw))
        text, what = rng.choice([(raw[:cut], f"cut after {cut} characters"),
                                 ("\ufeff" + raw, "a byte order mark first"),
                                 (raw.replace(",", ",\n" * 3), "newlines after every comma"),
                                 (" " * 1_000_000 + raw, "a megabyte of spaces first")])
    else:
        text = json.dumps(kernel).replace("1", rng.choice(["1.0e+0", "0.1e1", "10e-1"]))
        what = "numbers respelt"
    data[:] = text.encode("utf-8")
    return f"JSON: {what}"


# which mutators apply to which seeds, with weights

_BINARY = [(flip_bits, 15), (set_bytes, 5), (truncate, 12), (insert_bytes, 8), (delete_range, 4),
           (duplicate_range, 5)]
_MUTATORS = {
    "PNG": [(mutate_field, 30), (mutate_span, 6), (mutate_png_chunk, 10), (mutate_png_idat, 10), *_BINARY],
    "image": [(mutate_field, 35), (mutate_span, 8), *_BINARY],
    "PNM": [(mutate_pnm_header, 35), (mutate_plain_pnm, 8), *_BINARY],
    "NPY": [(mutate_npy, 45), *_BINARY],
    "TEXT": [(mutate_text_number, 35), (mutate_text_shape, 20), (mutate_text_bytes, 15), *_BINARY],
    "MAT": [(mutate_text_number, 40), (mutate_text_shape, 15), (mutate_text_bytes, 10), *_BINARY],
    "JSON": [(mutate_json, 50), (mutate_text_number, 10), (mutate_text_bytes, 5), *_BINARY],
}
# Structure-aware mutators run before byte-level ones, which would move the fields.
_STRUCTURAL = {mutate_field, mutate_pnm_header, mutate_plain_pnm, mutate_span, mutate_png_chunk, mutate_png_idat,
               mutate_npy, mutate_text_number, mutate_text_shape, mutate_json}


def mutate(seed, rng):
    """The seed's bytes with one to three mutations, and what each did."""
    family = {"PPM": "PNM"}.get(seed.fmt, seed.fmt)
    family = family if family in _MUTATORS else "image"
    choices, weights = zip(*_MUTATORS[family], strict=True)
    picked = []
    for _ in range(rng.choice([1, 1, 1, 1, 2, 2, 3])):
        picked.append(rng.choices(choices, weights)[0])
    picked.sort(key=lambda m: m not in _STRUCTURAL)
    data, recipe = bytearray(seed.data), []
    for mutator in picked:
        for _ in range(5):
            before = bytes(data)
            what = mutator(data, seed, rng)
            if what is not None and len(data) > MAX_INPUT_BYTES:  # grown by repeating what grew before
                data[:], what = before, None
            if what is not None:
                recipe.append(what)
                break
            mutator = rng.choices(choices, weights)[0]
    return bytes(data), recipe


# --------------------------------------------------------------------------- cases


@dataclass
class Case:
    """One run of the CLI: the files written into a fresh folder, and the arguments."""

    index: int
    seed: str
    recipe: list
    files: dict  # file name -> bytes, written into the case folder
    target: str  # the mutated file among them
    args: list  # CLI arguments, relative to the case folder
    output: str  # the output file name, or "-" for standard output
    out_format: str  # the format an output must decode as (Pillow's name, or NPY)
    stdin: bytes = None
    previous: bytes = None  # the output file's content before the run, if it existed

    @property
    def digest(self):
        return hashlib.sha256(self.files[self.target]).hexdigest()[:16]

    @property
    def command(self):
        line = "imgconv " + shlex.join(self.args)
        return f"{line} < {shlex.quote(self.target)}" if self.stdin is not None else line

    def describe(self):
        there = f" ({self.output} exists before the run)" if self.previous is not None else ""
        return (f"case {self.index} (seed {self.seed}, input sha256 {self.digest}...): {self.command}{there}\n"
                f"    mutations: {'; '.join(self.recipe) or 'none'}")


_IMAGE_COMMANDS = [["identity"], ["identity"], ["blur", "-s", "1"], ["sobel"], ["box", "-r", "1"], ["sharpen"],
                   ["convolve", "-k", "1 2 1; 2 4 2; 1 2 1", "--normalize"]]
_IMAGE_OPTIONS = [[]] * 8 + [["--frame", "0"], ["--depth", "8"], ["--depth", "16"], ["--view", "side-by-side"],
                             ["--no-auto-orient"], ["--strip"], ["--frame", "1"]]


@functools.cache
def _pixel_limit(command):
    """``["--max-pixels", N]`` if this command (or the group) has the option, else []."""
    from imgconv.cli import cli

    names = {p.name for p in cli.params} | {p.name for p in cli.commands[command].params}
    return ["--max-pixels", str(MAX_PIXELS)] if "max_pixels" in names else []


def has_max_pixels():
    return bool(_pixel_limit("blur"))


def _out_format(name):
    from imgconv.io import formats

    return formats.format_of_extension(os.path.splitext(name)[1])


PREVIOUS_OUTPUT = b"an output of an earlier run, which a failing run must leave alone\n"


def make_case(index, seeds=None):
    """Case ``index``: deterministic for a given `SEED`."""
    from imgconv.io import formats

    seeds = seeds or build_seeds()
    seed = seeds[index % len(seeds)]
    rng = random.Random(f"{SEED}:{index}")
    data, recipe = mutate(seed, rng)
    if seed.kind == "kernel":
        target = f"k{seed.suffix}" if seed.suffix else "kernel"
        command = ["conv-layer"] if rng.random() < 0.1 else ["convolve"]
        output = "out.npy" if command == ["conv-layer"] else rng.choice(["out.png", "out.png", "out.tif", "out.npy"])
        args = [*command, "-k", target, "in.png", output]
        if command == ["convolve"]:
            args += rng.choice([[], [], [], ["--normalize"], ["--correlate"]])
        args += _pixel_limit(command[0])
        files = {"in.png": clean_image(), target: data}
        previous = PREVIOUS_OUTPUT if rng.random() < 0.2 else None
        return Case(index, seed.name, recipe, files, target, args, output, _out_format(output), None, previous)
    target = "in" + seed.suffix
    command = list(rng.choice(_IMAGE_COMMANDS))
    roll = rng.random()
    if roll < 0.45:
        output = "out" + seed.suffix
    elif roll < 0.92:
        extensions = [e for es in formats.available().values() for e in es[:1]]
        output = "out" + rng.choice([".png", ".png", ".tif", ".npy", *extensions])
    else:
        output = "-"
    stdin = data if rng.random() < 0.08 else None
    args = command + rng.choice(_IMAGE_OPTIONS) + _pixel_limit(command[0])
    if output == "-":
        fmt = rng.choice(["png", "tiff", "npy", "webp", "gif", "jpeg"])
        args += ["--format", fmt]
        out_format = formats.names()[fmt]
    else:
        out_format = _out_format(output)
    args += ["-" if stdin is not None else target, output]
    previous = PREVIOUS_OUTPUT if output != "-" and rng.random() < 0.2 else None
    return Case(index, seed.name, recipe, {target: data}, target, args, output, out_format, stdin, previous)


# --------------------------------------------------------------------------- running and checking


class CaseTimeout(BaseException):
    """The soft time limit passed. A BaseException, so that no ``except Exception`` in
    imgconv swallows it."""


@dataclass
class Outcome:
    status: int = None
    stdout: bytes = b""
    stderr: str = ""  # what Python code wrote on sys.stderr
    raw_output: str = ""  # what C code wrote on descriptors 1 and 2 itself
    exception: str = None  # a traceback that escaped the CLI: type, message and where
    exception_type: str = None
    warnings: list = field(default_factory=list)  # Python warnings and log records a normal run would print
    new_files: list = field(default_factory=list)  # files in the folder that were not inputs
    changed_inputs: list = field(default_factory=list)  # inputs, or a previous output a failure changed
    leaked_fds: int = 0
    peak_growth: int = None  # bytes of resident memory the case added at its peak (None: unknown)
    memory_error: str = None  # a MemoryError behind the error imgconv reported
    decode_error: str = None
    seconds: float = 0.0
    timed_out: bool = False


# Categories Python's default warning filters hide from a command-line program.
_HIDDEN_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning)


@contextlib.contextmanager
def _redirect_fds():
    """Descriptors 1 and 2 into a temporary file: what C libraries print on their own."""
    with tempfile.TemporaryFile() as capture:
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(capture.fileno(), 1)
            os.dup2(capture.fileno(), 2)
            yield capture
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@contextlib.contextmanager
def _soft_timeout(seconds):
    if seconds is None or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise CaseTimeout(f"over {seconds:g} s")

    try:
        previous = signal.signal(signal.SIGALRM, expire)
    except ValueError:  # not the main thread
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _LastResort(logging.Handler):
    """On the root logger: records what logging's last resort would print on stderr in
    a real run, a record of WARNING or above that no other handler, on its logger or a
    parent (the root included), takes."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.printed = []

    def emit(self, record):
        logger = logging.getLogger(record.name)
        while logger is not None:
            if any(handler is not self for handler in logger.handlers):
                return
            logger = logger.parent if logger.propagate else None
        self.printed.append(f"log {record.levelname} from {record.name}: {record.getMessage()[:200]}")


class _EntryPoint:
    """What the ``imgconv`` script runs, ``imgconv.cli:main``, in the shape CliRunner
    invokes: main() reads its arguments from sys.argv and sets up the process (signal
    handlers, logging) before it runs the Click group. Restores what it changes."""

    name = "imgconv"

    def main(self, args=(), prog_name=None, **extra):
        from imgconv import cli as module

        saved = sys.argv, signal.getsignal(signal.SIGTERM)
        sys.argv = ["imgconv", *args]
        try:
            return module.main()
        finally:
            sys.argv = saved[0]
            signal.signal(signal.SIGTERM, saved[1])


def _status(key):
    """A ``/proc/self/status`` value in bytes (VmRSS, VmHWM, VmSize), or None."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_peak_rss():
    """Make VmHWM the current resident size, so that it then measures this case alone."""
    try:
        with open("/proc/self/clear_refs", "w") as file:
            file.write("5")
        return True
    except OSError:
        return False


@contextlib.contextmanager
def _address_space_limit(extra):
    """RLIMIT_AS lowered to the current address space plus ``extra`` (never raised)."""
    import resource

    size = _status("VmSize")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    target = None if size is None else size + extra
    lower = target is not None and (soft == resource.RLIM_INFINITY or soft > target)
    if lower:
        resource.setrlimit(resource.RLIMIT_AS, (target, hard))
    try:
        yield
    finally:
        if lower:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _open_fds():
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


def decode_error(data, fmt):
    """Why ``data`` does not decode as a whole ``fmt`` file (every frame), or None."""
    if not data:
        return "empty output"
    logging.disable(logging.CRITICAL)  # tifffile logs what it finds odd; decoding is the test
    try:
        if fmt == "NPY":
            np.load(io.BytesIO(data), allow_pickle=False)
            return None
        if fmt == "TIFF":
            import tifffile

            with tifffile.TiffFile(io.BytesIO(data)) as tiff:
                if not tiff.pages:
                    return "a TIFF without pages"
                for page in tiff.pages:
                    page.asarray()
            return None
        from PIL import Image

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                if image.format != fmt:
                    return f"a {image.format} file, {fmt} was asked for"
                for index in range(getattr(image, "n_frames", 1)):
                    image.seek(index)
                    image.load()
        return None
    except Exception as exc:  # any failure to decode is the finding
        return f"{type(exc).__name__}: {exc}"
    finally:
        logging.disable(logging.NOTSET)


def _where(exc):
    """``Type: message`` and the innermost imgconv frame (else the innermost frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    package = f"{os.sep}imgconv{os.sep}"
    ours = [f for f in frames if package in f.filename and f"{os.sep}site-packages{os.sep}" not in f.filename]
    frame = (ours or frames)[-1]
    message = str(exc).splitlines()[0][:200] if str(exc) else ""
    place = f"{Path(frame.filename).parent.name}/{Path(frame.filename).name}:{frame.lineno} in {frame.name}"
    last = frames[-1]
    inner = "" if frame is last else f", raised in {Path(last.filename).name}:{last.lineno} {last.name}"
    return f"{type(exc).__name__}: {message} (at {place}{inner})"


def _memory_error_behind(exc):
    """The MemoryError an exit was raised in handling of, if any: imgconv's
    ``raise ImageReadError(...) from None`` hides it from the user, not from
    ``__context__``."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, MemoryError):
            return _where(exc)
        exc = exc.__cause__ or exc.__context__
    return None


def run_case(case, folder, timeout=SOFT_TIMEOUT):
    """Run ``case`` in-process in the new folder ``folder`` (its working directory), with
    a private, empty temporary folder (``tempfile.tempdir`` and ``$TMPDIR``) beside it."""
    from click.testing import CliRunner

    folder = Path(folder)
    folder.mkdir(parents=True)
    private_tmp = folder.with_name(folder.name + "-tmp")
    private_tmp.mkdir()
    for name, data in case.files.items():
        (folder / name).write_bytes(data)
    if case.previous is not None:
        (folder / case.output).write_bytes(case.previous)
    outcome = Outcome()
    root = logging.getLogger()
    last_resort = _LastResort()
    saved = root.handlers, tempfile.tempdir, os.environ.get("TMPDIR"), os.getcwd()
    fds_before = _open_fds()
    rss_before = _status("VmRSS") if _reset_peak_rss() else None
    start = time.perf_counter()
    with _redirect_fds() as raw, warnings.catch_warnings(record=True) as caught, _address_space_limit(ADDRESS_SPACE):
        root.handlers, tempfile.tempdir, os.environ["TMPDIR"] = [last_resort], str(private_tmp), str(private_tmp)
        os.chdir(folder)
        try:
            warnings.simplefilter("always")
            with _soft_timeout(timeout):
                result = CliRunner().invoke(_EntryPoint(), case.args, input=case.stdin, catch_exceptions=True)
        except CaseTimeout:
            outcome.timed_out = True
            result = None
        finally:
            root.handlers, tempfile.tempdir = saved[:2]
            if saved[2] is None:
                del os.environ["TMPDIR"]
            else:
                os.environ["TMPDIR"] = saved[2]
            os.chdir(saved[3])
        raw.seek(0)
        fd_text = raw.read().decode("utf-8", "replace")
    outcome.seconds = time.perf_counter() - start
    peak = _status("VmHWM")
    if rss_before is not None and peak is not None:
        outcome.peak_growth = peak - rss_before
    outcome.warnings = [f"{w.category.__name__}: {w.message} ({Path(w.filename).name}:{w.lineno})"
                        for w in caught if not issubclass(w.category, _HIDDEN_WARNINGS)] + last_resort.printed
    outcome.raw_output = fd_text
    if result is not None:
        outcome.status = result.exit_code
        outcome.stdout = result.stdout_bytes
        outcome.stderr = result.stderr_bytes.decode("utf-8", "replace")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            outcome.exception_type = type(result.exception).__name__
            outcome.exception = _where(result.exception)
        elif result.exception is not None:
            outcome.memory_error = _memory_error_behind(result.exception)
    outcome.leaked_fds = _open_fds() - fds_before
    present = sorted(p.name for p in folder.iterdir())
    keep = set(case.files) | ({case.output} if case.previous is not None else set())
    outcome.new_files = [name for name in present if name not in keep]
    temporary = [f"$TMPDIR/{p.name}" for p in private_tmp.iterdir()]
    outcome.new_files += temporary
    if not temporary:
        private_tmp.rmdir()
    outcome.changed_inputs = [name for name, data in case.files.items()
                              if not (folder / name).is_file() or (folder / name).read_bytes() != data]
    output = folder / case.output
    if case.previous is not None and outcome.status != 0 and (
            not output.is_file() or output.read_bytes() != case.previous):
        outcome.changed_inputs.append(f"{case.output} (there before the failing run)")
    if outcome.status == 0:
        data = outcome.stdout if case.output == "-" else output.read_bytes() if output.is_file() else b""
        outcome.decode_error = decode_error(data, case.out_format)
    return outcome


_ALLOCATION_FAILED = re.compile(r"unable to allocate|memoryerror|out of memory|cannot allocate memory|bad_alloc|"
                                r"allocation failed|failed to allocate", re.IGNORECASE)


def check(case, outcome):
    """The findings of one case: [(kind, detail)], empty when it passed."""
    found = []
    if outcome.timed_out:
        return [("hang", f"still running after {outcome.seconds:.1f} s")]
    if outcome.exception is not None:
        kind = "memory" if outcome.exception_type == "MemoryError" else "traceback"
        found.append((kind, outcome.exception))
    elif "Traceback (most recent call last)" in outcome.stderr:
        found.append(("traceback", outcome.stderr.strip()[-500:]))
    elif outcome.status not in (0, 1, 2):
        found.append(("bad exit", f"exit status {outcome.status}: {outcome.stderr.strip()[:200]!r}"))
    lines = outcome.stderr.splitlines()
    noisy = [line for line in lines if "warning" in line.lower()]
    raw = [f"printed by C code: {line}" for line in outcome.raw_output.splitlines() if line.strip()]
    if outcome.warnings or noisy or raw:
        found.append(("warning text", "; ".join(outcome.warnings + noisy + raw)[:500]))
    failed = outcome.status != 0
    if outcome.exception is None:
        if failed and (len(lines) != 1 or not lines[0].startswith("imgconv: error: ")):
            found.append(("error message", f"exit status {outcome.status}, stderr {outcome.stderr[:400]!r}"))
        elif failed and outcome.stdout:
            found.append(("error message", f"{len(outcome.stdout)} bytes on stdout beside the error"))
        elif not failed and outcome.stderr and not noisy:
            found.append(("warning text", f"stderr on success: {outcome.stderr[:300]!r}"))
        elif not failed and case.output != "-" and outcome.stdout:
            found.append(("warning text", f"stdout on success: {outcome.stdout[:200]!r}"))
    expected = [] if failed or case.output == "-" else [case.output]
    extra = [name for name in outcome.new_files if name not in expected or name.endswith(".tmp")]
    if extra:
        found.append(("leftover file", f"left {extra} after exit status {outcome.status}"))
    if outcome.changed_inputs:
        found.append(("clobbered file", f"changed {outcome.changed_inputs}"))
    if not failed and outcome.decode_error:
        found.append(("undecodable output", outcome.decode_error))
    if outcome.leaked_fds > 0:
        found.append(("leaked fd", f"{outcome.leaked_fds} more file descriptor(s) open after the case"))
    if outcome.peak_growth is not None and outcome.peak_growth > MEMORY_BUDGET:
        found.append(("memory", f"resident memory grew by {outcome.peak_growth >> 20} MB"))
    elif failed and (outcome.memory_error or _ALLOCATION_FAILED.search(outcome.stderr)):
        found.append(("memory", f"refused only when memory ran out ({outcome.memory_error or 'says the message'}): "
                                f"{outcome.stderr.strip()[:300]}"))
    return found


def main_kind(found):
    return min((kind for kind, _ in found), key=KINDS.index)


def report(case, found):
    details = "\n".join(f"    {kind}: {detail}" for kind, detail in found)
    return f"{case.describe()}\n{details}\n    reproduce: .venv/bin/python benchmarks/fuzz.py --show {case.index}"


# --------------------------------------------------------------------------- the tests


@pytest.fixture(scope="module")
def seeds():
    return build_seeds()


def test_every_format_and_kernel_kind_has_seeds(seeds):
    from imgconv.io import formats

    image_formats = {s.fmt for s in seeds if s.kind == "image"}
    assert set(formats.available()) <= image_formats
    kernel_suffixes = {s.suffix for s in seeds if s.kind == "kernel"}
    assert {".txt", ".csv", ".kernel", "", ".mat", ".npy", ".json"} <= kernel_suffixes
    for seed in seeds:  # the structure-aware mutators find their fields in every seed
        if seed.fmt in FIELD_PARSERS:
            assert len(seed.fields) >= 4, seed.name
        if seed.fmt == "NPY":
            assert npy_parts(seed.data) is not None, seed.name


@pytest.mark.parametrize("name", [s.name for s in build_seeds()])
def test_every_seed_is_read_whole(tmp_path, name):
    """Unmutated, each seed goes through, so what fails below fails for the mutation."""
    seed = next(s for s in build_seeds() if s.name == name)
    if seed.kind == "kernel":
        target = f"k{seed.suffix}" if seed.suffix else "kernel"
        case = Case(-1, name, [], {"in.png": clean_image(), target: seed.data}, target,
                    ["convolve", "-k", target, "in.png", "out.png"], "out.png", "PNG")
    else:
        target = "in" + seed.suffix
        case = Case(-1, name, [], {target: seed.data}, target, ["identity", target, "out.npy"], "out.npy", "NPY")
    outcome = run_case(case, tmp_path / "case")
    assert outcome.status == 0 and not check(case, outcome), (outcome.stderr, check(case, outcome))


def test_cases_are_reproducible(seeds):
    for index in (0, 1, 977):
        first, again = make_case(index, seeds), make_case(index, seeds)
        assert (first.args, first.digest, first.recipe) == (again.args, again.digest, again.recipe)


@pytest.mark.parametrize("batch", range(BATCHES))
@pytest.mark.slow
def test_fuzz(batch, tmp_path, seeds):
    """Cases BATCH * batch to BATCH * (batch + 1) - 1: see the module docstring."""
    failures = []
    for index in range(batch * BATCH, (batch + 1) * BATCH):
        case = make_case(index, seeds)
        found = check(case, run_case(case, tmp_path / f"case{index}"))
        if found:
            failures.append(report(case, found))
    assert not failures, f"{len(failures)} of {BATCH} cases failed:\n" + "\n".join(failures)
