"""What `auto` picks against what each method measures, kernel by kernel and mode by mode.

On a 3840x2160 RGB photo built from samples/chelsea.png (and a 3847x2161 one, whose
sides are primes), 8-bit in and out, every method that can run and finishes in
reasonable time is timed (best of a few runs) next to the one
`imgconv.engine.plan` picks: strategies by their own names (``direct`` has two forms, ``fft``
two layouts). The table of auto's choices in docs/guides/engine.md comes from here.

    .venv/bin/python benchmarks/auto_choices.py
"""

import time
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

import imgconv
from imgconv.engine import STRATEGY_NAMES, plan
from imgconv.errors import KernelError

ROOT = Path(__file__).resolve().parent.parent
METHODS = STRATEGY_NAMES


def best_time(function, repeats):
    function()  # untimed warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def runs(method, kernel, mode, photo):
    """Whether ``method`` can filter ``photo`` with ``kernel`` in ``mode``."""
    try:
        plan(photo.shape, kernel, mode, method=method, dtype=photo.dtype)
    except KernelError:
        return False
    return True


def cases():
    rng = np.random.default_rng(0)
    gaussian = imgconv.kernels.gaussian
    kernels = imgconv.kernels
    yield "sharpen 3x3", kernels.sharpen(), "reflect", False
    yield "Sobel x", kernels.sobel("x"), "reflect", False
    yield "emboss", kernels.emboss(), "reflect", False
    for size in (3, 7, 15, 17):  # 17x17: sums beyond 16 bits, so no integer
        yield f"box {size}", kernels.box(size=size), "reflect", False
    for radius in (1, 2):
        yield f"Gaussian r={radius}", kernels.gaussian(radius=radius), "reflect", False
    for size in (5, 7, 9, 15, 31):
        yield f"random {size}x{size}", rng.normal(size=(size, size)), "reflect", False
    for radius in (5, 30, 60, 75, 90, 120, 250, 500):
        yield f"Gaussian r={radius}", gaussian(radius=radius), "reflect", False
    for mode in ("mirror", "nearest", "constant", "wrap"):
        for radius in (60, 90, 120, 500):
            yield f"Gaussian r={radius}", gaussian(radius=radius), mode, False
    for radius in (60, 120):
        yield f"Gaussian r={radius}", gaussian(radius=radius), "reflect", True


def main():
    with Image.open(ROOT / "samples" / "chelsea.png") as cat:
        photos = {size: np.asarray(cat.convert("RGB").resize(size, Image.BICUBIC))
                  for size in ((3840, 2160), (3847, 2161))}
    print("| kernel | mode | photo | " + " | ".join(METHODS) + " | auto | fastest |")
    print("|---" * (len(METHODS) + 5) + "|")
    for label, kernel, mode, primes in cases():
        photo = photos[(3847, 2161) if primes else (3840, 2160)]
        times = {}
        for method in METHODS:
            if method == "shifted-views" and np.count_nonzero(kernel) > 49:
                continue  # seconds or minutes: never the quickest
            if not runs(method, kernel, mode, photo):
                continue  # integer: not an integer kernel, or its sums overflow 16 bits
            repeats = 1 if kernel.shape[0] > 200 else 3
            times[method] = best_time(partial(imgconv.correlate, photo, kernel, mode, method=method, output=np.uint8),
                                      repeats)
        picked = plan(photo.shape, kernel, mode, dtype=np.uint8).strategy
        cells = [f"{times[m] * 1000:.0f} ms" if m in times else "-" for m in METHODS]
        fastest = min(times, key=times.get)
        verdict = "yes" if picked == fastest else f"no: {fastest} ({times[picked] / times[fastest]:.2f}x)"
        size = "x".join(map(str, photo.shape[1::-1]))
        print(f"| {label} | {mode} | {size} | " + " | ".join(cells) + f" | {picked} | {verdict} |", flush=True)


if __name__ == "__main__":
    main()
