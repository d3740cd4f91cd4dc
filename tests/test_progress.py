"""One file's progress: the engine's band watcher, the progress line, and the command
line showing it on a terminal only (a pseudo-terminal here), never in a pipe or with -q.
No test depends on how long anything takes: a delay of 0 stands for a long file."""

import io
import os
import pty
import subprocess
import sys
import threading

import numpy as np
import pytest
import tifffile
from helpers import SAMPLES, load, reference, run, save
from PIL import Image

from imgconv import engine, kernels
from imgconv.cli import progress
from imgconv.engine import bands
from imgconv.io import probe
from imgconv.stream import run as stream_run

CAMERA = load(SAMPLES / "camera.png")[1]  # 512 x 512 grey
CHELSEA_PATH = SAMPLES / "chelsea.png"
CHELSEA = load(CHELSEA_PATH)[1]  # 300 x 451 RGB


def watched(function):
    """``function()``'s result, and every ``(done, total)`` the band watcher was told."""
    calls, lock = [], threading.Lock()

    def watcher(done, total):
        with lock:
            calls.append((done, total))

    with bands.watching(watcher):
        result = function()
    return result, calls


@pytest.mark.parametrize("method", ["direct", "separable", "fft", "shifted-views", "whole-channel-fft"])
@pytest.mark.parametrize("threads", [1, 3])
def test_the_watcher_hears_of_every_row_once_and_changes_nothing(method, threads):
    kernel = kernels.gaussian(1.5, radius=3)
    call = lambda: engine.convolve(CHELSEA, kernel, method=method, threads=threads, output=np.uint8)  # noqa: E731
    result, calls = watched(call)
    assert np.array_equal(result, call())
    totals = {total for _, total in calls}
    assert len(totals) == 1 and totals.pop() in (300, 3 * 300)  # rows, once per channel group
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == calls[0][1] and len(set(done)) == len(done)


def test_a_magnitude_of_whole_responses_is_heard_pass_by_pass():
    """Two FFT responses cannot share bands: each is a whole pass of its own."""
    pair = [kernels.sobel("x"), kernels.sobel("y")]
    _, calls = watched(lambda: engine.magnitude(CAMERA, pair, mode="wrap", method="whole-channel-fft", threads=2))
    assert [d for d, _ in calls].count(512) == 2 and all(total == 512 for _, total in calls)


def test_the_watcher_stays_in_its_context():
    """A thread started elsewhere (a demo server's, Dask's) is not watched."""

    def elsewhere():
        thread = threading.Thread(target=engine.convolve, args=(CAMERA, kernels.gaussian(1, radius=2)))
        thread.start()
        thread.join()

    assert watched(elsewhere)[1] == []


def lines(unit, events, **options):
    """The progress line after each event, ``("parts" | "rows", done, total)``."""
    line = progress.FileProgress(unit, delay=3600, stream=io.StringIO(), **options)
    try:
        shown = []
        for kind, done, total in events:
            getattr(line, kind)(done, total)
            shown.append(line.line())
        return shown
    finally:
        line.close()


def test_a_frame_is_read_filtered_by_rows_and_written():
    with progress.FileProgress("frame", delay=3600, stream=io.StringIO()) as line:
        assert line.line() == "[  0%] reading"  # before the frames are known
    shown = lines("frame", [("parts", 0, 1), ("rows", 128, 512), ("rows", 512, 512), ("parts", 1, 1)])
    assert shown[0] == "[  0%] filtering"
    assert shown[1] == "[ 25%] filtering"
    assert shown[2].startswith("[100%] filtering  ETA 0:0")
    assert shown[3] == "[100%] writing"


def test_frames_count_as_parts_and_rows_within_them():
    shown = lines("frame", [("parts", 0, 4), ("rows", 150, 300), ("parts", 1, 4), ("rows", 300, 300),
                            ("rows", 30, 300)])
    assert shown[0] == "[  0%] filtering frame 1/4"
    assert shown[1] == "[ 12%] filtering frame 1/4"
    assert shown[2].startswith("[ 25%] filtering frame 2/4  ETA ")
    assert shown[3].startswith("[ 50%] filtering frame 2/4  ETA ")
    assert shown[4].startswith("[ 50%] filtering frame 2/4")  # a second pass over the frame does not go back


def test_tiles_count_as_parts():
    shown = lines("tile", [("parts", 8, 32), ("parts", 24, 32), ("parts", 32, 32)], counted=True)
    assert shown[0] == "[ 25%] filtering tiles 8/32"
    assert shown[1].startswith("[ 75%] filtering tiles 24/32  ETA ")
    assert shown[2] == "[100%] writing"
    assert lines("row", [("parts", 0, 300), ("parts", 30, 300)], verb="fitting", counted=True)[1] == \
        "[ 10%] fitting rows 30/300"


