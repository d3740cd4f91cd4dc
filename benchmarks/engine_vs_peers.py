"""imgconv against its peers on the same inputs, in one run: the targets of the fast engine.

Builds a 3840x2160 RGB photograph and a 512x512 one from samples/chelsea.png, then times:

1. Gaussian r=5, s=3 on the 4K photo, 8-bit in and out: imgconv vs scipy.ndimage (two
   correlate1d passes, float32) and OpenCV sepFilter2D (float32).
2. Gaussian s=20, r=60: imgconv vs scipy.ndimage and OpenCV GaussianBlur (8-bit).
3. Random dense 15x15 and 31x31 kernels: imgconv vs OpenCV filter2D (float32).
4. The CLI, `imgconv blur -r 5 -s 3` on the 4K PNG and a 4K JPEG (quality 92) vs
   `vips gaussblur` (and ImageMagick), and on the 512x512 PNG vs ImageMagick: wall time,
   output size, peak memory.

It also prints how the time of a Gaussian grows with its radius, next to OpenCV's.

Peers that are not installed are left out: scipy and Pillow always run; OpenCV and
pyvips come with `pip install -e '.[bench]'`, the `vips` and ImageMagick commands with
Debian's `libvips-tools` and `imagemagick`. Times are the best of several runs.

    .venv/bin/python benchmarks/engine_vs_peers.py
"""

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import scipy.ndimage as ndi
from PIL import Image, ImageFilter
from timing import best_times

import imgconv

ROOT = Path(__file__).resolve().parent.parent

try:
    import cv2
except ImportError:
    cv2 = None
try:
    import pyvips
except (ImportError, OSError):  # OSError: the binding is there but libvips is not
    pyvips = None


def race(ours, peer, repeats=7, rounds=2):
    """Best times of imgconv's function and a peer's, taken in turns (see `best_times`)."""
    return best_times((ours, peer), repeats, rounds)


def run_command(command, repeats=3):
    """Best wall time of a command, and its peak memory in MiB (None without GNU time).

    The memory comes from GNU time, a small process of its own: a child of this big
    Python process would report this process's peak, which fork hands down.
    """
    # As a user's install runs it: with bytecode (a machine that sets
    # PYTHONDONTWRITEBYTECODE, as this project's does, would compile NumPy's and
    # imgconv's sources on every run), written by an untimed first run.
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=environment)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=environment)
        best = min(best, time.perf_counter() - start)
    peak = None
    if os.path.exists("/usr/bin/time"):
        timed = subprocess.run(["/usr/bin/time", "-f", "%M", *command], check=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, env=environment)
        peak = int(timed.stderr.strip().splitlines()[-1]) / 1024
    return best, peak


def megabytes(peak):
    return "n/a" if peak is None else f"{peak:.0f} MiB"


def imagemagick():
    """The real ImageMagick `convert` (some machines have a stand-in earlier on PATH)."""
    for candidate in ("/usr/bin/convert", shutil.which("convert")):
        if candidate and os.path.exists(candidate):
            probe = subprocess.run([candidate, "-version"], capture_output=True, text=True)
            if "ImageMagick" in probe.stdout:
                return candidate
    return None


class Table:
    def __init__(self):
        self.rows = []

    def add(self, target, ours, peer_time, peer, goal=None):
        """goal: the largest allowed ours/peer ratio (a speed-up of 6 is a ratio of 1/6);
        None for a peer shown for comparison only."""
        ratio = ours / peer_time
        verdict = "-" if goal is None else "yes" if ratio <= goal else "NO"
        self.rows.append((target, f"{ours * 1000:.0f} ms", peer, f"{peer_time * 1000:.0f} ms",
                          f"{ratio:.2f}", "-" if goal is None else f"<= {goal:.2f}", verdict))

    def print(self):
        print("| target | imgconv | peer | peer time | ratio | goal | met |")
        print("|---|---|---|---|---|---|---|")
        for row in self.rows:
            print("| " + " | ".join(row) + " |")


