"""Record every output of the imgconv command line, and compare two records.

A developer's check that a restructuring (files split, modules moved) changes no output
byte: record on the old code, record on the new, compare.

    .venv/bin/python tools/outputs.py record before.json      # on the old code
    .venv/bin/python tools/outputs.py record after.json       # on the new code
    .venv/bin/python tools/outputs.py compare before.json after.json

``record`` builds its inputs in a temporary folder (crops of ``samples/`` and arrays
made here with NumPy, written by Pillow, tifffile and zarr), runs some 700 commands as
``sys.executable -m imgconv ...`` (so the imgconv that Python imports is the one
recorded: run it with the checkout's own venv), two at a time, then starts
``imgconv demo`` on 127.0.0.1 and records its answers to a few requests. For each
command it keeps the argv, the exit status, stderr, the sha256 of stdout, and the
sha256 of every file left in the command's own working folder, by relative name (a
Zarr store's files one by one). ``compare`` prints each command whose record differs,
field by field, and exits 1 if any does (0 if none).

Every command, filter or not, is covered: the presets with their options and
``--print-kernel``, ``convolve`` with inline kernels and one file of each kernel format,
``conv-layer``, ``learn``, ``animate``, ``params``, ``kernels``, ``formats``, ``--help`` of
each command, every boundary mode and alias, every method, every output format this
Pillow writes, ``--depth``, ``--compression``, ``--frame``, metadata (EXIF orientation,
``--strip``, ICC, XMP, comments), alpha and ``--background``, ``--view``, pipes (``-``
in and out), batches (``--suffix``, ``--format``, ``-R``, ``-j``, ``--report``,
``--dry-run``, ``--skip-existing``, ``--files-from``, ``--in-place``), tiled TIFFs and
Zarr stores streamed, and bad inputs and options, which are refused (their exit status
and stderr line are recorded like any other).

Determinism: two records of the same code compare equal. What would vary from run to
run is normalised, and only that:

- the temporary folder's path, in argv, stderr, stdout and written files, becomes
  ``{in}`` (the inputs), ``{work}`` (the command's own folder) or ``{tmp}``;
- the ``"seconds"`` a ``--report`` gives each file (its timing) becomes ``"{seconds}"``;
- batches with ``-j 2`` print a failed file's line when it fails, so in completion
  order: their stderr lines are sorted;
- the gzip header of a Zarr chunk written with ``--compression deflate`` holds the time
  it was written (zarr's gzip codec sets it): those 4 bytes are zeroed before hashing;
- the demo's token and port, in its bodies, become ``{token}`` and ``{port}``, and the
  random id of an upload ``{id}``; its Set-Cookie header (the token) is not recorded.

Children run with ``PYTHONHASHSEED=0``, ``COLUMNS=100`` (the width of ``--help``) and
no ``IMGCONV_*`` variable from the caller's environment.

Not covered: ``--cluster`` (it needs a Dask cluster; only its refusal for one INPUT and
OUTPUT is recorded), Ctrl-C and SIGTERM, FIFOs and devices, the demo in a browser.

Measured on the project's shared 2-core machine while other helpers ran test suites:
709 commands and 30 demo records; the commands' own CPU time is 193-225 s a record, so
about 2 minutes on an idle machine (an estimate: the machine was never idle). The wall
times measured: 689 s for one record at load average 10-11, 1,770 s each for two
records run at once at load 14-17. Two records of the same code, run at once, differed
only in the Zarr gzip times (now zeroed, above) and in the demo's stop, which under
that load overran the 20 s then allowed (now 120 s); after both fixes, the 13 Zarr
commands and the demo recorded twice, by themselves, compared equal.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import scipy.ndimage as ndi
import tifffile
from PIL import Image, ImageCms

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

# Two commands at once: the machine this was written for has 2 cores, and most
# commands are short enough that starting Python is most of their time.
PARALLEL = 2
# No command here needs more than a few seconds alone; a hang must not stop the record.
TIMEOUT = 300
# Fixed modification times for --skip-existing: inputs older than existing outputs.
OLD, NEW = 1_000_000_000, 2_000_000_000
# Stdout and bodies up to this many characters of text are kept as text too, so that
# `compare` can show what changed rather than two hashes.
SHOWN = 2000


@dataclass(frozen=True)
class Case:
    """One command: ``imgconv ARGS`` run in a folder of its own (``{work}``, empty but
    for ``copies``), where ``{in}`` in an argument is the inputs' folder."""

    args: tuple[str, ...]
    stdin: str | None = None  # an input's name, fed on standard input
    # (input's name, name in the work folder, mtime): inputs the command may change,
    # and outputs that exist before it runs.
    copies: tuple[tuple[str, str, int], ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    unordered: bool = False  # stderr lines come in completion order (-j 2): sort them
    label: str = ""  # tells apart cases of the same argv

    @property
    def name(self) -> str:
        parts = [self.label] if self.label else []
        parts += [f"{k}={v}" for k, v in self.env] + ["imgconv", *self.args]
        if self.stdin:
            parts += ["<", self.stdin]
        return " ".join(parts)


# ---------------------------------------------------------------------------- inputs


def _crop(name: str, top: int, left: int, height: int, width: int) -> np.ndarray:
    with Image.open(SAMPLES / name) as image:
        return np.asarray(image)[top:top + height, left:left + width].copy()


def _icc() -> bytes:
    """An sRGB profile whose creation date (header bytes 24-35, which LittleCMS sets to
    now) is zeroed, so that the inputs are the same bytes at every record."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[24:36] = bytes(12)
    return bytes(profile)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def build_inputs(folder: Path) -> bool:
    """Write every input into ``folder``; True if zarr is importable (a Zarr store made)."""
    folder.mkdir()
    rng = np.random.default_rng(20261127)
    grey = _crop("camera.png", 180, 200, 48, 64)
    rgb = _crop("chelsea.png", 60, 150, 60, 80)
    height, width = rgb.shape[:2]
    ramp = np.linspace(0, 255, width, dtype=np.float64)[None, :].repeat(height, 0)
    alpha = np.clip(ramp, 0, 255).astype(np.uint8)
    alpha[:, :8] = 0  # fully transparent at the left: its colour must not bleed
    grey16 = (grey.astype(np.uint16) * 257 + rng.integers(0, 257, grey.shape)).astype(np.uint16)
    rgb16 = rgb.astype(np.uint16) * 257 + rng.integers(0, 257, rgb.shape).astype(np.uint16)

    def save(name: str, array: np.ndarray, mode: str | None = None, **options: Any) -> None:
        image = Image.fromarray(array)
        (image if mode is None else image.convert(mode)).save(folder / name, **options)

    # Still images, one per mode.
    save("grey.png", grey)
    Image.fromarray(grey16).save(folder / "grey16.png")  # mode I;16
    save("rgb.png", rgb)
    save("rgba.png", np.dstack([rgb, alpha]))
    save("rgba-opaque.png", np.dstack([rgb, np.full_like(alpha, 255)]))
    save("la.png", np.dstack([grey, alpha[:grey.shape[0], :grey.shape[1]]]))
    Image.fromarray(rgb).quantize(16).save(folder / "palette.png")
    paletted = Image.fromarray(rgb).quantize(16)
    paletted.save(folder / "palette-trns.png", transparency=0)
    save("bilevel.png", grey, "1")
    tifffile.imwrite(folder / "rgb16.tif", rgb16, photometric="rgb")
    tifffile.imwrite(folder / "rgba16.tif", np.dstack([rgb16, alpha.astype(np.uint16) * 257]), photometric="rgb",
                     extrasamples=["unassalpha"])
    tifffile.imwrite(folder / "float32.tif", (grey / 255.0).astype(np.float32))
    tifffile.imwrite(folder / "int16.tif", (grey.astype(np.int16) - 128) * 100)
    tifffile.imwrite(folder / "uint32.tif", grey.astype(np.uint32) * 16_000_000)
    save("fax.tif", grey, "1", compression="group4")
    save("lzw.tif", rgb, compression="tiff_lzw")
    save("rgb.jpg", rgb, quality=90, subsampling="4:2:0")
    save("grey.jpg", grey, quality=85)
    save("rgb.bmp", rgb)
    save("rgb.gif", rgb)
    save("rgb.ppm", rgb)
    Image.fromarray(grey16).save(folder / "grey16.pgm")
    save("rgb.tga", rgb)
    save("rgb.qoi", rgb)
    save("rgb.jp2", rgb)
    save("lossless.webp", rgb, lossless=True)
    save("lossy.webp", rgb, quality=80)

    # Metadata: EXIF orientation 6 with a camera name, an ICC profile, XMP, a comment.
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "imgconv-test"
    exif[0x0110] = "recorder"
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>'
    icc = _icc()
    save("exif.jpg", rgb, exif=exif.tobytes(), icc_profile=icc, xmp=xmp, comment=b"recorded", quality=92)
    save("exif.png", rgb, exif=exif.tobytes(), icc_profile=icc)
    save("exif.webp", rgb, exif=exif.tobytes(), icc_profile=icc, lossless=True)
    save("exif.tif", rgb, exif=exif.tobytes())

    # Animations and pages: a repeated frame, uneven durations, a loop count.
    frames = [Image.fromarray(np.roll(rgb, 7 * i, axis=1)) for i in range(3)] + [Image.fromarray(np.roll(rgb, 14, 1))]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:], duration=[100, 200, 50, 300], loop=0)
    rgba_frames = [Image.fromarray(np.dstack([np.asarray(f), alpha])) for f in frames[:3]]
    rgba_frames[0].save(folder / "anim-alpha.gif", save_all=True, append_images=rgba_frames[1:], duration=80, loop=2,
                        disposal=2)
    frames[0].save(folder / "anim.png", save_all=True, append_images=frames[1:3], duration=[120, 60, 240], loop=0)
    rgba_frames[0].save(folder / "anim.webp", save_all=True, append_images=rgba_frames[1:], duration=[90, 90, 180],
                        loop=0, lossless=True)
    pages = [Image.fromarray(np.roll(grey, 5 * i, axis=0)) for i in range(3)]
    pages[0].save(folder / "pages.tif", save_all=True, append_images=pages[1:])
    tifffile.imwrite(folder / "pages-sizes.tif", grey)
    tifffile.imwrite(folder / "pages-sizes.tif", grey[:32, :40], append=True)

    # Tiled TIFFs (streamed to .tif and .zarr outputs): grey deflate, RGB LZW, 16-bit
    # RGBA zstd, and two pages.
    big_grey = np.tile(grey, (2, 2))
    tifffile.imwrite(folder / "tiled.tif", big_grey, tile=(32, 32), compression="zlib")
    tifffile.imwrite(folder / "tiled-rgb.tif", np.tile(rgb, (2, 1, 1)), tile=(16, 32), compression="lzw",
                     photometric="rgb")
    tifffile.imwrite(folder / "tiled-rgba16.tif", np.dstack([rgb16, alpha.astype(np.uint16) * 257]), tile=(32, 32),
                     compression="zstd", photometric="rgb", extrasamples=["unassalpha"])
    with tifffile.TiffWriter(folder / "tiled-pages.tif") as writer:
        for page in (big_grey, np.flipud(big_grey)):
            writer.write(page, tile=(32, 32), compression="zlib")

    try:
        import zarr
    except ImportError:
        has_zarr = False
    else:
        has_zarr = True
        store = zarr.open_array(str(folder / "store.zarr"), mode="w", shape=rgb.shape, chunks=(32, 32, 3),
                                dtype=np.uint8)
        store[...] = rgb

    # .npy arrays of several types and shapes.
    np.save(folder / "u8.npy", grey)
    np.save(folder / "u8c3.npy", rgb)
    np.save(folder / "u16c3.npy", rgb16)
    np.save(folder / "f32.npy", (grey / 255.0).astype(np.float32))
    np.save(folder / "f64c3.npy", rgb / 255.0)
    np.save(folder / "f16.npy", (grey / 255.0).astype(np.float16))
    np.save(folder / "i16.npy", (grey.astype(np.int16) - 128))
    np.save(folder / "bool.npy", grey > 128)
    np.save(folder / "c7.npy", rng.random((24, 20, 7), dtype=np.float32))
    nan = (grey / 255.0).astype(np.float32)
    nan[3, 4] = np.nan
    np.save(folder / "nan.npy", nan)

    # learn's targets: the inputs blurred by scipy.ndimage, as 8-bit and as float.
    target = ndi.gaussian_filter(grey.astype(np.float64), 1.0, mode="reflect", truncate=2.0)
    save("grey-target.png", np.clip(np.rint(target), 0, 255).astype(np.uint8))
    np.save(folder / "grey-target.npy", target)
    save("rgb-target.png", np.clip(np.rint(ndi.uniform_filter(rgb.astype(np.float64), (3, 3, 1))), 0, 255)
         .astype(np.uint8))
    save("small.png", grey[:20, :24])

    # Kernels: one file of each format (the samples'), even and one-row kernels, conv's
    # weights and biases, and bad ones.
    kernels = folder / "kernels"
    shutil.copytree(SAMPLES / "kernels", kernels)
    (kernels / "even.txt").write_text("1 2 0 -1\n0 3 1 0\n-2 0 1 1\n0 1 0 2\n")
    (kernels / "row.kernel").write_text("# a row\n1, 2, 3, 2, 1\n")
    (kernels / "column.csv").write_text("1\n-2\n1\n")
    np.save(kernels / "random.npy", rng.normal(size=(5, 5)))
    (kernels / "scaled.json").write_text('{"kernel": [[1, 2, 1], [2, 4, 2], [1, 2, 1]], "divisor": 16, "offset": 10}')
    (kernels / "nan.txt").write_text("1 nan 1\n1 1 1\n")
    (kernels / "ragged.txt").write_text("1 2 3\n4 5\n")
    (kernels / "empty.txt").write_text("")
    (kernels / "zero-sum.txt").write_text("1 -1\n")
    (kernels / "huge.txt").write_text(" ".join(["1"] * 1026) + "\n")
    (kernels / "bad.mat").write_text("3 3 1\n1 2 3\n")
    (kernels / "bad.json").write_text('{"kernel": [[1, 2], [3]]}')
    np.save(kernels / "weights.npy", rng.normal(size=(3, 3, 3, 3)).astype(np.float32))
    np.save(kernels / "weights-grey.npy", rng.normal(size=(2, 1, 3, 3)).astype(np.float32))
    np.save(kernels / "bias.npy", np.array([0.5, -1.0, 2.0]))
    np.save(kernels / "weights-3d.npy", np.ones((3, 3, 3)))

    # Bad images.
    good = (folder / "rgb.png").read_bytes()
    (folder / "truncated.png").write_bytes(good[:len(good) // 2])
    (folder / "text.png").write_text("not an image\n")
    (folder / "empty.png").write_bytes(b"")
    at = good.index(b"IDAT") + 8  # a byte of the first IDAT's data
    (folder / "crc.png").write_bytes(good[:at] + bytes([good[at] ^ 0xFF]) + good[at + 1:])
    header = (30000).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    (folder / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
                                      + _png_chunk(b"IDAT", zlib.compress(bytes(1000)))
                                      + _png_chunk(b"IEND", b""))
    (folder / "garbage.jpg").write_bytes(b"\xff\xd8\xff" + rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
    (folder / "bad-header.npy").write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4' }\n" + bytes(16))
    (folder / "unknown.xyz").write_bytes(good)

    # Batch folders: images in a sub-folder, a hidden one and a file that is no image
    # (both skipped); a folder with a broken image; lists for --files-from.
    batch = folder / "batch"
    (batch / "sub").mkdir(parents=True)
    save("batch/a.png", grey)
    save("batch/b.jpg", rgb, quality=90)
    save("batch/c.webp", rgb, lossless=True)
    save("batch/sub/d.png", np.dstack([rgb, alpha]))
    save("batch/.hidden.png", grey)
    (batch / "notes.txt").write_text("not an image\n")
    broken = folder / "batch-broken"
    broken.mkdir()
    save("batch-broken/good.png", grey)
    shutil.copy(folder / "truncated.png", broken / "bad.png")
    save("batch-broken/other.png", rgb)
    names = [str(batch / "a.png"), str(batch / "sub" / "d.png")]
    (folder / "list.txt").write_text("\n".join(names) + "\n")
    (folder / "list0.txt").write_text("\0".join(names) + "\0")
    return has_zarr


# ----------------------------------------------------------------------------- cases

PRESETS: dict[str, tuple[str, ...]] = {
    "blur": ("-r", "3", "-s", "1.5"),
    "box": ("-r", "2"),
    "sobel": (),
    "prewitt": ("-d", "x"),
    "scharr": ("-d", "y"),
    "sharpen": (),
    "unsharp": ("-s", "2", "-a", "1.5"),
    "laplacian": (),
    "emboss": (),
    "motion": ("-l", "7", "--angle", "30"),
    "identity": (),
}
COMMANDS = (*PRESETS, "convolve", "conv-layer", "learn", "animate", "params", "demo", "formats", "kernels",
            "completion")
MODES = ("reflect", "symmetric", "mirror", "reflect101", "reflect_101", "nearest", "edge", "replicate", "clamp",
         "wrap", "periodic", "circular", "constant", "fill", "zero", "Replicate")
METHODS = ("auto", "direct", "separable", "fft")


def cases(has_zarr: bool) -> list[Case]:
    """Every command recorded, in a fixed order."""
    out: dict[str, Case] = {}

    def add(*args: str, **options: Any) -> None:
        case = Case(tuple(args), **options)
        # The loops below meet some commands twice; a name stands for one command.
        assert out.setdefault(case.name, case) == case, f"two different cases named {case.name!r}"

    # What the program says about itself.
    add("--version")
    add("--help")
    add()  # no command: the help, on stderr, status 2
    for command in COMMANDS:
        add(command, "--help")
    add("kernels")
    add("formats")
    add("nosuchcommand")

    # Every preset on every kind of image, to PNG; the presets' kernels printed.
    for name, options in PRESETS.items():
        for image in ("grey.png", "rgb.png", "rgba.png", "grey16.png", "la.png"):
            add(name, *options, f"{{in}}/{image}", "out.png")
        if name != "identity":
            for image in ("palette-trns.png", "bilevel.png", "u8c3.npy", "f32.npy"):
                add(name, *options, f"{{in}}/{image}", "out.npy")
        printable = ("-d", "x") if name == "sobel" else options
        add(name, *printable, "--print-kernel")
    add("sobel", "--print-kernel")  # magnitude: two kernels, refused
    for image in ("palette.png", "palette-trns.png", "bilevel.png", "rgb16.tif", "rgba16.tif"):
        add("identity", f"{{in}}/{image}", "out.png")

    # The presets' own options.
    for options in (("-r", "2"), ("-s", "2"), ("-r", "40", "-s", "9"), ("-r", "0", "-s", "1")):
        add("blur", *options, "{in}/rgb.png", "out.png")
    for options in (("--kernel-size", "4"), ("--kernel-size", "1"), ("-r", "5")):
        add("box", *options, "{in}/grey.png", "out.png")
    for name in ("sobel", "prewitt", "scharr"):
        for options in (("-d", "x"), ("-d", "y"), ("-d", "magnitude"), ("--normalize",), ("-d", "x", "--normalize")):
            add(name, *options, "{in}/rgb.png", "out.png")
        add(name, "-d", "y", "{in}/grey.png", "out.npy")
    for amount in ("0.5", "3", "-1"):
        add("sharpen", "-a", amount, "{in}/rgb.png", "out.png")
    add("unsharp", "-r", "4", "{in}/grey16.png", "out.png")
    add("laplacian", "--diagonals", "{in}/grey.png", "out.png")
    add("laplacian", "--diagonals", "{in}/grey.png", "out.npy")
    for options in (("-l", "1"), ("-l", "15", "--angle", "-45"), ("--angle", "90")):
        add("motion", *options, "{in}/rgb.png", "out.png")

    # Every boundary mode and alias, with a blur and with an even, asymmetric kernel
    # (its anchoring); constant with a fill value.
    for mode in MODES:
        add("blur", "-r", "4", "-s", "2", "-b", mode, "{in}/rgb.png", "out.png")
        add("convolve", "-k", "{in}/kernels/even.txt", "-b", mode, "{in}/small.png", "out.npy")
    for cval in ("100", "-5.5", "300"):
        add("blur", "-r", "3", "-b", "constant", "--cval", cval, "{in}/grey.png", "out.png")
    add("convolve", "-k", "{in}/kernels/even.txt", "-b", "constant", "--cval", "7", "{in}/grey16.png", "out.png")
    add("blur", "-r", "30", "-b", "reflect", "{in}/small.png", "out.npy")  # kernel wider than the image
    add("blur", "-r", "30", "-b", "mirror", "{in}/small.png", "out.npy")

    # Every method, on 8-bit, 16-bit and float images.
    for method in METHODS:
        for image, output in (("grey.png", "out.png"), ("f32.npy", "out.npy"), ("grey16.png", "out.png")):
            add("blur", "-r", "5", "--method", method, f"{{in}}/{image}", output)
        add("convolve", "-k", "{in}/kernels/random.npy", "--method", method, "{in}/rgb.png", "out.npy")
        add("sobel", "--method", method, "{in}/f64c3.npy", "out.npy")
    add("blur", "-r", "3", "--threads", "1", "{in}/rgb.png", "out.png")
    add("blur", "-r", "3", "--threads", "3", "{in}/rgb.png", "out.png")

    # convolve: inline kernels, each kernel file format, the kernel's options.
    for spec in ("0 -1 0; -1 5 -1; 0 -1 0", "1,2,1", "1;2;1", "1 2; 3 4", "1 0 -1; 2 0 -2; 1 0 -1", "2"):
        add("convolve", "-k", spec, "{in}/rgb.png", "out.png")
        add("convolve", "-k", spec, "--correlate", "{in}/grey.png", "out.npy")
    for kernel in ("sharpen.txt", "blur.csv", "emboss.mat", "diagonal.npy", "edges.json", "even.txt", "row.kernel",
                   "column.csv", "random.npy", "scaled.json"):
        add("convolve", "-k", f"{{in}}/kernels/{kernel}", "{in}/rgb.png", "out.png")
        add("convolve", "-k", f"{{in}}/kernels/{kernel}", "--correlate", "{in}/grey16.png", "out.png")
    for options in (("--normalize",), ("--divisor", "16"), ("--offset", "50"), ("--normalize", "--offset", "-20"),
                    ("--divisor", "8", "--correlate")):
        add("convolve", "-k", "{in}/kernels/blur.csv", *options, "{in}/rgb.png", "out.png")
    for kernel in ("nan.txt", "ragged.txt", "empty.txt", "huge.txt", "bad.mat", "bad.json", "weights-3d.npy",
                   "missing.txt"):
        add("convolve", "-k", f"{{in}}/kernels/{kernel}", "{in}/rgb.png", "out.png")
    for spec in ("1 2; 3", "1 nan", "", "a b", "1e400"):
        add("convolve", "-k", spec, "{in}/rgb.png", "out.png")
    add("convolve", "-k", "{in}/kernels/zero-sum.txt", "--normalize", "{in}/rgb.png", "out.png")
    add("convolve", "-k", "1 1", "--divisor", "0", "{in}/rgb.png", "out.png")
    add("convolve", "{in}/rgb.png", "out.png")  # no kernel

    # Every output format, from RGB and from grey; format options.
    for extension in ("png", "apng", "jpg", "jpeg", "jfif", "tif", "tiff", "webp", "gif", "bmp", "ppm", "pnm", "tga",
                      "qoi", "jp2", "j2k", "jpf", "avif", "npy"):
        add("identity", "{in}/rgb.png", f"out.{extension}")
        add("blur", "-r", "2", "{in}/rgb.png", f"out.{extension}")
    for extension in ("png", "jpg", "tif", "webp", "gif", "bmp", "pgm", "jp2", "npy"):
        add("identity", "{in}/grey.png", f"out.{extension}")
    for source in ("rgb.jpg", "grey.jpg", "rgb.bmp", "rgb.gif", "rgb.ppm", "grey16.pgm", "rgb.tga", "rgb.qoi",
                   "rgb.jp2", "lossless.webp", "lossy.webp", "lzw.tif", "fax.tif", "u8.npy", "u8c3.npy",
                   "u16c3.npy", "f16.npy", "i16.npy", "bool.npy", "c7.npy", "int16.tif", "uint32.tif", "float32.tif"):
        add("identity", f"{{in}}/{source}", "out.tif")
        add("blur", "-r", "2", f"{{in}}/{source}", "out.npy")
    for source in ("rgb.jpg", "grey.jpg", "lossless.webp", "lossy.webp", "lzw.tif", "fax.tif"):
        extension = source.rpartition(".")[2]
        add("blur", "-r", "1", f"{{in}}/{source}", f"out.{extension}")
        add("identity", f"{{in}}/{source}", f"out.{extension}")
    for options in (("--quality", "50"), ("--quality", "100"), ("--subsampling", "4:2:0"), ("--subsampling", "4:2:2"),
                    ("--quality", "75", "--subsampling", "4:4:4")):
        add("blur", "-r", "1", *options, "{in}/rgb.jpg", "out.jpg")
    for options in (("--quality", "60"), ("--quality", "100")):
        add("identity", *options, "{in}/rgb.png", "out.webp")
        add("identity", *options, "{in}/rgb.png", "out.avif")
    for level in ("0", "6", "9"):
        add("blur", "-r", "2", "--compress-level", level, "{in}/rgb.png", "out.png")
    for fmt in ("png", "jpeg", "tif", "webp", "npy", "PNG"):
        add("identity", "--format", fmt, "{in}/rgb.png", "out")
    add("identity", "--format", "png", "{in}/rgb.png", "out.jpg")  # the extension wins
    add("identity", "--format", "xyz", "{in}/rgb.png", "out.png")
    add("identity", "{in}/rgb.png", "out.xyz")
    add("identity", "{in}/unknown.xyz", "out.png")

    # Depths.
    for source, output, options in (
            ("grey16.png", "out.png", ()), ("grey16.png", "out.jpg", ()), ("grey16.png", "out.jpg", ("--depth", "8")),
            ("grey16.png", "out.png", ("--depth", "8")), ("grey.png", "out.png", ("--depth", "16")),
            ("grey.png", "out.tif", ("--depth", "16")), ("rgb.png", "out.png", ("--depth", "16")),
            ("rgb16.tif", "out.png", ()), ("rgb16.tif", "out.webp", ()), ("rgb16.tif", "out.webp", ("--depth", "8")),
            ("rgba16.tif", "out.png", ()), ("rgba16.tif", "out.tif", ("--depth", "8")),
            ("float32.tif", "out.tif", ()), ("float32.tif", "out.png", ()),
            ("float32.tif", "out.png", ("--depth", "8")),
            ("float32.tif", "out.png", ("--depth", "16")), ("f32.npy", "out.png", ("--depth", "8")),
            ("f64c3.npy", "out.png", ("--depth", "16")), ("f16.npy", "out.npy", ()),
            ("nan.npy", "out.png", ("--depth", "8")),
            ("nan.npy", "out.npy", ()), ("int16.tif", "out.png", ()), ("int16.tif", "out.png", ("--depth", "8")),
            ("uint32.tif", "out.tif", ()), ("i16.npy", "out.tif", ()), ("u16c3.npy", "out.png", ()),
            ("c7.npy", "out.png", ()), ("bool.npy", "out.png", ()), ("grey16.pgm", "out.pgm", ()),
            ("u8c3.npy", "out.npy", ("--depth", "16"))):
        add("blur", "-r", "2", *options, f"{{in}}/{source}", output)

    # TIFF compression.
    for compression in ("none", "deflate", "lzw", "zstd", "packbits"):
        add("blur", "-r", "2", "--compression", compression, "{in}/rgb.png", "out.tif")
        add("identity", "--compression", compression, "{in}/fax.tif", "out.tif")
    add("identity", "--compression", "zstd", "{in}/rgb.png", "out.png")
    add("identity", "--compression", "lzma", "{in}/rgb.png", "out.tif")

    # Frames and pages.
    for source in ("anim.gif", "anim-alpha.gif", "anim.png", "anim.webp"):
        for output in ("out.gif", "out.png", "out.webp", "out.npy", "out.tif", "out.jpg"):
            add("blur", "-r", "1", f"{{in}}/{source}", output)
        for frame in ("0", "2", "9"):
            add("identity", "--frame", frame, f"{{in}}/{source}", "out.png")
    for source in ("pages.tif", "pages-sizes.tif"):
        for output in ("out.tif", "out.gif", "out.npy", "out.png"):
            add("sobel", f"{{in}}/{source}", output)
        add("identity", "--frame", "1", f"{{in}}/{source}", "out.png")
    add("identity", "--frame", "0", "{in}/rgb.png", "out.png")
    add("identity", "--frame", "1", "{in}/rgb.png", "out.png")

    # Metadata and orientation.
    for source in ("exif.jpg", "exif.png", "exif.webp", "exif.tif"):
        extension = source.rpartition(".")[2]
        for options in ((), ("--strip",), ("--no-auto-orient",)):
            add("sobel", "-d", "x", *options, f"{{in}}/{source}", f"out.{extension}")
        add("identity", f"{{in}}/{source}", "out.png")
    add("identity", "{in}/exif.jpg", "out.webp")
    add("identity", "{in}/exif.jpg", "out.tif")
    add("identity", "--strip", "{in}/exif.jpg", "out.jpg")

    # Views, alpha and --background.
    for view in ("result", "side-by-side", "thumbnail"):
        for source in ("rgb.png", "rgba.png", "grey16.png", "la.png"):
            add("blur", "-r", "3", "--view", view, f"{{in}}/{source}", "out.png")
    add("blur", "--view", "side-by-side", "-r", "1", "{in}/anim.gif", "out.gif")
    add("blur", "--view", "thumbnail", "-r", "1", "{in}/rgb.png", "out.npy")
    for source, output in (("rgba.png", "out.jpg"), ("rgba-opaque.png", "out.jpg"), ("rgba.png", "out.bmp"),
                           ("la.png", "out.gif"), ("rgba16.tif", "out.jpg")):
        add("blur", "-r", "1", f"{{in}}/{source}", output)
    for colour in ("white", "#ff8000", "rgb(10,20,30)", "grey", "nosuchcolour"):
        add("blur", "-r", "1", "--background", colour, "{in}/rgba.png", "out.jpg")
    add("blur", "-r", "1", "--background", "black", "{in}/la.png", "out.png")
    add("blur", "-r", "1", "--background", "red", "{in}/la.png", "out.png")
    add("blur", "-r", "1", "--background", "white", "{in}/rgba16.tif", "out.png")
    add("blur", "-r", "1", "--background", "white", "--view", "side-by-side", "{in}/rgba.png", "out.png")

    # Pipes.
    add("blur", "-r", "2", "-", "-", stdin="rgb.png")
    add("blur", "-r", "2", "--format", "jpeg", "-", "-", stdin="rgb.png")
    add("identity", "-", "out.png", stdin="rgb.jpg")
    add("identity", "{in}/rgb.png", "-")
    add("identity", "--format", "npy", "{in}/anim.gif", "-")
    add("sobel", "-", "-", stdin="anim.gif")
    add("identity", "-", "-", stdin="text.png")
    add("identity", "-", "-", stdin="empty.png")
    add("blur", "-r", "1", "--report", "-", "{in}/rgb.png", "out.png")

    # One file with the batch options that apply to one file.
    add("blur", "-r", "1", "--dry-run", "{in}/rgb.png", "out.png")
    add("blur", "-r", "1", "--report", "report.jsonl", "{in}/rgb.png", "out.png")
    add("blur", "-r", "1", "--report", "report.jsonl", "{in}/truncated.png", "out.png")
    add("blur", "-r", "1", "--skip-existing", "in.png", "out.png", label="[output newer]",
        copies=(("rgb.png", "in.png", OLD), ("grey.png", "out.png", NEW)))
    add("blur", "-r", "1", "--skip-existing", "in.png", "out.png", label="[output older]",
        copies=(("rgb.png", "in.png", NEW), ("grey.png", "out.png", OLD)))
    add("blur", "-r", "1", "in.png", "in.png", label="[in.png is rgb.png]", copies=(("rgb.png", "in.png", OLD),))
    add("blur", "-r", "1", "--in-place", "in.png", "in.png", label="[in.png is rgb.png]",
        copies=(("rgb.png", "in.png", OLD),))
    add("blur", "-r", "1", "--suffix", "_x", "{in}/rgb.png", "out.png")
    add("blur", "-r", "1", "--include", "*.png", "{in}/rgb.png", "out.png")
    add("blur", "-r", "1", "--cluster", "tcp://127.0.0.1:1", "{in}/rgb.png", "out.png")
    add("blur", "-r", "1", "--tile-size", "16", "{in}/rgb.png", "out.png")

    # Batches.
    add("blur", "-r", "1", "{in}/batch", "out", unordered=True)
    add("blur", "-r", "1", "{in}/batch", "out/", "-j", "1")
    add("blur", "-r", "1", "-R", "{in}/batch", "out", "-j", "2", unordered=True)
    add("blur", "-r", "1", "-R", "-j", "2", "--suffix", "_soft", "--format", "webp", "{in}/batch", "out",
        unordered=True)
    add("sobel", "-R", "-j", "1", "--suffix", "_edges", "--report", "report.jsonl", "{in}/batch", "out")
    add("sobel", "-R", "-j", "1", "--report", "-", "{in}/batch", "out")
    add("blur", "-r", "1", "-R", "--dry-run", "--suffix", "_x", "{in}/batch", "out")
    add("blur", "-r", "1", "-R", "--dry-run", "--report", "report.jsonl", "{in}/batch", "out")
    add("blur", "-r", "1", "-R", "--include", "*.png", "--exclude", "sub/*", "-j", "1", "{in}/batch", "out")
    add("blur", "-r", "1", "-R", "--exclude", "*.jpg", "-q", "-j", "1", "{in}/batch", "out")
    add("blur", "-r", "1", "{in}/rgb.png", "{in}/grey.png", "{in}/anim.gif", "out", "-j", "2", unordered=True)
    add("blur", "-r", "1", "--format", "png", "{in}/rgb.png", "{in}/rgb.jpg", "out", "-j", "1")  # one output name
    add("blur", "-r", "1", "--files-from", "{in}/list.txt", "out", "-j", "1")
    add("blur", "-r", "1", "--files-from", "{in}/list0.txt", "-0", "out", "-j", "1")
    add("blur", "-r", "1", "--files-from", "-", "out", "-j", "1", stdin="list.txt")
    add("blur", "-r", "1", "-j", "1", "{in}/batch-broken", "out")
    add("blur", "-r", "1", "-j", "2", "{in}/batch-broken", "out", unordered=True)
    add("blur", "-r", "1", "-j", "1", "--fail-fast", "{in}/batch-broken", "out")
    add("blur", "-r", "1", "-j", "1", "--report", "report.jsonl", "{in}/batch-broken", "out")
    add("blur", "-r", "1", "-R", "-j", "1", "--skip-existing", "photos", "out",
        label="[photos is batch, out/a.png newer]", copies=(("batch", "photos", OLD), ("grey.png", "out/a.png", NEW)))
    add("blur", "-r", "1", "-R", "-j", "1", "--suffix", "_sharp", "photos", "photos",
        label="[photos is batch]", copies=(("batch", "photos", OLD),))
    for options in ((), ("--in-place",)):
        add("blur", "-r", "1", "-R", "-j", "1", *options, "photos", "photos", label="[photos is batch]",
            copies=(("batch", "photos", OLD),))
    add("blur", "-r", "1", "--suffix", "a/b", "{in}/batch", "out")
    add("blur", "-r", "1", "{in}/batch", "out.png")
    add("blur", "-r", "1", "{in}/empty-folder-missing", "out")
    add("blur", "-r", "1", "-j", "1", "--exclude", "*", "{in}/batch", "out")

    # Tiled TIFFs and Zarr stores, streamed.
    tiled_sources = ["tiled.tif", "tiled-rgb.tif", "tiled-rgba16.tif", "tiled-pages.tif"]
    if has_zarr:
        tiled_sources.append("store.zarr")
    for source in tiled_sources:
        outputs = ["out.tif", "out.png"] + (["out.zarr"] if has_zarr else [])
        for output in outputs:
            add("blur", "-r", "3", f"{{in}}/{source}", output)
        add("sobel", f"{{in}}/{source}", "out.tif")
    for options in (("--tile-size", "16"), ("--tile-size", "32,48"), ("--compression", "zstd"),
                    ("--compression", "none"), ("--frame", "1"), ("--view", "side-by-side"), ("--depth", "16"),
                    ("--max-pixels", "2000"), ("--method", "fft")):
        add("blur", "-r", "2", *options, "{in}/tiled-pages.tif", "out.tif")
    add("sobel", "--normalize", "{in}/tiled.tif", "out.tif")
    add("blur", "-r", "600", "{in}/tiled.tif", "out.tif")
    add("blur", "-r", "2", "--max-pixels", "100", "{in}/tiled.tif", "out.png")
    if has_zarr:
        for options in (("--tile-size", "16"), ("--compression", "none"), ("--compression", "deflate"),
                        ("--compression", "lzw")):
            add("blur", "-r", "2", *options, "{in}/store.zarr", "out.zarr")
        add("blur", "-r", "2", "-j", "1", "{in}/store.zarr", "{in}/tiled.tif", "out")

    # The lecture's commands.
    add("params")
    for options in (("--json",), ("--bias", "--channels", "3"), ("--input-size", "28x28", "--hidden", "100",
                                                                  "--kernel-size", "5", "--filters", "6", "--json"),
                    ("--input-size", "0x3",), ("--kernel-size", "2x"), ("--hidden", "-1")):
        add("params", *options)
    sobel_x, sobel_y = "-1 0 1; -2 0 2; -1 0 1", "-1 -2 -1; 0 0 0; 1 2 1"
    for options, output in (
            (("-k", sobel_x), "maps.npy"), (("-k", sobel_x, "-k", sobel_y), "maps.png"),
            (("-k", sobel_x, "-k", sobel_y, "-k", "{in}/kernels/sharpen.txt", "--columns", "3"), "maps.png"),
            (("-k", sobel_x, "--stride", "2", "--padding", "same"), "maps.npy"),
            (("-k", sobel_x, "--stride", "2,3", "--padding", "full", "--dilation", "2"), "maps.npy"),
            (("-k", sobel_x, "--padding", "2,1", "-b", "reflect", "--activation", "relu"), "maps.npy"),
            (("-k", sobel_x, "--padding", "1", "-b", "constant", "--cval", "128"), "maps.npy"),
            (("--weights", "{in}/kernels/weights.npy"), "maps.npy"),
            (("--weights", "{in}/kernels/weights.npy", "--bias", "0.1,0,-0.2", "--activation", "relu"), "maps.png"),
            (("--weights", "{in}/kernels/weights.npy", "--bias", "{in}/kernels/bias.npy"), "maps.npy"),
            (("--weights", "{in}/kernels/weights-grey.npy"), "maps.npy"),
            (("-k", sobel_x, "--bias", "1,2"), "maps.npy"), ((), "maps.npy"),
            (("-k", sobel_x, "--weights", "{in}/kernels/weights.npy"), "maps.npy"),
            (("-k", "1 2; 3 4", "-k", sobel_x), "maps.npy"), (("-k", sobel_x, "--padding", "nonsense"), "maps.npy"),
            (("-k", sobel_x, "--max-pixels", "100"), "maps.npy"), (("-k", sobel_x, "--dilation", "40"), "maps.npy")):
        add("conv-layer", *options, "{in}/rgb.png", output)
    add("conv-layer", "-k", sobel_x, "{in}/rgba.png", "maps.png")
    add("conv-layer", "-k", sobel_x, "{in}/grey16.png", "maps.npy")
    add("conv-layer", "-k", sobel_x, "{in}/anim.gif", "maps.npy")
    add("conv-layer", "--weights", "{in}/kernels/weights.npy", "{in}/grey.png", "maps.npy")
    for source, target, options in (
            ("grey.png", "grey-target.png", ("--kernel-size", "5")),
            ("grey.png", "grey-target.npy", ("--kernel-size", "5")),
            ("grey.png", "grey-target.png", ("--kernel-size", "3", "--ridge", "10")),
            ("grey.png", "grey-target.png", ("--kernel-size", "5", "-b", "nearest")),
            ("grey.png", "grey-target.png", ("--kernel-size", "5", "-b", "constant", "--cval", "20")),
            ("rgb.png", "rgb-target.png", ("--kernel-size", "3")),
            ("rgb.png", "rgb-target.png", ("--kernel-size", "3", "--per-channel")),
            ("grey.png", "rgb-target.png", ("--kernel-size", "3")), ("grey.png", "small.png", ("--kernel-size", "3")),
            ("grey.png", "grey-target.png", ("--kernel-size", "100")),
            ("grey.png", "truncated.png", ("--kernel-size", "3"))):
        add("learn", f"{{in}}/{source}", f"{{in}}/{target}", "kernel.txt", *options)
    for output, options in (
            ("slide.gif", ()), ("slide.gif", ("--numbers",)), ("slide.png", ("--numbers", "--seed", "3")),
            ("slide.webp", ("--input-size", "4x6", "--kernel-size", "2x3")),
            ("slide.gif", ("--input-size", "5", "--kernel-size", "3", "--stride", "2", "--padding", "1", "--numbers")),
            ("slide.gif", ("--padding", "same", "--dilation", "2", "--fps", "5")),
            ("slide.gif", ("--padding", "full",)),
            ("slide.png", ("--input-size", "3", "--kernel-size", "5")), ("slide.gif", ("--max-pixels", "1000",)),
            ("slide.jpg", ()), ("slide.gif", ("--fps", "0")), ("slide.gif", ("--stride", "0"))):
        add("animate", output, *options)

    # Refusals: usage errors (status 2) and failures (status 1).
    for options in (("-s", "0"), ("-r", "-1"), ("-s", "nan"), ("-s", "inf"), ("--cval", "nan"), ("-b", "bogus"),
                    ("--method", "magic"), ("--threads", "0"), ("--depth", "12"), ("--quality", "0"),
                    ("--subsampling", "4:1:1"), ("--compress-level", "10"), ("--frame", "-1"), ("--bogus",),
                    ("--view", "sideways")):
        add("blur", *options, "{in}/rgb.png", "out.png")
    add("blur", "{in}/rgb.png", "out.png")  # neither radius nor sigma
    add("box", "-r", "2", "--kernel-size", "3", "{in}/rgb.png", "out.png")
    add("blur", "-r", "1", "{in}/rgb.png")
    add("blur", "-r", "1", "{in}/missing.png", "out.png")
    add("blur", "-r", "1", "{in}/rgb.png", "missing-folder/out.png")
    for source in ("truncated.png", "text.png", "empty.png", "crc.png", "bomb.png", "garbage.jpg", "bad-header.npy"):
        add("blur", "-r", "1", f"{{in}}/{source}", "out.png")
    add("blur", "-r", "1", "--max-pixels", "100", "{in}/rgb.png", "out.png")
    add("blur", "-r", "1", "--max-pixels", "0", "{in}/rgb.png", "out.png")
    add("blur", "-r", "1", "{in}/rgb.png", "out.png", env=(("IMGCONV_MAX_PIXELS", "100"),))
    add("blur", "-r", "1", "{in}/anim.gif", "out.png", env=(("IMGCONV_MAX_PIXELS", "10000"),))
    add("motion", "-l", "5000", "{in}/rgb.png", "out.png")
    add("blur", "-r", "1", "{in}", "out.png")

    return list(out.values())


# ----------------------------------------------------------------------------- running


def _environment(extra: tuple[tuple[str, str], ...] = ()) -> dict[str, str]:
    """The caller's environment without IMGCONV_* (which would change what commands do),
    with a fixed hash seed and help width."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGCONV_")}
    env.update(PYTHONHASHSEED="0", COLUMNS="100", LC_ALL="C.UTF-8")
    env.update(extra)
    return env


