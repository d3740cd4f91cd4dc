"""imgconv's own PNG writer (imgconv/io/png.py) against Pillow's encoder, on real photographs.

png.py filters every row with "Up" (one vectorised subtraction) and deflates the whole
stream with libdeflate (through imagecodecs) on one core; Pillow chooses a filter for
each row (libpng's minimum-sum heuristic, nearly always Paeth on photographs) and
deflates on one core with the zlib it loads (its wheels link the system's libz.so.1).
This times both, to bytes in memory, at levels 1, 2 (imgconv's DEFAULT_COMPRESS_LEVEL)
and 6 (Pillow's default), and prints each one's time and size and their ratios to
Pillow's at the same level, with the alternatives png.py was chosen over.

The photographs are those of /work/shared/images (scikit-image's sample data), some
upscaled to 3840x2160 with Pillow's LANCZOS, each as it is and blurred the way
`imgconv blur -r 5 -s 3` blurs: RGB at 4K and at their own size, grey (L) at 4K, RGBA
at 4K (the photo with a soft vignette as alpha), 16-bit grey (I;16) and 16-bit RGB. The
16-bit ones are upscaled in floating point, so that their low bytes are real detail,
not copies of the high bytes. Pillow cannot write 16-bit RGB: there the reference is
libpng through imagecodecs (already one of imgconv's dependencies), marked "*".

Variants:

- Pillow: Image.save(format="PNG", compress_level=L, optimize=False).
- png.py: imgconv.io.png.encode_png(level=L): Up, then libdeflate, one core.
- Sub t=N, Up t=N (+zlib-ng, +isal): the rows filtered with "Sub" (each byte minus the
  byte to its left; the writer png.py was before) or "Up", deflated in pieces of 2 MB
  on every core, each ended by a sync flush and joined into one zlib stream, with
  Python's zlib, zlib_ng.zlib_ng (`pip install zlib-ng`) or isal.isal_zlib (`pip install
  isal`), the last two left out when not installed. ISA-L has levels 0-3 only: levels
  1, 2, 6 run as 1, 2, 3.
- libpng (imagecodecs): imagecodecs.png_encode, on the 16-bit photos only.

Times are the best of several runs, in blocks taken in turns with a warm-up after a
pause, as in engine_vs_peers.py. Every encoding is decoded again (by Pillow; by libpng
for 16-bit RGB, which Pillow reads as 8 bits) and must give back the same samples, and
png.py must write the same bytes whatever its thread count.

    .venv/bin/python benchmarks/png_writer.py [--rounds 2] [--repeats 2]
"""

import argparse
import io
import math
import os
import platform
import struct
import types
import zlib
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image, features
from timing import best_times

import imgconv
import imgconv.io.png as png
from imgconv.io.chunks import PNG_SIGNATURE, chunk
from imgconv.vocabulary import DEFAULT_COMPRESS_LEVEL

try:
    import imagecodecs
except ImportError:
    imagecodecs = None
try:
    from zlib_ng import zlib_ng
except ImportError:
    zlib_ng = None
try:
    import isal
    from isal import isal_zlib
except ImportError:
    isal = isal_zlib = None

IMAGES = Path("/work/shared/images")
LEVELS = tuple(sorted({1, 2, DEFAULT_COMPRESS_LEVEL, 6}))
UHD = (3840, 2160)
CPUS = os.cpu_count() or 1
SUB, UP = 1, 2  # PNG filter types
PIECE_BYTES = 1 << 21  # about 2 MB of rows a piece, as png.py had


# -- the photographs ---------------------------------------------------------------------

def _rgb(name, size=None):
    with Image.open(IMAGES / name) as image:
        image = image.convert("RGB")
        return image if size is None else image.resize(size, Image.LANCZOS)


def _deep(image, size):
    """16-bit samples of an 8-bit image, resized in floating point (Pillow mode F)."""
    planes = [np.asarray(band.convert("F").resize(size, Image.LANCZOS)) for band in image.split()]
    samples = np.stack(planes, axis=-1) if len(planes) > 1 else planes[0]
    return np.clip(np.rint(samples * 257), 0, 65535).astype(np.uint16)


def _vignette(width, height):
    """A soft round alpha: opaque in the middle, fading to clear in the corners."""
    y, x = np.ogrid[-1 : 1 : height * 1j, -1 : 1 : width * 1j]
    distance = np.sqrt(x * x + y * y) / math.sqrt(2)
    return np.clip(np.rint(255 * (1 - distance**2) ** 2), 0, 255).astype(np.uint8)


