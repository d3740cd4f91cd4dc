"""Hostile input and faults in a batch: outputs confined to OUTPUT, symbolic links,
worker processes that die with their parent, job caps, counts after a signal."""

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_one_line_error, assert_rounded_from, load, reference, run, save

from imgconv import batch, kernels
from imgconv.cpus import cpu_count
from imgconv.engine import EngineOptions
from imgconv.errors import InvalidInputError
from imgconv.filters import preset_filter
from imgconv.io import sink, staging

BLUR = ["blur", "-r", "2", "-s", "1"]
GAUSS = kernels.gaussian(1, radius=2)


def files_under(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs)


def assert_blurred(out, original):
    assert_rounded_from(load(out)[1], reference(original, GAUSS))


@pytest.fixture
def pictures(tmp_path, rng):
    """in/a.png, in/b.png and outside/secret.png (not under in/), each a random RGB picture."""
    images = {}
    for relative in ["in/a.png", "in/b.png", "outside/secret.png"]:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        images[relative] = rng.integers(0, 256, (20, 28, 3)).astype(np.uint8)
        save(path, images[relative])
    return tmp_path, images


# --- Outputs stay inside OUTPUT -------------------------------------------------------


@pytest.mark.parametrize("suffix", ["/../../../x", "/x", "_a/b", "x\0y"])
def test_a_suffix_with_a_path_separator_or_nul_is_a_usage_error(pictures, suffix):
    tmp, _ = pictures
    (tmp / "out" / "a" / "x").mkdir(parents=True)  # what the old escape needed to exist
    result = run(*BLUR, "--suffix", suffix, tmp / "in" / "a.png", tmp / "out")
    assert_one_line_error(result, 2, "--suffix")
    assert files_under(tmp) == ["in/a.png", "in/b.png", "outside/secret.png"]


def test_a_suffix_of_dots_alone_stays_a_name(pictures):
    tmp, images = pictures
    result = run(*BLUR, "--suffix", "..", tmp / "in", tmp / "out")
    assert result.exit_code == 0, result.stderr
    assert files_under(tmp / "out") == ["a...png", "b...png"]
    assert_blurred(tmp / "out" / "a...png", images["in/a.png"])


def test_an_output_folder_leading_outside_refuses_the_batch_before_any_work(pictures):
    tmp, images = pictures
    (tmp / "in" / "sub").mkdir()
    save(tmp / "in" / "sub" / "c.png", images["in/a.png"])
    (tmp / "out").mkdir()
    (tmp / "elsewhere").mkdir()
    (tmp / "out" / "sub").symlink_to(tmp / "elsewhere")  # out/sub/c.png would land in elsewhere/
    result = run(*BLUR, "-R", tmp / "in", tmp / "out")
    assert_one_line_error(result, 2, "c.png", "outside")
    assert os.listdir(tmp / "elsewhere") == []
    assert os.listdir(tmp / "out") == ["sub"]  # refused before any work: a.png and b.png not written either


def test_a_name_without_a_file_name_is_refused(pictures):
    tmp, _ = pictures
    with pytest.raises(InvalidInputError, match="no file name"):
        batch.plan_batch([str(tmp / "missing" / "..")], str(tmp / "out" / "deeper"))  # would be out/deeper/..
    result = run(*BLUR, "--files-from", "-", tmp / "out", input=f"{tmp / 'in' / 'a.png'}/\n")
    assert_one_line_error(result, 2, "a.png/: has no file name")
    assert not (tmp / "out").exists()


def test_names_from_files_from_keep_only_their_file_name(pictures):
    tmp, images = pictures
    listing = f"{tmp / 'in' / '..' / 'outside' / 'secret.png'}\n{tmp / 'in' / 'a.png'}\n"
    result = run(*BLUR, "--files-from", "-", tmp / "out", input=listing)
    assert result.exit_code == 0, result.stderr
    assert files_under(tmp / "out") == ["a.png", "secret.png"]
    assert_blurred(tmp / "out" / "secret.png", images["outside/secret.png"])


def test_every_planned_output_lies_inside_output(pictures):
    tmp, _ = pictures
    tasks = batch.plan_batch([str(tmp / "in"), str(tmp / "outside" / "secret.png")], str(tmp / "out"),
                             format="tiff", suffix="-x")
    out = os.path.realpath(tmp / "out")
    assert [os.path.relpath(t.dest, tmp / "out") for t in tasks] == ["a-x.tiff", "b-x.tiff", "secret-x.tiff"]
    for task in tasks:
        assert os.path.dirname(os.path.realpath(task.dest)) == out and task.root == str(tmp / "out")


# --- Symbolic links in the input tree -------------------------------------------------


