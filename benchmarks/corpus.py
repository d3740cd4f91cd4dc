"""Every file of collections made to break decoders, through the CLI: how many runs end
in a clean one-line refusal or a success, how many in anything else, and whether each
lossless output holds the samples an independent reader reads from the input.

For each file under the folders given (recursively), `imgconv identity IN OUT` and
`imgconv blur -s 2 IN OUT` run, OUT in the input's own format where imgconv writes it
(the input's extension kept), else PNG (TIFF for ICO and ICNS, whose images of
different sizes are frames only TIFF holds). TIFF inputs and inputs of more than 8 bits a
sample also get `identity` to the other of TIFF and PNG. Each run is a fresh process,
in a new session, with an address-space limit (``--memory``, RLIMIT_AS) and a wall-time
limit (``--timeout``), after which its process group is killed; its peak resident
memory is its own ``ru_maxrss``, taken by a small launcher that forks it. Each run is one of:

==============  ===================================================================
success         exit 0, and nothing on stderr or stdout
refusal         a non-zero exit and exactly one stderr line, `imgconv: error: ...`
traceback       a Python traceback on stderr
hang            still running after ``--timeout`` seconds
signal          ended by a signal (a crash)
warnings        any other output: text on a success, or a failure's stderr that is
                not one `imgconv: error:` line
leftover        a refusal that left a file (a partial output or a temporary) behind
no output       a success that wrote no output file
==============  ===================================================================

and, across those, "over 500 MB": a peak resident memory above 500 MB.

A successful `identity` whose output format is lossless (PNG, TIFF, .npy, GIF, BMP,
TGA, QOI, PPM, JPEG 2000, and WebP from a lossless WebP) and whose input's samples are
decoded exactly (not JPEG, MPO, lossy WebP, AVIF, HEIF, nor a TIFF of JPEG, JPEG 2000,
WebP or JPEG XL compression) is compared, in a forked child with the same limits, with
what an independent reader reads from the input and from the output:

- TIFF: tifffile, page by page, the photometric interpretation applied as imgconv
  documents its modes: MINISWHITE inverted, a palette through its colour map (indices
  of up to 8 bits: 8-bit colours, v // 256, as Pillow; of 16 bits: v // 257 where every
  entry is a multiple of 257, else the 16-bit entries), CMYK of 8 and 16 bits (and its
  unassociated alpha) to sRGB (and alpha) as imgconv documents it, through the page's
  ICC profile by LittleCMS (relative colorimetric, black-point compensation; Pillow's
  ImageCms at 8 bits, imagecodecs at 16), else as Pillow converts 8-bit CMYK, at the
  inks' depth (a CMYK page with a profile of another colour space is not compared), and
  associated 8-bit
  alpha unpremultiplied by Pillow's conversions, grey and RGB of 1 to 7 bits scaled to
  0-255 (round(v * 255 / (2**bits - 1))); signed, 32-bit, float and 9- to 16-bit
  samples kept as stored. Other interpretations (YCbCr, CIELab...) and unspecified
  extra samples are not compared.
- PNG without an acTL chunk: libpng (imagecodecs.png_decode), which expands palettes and
  bits below 8, and makes tRNS an alpha channel.
- APNG: each frame's own pixels by libpng (imagecodecs.apng_decode of a copy whose
  frames all blend SOURCE), composed here in floats as the APNG specification says
  (Porter-Duff over for OVER, which libpng and Pillow do not do), rounded; an APNG's
  default image that is not part of the animation is left out.
- Every other format: Pillow's frames in order (ImageSequence, each frame decoded
  once, after the one before), 8-bit modes converted to RGBA (palette, bilevel 0/255,
  premultiplied alpha, tRNS), CMYK (a PSD's) to sRGB as a TIFF's, I;16 as uint16, I and
  F as they are. Where a GIF
  frame was disposed of to the background, and outside the first frame's rectangle,
  Pillow fills the area with the background colour and browsers and imgconv clear it:
  there, a transparent output pixel is equal. A run-length BMP's colours are
  ImageMagick's (``convert F -depth 8 rgba:-``): Pillow wraps an absolute run that ends
  in its row's padding into the next row, which the row's end then blanks. A
  transparent output pixel is equal where the data skips the pixel (a delta, an early
  end of its row or of the image: `_rle_skipped`), which ImageMagick and Pillow give a
  palette entry and imgconv leaves transparent. A GIF frame after the first that
  reaches past the canvas is clipped to it, as browsers show it, where Pillow grows
  the canvas.
  An ICO's images (``ico.frame(i)``) and an ICNS's sizes, largest first and deepest
  first within a size, as imgconv orders them; a PSD's merged image alone (Pillow's
  image at open; its frames are the layers). Not compared, as Pillow reads them
  otherwise than imgconv and their formats' other readers: XBM (set bits white),
  16-bit SGI (the high bytes), colour cursors (opaque, without the AND mask), 16-bit
  BMPs (5- and 6-bit fields floored: 3 is 24, where bmpsuite's reference pictures
  have 25) and TGAs of 16-bit pixels or colour-map entries (5-bit fields floored, the
  attribute bit alpha whatever the header says).
- JPEG 2000: OpenJPEG (imagecodecs.jpeg2k_decode; Pillow's reading shifts samples of other
  depths than 8 and 16 bits, reads signed ones as unsigned and 16-bit colour at 8 bits),
  a JP2's sYCC applied as OpenJPEG applies it, its ICC profile too where a palette or
  channel definitions need the JP2 header (else its code stream alone is decoded: the
  samples as stored, which imgconv keeps with the profile), its CMYK as a TIFF's; unsigned samples
  scaled to the full range of their type in floats, round(v * (2**n - 1) / (2**bits -
  1)), signed ones as stored. Files whose components are all sampled every n x m pixels
  alike, which imagecodecs does not decode, by Pillow, each sample repeated over its
  n x m pixels.
- .npy: NumPy.

References are turned upright as their EXIF orientation says or, where EXIF gives
none, their XMP's ``tiff:Orientation`` (the first frame's, as Pillow's ``getexif`` reads
them; a TIFF's each page's own tags 274 and 700), as imgconv turns its outputs and sets
their orientation to 1. Two frames are equal when
they have the same size and every sample the same value, whatever its type (uint8 7
equals float32 7.0; int8 -1 does not equal uint8 255): grey equals RGB whose three
channels are that grey, and a missing alpha channel equals an opaque one (255, 65535 or
1.0). GIF holds no colour for transparent pixels, nor premultiplied (associated) alpha:
there, colour under alpha 0 on both sides is not compared. A differing sample is "wrong samples", as is an output the
reader cannot read; a different frame count, or (to the input's own format) frame
durations of an animation that differ by more than 1 ms, "changed frames"; an input the
reader cannot read is "not compared", with the reader's words (those files are listed:
imgconv accepted what the reader refuses).

Prints a table of counts per collection (each DIR is one collection, named by its last
component: give /work/corpus/* for a row each) and run category, then the files of each
bad category (traceback, hang, signal, warnings, leftover, no output, over 500 MB, wrong
samples, changed frames) with the first stderr line or the difference found, and the
reasons for "not compared". Outputs go to a temporary folder that is removed afterwards.

    .venv/bin/python benchmarks/corpus.py /work/corpus/* --jobs 2 --out report.json
    .venv/bin/python benchmarks/corpus.py DIR... [--timeout 60] [--memory 4096] [--imgconv "imgconv"]

``--imgconv`` is the command that runs imgconv (default: this Python, ``-m imgconv``).
"""

