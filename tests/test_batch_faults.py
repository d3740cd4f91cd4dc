"""What a batch meets in shared folders, each run as the real command in a child process
(as a second user, nobody, where permissions matter): FIFOs and other files that are
not regular among the inputs and outputs, folders it may not read or that lie deeper
than PATH_MAX, an OUTPUT folder it cannot create; and stop signals while imgconv waits
on a FIFO. None may hang, print a traceback or leave a file unaccounted for."""

import errno
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
from helpers import assert_rounded_from, load, reference, run, save

from imgconv import kernels

BLUR = ["blur", "-r", "2", "-s", "1"]
GAUSS = kernels.gaussian(1, radius=2)
HANG_GUARD = 120  # seconds after which a run counts as hung; no timing is asserted
AS_NOBODY = ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups"]


def imgconv(*args, as_nobody=False, cwd=None):
    """Run the real command in its own session: (exit status, stdout bytes, stderr text).
    One that outlives `HANG_GUARD` is killed, with everything it started, and fails."""
    command = [*(AS_NOBODY if as_nobody else []), sys.executable, "-m", "imgconv", *map(str, args)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=HANG_GUARD)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"imgconv {' '.join(map(str, args))} hung")
    return process.returncode, stdout, stderr.decode()


def assert_one_line(stderr, *fragments):
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("imgconv: error: "), stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def assert_blurred(out, original):
    assert_rounded_from(load(out)[1], reference(original, GAUSS))


def files_under(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs)


@pytest.fixture
def picture(rng):
    return rng.integers(0, 256, (20, 28, 3)).astype(np.uint8)


def can_be_nobody():
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return False
    return subprocess.run([*AS_NOBODY, "true"], check=False, capture_output=True).returncode == 0


needs_nobody = pytest.mark.skipif(not can_be_nobody(), reason="needs root and setpriv to run as nobody")


