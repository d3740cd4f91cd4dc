"""Kernel files and inline kernels: every format, the options, and every error."""

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import SAMPLES, assert_one_line_error, run

import imgconv
from imgconv import kernels
from imgconv.kernelfile import adjust_kernel

SAMPLE_KERNELS = Path(__file__).resolve().parent.parent / "samples" / "kernels"


def test_plain_text_with_comments_blank_lines_tabs_and_commas(tmp_path):
    path = tmp_path / "k.kernel"
    path.write_text("# a comment\n\n1\t2 ,3  # trailing\n\n4,5,6\n")
    assert np.array_equal(imgconv.load_kernel(path).weights, [[1, 2, 3], [4, 5, 6]])


@pytest.mark.parametrize("name", ["k.txt", "k.csv", "k.kernel", "k"])
def test_every_text_extension(tmp_path, name):
    path = tmp_path / name
    path.write_text("1 2\n3 4\n")
    assert np.array_equal(imgconv.load_kernel(path).weights, [[1, 2], [3, 4]])


def test_inline_kernel():
    kernel = imgconv.load_kernel("0 -1 0; -1 5 -1; 0 -1 0")
    assert np.array_equal(kernel.weights, kernels.sharpen()) and kernel.offset == 0
    assert np.array_equal(imgconv.load_kernel("1,2,3").weights, [[1, 2, 3]])
    assert np.array_equal(imgconv.load_kernel("1e-1; -2.5").weights, [[0.1], [-2.5]])


def test_vips_matrix_scale_and_offset_apply_as_libvips_does(tmp_path):
    path = tmp_path / "k.mat"
    path.write_text("3 1 4 10\n1 2 1\n")
    kernel = imgconv.load_kernel(path)
    assert np.array_equal(kernel.weights, [[0.25, 0.5, 0.25]]) and kernel.offset == 10
    image = np.array([[0.0, 4.0, 8.0]])
    # libvips: (1*0 + 2*4 + 1*8) / 4 + 10 = 14 at the centre
    assert imgconv.correlate(image, kernel, mode="constant")[0, 1] == 14.0
    (tmp_path / "bare.mat").write_text("2 2\n1 2\n3 4\n")
    assert np.array_equal(imgconv.load_kernel(tmp_path / "bare.mat").weights, [[1, 2], [3, 4]])


def test_vips_matrix_size_must_match_header(tmp_path):
    path = tmp_path / "k.mat"
    path.write_text("3 2\n1 2 1\n")
    with pytest.raises(imgconv.KernelError, match="header says 3x2, the rows give 3x1"):
        imgconv.load_kernel(path)


def test_npy(tmp_path):
    path = tmp_path / "k.npy"
    np.save(path, np.arange(6, dtype=np.int16).reshape(2, 3))
    assert np.array_equal(imgconv.load_kernel(path).weights, [[0, 1, 2], [3, 4, 5]])
    np.save(path, np.ones(3))
    with pytest.raises(imgconv.KernelError, match="2-D"):
        imgconv.load_kernel(path)


def test_json_list_and_object(tmp_path):
    (tmp_path / "a.json").write_text("[[1, 2], [3, 4]]")
    assert np.array_equal(imgconv.load_kernel(tmp_path / "a.json").weights, [[1, 2], [3, 4]])
    (tmp_path / "b.json").write_text(json.dumps({"kernel": [[1, 2], [3, 4]], "divisor": 2, "offset": 5}))
    kernel = imgconv.load_kernel(tmp_path / "b.json")
    assert np.array_equal(kernel.weights, [[0.5, 1], [1.5, 2]]) and kernel.offset == 5


