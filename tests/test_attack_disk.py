"""A disk that fills while an output is written (here a file-size limit, which fails
the write as a full disk does, ``EFBIG`` for ``ENOSPC``): one line giving the system's
reason, naming the output, and nothing left behind."""

import contextlib
import errno
import os
import resource

import numpy as np
import pytest
import tifffile
from helpers import assert_one_line_error, run, save


@contextlib.contextmanager
def disk_of(size: int):
    """Files written meanwhile fail past ``size`` bytes; Python ignores SIGXFSZ, so the write fails instead."""
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, limits[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)


def _noise(bits: int = 8) -> np.ndarray:
    """300 x 400 RGB noise, whose outputs are over 64 KiB in any format (at quality 100)."""
    rng = np.random.default_rng(3)
    return rng.integers(0, 2 ** bits, (300, 400, 3), dtype=np.uint8 if bits == 8 else np.uint16)


def test_a_npy_output_cut_short_by_the_disk_says_why(tmp_path):
    source = save(tmp_path / "in.png", _noise())
    with disk_of(65536):  # of the 360 KB output
        result = run("identity", source, tmp_path / "out.npy")
    assert_one_line_error(result, 1, "out.npy: cannot write: File too large")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


# By Pillow (JPEG, BMP, WebP), by imgconv's PNG writer, by tifffile (TIFF of 8 and 16 bits).
@pytest.mark.parametrize(("name", "bits"), [("out.jpg", 8), ("out.bmp", 8), ("out.webp", 8), ("out.png", 8),
                                            ("out.tif", 8), ("out.tif", 16)])
def test_an_output_cut_short_by_the_disk_says_why_not_that_the_format_cannot_hold_it(tmp_path, name, bits):
    source = tmp_path / "in.tif"
    tifffile.imwrite(source, _noise(bits))
    with disk_of(65536):
        result = run("identity", "--quality", "100", source, tmp_path / name)
    assert_one_line_error(result, 1, f"{name}: cannot write: {os.strerror(errno.EFBIG)}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tif"]


def test_a_batch_output_cut_short_by_the_disk_fails_that_file_alone_saying_why(tmp_path):
    (tmp_path / "in").mkdir()
    save(tmp_path / "in" / "big.png", _noise())
    save(tmp_path / "in" / "small.png", _noise()[:4, :4])
    with disk_of(65536):
        result = run("identity", "--format", "jpeg", "--quality", "100", tmp_path / "in", tmp_path / "out")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"imgconv: error: {tmp_path / 'out' / 'big.jpg'}: cannot write: {os.strerror(errno.EFBIG)}",
        "processed 1, skipped 0, failed 1"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["small.jpg"]
