"""How outputs are written (imgconv.io.sink), tried as an attacker and as a fault would
try them: another user in a shared output folder, names as long as the file system
takes, syncs around the rename (seen by strace), append-only folders, outputs owned by
others, bind-mounted outputs and Zarr stores replaced whole. Each runs the real
command: a child process, or the CLI in this process where the test must step in at a
given system call."""

import contextlib
import errno
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
import tifffile
from helpers import SAMPLES, assert_one_line_error, assert_rounded_from, expected_blur, load, one_line, run
from PIL import Image

from imgconv.io import staging

CHELSEA = SAMPLES / "chelsea.png"
BLUR = ("blur", "-r", "2", "-s", "1")
NOBODY = ("setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups")


def needs(condition, reason):
    """Skip a test this machine cannot run, saying why; under CI, where the machine is
    set up for all of them, fail instead."""
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def imgconv(*args):
    """The real command in a child process."""
    return subprocess.run([sys.executable, "-m", "imgconv", *map(str, args)], capture_output=True, timeout=300,
                          check=False)


def assert_blurred(path):
    assert stat.S_ISREG(os.lstat(path).st_mode), f"{path} is not a regular file"
    assert_rounded_from(load(path)[1], expected_blur())


# --- Another user in a shared output folder -------------------------------------------

@pytest.fixture
def shared():
    """A folder every user may write to, without the sticky bit (mode 777), as shared
    output folders can be; in /tmp, where nobody can reach it (pytest's own temporary
    folders are root's alone)."""
    needs(os.geteuid() == 0, "acting as a second user (nobody) needs root")
    folder = tempfile.mkdtemp(prefix="imgconv-shared-", dir="/tmp")
    os.chmod(folder, 0o777)
    try:
        yield Path(folder)
    finally:
        shutil.rmtree(folder)


# The second user, as a program of its own run as nobody. Told to strike, it renames
# every new name in the folder (files and folders of root's: the folder's mode lets
# it) and puts a symbolic link in its place: to the victim for a file, to a folder of
# its own for a folder, where every name the writer might use leads to the victim.
ATTACKER = r"""
import os, sys
folder, victim, *spared = sys.argv[1:]
lure = os.path.join(folder, ".lure")
os.mkdir(lure)
for name in ("new", "old"):
    os.symlink(victim, os.path.join(lure, name))
seen = set(os.listdir(folder))
for line in sys.stdin:
    for name in sorted(set(os.listdir(folder)) - seen - set(spared)):
        path = os.path.join(folder, name)
        try:
            os.rename(path, path + ".moved")
        except OSError:
            continue
        os.symlink(lure if os.path.isdir(path + ".moved") else victim, path)
        seen.update([name, name + ".moved"])
    print("done", flush=True)
"""


class Attacker:
    def __init__(self, folder, victim, spared):
        self.process = subprocess.Popen([*NOBODY, sys.executable, "-c", ATTACKER, folder, victim, *spared],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.lock = threading.Lock()
        self.strike()  # once it is ready

    def strike(self):
        with self.lock:
            self.process.stdin.write("go\n")
            self.process.stdin.flush()
            assert self.process.stdout.readline() == "done\n", "the attacker failed"

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=30)


# Where the attacker strikes: before every call of these, in this process.
EVERY_STEP = ("open", "close", "write", "fsync", "fchmod", "chmod", "fchown", "chown", "rename", "replace", "link",
              "mkdir", "unlink", "rmdir")
BEFORE_THE_RENAME = ("chmod", "fchmod", "fsync", "rename", "replace", "link")


@contextlib.contextmanager
def attacked(monkeypatch, folder, victim, spared, steps):
    attacker = Attacker(folder, victim, spared)

    def striking_before(call):
        def hooked(*args, **options):
            attacker.strike()
            return call(*args, **options)
        return hooked

    try:
        for name in steps:
            monkeypatch.setattr(os, name, striking_before(getattr(os, name)))
        yield
    finally:
        monkeypatch.undo()
        attacker.close()