def test_options_normalize_divisor_offset():
    kernel = imgconv.load_kernel("1 2 1", normalize=True, offset=3)
    assert np.array_equal(kernel.weights, [[0.25, 0.5, 0.25]]) and kernel.offset == 3
    assert np.array_equal(imgconv.load_kernel("2 4", divisor=2).weights, [[1, 2]])
    with pytest.raises(imgconv.KernelError, match="sum to zero"):
        imgconv.load_kernel("-1 0 1", normalize=True)
    with pytest.raises(imgconv.KernelError, match="divisor"):
        adjust_kernel(imgconv.Kernel(np.ones((1, 1))), divisor=0)


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("ragged.txt", "1 2 3 4 5\n1 2 3 4 5\n1 2 3 4\n", r"ragged.txt: line 3: expected 5 numbers, found 4"),
        ("word.txt", "1 2\n3 four\n", r"word.txt: line 2: 'four' is not a number"),
        ("empty.txt", "# only a comment\n\n", r"empty.txt: no numbers found"),
        ("nan.txt", "1 nan\n", r"nan.txt: line 1: 'nan' is not a finite number"),
        ("inf.csv", "1,inf\n", r"inf.csv: line 1: 'inf' is not a finite number"),
        ("big.txt", " ".join(["1"] * 1026) + "\n", r"big.txt.*1026x1.*1025x1025"),
        ("bad.json", "[[1, 2], [3]", r"bad.json: line 1: invalid JSON"),
        ("ragged.json", "[[1, 2], [3]]", r"ragged.json: row 2: expected 2 numbers, found 1"),
        ("nan.json", "[[1, NaN]]", r"nan.json.*NaN or infinite"),
        ("words.json", '[["a"]]', r"words.json: row 1: every entry must be a number"),
        ("header.mat", "x 3\n1 2 3\n", r"header.mat: line 1: 'x' is not a number"),
        ("empty.mat", "\n", r"empty.mat: empty file"),
        ("k.png", "1", r"unknown kernel file type '.png'"),
    ],
)
def test_errors_name_the_file_and_the_line(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(imgconv.KernelError, match=message):
        imgconv.load_kernel(path)


def test_missing_file_and_bad_inline():
    with pytest.raises(imgconv.KernelError, match=r"no-such.txt: no such kernel file"):
        imgconv.load_kernel("no-such.txt")
    with pytest.raises(imgconv.KernelError, match="row 2: expected 2 numbers, found 3"):
        imgconv.load_kernel("1 2; 3 4 5")
    for spec in ("1 nan", "1; -Inf", "infinity 2"):
        with pytest.raises(imgconv.KernelError, match=r"inline kernel: row \d: '.*' is not a finite number"):
            imgconv.load_kernel(spec)


def test_a_kernel_that_could_overflow_names_its_file_and_the_image(tmp_path):
    """The float32-overflow refusal did not name the kernel file."""
    (tmp_path / "big.txt").write_text("1e37 1e37 1e37\n" * 3)
    grey = SAMPLES / "camera.png"
    result = run("convolve", "-k", tmp_path / "big.txt", grey, tmp_path / "out.png")
    assert_one_line_error(result, 2, f"{tmp_path / 'big.txt'}: the kernel's weights", f"of {grey}", "beyond")
    # A fair kernel on samples that are too large: the image (a float .npy) holds the bad numbers.
    np.save(tmp_path / "huge.npy", np.full((8, 8), 3e38, np.float32))
    (tmp_path / "sharpen.txt").write_text("0 -1 0\n-1 5 -1\n0 -1 0\n")
    result = run("convolve", "-k", tmp_path / "sharpen.txt", tmp_path / "huge.npy", tmp_path / "out.npy")
    assert_one_line_error(result, 2, f"of {tmp_path / 'huge.npy'} up to 3e+38", "sharpen.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.txt", "huge.npy", "sharpen.txt"]


def test_corrupt_npy(tmp_path):
    path = tmp_path / "k.npy"
    path.write_bytes(b"not numpy")
    with pytest.raises(imgconv.KernelError, match=r"k.npy: not a valid .npy file"):
        imgconv.load_kernel(path)


@pytest.mark.parametrize(
    "kernel",
    [
        kernels.gaussian(radius=5, sigma=3),
        kernels.gaussian(sigma=0.7),
        kernels.box(size=4),
        kernels.sobel("y"),
        kernels.scharr("x"),
        kernels.laplacian(True),
        kernels.sharpen(0.3),
        kernels.unsharp(1.1, radius=2, amount=0.7),
        kernels.emboss(),
        kernels.motion(9, 30),
        kernels.identity(),
    ],
)
def test_every_preset_round_trips_through_the_text_format(tmp_path, kernel):
    path = tmp_path / "k.txt"
    path.write_text(imgconv.format_kernel(kernel))
    assert np.array_equal(imgconv.load_kernel(path).weights, kernel)


def test_sample_kernel_files_load():
    loaded = {p.name: imgconv.load_kernel(p) for p in sorted(SAMPLE_KERNELS.iterdir()) if p.suffix != ".md"}
    assert set(loaded) == {"sharpen.txt", "blur.csv", "emboss.mat", "edges.json", "diagonal.npy"}
    assert np.array_equal(loaded["sharpen.txt"].weights, kernels.sharpen())
    assert loaded["blur.csv"].weights.sum() == 16
    assert np.array_equal(loaded["emboss.mat"].weights, kernels.emboss()) and loaded["emboss.mat"].offset == 128
    assert loaded["edges.json"].weights[1, 1] == 8
    assert np.array_equal(loaded["diagonal.npy"].weights, np.eye(5) / 5)