def engine_targets(table, photo):
    as_float = photo.astype(np.float32)

    def scipy_two_passes(g):
        return lambda: ndi.correlate1d(ndi.correlate1d(as_float, g, axis=0), g, axis=1)

    for radius, sigma, label in ((5, 3, "1. Gaussian r=5 s=3, 4K"), (60, 20, "2. Gaussian r=60 s=20, 4K")):
        kernel = imgconv.kernels.gaussian(sigma, radius=radius)
        g = kernel[radius] / kernel[radius].sum()

        def ours(kernel=kernel):
            imgconv.convolve(photo, kernel, output=np.uint8)

        table.add(label, *race(ours, scipy_two_passes(g), 5 if radius < 10 else 1),
                  "scipy.ndimage 2x correlate1d f32", 1 / 6 if radius < 10 else 1 / 10)
        if cv2 is not None and radius < 10:
            def peer(g=g):
                return cv2.sepFilter2D(as_float, -1, g, g, borderType=cv2.BORDER_REFLECT)

            table.add(label, *race(ours, peer), "OpenCV sepFilter2D f32", 1.5)
        elif cv2 is not None:
            size = 2 * radius + 1
            def peer(size=size, sigma=sigma):
                return cv2.GaussianBlur(photo, (size, size), sigma, borderType=cv2.BORDER_REFLECT)

            table.add(label, *race(ours, peer), "OpenCV GaussianBlur 8-bit", 1.5)
        if radius < 10:
            def pillow():
                return Image.fromarray(photo).filter(ImageFilter.GaussianBlur(3))

            table.add(label, *race(ours, pillow), "Pillow GaussianBlur(3)", 1 / 6)
        if pyvips is not None and radius < 10:
            height, width, bands = photo.shape

            def vips_blur(width=width, height=height, bands=bands):
                image = pyvips.Image.new_from_memory(photo.data, width, height, bands, "uchar")
                return image.gaussblur(3, min_ampl=0.2).write_to_memory()  # radius 5, 8-bit

            table.add(label, *race(ours, vips_blur), "pyvips gaussblur 8-bit")
    if cv2 is not None:
        rng = np.random.default_rng(0)
        for size, goal in ((15, 1.5), (31, 1.0)):
            kernel = rng.random((size, size))

            def ours(kernel=kernel):
                return imgconv.correlate(photo, kernel, output=np.uint8)

            def peer(kernel=kernel):
                return cv2.filter2D(as_float, -1, kernel.astype(np.float32))

            table.add(f"3. random {size}x{size}, 4K", *race(ours, peer, 2), "OpenCV filter2D f32", goal)


def kernel_cases(photo):
    """The kernels of the small-kernel table: (label, kernel, OpenCV's 8-bit call, goal for
    imgconv's time over OpenCV's). Every OpenCV call reads and writes 8-bit samples and
    reflects at the edges as imgconv does."""
    kernels = imgconv.kernels
    reflect = cv2.BORDER_REFLECT
    rng = np.random.default_rng(0)

    def gaussian(radius, sigma):
        size = 2 * radius + 1
        return (f"Gaussian r={radius} s={sigma:.3g}", kernels.gaussian(sigma, radius=radius),
                lambda: cv2.GaussianBlur(photo, (size, size), sigma, borderType=reflect))

    def filter2d(label, kernel):
        # cv2.filter2D correlates: the kernel turned by 180 degrees is imgconv's convolution.
        flipped = np.ascontiguousarray(kernel[::-1, ::-1], np.float32)
        return label, kernel, lambda: cv2.filter2D(photo, -1, flipped, borderType=reflect)

    def box(size):
        return (f"box {size}", kernels.box(size=size),
                lambda: cv2.blur(photo, (size, size), borderType=reflect))

    def random(size):
        weights = rng.random((size, size))
        return filter2d(f"random {size}x{size}", weights / weights.sum())

    yield (*gaussian(1, 1 / 3), 2.0)
    yield (*gaussian(5, 3), 2.0)
    yield (*gaussian(10, 10 / 3), 1.5)
    yield (*box(3), 2.0)
    yield (*box(15), 2.0)
    yield (*filter2d("Sobel x", kernels.sobel("x")), 2.0)
    yield (*filter2d("sharpen 3x3", kernels.sharpen()), 2.0)
    yield (*random(7), 1.5)
    yield (*gaussian(60, 20), 1.0)
    yield (*random(15), 1.0)
    yield (*random(31), 1.0)