def photographs():
    """(name, PNG mode, samples) as they are; blurring comes later."""
    yield "chelsea 4K RGB", "RGB", np.asarray(_rgb("chelsea.png", UHD))
    yield "rocket 4K RGB", "RGB", np.asarray(_rgb("rocket.jpg", UHD))
    yield "astronaut 512x512 RGB", "RGB", np.asarray(_rgb("astronaut.png"))
    yield "retina 1411x1411 RGB", "RGB", np.asarray(_rgb("retina.jpg"))
    yield "coffee 4K grey", "L", np.asarray(_rgb("coffee.png", UHD).convert("L"))
    hubble = np.asarray(_rgb("hubble_deep_field.jpg", UHD))
    yield "hubble 4K RGBA", "RGBA", np.dstack([hubble, _vignette(*UHD)])
    retina = _rgb("retina.jpg").convert("L")
    yield "retina 2822x2822 grey 16-bit", "I;16", _deep(retina, (2 * retina.width, 2 * retina.height))
    yield "coffee 4K RGB 16-bit", "RGB;16", _deep(_rgb("coffee.png"), UHD)


def blurred(samples):
    kernel = imgconv.kernels.gaussian(3, radius=5)
    return imgconv.convolve(samples, kernel, output=np.uint16 if samples.dtype == np.uint16 else np.uint8)


# -- the encoders ------------------------------------------------------------------------

def pillow(samples, level):
    buffer = io.BytesIO()
    Image.fromarray(samples).save(buffer, format="PNG", compress_level=level, optimize=False)
    return buffer.getvalue()


def _isal_as_zlib():
    levels = {0: 0, 1: 1, 2: 2}  # ISA-L: 0-3; anything above 2 is its best, 3

    def compressobj(level, method, wbits):
        return isal_zlib.compressobj(levels.get(level, 3), method, wbits)

    shim = types.SimpleNamespace(**{name: getattr(isal_zlib, name) for name in dir(isal_zlib)
                                    if not name.startswith("_")})
    shim.compressobj = compressobj
    return shim


def _filtered_rows(rows, start, stop, kind, pixel_bytes):
    """Rows start..stop filtered with Sub or Up, each behind its filter-type byte; the
    first row of the image has zeros above it."""
    piece = rows[start:stop]
    raw = np.empty((piece.shape[0], piece.shape[1] + 1), np.uint8)
    raw[:, 0] = kind
    raw[:, 1:] = piece
    if kind == SUB:
        raw[:, 1 + pixel_bytes :] -= piece[:, :-pixel_bytes]
    elif start:
        raw[:, 1:] -= rows[start - 1 : stop - 1]
    else:
        raw[1:, 1:] -= piece[:-1]
    return raw


def _image_rows(samples, mode):
    colour_type, depth = png.COLOUR_TYPES[mode]
    height, width = samples.shape[:2]
    if depth == 16:
        samples = samples.astype(">u2")
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return np.ascontiguousarray(samples).view(np.uint8).reshape(height, -1), header


def _png_file(header, stream):
    return b"".join([PNG_SIGNATURE, *chunk(b"IHDR", header), *chunk(b"IDAT", stream),
                     *chunk(b"IEND", b"")])