import argparse
import contextlib
import io
import json
import multiprocessing
import os
import re
import resource
import select
import shlex
import signal
import struct
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

OVER_MEMORY_MB = 500
ERROR_PREFIX = "imgconv: error:"
OUTCOMES = ["success", "refusal", "traceback", "hang", "signal", "warnings", "leftover", "no output"]
COMPARISONS = ["equal", "wrong samples", "changed frames", "not compared"]
BAD = ["traceback", "hang", "signal", "warnings", "leftover", "no output", "over 500 MB", "wrong samples",
       "changed frames"]
# The formats imgconv writes, by Pillow's name, with the extension an output gets when
# the input's own extension is not one of the format's.
WRITTEN = {"PNG": ".png", "TIFF": ".tif", "JPEG": ".jpg", "JPEG2000": ".jp2", "WEBP": ".webp", "AVIF": ".avif",
           "GIF": ".gif", "BMP": ".bmp", "TGA": ".tga", "QOI": ".qoi", "PPM": ".ppm", "NPY": ".npy"}
LOSSLESS_OUTPUTS = {"PNG", "TIFF", "NPY", "GIF", "BMP", "TGA", "QOI", "PPM", "JPEG2000"}  # WebP: when lossless
LOSSY_INPUTS = {"JPEG", "MPO", "AVIF", "HEIF"}  # WebP: when lossy
# Icons, whose images imgconv reads as frames of different sizes, which only TIFF holds:
# their outputs are TIFF, where a PNG output is refused.
ICONS = {"ICO", "ICNS"}
# TIFF compressions whose decoders may differ in their last bits: OJPEG, JPEG, Aperio's
# JPEG 2000 (33003, 33005), JPEG 2000, lossy JPEG (DNG), WebP, JPEG XL.
LOSSY_TIFF_COMPRESSIONS = {6, 7, 33003, 33004, 33005, 34712, 34892, 50001, 50002}
NPY_MAGIC = b"\x93NUMPY"
TIFF_MAGIC = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ORIENTATION = 0x0112
XMP = 700  # TIFF's tag of an XMP packet
ICC = 34675  # TIFF's tag of an ICC profile
# XMP's orientation, an attribute or an element, as Pillow's getexif() finds it.
XMP_ORIENTATION = re.compile(rb'tiff:Orientation(="|>)([0-9])')
REFERENCE_FAILS = "the reference reader fails: "


@dataclass
class Options:
    imgconv: list[str]
    timeout: float
    memory_mb: int
    scratch: str


@dataclass
class Run:
    collection: str
    file: str  # relative to the collection's folder
    command: str  # the arguments between imgconv and IN OUT
    output: str  # the output's extension
    outcome: str
    exit: int | None  # None for a hang; minus the signal number for a signal
    stderr: str  # the first line
    stderr_lines: int
    peak_mb: float
    seconds: float
    comparison: str | None = None
    detail: str = ""


class Frames(NamedTuple):
    arrays: list[np.ndarray]
    durations: list[float] | None  # ms a frame, where the reader gives them
    reader: str
    premultiplied: bool = False  # stored so: colour under alpha 0 means nothing
    cleared: list[np.ndarray] | None = None  # where a GIF's earlier frames were disposed of to the background


class NotComparable(Exception):
    """The input is of a kind the reference readers do not read as imgconv should."""


# ----------------------------------------------------------------------------------
# Running things in child processes


