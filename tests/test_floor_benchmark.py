"""The stack's floor (benchmarks/floor.py): its script decodes, makes one pass and
encodes as it says, keeping the input's JPEG tables as imgconv does. No timing is
asserted."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
from helpers import load, save
from PIL import Image

_BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(_BENCHMARKS))  # floor.py imports its neighbour, as when run as a script
try:
    _SPEC = importlib.util.spec_from_file_location("floor_benchmark", _BENCHMARKS / "floor.py")
    floor = importlib.util.module_from_spec(_SPEC)
    _SPEC.loader.exec_module(floor)
finally:
    sys.path.remove(str(_BENCHMARKS))


def test_floor_script_makes_one_pass_and_keeps_the_jpeg_tables(tmp_path, rng):
    bands = np.where(np.arange(96) // 16 % 2, 180, 60)  # the pass widens the bright bands by one column
    pixels = np.repeat(bands[np.newaxis, :, np.newaxis], 64, axis=0).repeat(3, axis=2)
    pixels = (pixels + rng.integers(0, 4, pixels.shape)).astype(np.uint8)
    source = save(tmp_path / "in.jpg", pixels, quality=95, subsampling=0)
    (tmp_path / "out").mkdir()
    script: dict = {"__name__": "floor_script"}
    exec(floor.FLOOR_SCRIPT, script)
    script["blur"](str(source), str(tmp_path / "out"))
    _, decoded = load(source)
    expected = decoded.astype(np.float64)
    expected[:, 1:] = np.maximum(expected[:, 1:], expected[:, :-1])
    mode, written = load(tmp_path / "out" / "in.jpg")
    assert mode == "RGB" and written.shape == decoded.shape
    error, unfiltered = np.abs(written - expected).mean(), np.abs(written - decoded.astype(np.float64)).mean()
    assert error < 1.5 and unfiltered > 3 * error, (error, unfiltered)  # the JPEG's loss, not another filter
    with Image.open(source) as given, Image.open(tmp_path / "out" / "in.jpg") as made:
        assert made.quantization == given.quantization