def kernel_table(photo, threads=None, repeats=5, rounds=2):
    """The small-kernel table's targets 1 and 2, in one run: each kernel on the 4K photo, 8-bit in,
    imgconv with 8-bit output against OpenCV's 8-bit call (target 1: the ratio at most
    the goal), and imgconv with float32 output against its own 8-bit output (target 2:
    at most 1.1), twice: into a new array each call, and into arrays made once and
    passed as ``output=`` (as repeated calls can). A new float32 array's 100 MB of pages
    are faulted in and zeroed by the kernel on first touch; a new 8-bit one's 25 MB come
    from blocks glibc kept from the call before. ``threads``, if given, holds both
    imgconv and OpenCV to that many; ``rounds`` of turns (`best_times`)."""
    if cv2 is None:
        return
    if threads:
        cv2.setNumThreads(threads)
        print(f"imgconv and OpenCV on {threads} thread(s)")
    reused_u8, reused_f32 = np.zeros(photo.shape, np.uint8), np.zeros(photo.shape, np.float32)
    print("| kernel | imgconv u8 | OpenCV u8 | ratio | goal | met | imgconv f32 | f32 / u8 | met (<= 1.10) "
          "| f32 into output= | / u8 into output= | met (<= 1.10) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for label, kernel, peer, goal in kernel_cases(photo):
        ours = partial(imgconv.convolve, photo, kernel, output=np.uint8, threads=threads)
        floats = partial(imgconv.convolve, photo, kernel, output=np.float32, threads=threads)
        into_u8 = partial(imgconv.convolve, photo, kernel, output=reused_u8, threads=threads)
        into_f32 = partial(imgconv.convolve, photo, kernel, output=reused_f32, threads=threads)
        slow = kernel.shape[0] > 20
        u8, opencv, f32, u8_in, f32_in = best_times((ours, peer, floats, into_u8, into_f32), 2 if slow else repeats,
                                                    rounds)
        cells = [f"{u8 * 1000:.1f} ms", f"{opencv * 1000:.1f} ms", f"{u8 / opencv:.2f}", f"<= {goal:.1f}",
                 "yes" if u8 / opencv <= goal else "NO", f"{f32 * 1000:.1f} ms", f"{f32 / u8:.2f}",
                 "yes" if f32 / u8 <= 1.1 else "NO", f"{f32_in * 1000:.1f} ms", f"{f32_in / u8_in:.2f}",
                 "yes" if f32_in / u8_in <= 1.1 else "NO"]
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)
    # Target 2's floor: the identity kernel filters nothing, so its float32 time over
    # its 8-bit time is what writing 4 bytes a sample into a new array costs against 1.
    u8, f32, f32_in, numpy = best_times(
        (lambda: imgconv.correlate(photo, [[1.0]], output=np.uint8, threads=threads),
         lambda: imgconv.correlate(photo, [[1.0]], threads=threads),
         lambda: imgconv.correlate(photo, [[1.0]], output=reused_f32, threads=threads),
         lambda: photo.astype(np.float32)), repeats, rounds)
    print(f"identity [[1]]: u8 {u8 * 1000:.1f} ms, f32 {f32 * 1000:.1f} ms ({f32 / u8:.2f}), f32 into output= "
          f"{f32_in * 1000:.1f} ms ({f32_in / u8:.2f}); NumPy's photo.astype(float32) {numpy * 1000:.1f} ms")


def radius_scaling(photo):
    """How the cost of a Gaussian grows with its radius (sigma = radius / 3), next to
    OpenCV's GaussianBlur on the same 8-bit photo."""
    if cv2 is None:
        return
    print("| Gaussian radius | imgconv | x r=5 | OpenCV GaussianBlur | x r=5 |")
    print("|---|---|---|---|---|")
    base = None
    for radius in (5, 10, 20, 30, 45, 60, 75, 90, 120, 250, 500):
        kernel = imgconv.kernels.gaussian(radius / 3, radius=radius)
        size = 2 * radius + 1
        times = race(partial(imgconv.convolve, photo, kernel, output=np.uint8),
                     partial(cv2.GaussianBlur, photo, (size, size), radius / 3, borderType=cv2.BORDER_REFLECT),
                     # Small radii take a few milliseconds, so more runs to steady
                     # the base that every ratio divides by.
                     7 if radius <= 30 else 3 if radius < 100 else 1)
        base = base or times
        cells = [f"{times[0] * 1000:.0f} ms", f"{times[0] / base[0]:.1f}", f"{times[1] * 1000:.0f} ms",
                 f"{times[1] / base[1]:.1f}"]
        print(f"| {radius} | " + " | ".join(cells) + " |")


