"""Regenerate docs/gallery/: each preset command run by the real CLI on a sample photo.

Run from the repository root:  .venv/bin/python docs/make_gallery.py
The README's gallery table shows the files this writes.
"""

import subprocess
import sys
from pathlib import Path

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
]


def main():
    GALLERY.mkdir(parents=True, exist_ok=True)
    original = GALLERY / "original.jpg"
    # A 240x180 crop of the cat's face keeps the gallery small.
    with Image.open(ROOT / "samples" / "chelsea.png") as cat:
        cat.crop((100, 20, 340, 200)).save(original, quality=90)
    for name, args in COMMANDS:
        command = [sys.executable, "-m", "imgconv", *args, "--quality", "90", str(original), str(GALLERY / f"{name}.jpg")]
        print(" ".join(command[2:]), file=sys.stderr)
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
