"""Deconvolution: Richardson-Lucy against an independent scipy.ndimage reference, the
restoration it gives a blurred photograph (PSNR against the original), its range, its
determinism, and the deconvolve command's files and refusals."""

import imagecodecs
import numpy as np
import pytest
import scipy.ndimage as ndi
from helpers import SAMPLES, load, run, save

from imgconv import restoration
from imgconv.errors import InvalidInputError, KernelError

# A Gaussian of sigma 2, radius 6, as the blur to undo.
_TAPS = np.exp(-np.arange(-6, 7) ** 2 / (2 * 2.0 ** 2))
PSF = np.outer(_TAPS, _TAPS) / np.outer(_TAPS, _TAPS).sum()


@pytest.fixture(scope="module")
def brick():
    """A 256x256 crop of the brick photograph, as 16-bit levels (8-bit times 257)."""
    _, samples = load(SAMPLES / "brick.png")
    return samples[:256, :256].astype(np.float64) * 257


@pytest.fixture(scope="module")
def blurred(brick):
    """The brick crop blurred by PSF (scipy.ndimage, reflect) and rounded to 16 bits."""
    return np.round(ndi.convolve(brick, PSF, mode="reflect")).astype(np.uint16)


def psnr(result, original):
    return 10 * np.log10(65535.0 ** 2 / np.mean((np.asarray(result, np.float64) - original) ** 2))


def reference_rl(image, psf, iterations, mode, bounds=None):
    """Plain Richardson-Lucy, started from the image, with scipy.ndimage's blurs: the
    update blurs by the psf's adjoint, correlation (for an odd-sized psf, convolution
    with the flipped psf; for an even size that is one sample off)."""
    data = np.asarray(image, np.float64)
    psf = psf / psf.sum()
    estimate = data.copy()
    for _ in range(iterations):
        blur = ndi.convolve(estimate, psf, mode=mode)
        ratio = np.divide(data, blur, out=np.zeros_like(data), where=blur > 0)
        estimate *= ndi.correlate(ratio, psf, mode=mode)
    return np.clip(estimate, *(bounds or (data.min(), data.max())))


@pytest.mark.parametrize("mode", ["reflect", "nearest", "wrap", "mirror"])
def test_richardson_lucy_matches_the_reference(blurred, mode):
    crop = blurred[:64, :80]
    for asymmetric in ([[1.0, 2.0, 0.5], [0.0, 3.0, 1.0]], [[1.0, 2.0, 0.5], [0.0, 3.0, 1.0], [0.2, 0.0, 0.0]]):
        psf = np.array(asymmetric)  # a flip, or an even size's centre, would show
        ours = restoration.richardson_lucy(crop, psf, 5, mode=mode)
        np.testing.assert_allclose(ours, reference_rl(crop, psf, 5, mode), rtol=1e-9, atol=1e-6)


def test_richardson_lucy_on_rgb_is_each_channel(blurred):
    rgb = np.stack([blurred[:48, :48], blurred[8:56, :48], blurred[:48, 8:56]], axis=-1)
    ours = restoration.richardson_lucy(rgb, PSF, 3)
    for c in range(3):
        # Clipped to the whole image's range, not the channel's.
        expected = reference_rl(rgb[..., c], PSF, 3, "reflect", bounds=(rgb.min(), rgb.max()))
        np.testing.assert_allclose(ours[..., c], expected, rtol=1e-9)


def test_richardson_lucy_restores_the_blurred_photograph(brick, blurred):
    before = psnr(blurred, brick)
    after = psnr(restoration.richardson_lucy(blurred, PSF, 30), brick)
    assert after - before >= 4, (before, after)  # measured: 26.87 -> 33.48 dB


def test_wiener_restores_the_blurred_photograph(brick, blurred):
    before = psnr(blurred, brick)
    after = psnr(restoration.wiener(blurred, PSF), brick)
    assert after - before >= 2, (before, after)  # measured: 26.87 -> 33.53 dB at balance 0.01


def test_wiener_undoes_a_blur_without_noise_in_wrap_mode(brick):
    """In wrap mode the FFT's model is exact: with a psf whose transfer function stays
    away from 0 (|H| >= 0.4) and a tiny balance, the blurred image comes back. Flat
    corners at 0 and 65535 keep the range through the blur, so the clip cuts nothing."""
    crop = brick[:64, :72].copy()
    crop[:8, :8], crop[-8:, -8:] = 0, 65535
    psf = np.array([[0.0, 0.1, 0.0], [0.1, 0.7, 0.05], [0.0, 0.05, 0.0]])
    blurred = ndi.convolve(crop, psf, mode="wrap")
    restored = restoration.wiener(blurred, psf, 1e-12, mode="wrap")
    np.testing.assert_allclose(restored, crop, atol=1e-6)


