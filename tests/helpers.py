"""Shared helpers for the tests: run the real command, make real image files, and the
independent references filtering is checked against."""

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


# numpy.pad's name for each boundary mode: its extension repeats reflections as often
# as a kernel needs, where scipy.ndimage.correlate goes wrong once a kernel reaches four
# image sizes beyond an edge in reflect mode.
NUMPY_PADS = {"reflect": "symmetric", "mirror": "reflect", "nearest": "edge", "wrap": "wrap", "constant": "constant"}


def padded_reference(image, kernel, mode, cval=0.0, correlate=False):
    """Filtering over numpy.pad's extension of every channel, in float64: the reference
    for kernels many times the image's size."""
    kernel = np.asarray(kernel, np.float64)
    if correlate:
        before = (kernel.shape[0] // 2, kernel.shape[1] // 2)
    else:
        kernel = kernel[::-1, ::-1]
        before = (kernel.shape[0] - 1 - kernel.shape[0] // 2, kernel.shape[1] - 1 - kernel.shape[1] // 2)
    image = np.asarray(image, np.float64)
    pads = [(b, n - 1 - b) for b, n in zip(before, kernel.shape)] + [(0, 0)] * (image.ndim - 2)
    options = {"constant_values": cval} if mode == "constant" else {}
    padded = np.pad(image, pads, NUMPY_PADS[mode], **options)
    windows = np.lib.stride_tricks.sliding_window_view(padded, kernel.shape, axis=(0, 1))
    return np.einsum("yx...ij,ij->yx...", windows, kernel)


def symmetric_taps(rng, length):
    """Random taps symmetric about the anchor (index length // 2); an even length gets a
    zero first tap, so that the rest is symmetric."""
    half = rng.normal(size=length // 2 + 1)
    taps = np.concatenate([half[:0:-1], half])
    return np.concatenate([[0.0], taps]) if length % 2 == 0 else taps


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
