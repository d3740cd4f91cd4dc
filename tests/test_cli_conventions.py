"""The command line's conventions: names no one confuses, one spelling of each option,
OUTPUT positional, -q and -v wherever stderr is written, and bare commands that show
their usage."""

import re

import numpy as np
import pytest
import scipy.ndimage as ndi
from helpers import SAMPLES, assert_one_line_error, load, run, save
from PIL import Image

from imgconv.cli import cli

CAMERA = SAMPLES / "camera.png"
CHELSEA = SAMPLES / "chelsea.png"

# The commands that write to stderr besides their errors (notes, fits, frame counts).
TALKERS = ("blur", "box", "sobel", "prewitt", "scharr", "sharpen", "unsharp", "laplacian", "emboss", "motion",
           "identity", "convolve", "conv-layer", "learn", "animate")


def options_of(name):
    """Each option of command ``name``: its long names and its short ones."""
    for param in cli.commands[name].params:
        if param.param_type_name == "option":
            names = [*param.opts, *param.secondary_opts]
            yield [n for n in names if n.startswith("--")], [n for n in names if not n.startswith("--")]


def test_the_same_option_has_the_same_short_flag_everywhere_and_no_flag_two_meanings():
    shorts_of, long_of = {}, {}
    for name in cli.commands:
        for longs, shorts in options_of(name):
            for long in longs:
                shorts_of.setdefault(long, set()).add(tuple(shorts))
            for short in shorts:
                long_of.setdefault(short, set()).add(tuple(longs))
    assert {long: s for long, s in shorts_of.items() if len(s) > 1} == {}
    assert {short: s for short, s in long_of.items() if len(s) > 1} == {}


def test_a_kernels_size_is_spelt_one_way_and_outputs_are_positional():
    spelt = {name: {long for longs, _ in options_of(name) for long in longs} for name in cli.commands}
    for name, longs in spelt.items():
        assert not longs & {"--size", "--filter", "--input", "--output"}, name
        assert "-o" not in {short for _, shorts in options_of(name) for short in shorts}, name
    assert {name for name, longs in spelt.items() if "--kernel-size" in longs} == {"box", "tent", "learn", "animate",
                                                                                   "params"}
    for name in ("blur", "convolve", "conv-layer", "learn", "animate"):
        arguments = [p for p in cli.commands[name].params if p.param_type_name == "argument"]
        assert (arguments[-1].metavar or "").endswith("OUTPUT"), name


@pytest.mark.parametrize("name", TALKERS)
def test_every_command_that_talks_takes_quiet_verbose_and_progress(name):
    options = {tuple(longs): shorts for longs, shorts in options_of(name)}
    assert options[("--quiet",)] == ["-q"] and options[("--verbose",)] == ["-v"]
    assert options[("--progress", "--no-progress")] == []


def test_the_group_help_keeps_the_layer_apart_from_the_filters():
    help_text = run("--help").stdout
    filters, lecture = help_text.index("Filters:"), help_text.index("The lecture")
    assert filters < help_text.index("  convolve ") < lecture < help_text.index("  conv-layer ")
    assert not re.search(r"^  conv ", help_text, re.MULTILINE)


@pytest.mark.parametrize("args, new", [
    (["conv", "-k", "1 0 -1", "{in}", "{out}"], "conv-layer"),
    (["params", "--filter", "3x3"], "--kernel-size"),
    (["params", "--input", "28x28"], "--input-size"),
    (["box", "--size", "3", "{in}", "{out}"], "--kernel-size"),
    (["learn", "{in}", "{in}", "--size", "3", "-o", "{out}"], "--kernel-size"),
    (["learn", "{in}", "{in}", "--kernel-size", "3", "-o", "{out}"], "OUTPUT, the third argument"),
])
def test_an_old_name_is_met_with_the_new_one(tmp_path, args, new):
    names = {"in": str(CAMERA), "out": str(tmp_path / "out.png")}
    assert_one_line_error(run(*[a.format(**names) for a in args]), 2, "it is now", new)
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("args, error", [
    (["blur"], "blur needs --radius or --sigma (or both)"),
    (["sobel"], "sobel needs INPUT and OUTPUT"),
    (["convolve"], "--kernel"),
    (["conv-layer"], "Missing argument 'INPUT'"),
    (["learn"], "Missing argument 'INPUT'"),
    (["animate"], "Missing argument 'OUTPUT'"),
    (["completion"], "Missing argument 'SHELL'"),
])
def test_a_bare_command_shows_its_usage_and_the_error(args, error):
    result = run(*args)
    lines = result.stderr.splitlines()
    assert result.exit_code == 2 and result.stdout == "" and len(lines) == 3, result.stderr
    assert lines[0].startswith(f"Usage: imgconv {args[0]} [OPTIONS]")
    assert lines[1] == f"Try 'imgconv {args[0]} --help' for help."
    assert lines[2].startswith("imgconv: error: ") and error in lines[2]


