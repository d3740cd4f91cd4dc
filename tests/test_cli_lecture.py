"""The CNN lecture commands: conv-layer, params (and learn, animate in their own modules)."""

import json

import numpy as np
import pytest
from helpers import SAMPLES, load, run, save
from PIL import Image

from imgconv.lecture.layers import conv2d, grey


def slow_conv2d(x, w, b, stride, padding, dilation, pad_mode="constant"):
    """The obvious reference: pad with np.pad, then loops over filters, outputs and taps.

    x (C, H, W), w (F, C, kh, kw), padding ((top, bottom), (left, right)).
    """
    (top, bottom), (left, right) = padding
    numpy_mode = {"constant": "constant", "reflect": "symmetric", "mirror": "reflect", "nearest": "edge",
                  "wrap": "wrap"}
    xp = np.pad(x.astype(np.float64), ((0, 0), (top, bottom), (left, right)), mode=numpy_mode[pad_mode])
    filters, channels, kh, kw = w.shape
    out_h = (xp.shape[1] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    out_w = (xp.shape[2] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((filters, out_h, out_w))
    for f in range(filters):
        for i in range(out_h):
            for j in range(out_w):
                total = 0.0 if b is None else b[f]
                for c in range(channels):
                    for u in range(kh):
                        for v in range(kw):
                            row, column = i * stride[0] + u * dilation[0], j * stride[1] + v * dilation[1]
                            total += w[f, c, u, v] * xp[c, row, column]
                out[f, i, j] = total
    return out


CASES = [
    # stride, dilation, numeric padding per axis, kernel size
    ((1, 1), (1, 1), (0, 0), (3, 3)),
    ((2, 2), (1, 1), (1, 1), (3, 3)),
    ((2, 3), (1, 1), (2, 0), (3, 2)),
    ((1, 1), (2, 2), (2, 2), (3, 3)),
    ((3, 2), (2, 3), (1, 3), (2, 3)),
    ((1, 2), (1, 1), (0, 1), (4, 4)),
]


@pytest.mark.parametrize("stride, dilation, pad, ksize", CASES)
def test_conv2d_matches_the_loop_reference(rng, stride, dilation, pad, ksize):
    x = rng.normal(size=(13, 11, 3)) * 50
    w = rng.normal(size=(4, 3, *ksize))
    b = rng.normal(size=4)
    padding = ((pad[0], pad[0]), (pad[1], pad[1]))
    expected = slow_conv2d(np.moveaxis(x, 2, 0), w, b, stride, padding, dilation)
    result = conv2d(x, w, b, stride=stride, padding=pad, dilation=dilation)
    assert result.dtype == np.float32 and result.shape == expected.shape
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("size, stride, expected_pad",
                         [(13, 2, (1, 1)), (12, 2, (0, 1)), (11, 3, (0, 1)), (10, 1, (1, 1))])
def test_same_padding_gives_ceil_size_over_stride(rng, size, stride, expected_pad):
    x = rng.normal(size=(size, size))
    w = rng.normal(size=(1, 1, 3, 3))
    result = conv2d(x, w, stride=(stride, stride), padding=("same", "same"))
    assert result.shape == (1, -(-size // stride), -(-size // stride))
    padding = (expected_pad, expected_pad)
    expected = slow_conv2d(x[np.newaxis], w, None, (stride, stride), padding, (1, 1))
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-4)


def test_full_padding_boundary_and_relu(rng):
    x = rng.normal(size=(6, 7))
    w = rng.normal(size=(2, 1, 3, 2))
    expected = slow_conv2d(x[np.newaxis], w, None, (1, 1), ((2, 2), (1, 1)), (1, 1), "reflect")
    result = conv2d(x, w, padding=("full", "full"), mode="reflect", activation="relu")
    np.testing.assert_allclose(result, np.maximum(expected, 0), rtol=1e-5, atol=1e-5)


def test_cli_conv_npy_with_weights_bias_stride_padding(tmp_path, rng):
    image = rng.integers(0, 256, (20, 24, 3)).astype(np.uint8)
    save(tmp_path / "in.png", image)
    w = rng.normal(size=(5, 3, 3, 3))
    np.save(tmp_path / "w.npy", w)
    result = run("conv-layer", "--weights", tmp_path / "w.npy", "--bias", "1,2,3,4,5", "--stride", "2,1",
                 "--padding", "1,2", "--dilation", "2", tmp_path / "in.png", tmp_path / "maps.npy")
    assert result.exit_code == 0, result.stderr
    maps = np.load(tmp_path / "maps.npy")
    expected = slow_conv2d(np.moveaxis(image, 2, 0), w, [1, 2, 3, 4, 5], (2, 1), ((1, 1), (2, 2)), (2, 2))
    assert maps.dtype == np.float32 and maps.shape == expected.shape == (5, 9, 24)
    np.testing.assert_allclose(maps, expected, rtol=1e-5, atol=1e-2)


def test_cli_conv_kernels_work_on_grey_and_montage(tmp_path):
    cat = SAMPLES / "chelsea.png"
    args = ["conv-layer", "-k", "-1 0 1; -2 0 2; -1 0 1", "-k", "1 1; 1 1", "--activation", "relu"]
    assert run(*args, cat, tmp_path / "bad.npy").exit_code == 2  # two sizes
    args = ["conv-layer", "-k", "-1 0 1; -2 0 2; -1 0 1", "-k", "0 1 0; 1 -4 1; 0 1 0", "-k", "0 0 0; 0 1 0; 0 0 0",
            "--padding", "same"]
    assert run(*args, cat, tmp_path / "maps.npy").exit_code == 0
    maps = np.load(tmp_path / "maps.npy")
    luma = np.asarray(Image.open(cat).convert("RGB"), np.float64) @ [0.299, 0.587, 0.114]
    assert maps.shape == (3, 300, 451)
    np.testing.assert_allclose(maps[2], luma, atol=1e-3)  # the identity kernel returns the grey image
    np.testing.assert_allclose(grey(np.asarray(Image.open(cat))), luma, atol=1e-3)
    assert run(*args, "--columns", 3, cat, tmp_path / "maps.png").exit_code == 0
    mode, sheet = load(tmp_path / "maps.png")
    assert mode == "L" and sheet.shape == (300, 3 * 451 + 2 * 2)
    for index in range(3):
        tile = sheet[:, index * 453 : index * 453 + 451]
        stretched = (maps[index] - maps[index].min()) * 255 / (maps[index].max() - maps[index].min())
        assert np.abs(tile - stretched).max() <= 0.5 + 1e-3
    assert np.all(sheet[:, 451:453] == 128)


@pytest.mark.parametrize("args, message", [
    (["conv-layer"], "--kernel"),
    (["conv-layer", "-k", "1", "--stride", "0"], "--stride"),
    (["conv-layer", "-k", "1", "--padding", "lots"], "--padding"),
    (["conv-layer", "-k", "1", "-k", "2", "--bias", "1"], "bias"),
    (["conv-layer", "-k", "1 1 1", "--dilation", "400"], "does not fit"),
])
def test_cli_conv_errors(tmp_path, args, message):
    result = run(*args, SAMPLES / "camera.png", tmp_path / "x.npy")
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "x.npy").exists()


def test_params_lecture_numbers():
    result = run("params", "--input-size", "1000x1000", "--hidden", "1000000", "--kernel-size", "10x10",
                 "--filters", "100")
    lines = result.stdout.splitlines()
    assert result.exit_code == 0
    assert lines[1].split()[-2:] == ["1,000,000,000,000", "10^12"]
    assert lines[2].split()[-2:] == ["100,000,000", "10^8"]
    assert lines[3].split()[-2:] == ["10,000", "10^4"]
    assert lines[-1].split()[-2:] == ["100,000,000", "10^8"]


def test_params_json_with_channels_and_bias():
    data = json.loads(run("params", "--input-size", "32x48", "--hidden", "10", "--kernel-size", "3x5", "--filters", "4",
                          "--channels", "3", "--bias", "--json").stdout)
    assert data["counts"] == {"fully connected": 32 * 48 * 3 * 10 + 10, "locally connected": 10 * 15 * 3 + 10,
                              "convolutional": 4 * 15 * 3 + 4}
    assert data["ratios"]["locally connected / convolutional"] == pytest.approx(460 / 184)


def test_cli_conv_padding_holds_the_boundary_mode(tmp_path, rng):
    image = rng.integers(0, 256, (9, 10)).astype(np.uint8)
    save(tmp_path / "in.png", image)
    w = rng.normal(size=(1, 1, 3, 3))
    np.save(tmp_path / "w.npy", w)
    for mode, extra in (("reflect", []), ("constant", ["--cval", "77"])):
        out = tmp_path / f"{mode}.npy"
        assert run("conv-layer", "--weights", tmp_path / "w.npy", "--padding", 2, "-b", mode, *extra,
                   tmp_path / "in.png", out).exit_code == 0
        padded = np.pad(image.astype(float), 2, mode="symmetric") if mode == "reflect" else \
            np.pad(image.astype(float), 2, constant_values=77)
        expected = slow_conv2d(padded[np.newaxis], w, None, (1, 1), ((0, 0), (0, 0)), (1, 1))
        np.testing.assert_allclose(np.load(out), expected, rtol=1e-5, atol=1e-3)


def test_cli_conv_adds_a_kernel_files_offset(tmp_path, rng):
    """emboss.mat's offset of 128 is added to its map, as `convolve` adds it, and to a bias."""
    image = rng.integers(0, 256, (12, 14)).astype(np.uint8)
    save(tmp_path / "in.png", image)
    mat = SAMPLES / "kernels" / "emboss.mat"
    weights = np.loadtxt(mat, skiprows=1)[np.newaxis, np.newaxis]
    plain = ["-k", "-2 -1 0; -1 1 1; 0 1 2"]
    for bias, expected_bias in ((None, [128.0, 0.0]), ("1,2", [129.0, 2.0])):
        args = ["conv-layer", "-k", mat, *plain, "--padding", "same", *(["--bias", bias] if bias else [])]
        assert run(*args, tmp_path / "in.png", tmp_path / "maps.npy").exit_code == 0
        expected = slow_conv2d(image[np.newaxis], np.concatenate([weights, weights]), expected_bias, (1, 1),
                               ((1, 1), (1, 1)), (1, 1))
        np.testing.assert_allclose(np.load(tmp_path / "maps.npy"), expected, rtol=1e-5, atol=1e-3)
