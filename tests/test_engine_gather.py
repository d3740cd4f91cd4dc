"""How the engine gathers a band (`imgconv.engine.gather`): the rows and columns two
index maps select, copied run by run, against NumPy's fancy indexing of the same maps;
and the command line's one BLAS thread, which the engine asks OpenBLAS about rather
than loading threadpoolctl."""

import os
import subprocess
import sys

import numpy as np
import pytest

from imgconv.boundary import index_map
from imgconv.engine.gather import MAX_RUNS, extend, runs
from imgconv.vocabulary import MODES


@pytest.mark.parametrize("mode", MODES)
def test_runs_rebuild_every_window_of_the_index_maps(mode):
    samples = np.arange(100, 110)
    for length in (1, 2, 3, 7):
        for before, after in ((0, 0), (1, 2), (5, 4), (9, 9)):
            index = np.maximum(index_map(length, before, after, mode), 0)
            for start in range(len(index)):
                for stop in range(start + 1, len(index) + 1, 4):
                    window = index[start:stop]
                    pairs = runs(window)
                    if pairs is None:
                        assert length <= 2, (mode, length, before, after)  # only wrap's tiny images
                        continue
                    assert len(pairs) <= MAX_RUNS
                    rebuilt = np.empty(len(window), int)
                    for positions, sources in pairs:
                        rebuilt[positions] = samples[sources]
                    assert np.array_equal(rebuilt, samples[window]), (mode, length, before, after, start, stop)


def test_runs_take_any_constant_step():
    samples = np.arange(100, 120)
    for window in ([0, 5, 10, 15, 14, 13], [3, 3, 9, 19, 0], [19]):
        rebuilt = np.empty(len(window), int)
        for positions, sources in runs(np.array(window)):
            rebuilt[positions] = samples[sources]
        assert np.array_equal(rebuilt, samples[window]), window


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("planar", [False, True])
def test_extend_equals_fancy_indexing(rng, mode, planar):
    plane = rng.integers(0, 256, (6, 5, 3)).astype(np.uint8)
    for (above, below, left, right), top in (((2, 3, 3, 2), 0), ((9, 9, 9, 9), 0), ((1, 1, 1, 1), 2)):
        rows = index_map(6, above, below, mode)[top : top + 4 + above + below]
        columns = index_map(5, left, right, mode)
        band = extend(plane, rows, columns, left, 7.5, np.float32, planar)
        expected = plane[np.maximum(rows, 0)][:, np.maximum(columns, 0)].astype(np.float32)
        expected[rows < 0] = 7.5
        expected[:, columns < 0] = 7.5
        assert band.dtype == np.float32 and np.array_equal(band, expected), (mode, above, left)
        assert band.transpose(2, 0, 1).flags.c_contiguous == planar


@pytest.mark.parametrize("setting, loaded", [("1", False), ("2", True)])
def test_threadpoolctl_is_loaded_only_where_blas_has_threads_to_hold(setting, loaded):
    script = ("import sys, numpy as np\nfrom imgconv.engine import correlate\n"
              "correlate(np.ones((20, 20)), np.ones((3, 3)), method='separable')\n"
              "print('threadpoolctl' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": setting})
    assert done.stdout.split()[-1] == str(loaded)
