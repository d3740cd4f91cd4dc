"""Each filter command on real photographs, compared with scipy.ndimage."""

import math

import numpy as np
import pytest
from helpers import SAMPLES, assert_rounded_from, load, reference, run, save

from imgconv import kernels

CAT = SAMPLES / "chelsea.png"


@pytest.fixture(scope="module")
def cat():
    return load(CAT)[1]


def test_blur_matches_scipy(tmp_path, cat):
    out = tmp_path / "blur.png"
    result = run("blur", "--radius", 5, "--sigma", 3, CAT, out)
    assert result.exit_code == 0 and result.stdout == ""
    mode, pixels = load(out)
    assert mode == "RGB" and pixels.shape == cat.shape
    assert_rounded_from(pixels, reference(cat, kernels.gaussian(3, radius=5)))


@pytest.mark.parametrize(
    "args, kernel",
    [
        (["box", "--radius", "2"], kernels.box(radius=2)),
        (["box", "--kernel-size", "4"], kernels.box(size=4)),
        (["tent", "--radius", "3"], kernels.tent(radius=3)),
        (["tent", "--kernel-size", "6"], kernels.tent(size=6)),
        (["sharpen", "--amount", "0.7"], kernels.sharpen(0.7)),
        (["unsharp", "-s", "1.5", "-a", "2"], kernels.unsharp(1.5, amount=2)),
        (["laplacian"], kernels.laplacian()),
        (["laplacian", "--diagonals"], kernels.laplacian(True)),
        (["emboss"], kernels.emboss()),
        (["motion", "--length", "11", "--angle", "30"], kernels.motion(11, 30)),
        (["identity"], kernels.identity()),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
@pytest.mark.parametrize("boundary", ["reflect", "wrap", "constant"])
def test_preset_commands_match_scipy(tmp_path, cat, args, kernel, boundary):
    out = tmp_path / "out.png"
    assert run(*args, "-b", boundary, "--cval", 40, CAT, out).exit_code == 0
    # Presets are written as they lie over the image: an odd preset is correlated; the
    # even box is convolved (see filters.preset_filter).
    odd = kernel.shape[0] % 2 == 1
    expected = reference(cat, kernel, boundary, 40.0, correlate=odd)
    assert_rounded_from(load(out)[1], expected)


def test_emboss_is_oriented_like_the_preset(tmp_path):
    # On v = 5 (row + col), correlating gives v * sum(w) + 5 * sum(w[i, j] * (di + dj))
    # = v + 5 * 12 for the emboss weights; convolving would give v - 60.
    ramp = (np.add.outer(np.arange(20), np.arange(20)) * 5).astype(np.uint8)
    save(tmp_path / "ramp.png", ramp)
    assert run("emboss", "-b", "nearest", tmp_path / "ramp.png", tmp_path / "e.npy").exit_code == 0
    result = np.load(tmp_path / "e.npy")
    np.testing.assert_allclose(result[5:-5, 5:-5], ramp[5:-5, 5:-5] + 12 * 5, atol=1e-4)


@pytest.mark.parametrize("command, make",
                         [("sobel", kernels.sobel), ("prewitt", kernels.prewitt), ("scharr", kernels.scharr)])
def test_gradients_x_y_magnitude(tmp_path, cat, command, make):
    grey = cat.mean(axis=2).astype(np.uint8)
    save(tmp_path / "grey.png", grey)
    gx = reference(grey, make("x"), correlate=True)
    gy = reference(grey, make("y"), correlate=True)
    for direction, expected in (("x", np.abs(gx)), ("y", np.abs(gy)), ("magnitude", np.hypot(gx, gy))):
        out = tmp_path / f"{direction}.png"
        assert run(command, "--direction", direction, tmp_path / "grey.png", out).exit_code == 0
        assert_rounded_from(load(out)[1], expected)
    out = tmp_path / "normalized.png"
    assert run(command, "--normalize", tmp_path / "grey.png", out).exit_code == 0
    magnitude = np.hypot(gx, gy)
    pixels = load(out)[1]
    assert pixels.max() == 255
    assert_rounded_from(pixels, magnitude * 255 / magnitude.max())


def test_sobel_npy_output_keeps_signed_response(tmp_path, camera):
    assert run("sobel", "-d", "x", SAMPLES / "camera.png", tmp_path / "gx.npy").exit_code == 0
    result = np.load(tmp_path / "gx.npy")
    assert result.dtype == np.float32 and result.min() < 0
    np.testing.assert_allclose(result, reference(camera, kernels.sobel("x"), correlate=True), atol=1e-3)


@pytest.mark.parametrize("direction", ["x", "y"])
def test_sobel_sign_follows_intensity(tmp_path, direction):
    ramp = np.tile(np.arange(0, 200, 10, dtype=np.uint8), (20, 1))
    if direction == "y":
        ramp = ramp.T.copy()
    save(tmp_path / "ramp.png", ramp)
    assert run("sobel", "-d", direction, "-b", "nearest", tmp_path / "ramp.png", tmp_path / "g.npy").exit_code == 0
    assert np.all(np.load(tmp_path / "g.npy")[2:-2, 2:-2] == 80)  # 10 per pixel x (1+2+1) x 2


def test_convolve_with_inline_kernel_and_options(tmp_path, camera):
    image = SAMPLES / "camera.png"
    out = tmp_path / "c.npy"
    assert run("convolve", "-k", "1 2 3; 4 5 6", "--normalize", "--offset", 7, image, out).exit_code == 0
    kernel = np.array([[1, 2, 3], [4, 5, 6]]) / 21
    np.testing.assert_allclose(np.load(out), reference(camera, kernel) + 7, atol=1e-3)
    assert run("convolve", "-k", "1 2 3; 4 5 6", "--correlate", "--divisor", 21, image, out).exit_code == 0
    np.testing.assert_allclose(np.load(out), reference(camera, kernel, correlate=True), atol=1e-3)


@pytest.mark.parametrize("name", ["sharpen.txt", "blur.csv", "emboss.mat", "edges.json", "diagonal.npy"])
def test_convolve_with_sample_kernel_files(tmp_path, camera, name):
    import imgconv

    kernel = imgconv.load_kernel(SAMPLES / "kernels" / name)
    out = tmp_path / "out.npy"
    assert run("convolve", "-k", SAMPLES / "kernels" / name, SAMPLES / "camera.png", out).exit_code == 0
    expected = reference(camera, kernel.weights) + kernel.offset
    np.testing.assert_allclose(np.load(out), expected, atol=2e-3 * max(1, np.abs(kernel.weights).sum()))


@pytest.mark.parametrize(
    "args",
    [["blur", "-r", "2", "-s", "1"], ["blur", "-s", "2.5"], ["sobel", "-d", "x"], ["box", "--kernel-size", "4"],
     ["tent", "-r", "2"], ["emboss"], ["motion", "-l", "7", "--angle", "30"], ["unsharp", "-r", "3", "-a", "0.5"]],
    ids=" ".join,
)
def test_print_kernel_reproduces_the_command(tmp_path, args):
    printed = run(*args, "--print-kernel")
    assert printed.exit_code == 0
    (tmp_path / "k.txt").write_text(printed.stdout)
    # .npy outputs compare the raw responses; images also apply each command's display
    # step (a Sobel image shows |gx|, convolve clips), so images compare for the rest.
    extensions = [".npy"] if args[0] == "sobel" else [".npy", ".png"]
    for extension in extensions:
        preset, convolved = tmp_path / f"preset{extension}", tmp_path / f"convolved{extension}"
        assert run(*args, CAT, preset).exit_code == 0
        assert run("convolve", "-k", tmp_path / "k.txt", CAT, convolved).exit_code == 0
        read = np.load if extension == ".npy" else (lambda path: load(path)[1])
        # The printed kernel is the same float64 kernel, so the results are identical.
        assert np.array_equal(read(convolved), read(preset))


def test_print_kernel_is_full_precision():
    printed = run("blur", "-r", 2, "-s", 1, "--print-kernel").stdout
    values = np.array([[float(x) for x in line.split()] for line in printed.splitlines()])
    assert np.array_equal(values, kernels.gaussian(1, radius=2))  # symmetric, so rotation changes nothing
    assert math.isclose(values.sum(), 1.0)


def test_print_kernel_of_a_magnitude_is_refused():
    result = run("sobel", "--print-kernel")
    assert result.exit_code == 2 and "not a single kernel" in result.stderr


def test_kernels_lists_every_preset():
    lines = run("kernels").stdout.splitlines()
    assert len(lines) == len(kernels.PRESETS)
    assert lines[0].startswith("blur") and any(line.startswith("motion") for line in lines)


def test_every_preset_kernel_has_its_command():
    """A preset added to imgconv.kernels needs its entry in imgconv.cli.presets.PRESETS:
    imgconv kernels names each preset's command, and each is one."""
    from imgconv.cli import cli

    commands = [line.split()[0] for line in run("kernels").stdout.splitlines()]
    assert len(set(commands)) == len(kernels.PRESETS)
    assert all(name in cli.commands for name in commands), commands


def test_version():
    import imgconv

    result = run("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"imgconv {imgconv.__version__}"


@pytest.mark.parametrize("method", ["direct", "separable", "fft"])
def test_method_option_changes_nothing_but_speed(tmp_path, cat, method):
    out = tmp_path / "out.png"
    assert run("blur", "-r", 3, "-s", 1.5, "--method", method, CAT, out).exit_code == 0
    assert_rounded_from(load(out)[1], reference(cat, kernels.gaussian(1.5, radius=3)))


def test_threads_option_gives_identical_bytes(tmp_path):
    outputs = []
    for threads in (1, 2, 3):
        out = tmp_path / f"t{threads}.npy"
        assert run("unsharp", "-s", 2, "--threads", threads, CAT, out).exit_code == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