def test_links_leading_outside_the_input_are_skipped_with_a_note(pictures):
    tmp, images = pictures
    (tmp / "in" / "sub").mkdir()
    save(tmp / "in" / "sub" / "c.png", images["in/b.png"])
    (tmp / "in" / "leak.png").symlink_to(tmp / "outside" / "secret.png")
    (tmp / "in" / "sub" / "up.png").symlink_to(os.path.join("..", "..", "outside", "secret.png"))  # relative
    (tmp / "in" / "folder").symlink_to(tmp / "outside")
    (tmp / "in" / "gone.png").symlink_to(tmp / "outside" / "missing.png")  # dangling, outside
    (tmp / "in" / "same.png").symlink_to(tmp / "in" / "a.png")  # stays inside: read
    (tmp / "in" / "sub" / "near.png").symlink_to(os.path.join("..", "b.png"))  # stays inside: read
    result = run(*BLUR, "-R", tmp / "in", tmp / "out")
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[-1] == "processed 5, skipped 0, failed 0"  # the skipped links are not counted
    notes = sorted(lines[:-1])
    assert notes == sorted(f"imgconv: note: {tmp / 'in' / name}: symbolic link leads outside {tmp / 'in'}; skipped"
                           for name in ["folder", "gone.png", "leak.png", os.path.join("sub", "up.png")])
    assert files_under(tmp / "out") == ["a.png", "b.png", "same.png", "sub/c.png", "sub/near.png"]
    assert_blurred(tmp / "out" / "same.png", images["in/a.png"])
    assert_blurred(tmp / "out" / "sub" / "near.png", images["in/b.png"])


def test_links_are_checked_without_recursion_too_and_quiet_hides_the_note(pictures):
    tmp, _ = pictures
    (tmp / "in" / "leak.png").symlink_to(tmp / "outside" / "secret.png")
    result = run(*BLUR, tmp / "in", tmp / "out")
    assert result.exit_code == 0
    assert result.stderr.splitlines()[0].startswith("imgconv: note: ")
    assert files_under(tmp / "out") == ["a.png", "b.png"]
    result = run(*BLUR, "--quiet", tmp / "in", tmp / "out2")
    assert result.exit_code == 0 and result.stderr == ""
    assert files_under(tmp / "out2") == ["a.png", "b.png"]


def test_an_excluded_link_gets_no_note(pictures):
    tmp, _ = pictures
    (tmp / "in" / "leak.png").symlink_to(tmp / "outside" / "secret.png")
    result = run(*BLUR, "--exclude", "leak*", tmp / "in", tmp / "out")
    assert result.exit_code == 0 and "note" not in result.stderr


def test_an_input_folder_reached_through_a_link_is_scanned(pictures):
    tmp, _ = pictures
    (tmp / "alias").symlink_to(tmp / "in")  # named by the user: followed
    (tmp / "in" / "same.png").symlink_to(tmp / "in" / "a.png")
    result = run(*BLUR, tmp / "alias", tmp / "in" / "a.png", tmp / "outside" / "secret.png", tmp / "out1")
    assert result.exit_code == 2 and "would both write" in result.stderr  # alias/a.png and in/a.png
    result = run(*BLUR, tmp / "alias", tmp / "out")
    assert result.exit_code == 0 and "note" not in result.stderr, result.stderr
    assert files_under(tmp / "out") == ["a.png", "b.png", "same.png"]


def test_a_file_named_by_the_user_is_read_wherever_its_link_leads(pictures):
    tmp, images = pictures
    (tmp / "in" / "leak.png").symlink_to(tmp / "outside" / "secret.png")
    result = run(*BLUR, tmp / "in" / "leak.png", tmp / "in" / "a.png", tmp / "out")
    assert result.exit_code == 0, result.stderr
    assert_blurred(tmp / "out" / "leak.png", images["outside/secret.png"])


# --- A symbolic link already at a destination -----------------------------------------


def test_an_output_that_is_a_link_leading_outside_is_refused_not_written_through(pictures):
    tmp, images = pictures
    (tmp / "out").mkdir()
    target = tmp / "outside" / "secret.png"
    before = target.read_bytes()
    (tmp / "out" / "a.png").symlink_to(target)
    for options in ([], ["--skip-existing"], ["-j", "2"]):  # the target is newer than in/a.png: still refused
        result = run(*BLUR, *options, tmp / "in", tmp / "out")
        assert result.exit_code == 1, result.stderr
        lines = result.stderr.splitlines()
        assert lines[0] == (f"imgconv: error: {tmp / 'out' / 'a.png'}: is a symbolic link leading outside "
                            f"{tmp / 'out'}; not written")
        assert lines[-1] in ("processed 1, skipped 0, failed 1", "processed 0, skipped 1, failed 1")
        assert target.read_bytes() == before and os.path.islink(tmp / "out" / "a.png")
        assert files_under(tmp / "outside") == ["secret.png"]  # not even a temporary file
        assert_blurred(tmp / "out" / "b.png", images["in/b.png"])


