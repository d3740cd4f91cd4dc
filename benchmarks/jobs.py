"""Whole jobs, imgconv against each peer's natural way of doing them, side by side.

The job is a Gaussian blur of sigma 2 on:

- a folder of web thumbnails (640x480 PNG, 300 by default);
- a folder of camera JPEGs (12 by default, 12-24 megapixels, quality 92, with a
  camera's grain);
- one 4K JPEG, and the same picture as a 4K PNG;
- one 100-megapixel JPEG (11648x8736, a medium-format camera's);
- one tiled TIFF, 8192x8192 grey (256x256 deflate tiles), and, unless --quick, a
  gigapixel-class one (32768x32768 grey, 1 GiB decoded).

Each contender uses both cores, in its natural form:

- imgconv: ``imgconv blur -s 2 -j 2 IN_FOLDER OUT_FOLDER``, or ``imgconv blur -s 2 IN OUT``
  (its defaults: outputs synced to disk, PNG compress level 1, a JPEG's own tables);
  with ``--no-sync``, also as the peers write, unsynced (a row of its own, not a peer:
  the goals are imgconv's defaults against the peers);
- vips: ``vips gaussblur IN OUT 2``, a folder through ``xargs -P 2``;
- ImageMagick: ``convert IN -blur 0x2 OUT`` (the separable Gaussian, quicker than
  ``-gaussian-blur``), a folder through ``xargs -P 2``;
- Pillow: a script, ``Image.open(p).filter(ImageFilter.GaussianBlur(2)).save(out)``, a
  folder through a pool of 2 processes;
- OpenCV: a script, ``cv2.imwrite(out, cv2.GaussianBlur(cv2.imread(p, IMREAD_UNCHANGED),
  (0, 0), 2))``, a folder through a pool of 2 processes.

In a folder each peer process gets one thread (VIPS_CONCURRENCY=1, MAGICK_THREAD_LIMIT=1,
cv2.setNumThreads(1)): two processes on two cores, as imgconv's ``-j 2`` runs one thread
per worker. A tiled TIFF is written tiled (256x256, deflate) by vips and ImageMagick, as
imgconv writes it; Pillow and OpenCV write what they write. Peers that hold the whole
image are not run on the gigapixel TIFF. ImageMagick's default policy (256 MiB of
memory, 1 GiB of disk cache) refuses the 100 MP JPEG and the 8192x8192 TIFF: its rows
say so.

Every command is timed as a new process, wall time, with its peak memory and CPU time
from GNU time (for ``xargs`` and a pool, the largest of its processes, and the CPU time
of all of them: on a busy machine, less disturbed than the wall time). Rounds interleave
the contenders (their order turns each round), so that a machine whose load changes
disturbs all alike; the best and the median are printed, with imgconv's best over each
contender's. A contender over 3x imgconv's time in the first round, and the gigapixel
TIFF, run one round. Outputs are checked in the first round: every file there, not
empty, the input's size; how far the first one's centre is from imgconv's (mean
difference in levels) is printed, so that a peer failing quietly cannot look fast.

Goals (the folders at most 0.9x the fastest peer; the 4K JPEG at most 1.3x vips; a
single image's peak at most its decoded size + 150 MiB; a streamed tiled TIFF under 200
MiB) are checked at the end, and where one is missed the script says where imgconv's
time goes, in wall and CPU seconds: interpreter start, imports (the modules ``python -X
importtime`` lists, imported alone), read, decode, filter, encode and write (synced)
timed apart with the library, and the rest; for memory, what the imports hold.

The inputs are built from ../shared/images (or samples/) in a temporary folder, deleted
at the end. A run took 20 minutes on a 2-core machine at a load of 8-9 (--quick, 8).

    .venv/bin/python benchmarks/jobs.py [--quick] [--rounds 3] [--thumbnails 300] [--camera 12]
        [--tiled 8192 32768] [--no-100mp] [--breakdown] [--no-sync]
"""

import argparse
import datetime
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image
from tiled_memory import make_input as make_tiled

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared" / "images"
SIGMA = 2
JOBS = 2
MiB = 2**20

