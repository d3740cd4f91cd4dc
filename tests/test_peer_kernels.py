"""Kernels checked against the real tools: ImageMagick's ``convert`` (6.9) and libvips' ``vips``.

ImageMagick prints the kernel it builds from a string (``-define morphology:showKernel=1``),
which is compared with what imgconv reads, through the impulse response that ImageMagick's
``-morphology Convolve`` gives: ``out[y, x] = sum k[i, j] in[y - i + Y, x - j + X]`` for the
origin (X, Y). Then both tools filter a crop of a photograph, and the kernels imgconv
writes (``--print-kernel --as imagemagick|vips``) give imgconv's pixels in the other tool.
Each tool writes 8-bit samples rounded its own way (ImageMagick's PNG writer truncates its
16-bit result), hence "within one level". Under CI a missing tool is a failure.
"""

import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import SAMPLES, run
from PIL import Image

import imgconv
from imgconv.errors import KernelError

CONVERT, VIPS = Path("/usr/bin/convert"), Path("/usr/bin/vips")


@pytest.fixture(scope="module")
def tools():
    missing = [str(p) for p in (CONVERT, VIPS) if not os.access(p, os.X_OK)]
    if missing:
        message = f"missing {', '.join(missing)} (apt-get install -y imagemagick libvips-tools)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    """48x48 crops of the grey camera photo and of the colour cat photo, as PNG."""
    folder = tmp_path_factory.mktemp("crops")
    paths = {}
    for name, box in (("camera", (200, 100, 248, 148)), ("chelsea", (120, 70, 168, 118))):
        with Image.open(SAMPLES / f"{name}.png") as image:
            paths[name] = folder / f"{name}.png"
            image.crop(box).save(paths[name])
    return paths


def magick_kernels(spec):
    """The kernels ImageMagick builds from ``spec``: (values, (X, Y)) each."""
    shown = subprocess.run([CONVERT, "-precision", "17", "xc:", "-define", "morphology:showKernel=1",
                            "-morphology", "Convolve", spec, "null:"],
                           capture_output=True, text=True, check=True).stderr
    kernels = []
    for block in re.split(r"(?m)^Kernel ", shown)[1:]:
        x, y = map(int, re.search(r"of size \d+x\d+\+(\d+)\+(\d+)", block).groups())
        rows = [line.split(":", 1)[1].split() for line in block.splitlines() if re.match(r"\s*\d+:", line)]
        kernels.append((np.nan_to_num(np.array(rows, dtype=float)), (x, y)))
    return kernels


def impulse_response(kernels, size=41):
    """What ImageMagick's -morphology Convolve makes of a unit impulse, kernel after kernel."""
    out = np.zeros((size, size))
    out[size // 2, size // 2] = 1.0
    for values, (x, y) in kernels:
        step = np.zeros_like(out)
        for (i, j), weight in np.ndenumerate(values):
            step += weight * np.roll(out, (i - y, j - x), axis=(0, 1))
        out = step
    return out


SPECS = ["Gaussian:0x2", "Gaussian:3x1", "Blur", "Blur:0x1", "Blur:1.5x1", "Blur:1.5x1,90", "DoG:0,1,2",
         "LoG:0,2", "Sobel", "Sobel:45", "Sobel:90", "Laplacian:0", "Laplacian:19", "3x3: 1,2,1 2,4,2 1,2,1",
         "3x3+1+1: 1,2,1 2,4,2 1,2,1", "3x3+0+0: 1,2,3 4,5,6 7,8,9", "3x2+2+1: 1,2,3 4,5,6",
         "4x1: 0.1,0.2,0.3,0.4", "2x2+1+1: 0.1,0.2 0.3,0.4", "Gaussian:0x1;Sobel", "Blur:0x1;Blur:0x1,90"]


@pytest.mark.parametrize("spec", SPECS)
def test_kernels_read_convolve_as_imagemagick_builds_them(tools, spec):
    impulse = np.zeros((41, 41))
    impulse[20, 20] = 1.0
    ours = imgconv.convolve(impulse, imgconv.load_kernel(spec), mode="constant")
    np.testing.assert_allclose(ours, impulse_response(magick_kernels(spec)), rtol=0, atol=1e-14)


@pytest.mark.parametrize("spec", ["Gaussian:1.5x1", "DoG:2.5,1,2"])
def test_a_radius_imagemagick_fills_only_in_part_is_refused(tools, spec):
    # ImageMagick allocates an even width from the radius but computes only its odd centre.
    (values, _), = magick_kernels(spec)
    assert values.shape[0] % 2 == 0
    with pytest.raises(KernelError, match="fills only in part"):
        imgconv.load_kernel(spec)


def read(path, mode):
    with Image.open(path) as image:
        return np.asarray(image.convert(mode)).astype(int)


def assert_within_one_level(ours, theirs, margin):
    """Equal within one level, and not everywhere 0 or 255 (which would prove nothing)."""
    ours, theirs = ours[margin:-margin, margin:-margin], theirs[margin:-margin, margin:-margin]
    assert np.abs(ours - theirs).max() <= 1
    assert np.ptp(theirs) > 20


@pytest.mark.parametrize(("spec", "photo"), [
    ("Gaussian:0x2", "chelsea"), ("DoG:0,1,2", "camera"), ("LoG:0,2", "camera"), ("Sobel:90", "chelsea"),
    ("Laplacian:0", "camera"), ("3x3+2+1: 1,0,0 0,0,0 0,0,-1", "camera"), ("4x1: 0.1,0.2,0.3,0.4", "camera"),
    ("Blur:0x1;Blur:0x1,90", "chelsea"),
])
def test_imagemagick_filters_a_photo_as_imgconv_reads_its_string(tools, crops, tmp_path, spec, photo):
    mode = "RGB" if photo == "chelsea" else "L"
    subprocess.run([CONVERT, crops[photo], "-morphology", "Convolve", spec, tmp_path / "im.png"], check=True)
    result = run("convolve", "-b", "nearest", "-k", spec, crops[photo], tmp_path / "ours.png")
    assert result.exit_code == 0, result.stderr
    assert_within_one_level(read(tmp_path / "ours.png", mode), read(tmp_path / "im.png", mode), 8)


PRESETS = [("blur", "-r", "3", "-s", "1.5"), ("emboss",), ("sharpen", "--amount", "2"),
           ("box", "--kernel-size", "4"), ("motion", "--length", "5", "--angle", "30")]


def preset_and_kernel(preset, form, source, tmp_path):
    """imgconv's result for ``preset`` on ``source``, and the kernel it prints as ``form``."""
    result = run(*preset, "-b", "nearest", source, tmp_path / "ours.png")
    assert result.exit_code == 0, result.stderr
    printed = run(*preset, "--print-kernel", "--as", form)
    assert printed.exit_code == 0, printed.stderr
    return read(tmp_path / "ours.png", "L"), printed.stdout


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p[0])
def test_the_imagemagick_string_printed_gives_the_command_in_convert(tools, crops, tmp_path, preset):
    ours, spec = preset_and_kernel(preset, "imagemagick", crops["camera"], tmp_path)
    subprocess.run([CONVERT, crops["camera"], "-morphology", "Convolve", spec.strip(), tmp_path / "im.png"],
                   check=True)
    assert_within_one_level(ours, read(tmp_path / "im.png", "L"), 4)


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p[0])
def test_the_vips_matrix_printed_gives_the_command_in_vips_conv(tools, crops, tmp_path, preset):
    ours, mat = preset_and_kernel(preset, "vips", crops["camera"], tmp_path)
    (tmp_path / "k.mat").write_text(mat)
    # vips conv computes in float and writes float (here as a matrix of text): its exact
    # result, clipped as imgconv clips.
    subprocess.run([VIPS, "conv", crops["camera"], tmp_path / "out.mat", tmp_path / "k.mat"], check=True)
    theirs = np.loadtxt(tmp_path / "out.mat", skiprows=1).clip(0, 255)
    inner = (slice(4, -4), slice(4, -4))
    assert np.abs(ours[inner] - theirs[inner]).max() <= 0.5 + 1e-3
    assert np.ptp(theirs[inner]) > 20
    again = run("convolve", "--correlate", "-b", "nearest", "-k", tmp_path / "k.mat", crops["camera"],
                tmp_path / "again.png")
    assert again.exit_code == 0, again.stderr
    np.testing.assert_array_equal(read(tmp_path / "again.png", "L"), ours)
