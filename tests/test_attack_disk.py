"""A disk that fills while an output is written (here a file-size limit, which fails
the write as a full disk does, ``EFBIG`` for ``ENOSPC``): one line giving the system's
reason, naming the output, and nothing left behind."""

import resource

import numpy as np
from helpers import assert_one_line_error, run, save


def test_a_npy_output_cut_short_by_the_disk_says_why(tmp_path):
    source = save(tmp_path / "in.png", np.random.default_rng(3).integers(0, 256, (300, 400, 3), dtype=np.uint8))
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    # 64 KiB of the 360 KB output; Python ignores SIGXFSZ, so the write fails instead.
    resource.setrlimit(resource.RLIMIT_FSIZE, (65536, limits[1]))
    try:
        result = run("identity", source, tmp_path / "out.npy")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
    assert_one_line_error(result, 1, "out.npy: cannot write: File too large")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]
