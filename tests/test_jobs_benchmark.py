"""The whole-jobs benchmark (benchmarks/jobs.py): its Pillow script does the blur it
claims (OpenCV, a benchmark extra, is not installed with the tests: the run itself
prints how far each peer's output is from imgconv's), its output check catches a peer
that fails quietly, its goals and tables read the runs right, its import report is
parsed right. No timing is asserted."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

_BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
_SPEC = importlib.util.spec_from_file_location("jobs_benchmark", _BENCHMARKS / "jobs.py")
jobs = importlib.util.module_from_spec(_SPEC)
sys.modules["jobs_benchmark"] = jobs  # dataclasses look their module up
sys.path.insert(0, str(_BENCHMARKS))  # jobs.py imports its neighbour, as when run as a script
try:
    _SPEC.loader.exec_module(jobs)
finally:
    sys.path.remove(str(_BENCHMARKS))


def _photo(seed, shape=(48, 64, 3)):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def _folder(path, count, shape=(48, 64, 3)):
    path.mkdir()
    names = [f"f{i}.png" for i in range(count)]
    for i, name in enumerate(names):
        Image.fromarray(_photo(i, shape)).save(path / name)
    return jobs.Job("job", path, int(np.prod(shape)), names)


def test_pillow_script_blurs_as_pillow_does(tmp_path):
    job = _folder(tmp_path / "in", 3)
    script = tmp_path / "peer.py"
    script.write_text(jobs.PILLOW_SCRIPT)
    (tmp_path / "out").mkdir()
    command, _ = jobs.script_command(script)(job, tmp_path / "out")
    subprocess.run(command, check=True)
    for name in job.files:
        expected = Image.open(job.folder / name).filter(ImageFilter.GaussianBlur(2))
        assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / name)), np.asarray(expected))


def test_folder_commands_take_each_file_two_at_a_time(tmp_path):
    job = _folder(tmp_path / "in", 3)
    command, extra = jobs.vips_command(job, tmp_path / "out")
    assert command[:6] == ["xargs", "-0", "-a", command[3], "-P", "2"]
    assert Path(command[3]).read_bytes() == b"f0.png\0f1.png\0f2.png\0"
    assert f"{job.folder}/{{}}" in command and f"{tmp_path / 'out'}/{{}}" in command
    assert extra == {"VIPS_CONCURRENCY": "1"}
    single = jobs.Job("one", job.folder, job.decoded, ["f1.png"])
    command, extra = jobs.magick_command(single, tmp_path / "out")
    assert command == ["/usr/bin/convert", f"{job.folder}/f1.png", "-blur", "0x2", f"{tmp_path / 'out'}/f1.png"]
    assert extra == {}


def test_output_check_catches_missing_empty_and_resized_files(tmp_path):
    job = _folder(tmp_path / "in", 2)
    out = tmp_path / "out"
    out.mkdir()
    reference = {}
    Image.fromarray(_photo(0)).save(out / "f0.png")
    assert "f1.png: no output" in jobs.check_outputs(job, out, jobs.Run(), reference, "vips")
    (out / "f1.png").write_bytes(b"")
    assert "f1.png: no output, or an empty one" in jobs.check_outputs(job, out, jobs.Run(), reference, "vips")
    Image.fromarray(_photo(1, (48, 32, 3))).save(out / "f1.png")
    assert jobs.check_outputs(job, out, jobs.Run(), reference, "vips") == "f1.png: (32, 48) written for (64, 48)"


def test_output_check_measures_against_imgconvs(tmp_path):
    job = _folder(tmp_path / "in", 1, (300, 300, 3))
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir()
    theirs.mkdir()
    pixels = _photo(5, (300, 300, 3)) // 2  # 0-127: room for what is added below
    Image.fromarray(pixels).save(ours / "f0.png")
    brighter = pixels.copy()
    brighter[::2] += 4  # every other row 4 levels up: 2 levels on average
    brighter[150:, 150:] += 100  # a quarter of the centre compared: 25 levels on average
    Image.fromarray(brighter).save(theirs / "f0.png")
    reference, run_ours, run_theirs = {}, jobs.Run(), jobs.Run()
    assert jobs.check_outputs(job, ours, run_ours, reference, "imgconv") is None
    assert jobs.check_outputs(job, theirs, run_theirs, reference, "Pillow") is None
    assert run_ours.differs == 0
    assert run_theirs.differs == pytest.approx(2 + 100 * 128 * 128 / 256**2)
    assert run_ours.output == pytest.approx((ours / "f0.png").stat().st_size / 2**20)


def _runs(**times):
    return {name: jobs.Run(seconds=list(values), peak=100.0, cpu=[2 * v for v in values])
            for name, values in times.items()}


def test_goals_against_the_fastest_peer_that_worked():
    folder = jobs.Job("folder", Path("."), 1, ["a", "b"], (jobs.FASTEST, 0.9))
    runs = _runs(imgconv=[4.0, 3.0], vips=[5.0, 4.0], OpenCV=[1.0])
    runs["OpenCV"].failed = "cannot write"
    table, missed = jobs.goals([folder], {"folder": runs})
    assert table[2] == "| folder | time at most 0.9x the fastest peer | 0.75x vips | yes |"
    assert missed == []
    runs["vips"].seconds = [3.2]
    runs[jobs.UNSYNCED] = jobs.Run(seconds=[2.5])  # imgconv itself, unsynced: not a peer
    table, missed = jobs.goals([folder], {"folder": runs})
    assert table[2].endswith("| 0.94x vips | NO |") and missed == [folder]


def test_imgconv_unsynced_is_the_same_command_with_no_sync(tmp_path):
    job = _folder(tmp_path / "in", 2)
    synced, _ = jobs.imgconv_command(job, tmp_path / "out")
    unsynced, extra = jobs.imgconv_unsynced(job, tmp_path / "out")
    assert unsynced == [*synced[:-2], "--no-sync", str(job.folder), str(tmp_path / "out")] and extra == {}


def test_goals_against_vips_and_memory():
    one = jobs.Job("4K", Path("."), 24 * 2**20, ["a.jpg"], ("vips", 1.3), memory_goal=174)
    runs = _runs(imgconv=[0.5], vips=[0.4], Pillow=[0.1])
    runs["imgconv"].peak = 180.0
    table, missed = jobs.goals([one], {"4K": runs})
    assert table[2:] == ["| 4K | time at most 1.3x vips | 1.25x vips | yes |",
                         "| 4K | peak at most 174 MiB | 180 MiB | NO |"]
    assert missed == [one]


def test_job_table_ratios_and_failures():
    job = jobs.Job("4K", Path("."), 24 * 2**20, ["a.jpg"])
    runs = _runs(imgconv=[1.0, 0.8, 0.9], ImageMagick=[4.0], vips=[0.5, 0.4, 0.6])
    runs["Pillow"] = jobs.Run(failed="cache | exhausted")
    table = jobs.job_table(job, runs)
    assert table[0] == "**4K** (24 MiB decoded)"
    assert table[4] == "| imgconv | 0.80 | 0.90 | 1.00 | 1.60 | 100 | 0.0 | - |"
    assert table[5] == "| ImageMagick | 4.00 | 4.00 (1 run) | 0.20 | 8.00 | 100 | 0.0 | - |"
    assert table[6] == "| vips | 0.40 | 0.50 | 2.00 | 0.80 | 100 | 0.0 | - |"
    assert table[7] == "| Pillow | failed: cache / exhausted | | | | | | |"


def test_top_level_imports_of_a_report():
    report = """import time: self [us] | cumulative | imported package
