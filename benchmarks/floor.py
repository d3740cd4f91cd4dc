"""What the stack allows: the least a whole job costs a Python program on NumPy and
Pillow, beside vips and imgconv (the goals of benchmarks/jobs.py are against vips).

The job is benchmarks/jobs.py's: one 4K JPEG, and a folder of camera JPEGs (12-24 MP)
two at a time. Three contenders, each a new process (a folder: a pool of two processes),
interleaved, best of ``--rounds``, wall and CPU time (user and system, all processes):

- vips: ``vips gaussblur IN OUT 2`` (a folder through ``xargs -P 2``, one thread each);
- floor: Python, ``import numpy, PIL.Image, imagecodecs`` (one OpenBLAS thread, as
  imgconv asks), the JPEG decoded as imgconv decodes it (imagecodecs' libjpeg-turbo,
  straight into NumPy), ONE pass of NumPy over its samples into a new array (each the
  larger of itself and its left neighbour), encoded by Pillow with the input's
  quantisation tables and subsampling (as imgconv writes a JPEG), written without a
  sync. It blurs nothing: it is the least any program on this stack spends -- the
  interpreter, the imports, the codecs, one pass;
- imgconv: ``imgconv blur -s 2 IN OUT`` (a folder with ``-j 2``), its defaults.

floor / vips is the least ratio to vips the stack allows, whatever the filter costs:
above 1.3 on the 4K JPEG, that goal is out of reach of NumPy and Pillow. imgconv over
the floor is its filter (benchmarks/jobs.py --breakdown times it apart) and the rest.

    .venv/bin/python benchmarks/floor.py [--rounds 5] [--camera 12]
"""

import argparse
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from jobs import (
    CAMERA_SIZES,
    JOBS,
    PHOTOS,
    SIGMA,
    Job,
    imgconv_command,
    machine,
    make_folder,
    photos,
    script_command,
    timed,
    vips_command,
)

FLOOR_SCRIPT = """\
import os, sys
from concurrent.futures import ProcessPoolExecutor
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import imagecodecs
import numpy as np
from PIL import Image, JpegImagePlugin

def blur(path, out):
    with open(path, "rb") as file:
        data = file.read()
    with Image.open(path) as image:  # the header only: the tables imgconv keeps
        tables, sampling = image.quantization, JpegImagePlugin.get_sampling(image)
    pixels = imagecodecs.jpeg8_decode(data)
    result = np.empty_like(pixels)  # one pass: each sample the larger of itself and its left neighbour
    result[:, 0] = pixels[:, 0]
    np.maximum(pixels[:, 1:], pixels[:, :-1], out=result[:, 1:])
    Image.fromarray(result).save(os.path.join(out, os.path.basename(path)), qtables=tables, subsampling=sampling)

if __name__ == "__main__":
    out, *paths = sys.argv[1:]
    if len(paths) == 1:
        blur(paths[0], out)
    else:
        with ProcessPoolExecutor(JOBS) as pool:
            list(pool.map(blur, paths, [out] * len(paths)))
""".replace("JOBS", str(JOBS))


def run(job: Job, contenders: dict, rounds: int, scratch: Path) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) of every round of each contender on ``job``."""
    costs: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    names = list(contenders)
    for turn in range(rounds):
        for name in names[turn % len(names):] + names[:turn % len(names)]:
            out = scratch / name
            out.mkdir()
            measure, error = timed(*contenders[name](job, out), scratch)
            if error:
                raise SystemExit(f"{name} failed on {job.name}: {error}")
            costs[name].append((measure.seconds, measure.cpu or float("nan")))
        for name in names:
            shutil.rmtree(scratch / name)
    return costs


def table(job: Job, costs: dict[str, list[tuple[float, float]]]) -> list[str]:
    best = {name: (min(w for w, _ in runs), min(c for _, c in runs)) for name, runs in costs.items()}
    lines = [f"**{job.name}**", "", "| contender | best s | median s | CPU s | / vips | / floor |",
             "|---|---|---|---|---|---|"]
    for name, runs in costs.items():
        wall, cpu = best[name]
        lines.append(f"| {name} | {wall:.3f} | {statistics.median(w for w, _ in runs):.3f} | {cpu:.3f} "
                     f"| {wall / best['vips'][0]:.2f} | {wall / best['floor'][0]:.2f} |")
    gaps = (("the stack's floor over vips", "floor", "vips"), ("imgconv over the floor", "imgconv", "floor"))
    lines += ["", *(f"- {what}: +{best[a][0] - best[b][0]:.3f} s wall, +{best[a][1] - best[b][1]:.3f} s CPU"
                    for what, a, b in gaps)]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds, contenders interleaved [default: 5]")
    parser.add_argument("--camera", type=int, default=12, help="camera JPEGs in their folder [default: 12]")
    parser.add_argument("--photos", type=Path, default=PHOTOS, help=f"photographs to build from [default: {PHOTOS}]")
    args = parser.parse_args()
    if not shutil.which("vips"):
        raise SystemExit("vips is not installed: the floor is measured against it")
    scratch = Path(tempfile.mkdtemp(prefix="imgconv-floor-"))
    try:
        script = scratch / "floor.py"
        script.write_text(FLOOR_SCRIPT)
        contenders = {"vips": vips_command, "floor": script_command(script), "imgconv": imgconv_command}
        sources = photos(args.photos)
        jobs = [Job("one 4K JPEG, 3840x2160", scratch / "k4", 0,
                    make_folder(scratch / "k4", sources, [(3840, 2160)], "jpg")),
                Job(f"{args.camera} camera JPEGs, 12-24 MP", scratch / "camera", 0,
                    make_folder(scratch / "camera", sources, [CAMERA_SIZES[i % 4] for i in range(args.camera)], "jpg"))]
        print(f"# The stack's floor: Gaussian blur sigma {SIGMA}, best of {args.rounds} rounds\n\n"
              f"machine at the start: {machine()}")
        for job in jobs:
            run(job, contenders, 1, scratch)  # untimed: bytecode written, libraries in the page cache
            print("", *table(job, run(job, contenders, args.rounds, scratch)), sep="\n", flush=True)
        print(f"\nmachine at the end: {machine()}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    main()