def test_with_any_argument_an_error_is_one_line():
    assert_one_line_error(run("blur", "-s", 1), 2, "blur needs INPUT and OUTPUT")
    assert_one_line_error(run("learn", CAMERA), 2, "Missing argument 'TARGET'")
    assert_one_line_error(run("box", "--kernel-size", 3, "-r", 1, CAMERA, "out.png"), 2, "one, not both")


def test_learn_writes_its_positional_output(tmp_path):
    truth = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]]) / 8
    np.save(tmp_path / "target.npy", ndi.convolve(load(CAMERA)[1].astype(np.float64), truth, mode="reflect"))
    result = run("learn", "--kernel-size", 3, CAMERA, tmp_path / "target.npy", tmp_path / "kernel.txt")
    assert result.exit_code == 0 and "wrote" in result.stderr
    assert np.abs(np.loadtxt(tmp_path / "kernel.txt") - truth).max() < 1e-6


def test_quiet_and_verbose_on_learn(tmp_path):
    save(tmp_path / "target.png", ndi.uniform_filter(load(CAMERA)[1], 3, mode="reflect"))
    quiet = run("learn", "-q", "--kernel-size", 3, CAMERA, tmp_path / "target.png", tmp_path / "q.txt")
    assert quiet.exit_code == 0 and quiet.stderr == "" and (tmp_path / "q.txt").exists()
    verbose = run("learn", "-v", "--kernel-size", 3, CAMERA, tmp_path / "target.png", tmp_path / "v.txt")
    lines = verbose.stderr.splitlines()
    assert verbose.exit_code == 0 and lines[0].startswith("fit: ") and lines[1] == f"{tmp_path / 'v.txt'}:"
    assert "\n".join(lines[2:]) + "\n" == (tmp_path / "v.txt").read_text()
    assert (tmp_path / "q.txt").read_text() == (tmp_path / "v.txt").read_text()
    assert_one_line_error(run("learn", "-q", "-v", "--kernel-size", 3, CAMERA, CAMERA, tmp_path / "x.txt"), 2,
                          "not both")
    assert not (tmp_path / "x.txt").exists()


def test_quiet_and_verbose_on_animate(tmp_path):
    quiet = run("animate", "-q", "--input-size", 5, "--kernel-size", 3, "--stride", 2, tmp_path / "q.gif")
    assert quiet.exit_code == 0 and quiet.stderr == ""
    verbose = run("animate", "-v", "--input-size", 5, "--kernel-size", 3, "--stride", 2, "--padding", 1,
                  tmp_path / "v.gif")
    lines = verbose.stderr.splitlines()
    assert lines[0] == "9 frames: output 3x3"
    with Image.open(tmp_path / "v.gif") as image:
        assert image.n_frames == 9
        width, height = image.size
    assert lines[1] == (f"input 5x5 padded to 7x7, kernel 3x3, stride 2x2, dilation 1x1; frames {width} pixels "
                        f"wide and {height} high at 2 fps; wrote {tmp_path / 'v.gif'}")
    with Image.open(tmp_path / "q.gif") as image:
        assert image.n_frames == 4


def test_verbose_conv_layer_says_what_it_wrote(tmp_path):
    result = run("conv-layer", "-v", "-k", "1 0 -1", "-k", "0 1 0", "--stride", "2", CHELSEA, tmp_path / "maps.npy")
    maps = np.load(tmp_path / "maps.npy")
    assert maps.shape == (2, 150, 225)  # 300 and 451-2 positions, every other one
    assert result.stderr == f"2 feature maps of 150x225; wrote {tmp_path / 'maps.npy'}\n"
    assert run("conv-layer", "-q", "-k", "1 0 -1", CHELSEA, tmp_path / "q.npy").stderr == ""


def test_verbose_filters_say_each_file_and_its_time(tmp_path):
    one = run("blur", "-v", "-s", 1, CAMERA, tmp_path / "one.png")
    assert re.fullmatch(rf"{re.escape(str(CAMERA))} -> {re.escape(str(tmp_path / 'one.png'))}: \d+\.\d\d s\n",
                        one.stderr), one.stderr
    (tmp_path / "in").mkdir()
    for name in ("a.png", "b.png"):
        save(tmp_path / "in" / name, load(CAMERA)[1])
    batch = run("blur", "-v", "-s", 1, "-j", 1, tmp_path / "in", tmp_path / "out")
    lines = sorted(batch.stderr.splitlines())
    assert [line.split(":")[0] for line in lines[:2]] == [f"{tmp_path / 'in' / n} -> {tmp_path / 'out' / n}"
                                                          for n in ("a.png", "b.png")]
    assert lines[2] == "processed 2, skipped 0, failed 0"
    again = run("blur", "-v", "-s", 1, "--skip-existing", tmp_path / "in", tmp_path / "out")
    assert f"{tmp_path / 'in' / 'a.png'} -> {tmp_path / 'out' / 'a.png'}: skipped (up to date)" in again.stderr
    assert run("blur", "-q", "-s", 1, tmp_path / "in", tmp_path / "quiet").stderr == ""
    assert_one_line_error(run("blur", "-q", "-v", "-s", 1, CAMERA, tmp_path / "x.png"), 2, "not both")
