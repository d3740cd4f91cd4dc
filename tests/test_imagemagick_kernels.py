"""ImageMagick kernel strings read as ImageMagick builds them, and kernels written in every form.

The references follow ImageMagick's formulas (MagickCore/morphology.c and gem.c) written out
loop by loop here, independently of imgconv.magick's vectorised code.
"""

import json
import math
import re

import numpy as np
import pytest
from helpers import run

from imgconv.errors import KernelError
from imgconv.kernelfile import FORMATS, format_kernel, load_kernel

QUANTUM_SCALE = 1 / 65535  # ImageMagick Q16


def optimal_width_2d(sigma):
    """GetOptimalKernelWidth2D for radius 0, as gem.c loops it."""
    alpha, beta = 1 / (2 * sigma * sigma), 1 / (2 * math.pi * sigma * sigma)
    width = 5
    while True:
        j = (width - 1) // 2
        total = sum(math.exp(-(u * u + v * v) * alpha) * beta for v in range(-j, j + 1) for u in range(-j, j + 1))
        if math.exp(-j * j * alpha) * beta / total < QUANTUM_SCALE:
            return width - 2
        width += 2


def optimal_width_1d(sigma):
    alpha, beta = 1 / (2 * sigma * sigma), 1 / (math.sqrt(2 * math.pi) * sigma)
    width = 5
    while True:
        j = (width - 1) // 2
        total = sum(math.exp(-i * i * alpha) * beta for i in range(-j, j + 1))
        if math.exp(-j * j * alpha) * beta / total < QUANTUM_SCALE:
            return width - 2
        width += 2


def sampled(width, value):
    half = (width - 1) // 2
    return np.array([[value(u, v) for u in range(-half, half + 1)] for v in range(-half, half + 1)])


def correlate_normalize(k):
    pos, neg = k[k > 0].sum(), -k[k < 0].sum()
    return np.array([[x / pos if x >= 0 else x / neg for x in row] for row in k])


def gauss(s):
    return lambda u, v: math.exp(-(u * u + v * v) / (2 * s * s)) / (2 * math.pi * s * s)


def test_gaussian_radius_0_is_imagemagicks_automatic_size():
    width = optimal_width_2d(2.0)
    assert width == 15  # for sigma 2 the Q16 edge weight first falls below 1/65535 at radius 8
    expected = sampled(width, gauss(2.0))
    expected /= expected.sum()
    np.testing.assert_allclose(load_kernel("Gaussian:0x2").weights, expected, rtol=1e-12)


def test_gaussian_with_a_radius_is_clipped_and_renormalised():
    expected = sampled(7, gauss(1.0))
    np.testing.assert_allclose(load_kernel("Gaussian:3x1").weights, expected / expected.sum(), rtol=1e-12)


def test_blur_is_one_row_sampled_three_times_a_pixel():
    width = optimal_width_1d(1.0)
    values = [0.0] * width
    v = (width * 3 - 1) // 2
    for u in range(-v, v + 1):
        values[(u + v) // 3] += math.exp(-u * u / 18) / (math.sqrt(2 * math.pi) * 3)
    expected = np.array([values]) / sum(values)
    np.testing.assert_allclose(load_kernel("Blur:0x1").weights, expected, rtol=1e-12)
    np.testing.assert_array_equal(load_kernel("Blur").weights, [[0, 1, 0]])  # sigma 0: unity


def test_dog_and_log_are_zero_summing_with_each_sign_normalised():
    width = optimal_width_2d(2.0)
    dog = sampled(width, lambda u, v: gauss(1.0)(u, v) - gauss(2.0)(u, v))
    np.testing.assert_allclose(load_kernel("DoG:0,1,2").weights, correlate_normalize(dog), rtol=1e-12, atol=1e-15)

    def log(u, v):
        r = (u * u + v * v) / 8
        return (1 - r) * math.exp(-r) / (math.pi * 16)

    got = load_kernel("LoG:0,2").weights
    np.testing.assert_allclose(got, correlate_normalize(sampled(width, log)), rtol=1e-12, atol=1e-15)
    assert got[got > 0].sum() == pytest.approx(1) and got[got < 0].sum() == pytest.approx(-1)


def test_sobel_and_laplacian_as_imagemagick_lists_them():
    # ImageMagick's documentation: Sobel is "1,0,-1 2,0,-2 1,0,-1"; Sobel:90 turns it clockwise.
    np.testing.assert_array_equal(load_kernel("Sobel").weights, [[1, 0, -1], [2, 0, -2], [1, 0, -1]])
    np.testing.assert_array_equal(load_kernel("Sobel:90").weights, [[1, 2, 1], [0, 0, 0], [-1, -2, -1]])
    np.testing.assert_array_equal(load_kernel("Laplacian:0").weights, [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]])
    np.testing.assert_array_equal(load_kernel("Laplacian:1").weights, [[0, -1, 0], [-1, 4, -1], [0, -1, 0]])
    # The 5x5 and 7x7 Laplacians and the 5x5 and 9x9 LoG approximations sum to zero.
    for kind, size in ((5, 5), (7, 7), (15, 5), (19, 9)):
        weights = load_kernel(f"Laplacian:{kind}").weights
        assert weights.shape == (size, size) and weights.sum() == 0
        np.testing.assert_array_equal(weights, weights.T)
    np.testing.assert_array_equal(load_kernel("Laplacian:15").weights[2], [-1, -2, 16, -2, -1])


