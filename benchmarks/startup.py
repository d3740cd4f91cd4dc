"""Start-up cost of whole commands: time, imgconv modules loaded, resident size.

Each command runs as a new process, as a user runs it: ``--version``, ``--help``,
``kernels``, ``formats``, a blur of a 512x512 PNG and of a JPEG, a tiled TIFF streamed
to a TIFF, a batch of 12 PNGs with ``-j 2``. Every tree given runs each command in
turn, interleaved, and the best of ``--rounds`` is kept, so a busy machine slows all
of them alike. A tree is a checkout of imgconv, imported through PYTHONPATH: this one
("now"), and any other given with ``--against NAME=PATH`` (e.g. made by
``git worktree add /tmp/old COMMIT``).

Columns: the best wall time in ms; the best CPU time (user and system, with the batch's
workers), which a busy machine disturbs less; the imgconv modules the command loaded
(a module made lazy and never used does not count); the peak resident size of the
command's process in MiB (its own, not its workers', for the batch).

    .venv/bin/python benchmarks/startup.py [--rounds 10] [--against old=/tmp/old] [--list]
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile
from checkouts import tree_argument
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent

# Run in the measured process, as ``python -c``: the command, then at exit what it loaded.
COUNTING = """
import atexit, json, os, sys
def report():
    loaded = [name for name, module in sys.modules.items()
              if (name == "imgconv" or name.startswith("imgconv.")) and type(module).__name__ != "_LazyModule"]
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    with open(os.environ["STARTUP_REPORT"], "w") as out:
        json.dump({"modules": sorted(loaded), "peak_kib": peak}, out)
atexit.register(report)
sys.argv[0] = "imgconv"
from imgconv.cli import main
main()
"""


def make_inputs(folder: Path) -> dict[str, list[str]]:
    """The test files, and the commands on them (arguments after ``imgconv``)."""
    rng = np.random.default_rng(0)
    # A photograph-like picture: smooth shapes and some noise, so the codecs work as on a photo.
    y, x = np.mgrid[0:512, 0:512]
    base = np.stack([(x + y) / 4, 128 + 100 * np.sin(x / 40), 128 + 100 * np.cos(y / 30)], axis=-1)
    pixels = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(folder / "in.png")
    Image.fromarray(pixels).save(folder / "in.jpg", quality=90)
    (folder / "batch").mkdir()
    for i in range(12):
        Image.fromarray(np.roll(pixels, 37 * i, axis=1)[:256, :384]).save(folder / "batch" / f"f{i:02d}.png")
    tifffile.imwrite(folder / "tiled.tif", np.tile(pixels[..., 0], (4, 4)), tile=(256, 256))
    return {
        "--version": ["--version"],
        "--help": ["--help"],
        "kernels": ["kernels"],
        "formats": ["formats"],
        "blur PNG": ["blur", "-s", "2", str(folder / "in.png"), str(folder / "out.png")],
        "blur JPEG": ["blur", "-s", "2", str(folder / "in.jpg"), str(folder / "out.jpg")],
        "blur tiled TIFF": ["blur", "-s", "2", str(folder / "tiled.tif"), str(folder / "out.tif")],
        "batch of 12, -j 2": ["blur", "-s", "2", "-j", "2", "--quiet", str(folder / "batch"),
                              str(folder / "batch-out")],
    }


def environment(tree: Path, **extra: str) -> dict[str, str]:
    # With bytecode, as an installed package runs (the first round writes it where a
    # machine sets PYTHONDONTWRITEBYTECODE).
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    return {**env, "PYTHONPATH": str(tree), **extra}


def timed(tree: Path, args: list[str], scratch: Path) -> tuple[float, float]:
    """One run of ``imgconv ARGS`` from ``tree``: its wall time and its CPU time (user
    and system, its worker processes' too), in seconds."""
    shutil.rmtree(scratch / "batch-out", ignore_errors=True)
    start = time.perf_counter()
    # In the scratch folder: Python puts the current one first on the path.
    process = subprocess.Popen([sys.executable, "-m", "imgconv", *args], env=environment(tree), cwd=scratch,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"imgconv {' '.join(args)} failed (status {process.returncode}) in {tree}")
    return seconds, usage.ru_utime + usage.ru_stime


def loaded(tree: Path, args: list[str], scratch: Path) -> tuple[list[str], float]:
    """The imgconv modules ``imgconv ARGS`` loads, and its peak resident size in MiB
    (the kernel's VmHWM, which starts anew at exec, unlike getrusage's ru_maxrss)."""
    shutil.rmtree(scratch / "batch-out", ignore_errors=True)
    report = scratch / "report.json"
    subprocess.run([sys.executable, "-c", COUNTING, *args], env=environment(tree, STARTUP_REPORT=str(report)),
                   cwd=scratch, check=True, capture_output=True)
    result = json.loads(report.read_text())
    return result["modules"], result["peak_kib"] / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--against", type=tree_argument, action="append", default=[], metavar="NAME=PATH",
                        help="another checkout of imgconv to compare with (repeatable)")
    parser.add_argument("--list", action="store_true", help="also list the modules each command loads")
    args = parser.parse_args()
    trees = {**dict(args.against), "now": ROOT}
    others = [tree for tree in trees if tree != "now"]
    started = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        commands = make_inputs(scratch)
        modules = {(label, tree): loaded(path, command, scratch)
                   for label, command in commands.items() for tree, path in trees.items()}
        best: dict[tuple[str, str], tuple[float, float]] = {}
        for round_ in range(args.rounds):
            for label, command in commands.items():
                # Alternate the order of the trees, so that none always runs on a warmer cache.
                order = list(trees.items())[:: 1 if round_ % 2 else -1]
                for tree, path in order:
                    wall, cpu = timed(path, command, scratch)
                    old = best.get((label, tree), (wall, cpu))
                    best[label, tree] = (min(old[0], wall), min(old[1], cpu))
    print(f"{datetime.datetime.now():%Y-%m-%d %H:%M}, {platform.node()}: {platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load average {started:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end; best of {args.rounds}")
    for tree, path in trees.items():
        print(f"{tree}: {path}")
    header = " | ".join(f"{tree} ms | {tree} CPU ms | {tree} modules | {tree} MiB" for tree in trees)
    ratios = "".join(f" now/{tree} ms, CPU |" for tree in others)
    print(f"| command | {header} |{ratios}")
    print("|---" * (1 + 4 * len(trees) + len(others)) + "|")
    for label in commands:
        cells = " | ".join(f"{best[label, tree][0] * 1000:.0f} | {best[label, tree][1] * 1000:.0f} | "
                           f"{len(modules[label, tree][0])} | {modules[label, tree][1]:.0f}" for tree in trees)
        ratio = "".join(f" {best[label, 'now'][0] / best[label, tree][0]:.2f}, "
                        f"{best[label, 'now'][1] / best[label, tree][1]:.2f} |" for tree in others)
        print(f"| {label} | {cells} |{ratio}")
    if args.list:
        for (label, tree), (names, _) in modules.items():
            print(f"{tree} {label}: {' '.join(name.removeprefix('imgconv.') for name in names)}")


if __name__ == "__main__":
    main()
