"""Batch runs on real files in temporary folders: discovery, options, failures, signals."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import assert_one_line_error, assert_rounded_from, load, reference, run, save
from PIL import Image

from imgconv import kernels

BLUR = ["blur", "-r", "2", "-s", "1"]
GAUSS = kernels.gaussian(1, radius=2)


def files_under(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs)


@pytest.fixture
def tree(tmp_path, rng):
    """in/a.png, in/B.PNG, in/notes.txt, in/.hidden.png, in/sub/c.jpg, in/sub/deeper/d.png, in/.git/e.png"""
    images = {}
    root = tmp_path / "in"
    for relative in ["a.png", "B.PNG", ".hidden.png", "sub/c.jpg", "sub/deeper/d.png", ".git/e.png"]:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (24, 32, 3)).astype(np.uint8)
        save(path, pixels, format="PNG" if relative.lower().endswith(".png") else "JPEG")
        images[relative] = load(path)[1]
    (root / "notes.txt").write_text("not an image")
    return tmp_path, images


def assert_blurred(out, original):
    assert_rounded_from(load(out)[1], reference(original, GAUSS))


def test_folder_is_scanned_non_recursively_by_default(tree):
    tmp, images = tree
    result = run(*BLUR, tmp / "in", tmp / "out")
    assert result.exit_code == 0, result.stderr
    assert files_under(tmp / "out") == ["B.PNG", "a.png"]  # extension case-insensitive, hidden skipped
    assert_blurred(tmp / "out" / "a.png", images["a.png"])
    assert result.stderr.strip() == "processed 2, skipped 0, failed 0"


def test_recursive_mirrors_the_tree(tree):
    tmp, images = tree
    assert run(*BLUR, "-R", tmp / "in", tmp / "out").exit_code == 0
    assert files_under(tmp / "out") == ["B.PNG", "a.png", "sub/c.jpg", "sub/deeper/d.png"]
    assert_blurred(tmp / "out" / "sub" / "deeper" / "d.png", images["sub/deeper/d.png"])


def test_include_and_exclude(tree):
    tmp, _ = tree
    result = run(*BLUR, "-R", "--include", "*.png", "--include", "*.PNG", "--exclude", "d.*", tmp / "in", tmp / "out")
    assert result.exit_code == 0
    assert files_under(tmp / "out") == ["B.PNG", "a.png"]
    assert run(*BLUR, "-R", "--exclude", "sub/*", tmp / "in", tmp / "out2").exit_code == 0
    assert files_under(tmp / "out2") == ["B.PNG", "a.png"]


def test_several_files_into_a_folder_that_is_created(tree):
    tmp, images = tree
    result = run(*BLUR, tmp / "in" / "a.png", tmp / "in" / "sub" / "c.jpg", tmp / "new" / "folder")
    assert result.exit_code == 0
    assert files_under(tmp / "new" / "folder") == ["a.png", "c.jpg"]
    assert_blurred(tmp / "new" / "folder" / "a.png", images["a.png"])


def test_single_file_into_existing_folder(tree):
    tmp, _ = tree
    (tmp / "out").mkdir()
    assert run(*BLUR, tmp / "in" / "a.png", tmp / "out").exit_code == 0
    assert files_under(tmp / "out") == ["a.png"]


def test_files_from_stdin_with_nul_separators(tree):
    tmp, images = tree
    # Names with spaces and newlines are why -print0 exists.
    odd = tmp / "in" / "odd name\nwith newline.png"
    save(odd, images["a.png"])
    listing = b"\0".join(os.fsencode(p) for p in [tmp / "in" / "a.png", odd]) + b"\0"
    result = run(*BLUR, "--files-from", "-", "-0", tmp / "out", input=listing)
    assert result.exit_code == 0, result.stderr
    assert files_under(tmp / "out") == ["a.png", "odd name\nwith newline.png"]
    assert_blurred(tmp / "out" / "odd name\nwith newline.png", images["a.png"])


def test_files_from_a_file_with_lines(tree):
    tmp, _ = tree
    (tmp / "list.txt").write_text(f"{tmp / 'in' / 'a.png'}\n\n{tmp / 'in' / 'sub' / 'c.jpg'}\n")
    assert run(*BLUR, "--files-from", tmp / "list.txt", tmp / "out").exit_code == 0
    assert files_under(tmp / "out") == ["a.png", "c.jpg"]


def test_find_print0_pipeline_in_a_real_shell(tree):
    tmp, _ = tree
    command = f"find in -name '*.png' -print0 | {sys.executable} -m imgconv blur -s 2 --files-from - -0 out/"
    process = subprocess.run(command, shell=True, cwd=tmp, capture_output=True, text=True)
    assert process.returncode == 0, process.stderr
    assert files_under(tmp / "out") == [".hidden.png", "a.png", "d.png", "e.png"]  # find's choice, not ours


def test_format_and_suffix(tree):
    tmp, images = tree
    assert run(*BLUR, "--format", "tiff", "--suffix", "-blur", tmp / "in", tmp / "out").exit_code == 0
    assert files_under(tmp / "out") == ["B-blur.tiff", "a-blur.tiff"]
    with Image.open(tmp / "out" / "a-blur.tiff") as image:
        assert image.format == "TIFF"
        assert_rounded_from(np.asarray(image), reference(images["a.png"], GAUSS))


@pytest.mark.parametrize("fmt", [None, "png"])
def test_a_suffix_run_again_into_its_own_folder_does_not_filter_its_outputs(tree, fmt):
    """`--suffix _sharp camera/ camera/` twice: the second run makes each output again
    from its original, not IMG_1000_sharp_sharp.JPG from the first run's output."""
    tmp, images = tree
    folder = tmp / "in" / "sub"
    save(folder / "lonely_s.png", images["a.png"])  # no lonely.png: an input like any other
    options = ["-R", "--suffix", "_s"] + (["--format", fmt] if fmt else [])
    assert run(*BLUR, *options, folder, folder).exit_code == 0
    first = files_under(folder)
    expected = ["c.jpg", "c_s.png" if fmt else "c_s.jpg", "deeper/d.png", "deeper/d_s.png", "lonely_s.png",
                "lonely_s_s.png"]
    assert first == expected
    result = run(*BLUR, *options, "--dry-run", folder, folder)
    assert [line.split(" -> ")[0] for line in result.stdout.splitlines()] == \
        [str(folder / name) for name in ("c.jpg", "lonely_s.png", "deeper/d.png")]
    result = run(*BLUR, *options, folder, folder)
    assert result.exit_code == 0 and result.stderr.strip() == "processed 3, skipped 0, failed 0"
    assert files_under(folder) == first
    assert_blurred(folder / "deeper" / "d_s.png", images["sub/deeper/d.png"])
    assert_blurred(folder / "lonely_s_s.png", images["a.png"])