def _address_space() -> int:
    """This process's address space in bytes (VmSize)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def in_child(function: Callable[..., Any], args: tuple, timeout: float, memory_mb: int) -> tuple[str, Any]:
    """``("done", function(*args))`` computed in a forked child whose address space may
    grow by ``memory_mb`` and which is killed after ``timeout`` seconds, or
    ``("failed", why)``. The readers meet the same hostile files as imgconv: they must
    not take this process down with them. The result must be JSON."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(reader)
            devnull = os.open(os.devnull, os.O_WRONLY)  # libtiff and libpng print warnings
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            limit = _address_space() + (memory_mb << 20)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            outcome = ["done", function(*args)]
        except BaseException as exc:  # whatever the reader meets is the answer
            outcome = ["failed", f"{type(exc).__name__}: {exc}"]
        try:
            payload = json.dumps(outcome).encode()
            view = memoryview(payload)
            while view:
                view = view[os.write(writer, view):]
        finally:
            os._exit(0)
    os.close(writer)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while True:
            ready, _, _ = select.select([reader], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return "failed", f"took more than {timeout:g} s"
            chunk = os.read(reader, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(reader)
    _, status = os.waitpid(pid, 0)
    if not chunks:
        return "failed", f"the reader died (wait status {status})"
    kind, value = json.loads(b"".join(chunks))
    return kind, value


# Starts the command in a child of its own under RLIMIT_AS, waits for it, writes its
# ru_maxrss (KiB) to the file named, and ends as the command ended. Linux carries the
# resident size of the process that forks into a child's ru_maxrss through fork and
# exec, so a command forked from this (large) process would report at least its size:
# forked from this small launcher, a new process starts from the launcher's few MB. A
# preexec_fn would run Python between fork and exec, which is unsafe in a process with
# threads (NumPy's); the launcher has none.
_LAUNCH = """
import os, resource, signal, sys
limit, peak, command = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
pid = os.fork()
if pid == 0:
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        os.execvp(command[0], command)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(peak, "w") as file:
    file.write(str(usage.ru_maxrss))
if os.WIFSIGNALED(status):
    number = os.WTERMSIG(status)
    if number not in (signal.SIGKILL, signal.SIGSTOP):
        signal.signal(number, signal.SIG_DFL)
    os.kill(os.getpid(), number)
os._exit(os.waitstatus_to_exitcode(status))
"""


class Result(NamedTuple):
    exit: int | None
    stdout: bytes
    stderr: str
    peak_mb: float
    seconds: float


def run_command(command: list[str], timeout: float, memory_mb: int, logs: Path) -> Result:
    """Run ``command`` in a fresh process in its own session, under RLIMIT_AS of
    ``memory_mb``; kill its process group after ``timeout`` seconds (exit None)."""
    peak = logs / "peak"
    peak.unlink(missing_ok=True)
    limited = [sys.executable, "-S", "-c", _LAUNCH, str(memory_mb << 20), str(peak), *command]
    start = time.monotonic()
    with open(logs / "stdout", "wb+") as stdout, open(logs / "stderr", "wb+") as stderr:
        process = subprocess.Popen(limited, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                   start_new_session=True)
        delay, hung = 0.002, False
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > timeout:
                os.killpg(process.pid, signal.SIGKILL)
                _, status, usage = os.wait4(process.pid, 0)
                hung = True
                break
            time.sleep(delay)
            delay = min(2 * delay, 0.05)
        seconds = time.monotonic() - start
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        try:
            os.killpg(process.pid, signal.SIGKILL)  # anything it left running
        except ProcessLookupError:
            pass
        stdout.seek(0)
        stderr.seek(0)
        # No peak written: the launcher was killed with the command (a hang).
        kib = int(peak.read_text()) if peak.exists() else usage.ru_maxrss
        return Result(None if hung else process.returncode, stdout.read(),
                      stderr.read().decode("utf-8", "replace"), kib / 1024, seconds)


def classify(result: Result, leftovers: list[str], output_written: bool) -> str:
    """One of OUTCOMES for a finished run."""
    lines = result.stderr.splitlines()
    if result.exit is None:
        return "hang"
    if "Traceback (most recent call last)" in result.stderr:
        return "traceback"
    if result.exit < 0:
        return "signal"
    if result.exit == 0:
        if lines or result.stdout:
            return "warnings"
        return "success" if output_written else "no output"
    if len(lines) != 1 or not lines[0].startswith(ERROR_PREFIX) or result.stdout:
        return "warnings"
    return "leftover" if leftovers else "refusal"


# ----------------------------------------------------------------------------------
# What the input is


def sniff(path: str) -> dict:
    """What `probe` says of a file it could not look into: the format its signature
    names, if that is NPY, TIFF or PNG."""
    with open(path, "rb") as file:
        head = file.read(8)
    fmt = "NPY" if head.startswith(NPY_MAGIC) else "TIFF" if head.startswith(TIFF_MAGIC) \
        else "PNG" if head.startswith(PNG_MAGIC) else None
    return {"format": fmt, "deep": False, "lossy": ""}


def probe(path: str) -> dict:
    """The input's format (Pillow's name, TIFF, NPY, or None), whether its samples have
    more than 8 bits, and why its decoded samples may not be exact ("" if they are)."""
    from PIL import Image

    with open(path, "rb") as file:
        head = file.read(64)
    if head.startswith(NPY_MAGIC):
        return {"format": "NPY", "deep": np.load(path, mmap_mode="r").dtype != np.uint8, "lossy": ""}
    if head.startswith(TIFF_MAGIC):
        import tifffile

        with tifffile.TiffFile(path) as tiff:
            first = tiff.pages.first
            compressions = {int(page.compression) for page in tiff.pages}
            lossy = sorted(compressions & LOSSY_TIFF_COMPRESSIONS)
            return {"format": "TIFF", "deep": first.bitspersample > 8 or int(first.sampleformat) != 1,
                    "lossy": f"TIFF of compression {lossy[0]}" if lossy else ""}
    with any_size(), Image.open(path) as image:
        fmt, mode = image.format, image.mode
    deep = mode in ("I", "F") or mode.startswith("I;16") or (head.startswith(PNG_MAGIC) and head[24] == 16)
    if fmt == "JPEG2000":  # Pillow's mode says 8 bits for signed samples, and for colour of 9 to 16 bits
        deep = any(signed or bits > 8 for signed, bits, _, _ in _jpeg2000_components(Path(path).read_bytes()))
    lossy = fmt if fmt in LOSSY_INPUTS else ""
    if fmt == "WEBP" and not webp_is_lossless(path):
        lossy = "lossy WebP"
    return {"format": fmt, "deep": bool(deep), "lossy": lossy}


def webp_is_lossless(path: str) -> bool:
    """Whether a WebP file's image chunks are all VP8L (lossless), none VP8 (lossy)."""
    data = Path(path).read_bytes()
    kinds, position = set(), 12
    while position + 8 <= len(data):
        kind, size = data[position:position + 4], int.from_bytes(data[position + 4:position + 8], "little")
        if kind == b"ANMF":  # an animation frame: its image chunks follow its 16-byte header
            position += 24
            continue
        kinds.add(kind)
        position += 8 + size + (size & 1)
    return b"VP8L" in kinds and b"VP8 " not in kinds


def output_extension(path: Path, fmt: str | None) -> str:
    """The input's own extension where imgconv writes its format, else the format's usual
    one, else .png; .tif for an icon (`ICONS`)."""
    from PIL import Image

    if fmt in ICONS:
        return ".tif"
    if fmt not in WRITTEN:
        return ".png"
    extension = path.suffix.lower()
    if (fmt, extension) == ("NPY", ".npy") or Image.registered_extensions().get(extension) == fmt:
        return extension
    return WRITTEN[fmt]


def format_of(extension: str) -> str:
    """The format imgconv writes for an output extension."""
    from PIL import Image

    return "NPY" if extension == ".npy" else Image.registered_extensions()[extension]


# ----------------------------------------------------------------------------------
# Independent readers


def upright(array: np.ndarray, orientation: object) -> np.ndarray:
    """``array`` as displayed under EXIF orientation 1-8 (others: as stored), as
    Pillow's ImageOps.exif_transpose: 2 mirrored, 3 turned 180°, 4 flipped, 5 transposed,
    6 turned 90° clockwise, 7 transversed, 8 turned 90° anticlockwise."""
    if not isinstance(orientation, int) or not 2 <= orientation <= 8:
        return array
    return {
        2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1], 5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1), 7: lambda a: a[::-1, ::-1].swapaxes(0, 1), 8: lambda a: np.rot90(a, 1),
    }[orientation](array)