def in_pieces(mode, kind, module=zlib):
    """The rows filtered with ``kind`` and deflated in pieces on every core, joined into
    one zlib stream (png.py's scheme before libdeflate, with Sub)."""
    def encode(samples, level):
        rows, header = _image_rows(samples, mode)
        height, pixel_bytes = rows.shape[0], rows.shape[1] // samples.shape[1]
        rows_per_piece = max(1, PIECE_BYTES // (rows.shape[1] + 1))

        def compress(start):
            raw = _filtered_rows(rows, start, min(start + rows_per_piece, height), kind, pixel_bytes)
            compressor = module.compressobj(level, zlib.DEFLATED, -15)
            data = compressor.compress(raw)
            last = start + rows_per_piece >= height
            data += compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
            return data, module.adler32(raw), raw.nbytes

        with ThreadPoolExecutor(CPUS) as pool:
            pieces = list(pool.map(compress, range(0, height, rows_per_piece)))
        checksum = 1
        for _, adler, length in pieces:
            checksum = _adler32_combine(checksum, adler, length)
        return _png_file(header, b"\x78\x01" + b"".join(data for data, _, _ in pieces) + struct.pack(">I", checksum))
    return encode


def _adler32_combine(first, second, second_length):
    """The Adler-32 of two byte strings joined, from theirs (zlib's adler32_combine)."""
    base = 65521
    remainder = second_length % base
    a1, b1 = first & 0xFFFF, first >> 16
    a2, b2 = second & 0xFFFF, second >> 16
    a = (a1 + a2 - 1) % base
    b = (b1 + b2 + remainder * a1 - remainder) % base
    return (b << 16) | a


def variants(mode):
    """(label, encode(samples, level)) for one PNG mode; the reference comes first."""
    deep = mode in ("I;16", "RGB;16")
    if mode != "RGB;16":
        yield "Pillow", pillow
    if deep and imagecodecs is not None:
        yield "libpng (imagecodecs)" + (" *" if mode == "RGB;16" else ""), \
            lambda samples, level: imagecodecs.png_encode(samples, level=level)
    yield "png.py", lambda samples, level: png.encode_png(samples, mode, level=level)
    for kind, name in ((SUB, "Sub"), (UP, "Up")):
        yield f"{name} t={CPUS}", in_pieces(mode, kind)
        if zlib_ng is not None:
            yield f"{name}+zlib-ng t={CPUS}", in_pieces(mode, kind, zlib_ng)
        if isal_zlib is not None:
            yield f"{name}+isal t={CPUS}", in_pieces(mode, kind, _isal_as_zlib())


def decoded(data, mode):
    if mode == "RGB;16":
        return imagecodecs.png_decode(data)
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        expected = {"I;16": ("I;16", "I")}.get(mode, (mode,))
        assert image.mode in expected, f"decoded as {image.mode}, not {mode}"
        return np.asarray(image)


# -- timing ------------------------------------------------------------------------------

def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="blocks of each variant, taken in turns")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs in a block (level 6: one fewer)")
    args = parser.parse_args()

    print(f"machine: {platform.machine()}, {CPUS} CPUs, load {os.getloadavg()[0]:.2f}, "
          f"Python {platform.python_version()}, numpy {np.__version__}")
    # Pillow's wheels are built for zlib-ng, but link libz.so.1, which manylinux leaves
    # to the system: the zlib that deflates is the one loaded at run time.
    built = getattr(Image.core, "zlib_ng_version", None)
    codecs = f"{imagecodecs.__version__} ({imagecodecs.deflate_version()})" if imagecodecs else "not installed"
    print(f"Pillow {Image.__version__} (deflates with zlib {features.version('zlib')}, the one it loads"
          f"{'; built for zlib-ng ' + built if built else ''}); "
          f"Python's zlib {zlib.ZLIB_RUNTIME_VERSION}; "
          f"zlib-ng module {zlib_ng.ZLIBNG_VERSION if zlib_ng else 'not installed'}; "
          f"isal {isal.__version__ + ' (ISA-L ' + isal.ISAL_VERSION + ')' if isal else 'not installed'}; "
          f"imagecodecs {codecs}")
    print(f"levels {LEVELS} (imgconv's default: {DEFAULT_COMPRESS_LEVEL}); best of {args.rounds} x {args.repeats} runs")

    chelsea = np.asarray(_rgb("chelsea.png", UHD))
    kernel = imgconv.kernels.gaussian(3, radius=5)
    blur_time, = best_times([lambda: imgconv.convolve(chelsea, kernel, output=np.uint8)], 3, 1)
    print(f"for scale: imgconv.convolve Gaussian r=5 s=3 on the 4K chelsea: {blur_time * 1000:.0f} ms\n")

    header = "| photo | variant | " + " | ".join(
        f"L{level} ms | L{level} bytes | L{level} time/ref | L{level} size/ref" for level in LEVELS) + " |"
    lines = [header, "|" + "---|" * (2 + 4 * len(LEVELS))]
    ratios = {}  # (label, level, blurred?) -> [(time ratio, size ratio)]
    for name, mode, original in photographs():
        for is_blurred in (False, True):
            samples = blurred(original) if is_blurred else original
            photo = f"{name}{', blurred' if is_blurred else ''}"
            encoders = list(variants(mode))
            cells = {label: [] for label, _ in encoders}
            for level in LEVELS:
                outputs = {label: encode(samples, level) for label, encode in encoders}
                for label, data in outputs.items():
                    back = decoded(data, mode)
                    assert back.dtype == samples.dtype and np.array_equal(back, samples), f"{photo}: {label} L{level}"
                repeats = args.repeats if level < 6 else max(1, args.repeats - 1)
                runs = [partial(encode, samples, level) for _, encode in encoders]
                times = best_times(runs, repeats, args.rounds)
                reference_time, reference_size = times[0], len(outputs[encoders[0][0]])
                for (label, _), seconds in zip(encoders, times, strict=True):
                    size = len(outputs[label])
                    cells[label] += [f"{seconds * 1000:.0f}", f"{size:,}", f"{seconds / reference_time:.2f}",
                                     f"{size / reference_size:.3f}"]
                    if mode != "RGB;16":
                        ratios.setdefault((label, level, is_blurred), []).append(
                            (seconds / reference_time, size / reference_size))
            for label, _ in encoders:
                lines.append(f"| {photo} | {label} | " + " | ".join(cells[label]) + " |")
            print(f"done: {photo} (load {os.getloadavg()[0]:.1f})", flush=True)

    print("\nEvery encoding decoded to the same samples.")
    print("ref: Pillow at the same level (* libpng through imagecodecs, for 16-bit RGB).\n")
    print("\n".join(lines))

    print("\nGeometric means of the ratios to Pillow at the same level, over the photos Pillow can write:\n")
    print("| variant | level | photos | time/Pillow | size/Pillow | as they are: time | size | blurred: time | size |")
    print("|---|---|---|---|---|---|---|---|---|")
    labels = list(dict.fromkeys(label for label, _, _ in ratios))
    for label in labels:
        for level in LEVELS:
            plain, blur = ratios.get((label, level, False), []), ratios.get((label, level, True), [])
            both = plain + blur
            means = [(geomean([t for t, _ in group]), geomean([s for _, s in group])) for group in (both, plain, blur)]
            print(f"| {label} | {level} | {len(both)} | " + " | ".join(f"{t:.2f} | {s:.3f}" for t, s in means) + " |")
    print(f"\nload at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
