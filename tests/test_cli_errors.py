"""Bad input: one line on stderr, the right exit status, no traceback, no output file."""

import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import SAMPLES, assert_one_line_error, run, save

from imgconv.cli import cli

CAMERA = SAMPLES / "camera.png"


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "out").mkdir()
    return tmp_path


def outputs(workdir):
    return os.listdir(workdir / "out")


def test_missing_input(workdir):
    result = run("blur", "-s", 1, workdir / "nope.png", workdir / "out" / "x.png")
    assert_one_line_error(result, 1, "nope.png", "no such file")
    assert outputs(workdir) == []


def test_corrupt_and_truncated_images(workdir):
    data = CAMERA.read_bytes()
    (workdir / "truncated.png").write_bytes(data[: len(data) // 2])
    (workdir / "corrupt.png").write_bytes(data[:100] + bytes(range(256)) * 20)
    (workdir / "text.png").write_text("this is not an image\n")
    for name, message in (("truncated.png", "corrupt PNG: truncated"), ("corrupt.png", "corrupt or truncated"),
                          ("text.png", "not an image")):
        result = run("blur", "-s", 1, workdir / name, workdir / "out" / "x.png")
        assert_one_line_error(result, 1, name, message)
    assert outputs(workdir) == []


def test_corrupt_npy(workdir):
    (workdir / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    assert_one_line_error(run("blur", "-s", 1, workdir / "bad.npy", workdir / "out" / "x.npy"), 1, "bad.npy")
    np.save(workdir / "strings.npy", np.array([["a"]]))
    assert_one_line_error(run("blur", "-s", 1, workdir / "strings.npy", workdir / "out" / "x.npy"), 1, "numeric")
    assert outputs(workdir) == []


def test_folder_input_needs_a_folder_output(workdir):
    save(workdir / "in.png", np.zeros((4, 4), np.uint8))
    assert_one_line_error(run("blur", "-s", 1, workdir, workdir / "out" / "x.png"), 2, "folder")
    assert outputs(workdir) == []


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["blur", "--sigma", "0"], "--sigma"),
        (["blur", "--sigma", "-2"], "--sigma"),
        (["blur", "--radius", "-1"], "--radius"),
        (["blur"], "blur needs --radius or --sigma (or both)"),
        (["unsharp"], "unsharp needs --radius or --sigma (or both)"),
        (["box"], "box needs --radius or --kernel-size (one, not both)"),
        (["blur", "-s", "1", "--boundary", "sideways"], "unknown boundary mode 'sideways'"),
        (["box", "--radius", "1", "--kernel-size", "3"], "box needs --radius or --kernel-size (one, not both)"),
        (["blur", "-s", "1", "--quality", "0"], "--quality"),
        (["blur", "-s", "1", "--format", "xyz"], "--format"),
        (["blur", "-s", "1", "--method", "magic"], "--method"),
        (["sobel", "--direction", "z"], "--direction"),
        (["motion", "--length", "0"], "--length"),
        (["convolve", "-k", "1 2; 3"], "row 2: expected 2 numbers, found 1"),
        (["convolve", "-k", "missing.txt"], "missing.txt: no such kernel file"),
        (["convolve", "-k", "-1 0 1", "--normalize"], "sum to zero"),
        (["convolve", "-k", "1", "--divisor", "0"], "divisor"),
        (["convolve"], "--kernel"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_invalid_options_are_usage_errors(workdir, args, fragment):
    assert_one_line_error(run(*args, CAMERA, workdir / "out" / "x.png"), 2, fragment)
    assert outputs(workdir) == []


def test_bad_kernel_file_names_file_and_line(workdir):
    kernel = workdir / "k.txt"
    kernel.write_text("1 2 3 4 5\n1 2 3 4 5\n1 2 3 4\n")
    result = run("convolve", "-k", kernel, CAMERA, workdir / "out" / "x.png")
    assert_one_line_error(result, 2, "k.txt: line 3: expected 5 numbers, found 4")
    assert outputs(workdir) == []


def test_wrong_number_of_paths(workdir):
    assert_one_line_error(run("blur", "-s", 1, CAMERA), 2, "INPUT and OUTPUT")


def test_output_folder_missing(workdir):
    result = run("blur", "-s", 1, CAMERA, workdir / "no" / "such" / "x.png")
    assert_one_line_error(result, 1, "does not exist")
    assert not (workdir / "no").exists()


def test_unknown_output_extension(workdir):
    assert_one_line_error(run("blur", "-s", 1, CAMERA, workdir / "out" / "x.qqq"), 2, ".qqq", "--format")
    assert outputs(workdir) == []


def test_format_that_cannot_hold_the_mode(workdir, camera):
    rgba = np.dstack([camera] * 4)
    save(workdir / "rgba.png", rgba)
    result = run("blur", "-s", 1, workdir / "rgba.png", workdir / "out" / "x.jpg")
    assert_one_line_error(result, 1, "x.jpg", "RGB with alpha", "JPEG")
    assert "RGBA" not in result.stderr  # modes in words, not Pillow's codes
    assert outputs(workdir) == []


def test_failed_write_leaves_old_output_untouched(workdir, camera):
    save(workdir / "rgba.png", np.dstack([camera] * 4))
    old = workdir / "out" / "x.jpg"
    old.write_bytes(b"previous contents")
    assert run("blur", "-s", 1, workdir / "rgba.png", old).exit_code == 1
    assert old.read_bytes() == b"previous contents" and outputs(workdir) == ["x.jpg"]


def test_errors_from_a_real_process_have_no_traceback(workdir):
    process = subprocess.run([sys.executable, "-m", "imgconv", "blur", "-s", "1", "nope.png", "x.png"],
                             capture_output=True, text=True, cwd=workdir)
    assert process.returncode == 1 and process.stdout == ""
    assert process.stderr == "imgconv: error: nope.png: no such file\n"


def test_every_command_has_help_with_an_example():
    for name, command in cli.commands.items():
        result = run(name, "--help")
        assert result.exit_code == 0 and "Example" in result.stdout, name
        assert command.help and command.help.strip(), name
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{name} {param.name} has no help"


def _modules_loaded_by(*args):
    code = ("import sys\nfrom imgconv.cli import main\nsys.argv = ['imgconv', *sys.argv[1:]]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(' '.join(m for m in ('numpy', 'scipy', 'PIL') if m in sys.modules), file=sys.stderr)")
    process = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True)
    return process.stderr.strip().splitlines()[-1].split() if process.stderr.strip() else []


def test_version_and_help_load_no_numeric_library():
    assert _modules_loaded_by("--version") == []
    assert _modules_loaded_by("blur", "--help") == []


def test_a_small_blur_does_not_import_scipy(tmp_path):
    assert "scipy" not in _modules_loaded_by("blur", "-s", "2", CAMERA, tmp_path / "x.png")
    assert (tmp_path / "x.png").exists()


def test_stdin_that_is_a_terminal_is_refused(workdir):
    import pty

    leader, follower = pty.openpty()
    try:
        command = [sys.executable, "-m", "imgconv", "blur", "-s", "1", "-", str(workdir / "out" / "x.png")]
        process = subprocess.run(command, stdin=follower, capture_output=True, text=True, timeout=60)
    finally:
        os.close(leader)
        os.close(follower)
    assert process.returncode == 1
    assert process.stderr == "imgconv: error: <stdin>: standard input is a terminal; pipe an image in\n"
    assert outputs(workdir) == []


def test_image_bytes_are_not_written_to_a_terminal(workdir):
    import pty

    leader, follower = pty.openpty()
    try:
        process = subprocess.run([sys.executable, "-m", "imgconv", "blur", "-s", "1", str(CAMERA), "-"],
                                 stdout=follower, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(leader)
        os.close(follower)
    assert process.returncode == 2
    assert process.stderr == "imgconv: error: refusing to write image data to a terminal; redirect standard output\n"