def command_targets(table, scratch):
    """Target 4: the whole command, `imgconv blur -r 5 -s 3`, against
    `vips gaussblur` on the 4K PNG (goal 0.8) and the 4K JPEG (1.0), and against
    ImageMagick on the 512x512 PNG (1.0): best wall times, peak memory, output sizes."""
    imgconv_command = [sys.executable, "-m", "imgconv", "blur", "-r", "5", "-s", "3"]
    convert = imagemagick()
    for name, goal in (("4k.png", 0.8), ("4k.jpg", 1.0)):
        source, suffix = scratch / name, name[-4:]
        ours, ours_memory = run_command([*imgconv_command, str(source), str(scratch / f"ours{suffix}")], 5)
        print(f"imgconv blur on the 4K {suffix}: {ours:.3f} s, peak {megabytes(ours_memory)}, "
              f"output {os.path.getsize(scratch / f'ours{suffix}') / 1e6:.1f} MB")
        if shutil.which("vips"):
            # --min-ampl 0.2 keeps the taps out to radius 5 for sigma 3, as imgconv's kernel.
            vips, vips_memory = run_command(["vips", "gaussblur", str(source), str(scratch / f"vips{suffix}"), "3",
                                             "--min-ampl", "0.2"], 5)
            print(f"vips gaussblur on the 4K {suffix}:  {vips:.3f} s, peak {megabytes(vips_memory)}, "
                  f"output {os.path.getsize(scratch / f'vips{suffix}') / 1e6:.1f} MB")
            table.add(f"4. CLI blur, 4K {suffix[1:].upper()}", ours, vips, "vips gaussblur", goal)
        if convert and suffix == ".png":
            magick, magick_memory = run_command([convert, str(source), "-gaussian-blur", "5x3",
                                                 str(scratch / "im.png")], 1)
            print(f"ImageMagick on the 4K PNG:     {magick:.2f} s, peak {megabytes(magick_memory)}")
    if convert:
        small = scratch / "512.png"
        ours_small, _ = run_command([*imgconv_command, str(small), str(scratch / "ours-small.png")], 9)
        magick_small, _ = run_command([convert, str(small), "-gaussian-blur", "5x3", str(scratch / "im-small.png")], 9)
        table.add("4. CLI blur, 512x512 PNG", ours_small, magick_small, "ImageMagick convert", 1.0)


# Target 3: every preset command on the 4K PNG peaks at most at this.
PRESET_MEMORY_GOAL_MIB = 160
PRESET_COMMANDS = (["blur", "-r", "5", "-s", "3"], ["box", "-r", "2"], ["sobel"], ["prewitt"], ["scharr"],
                   ["sharpen"], ["unsharp", "-r", "5"], ["laplacian"], ["emboss"], ["motion"])


def preset_memory(scratch):
    """Peak memory (GNU time) and wall time of every preset command on the 4K PNG."""
    print("| command | wall | peak memory | goal | met |")
    print("|---|---|---|---|---|")
    for arguments in PRESET_COMMANDS:
        wall, peak = run_command([sys.executable, "-m", "imgconv", *arguments, str(scratch / "4k.png"),
                                  str(scratch / "preset.png")], 1)
        verdict = "n/a" if peak is None else "yes" if peak <= PRESET_MEMORY_GOAL_MIB else "NO"
        print(f"| {' '.join(arguments)} | {wall:.2f} s | {megabytes(peak)} | <= {PRESET_MEMORY_GOAL_MIB} MiB | "
              f"{verdict} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("kernels", "engine", "memory", "commands"),
                        help="run one part: the small-kernel table, the engine targets and radius scaling, "
                             "the preset commands' peak memory, or the commands against vips and ImageMagick")
    parser.add_argument("--threads", type=int,
                        help="the small-kernel table only: imgconv and OpenCV on this many threads")
    parser.add_argument("--rounds", type=int, default=2,
                        help="the small-kernel table only: rounds of turns, each contender's best kept "
                             "(more on a busy machine)")
    arguments = parser.parse_args()
    only = arguments.only
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"numpy {np.__version__}, OpenCV {cv2.__version__ if cv2 else 'not installed'}")
    with Image.open(ROOT / "samples" / "chelsea.png") as cat:
        photo_image = cat.convert("RGB").resize((3840, 2160), Image.BICUBIC)
        small_image = cat.convert("RGB").resize((512, 512), Image.BICUBIC)
    table = Table()
    if only in (None, "kernels"):
        kernel_table(np.asarray(photo_image), arguments.threads, rounds=arguments.rounds)
    if only in (None, "engine"):
        engine_targets(table, np.asarray(photo_image))
        radius_scaling(np.asarray(photo_image))
    if only in ("kernels", "engine"):
        table.print()
        return
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        photo_image.save(scratch / "4k.png")
        photo_image.save(scratch / "4k.jpg", quality=92)
        small_image.save(scratch / "512.png")
        if only in (None, "memory"):
            preset_memory(scratch)
        if only in (None, "commands"):
            command_targets(table, scratch)
    table.print()


if __name__ == "__main__":
    main()