def test_the_line_ends_with_the_work_done_or_where_it_stopped():
    stream = io.StringIO()
    line = progress.FileProgress("frame", delay=0, stream=stream)
    line.parts(0, 3)
    line.parts(3, 3)
    line.close()
    text = stream.getvalue()
    assert text.endswith("\n") and text.split("\r")[-1].startswith("[100%] 3 frames done in ")
    stopped = io.StringIO()
    line = progress.FileProgress("tile", counted=True, delay=0, stream=stopped)
    line.parts(3, 32)
    line.close(finished=False)
    assert stopped.getvalue().endswith("\n") and "done" not in stopped.getvalue()
    quick = io.StringIO()
    progress.FileProgress("frame", delay=3600, stream=quick).close()  # over before the delay: no line
    assert quick.getvalue() == ""


class Gone(io.StringIO):
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")


def test_a_stream_gone_ends_the_line_quietly():
    line = progress.FileProgress("frame", delay=0, stream=Gone())
    line.parts(0, 1)
    line.close()  # no exception, here or in the drawing thread
    assert line.broken and not line.thread.is_alive()


@pytest.fixture
def spied(monkeypatch):
    """Every call of the progress line's `parts` and `rows`, by kind."""
    calls = {"parts": [], "rows": []}
    for kind in calls:
        original = getattr(progress.FileProgress, kind)

        def spy(self, done, total, kind=kind, original=original):
            calls[kind].append((done, total))
            original(self, done, total)

        monkeypatch.setattr(progress.FileProgress, kind, spy)
    return calls


def test_one_file_reports_its_frames_and_the_engines_rows(tmp_path, spied):
    frames = [np.roll(CHELSEA, 40 * i, axis=1) for i in range(3)]
    Image.fromarray(frames[0]).save(tmp_path / "in.png", save_all=True,
                                    append_images=[Image.fromarray(f) for f in frames[1:]])
    result = run("blur", "-r", 3, "-s", 1.5, "--progress", tmp_path / "in.png", tmp_path / "out.png")
    assert result.exit_code == 0, result.stderr
    assert spied["parts"] == [(0, 3), (1, 3), (2, 3), (3, 3)]
    ends = [i for i, (done, total) in enumerate(spied["rows"]) if done == total]
    assert len(ends) == 3 and ends[-1] == len(spied["rows"]) - 1  # every frame filtered to its last row
    assert result.stderr.split("\r")[-1].startswith("[100%] 3 frames done in ")
    quiet = run("blur", "-r", 3, "-s", 1.5, tmp_path / "in.png", tmp_path / "quiet.png")
    assert quiet.stderr == ""  # not a terminal
    assert (tmp_path / "out.png").read_bytes() == (tmp_path / "quiet.png").read_bytes()
    with Image.open(tmp_path / "out.png") as image:
        image.seek(2)
        g = np.exp(-np.arange(-3, 4) ** 2 / (2 * 1.5**2))
        expected = reference(frames[2], np.outer(g, g) / g.sum() ** 2)
        assert np.abs(np.asarray(image.convert("RGB"), np.float64) - expected).max() <= 0.5 + 1e-3


def test_a_streamed_file_reports_its_tiles_not_rows(tmp_path, spied):
    tifffile.imwrite(tmp_path / "in.tif", CAMERA, tile=(64, 128))
    result = run("blur", "-s", 2, "--progress", tmp_path / "in.tif", tmp_path / "out.tif")
    assert result.exit_code == 0, result.stderr
    assert spied["rows"] == [] and spied["parts"][-1] == (32, 32)
    assert result.stderr.split("\r")[-1].startswith("[100%] 32 tiles done in ")


def test_a_layer_reports_its_kernels_and_the_engines_rows(tmp_path, spied):
    np.save(tmp_path / "w.npy", np.arange(2 * 3 * 3 * 3, dtype=np.float64).reshape(2, 3, 3, 3) - 20)
    result = run("conv-layer", "--progress", "--weights", tmp_path / "w.npy", CHELSEA_PATH, tmp_path / "maps.npy")
    assert result.exit_code == 0, result.stderr
    assert spied["parts"] == [(k, 6) for k in range(7)]  # 2 filters of 3 channels
    assert [done for done, total in spied["rows"] if done == total] == [300] * 6
    assert np.load(tmp_path / "maps.npy").shape == (2, 298, 449)
    assert result.stderr.split("\r")[-1].startswith("[100%] 6 kernels done in ")


