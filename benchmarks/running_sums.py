"""Boxes and tents on the 4K photo: the time of ``auto`` by radius, and of each
strategy that can run, to check that the cost of ``running-sums`` does not grow with
the radius and to place it in the cost model.

The photo is ../shared/images/chelsea.png (samples/chelsea.png if absent) resized to
3840x2160 RGB, 8-bit in and out, reflect mode, all threads; best of a few runs after a
warm-up. Boxes and tents are `imgconv.kernels.separable_box` and `separable_tent`, as
the commands build them.

    .venv/bin/python benchmarks/running_sums.py [radius ...]
"""

import sys
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


if __name__ == "__main__":
    main([int(radius) for radius in sys.argv[1:]] or list(RADII))
