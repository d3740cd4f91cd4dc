"""imgconv learn: kernels recovered from examples made with scipy.ndimage."""

import math

import numpy as np
import pytest
import scipy.ndimage as ndi
from helpers import SAMPLES, load, run, save

import imgconv.lecture.learn
from imgconv import kernels
from imgconv.lecture.learn import learn_kernel

CAMERA = SAMPLES / "camera.png"


def psnr(a, b, peak=255.0):
    return 20 * math.log10(peak / np.sqrt(np.mean((a.astype(np.float64) - b) ** 2)))


def test_gaussian_from_a_float_npy_target(tmp_path, camera):
    gaussian = kernels.gaussian(1.2, radius=2)
    np.save(tmp_path / "target.npy", ndi.convolve(camera.astype(np.float64), gaussian, mode="reflect"))
    result = run("learn", CAMERA, tmp_path / "target.npy", tmp_path / "k.txt", "--kernel-size", 5)
    assert result.exit_code == 0 and "RMSE" in result.stderr and "PSNR" in result.stderr
    learned = np.loadtxt(tmp_path / "k.txt")
    assert np.abs(learned - gaussian).max() < 1e-3


def test_gaussian_from_an_8_bit_target_reproduces_it(tmp_path, camera):
    blurred = ndi.convolve(camera.astype(np.float64), kernels.gaussian(1, radius=2), mode="reflect")
    target = np.clip(np.rint(blurred), 0, 255)
    save(tmp_path / "target.png", target.astype(np.uint8))
    assert run("learn", CAMERA, tmp_path / "target.png", tmp_path / "k.txt", "--kernel-size", 5).exit_code == 0
    assert run("convolve", "-k", tmp_path / "k.txt", CAMERA, tmp_path / "again.png").exit_code == 0
    assert psnr(load(tmp_path / "again.png")[1], target) >= 45


@pytest.mark.slow
def test_motion_blur_comes_back_with_its_orientation(camera):
    motion = kernels.motion(9, 30)
    target = ndi.convolve(camera.astype(np.float64), motion, mode="nearest")
    fit = learn_kernel(camera, target, 9, mode="nearest")
    learned = fit.kernels[0]
    assert np.abs(learned - motion).max() < 1e-3
    mirrored = motion[:, ::-1]  # the line at -30 degrees
    assert np.abs(learned - mirrored).max() > 0.05
    assert fit.psnr > 100


def test_asymmetric_and_even_kernels_in_convolution_orientation(rng, camera):
    for size in (3, 4):
        kernel = rng.normal(size=(size, size))
        target = ndi.convolve(camera.astype(np.float64), kernel, mode="wrap")
        fit = learn_kernel(camera, target, size, mode="wrap")
        np.testing.assert_allclose(fit.kernels[0], kernel, atol=1e-8)


@pytest.mark.slow
def test_bands_do_not_change_the_result(monkeypatch, rng, camera):
    kernel = rng.normal(size=(5, 5))
    target = ndi.convolve(camera.astype(np.float64), kernel, mode="mirror")
    whole = learn_kernel(camera, target, 5, mode="mirror").kernels[0]
    monkeypatch.setattr(imgconv.lecture.learn, "BAND_FLOATS", 512 * 25 * 7)  # bands of 7 rows
    banded = learn_kernel(camera, target, 5, mode="mirror").kernels[0]
    np.testing.assert_allclose(banded, whole, atol=1e-9)
    np.testing.assert_allclose(banded, kernel, atol=1e-8)


def test_per_channel(tmp_path, rng):
    cat = load(SAMPLES / "chelsea.png")[1].astype(np.float64)
    truth = [kernels.gaussian(0.8, radius=1), kernels.sharpen(0.5), kernels.box(radius=1)]
    target = np.stack([ndi.convolve(cat[..., c], truth[c], mode="reflect") for c in range(3)], axis=-1)
    np.save(tmp_path / "target.npy", target)
    result = run("learn", SAMPLES / "chelsea.png", tmp_path / "target.npy", tmp_path / "k.txt", "--kernel-size", 3,
                 "--per-channel")
    assert result.exit_code == 0
    for c in range(3):
        assert np.abs(np.loadtxt(tmp_path / f"k-{c}.txt") - truth[c]).max() < 1e-6
    assert not (tmp_path / "k.txt").exists()


def test_ridge_shrinks_the_weights(camera):
    target = ndi.convolve(camera.astype(np.float64), kernels.sharpen(2.0), mode="reflect")
    plain = learn_kernel(camera, target, 3).kernels[0]
    ridged = learn_kernel(camera, target, 3, ridge=1e9).kernels[0]
    assert np.abs(ridged).sum() < 0.5 * np.abs(plain).sum()


@pytest.mark.parametrize("args, message", [
    (["--kernel-size", "3"], "must match"),
    (["--kernel-size", "0"], "--kernel-size"),
    (["--kernel-size", "3", "--ridge", "-1"], "--ridge"),
])
def test_errors(tmp_path, args, message):
    save(tmp_path / "small.png", np.zeros((10, 10), np.uint8))
    result = run("learn", CAMERA, tmp_path / "small.png", tmp_path / "k.txt", *args)
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "k.txt").exists()


def test_cli_boundary_and_cval(tmp_path, rng, camera):
    kernel = rng.normal(size=(3, 3))
    np.save(tmp_path / "wrap.npy", ndi.convolve(camera.astype(np.float64), kernel, mode="wrap"))
    result = run("learn", CAMERA, tmp_path / "wrap.npy", tmp_path / "k.txt", "--kernel-size", 3, "-b", "wrap")
    assert result.exit_code == 0
    assert np.abs(np.loadtxt(tmp_path / "k.txt") - kernel).max() < 1e-6
    np.save(tmp_path / "const.npy", ndi.convolve(camera.astype(np.float64), kernel, mode="constant", cval=300.0))
    assert run("learn", CAMERA, tmp_path / "const.npy", tmp_path / "k2.txt", "--kernel-size", 3, "-b", "constant",
               "--cval", 300).exit_code == 0
    assert np.abs(np.loadtxt(tmp_path / "k2.txt") - kernel).max() < 1e-6


def test_reported_fit_matches_an_independent_prediction(camera):
    target = np.clip(np.rint(ndi.convolve(camera.astype(np.float64), kernels.motion(5, 60), mode="reflect")), 0, 255)
    fit = learn_kernel(camera, target.astype(np.uint8), 5, peak=255)
    prediction = ndi.convolve(camera.astype(np.float64), fit.kernels[0], mode="reflect")
    rmse = np.sqrt(np.mean((prediction - target) ** 2))
    assert fit.rmse == pytest.approx(rmse, rel=1e-6)
    assert fit.psnr == pytest.approx(20 * math.log10(255 / rmse), rel=1e-6)
