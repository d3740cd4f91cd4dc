"""Peak memory of whole filter commands on one large image, against its decoded size.

Each command runs as a new process, as a user runs it (``imgconv ...``), and its peak
resident size is the kernel's VmHWM for it, read as it exits (``ru_maxrss`` would not
do: Linux carries the parent's peak over an exec into the child's). The inputs are built in a scratch folder under /tmp
from a photograph (``--photo``, default ../shared/images/astronaut.png, else a
synthetic one), resized to 4K (3840x2160 RGB) and to 100 megapixels (12000x8400 RGB),
written as JPEG (quality 90) and PNG; and an 8192x8192 grey tiled TIFF (256x256 tiles),
streamed to a tiled TIFF. Cases: ``blur -s 2`` on each; ``sharpen`` and ``sobel``
presets, ``identity`` to the other format and ``blur -s 2`` to TIFF (deflated), on the
4K PNG and on the 100-MP JPEG.

Columns: the decoded image's size, the peak, the peak less the decoded size, and
that less the fixed cost of a filter command (the peak of ``blur -s 2`` on a 64x64
PNG: the interpreter, NumPy, Pillow and the codecs imported). The interpreter with
``imgconv.cli`` imported alone is printed too. Every tree
given (this checkout, "now", and any ``--against NAME=PATH``) runs each case in turn;
the smallest peak of ``--rounds`` is kept (a peak hardly depends on load, but page
cache and allocator timing vary a little).

    .venv/bin/python benchmarks/memory.py [--rounds 2] [--against main=/work/main] [--quick]
"""

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import tifffile
from checkouts import tree_argument
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT.parent / "shared" / "images" / "astronaut.png"
MIB = 1 << 20


