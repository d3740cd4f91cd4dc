"""Attacks and faults from issue 13, each reproduced as it was found: outputs that are
not regular files, standard output closing or filling up, and (further down) huge or
non-finite inputs. Each must give a result or one line, never a traceback."""

import os
import stat
import subprocess
import sys
import threading

import numpy as np
import pytest
from PIL import Image

from helpers import SAMPLES, reference, assert_rounded_from, load, run

CHELSEA = SAMPLES / "chelsea.png"
BLUR = ("blur", "-r", "2", "-s", "1")


def imgconv(*args, **options):
    """The real command in a child process: its exit status and stderr as text."""
    return subprocess.run([sys.executable, "-m", "imgconv", *map(str, args)], stderr=subprocess.PIPE,
                          timeout=120, **options)


def one_line(stderr):
    lines = stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("imgconv: error: "), stderr
    return lines[0]


def expected_blur():
    """scipy.ndimage's blur of the photograph with the r=2, s=1 Gaussian, written out."""
    g = np.exp(-np.arange(-2, 3) ** 2 / 2.0)
    g /= g.sum()
    with Image.open(CHELSEA) as image:
        return reference(np.asarray(image), np.outer(g, g))


def test_a_named_pipe_is_written_into_not_replaced(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = run(*BLUR, CHELSEA, fifo)
    reader.join(timeout=60)
    assert result.exit_code == 0, result.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    (tmp_path / "received.png").write_bytes(received[0])
    assert_rounded_from(load(tmp_path / "received.png")[1], expected_blur())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "received.png"]  # no temporary file


def test_dev_null_stays_a_device():
    result = run(*BLUR, CHELSEA, "/dev/null")
    assert result.exit_code == 0, result.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_full_device_is_one_line():
    result = imgconv(*BLUR, CHELSEA, "/dev/full")
    assert result.returncode == 1 and "No space left on device" in one_line(result.stderr)
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_a_symbolic_link_is_followed_to_its_target(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    target = tmp_path / "elsewhere" / "target.png"
    target.write_bytes((SAMPLES / "camera.png").read_bytes())
    link = tmp_path / "link.png"
    link.symlink_to(os.path.join("elsewhere", "target.png"))
    assert run(*BLUR, CHELSEA, link).exit_code == 0
    assert link.is_symlink() and os.readlink(link) == os.path.join("elsewhere", "target.png")
    assert_rounded_from(load(target)[1], expected_blur())
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == ["target.png"]


def test_a_reader_that_leaves_ends_the_command_quietly():
    """As `imgconv blur in.png - | head -c 10`: exit status 141, nothing on stderr."""
    child = subprocess.Popen([sys.executable, "-m", "imgconv", *BLUR, CHELSEA, "-"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert child.stdout.read(10).startswith(b"\x89PNG")
        child.stdout.close()
        assert child.wait(timeout=120) == 141
        assert child.stderr.read() == b""
    finally:
        child.kill()
        child.wait()


def test_a_closed_standard_output_is_one_line():
    """As `imgconv blur in.png - >&-`."""
    result = imgconv(*BLUR, CHELSEA, "-", stdout=subprocess.DEVNULL, preexec_fn=lambda: os.close(1))
    assert result.returncode == 1 and "standard output is closed" in one_line(result.stderr)


def test_a_full_standard_output_is_one_line():
    """As `imgconv blur in.png - > /dev/full`."""
    with open("/dev/full", "wb") as full:
        result = imgconv(*BLUR, CHELSEA, "-", stdout=full)
    assert result.returncode == 1 and "No space left on device" in one_line(result.stderr)
