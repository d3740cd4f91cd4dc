"""Shared helpers for the CLI tests: run the real command, make real image files."""

from pathlib import Path

import numpy as np
import scipy.ndimage as ndi
from click.testing import CliRunner
from PIL import Image

from imgconv.cli import cli

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def run(*args, input=None):
    """Run ``imgconv ARGS`` in-process; the result has exit_code, stdout (bytes) and stderr."""
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


def save(path, array, mode=None, **options):
    image = Image.fromarray(array) if mode is None else Image.fromarray(array).convert(mode)
    image.save(path, **options)
    return path


def load(path):
    with Image.open(path) as image:
        image.load()
        return image.mode, np.asarray(image)


def reference(image, kernel, mode="reflect", cval=0.0, correlate=False):
    """scipy.ndimage on every channel, in float64: the independent reference."""
    function = ndi.correlate if correlate else ndi.convolve
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 2:
        return function(image, kernel, mode=mode, cval=cval)
    return np.stack([function(image[..., c], kernel, mode=mode, cval=cval) for c in range(image.shape[2])], -1)


def as_samples(values, dtype=np.uint8):
    info = np.iinfo(dtype)
    return np.clip(np.rint(values), info.min, info.max).astype(dtype)


def assert_rounded_from(actual, expected, dtype=np.uint8, slack=1e-3):
    """``actual`` integer samples are ``expected`` float values rounded to nearest and clipped.

    ``slack`` covers float32 arithmetic: a value within it of a .5 tie may round either way.
    """
    info = np.iinfo(dtype)
    target = np.clip(expected, info.min, info.max)
    error = np.abs(actual.astype(np.float64) - target)
    assert error.max() <= 0.5 + slack, f"off by {error.max():.4f} levels"


def assert_one_line_error(result, status, *fragments):
    """One ``imgconv: error:`` line on stderr naming each fragment, the right exit
    status, no traceback and nothing on stdout."""
    assert result.exit_code == status, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("imgconv: error: "), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
