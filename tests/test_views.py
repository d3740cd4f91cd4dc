"""--view result | side-by-side | thumbnail on real files."""

import numpy as np
import pytest
from helpers import SAMPLES, load, run, save
from PIL import Image

CAT = SAMPLES / "chelsea.png"


@pytest.fixture
def plain(tmp_path):
    assert run("blur", "-s", 3, CAT, tmp_path / "plain.png").exit_code == 0
    return load(tmp_path / "plain.png")[1]


def test_side_by_side(tmp_path, plain):
    assert run("blur", "-s", 3, "--view", "side-by-side", CAT, tmp_path / "sbs.png").exit_code == 0
    mode, pixels = load(tmp_path / "sbs.png")
    original = load(CAT)[1]
    height, width = original.shape[:2]
    assert mode == "RGB" and pixels.shape == (height, 2 * width + 4, 3)
    assert np.array_equal(pixels[:, :width], original)
    assert np.all(pixels[:, width : width + 4] == 255)
    assert np.array_equal(pixels[:, width + 4 :], plain)


def test_thumbnail(tmp_path, plain):
    assert run("blur", "-s", 3, "--view", "thumbnail", CAT, tmp_path / "th.png").exit_code == 0
    pixels = load(tmp_path / "th.png")[1]
    assert pixels.shape == plain.shape
    with Image.open(CAT) as cat:
        small = np.asarray(cat.resize((cat.width // 4, cat.height // 4), Image.BOX))
    h, w = small.shape[:2]
    top = 8
    assert np.array_equal(pixels[top + 2 : top + 2 + h, top + 2 : top + 2 + w], small)
    assert np.all(pixels[top, top : top + w + 4] == 255) and np.all(pixels[top : top + h + 4, top] == 255)
    below = top + h + 4
    assert np.array_equal(pixels[below:], plain[below:])
    assert np.array_equal(pixels[:, top + w + 4 :], plain[:, top + w + 4 :])


@pytest.mark.slow
def test_views_keep_16_bit(tmp_path, camera):
    deep = camera.astype(np.uint16) * 257
    save(tmp_path / "deep.png", deep)
    assert run("box", "-r", 1, "--view", "side-by-side", tmp_path / "deep.png", tmp_path / "out.png").exit_code == 0
    mode, pixels = load(tmp_path / "out.png")
    assert mode == "I;16" and np.array_equal(pixels[:, :512], deep) and np.all(pixels[:, 512:516] == 65535)


def test_view_needs_an_image_output(tmp_path):
    result = run("blur", "-s", 3, "--view", "thumbnail", CAT, tmp_path / "x.npy")
    assert result.exit_code == 2 and "--view" in result.stderr and not (tmp_path / "x.npy").exists()