class Paths:
    """The temporary folder's paths and their placeholders, longest first so that the
    work folder is replaced before the folder holding it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.inputs = root / "in"

    def placeholders(self, work: Path) -> list[tuple[bytes, bytes]]:
        pairs = [(work, b"{work}"), (self.inputs, b"{in}"), (self.root, b"{tmp}")]
        return [(str(path).encode(), token) for path, token in pairs]


_SECONDS = re.compile(rb'("seconds"\s*:\s*)(-?[0-9][0-9.eE+-]*|null)')


def normalise(data: bytes, placeholders: list[tuple[bytes, bytes]]) -> bytes:
    """``data`` with the temporary paths as placeholders and a report's timings hidden:
    the two things that differ between two runs of the same code."""
    for path, token in placeholders:
        data = data.replace(path, token)
    return _SECONDS.sub(rb'\1"{seconds}"', data)


_GZIP = b"\x1f\x8b\x08"


def normalise_chunk(data: bytes) -> bytes:
    """A Zarr chunk with its gzip header's MTIME (bytes 4-7) zeroed: zarr's gzip codec
    (``--compression deflate``) stamps each chunk with the time it was written, so two
    runs of the same code differ there and nowhere else."""
    return data[:4] + bytes(4) + data[8:] if data.startswith(_GZIP) else data


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _text(data: bytes) -> str | None:
    """``data`` as text if it is short text, for `compare` to show."""
    if len(data) > SHOWN:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() or path.is_symlink():
            yield path


def _copy(source: Path, dest: Path, mtime: int) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, dest)
        paths = [dest, *dest.rglob("*")]
    else:
        shutil.copyfile(source, dest)
        paths = [dest]
    for path in paths:
        os.utime(path, (mtime, mtime))


def _file_bytes(path: Path, placeholders: list[tuple[bytes, bytes]]) -> bytes:
    data = normalise(path.read_bytes(), placeholders)
    return normalise_chunk(data) if any(part.endswith(".zarr") for part in path.parts[:-1]) else data


def run_case(case: Case, index: int, paths: Paths) -> dict[str, Any]:
    """Run one case in its own folder and return its record."""
    work = paths.root / "work" / f"{index:04d}"
    work.mkdir(parents=True)
    for source, dest, mtime in case.copies:
        _copy(paths.inputs / source, work / dest, mtime)
    args = [arg.replace("{in}", str(paths.inputs)) for arg in case.args]
    stdin = (paths.inputs / case.stdin).read_bytes() if case.stdin else b""
    try:
        done = subprocess.run([sys.executable, "-m", "imgconv", *args], input=stdin, capture_output=True,
                              check=False, cwd=work, env=_environment(case.env), timeout=TIMEOUT)
        status, stdout, stderr = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as exc:
        status, stdout, stderr = "timeout", exc.stdout or b"", exc.stderr or b""
    placeholders = paths.placeholders(work)
    stdout = normalise(stdout, placeholders)
    error_text = normalise(stderr, placeholders).decode("utf-8", "backslashreplace")
    if case.unordered:
        error_text = "".join(sorted(error_text.splitlines(keepends=True)))
    record: dict[str, Any] = {
        "argv": ["imgconv", *case.args],
        "stdin": case.stdin,
        "exit": status,
        "stderr": error_text,
        "stdout_sha256": _digest(stdout),
        "files": {str(path.relative_to(work)): _digest(_file_bytes(path, placeholders)) for path in _files(work)},
    }
    shown = _text(stdout)
    if shown is not None:
        record["stdout_text"] = shown
    shutil.rmtree(work)  # keeps the temporary folder small: 400 commands' outputs
    return record


# ----------------------------------------------------------------------------- the demo


class Demo:
    """``imgconv demo --no-browser --port 0`` on 127.0.0.1, as tests/test_demo.py starts it."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "imgconv", "demo", "--no-browser", "--port", "0"],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env=_environment())
        assert self.process.stdout is not None
        url = self.process.stdout.readline().decode().strip()
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.port:
            self.stop()
            raise RuntimeError(f"imgconv demo printed no address: {url!r}")
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port
        self.token = parse_qs(parts.query)["token"][0]

    def request(self, method: str, path: str, body: bytes | None = None, token: bool = True,
                headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
        """Status, content type and body; the token in the query, as scripts give it."""
        if token:
            path += ("&" if "?" in path else "?") + f"token={self.token}"
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type") or "", response.read()
        finally:
            connection.close()

    def stop(self) -> tuple[int, bytes, bytes]:
        """Ctrl-C, as a user ends it: status, the rest of stdout, and stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            # Seconds at most alone; over 20 s while two records ran beside other
            # helpers' test suites (load average 15-17).
            out, err = self.process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        return self.process.returncode, out, err


DEMO_GETS = (
    "/", "/demo.js", "/demo.css", "/image",
    "/blur.png?radius=5&deviation=3&view=result&boundary=reflect",
    "/blur.png?radius=5&deviation=3&view=thumbnail&boundary=mirror",
    "/blur.png?radius=30&deviation=10&view=side-by-side&boundary=wrap",
    "/blur.png?radius=0&deviation=0.5&view=result&boundary=constant",
    "/kernel.json?radius=2&deviation=1",
    "/conv.json?input=5&kernel=3&stride=2&padding=1",
    "/conv.json?input=7&kernel=3&stride=1&padding=same&dilation=2",
    "/conv.png?input=5&kernel=3&stride=2&padding=1&step=3",
    "/params.json?input=100x100&hidden=1000&filter=5x5&filters=10&channels=3&bias=1",
    "/params.json",
    # Refused: out of range, not a number, unknown names, a path outside the page.
    "/blur.png?radius=-1", "/blur.png?deviation=nan", "/blur.png?radius=abc", "/blur.png?view=sideways",
    "/blur.png?radius=1&radius=2", "/blur.png?colour=red", "/nosuchpage", "/../../etc/passwd",
)


def record_demo(paths: Paths) -> dict[str, dict[str, Any]]:
    """The demo's answers: status, content type and body hash (and short text) each."""
    demo = Demo()
    records: dict[str, dict[str, Any]] = {}
    placeholders = [(demo.token.encode(), b"{token}"), (str(demo.port).encode(), b"{port}")]

    def keep(name: str, answer: tuple[int, str, bytes], body: bytes | None = None) -> None:
        status, content_type, data = answer
        data = normalise(data if body is None else body, placeholders)
        records[name] = {"status": status, "content_type": content_type, "body_sha256": _digest(data)}
        shown = _text(data) if not content_type.startswith(("text/html", "text/javascript", "text/css")) else None
        if shown is not None:
            records[name]["text"] = shown

    try:
        for path in DEMO_GETS:
            keep(f"demo GET {path}", demo.request("GET", path))
        keep("demo GET / without the token", demo.request("GET", "/", token=False))
        keep("demo GET / from another Host", demo.request("GET", "/", headers={"Host": "evil.example:80"}))
        keep("demo GET /image from another Origin", demo.request("GET", "/image", headers={"Origin": "http://evil.example"}))
        keep("demo POST /blur.png", demo.request("POST", "/blur.png", body=b"x"))
        keep("demo POST /image not an image", demo.request("POST", "/image", body=b"not an image"))
        upload = demo.request("POST", "/image", body=(paths.inputs / "rgba.png").read_bytes())
        key = json.loads(upload[2])["id"] if upload[0] == 200 else ""
        keep("demo POST /image rgba.png", upload, upload[2].replace(key.encode(), b"{id}") if key else None)
        keep("demo GET /blur.png of the upload",
             demo.request("GET", f"/blur.png?radius=2&deviation=1&view=side-by-side&boundary=nearest&image={key}"))
    finally:
        status, out, err = demo.stop()
    records["demo stopped by Ctrl-C"] = {"exit": status, "stdout_sha256": _digest(out),
                                         "stderr": err.decode("utf-8", "backslashreplace")}
    return records


# ----------------------------------------------------------------------------- commands


def record(path: Path) -> int:
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="imgconv-outputs-")).resolve()
    try:
        paths = Paths(root)
        has_zarr = build_inputs(paths.inputs)
        todo = cases(has_zarr)
        with ThreadPoolExecutor(PARALLEL) as pool:
            # Threads, not processes: each command is its own child process, and the
            # threads only wait for them.
            results = list(pool.map(lambda item: run_case(item[1], item[0], paths), enumerate(todo)))
        records = {case.name: result for case, result in zip(todo, results, strict=True)}
        records.update(record_demo(paths))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    seconds = time.monotonic() - started
    import imgconv

    meta = {"python": sys.version, "imgconv": str(Path(imgconv.__file__).parent), "zarr": has_zarr,
            "commands": len(todo), "records": len(records), "seconds": round(seconds, 1)}
    path.write_text(json.dumps({"meta": meta, "cases": records}, indent=1, ensure_ascii=False) + "\n")
    failures = sum(1 for r in records.values() if r.get("exit") == "timeout")
    print(f"{len(todo)} commands and {len(records) - len(todo)} demo records in {seconds:.0f} s -> {path}"
          + (f"; {failures} timed out" if failures else ""), file=sys.stderr)
    return 0


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 300 else text[:300] + "..."