@contextlib.contextmanager
def any_size() -> Iterator[None]:
    """Pillow opens any size, silently (imgconv's own limit has passed), and its limit
    is put back after, for whatever else runs in this process."""
    from PIL import Image

    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def read_frames(path: str, fmt: str, frame_count: int = 1) -> Frames:
    """The frames an independent reader reads from ``path`` (in format ``fmt``), upright,
    in the representation imgconv documents for them. ``frame_count`` splits an .npy of
    several frames."""
    with any_size():
        if fmt == "NPY":
            array = np.load(path, allow_pickle=False)
            return Frames(list(array) if frame_count > 1 else [array], None, "NumPy")
        if fmt == "TIFF":
            return _tiff_frames(path)
        if fmt == "JPEG2000" and (jpeg2000 := _openjpeg_frames(path)) is not None:
            return jpeg2000
        if fmt == "PNG" and not _is_apng(Path(path).read_bytes()):
            import imagecodecs

            array = imagecodecs.png_decode(Path(path).read_bytes())
            return Frames([upright(array, _orientation(path))], None, "libpng")
        return _pillow_frames(path)


def _jpeg2000_components(data: bytes) -> list[tuple[bool, int, int, int]]:
    """(signed, bits, XRsiz, YRsiz) of each component, from the first SIZ marker."""
    start = data.find(b"\xff\x4f\xff\x51") + 4
    count = struct.unpack_from(">H", data, start + 36)[0]
    return [(bool(data[at] & 0x80), (data[at] & 0x7F) + 1, data[at + 1], data[at + 2])
            for at in range(start + 38, start + 38 + 3 * count, 3)]


def _openjpeg_frames(path: str) -> Frames | None:
    """A JPEG 2000 as OpenJPEG decodes it (imagecodecs), a JP2's sYCC applied as OpenJPEG
    applies it (and its ICC profile where it has a palette or channel definitions; else the
    code stream alone, the samples as stored), each component's samples in imgconv's units: unsigned
    ones scaled to the full range of their type (``round(v * (2**n - 1) / (2**bits - 1))``
    in floats, n the type's bits), signed ones as stored. None where OpenJPEG's reading through imagecodecs
    does not give the components at one size (all sampled every n x m pixels alike), for Pillow to read."""
    import imagecodecs

    data = Path(path).read_bytes()
    components = _jpeg2000_components(data)
    stream = data.find(b"jp2c")
    colour = data.find(b"colr", 0, stream) + 4  # a JP2's colour box, before its code stream
    decoded = data
    if colour > 3 and data[colour] in (2, 3) and not any(data.find(box, 0, stream) > 0
                                                        for box in (b"pclr", b"cmap", b"cdef")):
        length = int.from_bytes(data[stream - 4:stream], "big")
        decoded = data[stream + 4:stream - 4 + length] if length > 8 else data[stream + 4:]
    try:
        array = imagecodecs.jpeg2k_decode(decoded)
    except NotImplementedError:  # imagecodecs' word for components sampled more coarsely than the grid
        if len({c[2:] for c in components}) == 1:
            return None
        raise
    channels = 1 if array.ndim == 2 else array.shape[2]
    bits = components[0][1]
    if array.dtype.kind == "u" and channels == len(components):  # not through a palette
        top = float(np.iinfo(array.dtype).max)
        array = np.floor(array.astype(np.float64) * top / (2 ** bits - 1) + 0.5).astype(array.dtype)
    if colour > 3 and data[colour] == 1 and data[colour + 3:colour + 7] == b"\0\0\0\x0c" and channels == 4:
        array = _cmyk_as_srgb(array, b"")  # enumerated CMYK, without a profile
    return Frames([array], None, "OpenJPEG (imagecodecs)")


def _orientation(path: str) -> object:
    """The EXIF orientation Pillow finds in the file (its first frame), None if none."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.getexif().get(ORIENTATION)
    except Exception:  # libpng reads some files Pillow refuses (a CRC error in an ancillary chunk)
        return None


def _chunks_to_idat(data: bytes) -> list[bytes]:
    """The kinds of a PNG's chunks up to its first IDAT."""
    kinds, position = [], 8
    while position + 8 <= len(data) and b"IDAT" not in kinds:
        kinds.append(data[position + 4:position + 8])
        position += 12 + int.from_bytes(data[position:position + 4], "big")
    return kinds


def _is_apng(data: bytes) -> bool:
    return b"acTL" in _chunks_to_idat(data)


def _pillow_frames(path: str) -> Frames:
    from PIL import Image

    orientation = _orientation(path)
    data = Path(path).read_bytes()
    apng = data.startswith(PNG_MAGIC) and _is_apng(data)
    cleared = None
    if apng:
        arrays, durations = _apng_composed(data)
        reader = "libpng (APNG frames, composed here)"
    else:
        with Image.open(path) as image:
            _check_pillow_reads(image, data)
            rle = image.format == "BMP" and bool(image.tile) and image.tile[0].codec_name == "bmp_rle"
            runs_start = image.tile[0].offset if rle else 0  # the tiles go once loaded
            arrays, durations = _pillow_images(image)
            cleared = _gif_cleared(image) if image.format == "GIF" else None
            if image.format == "GIF":  # Pillow grows its canvas for a later frame past it; browsers clip it
                arrays = [a[:arrays[0].shape[0], :arrays[0].shape[1]] for a in arrays]
            if rle:  # the pixels the data skips have a palette entry's colour, and no colour to imgconv
                arrays = [_magick_rgba(path, image.size)]
                cleared = [_rle_skipped(data, image.size, runs_start or 0)]
        reader = "ImageMagick" if rle else "Pillow"
    return Frames([upright(a, orientation) for a in arrays], durations, reader, cleared=cleared)


def _magick_rgba(path: str, size: tuple[int, int]) -> np.ndarray:
    """ImageMagick's 8-bit RGBA reading of the picture at ``path`` of ``size``."""
    samples = subprocess.run(["convert", path, "-depth", "8", "rgba:-"], capture_output=True, check=True).stdout
    return np.frombuffer(samples, np.uint8).reshape(size[1], size[0], 4)


