"""Readers of standard output that leave before the text commands print: the command
ends quietly with status 141, as when an image is written there
(`tests/test_hostile.py`), not Click's silent 1."""

import os
import subprocess
import sys

import pytest


@pytest.mark.slow
@pytest.mark.parametrize("args", [["kernels"], ["blur", "--help"]])
def test_a_reader_gone_before_text_is_printed_ends_the_command_quietly(args):
    """As `imgconv kernels | head -0`: the pipe's reading end is closed before the
    command starts, so its first write fails, whatever the pipe's buffer holds."""
    reading, writing = os.pipe()
    os.close(reading)
    try:
        child = subprocess.run([sys.executable, "-m", "imgconv", *args], stdout=writing, stderr=subprocess.PIPE,
                               timeout=120, check=False)
    finally:
        os.close(writing)
    assert (child.returncode, child.stderr) == (141, b"")