@pytest.fixture
def victim(tmp_path):
    """A file of root's that no other user may touch."""
    path = tmp_path / "victim.txt"
    path.write_bytes(b"root's secret")
    path.chmod(0o600)
    return path


def assert_untouched(victim):
    status = os.stat(victim)
    assert victim.read_bytes() == b"root's secret" and stat.S_IMODE(status.st_mode) == 0o600 and status.st_uid == 0


@pytest.fixture(params=["unnamed", "in-private-folder"])
def temporaries(request, monkeypatch):
    """Both ways a temporary file is made: unnamed (O_TMPFILE), and, as on a file system
    without unnamed files, in a private folder."""
    if request.param == "in-private-folder":
        monkeypatch.delattr(os, "O_TMPFILE")
    return request.param


@pytest.mark.parametrize("steps", [BEFORE_THE_RENAME, EVERY_STEP], ids=["before-the-rename", "every-step"])
@pytest.mark.parametrize("existing", [False, True], ids=["new", "replaced"])
@pytest.mark.slow
def test_another_user_cannot_turn_the_write_onto_another_file(shared, victim, monkeypatch, temporaries, steps,
                                                             existing):
    """Whatever the other user swaps, and when, imgconv writes, chmods and renames its
    own file only: the victim is untouched, and the output is the result, or the old
    file with one line saying why it is not (renaming imgconv's private folder away
    before it is open makes the write fail: a denial, never a redirection)."""
    out = shared / "out.png"
    if existing:
        out.write_bytes(b"old output")
    with attacked(monkeypatch, str(shared), str(victim), ["out.png"], steps):
        result = run(*BLUR, CHELSEA, out)
    assert_untouched(victim)
    if result.exit_code == 0 or steps == BEFORE_THE_RENAME:
        assert result.exit_code == 0, result.stderr
        assert_blurred(out)
    else:
        assert_one_line_error(result, 1, "out.png: cannot write: another user or process replaced imgconv's "
                                         "temporary folder")
        assert out.read_bytes() == b"old output" if existing else not out.exists()


@pytest.mark.parametrize("steps", [BEFORE_THE_RENAME, EVERY_STEP], ids=["before-the-rename", "every-step"])
def test_another_user_cannot_turn_a_batch_onto_another_file(shared, victim, tmp_path, monkeypatch, steps):
    (tmp_path / "in").mkdir()
    for name in ("a.png", "b.png"):
        shutil.copy(CHELSEA, tmp_path / "in" / name)
    (shared / "b.png").write_bytes(b"old output")
    with attacked(monkeypatch, str(shared), str(victim), ["a.png", "b.png"], steps):
        result = run(*BLUR, "-j", "1", tmp_path / "in", shared)
    assert_untouched(victim)
    if steps == BEFORE_THE_RENAME:
        assert result.exit_code == 0 and "processed 2, skipped 0, failed 0" in result.stderr, result.stderr
    for name in ("a.png", "b.png"):
        if f"{name}: cannot write: another user or process replaced" not in result.stderr:
            assert_blurred(shared / name)


def test_temporaries_in_a_private_folder_leave_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.delattr(os, "O_TMPFILE")
    (tmp_path / "in").mkdir()
    shutil.copy(CHELSEA, tmp_path / "in" / "a.png")
    for _ in range(2):  # made, then replaced
        assert run(*BLUR, CHELSEA, tmp_path / "out.png").exit_code == 0
        assert run(*BLUR, "-j", "1", tmp_path / "in", tmp_path / "out").exit_code == 0
    assert sorted(os.listdir(tmp_path)) == ["in", "out", "out.png"] and os.listdir(tmp_path / "out") == ["a.png"]
    assert_blurred(tmp_path / "out.png")
    assert_blurred(tmp_path / "out" / "a.png")


@pytest.mark.slow
def test_a_shared_folder_holds_nothing_of_imgconvs_but_its_outputs(shared):
    """Without an attacker: the temporary file has no name (or lives in a private
    folder) and nothing is left beside the outputs."""
    done = imgconv(*BLUR, CHELSEA, shared / "out.png")
    assert done.returncode == 0 and imgconv(*BLUR, CHELSEA, shared / "out.png").returncode == 0
    assert os.listdir(shared) == ["out.png"]
    assert_blurred(shared / "out.png")


