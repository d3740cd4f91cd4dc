"""Boxes and tents on the 4K photo: the time of ``auto`` by radius, and of each
strategy that can run, to check that the cost of ``running-sums`` does not grow with
the radius and to place it in the cost model.

The photo is ../shared/images/chelsea.png (samples/chelsea.png if absent) resized to
3840x2160 RGB, 8-bit in and out, reflect mode, all threads; best of a few runs after a
warm-up. Boxes and tents are `imgconv.kernels.separable_box` and `separable_tent`, as
the commands build them.

    .venv/bin/python benchmarks/running_sums.py [radius ...]

With ``--command``, the whole command instead: ``imgconv box|tent --radius R`` on the photo
saved as a 4K PNG, the radii taken in turns, best of 5 rounds, wall time and the CPU time
of the process (steadier on a busy machine), each over the first radius's (5 and 500 by
default; the goal is at most 1.5).

    .venv/bin/python benchmarks/running_sums.py --command [--method M] [radius ...]

``--method M`` runs the radii after the first with ``--method M`` (``running-sums``: the
strategy forced where ``auto`` takes the FFT); the first, the baseline, stays ``auto``.
"""

import os
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image
from timing import best_times

import imgconv
from imgconv.engine import plan
from imgconv.errors import KernelError

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = (ROOT.parent / "shared" / "images" / "chelsea.png", ROOT / "samples" / "chelsea.png")
STRATEGIES = ("integer", "separable", "whole-channel-fft", "running-sums")
RADII = (5, 20, 100, 500)


def best_time(function):
    """Best of three timed calls after a warm-up."""
    return best_times([function], repeats=3, rounds=1)[0]


def photo_4k():
    path = next(path for path in PHOTOS if path.exists())
    with Image.open(path) as cat:
        return np.asarray(cat.convert("RGB").resize((3840, 2160), Image.BICUBIC))


def main(radii):
    photo = photo_4k()
    print("| kernel | radius | " + " | ".join(STRATEGIES) + " | auto picks | auto | auto / radius " f"{radii[0]} |")
    print("|---" * (len(STRATEGIES) + 5) + "|")
    for name in ("box", "tent"):
        first = None
        for radius in radii:
            kernel = getattr(imgconv.kernels, f"separable_{name}")(radius=radius)
            cells = []
            for method in STRATEGIES:
                try:
                    plan(photo.shape, kernel, method=method, dtype=photo.dtype)
                except KernelError:
                    cells.append("-")
                    continue
                seconds = best_time(partial(imgconv.correlate, photo, kernel, method=method, output=np.uint8))
                cells.append(f"{seconds * 1000:.0f} ms")
            picked = plan(photo.shape, kernel, dtype=photo.dtype).strategy
            auto = best_time(partial(imgconv.correlate, photo, kernel, output=np.uint8))
            first = first or auto
            print(f"| {name} | {radius} | " + " | ".join(cells) + f" | {picked} | {auto * 1000:.0f} ms | "
                  f"{auto / first:.2f} |", flush=True)


def command_times(commands, rounds=5):
    """Best wall and CPU seconds of each command, taken in turns after an untimed run of
    each, which writes the bytecode a user's install has (as `engine_vs_peers.run_command`)."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    wall, cpu = [float("inf")] * len(commands), [float("inf")] * len(commands)
    for timed in [False] + [True] * rounds:
        for i, command in enumerate(commands):
            start = time.perf_counter()
            _, status, usage = os.wait4(subprocess.Popen(command, env=environment).pid, 0)
            if status:
                raise SystemExit(f"{' '.join(command)} failed")
            if timed:
                wall[i] = min(wall[i], time.perf_counter() - start)
                cpu[i] = min(cpu[i], usage.ru_utime + usage.ru_stime)
    return wall, cpu


def main_command(radii, method="auto"):
    with tempfile.TemporaryDirectory() as scratch:
        photo = Path(scratch) / "4k.png"
        Image.fromarray(photo_4k()).save(photo)
        print(f"load {os.getloadavg()[0]:.1f}, --method {method}")
        print("| command | radius | wall | CPU | wall / radius " f"{radii[0]} | CPU / radius {radii[0]} |")
        print("|---" * 6 + "|")
        for name in ("box", "tent"):
            commands = [[sys.executable, "-m", "imgconv", name, "--radius", str(radius), "--method",
                         method if i else "auto", str(photo), str(Path(scratch) / "out.png")]
                        for i, radius in enumerate(radii)]
            wall, cpu = command_times(commands)
            for radius, seconds, used in zip(radii, wall, cpu, strict=True):
                print(f"| {name} | {radius} | {seconds:.2f} s | {used:.2f} s | {seconds / wall[0]:.2f} | "
                      f"{used / cpu[0]:.2f} |", flush=True)
        print(f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    arguments = [argument for argument in sys.argv[1:] if argument != "--command"]
    method = "auto"
    if "--method" in arguments:
        at = arguments.index("--method")
        method = arguments[at + 1]
        del arguments[at : at + 2]
    if "--command" in sys.argv[1:]:
        main_command([int(radius) for radius in arguments] or [5, 500], method)
    else:
        main([int(radius) for radius in arguments] or list(RADII))