def test_output_inside_a_recursive_input_is_not_scanned(tree):
    tmp, _ = tree
    assert run(*BLUR, "-R", tmp / "in", tmp / "in" / "out").exit_code == 0
    before = files_under(tmp / "in" / "out")
    assert before == ["B.PNG", "a.png", "sub/c.jpg", "sub/deeper/d.png"]
    assert run(*BLUR, "-R", tmp / "in", tmp / "in" / "out").exit_code == 0  # again: no out/out
    assert files_under(tmp / "in" / "out") == before


def test_output_equal_to_input_folder_needs_in_place(tree):
    tmp, images = tree
    result = run(*BLUR, tmp / "in", tmp / "in")
    assert result.exit_code == 2 and "--in-place" in result.stderr
    assert np.array_equal(load(tmp / "in" / "a.png")[1], images["a.png"])


def test_duplicate_outputs_are_refused_before_any_work(tree):
    tmp, images = tree
    (tmp / "other").mkdir()
    save(tmp / "other" / "a.png", images["a.png"])
    result = run(*BLUR, tmp / "in", tmp / "other", tmp / "out")
    assert result.exit_code == 2
    assert "would both write" in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (tmp / "out").exists()


def test_a_corrupt_file_among_good_ones(tree):
    tmp, images = tree
    (tmp / "in" / "broken.png").write_bytes((tmp / "in" / "a.png").read_bytes()[:60])
    result = run(*BLUR, "-j", 2, tmp / "in", tmp / "out")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert any(line.startswith("imgconv: error: ") and "broken.png" in line for line in lines)
    assert lines[-1] == "processed 2, skipped 0, failed 1"
    assert files_under(tmp / "out") == ["B.PNG", "a.png"]  # no partial file
    assert_blurred(tmp / "out" / "a.png", images["a.png"])