import time:       120 |        120 |   _io
import time:       300 |        900 | encodings
import time:        40 |         40 |     numpy._utils
import time:       500 |        540 |   numpy.core
import time:      1000 |       2000 | numpy
not a line of the report
"""
    assert jobs.top_level_imports(report) == {"encodings": 900, "numpy": 2000}


def test_top_level_imports_of_a_real_report():
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import json"], capture_output=True, text=True,
                          check=True)
    imports = jobs.top_level_imports(done.stderr)
    assert "json" in imports and "json.decoder" not in imports
    nested = [line for line in done.stderr.splitlines() if line.endswith("|   json.decoder")]
    assert nested and imports["json"] >= int(nested[0].split("|")[1])


def test_timed_measures_a_command_and_its_children(tmp_path):
    # Two children, one after the other: the peak is the larger one's (about 80 MiB of
    # touched pages), not their sum, and the CPU time is both of theirs.
    child = "import numpy; a = numpy.ones({} * 2**20, numpy.uint8); sum(range(3 * 10**6))"
    script = f"import subprocess, sys; [subprocess.run([sys.executable, '-c', {child!r}.format(n)]) for n in (20, 80)]"
    measure, error = jobs.timed([sys.executable, "-c", script], {}, tmp_path)
    assert error is None and 80 < measure.peak < 160
    assert measure.cpu > 0.1  # the two sums of three million numbers
    measure, error = jobs.timed([sys.executable, "-c", "import sys; sys.exit('imgconv: error: no')"], {}, tmp_path)
    assert error == "imgconv: error: no" and measure.peak is None


def test_pictures_are_the_size_asked_and_all_different():
    base = Image.fromarray(_photo(9, (30, 50, 3)))
    grain = np.zeros((7, 11, 3), np.int16)
    first, second = (jobs.picture(base, (80, 40), i, grain) for i in (0, 1))
    assert first.shape == (40, 80, 3) and first.dtype == np.uint8
    assert not np.array_equal(first, second)
    assert np.array_equal(np.roll(first, 37, axis=1), second)  # shifted, grain aside
