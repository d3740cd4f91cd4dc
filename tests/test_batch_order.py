"""The order a batch hands its files over in: the largest first to several workers (so
that they finish together), as given to one; results and reports in task order."""

import os
import shutil

import numpy as np
from helpers import assert_rounded_from, load, reference, save

from imgconv import batch, kernels
from imgconv.engine import EngineOptions
from imgconv.filters import preset_filter

GAUSS = kernels.gaussian(1, radius=2)


class Recording(batch.InlineExecutor):
    """Runs each file at once, noting the name of each input handed to it."""

    def __init__(self, handed):
        self.handed = handed

    def submit(self, fn, /, *args, **kwargs):
        self.handed.append(os.path.basename(args[0].source))
        return super().submit(fn, *args, **kwargs)


def test_several_workers_take_the_largest_files_first_and_results_keep_task_order(tmp_path, rng, monkeypatch):
    (tmp_path / "in").mkdir()
    pictures = {name: rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
                for name, side in (("a.png", 8), ("b.png", 40), ("c.png", 20))}
    for name, pixels in pictures.items():
        save(tmp_path / "in" / name, pixels)
    shutil.copyfile(tmp_path / "in" / "b.png", tmp_path / "in" / "d.png")  # as large as b.png: after it
    handed = []
    monkeypatch.setattr(batch.run, "local_executor", lambda jobs: Recording(handed))
    tasks = batch.plan_batch([str(tmp_path / "in"), str(tmp_path / "gone.png")], str(tmp_path / "out"))
    filt = preset_filter(GAUSS, engine=EngineOptions(threads=1))
    results = batch.run_batch(tasks, filt, jobs=2)
    sizes = {name: os.path.getsize(tmp_path / "in" / name) for name in ("a.png", "b.png", "c.png")}
    assert sizes["b.png"] > sizes["c.png"] > sizes["a.png"]
    assert handed == ["b.png", "d.png", "c.png", "a.png", "gone.png"]  # a missing file counts as empty
    assert [r.input for r in results] == [task.source for task in tasks]
    assert [r.status for r in results] == ["ok"] * 4 + ["failed"]
    for name in ("a.png", "d.png"):
        assert_rounded_from(load(tmp_path / "out" / name)[1], reference(pictures[name.replace("d", "b")], GAUSS))
    handed.clear()
    batch.run_batch(tasks, filt, jobs=1)
    assert handed == ["a.png", "b.png", "c.png", "d.png", "gone.png"]