def test_fail_fast_stops_at_the_first_failure(tree):
    tmp, _ = tree
    (tmp / "in" / "0-broken.png").write_bytes(b"junk")
    result = run(*BLUR, "--fail-fast", "-j", 1, tmp / "in", tmp / "out")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "processed 0, skipped 0, failed 1"
    assert files_under(tmp / "out") == []


def test_skip_existing_is_make_like(tree):
    tmp, images = tree
    assert run(*BLUR, tmp / "in", tmp / "out").exit_code == 0
    stale, fresh = tmp / "out" / "a.png", tmp / "out" / "B.PNG"
    stale.write_bytes(b"stale")  # newer than its input, so left alone
    old = time.time() - 3600
    os.utime(fresh, (old, old))  # older than its input, so made again
    fresh.write_bytes(b"old")
    os.utime(fresh, (old, old))
    result = run(*BLUR, "--skip-existing", tmp / "in", tmp / "out")
    assert result.exit_code == 0 and result.stderr.strip() == "processed 1, skipped 1, failed 0"
    assert stale.read_bytes() == b"stale"
    assert_blurred(fresh, images["B.PNG"])


def test_dry_run_prints_pairs_and_writes_nothing(tree):
    tmp, _ = tree
    result = run(*BLUR, "-R", "--dry-run", tmp / "in", tmp / "out")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [f"{tmp / 'in' / r} -> {tmp / 'out' / r}"
                                          for r in ["B.PNG", "a.png", "sub/c.jpg", "sub/deeper/d.png"]]
    assert not (tmp / "out").exists()


def test_report_has_one_object_per_input(tree):
    tmp, _ = tree
    (tmp / "in" / "broken.png").write_bytes(b"junk")
    assert run(*BLUR, "--report", tmp / "report.jsonl", tmp / "in", tmp / "out").exit_code == 1
    rows = [json.loads(line) for line in (tmp / "report.jsonl").read_text().splitlines()]
    assert [(os.path.basename(r["input"]), r["status"]) for r in rows] == [
        ("B.PNG", "ok"), ("a.png", "ok"), ("broken.png", "failed")]
    for row in rows:
        assert set(row) == {"input", "output", "status", "error", "seconds"}
        assert row["seconds"] >= 0 and row["output"].startswith(str(tmp / "out"))
        assert (row["error"] is None) == (row["status"] == "ok")
    assert "broken.png" in rows[2]["error"]
    result = run(*BLUR, "--skip-existing", "--quiet", "--report", "-", tmp / "in", tmp / "out")
    statuses = [json.loads(line)["status"] for line in result.stdout.splitlines()]
    assert statuses == ["skipped", "skipped", "failed"]


def test_quiet_and_progress(tree):
    tmp, _ = tree
    result = run(*BLUR, "--quiet", tmp / "in", tmp / "out")
    assert result.exit_code == 0 and result.stderr == "" and result.stdout == ""
    result = run(*BLUR, "--progress", tmp / "in", tmp / "out2")
    assert "[2/2]" in result.stderr and "files/s" in result.stderr and "ETA" in result.stderr
    assert result.stdout == ""


def test_results_do_not_depend_on_the_job_count(tree):
    tmp, _ = tree
    assert run(*BLUR, "-R", "-j", 1, tmp / "in", tmp / "one").exit_code == 0
    assert run(*BLUR, "-R", "-j", 2, tmp / "in", tmp / "two").exit_code == 0
    for relative in files_under(tmp / "one"):
        assert (tmp / "one" / relative).read_bytes() == (tmp / "two" / relative).read_bytes()


def test_stdin_cannot_be_a_batch_input(tree):
    tmp, _ = tree
    result = run(*BLUR, "-", tmp / "in" / "a.png", tmp / "out")
    assert result.exit_code == 2 and "--files-from -" in result.stderr