def test_an_output_that_is_a_link_inside_output_is_followed(pictures):
    tmp, images = pictures
    (tmp / "out" / "keep").mkdir(parents=True)
    kept = save(tmp / "out" / "keep" / "k.png", images["outside/secret.png"])
    (tmp / "out" / "a.png").symlink_to(kept)
    result = run(*BLUR, tmp / "in", tmp / "out")
    assert result.exit_code == 0, result.stderr
    assert os.path.islink(tmp / "out" / "a.png")  # as for a single OUTPUT, and as cp does
    assert_blurred(kept, images["in/a.png"])


def test_a_folder_link_planted_after_planning_is_refused_by_the_worker(pictures):
    tmp, _ = pictures
    tasks = batch.plan_batch([str(tmp / "in")], str(tmp / "out"))
    (tmp / "out").mkdir()
    (tmp / "out" / "a.png").symlink_to(tmp / "outside" / "secret.png")
    result = batch.run_task(tasks[0], None)
    assert result.status == "failed" and "symbolic link leading outside" in result.error
    nested = batch.Task(str(tmp / "in" / "b.png"), str(tmp / "out" / "sub" / "b.png"), str(tmp / "out"))
    (tmp / "out" / "sub").symlink_to(tmp / "outside")
    result = batch.run_task(nested, None)
    assert result.status == "failed" and "folder leads outside" in result.error
    assert files_under(tmp / "outside") == ["secret.png"]


# --- Workers die with the main process ------------------------------------------------


def session_members(session):
    """(pid, ppid) of every live process (zombies left out) in a session, from /proc."""
    members = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as file:
                stat = file.read()
        except OSError:
            continue  # gone meanwhile
        state, ppid, _, sid = stat[stat.rindex(")") + 2:].split()[:4]
        if int(sid) == session and state != "Z":
            members.append((int(name), int(ppid)))
    return members


def wait_until_gone(session, seconds):
    deadline = time.monotonic() + seconds
    while session_members(session) and time.monotonic() < deadline:
        time.sleep(0.02)
    return session_members(session)


def start_batch(tmp_path, camera, count, *options):
    """A real batch in a session of its own, once its first output has appeared."""
    source = tmp_path / "in"
    source.mkdir()
    big = np.tile(camera, (3, 3))  # 1536 x 1536: each file takes a while
    for i in range(count):
        save(source / f"img{i:02d}.png", np.roll(big, i * 7, axis=1), compress_level=1)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "imgconv", "blur", "-s", "6", *options, str(source), str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while not out.exists() or not any(not n.startswith(".") for n in os.listdir(out)):
        assert process.poll() is None and time.monotonic() < deadline, "no output appeared"
        time.sleep(0.01)
    return process, source, out


def stop_session(process):
    """Kill whatever is left of a batch the test started."""
    for pid, _ in session_members(process.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if process.poll() is None:
        process.kill()
    process.communicate()


def assert_outputs_are_whole(source, out):
    for name in os.listdir(out):
        assert not name.startswith("."), f"temporary file {name} left"
        single = out.parent / f"single-{name}"
        assert run("blur", "-s", "6", source / name, single).exit_code == 0
        assert np.array_equal(load(out / name)[1], load(single)[1]), name


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="finds the workers through /proc")
@pytest.mark.slow
def test_workers_exit_when_the_main_process_is_killed(tmp_path, camera):
    process, source, out = start_batch(tmp_path, camera, 24, "-j", "2")
    try:
        workers = [pid for pid, ppid in session_members(process.pid) if ppid == process.pid]
        assert len(workers) == 2
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert wait_until_gone(process.pid, 2) == []
        assert 0 < len(os.listdir(out)) < 24, "the run was not killed mid-way"
        assert_outputs_are_whole(source, out)
    finally:
        stop_session(process)


def test_a_worker_whose_parent_died_before_it_started_exits(tmp_path):
    child = os.fork()
    if child == 0:  # the worker's initializer, told of a parent that is not its own
        try:
            batch.workers.start_worker(os.getppid() + 1, True)
        finally:
            os._exit(0)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 1