def differences(old: dict[str, Any], new: dict[str, Any]) -> Iterator[str]:
    """One line per field that differs between two records of one command."""
    for key in sorted(set(old) | set(new)):
        if key == "files":
            before, after = old.get(key, {}), new.get(key, {})
            for name in sorted(set(before) | set(after)):
                if before.get(name) != after.get(name):
                    yield f"  file {name}: {before.get(name, 'absent')} -> {after.get(name, 'absent')}"
        elif key == "stdout_text" or (key == "text" and old.get("body_sha256") == new.get("body_sha256")):
            continue  # shown with the hash it explains
        elif old.get(key) != new.get(key):
            yield f"  {key}: {_show(old.get(key))} -> {_show(new.get(key))}"
            if key == "stdout_sha256" and (old.get("stdout_text") or new.get("stdout_text")):
                yield f"  stdout: {_show(old.get('stdout_text'))} -> {_show(new.get('stdout_text'))}"


def compare(old_path: Path, new_path: Path) -> int:
    old, new = (json.loads(p.read_text())["cases"] for p in (old_path, new_path))
    differing = 0
    for name in list(old) + [n for n in new if n not in old]:
        if name not in new or name not in old:
            print(f"{name}\n  only in {old_path if name in old else new_path}")
            differing += 1
            continue
        lines = list(differences(old[name], new[name]))
        if lines:
            print(name, *lines, sep="\n")
            differing += 1
    print(f"{differing} of {len(set(old) | set(new))} records differ", file=sys.stderr)
    return 1 if differing else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    recording = commands.add_parser("record", help="run every command and write their outputs' record")
    recording.add_argument("out", type=Path, metavar="OUT.json")
    comparing = commands.add_parser("compare", help="print the commands whose records differ; exit 1 if any")
    comparing.add_argument("old", type=Path, metavar="OLD.json")
    comparing.add_argument("new", type=Path, metavar="NEW.json")
    options = parser.parse_args(argv)
    if options.command == "record":
        return record(options.out)
    return compare(options.old, options.new)


if __name__ == "__main__":
    sys.exit(main())