# --- One INPUT and one OUTPUT: what the batch options do there -----------------------


@pytest.mark.parametrize("command", [BLUR, ["identity"], ["convolve", "-k", "0 1 0; 1 -4 1; 0 1 0"], ["sobel"]])
@pytest.mark.parametrize("target", ["self", "new", "-"])
def test_dry_run_on_one_file_prints_its_pair_and_writes_nothing(tree, command, target):
    tmp, _ = tree
    source = tmp / "in" / "a.png"
    before = source.read_bytes()
    dest = {"self": source, "new": tmp / "out.png", "-": "-"}[target]
    result = run(*command, "--dry-run", "--in-place", "--report", tmp / "report.jsonl", source, dest)
    assert result.exit_code == 0, result.stderr
    assert [result.stdout, result.stderr][dest == "-"] == result.stdout + result.stderr == f"{source} -> {dest}\n"
    assert source.read_bytes() == before
    assert sorted(os.listdir(tmp)) == ["in"]


def test_dry_run_on_one_file_refuses_what_the_run_would(tree):
    tmp, _ = tree
    source = tmp / "in" / "a.png"
    result = run(*BLUR, "--dry-run", source, source)
    assert result.exit_code == 2 and "--in-place" in result.stderr and result.stdout == ""


def test_dry_run_of_a_streamed_tiled_image_writes_nothing(tmp_path):
    pytest.importorskip("dask")
    import tifffile

    tifffile.imwrite(tmp_path / "in.tif", np.arange(64 * 96, dtype=np.uint16).reshape(64, 96), tile=(32, 32))
    for dest in ("out.tif", "out.zarr"):
        result = run(*BLUR, "--dry-run", tmp_path / "in.tif", tmp_path / dest)
        assert result.exit_code == 0 and result.stdout == f"{tmp_path / 'in.tif'} -> {tmp_path / dest}\n"
    assert sorted(os.listdir(tmp_path)) == ["in.tif"]


@pytest.mark.parametrize("command", [["conv-layer", "-k", "1 0; 0 1", "{a}", "{out}"],
                                     ["learn", "{a}", "{a}", "{out}", "--kernel-size", "3"],
                                     ["animate", "{out}"]])
def test_commands_without_a_dry_run_refuse_it(tree, command):
    tmp, _ = tree
    names = {"a": tmp / "in" / "a.png", "out": tmp / "out.gif"}
    result = run(*[part.format(**names) for part in command], "--dry-run")
    assert result.exit_code == 2 and "--dry-run" in result.stderr
    assert sorted(os.listdir(tmp)) == ["in"]


def test_skip_existing_on_one_file(tree):
    tmp, images = tree
    source, dest = tmp / "in" / "a.png", tmp / "out.png"
    dest.write_bytes(b"newer")
    result = run(*BLUR, "--skip-existing", source, dest)
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr == f"imgconv: note: {dest}: newer than {source}; skipped (--skip-existing)\n"
    assert dest.read_bytes() == b"newer"
    assert run(*BLUR, "--skip-existing", "--quiet", source, dest).stderr == ""
    old = time.time() - 3600
    os.utime(dest, (old, old))
    result = run(*BLUR, "--skip-existing", source, dest)
    assert result.exit_code == 0 and result.stderr == ""
    assert_blurred(dest, images["a.png"])


def test_skip_existing_never_skips_a_device_or_standard_output(tree, monkeypatch):
    tmp, _ = tree
    source = tmp / "in" / "a.png"
    os.utime(source, (0, 0))  # older than /dev/null, and than a file named -
    monkeypatch.chdir(tmp)
    (tmp / "-").write_bytes(b"")
    result = run(*BLUR, "--skip-existing", source, "-")
    assert result.exit_code == 0 and result.stdout_bytes.startswith(b"\x89PNG") and result.stderr == ""
    result = run(*BLUR, "--skip-existing", "--report", tmp / "report.jsonl", source, "/dev/null")
    assert result.exit_code == 0 and json.loads((tmp / "report.jsonl").read_text())["status"] == "ok"
    assert sorted(os.listdir(tmp)) == ["-", "in", "report.jsonl"] and (tmp / "-").read_bytes() == b""