def test_user_kernels_and_their_origin():
    centred = load_kernel("3x3: 1,2,1 2,4,2 1,2,1").weights
    np.testing.assert_array_equal(centred, [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    np.testing.assert_array_equal(load_kernel("3x3+1+1: 1,2,1 2,4,2 1,2,1").weights, centred)
    np.testing.assert_array_equal(load_kernel("3: 1 2 1 2 4 2 1 2 1").weights, centred)
    # ImageMagick convolves as out[y, x] = sum k[i, j] in[y - i + Y, x - j + X] for the origin
    # (X, Y), by default ((W-1)//2, (H-1)//2); imgconv with n//2 in place of the origin. So a
    # kernel is padded with zeros until its origin is at n//2; nan weighs nothing.
    np.testing.assert_array_equal(load_kernel("2x1+0+0: 5,nan").weights, [[0, 5, 0]])
    np.testing.assert_array_equal(load_kernel("2x2+1+1: 1,2 3,4").weights, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(load_kernel("2x2: 1,2 3,4").weights, [[0, 0, 0], [0, 1, 2], [0, 3, 4]])
    np.testing.assert_array_equal(load_kernel("3x1+0+0: 1,2,3").weights, [[0, 0, 1, 2, 3]])
    np.testing.assert_array_equal(load_kernel("3x1+2+0: 1,2,3").weights, [[1, 2, 3, 0]])
    np.testing.assert_array_equal(load_kernel("4x1: 1,2,3,4").weights, [[0, 1, 2, 3, 4]])
    np.testing.assert_array_equal(load_kernel("4x1+3+0: 1,2,3,4").weights, [[1, 2, 3, 4, 0, 0]])


def test_kernels_joined_by_semicolons_are_applied_in_turn():
    np.testing.assert_array_equal(load_kernel("3x1: 0.25,0.5,0.25; 1x3: 1,2,1").weights,
                                  np.outer([1, 2, 1], [0.25, 0.5, 0.25]))
    row = load_kernel("Blur:0x1").weights[0]
    np.testing.assert_allclose(load_kernel("Blur:0x1;Blur:0x1,90").weights, np.outer(row, row), rtol=1e-15)
    # [1, 2]/4 then [3, 4]: the full convolution [3, 10, 8]/4, whose origin 0 + 1 is its middle.
    np.testing.assert_array_equal(load_kernel("2x1+0+0: 0.25,0.5;2x1+1+0: 3,4").weights, [[0.75, 2.5, 2]])


def test_sizes_and_turns_as_imagemagick_makes_them():
    # A radius R gives int(2R + 1) taps: Blur:1.5 has 4, origin 1, so one zero goes before.
    assert load_kernel("Blur:1.5x1").weights.shape == (1, 5)
    assert load_kernel("Blur:1.5x1").weights[0, 0] == 0
    np.testing.assert_array_equal(load_kernel("Blur:1.5x1,90").weights, load_kernel("Blur:1.5x1").weights.T)
    np.testing.assert_array_equal(load_kernel("Blur:1.5x1,180").weights, load_kernel("Blur:1.5x1").weights)
    assert load_kernel("Gaussian:1.2x1").weights.shape == (3, 3)
    # 45 degrees moves the outer ring of a 3x3 kernel on by one place, clockwise.
    np.testing.assert_array_equal(load_kernel("Sobel:45").weights, [[2, 1, 0], [1, 0, -1], [0, -1, -2]])
    np.testing.assert_array_equal(load_kernel("Sobel:-45").weights, [[0, -1, -2], [1, 0, -1], [2, 1, 0]])


def test_semicolon_rows_keep_their_meaning():
    np.testing.assert_array_equal(load_kernel("1 2 1; 2 4 2").weights, [[1, 2, 1], [2, 4, 2]])


@pytest.mark.parametrize(("spec", "words"), [
    ("Diamond", "'Diamond' is not supported"),
    ("Sobel;Gaussian:0x1", "ImageMagick clips what 'Sobel' gives before the next kernel"),
    ("Gaussian:1.5x1", "build a 4x4 kernel it fills only in part; give a radius below 1.5"),
    ("Blur:0x1,45", "Blur's angle must be a multiple of 90"),
    ("3x3: 1,2,1", "needs 9 values, found 3"),
    ("3x3+5+0: 1,2,1 2,4,2 1,2,1", "origin +5+0 is outside"),
    ("Gaussian:600x1", "wider than 1025"),
    ("Blur:0x1e6", "wider than 1025"),
    ("Gaussian:1e300x1", "wider than 1025"),
    ("Laplacian:4", "Laplacian types"),
    ("Sobel:30", "multiple of 45"),
    ("Gaussian:0x1;" * 300, "too large or too many to combine into one"),  # in a tenth of a second
])
def test_what_is_not_supported_is_refused_in_one_line(spec, words):
    with pytest.raises(KernelError, match=re.escape(words)):
        load_kernel(spec)
    result = run("convolve", "-k", spec, "in.png", "out.png")
    assert result.exit_code != 0 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("imgconv: error:")


EXTENSIONS = {"text": ".txt", "imagemagick": ".txt", "vips": ".mat", "numpy": ".json"}


@pytest.mark.parametrize("form", FORMATS)
def test_every_form_written_reads_back_to_the_same_weights(tmp_path, form):
    weights = np.array([[0.1, -2.5, 1 / 3], [7.0, 1e-17, -0.0], [2.0, 3.0, 4.0], [1.0, 1.0, 1.0]])
    text = format_kernel(weights, form)
    if form == "imagemagick":
        assert text.startswith("3x4+1+2: ")  # imgconv's anchor, not ImageMagick's default origin
        np.testing.assert_array_equal(load_kernel(text.strip()).weights, weights)
        return
    path = tmp_path / f"k{EXTENSIONS[form]}"
    path.write_text(text)
    if form == "vips":
        # vips conv correlates: the kernel turned by 180 degrees, the even height given a
        # row of zeros after its last row first, so that its middle stays the anchor.
        weights = np.vstack([weights, np.zeros((1, 3))])[::-1, ::-1]
    np.testing.assert_array_equal(load_kernel(path).weights, weights)
    if form == "numpy":
        np.testing.assert_array_equal(np.array(json.loads(text)), weights)


@pytest.mark.parametrize("form", FORMATS)
def test_print_kernel_as_each_form_reproduces_the_preset(tmp_path, form):
    printed = run("blur", "-r", "2", "-s", "1", "--print-kernel", "--as", form)
    text = run("blur", "-r", "2", "-s", "1", "--print-kernel").stdout
    assert printed.exit_code == 0, printed.stderr
    path = tmp_path / f"k{EXTENSIONS[form]}"
    path.write_text(printed.stdout)
    spec = printed.stdout.strip() if form == "imagemagick" else path
    (tmp_path / "t.txt").write_text(text)
    np.testing.assert_array_equal(load_kernel(spec).weights, load_kernel(tmp_path / "t.txt").weights)


def test_as_without_print_kernel_is_refused():
    result = run("blur", "-s", "1", "--as", "vips", "in.png", "out.png")
    assert result.exit_code == 2 and "--print-kernel" in result.stderr


@pytest.mark.parametrize("spec", ["Gaussian:" + "1," * 100_000, "3x3: " + "1 " * 100_000, "x" * 100_000])
def test_a_hostile_spec_is_refused_in_a_short_line(spec):
    with pytest.raises(KernelError) as error:
        load_kernel(spec)
    assert len(str(error.value)) < 400
