"""Peak memory and time of a large tiled TIFF streamed through the CLI.

Builds a 1 GiB grey 8-bit tiled TIFF (32768 x 32768, 256 x 256 tiles, uncompressed by
default) in a scratch folder under /tmp, runs the real CLI on it,
`imgconv blur -r 5 -s 3 big.tif out.tif`, in a child process, and prints its wall time
and peak resident memory (the child's ru_maxrss). Then checks the output against
`imgconv.correlate` on the whole image, sample for sample (that check holds the image,
the result and the output at once: about 4 GiB), and deletes the files.

    .venv/bin/python benchmarks/tiled_memory.py [--size 32768] [--tile 256] [--compression none]
"""

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

import imgconv


def make_input(path, size, tile, compression):
    """A photograph-like image: smooth gradients and rings, plus noise, tile row by tile
    row, so that building it does not take the memory being measured."""
    rng = np.random.default_rng(0)
    x = np.arange(size, dtype=np.float32)

    def tiles():
        for top in range(0, size, tile):
            y = np.arange(top, top + tile, dtype=np.float32)[:, None]
            rows = 128 + 60 * np.sin(x / 700 + y / 1100) + 40 * np.cos(np.hypot(x - size / 2, y - size / 3) / 90)
            rows = np.clip(rows + rng.normal(0, 12, rows.shape), 0, 255).astype(np.uint8)
            for left in range(0, size, tile):
                yield rows[:, left : left + tile]

    tifffile.imwrite(path, tiles(), shape=(size, size), dtype=np.uint8, tile=(tile, tile),
                     compression=None if compression == "none" else compression, bigtiff=True)


def run_cli(source, dest):
    """Wall seconds and peak RSS (bytes) of the CLI in a child process."""
    command = [sys.executable, "-m", "imgconv", "blur", "-r", "5", "-s", "3", str(source), str(dest)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of the children is the largest of any child so far: this is the only one.
    assert peak >= before
    return seconds, peak * 1024


def cpu_name():
    try:
        with open("/proc/cpuinfo") as info:
            return next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.platform()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32768)
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--compression", default="none", help="tifffile's name: none, zlib, lzw, zstd, ...")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="imgconv-tiled-", dir="/tmp"))
    try:
        source, dest = scratch / "big.tif", scratch / "out.tif"
        start = time.perf_counter()
        make_input(source, args.size, args.tile, args.compression)
        decoded = args.size * args.size
        print(f"input: {args.size}x{args.size} grey 8-bit, {args.tile}x{args.tile} tiles, {args.compression}, "
              f"{os.path.getsize(source) / 2**20:.0f} MiB on disk, {decoded / 2**20:.0f} MiB decoded "
              f"(built in {time.perf_counter() - start:.1f} s)")
        seconds, peak = run_cli(source, dest)
        limit = decoded / 4 + 200 * 2**20
        print(f"imgconv blur -r 5 -s 3 big.tif out.tif: {seconds:.1f} s, peak RSS {peak / 2**20:.0f} MiB "
              f"(limit: a quarter of the decoded size + 200 MiB = {limit / 2**20:.0f} MiB)")
        print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {cpu_name()}, "
              f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} "
              "(other processes share the CPUs: times are noisy)")
        image = tifffile.imread(source)
        start = time.perf_counter()
        whole = imgconv.correlate(image, imgconv.kernels.gaussian(3, radius=5), output=np.uint8)
        print(f"imgconv.correlate on the whole image in memory (the reference): {time.perf_counter() - start:.1f} s")
        del image
        with tifffile.TiffFile(dest) as tiff:
            page = tiff.pages[0]
            layout = (page.tilelength, page.tilewidth, page.compression.name)
            result = page.asarray()
        differ = int(np.count_nonzero(result != whole))
        print(f"output: tiles {layout[0]}x{layout[1]}, {layout[2]}; samples differing from imgconv.correlate on "
              f"the whole image: {differ}")
        if differ or peak > limit:
            sys.exit(1)
    finally:
        shutil.rmtree(scratch)


if __name__ == "__main__":
    main()