def test_learning_reports_its_rows(tmp_path, spied):
    result = run("learn", "--progress", "--kernel-size", 3, CHELSEA_PATH, CHELSEA_PATH, tmp_path / "k.txt")
    assert result.exit_code == 0, result.stderr
    done = [d for d, _ in spied["parts"]]
    assert done[0] == 0 and done[-1] == 300 and done == sorted(done) and {t for _, t in spied["parts"]} == {300}
    assert spied["rows"] == []
    assert "[100%] 300 rows done in " in result.stderr and result.stderr.endswith("wrote " + f"{tmp_path / 'k.txt'}\n")
    assert np.abs(np.loadtxt(tmp_path / "k.txt") - [[0, 0, 0], [0, 1, 0], [0, 0, 0]]).max() < 1e-6


def test_an_animation_reports_its_frames(tmp_path, spied):
    result = run("animate", "--progress", "--input-size", 4, "--kernel-size", 2, tmp_path / "a.gif")
    assert result.exit_code == 0, result.stderr
    assert spied["parts"] == [(k, 9) for k in range(10)]
    with Image.open(tmp_path / "a.gif") as image:
        assert image.n_frames == 9
    assert "[100%] 9 frames done in " in result.stderr


@pytest.mark.parametrize("source, dest", [("in.tif", "out.tif"), ("flat.tif", "out.tif"), ("in.tif", "out.png")])
def test_one_file_reads_its_header_once(tmp_path, monkeypatch, source, dest):
    """Whether a file is streamed is decided on one reading of its header, passed on."""
    tifffile.imwrite(tmp_path / "in.tif", CAMERA, tile=(64, 64))
    tifffile.imwrite(tmp_path / "flat.tif", CAMERA)
    probes = []
    original = probe.probe
    for module in (probe, stream_run):  # streamed_probe's, and the streaming's own
        monkeypatch.setattr(module, "probe", lambda *args: probes.append(args) or original(*args))
    result = run("blur", "-s", 2, tmp_path / source, tmp_path / dest)
    assert result.exit_code == 0, result.stderr
    assert len(probes) == (0 if dest.endswith(".png") else 1)
    written = tifffile.imread(tmp_path / dest) if dest.endswith(".tif") else load(tmp_path / dest)[1]
    expected = reference(CAMERA, kernels.gaussian(sigma=2))
    assert np.abs(written - expected).max() <= 0.5 + 1e-3


def on_a_terminal(tmp_path, *args, delay=0):
    """``imgconv ARGS`` with stderr on a pseudo-terminal (stdout and stdin elsewhere)
    and the delay before progress shows set to ``delay``: its exit status and what the
    terminal received."""
    code = (f"import imgconv.cli.progress as p; p.DELAY = {delay}\n"
            "from imgconv.cli import main; main()")
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-c", code, *map(str, args)], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=follower, cwd=tmp_path)
    os.close(follower)
    received = b""
    try:
        while chunk := _read(leader):
            received += chunk
    finally:
        os.close(leader)
        process.wait(timeout=120)
    return process.returncode, received.decode()


def _read(fd):
    try:
        return os.read(fd, 4096)
    except OSError:  # the terminal closed: Linux says EIO
        return b""


def test_a_terminal_shows_the_progress_of_one_file(tmp_path):
    save(tmp_path / "in.png", CHELSEA)
    status, shown = on_a_terminal(tmp_path, "blur", "-s", 2, "in.png", "out.png")
    assert status == 0, shown
    assert shown.startswith("\r[") and shown.endswith("\r\n")  # the terminal's own \r before \n
    assert shown.split("\r")[-2].startswith("[100%] 1 frame done in "), shown
    expected = reference(CHELSEA, kernels.gaussian(sigma=2))
    assert np.abs(load(tmp_path / "out.png")[1] - expected).max() <= 0.5 + 1e-3


@pytest.mark.parametrize("option", ["-q", "--no-progress"])
def test_quiet_or_no_progress_shows_none_even_on_a_terminal(tmp_path, option):
    save(tmp_path / "in.png", CHELSEA)
    assert on_a_terminal(tmp_path, "blur", "-s", 2, option, "in.png", "out.png") == (0, "")
    assert (tmp_path / "out.png").exists()


def test_a_pipe_gets_no_progress(tmp_path):
    save(tmp_path / "in.png", CHELSEA)
    code = "import imgconv.cli.progress as p; p.DELAY = 0\nfrom imgconv.cli import main; main()"
    done = subprocess.run([sys.executable, "-c", code, "blur", "-s", "2", "in.png", "out.png"], cwd=tmp_path,
                          capture_output=True)
    assert done.returncode == 0 and done.stderr == b"" and (tmp_path / "out.png").exists()


def test_an_error_ends_the_line_before_its_message(tmp_path):
    (tmp_path / "in.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    status, shown = on_a_terminal(tmp_path, "blur", "-s", 2, "in.png", "out.png")
    assert status == 1
    last = shown.split("\r\n")[-2]
    assert last.startswith("imgconv: error: ") and "done" not in shown, shown
    assert not (tmp_path / "out.png").exists()