PILLOW_SCRIPT = """\
import os, sys
from concurrent.futures import ProcessPoolExecutor
from PIL import Image, ImageFilter

def blur(path, out):
    with Image.open(path) as image:
        image.filter(ImageFilter.GaussianBlur(2)).save(os.path.join(out, os.path.basename(path)))

if __name__ == "__main__":
    out, *paths = sys.argv[1:]
    if len(paths) == 1:
        blur(paths[0], out)
    else:
        with ProcessPoolExecutor(2) as pool:
            list(pool.map(blur, paths, [out] * len(paths), chunksize=4))
"""

OPENCV_SCRIPT = """\
import os, sys
from concurrent.futures import ProcessPoolExecutor
import cv2

def blur(path, out):
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if not cv2.imwrite(os.path.join(out, os.path.basename(path)), cv2.GaussianBlur(image, (0, 0), 2)):
        raise SystemExit(f"cannot write {path}")

if __name__ == "__main__":
    out, *paths = sys.argv[1:]
    if len(paths) == 1:
        blur(paths[0], out)
    else:
        with ProcessPoolExecutor(2, initializer=cv2.setNumThreads, initargs=(1,)) as pool:
            list(pool.map(blur, paths, [out] * len(paths), chunksize=4))
"""


@dataclass
class Job:
    """One job: its input files (one folder), what imgconv's output is held to."""

    name: str
    folder: Path
    decoded: int  # bytes of the largest input, decoded
    files: list[str]
    time_goal: tuple[str, float] | None = None  # imgconv's best time at most this many times the peer's
    memory_goal: float | None = None  # MiB, imgconv's peak at most
    tiled: bool = False
    whole_image_peers: bool = True  # False: only the contenders that stream are run
    once: bool = False  # one round only (the gigapixel TIFF)

    @property
    def batch(self) -> bool:
        return len(self.files) > 1


@dataclass
class Run:
    seconds: list[float] = field(default_factory=list)
    peak: float | None = None  # MiB, the largest seen
    cpu: list[float] = field(default_factory=list)  # seconds, user and system
    output: float = 0.0  # MiB written
    differs: float | None = None  # mean |peer - imgconv| on the first file's centre, levels
    failed: str | None = None


Command = Callable[[Job, Path], tuple[list[str], dict[str, str]]]
"""A contender: its command for a job writing into a folder, and what it adds to the environment."""


UNSYNCED = "imgconv --no-sync"


def contenders(scratch: Path, unsynced: bool = False) -> dict[str, Command]:
    """The contenders installed here, by name; with ``unsynced``, imgconv with
    ``--no-sync`` too."""
    found: dict[str, Command] = {"imgconv": imgconv_command}
    if unsynced:
        found[UNSYNCED] = imgconv_unsynced
    if shutil.which("vips"):
        found["vips"] = vips_command
    if os.path.exists("/usr/bin/convert"):  # the real one; a stand-in may come first on PATH
        found["ImageMagick"] = magick_command
    for name, script, module in (("Pillow", PILLOW_SCRIPT, "PIL"), ("OpenCV", OPENCV_SCRIPT, "cv2")):
        if subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode == 0:
            path = scratch / f"peer_{name.lower()}.py"
            path.write_text(script)
            found[name] = script_command(path)
    return found


def imgconv_command(job: Job, out: Path) -> tuple[list[str], dict[str, str]]:
    source = job.folder if job.batch else job.folder / job.files[0]
    target = out if job.batch else out / job.files[0]
    jobs = ["-j", str(JOBS)] if job.batch else []
    return [sys.executable, "-m", "imgconv", "blur", "-s", str(SIGMA), *jobs, "--quiet", str(source), str(target)], {}


def imgconv_unsynced(job: Job, out: Path) -> tuple[list[str], dict[str, str]]:
    command, extra = imgconv_command(job, out)
    return [*command[:-2], "--no-sync", *command[-2:]], extra


