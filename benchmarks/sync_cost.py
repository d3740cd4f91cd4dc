"""What syncing each output costs: a batch of small PNGs with and without --no-sync.

Every output is synced (fsync) before it takes its name and its folder after, so that
a power loss leaves the old file or the new one. This runs the real CLI,
`imgconv blur -r 1 IN OUT` on FILES small PNGs, into a folder on the disk given
(default: beside this repository, on its disk), alternately with and without
--no-sync, ROUNDS times each, and prints the median wall time of each and the cost
per file. The outputs are removed between runs, so that every run makes new files.

    .venv/bin/python benchmarks/sync_cost.py [--files 100] [--rounds 5] [--jobs N] [--where FOLDER]
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def make_inputs(folder: Path, count: int, side: int) -> None:
    rng = np.random.default_rng(7)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (side, side, 3), np.uint8)).save(folder / f"{i:03d}.png")


def run(inputs: Path, out: Path, jobs: int | None, sync: bool) -> float:
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "imgconv", "blur", "-r", "1", "-q", str(inputs), str(out)]
    if jobs:
        command[4:4] = ["--jobs", str(jobs)]
    if not sync:
        command.insert(4, "--no-sync")
    start = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--side", type=int, default=64, help="pixels a side of each input")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, help="--jobs of each batch [default: imgconv's]")
    parser.add_argument("--where", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="a folder on the disk to measure")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix=".sync-cost-", dir=options.where) as scratch:
        inputs, out = Path(scratch) / "in", Path(scratch) / "out"
        inputs.mkdir()
        make_inputs(inputs, options.files, options.side)
        times = {True: [], False: []}
        for _ in range(options.rounds):
            for sync in (True, False):
                times[sync].append(run(inputs, out, options.jobs, sync))
        source = subprocess.run(["df", "--output=source,fstype", scratch], capture_output=True, text=True,
                                check=False).stdout
    synced, unsynced = statistics.median(times[True]), statistics.median(times[False])
    print(f"{platform.node()}, {os.cpu_count()} CPUs, {' '.join(source.split()[2:])}: {options.files} PNGs of "
          f"{options.side}x{options.side}, --jobs {options.jobs or 'default'}, median of {options.rounds}")
    print(f"synced (default) {synced:.2f} s, --no-sync {unsynced:.2f} s: "
          f"{(synced - unsynced) / options.files * 1000:.1f} ms a file "
          f"({(synced / unsynced - 1) * 100:+.0f}%)")
    print("all runs, synced:", " ".join(f"{t:.2f}" for t in times[True]))
    print("all runs, --no-sync:", " ".join(f"{t:.2f}" for t in times[False]))


if __name__ == "__main__":
    main()