@pytest.fixture
def open_folder():
    """A folder that nobody may traverse, unlike pytest's tmp_path (under a 0700 folder
    of root's), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="imgconv-test-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


# --- Inputs and outputs that are not regular files ------------------------------------


@pytest.mark.slow
def test_a_fifo_and_a_socket_in_a_batch_folder_are_skipped_with_a_note(tmp_path, picture):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    save(tmp_path / "in" / "a.png", picture)
    os.mkfifo(tmp_path / "in" / "f.png")  # opened as a file, it waits for a writer for ever
    os.mkfifo(tmp_path / "in" / "sub" / "g.png")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "in" / "s.png"))
        status, _, stderr = imgconv(*BLUR, "-R", "--report", tmp_path / "report.jsonl", tmp_path / "in",
                                    tmp_path / "out")
    assert status == 0, stderr
    assert stderr.splitlines() == [
        f"imgconv: note: {tmp_path / 'in' / 'f.png'}: is a named pipe (FIFO), not a regular file; skipped",
        f"imgconv: note: {tmp_path / 'in' / 's.png'}: is a socket, not a regular file; skipped",
        f"imgconv: note: {tmp_path / 'in' / 'sub' / 'g.png'}: is a named pipe (FIFO), not a regular file; skipped",
        "processed 1, skipped 3, failed 0"]
    assert files_under(tmp_path / "out") == ["a.png"]
    assert_blurred(tmp_path / "out" / "a.png", picture)
    rows = [json.loads(line) for line in (tmp_path / "report.jsonl").read_text().splitlines()]
    assert [(os.path.basename(r["input"]), r["output"], r["status"]) for r in rows] == [
        ("f.png", None, "skipped"), ("s.png", None, "skipped"), ("g.png", None, "skipped"),
        ("a.png", str(tmp_path / "out" / "a.png"), "ok")]
    status, _, stderr = imgconv(*BLUR, "-R", "--quiet", tmp_path / "in", tmp_path / "quiet")
    assert status == 0 and stderr == "" and files_under(tmp_path / "quiet") == ["a.png"]


@pytest.mark.slow
def test_a_loop_of_links_in_a_batch_folder_fails_as_one_file(tmp_path, picture):
    (tmp_path / "in").mkdir()
    save(tmp_path / "in" / "a.png", picture)
    (tmp_path / "in" / "loop.png").symlink_to("loop.png")
    status, _, stderr = imgconv(*BLUR, tmp_path / "in", tmp_path / "out")
    assert status == 1, stderr
    assert stderr.splitlines() == [
        f"imgconv: error: {tmp_path / 'in' / 'loop.png'}: cannot read: {os.strerror(errno.ELOOP)}",
        "processed 1, skipped 0, failed 1"]
    assert_blurred(tmp_path / "out" / "a.png", picture)


@pytest.mark.slow
def test_a_fifo_named_as_a_batch_input_fails_at_once(tmp_path, picture):
    save(tmp_path / "a.png", picture)
    os.mkfifo(tmp_path / "f.png")
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}"
        status, _, stderr = imgconv(*BLUR, "-j", jobs, tmp_path / "f.png", tmp_path / "a.png", out)
        assert status == 1, stderr
        assert stderr.splitlines() == [
            (f"imgconv: error: {tmp_path / 'f.png'}: is a named pipe (FIFO), not a regular file; a batch reads "
             "regular files only (one INPUT and one OUTPUT may be a pipe)"),
            "processed 1, skipped 0, failed 1"]
        assert files_under(out) == ["a.png"]


@pytest.mark.slow
def test_a_fifo_at_an_output_place_is_not_written_into(tmp_path, picture):
    (tmp_path / "in").mkdir()
    save(tmp_path / "in" / "a.png", picture)
    save(tmp_path / "in" / "b.png", picture[::-1])
    (tmp_path / "out").mkdir()
    os.mkfifo(tmp_path / "out" / "a.png")  # opened for writing, it waits for a reader for ever
    status, _, stderr = imgconv(*BLUR, tmp_path / "in", tmp_path / "out")
    assert status == 1, stderr
    assert stderr.splitlines() == [
        f"imgconv: error: {tmp_path / 'out' / 'a.png'}: is a named pipe (FIFO), not a regular file; not written",
        "processed 1, skipped 0, failed 1"]
    assert stat.S_ISFIFO(os.lstat(tmp_path / "out" / "a.png").st_mode)
    assert_blurred(tmp_path / "out" / "b.png", picture[::-1])


@pytest.mark.slow
def test_one_fifo_input_is_read_as_a_pipe_even_for_a_tiff_output(tmp_path, picture):
    """A tiled TIFF is streamed from its file; telling whether an input is one must not
    take the first bytes of a FIFO, or open it a second time once its writer is gone."""
    save(tmp_path / "a.tif", picture)
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes((tmp_path / "a.tif").read_bytes()), daemon=True)
    writer.start()
    status, _, stderr = imgconv(*BLUR, fifo, tmp_path / "out.tif")
    writer.join(timeout=HANG_GUARD)
    assert status == 0, stderr
    assert_rounded_from(tifffile.imread(tmp_path / "out.tif"), reference(picture, GAUSS))


def wait_until_waiting_for_a_writer(process, fifo):
    """Until the process waits for the writer of ``fifo``: it holds it open (and polls
    it), or the kernel holds it in a blocking open."""
    deadline = time.monotonic() + HANG_GUARD
    descriptors = Path(f"/proc/{process.pid}/fd")

    def waiting():
        try:
            return Path(f"/proc/{process.pid}/wchan").read_text() == "wait_for_partner" or \
                any(os.readlink(d) == str(fifo) for d in descriptors.iterdir())
        except FileNotFoundError:  # a descriptor closed while listed
            return False

    while not waiting():
        assert process.poll() is None and time.monotonic() < deadline, "never opened the FIFO"
        time.sleep(0.02)


@pytest.mark.parametrize("signum, status, word", [(signal.SIGTERM, 143, "terminated"),
                                                  (signal.SIGINT, 130, "interrupted")])
@pytest.mark.slow
def test_a_run_waiting_for_a_fifo_writer_ends_on_a_stop_signal(tmp_path, signum, status, word):
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    process = subprocess.Popen([sys.executable, "-m", "imgconv", *BLUR, str(fifo), str(tmp_path / "out.png")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_until_waiting_for_a_writer(process, fifo)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=HANG_GUARD)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == status
    assert stderr.decode().strip() == f"imgconv: error: {word}" and stdout == b""
    assert sorted(os.listdir(tmp_path)) == ["in.fifo"]


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
@pytest.mark.slow
def test_inputs_are_opened_without_waiting(tmp_path, picture):
    """Every open of an input, in the main process and in the workers, has O_NONBLOCK."""
    for name in ("a.png", "b.png"):
        save(tmp_path / name, picture)
    log = tmp_path / "trace"
    traced = subprocess.run(["strace", "-f", "-qq", "-e", "trace=openat", "-o", str(log), sys.executable, "-m",
                             "imgconv", *BLUR, "-j", "2", str(tmp_path / "a.png"), str(tmp_path / "b.png"),
                             str(tmp_path / "out")], check=False, capture_output=True, timeout=HANG_GUARD)
    if b"PTRACE" in traced.stderr or b"Operation not permitted" in traced.stderr:
        pytest.skip("ptrace is not permitted here")
    assert traced.returncode == 0, traced.stderr
    opens = [line for line in log.read_text().splitlines()
             if f'"{tmp_path / "a.png"}"' in line or f'"{tmp_path / "b.png"}"' in line]
    assert len(opens) >= 2 and all("O_NONBLOCK" in line for line in opens), opens


# --- An OUTPUT folder that cannot be made ---------------------------------------------


@pytest.mark.parametrize("case", ["ENOTDIR", "ENAMETOOLONG", "ELOOP", "EEXIST", "EEXIST below"])
@pytest.mark.slow
def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path, picture, case):
    source = save(tmp_path / "a.png", picture)
    (tmp_path / "file").write_bytes(b"")
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "dangling").symlink_to("missing")
    output, reason = {
        "ENOTDIR": (tmp_path / "file" / "sub", f"{tmp_path / 'file'} is not a folder"),
        "ENAMETOOLONG": (tmp_path / ("x" * 300), os.strerror(errno.ENAMETOOLONG)),
        "ELOOP": (tmp_path / "loop" / "sub",
                  f"{tmp_path / 'loop'} is a symbolic link that cannot be followed: {os.strerror(errno.ELOOP)}"),
        "EEXIST": (tmp_path / "dangling",
                   f"{tmp_path / 'dangling'} is a symbolic link to missing, which does not exist"),
        "EEXIST below": (tmp_path / "dangling" / "sub", f"{tmp_path / 'dangling'} is a symbolic link to missing"),
    }[case]
    before = files_under(tmp_path)
    status, stdout, stderr = imgconv(*BLUR, source, f"{output}/")
    assert status == 1 and stdout == b"", stderr
    assert_one_line(stderr, f"{output}/: cannot create the output folder: {reason}")
    assert files_under(tmp_path) == before and not os.path.exists(tmp_path / "missing")


@needs_nobody
@pytest.mark.slow
def test_an_output_folder_in_a_folder_of_another_user_is_one_line(open_folder, picture):
    save(open_folder / "a.png", picture)
    (open_folder / "a.png").chmod(0o644)
    (open_folder / "root").mkdir(mode=0o755)  # root's: nobody may not write in it
    status, stdout, stderr = imgconv(*BLUR, open_folder / "a.png", f"{open_folder / 'root' / 'out' / 'deeper'}/",
                                     as_nobody=True)
    assert status == 1 and stdout == b"", stderr
    assert_one_line(stderr, f"{open_folder / 'root' / 'out' / 'deeper'}/: cannot create the output folder: "
                            f"{os.strerror(errno.EACCES)}")
    assert os.listdir(open_folder / "root") == []


@pytest.mark.slow
def test_an_output_folder_on_a_read_only_file_system_is_one_line(tmp_path, picture, monkeypatch):
    source = save(tmp_path / "a.png", picture)
    mount = tmp_path / "ro"
    mount.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount)],
                                                   check=False, capture_output=True).returncode == 0
    try:
        if mounted:
            status, stdout, stderr = imgconv(*BLUR, source, f"{mount / 'out'}/")
        else:  # not allowed to mount here: the system call's answer, simulated in-process
            def read_only(path, mode=0o777):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)

            monkeypatch.setattr(os, "mkdir", read_only)
            result = run(*BLUR, source, f"{mount / 'out'}/")
            status, stdout, stderr = result.exit_code, result.stdout, result.stderr
    finally:
        if mounted:
            subprocess.run(["umount", str(mount)], check=True)
    assert status == 1 and not stdout, stderr
    assert_one_line(stderr, f"{mount / 'out'}/: cannot create the output folder: {os.strerror(errno.EROFS)}")


# --- Folders that cannot be read ------------------------------------------------------


@needs_nobody
@pytest.mark.slow
def test_a_folder_another_user_may_not_read_is_reported_and_fails(open_folder, picture):
    """Files made by root in a 0700 sub-folder of a 0755 folder, the batch run by nobody."""
    inputs = open_folder / "in"
    (inputs / "private").mkdir(parents=True)
    save(inputs / "a.png", picture)
    save(inputs / "private" / "b.png", picture[::-1])
    for path in (inputs / "a.png", inputs / "private" / "b.png"):
        path.chmod(0o644)
    inputs.chmod(0o755)
    (inputs / "private").chmod(0o700)
    (open_folder / "out").mkdir()
    shutil.chown(open_folder / "out", "nobody")
    unreadable = (f"imgconv: error: {inputs / 'private'}: cannot read this folder: {os.strerror(errno.EACCES)}; "
                  "its files were not processed")
    status, _, stderr = imgconv(*BLUR, "-R", inputs, open_folder / "out", as_nobody=True)
    assert status == 1, stderr
    assert stderr.splitlines() == [unreadable, "processed 1, skipped 0, failed 1"]
    assert files_under(open_folder / "out") == ["a.png"]
    assert_blurred(open_folder / "out" / "a.png", picture)
    # The plan says so too, and with --fail-fast no file starts.
    status, stdout, stderr = imgconv(*BLUR, "-R", "--dry-run", inputs, open_folder / "out3", as_nobody=True)
    assert (status, stdout.decode(), stderr) == (1, f"{inputs / 'a.png'} -> {open_folder / 'out3' / 'a.png'}\n",
                                                 unreadable + "\n")
    status, _, stderr = imgconv(*BLUR, "-R", "--fail-fast", inputs, open_folder / "out3", as_nobody=True)
    assert status == 1 and stderr.splitlines() == [unreadable, "processed 0, skipped 0, failed 1"], stderr
    assert not os.path.exists(open_folder / "out3")
    # Without -R the sub-folder is not the batch's to read: no error.
    status, _, stderr = imgconv(*BLUR, inputs, open_folder / "out", as_nobody=True)
    assert status == 0 and stderr == "processed 1, skipped 0, failed 0\n", stderr
    # A folder INPUT it may not read at all is an error too, not "no input images found".
    status, _, stderr = imgconv(*BLUR, inputs / "private", open_folder / "out2", as_nobody=True)
    assert status == 1, stderr
    assert stderr.splitlines() == [unreadable, "processed 0, skipped 0, failed 1"]
    assert not os.path.exists(open_folder / "out2")


@pytest.mark.slow
def test_a_folder_deeper_than_path_max_is_reported_and_fails(tmp_path, picture):
    """A tree whose paths pass PATH_MAX (4096 bytes on Linux): made, and removed, through
    folder descriptors, as the system refuses such paths by name."""
    (tmp_path / "in").mkdir()
    save(tmp_path / "in" / "a.png", picture)
    name, depth = "d" * 200, 25  # 25 x 201 bytes
    descriptor = os.open(tmp_path / "in", os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=descriptor)
            inner = os.open(name, os.O_RDONLY, dir_fd=descriptor)
            os.close(descriptor)
            descriptor = inner
        deep = os.open("b.png", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=descriptor)
        os.write(deep, (tmp_path / "in" / "a.png").read_bytes())
        os.close(deep)
    finally:
        os.close(descriptor)
    status, _, stderr = imgconv(*BLUR, "-R", "in", "out", cwd=tmp_path)
    lines = stderr.splitlines()
    assert status == 1, stderr
    assert len(lines) == 2 and lines[1] == "processed 1, skipped 0, failed 1", stderr
    assert lines[0].startswith(f"imgconv: error: in/{name}/") and lines[0].endswith(
        f": cannot read this folder: {os.strerror(errno.ENAMETOOLONG)}; its files were not processed")
    folder = lines[0][len("imgconv: error: "):].split(": ")[0]
    assert len(os.fsencode(os.path.abspath(tmp_path / folder))) > 4096 - len(name)  # the first one past PATH_MAX
    assert files_under(tmp_path / "out") == ["a.png"]
    # Only the deep image: no longer "no input images found".
    os.unlink(tmp_path / "in" / "a.png")
    status, _, stderr = imgconv(*BLUR, "-R", "in", "out2", cwd=tmp_path)
    assert status == 1 and stderr.splitlines()[-1] == "processed 0, skipped 0, failed 1", stderr
    shutil.rmtree(tmp_path / "in")  # by descriptors: pytest's own clean-up would meet the long paths