# --- Names as long as the file system takes --------------------------------------------

def long_name(size, extension):
    """A name of ``size`` bytes in UTF-8, with two-byte letters in it."""
    stem = "é" * 20
    return stem + "a" * (size - len(extension.encode()) - len(stem.encode())) + extension


@pytest.mark.parametrize("size", [242, 255])
@pytest.mark.slow
def test_names_up_to_name_max_are_written(tmp_path, size):
    name = long_name(size, ".png")
    assert len(name.encode()) == size and os.pathconf(tmp_path, "PC_NAME_MAX") == 255
    done = run(*BLUR, CHELSEA, tmp_path / name)
    assert done.exit_code == 0, done.stderr
    assert run(*BLUR, CHELSEA, tmp_path / name).exit_code == 0  # and replaced
    assert_blurred(tmp_path / name)
    assert os.listdir(tmp_path) == [name]


@pytest.mark.slow
def test_a_batch_writes_names_up_to_name_max(tmp_path):
    (tmp_path / "in").mkdir()
    name = long_name(255, ".png")
    shutil.copy(CHELSEA, tmp_path / "in" / name)
    done = run(*BLUR, tmp_path / "in", tmp_path / "out")
    assert done.exit_code == 0, done.stderr
    assert os.listdir(tmp_path / "out") == [name]
    assert_blurred(tmp_path / "out" / name)


@pytest.mark.parametrize("extension", [".tif", ".zarr"])
@pytest.mark.slow
def test_tiled_outputs_take_names_up_to_name_max(tmp_path, extension):
    zarr = pytest.importorskip("zarr")
    with Image.open(CHELSEA) as image:
        tifffile.imwrite(tmp_path / "in.tif", np.asarray(image), tile=(64, 64), photometric="rgb")
    name = long_name(255, extension)
    for _ in range(2):  # made, then replaced
        done = run(*BLUR, tmp_path / "in.tif", tmp_path / name)
        assert done.exit_code == 0, done.stderr
    assert sorted(os.listdir(tmp_path)) == sorted(["in.tif", name])
    path = tmp_path / name
    written = tifffile.imread(path) if extension == ".tif" else zarr.open_array(str(path), mode="r")[:]
    assert_rounded_from(written, expected_blur())


# --- Synced before the rename, and the folder after ------------------------------------

TRACED = "fsync,fdatasync,rename,renameat,renameat2,link,linkat"
# strace -y: a descriptor's path follows it, fsync(4</out/#123>(deleted)); a link or a
# rename names its target last: linkat(..., 3</out>, "out.png", ...).
CALL = re.compile(r"^(\w+)\((.*)\) += 0$")
DESCRIPTOR = re.compile(r"\d+<([^>]*)>")