def photo(path: Path | None, size: tuple[int, int]) -> Image.Image:
    """The photo resized to ``size`` (width, height), with a little noise so that the
    codecs meet detail at every scale; synthetic shapes where there is no photo."""
    width, height = size
    if path is not None and path.exists():
        base = Image.open(path).convert("RGB").resize(size, Image.Resampling.BICUBIC)
        pixels = np.asarray(base).astype(np.int16)
        del base
    else:
        y, x = np.ogrid[0:height, 0:width]
        pixels = np.empty((height, width, 3), np.int16)
        pixels[..., 0] = (x + y) * 255 // (width + height)
        pixels[..., 1] = 128 + 100 * np.sin(x / 40)
        pixels[..., 2] = 128 + 100 * np.cos(y / 30)
    rng = np.random.default_rng(0)
    for top in range(0, height, 1024):  # in strips, so that the noise takes little memory
        pixels[top : top + 1024] += rng.integers(-6, 7, pixels[top : top + 1024].shape, dtype=np.int16)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def make_inputs(folder: Path, source: Path | None, quick: bool) -> dict[str, tuple[list[str], int]]:
    """The inputs, and each case: the arguments after ``imgconv``, the decoded size in bytes."""
    sizes = {"4K": (3840, 2160)} if quick else {"4K": (3840, 2160), "100MP": (12000, 8400)}
    cases: dict[str, tuple[list[str], int]] = {}
    for label, size in sizes.items():
        image = photo(source, size)
        decoded = size[0] * size[1] * 3
        for ext in ("jpg", "png"):
            path = folder / f"{label}.{ext}"
            image.save(path, quality=90) if ext == "jpg" else image.save(path, compress_level=1)
            out = str(folder / f"out.{ext}")
            cases[f"blur -s 2, {label} {ext.upper()}"] = (["blur", "-s", "2", str(path), out], decoded)
            if (label, ext) in (("4K", "png"), ("100MP", "jpg")):
                for preset in ("sharpen", "sobel"):
                    cases[f"{preset}, {label} {ext.upper()}"] = ([preset, str(path), out], decoded)
                converted = str(folder / f"out.{'png' if ext == 'jpg' else 'jpg'}")
                cases[f"identity, {label} {ext.upper()} to {converted[-3:].upper()}"] = (
                    ["identity", str(path), converted], decoded)
                cases[f"blur -s 2, {label} {ext.upper()} to TIFF"] = (
                    ["blur", "-s", "2", str(path), str(folder / "out.tif")], decoded)
        del image
    side = 2048 if quick else 8192
    tiled = folder / "tiled.tif"
    grey = np.asarray(photo(source, (1024, 1024)).convert("L"))
    tifffile.imwrite(tiled, np.tile(grey, (side // 1024, side // 1024)), tile=(256, 256))
    cases[f"blur -s 2, {side}x{side} grey tiled TIFF"] = (
        ["blur", "-s", "2", str(tiled), str(folder / "out.tif")], side * side)
    return cases


# Run in the measured process, as ``python -c``: the command (none for the baseline),
# then at exit its peak resident size.
MEASURED = """
import atexit, os, sys
def report():
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    with open(os.environ["MEMORY_REPORT"], "w") as out:
        out.write(str(peak * 1024))
atexit.register(report)
sys.argv[0] = "imgconv"
from imgconv.cli import main
if sys.argv[1:]:
    main()
"""


def environment(tree: Path, report: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    return {**env, "PYTHONPATH": str(tree), "MEMORY_REPORT": str(report)}


def peak(tree: Path, args: list[str], scratch: Path) -> tuple[int, float]:
    """The peak resident size in bytes of ``imgconv ARGS`` run from ``tree`` (of the
    interpreter with ``imgconv.cli`` imported for no ARGS), and its CPU seconds."""
    report, errors = scratch / "report", scratch / "stderr"
    with open(errors, "wb") as stderr:
        process = subprocess.Popen([sys.executable, "-c", MEASURED, *args], env=environment(tree, report),
                                   cwd=scratch, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"imgconv {' '.join(args)} failed in {tree}: {errors.read_text(errors='replace').strip()}")
    return int(report.read_text()), usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--photo", type=Path, default=PHOTO, help="the photograph the inputs are made from")
    parser.add_argument("--against", type=tree_argument, action="append", default=[], metavar="NAME=PATH",
                        help="another checkout of imgconv to compare with (repeatable)")
    parser.add_argument("--quick", action="store_true", help="4K and a 2048x2048 tiled TIFF only")
    parser.add_argument("--only", help="run only the cases whose label contains this")
    args = parser.parse_args()
    trees = {**dict(args.against), "now": ROOT}
    started = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(dir="/tmp", prefix="imgconv-memory-") as folder:
        scratch = Path(folder)
        cases = make_inputs(scratch, args.photo, args.quick)
        if args.only:
            cases = {label: case for label, case in cases.items() if args.only in label}
        small = scratch / "small.png"
        photo(args.photo, (64, 64)).save(small)
        fixed = ["blur", "-s", "2", str(small), str(scratch / "small-out.png")]
        interpreter = {tree: min(peak(path, [], scratch)[0] for _ in range(args.rounds))
                       for tree, path in trees.items()}
        baseline = {tree: min(peak(path, fixed, scratch)[0] for _ in range(args.rounds))
                    for tree, path in trees.items()}
        best: dict[tuple[str, str], tuple[int, float]] = {}
        for round_ in range(args.rounds):
            for label, (command, _) in cases.items():
                for tree, path in list(trees.items())[:: 1 if round_ % 2 else -1]:
                    measured = peak(path, command, scratch)
                    old = best.get((label, tree), measured)
                    best[label, tree] = (min(old[0], measured[0]), min(old[1], measured[1]))
    print(f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}: {platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, NumPy {np.__version__}, load average "
          f"{started:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; smallest peak of {args.rounds}")
    for tree, path in trees.items():
        print(f"{tree}: {path}; interpreter with imgconv.cli imported: {interpreter[tree] / MIB:.0f} MiB; "
              f"blur of a 64x64 PNG (the fixed cost): {baseline[tree] / MIB:.0f} MiB")
    columns = " | ".join(f"{tree} peak | {tree} peak - decoded | {tree} peak - decoded - fixed | {tree} CPU s"
                         for tree in trees)
    print(f"| case | decoded | {columns} |")
    print("|---" * (2 + 4 * len(trees)) + "|")
    for label, (_, decoded) in cases.items():
        cells = " | ".join(f"{best[label, tree][0] / MIB:.0f} | {(best[label, tree][0] - decoded) / MIB:.0f} | "
                           f"{(best[label, tree][0] - decoded - baseline[tree]) / MIB:.0f} | "
                           f"{best[label, tree][1]:.1f}" for tree in trees)
        print(f"| {label} | {decoded / MIB:.0f} | {cells} |")
    print("MiB throughout; decoded: height x width x channels at 8 bits.")


if __name__ == "__main__":
    main()
