"""Damaged files of the formats imgconv decodes with imagecodecs and tifffile (16-bit
colour), and of animations: whatever is broken, the real command prints one line or
works, never a traceback, a warning or a log message, and never leaves an output file."""

import random
import subprocess
import sys

import imagecodecs
import numpy as np
import pytest
import tifffile
from PIL import Image

from helpers import SAMPLES


def _originals(folder):
    """16-bit PNG and TIFF files, a 3-frame GIF and a 3-page TIFF, from the photograph."""
    with Image.open(SAMPLES / "chelsea.png") as image:
        rgb = np.asarray(image.crop((100, 50, 196, 114)))
    deep = rgb.astype(np.uint16) * 257
    rgba = np.dstack([deep, np.full(deep.shape[:2], 40000, np.uint16)])
    (folder / "rgba16.png").write_bytes(imagecodecs.png_encode(rgba))
    tifffile.imwrite(folder / "rgb16.tif", deep, photometric="rgb")
    tifffile.imwrite(folder / "la16.tif", rgba[..., [0, 3]], photometric="minisblack", extrasamples=["unassalpha"])
    frames = [Image.fromarray(np.roll(rgb, 7 * i, axis=1)) for i in range(3)]
    frames[0].save(folder / "frames.gif", save_all=True, append_images=frames[1:], duration=100)
    frames[0].save(folder / "pages.tif", save_all=True, append_images=frames[1:])
    return sorted(p for p in folder.iterdir())


def _damage(data, rng):
    """Cut the file short, or overwrite a few bytes in its header or in its body."""
    data = bytearray(data)
    kind = rng.randrange(3)
    if kind == 0:
        return bytes(data[: rng.randrange(8, len(data))])
    region = (0, min(200, len(data))) if kind == 1 else (len(data) // 4, len(data))
    for _ in range(rng.randrange(1, 12)):
        data[rng.randrange(*region)] = rng.randrange(256)
    return bytes(data)


def test_damaged_files_give_one_line_or_a_whole_output(tmp_path):
    rng = random.Random(20261127)
    originals = _originals(tmp_path)
    outcomes = []
    for case in range(30):
        original = originals[case % len(originals)]
        damaged = tmp_path / f"damaged-{case}{original.suffix}"
        damaged.write_bytes(_damage(original.read_bytes(), rng))
        out = tmp_path / f"out-{case}.png"
        result = subprocess.run([sys.executable, "-m", "imgconv", "blur", "-s", "1", damaged, out],
                                capture_output=True, text=True, timeout=120)
        lines = result.stderr.splitlines()
        if result.returncode == 0:
            assert lines == [], result.stderr
            with Image.open(out) as image:
                image.load()
        else:
            assert result.returncode in (1, 2), result.stderr
            assert len(lines) == 1 and lines[0].startswith("imgconv: error: "), result.stderr
            assert not out.exists()
        outcomes.append(result.returncode)
    assert set(outcomes) >= {0, 1}, outcomes  # the damage both spared and broke files
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("name", ["rgba16.png", "rgb16.tif", "la16.tif"])
def test_the_originals_are_read_whole(tmp_path, name):
    """The undamaged 16-bit files go through, so the damage is what the test above tests."""
    _originals(tmp_path)
    result = subprocess.run([sys.executable, "-m", "imgconv", "identity", tmp_path / name, tmp_path / "out.tif"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stderr == ""
    assert np.array_equal(tifffile.imread(tmp_path / "out.tif"), tifffile.imread(tmp_path / name)
                          if name.endswith(".tif") else imagecodecs.png_decode((tmp_path / name).read_bytes()))
