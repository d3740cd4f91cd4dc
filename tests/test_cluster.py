"""Batches on a real Dask cluster (--cluster): a scheduler and two worker processes on
127.0.0.1 only, started once for the module and closed after it."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
import dask  # noqa: E402

import imgconv  # noqa: E402
from imgconv import batch, cluster  # noqa: E402
from imgconv.filters import Filter  # noqa: E402
from helpers import SAMPLES, load, run, save  # noqa: E402

KILL_WIDTH = 77  # the photo of this width kills its worker


@pytest.fixture(scope="module")
def scheduler():
    # No retries by the scheduler itself: a file whose worker dies comes back as
    # KilledWorker at once, so imgconv's own single retry is what is counted.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        local = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                         dashboard_address=None, silence_logs=50)
    try:
        yield local.scheduler_address
    finally:
        local.close()


def photos(folder, widths=(120, 160, 200, 90, 140, 180)):
    """Crops of the two samples, real photos of different sizes."""
    folder.mkdir(parents=True, exist_ok=True)
    _, chelsea = load(SAMPLES / "chelsea.png")
    _, camera = load(SAMPLES / "camera.png")
    names = []
    for i, width in enumerate(widths):
        source = chelsea if i % 2 else camera
        name = f"p{i}.png"
        save(folder / name, np.ascontiguousarray(source[10 * i:10 * i + 100, 5 * i:5 * i + width]))
        names.append(name)
    return names


def test_a_cluster_batch_equals_the_local_one_with_relative_paths_and_a_report(scheduler, tmp_path, monkeypatch):
    names = photos(tmp_path / "in")
    local = run("blur", "-s", "2", "-j", "1", "-q", tmp_path / "in", tmp_path / "local")
    assert local.exit_code == 0, local.stderr
    monkeypatch.chdir(tmp_path)  # relative paths, resolved here, not in the workers' folder
    result = run("blur", "-s", "2", "--cluster", scheduler, "--report", "run.jsonl", "in", "remote")
    assert result.exit_code == 0, result.stderr
    assert "processed 6, skipped 0, failed 0" in result.stderr
    for name in names:
        assert (tmp_path / "remote" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
    lines = [json.loads(line) for line in (tmp_path / "run.jsonl").read_text().splitlines()]
    assert [(r["input"], r["output"], r["status"]) for r in lines] == \
        [(os.path.join("in", n), os.path.join("remote", n), "ok") for n in names]


def test_imgconv_cluster_sets_the_address(scheduler, tmp_path, monkeypatch):
    photos(tmp_path / "in", widths=(100, 130))
    monkeypatch.setenv("IMGCONV_CLUSTER", scheduler)
    result = run("sharpen", "-q", tmp_path / "in", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    assert sorted(os.listdir(tmp_path / "out")) == ["p0.png", "p1.png"]
    # A single INPUT OUTPUT runs here when the address comes from the environment...
    single = run("sharpen", tmp_path / "in" / "p0.png", tmp_path / "one.png")
    assert single.exit_code == 0 and (tmp_path / "one.png").exists()
    # ... and is refused in one line when --cluster is given for it.
    refused = run("sharpen", "--cluster", scheduler, tmp_path / "in" / "p0.png", tmp_path / "two.png")
    assert refused.exit_code == 2 and len(refused.stderr.splitlines()) == 1 and "--cluster" in refused.stderr


def test_an_unreachable_address_is_one_line_naming_it(tmp_path):
    photos(tmp_path / "in", widths=(100,))
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    done = subprocess.run([sys.executable, "-m", "imgconv", "blur", "-s", "2", "--cluster", address,
                           str(tmp_path / "in"), str(tmp_path / "out")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("imgconv: error: --cluster ") and address in lines[0], lines
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")


def test_a_version_mismatch_is_one_line_before_any_file_is_sent(scheduler, tmp_path, monkeypatch):
    photos(tmp_path / "in", widths=(100,))
    monkeypatch.setattr(imgconv, "__version__", "0.0.0-not-the-workers")
    result = run("blur", "-s", "2", "--cluster", scheduler, tmp_path / "in", tmp_path / "out")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "imgconv 0.1.0" in lines[0] and "0.0.0-not-the-workers" in lines[0], lines
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")


def test_without_distributed_cluster_names_the_extra(tmp_path, monkeypatch):
    photos(tmp_path / "in", widths=(100,))
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed raises ImportError
    result = run("blur", "-s", "2", "--cluster", "tcp://127.0.0.1:1", tmp_path / "in", tmp_path / "out")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "pip install 'imgconv[dask]'" in lines[0], lines


def die_on_width(samples, output=None):
    """A filter that kills the process running it for one photo (of KILL_WIDTH)."""
    if samples.shape[1] == KILL_WIDTH:
        os._exit(1)
    return imgconv.convolve(samples, np.ones((1, 1)), output=output)


# The workers cannot import this module (pytest names it tests.test_cluster): named as
# __main__'s, the function is sent by value (cloudpickle), as one typed in a notebook is.
die_on_width.__module__ = "__main__"


def test_a_worker_killed_mid_batch_fails_its_file_after_one_retry(scheduler, tmp_path):
    names = photos(tmp_path / "in", widths=(100, 110, KILL_WIDTH, 120, 130))
    tasks = batch.plan_batch([str(tmp_path / "in")], str(tmp_path / "out"))
    killer = Filter(apply=die_on_width, kernel=np.ones((1, 1)), preserves_mean=True)
    client = cluster.connect(scheduler)
    try:
        executor = cluster.ClusterExecutor(client)
        assert executor.threads == 2
        sent = []
        original = executor._send
        executor._send = lambda future, fn, task, *rest: (sent.append(task.source), original(future, fn, task, *rest))
        results = batch.run_batch(tasks, killer, jobs=executor.threads, in_flight=executor.threads, executor=executor)
    finally:
        client.close()
    statuses = {os.path.basename(r.input): r.status for r in results}
    assert statuses == {name: "failed" if name == "p2.png" else "ok" for name in names}
    failed = next(r for r in results if r.status == "failed")
    assert "worker died" in failed.error and "KilledWorker" in failed.error and "p2.png" in failed.error
    assert sent.count(str(tmp_path / "in" / "p2.png")) == 2  # sent, then retried once
    assert not (tmp_path / "out" / "p2.png").exists()
    assert sorted(os.listdir(tmp_path / "out")) == sorted(n for n in names if n != "p2.png")
