"""Batches on a real Dask cluster (--cluster): the session's LocalCluster (conftest.py), and
one of separate `dask scheduler` and `dask worker` programs, on 127.0.0.1 only."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from helpers import (  # noqa: E402
    NOBODY,
    SAMPLES,
    DaskPrograms,
    assert_one_line_error,
    load,
    needs_root,
    run,
    save,
    start_process,
    stop_process,
)

import imgconv  # noqa: E402
from imgconv import batch, cluster, peers  # noqa: E402
from imgconv.filters import Filter  # noqa: E402

KILL_WIDTH = 77  # the photo of this width kills its worker


@pytest.fixture
def scheduler(dask_cluster):
    dask_cluster.wait_for_workers(2)  # a worker a test killed is back
    return dask_cluster.address


def connected_to(port):
    """Each (address, port) of this machine connected to ``port`` here, from
    /proc/net/tcp (IPv4 only: everything here is on 127.0.0.1)."""
    def endpoint(field):
        address, port = field.split(":")
        return socket.inet_ntoa(bytes.fromhex(address)[::-1]), int(port, 16)

    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return {endpoint(row[1]) for row in rows if row[3] == "01" and endpoint(row[2])[1] == port}


@pytest.mark.slow
def test_the_scheduler_tells_in_one_call_who_holds_a_result_and_where_each_worker_connects_from(scheduler):
    with distributed.Client(scheduler, set_as_default=False) as client:
        future = client.submit(int, "7", pure=False)
        assert future.result() == 7
        holders = client.run_on_scheduler(peers.CONNECTIONS, keys=[future.key])
        every = client.run_on_scheduler(peers.CONNECTIONS)
        assert set(holders) == set(client.who_has([future])[future.key]) and len(holders) == 1
        assert set(every) == set(client.nthreads()) and len(every) == 2
        connected = connected_to(int(scheduler.rsplit(":", 1)[1]))
    assert holders.items() <= every.items()
    for worker, connection in every.items():
        host, port = connection.removeprefix("tcp://").rsplit(":", 1)
        assert (host, int(port)) in connected, (worker, connection)  # a socket of the worker's, not its address
        assert connection != worker


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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_an_unreachable_address_is_one_line_naming_it(tmp_path):
    photos(tmp_path / "in", widths=(100,))
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    done = subprocess.run([sys.executable, "-m", "imgconv", "blur", "-s", "2", "--cluster", address,
                           str(tmp_path / "in"), str(tmp_path / "out")], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "IMGCONV_CLUSTER_TIMEOUT": "1.5"})
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("imgconv: error: --cluster ") and address in lines[0], lines
    assert "within 1.5 s" in lines[0], lines
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")


class Peer:
    """A listener on 127.0.0.1 that accepts every connection and ``answer``s it
    (``None``: says nothing), keeping it open, until the ``with`` block ends: then the
    listener and every connection it accepted are closed and its thread has ended."""

    def __init__(self, answer=None):
        self.answer = answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.address = f"tcp://127.0.0.1:{self.listener.getsockname()[1]}"
        self.accepted = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve)

    def _serve(self):
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.accepted.append(connection)
            if self.answer:
                connection.sendall(self.answer)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join()
        for connection in self.accepted:
            connection.close()
        self.listener.close()


# What a web server (a scheduler's dashboard, say) answers bytes it cannot parse: Dask
# reads its first 8 bytes as a count of frames.
HTTP_ANSWER = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize("answer, fragment", [
    (None, "no Dask scheduler answered within 2 s"),  # a handshake waited for for ever
    (HTTP_ANSWER, "what answered is not a Dask scheduler"),  # one line, then 20 s and a traceback from Client.__del__
], ids=["silent", "http"])
@pytest.mark.slow
def test_a_peer_that_is_not_a_scheduler_is_one_line_within_the_deadline(tmp_path, answer, fragment):
    photos(tmp_path / "in", widths=(100,))
    with Peer(answer) as peer:
        command = [sys.executable, "-m", "imgconv", "blur", "-s", "2", "--cluster", peer.address,
                   str(tmp_path / "in"), str(tmp_path / "out")]
        # The timeout only ends a run that hangs: the test fails then, and the run is killed.
        done = subprocess.run(command, capture_output=True, text=True, timeout=cluster.CONNECT_TIMEOUT + 50,
                              check=False, env={**os.environ, "IMGCONV_CLUSTER_TIMEOUT": "2"})
        assert peer.accepted, "imgconv never connected"
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"imgconv: error: --cluster {peer.address}: "), done.stderr
    assert fragment in lines[0], lines[0]
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "3601", "ten"])
def test_a_bad_cluster_timeout_is_one_line_naming_it(tmp_path, monkeypatch, value):
    photos(tmp_path / "in", widths=(100,))
    monkeypatch.setenv("IMGCONV_CLUSTER_TIMEOUT", value)
    result = run("blur", "-s", "2", "--cluster", "tcp://127.0.0.1:9", tmp_path / "in", tmp_path / "out")
    assert_one_line_error(result, 2, f"IMGCONV_CLUSTER_TIMEOUT={value!r}", "more than 0 and at most 3600")


@pytest.mark.parametrize("address, reason", [
    ("localhost", "missing port number"), ("http://127.0.0.1:8786", "unknown address scheme 'http'"),
    ("tcp://127.0.0.1:99999", "port 99999 is out of range"),
])
def test_a_malformed_address_is_one_line_saying_why(tmp_path, address, reason):
    photos(tmp_path / "in", widths=(100,))
    result = run("blur", "-s", "2", "--cluster", address, tmp_path / "in", tmp_path / "out")
    assert_one_line_error(result, 2, f"--cluster {address}: not a scheduler's address", reason, "tcp://HOST:PORT")


@pytest.mark.slow
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


class DieOnWidth(Filter):
    """A 3x3 box blur that kills the process running it for one photo (of KILL_WIDTH)."""

    def apply(self, samples, output=None):
        if samples.shape[1] == KILL_WIDTH:
            os._exit(1)
        return super().apply(samples, output)


# The workers cannot import this module (pytest names it tests.test_cluster): named as
# __main__'s, the class and its method are sent by value (cloudpickle), as ones typed in
# a notebook are.
DieOnWidth.__module__ = DieOnWidth.apply.__module__ = "__main__"


@pytest.mark.slow
def test_a_worker_killed_mid_batch_fails_its_file_after_one_retry(scheduler, tmp_path):
    names = photos(tmp_path / "in", widths=(100, 110, KILL_WIDTH, 120, 130))
    tasks = batch.plan_batch([str(tmp_path / "in")], str(tmp_path / "out"))
    killer = DieOnWidth(((np.full((3, 3), 1 / 9), True),))
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


def many_photos(folder, count):
    """``count`` whole samples, each shifted differently, so that a batch takes a while."""
    folder.mkdir(parents=True, exist_ok=True)
    _, chelsea = load(SAMPLES / "chelsea.png")
    names = [f"m{i:02d}.png" for i in range(count)]
    for i, name in enumerate(names):
        save(folder / name, np.roll(chelsea, 7 * i, axis=1), compress_level=1)  # quickly written: zlib level 1
    return names


def wait_for_outputs(process, folder, count=1, deadline=120):
    """Wait until ``folder`` holds ``count`` finished outputs (not temporary files)."""
    end = time.monotonic() + deadline
    while not folder.exists() or len([n for n in os.listdir(folder) if not n.startswith(".")]) < count:
        assert process.poll() is None and time.monotonic() < end, "no output appeared"
        time.sleep(0.01)


@pytest.mark.slow
def test_separate_scheduler_and_worker_programs_survive_a_killed_worker(tmp_path):
    """`dask scheduler` and two `dask worker` programs on 127.0.0.1, working in another
    folder: a batch with relative paths equals `--jobs 2`, and with one worker killed
    mid-run every file still ends written or reported."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # --no-nanny: a killed worker stays dead, as a lost machine would.
    programs = DaskPrograms(elsewhere, nanny=False)
    address, workers, processes = programs.address, programs.workers, programs.processes
    try:
        names = many_photos(tmp_path / "in", 40)
        os.chdir(tmp_path)
        try:
            local = run("blur", "-s", "5", "-j", "2", "-q", "in", "local")
            assert local.exit_code == 0, local.stderr
            batch_command = [sys.executable, "-m", "imgconv", "blur", "-s", "5", "--cluster", address,
                             "--report", "run.jsonl", "in", "remote"]
            imgconv_run = start_process(batch_command, cwd=tmp_path)
            processes.append(imgconv_run)
            wait_for_outputs(imgconv_run, tmp_path / "remote")
            os.kill(workers[0].pid, signal.SIGKILL)
            assert len(os.listdir(tmp_path / "remote")) < len(names), "the worker was not killed mid-run"
            _, stderr = imgconv_run.communicate(timeout=120)
        finally:
            os.chdir(os.path.dirname(__file__))
        assert workers[0].wait(timeout=10) == -signal.SIGKILL
        assert b"Traceback" not in stderr
        rows = [json.loads(line) for line in (tmp_path / "run.jsonl").read_text().splitlines()]
        assert sorted(os.path.basename(r["input"]) for r in rows) == sorted(names)  # every file reported
        written = sorted(n for n in os.listdir(tmp_path / "remote") if not n.startswith("."))
        assert written == sorted(os.path.basename(r["output"]) for r in rows if r["status"] == "ok")
        assert all(r["status"] == "ok" or "worker died" in r["error"] for r in rows)
        assert imgconv_run.returncode == (0 if len(written) == len(names) else 1), stderr
        # The second worker took over what the first had: nothing was lost here.
        assert written == sorted(names)
        for name in written:
            assert (tmp_path / "remote" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
    finally:
        programs.close()


@pytest.mark.slow
def test_ctrl_c_on_a_cluster_batch_waits_for_what_was_sent_and_counts_it(scheduler, tmp_path):
    names = many_photos(tmp_path / "in", 40)
    report = tmp_path / "run.jsonl"
    process = start_process([sys.executable, "-m", "imgconv", "blur", "-s", "5", "--cluster", scheduler, "--report",
                     str(report), str(tmp_path / "in"), str(tmp_path / "out")])
    try:
        wait_for_outputs(process, tmp_path / "out")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        stop_process(process)
    assert process.returncode == 130, stderr
    assert b"Traceback" not in stderr
    written = sorted(os.listdir(tmp_path / "out"))
    assert 0 < len(written) < len(names), "the run was not interrupted mid-way"
    assert all(not n.startswith(".") for n in written)  # no temporary files
    summary = [line for line in stderr.decode().splitlines() if line.startswith("processed ")]
    assert summary == [f"processed {len(written)}, skipped 0, failed 0"]
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    assert sorted(os.path.basename(r["output"]) for r in rows) == written
    time.sleep(1)  # nothing cancelled is written later by the cluster
    assert sorted(os.listdir(tmp_path / "out")) == written


@pytest.mark.slow
def test_fail_fast_on_a_cluster_sends_no_file_after_the_first_failure(scheduler, tmp_path):
    names = many_photos(tmp_path / "in", 12)
    (tmp_path / "in" / "m00.png").write_bytes(b"not a picture")  # the first file sent fails
    result = run("blur", "-s", "5", "--cluster", scheduler, "--fail-fast", "--report", tmp_path / "run.jsonl",
                 tmp_path / "in", tmp_path / "out")
    assert result.exit_code == 1
    rows = [json.loads(line) for line in (tmp_path / "run.jsonl").read_text().splitlines()]
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["input"].endswith("m00.png")
    # Files are sent in order, two at a time (the cluster's threads): those sent before
    # the failure came back are reported, the rest were never sent.
    assert [os.path.basename(r["input"]) for r in rows] == names[:len(rows)] and len(rows) < len(names)
    written = sorted(os.listdir(tmp_path / "out")) if (tmp_path / "out").exists() else []
    assert written == sorted(os.path.basename(r["output"]) for r in rows if r["status"] == "ok")
    assert result.stderr.splitlines()[-1] == f"processed {len(written)}, skipped 0, failed 1"




@pytest.mark.slow
def test_a_filter_the_workers_cannot_load_is_refused_before_any_file_is_sent(scheduler, tmp_path, monkeypatch):
    # A function from the user's own module, importable here but not on the workers:
    # Dask sends it by reference, and left alone the workers' tasks would stay pending.
    (tmp_path / "only_here.py").write_text("from imgconv.filters import Filter\n\n"
                                           "class Doubled(Filter):\n"
                                           "    def apply(self, samples, output=None):\n"
                                           "        return 2 * super().apply(samples, output)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import only_here

    photos(tmp_path / "in", widths=(100, 110, 120))
    tasks = batch.plan_batch([str(tmp_path / "in")], str(tmp_path / "out"))
    client = cluster.connect(scheduler)
    try:
        executor = cluster.ClusterExecutor(client)
        sent = []
        executor._send = lambda *args: sent.append(args)
        with pytest.raises(imgconv.ImgconvError) as refused:
            batch.run_batch(tasks, only_here.Doubled((([[0.25, 0.5, 0.25]], True),)), jobs=executor.threads,
                            in_flight=executor.threads, executor=executor)
    finally:
        client.close()
        sys.modules.pop("only_here", None)
    message = str(refused.value)
    assert "2 of 2 cluster workers cannot load the filter" in message and "only_here" in message, message
    assert "\n" not in message and sent == []


# A worker's preload: notes in $TASK_LOG each call of ``client.run`` and each task it is sent.
TASK_LOG = """
import functools, os


def dask_setup(worker):
    def logged(name, handler):
        @functools.wraps(handler)  # Dask passes the comm to handlers whose signature asks for it
        def handle(*args, **kwargs):
            with open(os.environ["TASK_LOG"], "a") as log:
                print(name, file=log)
            return handler(*args, **kwargs)
        return handle

    worker.handlers["run"] = logged("run", worker.handlers["run"])
    worker.stream_handlers["compute-task"] = logged("compute-task", worker.stream_handlers["compute-task"])
"""


@pytest.mark.parametrize("claims", [False, True], ids=["own-address", "claims-the-users-listener"])
@pytest.mark.filterwarnings("ignore:Mismatched versions found")  # nobody's Python is not the venv's own build
@pytest.mark.slow
def test_a_worker_another_user_runs_is_refused_in_one_line_before_anything_is_sent(dask_cluster, scheduler, tmp_path,
                                                                                 claims):
    """A worker run as nobody joins the user's scheduler: at its own address, or
    registered at the address of a socket the user listens on (which passes a check of
    the address alone)."""
    needs_root()
    photos(tmp_path / "in", widths=(100,))
    with distributed.Client(scheduler, set_as_default=False) as client:
        own = set(client.nthreads())
    with tempfile.TemporaryDirectory() as theirs, socket.create_server(("127.0.0.1", 0)) as users:
        os.chown(theirs, 65534, 65534)  # nobody's: the worker's scratch space and its log
        (Path(theirs) / "log_tasks.py").write_text(TASK_LOG)
        log = Path(theirs) / "tasks.log"
        listen = ("--listen-address", "tcp://127.0.0.1:0", "--contact-address",
                  f"tcp://127.0.0.1:{users.getsockname()[1]}") if claims else ("--host", "127.0.0.1")
        hostile = dask_cluster.start_worker("--no-nanny", "--preload", str(Path(theirs) / "log_tasks.py"),
                                            listen=listen, prefix=NOBODY,
                                            env={"TASK_LOG": str(log), "DASK_TEMPORARY_DIRECTORY": theirs})
        try:
            dask_cluster.wait_for_workers(3)
            with distributed.Client(scheduler, set_as_default=False) as client:
                (worker,) = set(client.nthreads()) - own
            result = run("blur", "-s", "2", "--cluster", scheduler, tmp_path / "in", tmp_path / "out")
            received = log.read_text() if log.exists() else ""
        finally:
            dask_cluster.stop(hostile)
    dask_cluster.wait_for_workers(2, exactly=True)  # the next tests see the user's own workers only
    assert_one_line_error(result, 1, f"--cluster {scheduler}: the worker at {worker} was started by another user "
                                     f"(nobody, uid 65534), and could run code in imgconv; stop it, or use a tls:// "
                                     f"scheduler")
    assert received == "", received
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")
