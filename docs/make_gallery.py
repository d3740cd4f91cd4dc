"""Regenerate docs/gallery/: the real CLI run on a sample photo, and the lecture's pictures.

Run from the repository root:  .venv/bin/python docs/make_gallery.py
The README's gallery table and the guides show the files this writes.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
GALLERY = ROOT / "docs" / "gallery"

COMMANDS = [
    ("blur", ["blur", "--radius", "5", "--sigma", "3"]),
    ("box", ["box", "--radius", "3"]),
    ("sharpen", ["sharpen", "--amount", "1"]),
    ("unsharp", ["unsharp", "--sigma", "2", "--amount", "2"]),
    ("sobel", ["sobel"]),
    ("sobel-x", ["sobel", "--direction", "x", "--normalize"]),
    ("scharr", ["scharr", "--normalize"]),
    ("laplacian", ["laplacian", "--diagonals"]),
    ("emboss", ["emboss"]),
    ("motion", ["motion", "--length", "15", "--angle", "30"]),
    ("blur-side-by-side", ["blur", "--sigma", "4", "--view", "side-by-side"]),
]


def imgconv(*args):
    command = [sys.executable, "-m", "imgconv", *map(str, args)]
    print(" ".join(command[2:]), file=sys.stderr)
    subprocess.run(command, check=True)


def main():
    GALLERY.mkdir(parents=True, exist_ok=True)
    original = GALLERY / "original.jpg"
    # A 240x180 crop of the cat's face keeps the gallery small.
    with Image.open(ROOT / "samples" / "chelsea.png") as cat:
        cat.crop((100, 20, 340, 200)).save(original, quality=90)
    for name, args in COMMANDS:
        imgconv(*args, "--quality", "90", original, GALLERY / f"{name}.jpg")
    # The lecture: a convolution layer's feature maps, and the sliding kernel.
    imgconv("conv-layer", "-k", "-1 0 1; -2 0 2; -1 0 1", "-k", "-1 -2 -1; 0 0 0; 1 2 1", "-k", "0 1 0; 1 -4 1; 0 1 0",
            "-k", "1 1 1; 1 1 1; 1 1 1", "--stride", "2", original, GALLERY / "feature-maps.png")
    slide = GALLERY / "slide.gif"
    imgconv("animate", slide, "--input-size", "5", "--kernel-size", "3", "--stride", "2", "--padding", "1", "--numbers")
    with Image.open(slide) as animation:
        animation.seek(4)
        animation.convert("RGB").save(GALLERY / "slide-frame.png")
    boundary_pictures(original)
    linear_light_pictures()


# Each mode's picture: the crop moved SHIFT pixels down and to the right by correlating with a
# kernel whose one weight lies at its top-left corner, so that the top and left strips show what
# the mode puts beyond the edges.
MODES = ["reflect", "mirror", "nearest", "wrap", "constant"]
SHIFT = (60, 80)


def boundary_pictures(original):
    kernel = np.zeros((2 * SHIFT[0] + 1, 2 * SHIFT[1] + 1))
    kernel[0, 0] = 1
    with tempfile.TemporaryDirectory() as folder:
        shift = Path(folder) / "shift.npy"
        np.save(shift, kernel)
        for mode in MODES:
            imgconv("convolve", "--correlate", "-k", shift, "-b", mode, "--quality", "90", original,
                    GALLERY / f"boundary-{mode}.jpg")


# A pure red half beside a pure green half: averaged as sRGB samples, the blurred edge passes
# through (128, 128, 0), a dark olive; averaged in linear light, through (188, 188, 0), as bright
# as the light mixed.
EDGE = (48, 128)


def linear_light_pictures():
    edge = np.zeros((*EDGE, 3), np.uint8)
    edge[:, : EDGE[1] // 2, 0] = 255
    edge[:, EDGE[1] // 2 :, 1] = 255
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "edge.png"
        Image.fromarray(edge).save(source)
        imgconv("blur", "-s", "8", "-b", "nearest", source, GALLERY / "edge-srgb.png")
        imgconv("blur", "-s", "8", "-b", "nearest", "--linear", source, GALLERY / "edge-linear.png")


if __name__ == "__main__":
    main()