def test_a_dying_worker_removes_only_its_own_temporary_folders(tmp_path):
    """What a worker whose batch died removes (a file written has no name until it is
    whole; a Zarr store is made in a private folder): the private folders of its own
    writes in progress, not another process's."""
    other = tmp_path / ".imgconv-0123456789ab.tmp"
    other.mkdir()
    (other / "new").write_bytes(b"another process's")
    with pytest.raises(KeyboardInterrupt), sink.atomic_folder(str(tmp_path / "a.zarr")) as store:
        (Path(store) / "zarr.json").write_bytes(b"{}")
        assert len(os.listdir(tmp_path)) == 2
        staging.remove_unfinished()
        assert os.listdir(tmp_path) == [other.name]
        raise KeyboardInterrupt  # the worker's end, as far as this test goes
    assert os.listdir(tmp_path) == [other.name] and (other / "new").read_bytes() == b"another process's"


# --- --jobs and --threads are capped -------------------------------------------------


def test_worker_count_is_capped_by_files_and_cpus():
    cpus = cpu_count()
    assert batch.max_jobs() == 4 * cpus
    assert batch.worker_count(10_000, 6) == min(6, 4 * cpus)
    assert batch.worker_count(10_000, 10_000) == 4 * cpus
    assert batch.worker_count(None, 10_000) == cpus
    assert batch.worker_count(3, 0) == batch.worker_count(None, 0) == 1


def test_a_huge_job_count_starts_no_more_workers_than_files(pictures, monkeypatch):
    tmp, images = pictures
    save(tmp / "in" / "c.png", images["in/a.png"])
    asked, alive = [], []
    original = batch.local_executor
    monkeypatch.setattr(batch.run, "local_executor", lambda jobs: asked.append(jobs) or original(jobs))
    tasks = batch.plan_batch([str(tmp / "in")], str(tmp / "out"))
    filt = preset_filter(GAUSS, engine=EngineOptions(threads=1))
    results = batch.run_batch(tasks, filt, jobs=10_000,
                              on_result=lambda _: alive.append(len(multiprocessing.active_children())))
    assert [r.status for r in results] == ["ok"] * 3
    assert asked == [min(3, batch.max_jobs())] and 0 < max(alive) <= 3
    assert_blurred(tmp / "out" / "c.png", images["in/a.png"])


def test_skipped_files_start_no_workers(pictures, monkeypatch):
    tmp, _ = pictures
    assert run(*BLUR, tmp / "in", tmp / "out").exit_code == 0
    asked = []
    original = batch.local_executor
    monkeypatch.setattr(batch.run, "local_executor", lambda jobs: asked.append(jobs) or original(jobs))
    result = run(*BLUR, "--skip-existing", "-j", "8", tmp / "in", tmp / "out")
    assert result.exit_code == 0 and result.stderr.strip() == "processed 0, skipped 2, failed 0"
    assert asked == [1]  # one job: the main process, no worker at all


def test_the_cli_caps_jobs_and_threads(pictures, monkeypatch):
    tmp, images = pictures
    asked, threads = [], []
    original_executor, original_process = batch.local_executor, batch.one.process_file
    monkeypatch.setattr(batch.run, "local_executor", lambda jobs: asked.append(jobs) or original_executor(jobs))

    def spy(source, dest, filt, *args, **options):
        threads.append(filt.engine.threads)
        return original_process(source, dest, filt, *args, **options)

    monkeypatch.setattr(batch.one, "process_file", spy)  # what one INPUT and OUTPUT runs through
    cap = batch.max_jobs()
    assert run(*BLUR, "-j", "10000", "--threads", "10000", tmp / "in", tmp / "out").exit_code == 0
    assert asked == [min(2, cap)]
    assert run(*BLUR, "--threads", "10000", tmp / "in" / "a.png", tmp / "single.png").exit_code == 0
    assert threads[-1] == cap
    assert_blurred(tmp / "single.png", images["in/a.png"])


class InterruptedWhileHandingOver(batch.InlineExecutor):
    """Runs each file at once, then takes a Ctrl-C before `submit` has returned: the
    moment between a worker taking a file and the batch noting it."""

    def submit(self, fn, /, *args, **kwargs):
        future = super().submit(fn, *args, **kwargs)
        signal.raise_signal(signal.SIGINT)
        return future


def test_a_file_handed_over_as_ctrl_c_lands_is_counted(pictures):
    tmp, _ = pictures
    tasks = batch.plan_batch([str(tmp / "in")], str(tmp / "out"))
    counted = []
    with pytest.raises(KeyboardInterrupt):
        batch.run_batch(tasks, preset_filter(kernels.box(radius=1)), jobs=1, executor=InterruptedWhileHandingOver(),
                        on_result=counted.append)
    written = sorted(os.listdir(tmp / "out"))
    assert len(written) == 1  # the first file, then the interrupt
    assert [os.path.basename(r.output) for r in counted if r.status == "ok"] == written
