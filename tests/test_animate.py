"""imgconv animate: frame counts, what each frame shows, and the numbers it writes."""

import numpy as np
import pytest
from PIL import Image

from imgconv.lecture.animate import COLOURS, Layout, make_geometry, sample_values
from helpers import run
from test_cli_lecture import slow_conv2d


def centre_colour(frame, box):
    return frame.getpixel(((box[0] + box[2]) // 2, (box[1] + box[3]) // 2))


def expected_outputs(h, k, s, p, d):
    return (h + 2 * p - d * (k - 1) - 1) // s + 1


@pytest.mark.parametrize("size, kernel, stride, padding, dilation", [
    (5, 3, 1, 0, 1), (5, 3, 2, 1, 1), (7, 3, 1, 0, 2), (6, 2, 2, 1, 1), (8, 3, 3, 2, 2),
])
def test_frame_count_follows_the_formula(tmp_path, size, kernel, stride, padding, dilation):
    out = tmp_path / "a.gif"
    result = run("animate", out, "--input-size", size, "--kernel-size", kernel, "--stride", stride,
                 "--padding", padding, "--dilation", dilation)
    assert result.exit_code == 0, result.stderr
    side = expected_outputs(size, kernel, stride, padding, dilation)
    with Image.open(out) as animation:
        assert animation.format == "GIF" and animation.n_frames == side * side
        assert animation.info.get("loop") == 0


def test_rectangular_input_and_same_padding(tmp_path):
    assert run("animate", tmp_path / "a.gif", "--input-size", "7x4", "--kernel-size", "3x2", "--padding", "same",
               "--stride", "2").exit_code == 0
    with Image.open(tmp_path / "a.gif") as animation:
        assert animation.n_frames == 4 * 2  # ceil(7/2) x ceil(4/2)


def test_each_frame_highlights_taps_and_the_current_output(tmp_path):
    geometry = make_geometry((5, 5), (3, 3), (2, 2), (1, 1), (2, 2))
    layout = Layout(geometry)
    assert run("animate", tmp_path / "a.gif", "--input-size", 5, "--kernel-size", 3, "--stride", 2,
               "--padding", 1, "--dilation", 2).exit_code == 0
    oh, ow = geometry.output
    assert (oh, ow) == (2, 2)
    with Image.open(tmp_path / "a.gif") as animation:
        for index in range(oh * ow):
            animation.seek(index)
            frame = animation.convert("RGB")
            i, j = divmod(index, ow)
            for a in range(oh):
                for b in range(ow):
                    state = "done" if a * ow + b < index else "current" if a * ow + b == index else "empty"
                    assert centre_colour(frame, layout.output_cell(a, b)) == COLOURS[state]
            taps = {(i * 2 + u * 2, j * 2 + v * 2) for u in range(3) for v in range(3)}
            for r in range(7):
                for c in range(7):
                    colour = centre_colour(frame, layout.input_cell(r, c))
                    if (r, c) in taps:
                        assert colour == COLOURS["tap"]
                    elif r in (0, 6) or c in (0, 6):
                        assert colour == COLOURS["padding"]
                    else:
                        assert colour == COLOURS["input"]  # dilation leaves gaps between taps


def test_numbers_are_the_engine_outputs():
    geometry = make_geometry((6, 5), (3, 2), (2, 1), ("same", "same"), (1, 2))
    inputs, weights, outputs = sample_values(geometry, seed=3)
    padding = tuple(zip(geometry.before, geometry.after))
    expected = slow_conv2d(inputs[np.newaxis], weights[np.newaxis, np.newaxis], None, geometry.stride, padding,
                           geometry.dilation)[0]
    assert outputs.shape == geometry.output == (3, 5)
    np.testing.assert_allclose(outputs, expected, atol=1e-4)
    assert inputs.min() >= 0 and inputs.max() <= 9


def test_numbers_option_and_other_formats(tmp_path):
    assert run("animate", tmp_path / "a.png", "--numbers", "--fps", 5).exit_code == 0
    with Image.open(tmp_path / "a.png") as animation:
        assert animation.format == "PNG" and animation.n_frames == 9
    result = run("animate", tmp_path / "a.jpg")
    assert result.exit_code == 2 and ".gif" in result.stderr


def test_kernel_that_does_not_fit(tmp_path):
    result = run("animate", tmp_path / "a.gif", "--input-size", 3, "--kernel-size", 3, "--dilation", 3)
    assert result.exit_code == 2 and "does not fit" in result.stderr
    assert not (tmp_path / "a.gif").exists()


def test_fps_and_seed(tmp_path):
    assert run("animate", tmp_path / "slow.gif", "--fps", 2).exit_code == 0
    assert run("animate", tmp_path / "fast.gif", "--fps", 10).exit_code == 0
    with Image.open(tmp_path / "slow.gif") as slow, Image.open(tmp_path / "fast.gif") as fast:
        assert slow.info["duration"] == 500 and fast.info["duration"] == 100
    frames = {}
    for seed in (1, 2):
        assert run("animate", tmp_path / f"s{seed}.gif", "--numbers", "--seed", seed).exit_code == 0
        with Image.open(tmp_path / f"s{seed}.gif") as animation:
            frames[seed] = np.asarray(animation.convert("RGB"))
    assert not np.array_equal(frames[1], frames[2])  # other input values are written
    assert not np.array_equal(sample_values(make_geometry((5, 5), (3, 3)), 1)[0],
                              sample_values(make_geometry((5, 5), (3, 3)), 2)[0])