def traced(tmp_path, *args):
    """The real command under strace: (pid, call, [descriptors' paths], [quoted names],
    arguments) of each call that succeeded, process by process (-ff: a log each, so that no call
    is split by another process's)."""
    needs(shutil.which("strace"), "strace is not installed (.ci/run installs it)")
    logs = tmp_path / "strace"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
    done = subprocess.run(["strace", "-ff", "-y", "-qq", "-e", f"trace={TRACED}", "-o", logs / "log", sys.executable,
                           "-m", "imgconv", *map(str, args)], capture_output=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    calls = []
    for log in sorted(logs.iterdir()):
        pid = log.suffix[1:]
        for line in log.read_text().splitlines():
            match = CALL.match(line)
            if match:
                name, arguments = match.groups()
                calls.append((pid, name, DESCRIPTOR.findall(arguments), re.findall(r'"([^"]*)"', arguments),
                              arguments))
    return calls


def placings(calls, folder, names):
    """The indices of the links and renames that give an output its name in ``folder``."""
    folder = os.path.realpath(folder)
    return [i for i, (_, name, paths, quoted, _) in enumerate(calls)
            if name.startswith(("link", "rename")) and paths and paths[-1] == folder and quoted[-1] in names]


def assert_synced_around(calls, folder, names):
    """Each output: the file synced before it takes its name, the folder synced after,
    before the next output takes its name (in the same process)."""
    folder = os.path.realpath(folder)
    placed = placings(calls, folder, names)
    assert sorted(calls[i][3][-1] for i in placed) == sorted(names), calls
    for i in placed:
        pid = calls[i][0]
        mine = [(j, paths[0]) for j, (p, name, paths, *_) in enumerate(calls)
                if p == pid and name in ("fsync", "fdatasync")]
        before = [path for j, path in mine if j < i]
        after = [(j, path) for j, path in mine if j > i]
        assert before and before[-1] != folder, f"{calls[i]}: its file was not synced before"
        assert after and after[0][1] == folder, f"{calls[i]}: its folder was not synced after"
        assert not [j for j in placed if calls[j][0] == pid and i < j < after[0][0]], "another output came first"


@pytest.mark.slow
def test_a_file_is_synced_then_named_then_its_folder_synced(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    calls = traced(tmp_path, *BLUR, CHELSEA, out / "a.png")
    assert_synced_around(calls, out, ["a.png"])
    calls = traced(tmp_path, *BLUR, CHELSEA, out / "a.png")  # replaced
    assert_synced_around(calls, out, ["a.png"])
    assert_blurred(out / "a.png")


@pytest.mark.slow
def test_a_batch_and_its_report_are_synced(tmp_path):
    (tmp_path / "in").mkdir()
    names = [f"{i}.png" for i in range(4)]
    for name in names:
        shutil.copy(CHELSEA, tmp_path / "in" / name)
    out = tmp_path / "out"
    calls = traced(tmp_path, *BLUR, "-j", "2", "--report", out / "report.jsonl", tmp_path / "in", out)
    assert len({calls[i][0] for i in placings(calls, out, names)}) == 2  # by two workers
    assert_synced_around(calls, out, [*names, "report.jsonl"])
    for name in names:
        assert_blurred(out / name)


@pytest.fixture
def tiled_input(tmp_path):
    pytest.importorskip("zarr")
    with Image.open(CHELSEA) as image:
        tifffile.imwrite(tmp_path / "in.tif", np.asarray(image), tile=(64, 64), photometric="rgb")
    return tmp_path / "in.tif"


@pytest.mark.slow
def test_a_tiled_tiff_is_synced(tmp_path, tiled_input):
    out = tmp_path / "out"
    out.mkdir()
    assert_synced_around(traced(tmp_path, *BLUR, tiled_input, out / "big.tif"), out, ["big.tif"])
    assert_rounded_from(tifffile.imread(out / "big.tif"), expected_blur())


@pytest.mark.parametrize("existing", [False, True], ids=["new", "replaced"])
@pytest.mark.slow
def test_every_file_and_folder_of_a_zarr_store_is_synced_before_it_takes_its_name(tmp_path, tiled_input, existing):
    zarr = pytest.importorskip("zarr")
    out = tmp_path / "out"
    out.mkdir()
    if existing:
        assert run("identity", tiled_input, out / "big.zarr").exit_code == 0
    calls = traced(tmp_path, *BLUR, "--tile-size", "32", tiled_input, out / "big.zarr")
    [placed] = placings(calls, out, ["big.zarr"])
    made = os.path.join(calls[placed][2][0], calls[placed][3][0])  # the store as it was named before
    calls = [call for call in calls if call[0] == calls[placed][0]]  # the thread that named it
    placed = calls.index(next(call for call in calls if call[1].startswith("rename")))
    synced = {path for _, name, paths, *_ in calls[:placed] if name == "fsync" for path in paths}
    store = out / "big.zarr"
    inside = [os.path.relpath(os.path.join(folder, entry), store) for folder, folders, files in os.walk(store)
              for entry in folders + files]
    assert len(inside) > 10 and made in synced
    assert {os.path.join(made, entry) for entry in inside} <= synced
    assert [path for _, name, paths, *_ in calls[placed:] if name == "fsync" for path in paths][:1] == [
        os.path.realpath(out)]
    assert_rounded_from(zarr.open_array(str(store), mode="r")[:], expected_blur())


@pytest.mark.slow
def test_no_sync_syncs_nothing(tmp_path, tiled_input):
    (tmp_path / "in").mkdir()
    shutil.copy(CHELSEA, tmp_path / "in" / "a.png")
    for args in [(CHELSEA, tmp_path / "a.png"), (CHELSEA, tmp_path / "a.png"),
                 ("-j", "2", "--report", tmp_path / "r.jsonl", tmp_path / "in", tmp_path / "out"),
                 (tiled_input, tmp_path / "big.tif"), (tiled_input, tmp_path / "big.zarr")]:
        calls = traced(tmp_path, *BLUR, "--no-sync", *args)
        assert [call for call in calls if call[1].startswith(("link", "rename"))], calls  # outputs were placed
        assert not [call for call in calls if call[1] in ("fsync", "fdatasync")], calls
    assert_blurred(tmp_path / "a.png")


# --- Odd folders and files --------------------------------------------------------------

@contextlib.contextmanager
def append_only(folder):
    done = subprocess.run(["chattr", "+a", folder], capture_output=True, check=False)
    needs(done.returncode == 0, f"chattr +a is not possible here: {done.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-a", folder], check=True)


@pytest.mark.slow
def test_an_append_only_folder_takes_new_outputs_and_refuses_replacing_in_one_line(tmp_path):
    folder = tmp_path / "log"
    folder.mkdir()
    (folder / "e.png").write_bytes(b"old output")
    with append_only(folder):
        done = imgconv(*BLUR, CHELSEA, folder / "e.png")
        assert done.returncode == 1 and "e.png: its folder is append-only (chattr +a)" in one_line(done.stderr)
        assert imgconv(*BLUR, CHELSEA, folder / "n.png").returncode == 0
        assert sorted(os.listdir(folder)) == ["e.png", "n.png"]
    assert (folder / "e.png").read_bytes() == b"old output"
    assert_blurred(folder / "n.png")


def test_an_encoder_failing_part_way_into_the_file_leaves_the_old_output(tmp_path, monkeypatch):
    """The encoder writes into the unnamed file as it goes: its failure (the disk full,
    after the PNG's header is written) is one line, and the old output stays alone."""
    from imgconv.io import png

    (tmp_path / "e.png").write_bytes(b"old output")

    def full(*args, **options):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(png, "deflated_rows", full)
    result = run(*BLUR, CHELSEA, tmp_path / "e.png")
    assert_one_line_error(result, 1, "e.png: cannot write: No space left on device")
    assert os.listdir(tmp_path) == ["e.png"] and (tmp_path / "e.png").read_bytes() == b"old output"


def test_a_failed_rename_is_the_error_reported_and_nothing_is_left(tmp_path, monkeypatch):
    """The rename fails (as in a folder that refuses it): the one line says why, and
    nothing is left; when the clean-up fails too, its error does not hide the rename's."""
    (tmp_path / "e.png").write_bytes(b"old output")

    def fails(error):
        def call(*args, **options):
            raise OSError(error, os.strerror(error))
        return call

    for name in ("rename", "replace"):
        monkeypatch.setattr(os, name, fails(errno.EIO))
    result = run(*BLUR, CHELSEA, tmp_path / "e.png")
    assert_one_line_error(result, 1, "e.png: cannot write: Input/output error")
    assert os.listdir(tmp_path) == ["e.png"] and (tmp_path / "e.png").read_bytes() == b"old output"
    with monkeypatch.context() as cleaning:
        for name in ("unlink", "rmdir"):
            cleaning.setattr(os, name, fails(errno.EPERM))
        result = run(*BLUR, CHELSEA, tmp_path / "e.png")
    assert_one_line_error(result, 1, "e.png: cannot write: Input/output error")


@pytest.mark.slow
def test_an_output_of_another_user_keeps_its_owner_group_and_mode(tmp_path):
    needs(os.geteuid() == 0, "giving a file to another user needs root")
    out = tmp_path / "out.png"
    out.write_bytes(b"old output")
    os.chown(out, 65534, 65534)  # nobody, nogroup
    out.chmod(0o640)
    done = imgconv(*BLUR, CHELSEA, out)
    assert done.returncode == 0, done.stderr
    status = os.stat(out)
    assert (status.st_uid, status.st_gid, stat.S_IMODE(status.st_mode)) == (65534, 65534, 0o640)
    assert_blurred(out)


@pytest.mark.slow
def test_a_zarr_store_of_another_user_stays_theirs(tmp_path, tiled_input):
    needs(os.geteuid() == 0, "giving a folder to another user needs root")
    zarr = pytest.importorskip("zarr")
    store = tmp_path / "big.zarr"
    assert run("identity", tiled_input, store).exit_code == 0
    for folder, _, files in os.walk(store):
        for entry in [folder, *(os.path.join(folder, f) for f in files)]:
            os.chown(entry, 65534, 65534)
    store.chmod(0o750)
    done = run(*BLUR, tiled_input, store)
    assert done.exit_code == 0, done.stderr
    owners = {(os.lstat(os.path.join(folder, entry)).st_uid, os.lstat(os.path.join(folder, entry)).st_gid)
              for folder, folders, files in os.walk(store) for entry in [".", *folders, *files]}
    assert owners == {(65534, 65534)} and stat.S_IMODE(os.stat(store).st_mode) == 0o750
    assert_rounded_from(zarr.open_array(str(store), mode="r")[:], expected_blur())


@pytest.mark.slow
def test_a_bind_mounted_output_is_written_into_as_cp_does(tmp_path):
    needs(os.geteuid() == 0, "mount --bind needs root")
    source = tmp_path / "elsewhere.png"
    source.write_bytes(b"old output")
    out = tmp_path / "out.png"
    out.write_bytes(b"")
    mounted = subprocess.run(["mount", "--bind", source, out], capture_output=True, check=False)
    needs(mounted.returncode == 0, f"mount --bind is not permitted here: {mounted.stderr.decode().strip()}")
    try:
        done = imgconv(*BLUR, CHELSEA, out)
        assert done.returncode == 0, done.stderr
        assert_blurred(out)
    finally:
        subprocess.run(["umount", out], check=True)
    assert sorted(os.listdir(tmp_path)) == ["elsewhere.png", "out.png"] and out.read_bytes() == b""
    assert_blurred(source)


@pytest.mark.slow
def test_a_zarr_store_is_replaced_in_one_step(tmp_path, tiled_input):
    """The new store and the old one swap names in one call (renameat2 with
    RENAME_EXCHANGE): there is no moment without OUTPUT."""
    zarr = pytest.importorskip("zarr")
    store = tmp_path / "big.zarr"
    assert run("identity", tiled_input, store).exit_code == 0
    calls = traced(tmp_path, *BLUR, tiled_input, store)
    moves = [call for call in calls if call[1].startswith(("rename", "link")) and "big.zarr" in call[3]]
    assert len(moves) == 1 and moves[0][1] == "renameat2" and "RENAME_EXCHANGE" in moves[0][4], moves
    assert_rounded_from(zarr.open_array(str(store), mode="r")[:], expected_blur())
    assert sorted(os.listdir(tmp_path)) == ["big.zarr", "in.tif", "strace"]


@pytest.mark.slow
def test_without_renameat2_a_zarr_store_is_replaced_by_two_renames(tmp_path, tiled_input, monkeypatch):
    zarr = pytest.importorskip("zarr")
    store = tmp_path / "big.zarr"
    assert run("identity", tiled_input, store).exit_code == 0
    monkeypatch.setattr(staging, "renameat2", lambda: None)
    result = run(*BLUR, tiled_input, store)
    assert result.exit_code == 0, result.stderr
    assert_rounded_from(zarr.open_array(str(store), mode="r")[:], expected_blur())
    assert sorted(os.listdir(tmp_path)) == ["big.zarr", "in.tif"]
