"""Refusals of what an output cannot hold say how to go on, and the way they name works."""

import numpy as np
import tifffile
from helpers import assert_one_line_error, run
from PIL import Image


def test_16_bit_alpha_to_an_8_bit_format_without_alpha_names_both_options(tmp_path):
    grey = np.arange(48, dtype=np.uint16).reshape(6, 8) * 1000
    alpha = np.full_like(grey, 65535)
    alpha[0, 0] = 0
    tifffile.imwrite(tmp_path / "la.tif", np.dstack([grey, alpha]), photometric="minisblack",
                     extrasamples=["unassalpha"])
    tifffile.imwrite(tmp_path / "opaque.tif", np.dstack([grey] * 3 + [np.full_like(grey, 65535)]), photometric="rgb",
                     extrasamples=["unassalpha"])
    result = run("identity", tmp_path / "la.tif", tmp_path / "out.jpg")
    assert_one_line_error(result, 1, "out.jpg", "16-bit grey with alpha", "--depth 8 and --background COLOR")
    result = run("identity", tmp_path / "opaque.tif", tmp_path / "out.jpg")
    assert_one_line_error(result, 1, "out.jpg", "16-bit RGB with alpha", "--depth 8 to convert")
    assert not (tmp_path / "out.jpg").exists()
    composited = run("identity", "--depth", 8, "--background", "white", tmp_path / "la.tif", tmp_path / "la.jpg")
    assert composited.exit_code == 0
    assert run("identity", "--depth", 8, tmp_path / "opaque.tif", tmp_path / "opaque.ppm").exit_code == 0
    with Image.open(tmp_path / "opaque.ppm") as image:
        assert image.mode == "RGB"
        assert np.array_equal(np.asarray(image)[..., 0], np.round(grey / 257).astype(np.uint8))
    with Image.open(tmp_path / "la.jpg") as image:
        assert image.mode == "L"