def _each_file(job: Job, command: list[str], threads: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """``command`` (with ``{}`` for a file's name) once per file, two at a time."""
    if not job.batch:
        return [part.replace("{}", job.files[0]) for part in command], {}
    listing = job.folder.parent / f"{job.folder.name}.list"
    listing.write_text("".join(f"{name}\0" for name in job.files))
    return ["xargs", "-0", "-a", str(listing), "-P", str(JOBS), "-I{}", *command], threads


def vips_command(job: Job, out: Path) -> tuple[list[str], dict[str, str]]:
    tiled = "[tile,tile-width=256,tile-height=256,compression=deflate,bigtiff]" if job.tiled else ""
    command = ["vips", "gaussblur", f"{job.folder}/{{}}", f"{out}/{{}}{tiled}", str(SIGMA)]
    return _each_file(job, command, {"VIPS_CONCURRENCY": "1"})


def magick_command(job: Job, out: Path) -> tuple[list[str], dict[str, str]]:
    tiled = ["-define", "tiff:tile-geometry=256x256", "-compress", "zip"] if job.tiled else []
    command = ["/usr/bin/convert", f"{job.folder}/{{}}", "-blur", f"0x{SIGMA}", *tiled, f"{out}/{{}}"]
    return _each_file(job, command, {"MAGICK_THREAD_LIMIT": "1"})


def script_command(script: Path) -> Command:
    def command(job: Job, out: Path) -> tuple[list[str], dict[str, str]]:
        return [sys.executable, str(script), str(out), *(str(job.folder / name) for name in job.files)], {}

    return command


def environment(extra: dict[str, str]) -> dict[str, str]:
    """As a user's install runs: bytecode written and read (a machine that sets
    PYTHONDONTWRITEBYTECODE would compile NumPy's and imgconv's sources on every run),
    this checkout's imgconv first."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return {**env, **extra}


@dataclass
class Measure:
    seconds: float  # wall time
    peak: float | None = None  # MiB resident, the largest of the command's processes (GNU time's)
    cpu: float | None = None  # seconds of CPU, user and system, of all its processes


def timed(command: list[str], extra: dict[str, str], scratch: Path) -> tuple[Measure, str | None]:
    """One run of ``command``, and its error (None if it worked)."""
    report = scratch / "time.txt"
    wrapper = ["/usr/bin/time", "-f", "%M %U %S", "-o", str(report)] if os.path.exists("/usr/bin/time") else []
    start = time.perf_counter()
    done = subprocess.run(wrapper + command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          env=environment(extra))
    seconds = time.perf_counter() - start
    if done.returncode:
        lines = [line for line in done.stderr.splitlines() if line.strip()] or [f"exit status {done.returncode}"]
        return Measure(seconds), lines[-1][:160]
    if not wrapper:
        return Measure(seconds), None
    peak, user, system = report.read_text().split()[-3:]
    return Measure(seconds, int(peak) / 1024, float(user) + float(system)), None


# Inputs ------------------------------------------------------------------------------------

FASTEST = "the fastest peer"
CAMERA_SIZES = ((4000, 3000), (4608, 3456), (5184, 3456), (6000, 4000))  # 12, 16, 18 and 24 MP


def photos(folder: Path) -> list[Image.Image]:
    """The colour photographs of ``folder`` (the project's samples if it is missing)."""
    paths = sorted(folder.glob("*.png")) + sorted(folder.glob("*.jpg"))
    if not paths:
        paths = sorted((ROOT / "samples").glob("*.png"))
    return [Image.open(path).convert("RGB") for path in paths]


def picture(base: Image.Image, size: tuple[int, int], index: int, grain: np.ndarray) -> np.ndarray:
    """``base`` cropped to ``size``'s shape and scaled to it, shifted by ``index`` and
    with a camera's grain, so that no two files are alike and the codecs work as on a
    photograph (a scaled-up sample alone is smoother than any camera's picture)."""
    width, height = size
    scale = max(width / base.width, height / base.height)
    crop_w, crop_h = round(width / scale), round(height / scale)
    left, top = (base.width - crop_w) // 2, (base.height - crop_h) // 2
    scaled = base.resize(size, Image.BICUBIC, box=(left, top, left + crop_w, top + crop_h))
    pixels = np.roll(np.asarray(scaled, dtype=np.int16), 37 * index, axis=1)
    reps = (-(-height // grain.shape[0]), -(-width // grain.shape[1]), 1)
    noise = np.tile(grain, reps)[:height, :width]
    return np.clip(pixels + np.roll(noise, 101 * index, axis=0), 0, 255).astype(np.uint8)


def make_folder(folder: Path, sources: list[Image.Image], sizes: list[tuple[int, int]], extension: str,
                seed: int = 0) -> list[str]:
    """One file per size in ``folder``; their names."""
    folder.mkdir(parents=True)
    grain = np.random.default_rng(seed).normal(0, 3, (509, 511, 3)).astype(np.int16)
    names = []
    for i, size in enumerate(sizes):
        name = f"img{i:03d}.{extension}"
        image = Image.fromarray(picture(sources[i % len(sources)], size, i, grain))
        image.save(folder / name, **({"quality": 92} if extension == "jpg" else {}))
        names.append(name)
    return names


def make_jobs(scratch: Path, args: argparse.Namespace) -> list[Job]:
    sources = photos(args.photos)
    jobs = []

    def add(name: str, sizes: list[tuple[int, int]], extension: str, goal: tuple[str, float] | None = None) -> None:
        folder = scratch / f"in{len(jobs)}"
        files = make_folder(folder, sources, sizes, extension)
        decoded = max(w * h * 3 for w, h in sizes)
        # The goals of the issue: a folder at most 0.9x the fastest peer's time, the 4K
        # JPEG at most 1.3x vips'; one image's peak at most its decoded size + 150 MiB.
        memory = decoded / MiB + 150 if len(files) == 1 else None
        if len(files) > 1:
            goal = (FASTEST, 0.9)
        jobs.append(Job(name, folder, decoded, files, goal, memory))

    add(f"{args.thumbnails} thumbnails, 640x480 PNG", [(640, 480)] * args.thumbnails, "png")
    add(f"{args.camera} camera JPEGs, 12-24 MP", [CAMERA_SIZES[i % 4] for i in range(args.camera)], "jpg")
    add("one 4K JPEG, 3840x2160", [(3840, 2160)], "jpg", ("vips", 1.3))
    add("one 4K PNG, 3840x2160", [(3840, 2160)], "png")
    if args.megapixels:
        add("one 100 MP JPEG, 11648x8736", [(11648, 8736)], "jpg")
    for side in args.tiled:
        folder = scratch / f"tiled{side}"
        folder.mkdir()
        make_tiled(folder / "big.tif", side, 256, "zlib")
        # A streamed tiled TIFF: under 200 MiB at 8192x8192 grey, whatever its size.
        jobs.append(Job(f"one tiled TIFF, {side}x{side} grey", folder, side * side, ["big.tif"], memory_goal=200,
                        tiled=True, whole_image_peers=side <= 8192, once=side > 8192))
    return jobs


# Runs --------------------------------------------------------------------------------------

STREAMING = ("imgconv", "vips")  # the contenders that do not hold a whole tiled image


def dimensions(path: Path) -> tuple[int, int]:
    """Width and height from the file's header."""
    if path.suffix == ".tif":
        with tifffile.TiffFile(path) as tiff:
            height, width = tiff.pages[0].shape[:2]
            return width, height
    with Image.open(path) as image:
        return image.size


def centre(path: Path, side: int = 256) -> np.ndarray:
    """The middle ``side`` x ``side`` pixels, grey (the mean of the channels), as floats."""
    pixels = tifffile.imread(path) if path.suffix == ".tif" else np.asarray(Image.open(path))
    top, left = (pixels.shape[0] - side) // 2, (pixels.shape[1] - side) // 2
    crop = pixels[top : top + side, left : left + side].astype(np.float32)
    return crop.mean(axis=2) if crop.ndim == 3 else crop


def check_outputs(job: Job, out: Path, run: Run, reference: dict[str, np.ndarray], name: str) -> str | None:
    """What is wrong with a contender's outputs (None if nothing): every file there, not
    empty, as large as its input; records their size, and how far the first one's centre
    is from imgconv's."""
    total = 0
    for file in job.files:
        path = out / file
        if not path.is_file() or path.stat().st_size == 0:
            return f"{file}: no output, or an empty one"
        if dimensions(path) != dimensions(job.folder / file):
            return f"{file}: {dimensions(path)} written for {dimensions(job.folder / file)}"
        total += path.stat().st_size
    run.output = total / MiB
    if not job.once:  # the gigapixel TIFF is not decoded whole here
        first = centre(out / job.files[0])
        if name == "imgconv":
            reference[job.name] = first
        if job.name in reference:
            run.differs = float(np.abs(first - reference[job.name]).mean())
    return None


# A contender this many times slower than imgconv in the first round runs no more rounds:
# its ratio is plain from one, and the goals are against the fastest peer. ImageMagick's
# one round took 190 s of a 1212 s run (at a load of 8-9); two more would add about 380.
SLOW = 3.0


def run_once(job: Job, name: str, found: dict[str, Command], scratch: Path, check: dict[str, np.ndarray] | None,
             run: Run) -> None:
    """One run of contender ``name`` on ``job``, added to ``run``; its outputs checked
    against imgconv's (kept in ``check``) unless ``check`` is None."""
    out = scratch / "out"
    out.mkdir()
    try:
        measure, error = timed(*found[name](job, out), scratch)
        if error is None and check is not None:
            error = check_outputs(job, out, run, check, name)
    finally:
        shutil.rmtree(out)
    if error:
        run.failed = error
        return
    run.seconds.append(measure.seconds)
    if measure.peak is not None and measure.cpu is not None:
        run.peak = max(run.peak or 0, measure.peak)
        run.cpu.append(measure.cpu)


def race(jobs: list[Job], found: dict[str, Command], rounds: int, scratch: Path) -> dict[str, dict[str, Run]]:
    """Every job with every contender, ``rounds`` times (see `SLOW`; the gigapixel TIFF
    once), the contenders' order turned each round; outputs checked in the first."""
    results = {job.name: {name: Run() for name in found if job.whole_image_peers or name in STREAMING}
               for job in jobs}
    reference: dict[str, np.ndarray] = {}
    for turn in range(rounds):
        for job in jobs:
            runs = results[job.name]
            names = list(runs)
            for name in names[turn % len(names):] + names[:turn % len(names)]:
                ours, run = runs["imgconv"].seconds, runs[name]
                slow = bool(ours and run.seconds) and run.seconds[0] > SLOW * ours[0]
                if run.failed or (turn and (job.once or slow)):
                    continue
                run_once(job, name, found, scratch, None if turn else reference, run)
            print(f"round {turn + 1}: {job.name} done", file=sys.stderr, flush=True)
    return results


def warm_up(jobs: list[Job], found: dict[str, Command], scratch: Path) -> None:
    """Each contender once on two thumbnails, untimed: bytecode written, libraries in the
    page cache."""
    first = jobs[0]
    small = Job("warm-up", first.folder, first.decoded, first.files[:2])
    out = scratch / "out"
    for make in found.values():
        out.mkdir()
        command, extra = make(small, out)
        timed(command, extra, scratch)
        shutil.rmtree(out)


# Report ------------------------------------------------------------------------------------

def machine() -> str:
    """The CPU, its cores, the memory and the load: what the times depend on."""
    with open("/proc/cpuinfo") as info:
        model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                     platform.processor())
    with open("/proc/meminfo") as info:
        memory = int(next(line.split()[1] for line in info if line.startswith("MemTotal"))) / 2**20
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{model}, {os.cpu_count()} cores, {memory:.0f} GiB; load average {load} (1, 5, 15 min)"


def versions(found: dict[str, Command]) -> str:
    said = [f"Python {platform.python_version()}"]
    for name, command in (("vips", ["vips", "--version"]), ("ImageMagick", ["/usr/bin/convert", "-version"])):
        if name in found:
            said.append(subprocess.run(command, capture_output=True, text=True).stdout.split("\n")[0]
                        .replace("Version: ", "").split(" https")[0])
    for name, module in (("Pillow", "PIL"), ("OpenCV", "cv2")):
        if name in found:
            probe = [sys.executable, "-c", f"import {module}; print({module}.__version__)"]
            said.append(f"{name} {subprocess.run(probe, capture_output=True, text=True).stdout.strip()}")
    return ", ".join(said)


def seconds(value: float) -> str:
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def job_table(job: Job, runs: dict[str, Run]) -> list[str]:
    """A Markdown table of one job: each contender's best and median, imgconv's best over
    its best, its best CPU time, its peak memory and output size, and how far its output
    is from imgconv's."""
    ours = runs["imgconv"].seconds
    decoded = f"{job.decoded / MiB:.{1 if job.decoded < 10 * MiB else 0}f} MiB decoded"
    lines = [f"**{job.name}** ({'each at most ' if job.batch else ''}{decoded})", "",
             "| contender | best s | median s | imgconv / this | CPU s | peak MiB | output MiB | differs from imgconv "
             "|", "|---|---|---|---|---|---|---|---|"]
    for name, run in runs.items():
        if run.failed:
            lines.append(f"| {name} | failed: {run.failed.replace('|', '/')} | | | | | | |")
            continue
        ratio = f"{min(ours) / min(run.seconds):.2f}" if ours else "-"
        peak = "n/a" if run.peak is None else f"{run.peak:.0f}"
        differs = "-" if run.differs is None or name == "imgconv" else f"{run.differs:.2f} levels"
        median = seconds(statistics.median(run.seconds)) + (f" ({len(run.seconds)} run{'s' * (len(run.seconds) > 1)})"
                                                          if len(run.seconds) < len(ours) else "")
        cpu = seconds(min(run.cpu)) if run.cpu else "n/a"
        lines.append(f"| {name} | {seconds(min(run.seconds))} | {median} | {ratio} | {cpu} "
                     f"| {peak} | {run.output:.1f} | {differs} |")
    return lines


def goals(jobs: list[Job], results: dict[str, dict[str, Run]]) -> tuple[list[str], list[Job]]:
    """The goals table, and the jobs whose goal imgconv missed."""
    lines = ["| job | goal | measured | met |", "|---|---|---|---|"]
    missed = []
    for job in jobs:
        runs = results[job.name]
        ours = runs["imgconv"]
        checks = []
        if job.time_goal:
            against, most = job.time_goal
            peers = {name: min(run.seconds) for name, run in runs.items()
                     if name not in ("imgconv", UNSYNCED) and not run.failed
                     and (against == FASTEST or name == against)}
            if peers and ours.seconds:
                peer = min(peers, key=peers.__getitem__)
                ratio = min(ours.seconds) / peers[peer]
                checks.append((f"time at most {most}x {against}", f"{ratio:.2f}x {peer}", ratio <= most))
        if job.memory_goal and ours.peak is not None:
            checks.append((f"peak at most {job.memory_goal:.0f} MiB", f"{ours.peak:.0f} MiB",
                           ours.peak <= job.memory_goal))
        if ours.failed:
            checks.append(("imgconv runs", ours.failed, False))
        for goal, measured, met in checks:
            lines.append(f"| {job.name} | {goal} | {measured} | {'yes' if met else 'NO'} |")
        if not all(met for *_, met in checks):
            missed.append(job)
    return lines, missed


# Where imgconv's time and memory go ----------------------------------------------------------

# One file through the library's steps, as the command takes them, each timed: run twice,
# the first untimed (the codecs' and the engine's lazy imports belong to the imports).
STAGES_SCRIPT = """\
import json, sys, time
from pathlib import Path
import imgconv.cli
from imgconv import kernels
from imgconv.engine.options import EngineOptions
from imgconv.filters import filter_picture, preset_filter
from imgconv.io.read import decode_image
from imgconv.io.sink import write_bytes
from imgconv.io.source import read_bytes
from imgconv.io.write import encode_image, output_format

source, dest, threads = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) or None
getattr(imgconv.cli, "_reuse_freed_memory", lambda: None)()  # as the command's main() does
blur = preset_filter(kernels.separable_gaussian(sigma=2), engine=EngineOptions(threads=threads))

def stages():
    times, start = {}, (time.perf_counter(), time.process_time())
    def lap(stage):
        nonlocal start
        now = (time.perf_counter(), time.process_time())
        times[stage], start = (now[0] - start[0], now[1] - start[1]), now
    data = read_bytes(source, source.name, 0); lap("read")
    picture = decode_image(data, source.name, max_pixels=0); lap("decode")
    result = filter_picture(picture, blur, picture.sample_dtype); lap("filter")
    encoded = encode_image([result], picture, output_format(dest, None, picture.format)); lap("encode")
    write_bytes(encoded, dest); lap("write (synced)")
    return times

stages()
print(json.dumps(stages()))
"""

RESIDENT_SCRIPT = """\
import importlib, sys
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception:
        pass
with open("/proc/self/status") as status:
    print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")))
"""


def top_level_imports(report: str) -> dict[str, int]:
    """The modules imported at the top level in a ``python -X importtime`` report, with
    the microseconds each took, its own imports included (its cumulative time)."""
    imports = {}
    for line in report.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not line.startswith("import time:"):
            continue
        name = parts[2]
        if len(name) - len(name.lstrip(" ")) == 1 and parts[1].strip().isdigit():  # nested ones are indented more
            imports[name.strip()] = int(parts[1])
    return imports


def _python(arguments: list[str], scratch: Path, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *arguments], capture_output=True, text=True, env=environment(extra or {}),
                          cwd=scratch)


Cost = tuple[float, float]
"""Seconds of wall time and of CPU time (user and system, all threads)."""


def _best(costs: list[Cost]) -> Cost:
    return min(wall for wall, _ in costs), min(cpu for _, cpu in costs)


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def start_costs(source: Path, dest: Path, scratch: Path) -> tuple[Cost, Cost, float]:
    """The best costs of ``python -c pass`` and of importing what ``imgconv blur``
    imports on ``source`` (the modules ``python -X importtime`` lists, imported alone,
    without importtime's own cost), and the MiB resident after those imports."""
    command = ["-X", "importtime", "-m", "imgconv", "blur", "-s", str(SIGMA), "--quiet", str(source), str(dest)]
    modules = top_level_imports(_python(command, scratch).stderr)
    costs: dict[str, list[Cost]] = {"pass": [], "imports": []}
    resident = 0.0
    for _ in range(5):
        for what, arguments in (("pass", ["-c", "pass"]), ("imports", ["-c", RESIDENT_SCRIPT, *modules])):
            start, cpu = time.perf_counter(), _child_cpu()
            # One OpenBLAS thread, as imgconv's main() asks before NumPy loads: its pool's
            # threads would spin on the CPU time counted here.
            done = _python(arguments, scratch, {"OPENBLAS_NUM_THREADS": "1"})
            costs[what].append((time.perf_counter() - start, _child_cpu() - cpu))
            resident = int(done.stdout) / 1024 if what == "imports" and done.stdout.strip() else resident
    interpreter, imports = _best(costs["pass"]), _best(costs["imports"])
    return interpreter, (imports[0] - interpreter[0], imports[1] - interpreter[1]), resident


def stage_times(job: Job, scratch: Path, found: dict[str, Command], repeats: int) -> tuple[Cost, dict[str, Cost]]:
    """imgconv's best costs on ``job``, and the best of each of the library's steps on
    its first file, taken in turns with it (so that the machine's load weighs on both
    alike). A batch's worker filters with one thread, as the steps here then do."""
    source, dest = job.folder / job.files[0], scratch / f"stages{Path(job.files[0]).suffix}"
    wholes: list[Cost] = []
    stages: dict[str, list[Cost]] = {}
    out = scratch / "out"
    for _ in range(repeats):
        out.mkdir()
        measure, error = timed(*found["imgconv"](job, out), scratch)
        shutil.rmtree(out)
        if error is None and measure.cpu is not None:
            wholes.append((measure.seconds, measure.cpu))
        done = _python(["-c", STAGES_SCRIPT, str(source), str(dest), "1" if job.batch else "0"], scratch,
                       {"OPENBLAS_NUM_THREADS": "1"})  # as the command's main() asks
        if done.returncode or not wholes:
            raise RuntimeError((done.stderr.strip() or "imgconv failed or was not timed").splitlines()[-1])
        for stage, cost in json.loads(done.stdout).items():
            stages.setdefault(stage, []).append(tuple(cost))
    dest.unlink(missing_ok=True)
    return _best(wholes), {stage: _best(costs) for stage, costs in stages.items()}


def where_it_goes(job: Job, runs: dict[str, Run], scratch: Path, found: dict[str, Command]) -> list[str]:
    """Lines saying where imgconv's time and memory go on ``job``."""
    source, dest = job.folder / job.files[0], scratch / f"stages{Path(job.files[0]).suffix}"
    interpreter, imports, resident = start_costs(source, dest, scratch)
    ours = runs["imgconv"]
    whole: Cost = (min(ours.seconds or [math.nan]), min(ours.cpu or [math.nan]))
    stages: dict[str, Cost] = {}
    note = ""
    try:
        if not job.tiled:  # a streamed image's steps overlap, tile by tile
            whole, stages = stage_times(job, scratch, found, 3)
            note = " (the steps on its first file, timed in turns with the command run again)"
    except RuntimeError as exc:  # the library's steps changed, say: the rest is still said
        note = f" (the library's steps could not be timed: {exc})"
    if job.batch:  # a file's share: of the wall time, for one of the workers; of the CPU time, of all
        whole = (whole[0] * JOBS / len(job.files), whole[1] / len(job.files))
    lines = [f"Where imgconv's time goes, {job.name}{note}: " + (
                 f"{whole[0]:.3f} s a file for each of the {JOBS} workers, {whole[1]:.3f} s of CPU a file"
                 if job.batch else f"{whole[0]:.3f} s, {whole[1]:.3f} s of CPU"),
             "", "| part | seconds | CPU seconds |", "|---|---|---|",
             *(f"| {part} | {wall:.3f} | {cpu:.3f} |" for part, (wall, cpu) in (
                 ("interpreter start (python -c pass)" + ", once a process" * job.batch, interpreter),
                 ("imports (what the command imports, imported alone)" + ", once a process" * job.batch, imports),
                 *stages.items()))]
    counted = list(stages.values()) if job.batch else [interpreter, imports, *stages.values()]
    rest = ("the tiles read, filtered and written" if job.tiled else
            "a file's share of the processes' start and imports, the pool, options, checks" if job.batch else
            "options, checks, exit")
    lines.append(f"| the rest ({rest}) | {whole[0] - sum(w for w, _ in counted):.3f} "
                 f"| {whole[1] - sum(c for _, c in counted):.3f} |")
    peak = ours.peak
    if job.memory_goal and peak is not None and peak > job.memory_goal:
        image = 0 if job.tiled else job.decoded / MiB
        lines += ["", f"Where imgconv's memory goes: peak {peak:.0f} MiB; the interpreter and the command's imports "
                      f"hold {resident:.0f} MiB" + (f", the decoded image {image:.0f} MiB" if image else "")
                      + f", the rest {peak - resident - image:.0f} MiB (blocks, copies, buffers)"]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="1 round, 60 thumbnails, 4 camera JPEGs, no gigapixel TIFF (a check that all runs)")
    parser.add_argument("--rounds", type=int, help="rounds of every job [default: 3; 1 with --quick]")
    parser.add_argument("--thumbnails", type=int, help="thumbnails in their folder [default: 300; 60 with --quick]")
    parser.add_argument("--camera", type=int, help="camera JPEGs in their folder [default: 12; 4 with --quick]")
    parser.add_argument("--tiled", type=int, nargs="*",
                        help="sides of the tiled TIFFs [default: 8192 32768; 8192 with --quick]")
    parser.add_argument("--no-100mp", dest="megapixels", action="store_false", help="leave out the 100 MP JPEG")
    parser.add_argument("--breakdown", action="store_true", help="say where imgconv's time goes on every job")
    parser.add_argument("--no-sync", dest="unsynced", action="store_true",
                        help="also run imgconv with --no-sync, as the peers write (not a peer)")
    parser.add_argument("--photos", type=Path, default=PHOTOS, help=f"photographs to build from [default: {PHOTOS}]")
    args = parser.parse_args()
    Image.MAX_IMAGE_PIXELS = None  # the outputs checked here, of inputs made here, are up to 100 MP
    quick = args.quick
    args.rounds = args.rounds or (1 if quick else 3)
    args.thumbnails = args.thumbnails or (60 if quick else 300)
    args.camera = args.camera or (4 if quick else 12)
    args.tiled = args.tiled if args.tiled is not None else [8192] if quick else [8192, 32768]
    started = datetime.datetime.now(datetime.timezone.utc)
    scratch = Path(tempfile.mkdtemp(prefix="imgconv-jobs-"))
    try:
        found = contenders(scratch, args.unsynced)
        print(f"# Whole jobs: Gaussian blur sigma {SIGMA}, both cores, {started:%Y-%m-%d %H:%M} UTC", flush=True)
        print(f"machine at the start: {machine()}")
        print(f"contenders: imgconv ({ROOT}), {versions(found)}")
        start = time.perf_counter()
        jobs = make_jobs(scratch, args)
        print(f"inputs built in {time.perf_counter() - start:.0f} s under {scratch}; best and median of "
              f"{args.rounds} rounds, the contenders interleaved", flush=True)
        warm_up(jobs, found, scratch)
        results = race(jobs, found, args.rounds, scratch)
        for job in jobs:
            print("", *job_table(job, results[job.name]), sep="\n")
        table, missed = goals(jobs, results)
        print("", "Goals:", "", *table, sep="\n")
        for job in jobs if args.breakdown else missed:
            print("", *where_it_goes(job, results[job.name], scratch, found), sep="\n")
        print(f"\nmachine at the end: {machine()}; {time.perf_counter() - start:.0f} s in all")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
