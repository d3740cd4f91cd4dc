"""Ctrl-C at any moment of a real ``python -m imgconv`` process: while its modules are
still being imported, while it reads or filters, while it writes. Whatever the moment,
the outcome is one of two: exit status 130 with the one line ``imgconv: error:
interrupted``, no output and no temporary file; or (the signal came after the work)
status 0, nothing said, and the whole output.

The delays count from imgconv's first line (its SIGTERM handler set, which
``/proc/PID/status`` shows), not from the start of the interpreter, whose own start-up
(the site module) is before any line of imgconv. The processes run at the same time;
signals go to the process group, as a terminal's Ctrl-C does.
"""

import concurrent.futures
import io
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads /proc")

DELAYS = (0.0, 0.02, 0.05, 0.2, 0.4)  # seconds after imgconv's first line (and the pipe's 0.1)
HANG_GUARD = 60
INTERRUPTED = b"imgconv: error: interrupted\n"


def started(pid):
    """Whether the process has run imgconv's first line: it catches SIGTERM, which the
    interpreter alone leaves to the default action."""
    try:
        with open(f"/proc/{pid}/status") as status:
            caught = next(line for line in status if line.startswith("SigCgt:"))
    except (FileNotFoundError, ProcessLookupError):  # it has ended
        return True
    return bool(int(caught.split()[1], 16) & 1 << (signal.SIGTERM - 1))


def writing(pid, folder):
    """Whether the process holds a file open in ``folder``: its output, being written."""
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return True
    for name in names:
        try:
            if os.readlink(f"/proc/{pid}/fd/{name}").startswith(f"{folder}/"):
                return True
        except OSError:  # closed while listed
            pass
    return False


def interrupted(folder, args, ready, delay=0.0, stdin=None):
    """Run ``imgconv ARGS`` in ``folder``, send SIGINT to its group ``delay`` seconds
    after ``ready(pid)``; its status, standard output and standard error."""
    process = subprocess.Popen([sys.executable, "-m", "imgconv", *map(str, args)], cwd=folder, stdin=stdin,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, process_group=0)
    try:
        deadline = time.monotonic() + HANG_GUARD
        while not ready(process.pid) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(delay)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=HANG_GUARD)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    return process.returncode, stdout, stderr


def whole_picture(data):
    """Whether ``data`` is a picture Pillow decodes to its last row."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.size == (800, 600)


@pytest.fixture
def photo(tmp_path):
    """A noisy 600 x 800 RGB picture."""
    pixels = np.random.default_rng(3).integers(0, 256, (600, 800, 3), dtype=np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(pixels).save(path, compress_level=1)
    return path


def test_ctrl_c_at_any_moment_ends_with_one_line_and_nothing_written(tmp_path, photo):
    cases = {f"file-{delay}": (["blur", "-s", "3", photo, "out.png"], started, delay) for delay in DELAYS}
    # The output's file open: the signal lands as it is written.
    cases["mid-write"] = (["sharpen", photo, "out.tif"], lambda pid: writing(pid, tmp_path / "mid-write"), 0.0)
    cases["pipe"] = (["blur", "-s", "3", "-", "-"], started, 0.1)
    for name in cases:
        (tmp_path / name).mkdir()

    def run_case(name):
        args, ready, delay = cases[name]
        with open(photo, "rb") as stdin:
            return interrupted(tmp_path / name, args, ready, delay, stdin)

    with concurrent.futures.ThreadPoolExecutor(len(cases)) as pool:
        outcomes = dict(zip(cases, pool.map(run_case, cases), strict=True))
    for name, (status, stdout, stderr) in outcomes.items():
        assert (status, stderr) in ((130, INTERRUPTED), (0, b"")), (name, status, stderr.decode())
        written = sorted(os.listdir(tmp_path / name))
        if status == 130:
            assert written == [], (name, written)  # neither the output nor a temporary file
        elif name == "pipe":
            assert written == [] and whole_picture(stdout)
        else:
            assert len(written) == 1 and whole_picture((tmp_path / name / written[0]).read_bytes()), (name, written)


# A stop signal where Python does not let it out as it is: raised in a class's
# ``__set_name__`` (as a ``cached_property`` made while a module is imported) it comes out
# wrapped in a RuntimeError; raised in a ``__del__`` (as in the import machinery's
# clean-up) it is printed as "Exception ignored" and the program goes on.
STOPPED_INSIDE = """
import os, signal, sys
import imgconv.cli
from imgconv import __main__

def run():
    class Stop:
        def __set_name__(self, owner, name):
            os.kill(os.getpid(), signal.{signal})
        def __del__(self):
            os.kill(os.getpid(), signal.{signal})
    if "{where}" == "set_name":
        type("Owner", (), {{"stop": Stop()}})
    else:
        Stop()
    sys.exit(0)

imgconv.cli.main = run
__main__.main()
"""


@pytest.mark.parametrize("where", ["set_name", "del"])
@pytest.mark.parametrize(("signal_name", "status", "line"), [("SIGINT", 130, INTERRUPTED),
                                                               ("SIGTERM", 143, b"imgconv: error: terminated\n")])
def test_a_stop_python_wraps_or_swallows_still_ends_the_program_as_stopped(where, signal_name, status, line):
    script = STOPPED_INSIDE.format(signal=signal_name, where=where)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=HANG_GUARD)
    assert (result.returncode, result.stderr) == (status, line)
