"""How batch throughput scales with --jobs: 40 photographs of 1-2 megapixels.

Builds the inputs from the sample photos (resized and shifted so that no two files are
alike), then runs the real CLI, `imgconv blur -r 5 -s 3 --jobs N IN OUT`, once per job
count, in one process, and prints the times and the speed-up over --jobs 1.

    .venv/bin/python benchmarks/batch_scaling.py [--files 40] [--jobs 1 2]
"""

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def make_inputs(folder, count):
    sources = [Image.open(SAMPLES / name).convert("RGB") for name in ("chelsea.png", "camera.png")]
    for i in range(count):
        megapixels = 1.0 + (i % 5) * 0.25  # 1.0 to 2.0 MP
        base = sources[i % len(sources)]
        width = round((megapixels * 1e6 * base.width / base.height) ** 0.5)
        height = round(megapixels * 1e6 / width)
        pixels = np.roll(np.asarray(base.resize((width, height), Image.BICUBIC)), 37 * i, axis=1)
        Image.fromarray(pixels).save(folder / f"photo{i:02d}.png", compress_level=1)


def time_run(source, dest, jobs):
    command = [sys.executable, "-m", "imgconv", "blur", "-r", "5", "-s", "3", "--jobs", str(jobs),
               "--quiet", str(source), str(dest)]
    # With bytecode, as a user's install runs (the warm-up run writes it where a
    # machine sets PYTHONDONTWRITEBYTECODE).
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    subprocess.run(command, check=True, env=environment)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        (scratch / "in").mkdir()
        make_inputs(scratch / "in", args.files)
        time_run(scratch / "in", scratch / "warm-up", max(args.jobs))  # page cache, imports
        times = {jobs: time_run(scratch / "in", scratch / f"out{jobs}", jobs) for jobs in args.jobs}
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"{args.files} photos of 1-2 MP, imgconv blur -r 5 -s 3")
    print("| --jobs | seconds | files/s | speed-up vs --jobs 1 |")
    print("|---|---|---|---|")
    base = times[args.jobs[0]]
    for jobs, seconds in times.items():
        print(f"| {jobs} | {seconds:.2f} | {args.files / seconds:.1f} | {base / seconds:.2f}x |")


if __name__ == "__main__":
    main()
