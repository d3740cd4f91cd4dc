"""File names made to attack the terminal that shows imgconv's messages (escape
sequences, newlines, C1 controls) or the programs that read its report (bytes that are
not UTF-8). Every name printed reads back, in a shell, as the exact name; no control
character reaches stdout or stderr; the JSON report maps back to the exact bytes."""

import base64
import json
import os
import shutil
import subprocess
import sys
import unicodedata

import numpy as np
import pytest
from helpers import assert_rounded_from, load, reference, save

from imgconv import kernels
from imgconv.names import quote_name

BLUR = ["blur", "-r", "2", "-s", "1"]
GAUSS = kernels.gaussian(1, radius=2)
TITLE = b"\x1b]0;PWNED\x07"  # sets the terminal's title
NAMES = [TITLE + b"x.png", b"a\nb.png", b"bad\xff.png", b"it's\t\x7f.png", b"csi\xc2\x9b2J.png"]
CORRUPT, FIFO = b"corrupt" + TITLE + b".png", b"fifo\x1b[31m.png"


def imgconv(*args, cwd):
    """The real command: (exit status, stdout bytes, stderr bytes)."""
    process = subprocess.run([sys.executable, "-m", "imgconv", *args], capture_output=True, cwd=cwd, timeout=120,
                             check=False)
    return process.returncode, process.stdout, process.stderr


def assert_no_control_characters(data):
    text = data.decode("utf-8")  # strictly: no byte that is not UTF-8 either
    assert not [c for c in text if unicodedata.category(c) == "Cc" and c != "\n"], text


def shell_reads(quoted):
    """The bytes a shell makes of ``quoted`` (bash, as ls's quoting style is written for)."""
    return subprocess.run(["bash", "-c", f"printf %s {quoted}"], capture_output=True, check=True).stdout


@pytest.mark.parametrize("name", [*NAMES, b"\n", b"'\x01'", b"trailing\x1b", "é\u0085.png".encode()])
def test_a_quoted_name_reads_back_in_a_shell_as_the_exact_name(name):
    quoted = quote_name(os.fsdecode(name))
    assert_no_control_characters(quoted.encode())
    assert shell_reads(quoted) == name


@pytest.mark.skipif(shutil.which("ls") is None, reason="needs GNU ls")
def test_names_are_quoted_as_gnu_ls_quotes_them(tmp_path):
    names = [n for n in NAMES if b"'" not in n] + [b"plain.png", b"sp ace.png"]  # ls quotes those two: imgconv not
    for name in names:
        (tmp_path / os.fsdecode(name)).touch()
    listed = subprocess.run(["ls", "-1", "--quoting-style=shell-escape", str(tmp_path)], capture_output=True,
                            env={"LC_ALL": "C.UTF-8"}, check=True).stdout.decode().splitlines()
    controlled = [n for n in names if n not in (b"plain.png", b"sp ace.png")]
    assert sorted(quote_name(os.fsdecode(n)) for n in controlled) == sorted(
        line for line in listed if line not in ("plain.png", "'sp ace.png'"))
    assert quote_name("sp ace.png") == "sp ace.png"


@pytest.fixture
def hostile(tmp_path, rng):
    """in/ holding an image under each hostile name, a corrupt file and a FIFO under
    two more; the pictures by name."""
    folder = os.fsencode(tmp_path / "in")
    os.mkdir(folder)
    pictures = {}
    for name in NAMES:
        pictures[name] = rng.integers(0, 256, (16, 20, 3)).astype(np.uint8)
        save(os.fsdecode(os.path.join(folder, name)), pictures[name], format="PNG")
    with open(os.path.join(folder, CORRUPT), "wb") as file:
        file.write(b"junk, not an image")
    os.mkfifo(os.path.join(folder, FIFO))
    return tmp_path, pictures


@pytest.mark.slow
def test_a_batch_prints_no_control_character_and_names_read_back(hostile):
    tmp, pictures = hostile
    status, stdout, stderr = imgconv(*BLUR, "--dry-run", "in", "out", cwd=tmp)
    assert status == 0 and not os.path.exists(tmp / "out"), stderr
    assert_no_control_characters(stdout)
    planned = [line.split(" -> ") for line in stdout.decode().splitlines()]
    inputs = sorted([*NAMES, CORRUPT])
    assert sorted(shell_reads(source) for source, _ in planned) == [b"in/" + n for n in inputs]
    assert sorted(shell_reads(dest) for _, dest in planned) == [b"out/" + n for n in inputs]

    status, stdout, stderr = imgconv(*BLUR, "--no-progress", "--report", "report.jsonl", "in", "out", cwd=tmp)
    assert status == 1 and stdout == b""
    assert_no_control_characters(stderr)
    fifo, corrupt = (quote_name(os.fsdecode(b"in/" + name)) for name in (FIFO, CORRUPT))
    assert stderr.decode().splitlines() == [
        f"imgconv: note: {fifo}: is a named pipe (FIFO), not a regular file; skipped",
        f"imgconv: error: {corrupt}: not an image, or a format imgconv cannot read",
        "processed 5, skipped 1, failed 1"]
    for name, picture in pictures.items():
        assert_rounded_from(load(os.fsdecode(os.path.join(os.fsencode(tmp / "out"), name)))[1],
                            reference(picture, GAUSS))

    # Any JSON reader can read the report, and map each name back to its bytes.
    data = (tmp / "report.jsonl").read_bytes()
    data.decode("utf-8")  # strictly
    rows = [json.loads(line) for line in data.splitlines()]
    assert all(isinstance(v, str) and v.encode("utf-8") for row in rows for v in row.values() if isinstance(v, str))

    def exact(row, key):
        return base64.b64decode(row[f"{key}_bytes"]) if f"{key}_bytes" in row else row[key].encode("utf-8")

    assert sorted(exact(row, "input") for row in rows) == sorted(
        [b"in/" + n for n in [*inputs, FIFO]])
    assert sorted(exact(row, "output") for row in rows if row["output"] is not None) == [b"out/" + n for n in inputs]
    bad = next(row for row in rows if row.get("input_bytes"))
    assert bad["input"] == "in/bad\ufffd.png" and bad["status"] == "ok"
    assert [row for row in rows if "bad" not in row["input"] and ("input_bytes" in row or "output_bytes" in row)] == []


@pytest.mark.slow
def test_one_file_messages_print_no_control_character(tmp_path, rng):
    save(tmp_path / "a.png", rng.integers(0, 256, (8, 8, 3)).astype(np.uint8))
    corrupt = os.fsdecode(os.path.join(os.fsencode(tmp_path), TITLE + b"\n.png"))
    with open(corrupt, "wb") as file:
        file.write(b"junk, not an image")
    status, _, stderr = imgconv(*BLUR, corrupt, "out.png", cwd=tmp_path)
    assert status == 1
    assert_no_control_characters(stderr)
    assert stderr.decode() == f"imgconv: error: {quote_name(corrupt)}: not an image, or a format imgconv cannot read\n"
    # A message that names a file without quote_name (here the writer's) is escaped as
    # it is printed, the last guard.
    status, _, stderr = imgconv(*BLUR, "a.png", os.fsdecode(b"missing/" + TITLE + b".png"), cwd=tmp_path)
    assert status == 1
    assert_no_control_characters(stderr)
    assert stderr.decode().count("\n") == 1 and "\\033]0;PWNED\\a" in stderr.decode(), stderr