def _rle_skipped(data: bytes, size: tuple[int, int], start: int) -> np.ndarray:
    """Where a run-length BMP's data (from ``start``) gives no pixel, top row first: each
    run or absolute group covers pixels from the cursor on; escapes 0 (end of row), 1 (end
    of the image) and 2 (a delta of two bytes) move it without covering any."""
    width, height = size
    covered = np.zeros((height, width), bool)
    x = y = 0
    four = data[28] == 4
    while start + 2 <= len(data) and y < height:
        first, second = data[start], data[start + 1]
        start += 2
        if first:
            covered[y, x:x + first] = True
            x += first
        elif second == 0:
            x, y = 0, y + 1
        elif second == 1:
            break
        elif second == 2:
            x, y = x + data[start], y + data[start + 1]
            start += 2
        else:
            covered[y, x:x + second] = True
            x += second
            start += -(-(-(-second // 2) if four else second) // 2) * 2  # bytes, to a 16-bit word
    return ~covered[::-1]


def _gif_cleared(image: Any) -> list[np.ndarray]:
    """For each frame of a GIF, where a frame before it was disposed of to the
    background (disposal method 2), and where no frame has drawn yet (outside the first
    frame's rectangle): Pillow fills that area with the background colour (of the
    frame's palette), as giflib, libvips and OpenCV do; browsers and imgconv clear it
    to transparent."""
    masks, mask = [], np.ones(image.size[::-1], bool)
    for index in range(image.n_frames):
        image.seek(index)
        if index == 0:
            left, top, right, bottom = image.dispose_extent
            mask[top:bottom, left:right] = False
        masks.append(mask.copy())
        if image.disposal_method == 2 and image.dispose_extent:
            left, top, right, bottom = image.dispose_extent
            mask[top:bottom, left:right] = True
    return masks


def _apng_composed(data: bytes) -> tuple[list[np.ndarray], list[float]]:
    """An APNG's frames, as its specification composes them, and their durations: each
    frame's own pixels as Pillow (8 bits) or libpng (16 bits) reads a copy whose frames
    all blend SOURCE, so that each frame's rectangle holds its own pixels (both blend
    OVER by pasting with the frame's alpha as mask, not Porter-Duff over), composed in
    floats on a canvas that starts transparent black, rounded."""
    copy, controls, position = bytearray(data), [], 8
    while position + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        if kind == b"fcTL" and length >= 26:
            controls.append(struct.unpack_from(">IIIIHHBB", data, position + 12))
            copy[position + 8 + 25] = 0  # blend_op SOURCE
            crc = zlib.crc32(bytes(copy[position + 4:position + 8 + length]))
            copy[position + 8 + length:position + 12 + length] = crc.to_bytes(4, "big")
        position += 12 + length
    own = _apng_frames_blended_source(bytes(copy))
    if not controls:  # no frame: the still image
        return own, []
    top = np.iinfo(own[0].dtype).max
    own = [a.reshape(*a.shape[:2], -1) for a in own]
    own = [a if a.shape[2] in (2, 4) else np.dstack([a, np.full(a.shape[:2], top, a.dtype)]) for a in own]
    canvas, frames = np.zeros(own[0].shape, np.float64), []
    for index, (frame, control) in enumerate(zip(own, controls, strict=False)):
        width, height, left, top_row, _, _, dispose, blend = control
        area = (slice(top_row, top_row + height), slice(left, left + width))
        source, kept = frame[area] / top, canvas[area].copy()
        if blend:  # Porter-Duff over, not premultiplied
            alpha_s, alpha_b = source[..., -1:], kept[..., -1:]
            alpha = alpha_s + alpha_b * (1 - alpha_s)
            colour = (source[..., :-1] * alpha_s + kept[..., :-1] * alpha_b * (1 - alpha_s)) / np.where(alpha, alpha, 1)
            canvas[area] = np.concatenate([colour, alpha], axis=2)
        else:
            canvas[area] = source
        frames.append(np.round(canvas * top).astype(own[0].dtype))
        if dispose == 1 or (dispose == 2 and index == 0):  # to the background: transparent black
            canvas[area] = 0
        elif dispose == 2:  # to the previous canvas
            canvas[area] = kept
    durations = [numerator / (denominator or 100) * 1000 for _, _, _, _, numerator, denominator, _, _ in controls]
    return frames, durations[:len(frames)]


def _apng_frames_blended_source(data: bytes) -> list[np.ndarray]:
    """The frames of an APNG whose frames all blend SOURCE, its default image that is
    not a frame left out: 16-bit by libpng (Pillow reads 8 bits of them), else by
    Pillow, each frame sought to in a freshly opened image (Pillow, reading frame after
    frame, blends a frame that follows one disposed of as PREVIOUS into the wrong canvas)."""
    import io

    from PIL import Image

    if data[24] == 16:
        import imagecodecs

        frames = [np.asarray(a) for a in imagecodecs.apng_decode(data)]
        return frames[1:] if b"fcTL" not in _chunks_to_idat(data) and len(frames) > 1 else frames
    with Image.open(io.BytesIO(data)) as image:
        # A still image read from an APNG whose animation chunks Pillow ignores is the image.
        count = image.n_frames
        skip = 1 if image.info.get("default_image") and count > 1 else 0
    frames = []
    for index in range(skip, count):
        with Image.open(io.BytesIO(data)) as fresh:
            fresh.seek(index)
            frames.append(np.asarray(fresh.convert("RGBA")))
    return frames


def _check_pillow_reads(image: Any, data: bytes) -> None:
    """Refuse (`NotComparable`) the files Pillow reads otherwise than imgconv, which
    reads them as their formats' other readers do."""
    if image.format == "XBM":
        raise NotComparable("XBM, whose set bits Pillow reads white, and imgconv black as X11 draws them")
    if image.format == "SGI" and data[3:4] == b"\2":  # two bytes a sample
        raise NotComparable("16-bit SGI, of which Pillow keeps each sample's high byte")
    if image.format == "BMP" and data[28:30] == b"\x10\x00":  # bits a pixel
        raise NotComparable("a 16-bit BMP, whose 5- and 6-bit fields Pillow floors, where imgconv rounds them")
    if image.format == "CUR" and image.mode in ("P", "RGB"):
        raise NotComparable("a colour cursor, which Pillow reads opaque, without its AND mask")
    if image.format == "TGA" and ((data[16] in (15, 16) and data[2] in (2, 10)) or (data[1] and data[7] in (15, 16))):
        raise NotComparable("a TGA of 16-bit pixels or colour-map entries, whose 5-bit fields Pillow floors and "
                            "whose attribute bit it reads as alpha, where imgconv rounds them and takes the bit "
                            "for alpha only where the header declares it")


def _pillow_images(image: Any) -> tuple[list[np.ndarray], list[float]]:
    """The frames Pillow reads from ``image``, as imgconv numbers them,
    and their durations: an icon's images largest first, then deepest (an ICO's
    entries, an ICNS's sizes); a PSD's merged image alone (Pillow's frames are its
    layers); the others' frames in order."""
    from PIL import ImageSequence

    if image.format == "ICO":
        entries = image.ico.entry
        order = sorted(range(len(entries)), key=lambda i: (-entries[i].square, -entries[i].color_depth))
        return [_pillow_samples(image.ico.frame(i)) for i in order], []
    if image.format == "ICNS":
        sizes = sorted(image.icns.itersizes(), key=lambda size: (size[0] * size[2], size[2]), reverse=True)
        return [_pillow_samples(image.icns.getimage(size)) for size in sizes], []
    if image.format == "PSD":
        image.load()
        return [_pillow_samples(image)], []
    frames: list[Any] = []
    for frame in ImageSequence.Iterator(image):
        frame.load()
        frames.append((_pillow_samples(frame), frame.info.get("duration")))
    return [array for array, _ in frames], [float(duration or 0) for _, duration in frames]


def _pillow_samples(frame: Any) -> np.ndarray:
    if frame.mode.startswith("I;16"):
        return np.asarray(frame).astype(np.uint16)
    if frame.mode in ("I", "F"):
        return np.asarray(frame)
    if frame.mode == "CMYK":  # a PSD's, converted as imgconv documents CMYK to sRGB
        return _cmyk_as_srgb(np.asarray(frame), frame.info.get("icc_profile") or b"")
    return np.asarray(frame.convert("RGBA"))


def _tiff_frames(path: str) -> Frames:
    import tifffile

    with tifffile.TiffFile(path) as tiff:
        arrays = [upright(_tiff_samples(page), _tiff_orientation(page)) for page in tiff.pages]
        premultiplied = any(tuple(page.extrasamples)[:1] == (1,) for page in tiff.pages)
    return Frames(arrays, None, "tifffile", premultiplied)


def _tiff_orientation(page: Any) -> object:
    """A TIFF page's orientation tag, else its XMP's orientation, else None."""
    orientation = page.tags.valueof(ORIENTATION)
    xmp = page.tags.valueof(XMP)
    if orientation is None and isinstance(xmp, bytes) and (match := XMP_ORIENTATION.search(xmp)):
        return int(match[2])
    return orientation


def _cmyk_as_srgb(inks: np.ndarray, profile: bytes) -> np.ndarray:
    """CMYK inks (a TIFF page's, a PSD's) as sRGB: through their ICC ``profile`` of CMYK by
    LittleCMS (relative colorimetric, black-point compensation), else (no profile) as
    Pillow converts 8-bit CMYK, at the inks' own depth."""
    import imagecodecs
    from PIL import Image, ImageCms

    if profile and profile[16:20] != b"CMYK":
        raise NotComparable("CMYK with a profile of another colour space")
    if profile and inks.dtype == np.uint16:
        return imagecodecs.cms_transform(inks, profile, imagecodecs.cms_profile("srgb"), colorspace="cmyk",
                                         outcolorspace="rgb", outdtype=np.uint16,
                                         intent=imagecodecs.CMS.INTENT.RELATIVE_COLORIMETRIC,
                                         flags=imagecodecs.CMS.FLAGS.BLACKPOINTCOMPENSATION)
    if profile:
        transform = ImageCms.buildTransform(ImageCms.ImageCmsProfile(io.BytesIO(profile)),
                                            ImageCms.createProfile("sRGB"), "CMYK", "RGB",
                                            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
                                            flags=ImageCms.Flags.BLACKPOINTCOMPENSATION)
        return np.asarray(ImageCms.applyTransform(Image.fromarray(inks, "CMYK"), transform))
    if inks.dtype == np.uint8:
        return np.asarray(Image.fromarray(inks, "CMYK").convert("RGB"))
    wide = inks.astype(np.uint64)
    white = 65535 - wide[..., 3:4]
    return (white - (wide[..., :3] * white + 32767) // 65535).astype(np.uint16)


def _tiff_samples(page: Any) -> np.ndarray:
    """One page's samples as imgconv's modes have them (see the module's docstring)."""
    from PIL import Image

    if int(page.compression) in LOSSY_TIFF_COMPRESSIONS:
        raise NotComparable(f"lossy compression {page.compression.name}")
    array = page.asarray()
    axes = page.axes
    if "Z" in axes:
        if array.shape[axes.index("Z")] != 1:
            raise NotComparable("a volume (several slices a page)")
        array, axes = array.squeeze(axes.index("Z")), axes.replace("Z", "")
    if axes not in ("YX", "YXS", "SYX"):
        raise NotComparable(f"axes {axes}")
    if axes == "SYX":
        array = np.moveaxis(array, 0, -1)
    if array.dtype == bool:
        array = array.astype(np.uint8)
    photometric, bits, extra = int(page.photometric), page.bitspersample, tuple(page.extrasamples)
    colours = array.shape[2] - len(extra) if array.ndim == 3 else 1
    if 0 in extra:
        raise NotComparable("unspecified extra samples")
    if photometric == 3:  # palette
        if array.ndim != 2:
            raise NotComparable("palette with extra samples")
        colormap = np.asarray(page.colormap)
        if bits <= 8:
            return (colormap // 256).astype(np.uint8).T[array]
        return (colormap // 257).astype(np.uint8).T[array] if not (colormap % 257).any() else colormap.T[array]
    if photometric == 5 and colours == 4 and extra in ((), (2,)) and bits in (8, 16):  # CMYK, and unassociated alpha
        profile = bytes(page.tags[ICC].value) if ICC in page.tags else b""
        return np.concatenate([_cmyk_as_srgb(np.ascontiguousarray(array[..., :4]), profile), array[..., 4:]], axis=-1)
    if photometric not in (0, 1, 2):
        raise NotComparable(f"photometric {page.photometric.name}")
    if photometric == 0:  # MINISWHITE: 0 is white
        if array.dtype.kind != "u":
            raise NotComparable(f"MINISWHITE of {array.dtype} samples")
        array = array.copy()
        colour = array[..., :colours] if array.ndim == 3 else array
        colour[...] = (1 << bits) - 1 - colour
    if bits < 8 and array.dtype.kind == "u":
        top = (1 << bits) - 1
        array = np.round(array.astype(np.float64) * 255 / top).astype(np.uint8)
    if extra and extra[0] == 1:  # associated alpha
        if array.dtype != np.uint8 or array.shape[2] not in (2, 4):
            raise NotComparable(f"associated alpha with {array.dtype} samples")
        mode = "La" if array.shape[2] == 2 else "RGBa"
        premultiplied = Image.frombuffer(mode, array.shape[1::-1], np.ascontiguousarray(array).tobytes())
        return np.asarray(premultiplied.convert(mode.upper()))
    return array


# ----------------------------------------------------------------------------------
# Comparison


def _colour_and_alpha(array: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W, C) colour or grey samples, and the alpha channel or None."""
    if array.ndim == 2:
        return array[..., None], None
    if array.shape[2] in (2, 4):
        return array[..., :-1], array[..., -1]
    return array, None


def _opaque(array: np.ndarray) -> float:
    return 1.0 if array.dtype.kind == "f" else float(np.iinfo(array.dtype).max)


def frame_difference(expected: np.ndarray, actual: np.ndarray, transparent_colour: bool) -> str | None:
    """How ``actual`` differs from ``expected``, or None if it holds the same samples."""
    types = f"{expected.dtype} in, {actual.dtype} out"
    if expected.shape[:2] != actual.shape[:2]:
        return f"size {expected.shape[1]}x{expected.shape[0]} in, {actual.shape[1]}x{actual.shape[0]} out"
    colour_in, alpha_in = _colour_and_alpha(expected)
    colour_out, alpha_out = _colour_and_alpha(actual)
    if colour_in.shape[2] != colour_out.shape[2]:
        if sorted((colour_in.shape[2], colour_out.shape[2])) != [1, 3]:
            return f"{expected.shape[-1]} channels in, {actual.shape[-1]} out"
        colour_in, colour_out = np.broadcast_arrays(colour_in, colour_out)
    if (alpha_in is None) != (alpha_out is None):
        alpha, which = (alpha_in, "lost") if alpha_out is None else (alpha_out, "added")
        transparent = int(np.count_nonzero(alpha != _opaque(alpha)))
        if transparent:
            return f"alpha {which}: {transparent} of {alpha.size} pixels not opaque ({types})"
        alpha_in = alpha_out = None
    planes_in = [colour_in] + ([alpha_in[..., None]] if alpha_in is not None else [])
    planes_out = [colour_out] + ([alpha_out[..., None]] if alpha_out is not None else [])
    values_in = np.concatenate(planes_in, axis=2).astype(np.float64)
    values_out = np.concatenate(planes_out, axis=2).astype(np.float64)
    if not transparent_colour and alpha_in is not None:
        hidden = (alpha_in == 0) & (alpha_out == 0)
        values_in[hidden, :-1] = values_out[hidden, :-1] = 0
    differ = ~((values_in == values_out) | (np.isnan(values_in) & np.isnan(values_out)))
    if not differ.any():
        return None
    y, x, _ = np.argwhere(differ)[0]
    largest = np.nanmax(np.abs(values_in - values_out)[differ]) if np.isfinite(values_in[differ]).any() else np.nan
    return (f"{np.count_nonzero(differ)} of {differ.size} samples differ, by up to {largest:g} ({types}); "
            f"at x={x} y={y}: {_pixel(expected[y, x])} in, {_pixel(actual[y, x])} out")


def _pixel(value: np.ndarray) -> str:
    return str(value.tolist()).replace(" ", "")


def compare_files(source: str, source_format: str, output: str, output_format: str) -> list:
    """``[category, detail]``: the output's frames against the input's (see the module's
    docstring)."""
    try:
        expected = read_frames(source, source_format)
    except NotComparable as exc:
        return ["not compared", f"{exc}"]
    except Exception as exc:  # the decoders of hostile files fail in every way
        return ["not compared", f"{REFERENCE_FAILS}{type(exc).__name__}: {exc}"]
    try:
        actual = read_frames(output, output_format, len(expected.arrays))
    except Exception as exc:  # an output no reader reads is a wrong output
        return ["wrong samples", f"{actual_reader(output_format)} cannot read the output: {type(exc).__name__}: {exc}"]
    if len(expected.arrays) != len(actual.arrays):
        return ["changed frames", f"{len(expected.arrays)} frames in ({expected.reader}), {len(actual.arrays)} out"]
    for index, (frame_in, frame_out) in enumerate(zip(expected.arrays, actual.arrays, strict=True)):
        if expected.cleared is not None and frame_in.shape == frame_out.shape and frame_out.shape[-1:] == (4,) \
                and expected.cleared[index].shape == frame_out.shape[:2]:
            cleared = expected.cleared[index] & (frame_out[..., 3] == 0)
            frame_in = np.where(cleared[..., None], frame_out, frame_in)
        difference = frame_difference(frame_in, frame_out,
                                      transparent_colour=output_format != "GIF" and not expected.premultiplied)
        if difference:
            where = f"frame {index}: " if len(expected.arrays) > 1 else ""
            return ["wrong samples", f"{where}{difference} ({expected.reader} reads the input)"]
    if source_format == output_format and len(expected.arrays) > 1 and expected.durations and actual.durations \
            and any(abs(a - b) > 1 for a, b in zip(expected.durations, actual.durations, strict=True)):
        durations = f"durations {_durations(expected.durations)} ms in, {_durations(actual.durations)} out"
        return ["changed frames", durations]
    return ["equal", ""]


def actual_reader(fmt: str) -> str:
    return {"TIFF": "tifffile", "NPY": "NumPy", "PNG": "libpng or Pillow",
            "JPEG2000": "OpenJPEG (imagecodecs) or Pillow"}.get(fmt, "Pillow")


def _durations(values: list[float]) -> str:
    shown = ",".join(f"{v:g}" for v in values[:8])
    return shown + (",..." if len(values) > 8 else "")


# ----------------------------------------------------------------------------------
# One file


def process_file(options: Options, collection: str, root: str, path: str) -> list[Run]:
    """Every run of one input file, classified (and compared, for identity)."""
    probed = in_child(probe, (path,), options.timeout, options.memory_mb)
    info = probed[1] if probed[0] == "done" else sniff(path)
    extension = output_extension(Path(path), info["format"])
    runs = [("identity", extension), ("blur -s 2", extension)]
    if info["format"] == "TIFF" or info["deep"]:
        runs.append(("identity", ".png" if format_of(extension) == "TIFF" else ".tif"))
    results = []
    with tempfile.TemporaryDirectory(dir=options.scratch) as scratch:
        logs, folder = Path(scratch), Path(scratch) / "out"
        for command, out_extension in runs:
            folder.mkdir()
            output = folder / f"out{out_extension}"
            result = run_command([*options.imgconv, *command.split(), path, str(output)], options.timeout,
                                 options.memory_mb, logs)
            written = output.is_file() and output.stat().st_size > 0
            leftovers = [p.name for p in folder.iterdir() if p != output or result.exit != 0]
            outcome = classify(result, leftovers, written)
            lines = result.stderr.splitlines()
            run = Run(collection, os.path.relpath(path, root), command, out_extension, outcome, result.exit,
                      lines[0] if lines else "", len(lines), round(result.peak_mb, 1), round(result.seconds, 3))
            if outcome == "leftover":
                run.detail = f"left {', '.join(sorted(leftovers))}"
            if command == "identity" and outcome == "success":
                run.comparison, run.detail = comparison(options, path, info, output, out_extension)
            results.append(run)
            for leftover in folder.iterdir():
                leftover.unlink()
            folder.rmdir()
    return results


def comparison(options: Options, path: str, info: dict, output: Path, extension: str) -> tuple[str, str]:
    output_format = format_of(extension)
    lossless_out = output_format in LOSSLESS_OUTPUTS or (output_format == "WEBP" and info["format"] == "WEBP"
                                                          and not info["lossy"])
    if info["lossy"]:
        return "not compared", f"lossy input ({info['lossy']})"
    if not lossless_out:
        return "not compared", f"lossy output ({output_format})"
    if info["format"] is None:
        return "not compared", "no reference reader opens the input"
    kind, value = in_child(compare_files, (path, info["format"], str(output), output_format),
                           options.timeout, options.memory_mb)
    if kind == "done":
        return value[0], value[1]
    return "not compared", f"{REFERENCE_FAILS}{value}"


def _process(job: tuple[Options, str, str, str]) -> list[Run]:
    return process_file(*job)


# ----------------------------------------------------------------------------------
# Report


def categories(run: Run) -> list[str]:
    """Every category a run counts in: its outcome, its comparison, over 500 MB."""
    found = [run.outcome] + ([run.comparison] if run.comparison else [])
    return found + (["over 500 MB"] if run.peak_mb > OVER_MEMORY_MB else [])


def counts(runs: list[Run]) -> dict[str, dict[str, int]]:
    table: dict[str, Counter] = {}
    for run in runs:
        row = table.setdefault(run.collection, Counter())
        row["runs"] += 1
        row.update(categories(run))
    files = Counter(c for c, _ in {(r.collection, r.file) for r in runs})
    total = Counter()
    for collection, row in table.items():
        row["files"] = files[collection]
        total.update(row)
    table["all"] = total
    return {name: {key: row[key] for key in ["files", "runs", *OUTCOMES, "over 500 MB", *COMPARISONS]}
            for name, row in table.items()}


def print_table(table: dict[str, dict[str, int]]) -> None:
    columns = list(next(iter(table.values())))
    width = max(12, *(len(name) for name in table))
    print(f"{'collection':<{width}} " + " ".join(f"{c:>{max(len(c), 5)}}" for c in columns))
    for name, row in table.items():
        print(f"{name:<{width}} " + " ".join(f"{row[c]:>{max(len(c), 5)}}" for c in columns))


def print_bad(runs: list[Run]) -> None:
    for category in BAD:
        chosen = [r for r in runs if category in categories(r)]
        if not chosen:
            continue
        print(f"\n{category} ({len(chosen)}):")
        for run in chosen:
            what = run.detail if category in COMPARISONS or category == "leftover" else run.stderr
            if category == "over 500 MB":
                what = f"peak {run.peak_mb:.0f} MB, {run.outcome}: {run.stderr}"
            elif category == "hang":
                what = f"killed after {run.seconds:.0f} s"
            elif category == "signal":
                what = f"signal {-run.exit}: {run.stderr}"
            print(f"  {run.collection}/{run.file}  [{run.command} -> {run.output}]  {what[:300]}")


def print_not_compared(runs: list[Run]) -> None:
    chosen = [r for r in runs if r.comparison == "not compared"]
    if not chosen:
        return
    print("\nnot compared, by reason:")
    for reason, count in Counter(r.detail.split(":")[0][:80] for r in chosen).most_common():
        print(f"  {count:6}  {reason}")
    refused = [r for r in chosen if r.detail.startswith(REFERENCE_FAILS)]
    if refused:
        print(f"\nimgconv succeeded where the reference reader fails ({len(refused)}):")
        for run in refused:
            reason = run.detail[len(REFERENCE_FAILS):][:200]
            print(f"  {run.collection}/{run.file}  [{run.command} -> {run.output}]  {reason}")


# ----------------------------------------------------------------------------------


def input_files(folders: Iterable[Path]) -> list[tuple[str, str, str]]:
    """``(collection, folder, path)`` for every file under each folder, sorted."""
    files = []
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
            files.append((folder.name, str(folder), str(path)))
    return files


def version(command: list[str]) -> str:
    return subprocess.run([*command, "--version"], capture_output=True, text=True, check=False).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, metavar="DIR")
    parser.add_argument("--jobs", type=int, default=2, help="files processed at once [2]")
    parser.add_argument("--timeout", type=float, default=60, help="wall seconds a run may take [60]")
    parser.add_argument("--memory", type=int, default=4096, help="MB of address space a run may take [4096]")
    parser.add_argument("--out", type=Path, help="write the whole report, every run, as JSON")
    parser.add_argument("--imgconv", help="command that runs imgconv [this Python -m imgconv]")
    args = parser.parse_args()
    for folder in args.folders:
        if not folder.is_dir():
            parser.error(f"{folder}: not a folder")
    command = shlex.split(args.imgconv) if args.imgconv else [sys.executable, "-m", "imgconv"]
    files = input_files(args.folders)
    started = time.monotonic()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="imgconv-corpus-") as scratch:
        options = Options(command, args.timeout, args.memory, scratch)
        with multiprocessing.Pool(args.jobs) as pool:
            jobs = [(options, *file) for file in files]
            for done, file_runs in enumerate(pool.imap_unordered(_process, jobs, chunksize=4), 1):
                runs.extend(file_runs)
                if done % 250 == 0:
                    print(f"{done} of {len(files)} files, {time.monotonic() - started:.0f} s", file=sys.stderr)
    order = {name: index for index, name in enumerate(f.name for f in args.folders)}
    runs.sort(key=lambda r: (order[r.collection], r.file))
    table = counts(runs)
    print(f"{version(command)}: {len(files)} files, {len(runs)} runs, {time.monotonic() - started:.0f} s; "
          f"limits {args.timeout:g} s, {args.memory} MB address space")
    print_table(table)
    print_bad(runs)
    print_not_compared(runs)
    if args.out:
        report = {"imgconv": version(command), "command": sys.argv, "timeout_s": args.timeout,
                  "memory_mb": args.memory, "counts": table, "runs": [asdict(r) for r in runs]}
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