@pytest.mark.parametrize("restore", [lambda b: restoration.richardson_lucy(b, PSF, 30),
                                     lambda b: restoration.wiener(b, PSF, 1e-4)])
def test_no_sample_outside_the_input_range(blurred, restore):
    result = restore(blurred)
    assert result.min() >= blurred.min() and result.max() <= blurred.max()
    # and the restoration would have overshot without the clip: the test can fail.
    assert result.min() == blurred.min() or result.max() == blurred.max()


def test_same_result_for_any_thread_count(blurred):
    one = restoration.richardson_lucy(blurred, PSF, 10, threads=1)
    two = restoration.richardson_lucy(blurred, PSF, 10, threads=2)
    assert np.array_equal(one, two)


@pytest.mark.parametrize("call, error, words", [
    (lambda: restoration.richardson_lucy(np.ones((8, 8)), PSF, 0), InvalidInputError, "iterations"),
    (lambda: restoration.richardson_lucy(np.ones((8, 8)), [[1, -1]]), KernelError, "sums to 0"),
    (lambda: restoration.richardson_lucy(-np.ones((8, 8)), PSF), InvalidInputError, ">= 0"),
    (lambda: restoration.wiener(np.ones((8, 8)), PSF, 0), InvalidInputError, "balance"),
])
def test_library_refusals(call, error, words):
    with pytest.raises(error, match=words):
        call()


@pytest.mark.parametrize("algorithm, gain", [("richardson-lucy", 4), ("wiener", 2)])
def test_command_writes_a_restored_16_bit_png(tmp_path, brick, blurred, algorithm, gain):
    source = save(tmp_path / "blurred.png", blurred)
    np.savetxt(tmp_path / "psf.txt", PSF)
    result = run("deconvolve", "-k", tmp_path / "psf.txt", "--algorithm", algorithm, source, tmp_path / "out.png")
    assert result.exit_code == 0, result.stderr
    written = imagecodecs.imread((tmp_path / "out.png").read_bytes())
    _, pillow = load(tmp_path / "out.png")
    assert written.dtype == np.uint16 and np.array_equal(written, pillow)
    assert psnr(written, brick) - psnr(blurred, brick) >= gain
    expected = (restoration.richardson_lucy(blurred, PSF, 30) if algorithm == "richardson-lucy"
                else restoration.wiener(blurred, PSF))
    assert np.abs(written - expected).max() <= 0.5 + 1e-6


def test_gaussian_spec_is_the_gaussian_psf(tmp_path, blurred):
    """gaussian:s=2,r=6 is PSF: the command's output equals the one with PSF's file."""
    source = save(tmp_path / "blurred.png", blurred[:64, :64])
    np.savetxt(tmp_path / "psf.txt", PSF)
    for spec, out in [("gaussian:s=2,r=6", "a.png"), (tmp_path / "psf.txt", "b.png")]:
        assert run("deconvolve", "-k", spec, "--iterations", "5", source, tmp_path / out).exit_code == 0
    assert np.array_equal(load(tmp_path / "a.png")[1], load(tmp_path / "b.png")[1])
    np.testing.assert_allclose(restoration.load_psf("gaussian:s=2,r=6"), PSF, rtol=1e-12)


@pytest.mark.parametrize("args, words", [
    (["-k", "gaussian:r=3"], "needs its sigma"),
    (["-k", "gaussian:s=0"], "gaussian:s=SIGMA"),
    (["-k", "psf.mat"], "psf.mat: the psf has an offset (128)"),
    (["--iterations", "0"], "iterations must be a whole number >= 1, got 0"),
    (["-k", "1 -1"], "sums to 0"),
    (["--algorithm", "wiener", "--balance", "0"], "balance must be > 0"),
])
def test_command_refusals_are_one_line(tmp_path, args, words):
    source = save(tmp_path / "in.png", np.full((8, 8), 100, np.uint8))
    (tmp_path / "psf.mat").write_text("3 3 1 128\n1 1 1\n1 1 1\n1 1 1\n")
    kernel = [] if "-k" in args else ["-k", "1 2 1; 2 4 2; 1 2 1"]
    args = [str(tmp_path / a) if a == "psf.mat" else a for a in args]
    result = run("deconvolve", *kernel, *args, source, tmp_path / "out.png")
    assert result.exit_code != 0
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("imgconv: error:") and words in result.stderr
    assert not (tmp_path / "out.png").exists()