def test_report_of_one_file(tree):
    tmp, _ = tree
    source, dest, report = tmp / "in" / "a.png", tmp / "out.png", tmp / "report.jsonl"

    def rows():
        return [json.loads(line) for line in report.read_text().splitlines()]

    assert run(*BLUR, "--report", report, source, dest).exit_code == 0
    [row] = rows()
    assert (row["input"], row["output"], row["status"], row["error"]) == (str(source), str(dest), "ok", None)
    assert row["seconds"] > 0
    assert run(*BLUR, "--report", report, "--skip-existing", "-q", source, dest).exit_code == 0
    assert [r["status"] for r in rows()] == ["skipped"]
    (tmp / "broken.png").write_bytes(b"junk")
    result = run(*BLUR, "--report", report, tmp / "broken.png", dest)
    assert result.exit_code == 1 and "broken.png" in result.stderr
    [row] = rows()
    assert row["status"] == "failed" and "broken.png" in row["error"]
    result = run(*BLUR, "--report", "-", source, dest)
    assert result.exit_code == 0 and json.loads(result.stdout)["status"] == "ok"


@pytest.mark.parametrize("report, fragment", [("-", "standard output"), ("{dest}", "OUTPUT"), ("{source}", "INPUT")])
def test_a_report_that_would_overwrite_the_image_is_refused(tree, report, fragment):
    tmp, _ = tree
    source = tmp / "in" / "a.png"
    before = source.read_bytes()
    dest = "-" if report == "-" else tmp / "out.png"
    result = run(*BLUR, "--in-place", "--report", report.format(source=source, dest=dest), source, dest)
    assert_one_line_error(result, 2, "--report", fragment)
    assert source.read_bytes() == before and sorted(os.listdir(tmp)) == ["in"]


@pytest.mark.parametrize("option", [["--include", "*.png"], ["--exclude", "*.jpg"], ["--suffix", "_x"]])
def test_batch_choices_of_names_are_refused_for_one_file(tree, option):
    tmp, _ = tree
    result = run(*BLUR, *option, tmp / "in" / "a.png", tmp / "out.png")
    assert_one_line_error(result, 2, option[0], "end OUTPUT with /")
    assert sorted(os.listdir(tmp)) == ["in"]


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.slow
def test_an_interrupted_run_leaves_only_complete_outputs_and_counts_them(tmp_path, camera, signum, status, jobs):
    source = tmp_path / "in"
    source.mkdir()
    for i in range(60):  # written quickly (zlib level 1): 0.7 s of CPU instead of 2.0
        save(source / f"img{i:02d}.png", np.roll(camera, i * 7, axis=1), compress_level=1)
    report = tmp_path / "report.jsonl"
    command = [sys.executable, "-m", "imgconv", "blur", "-s", "6", "-j", jobs, "--report", str(report), str(source),
               str(tmp_path / "out")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "out").exists() or not any(not n.startswith(".") for n in os.listdir(tmp_path / "out")):
            assert process.poll() is None and time.monotonic() < deadline, "no output appeared"
            time.sleep(0.02)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == status, stderr
    assert b"Traceback" not in stderr
    names = sorted(os.listdir(tmp_path / "out"))
    assert 0 < len(names) < 60, "the run was not interrupted mid-way"
    assert all(n.endswith(".png") and not n.startswith(".") for n in names)  # no temporary files
    # Files that finished after the signal count too: the summary and the report say what is on disk.
    summary = [line for line in stderr.decode().splitlines() if line.startswith("processed ")]
    assert summary == [f"processed {len(names)}, skipped 0, failed 0"]
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    assert sorted(os.path.basename(r["output"]) for r in rows if r["status"] == "ok") == names
    assert all(r["status"] == "ok" for r in rows)
    for name in names:
        single = tmp_path / f"single-{name}"
        assert run("blur", "-s", "6", source / name, single).exit_code == 0
        assert np.array_equal(load(tmp_path / "out" / name)[1], load(single)[1])
