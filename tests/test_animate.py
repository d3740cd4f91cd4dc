"""imgconv animate: frame counts, what each frame shows, and the numbers it writes."""

import subprocess
import sys

import numpy as np
import pytest
from helpers import assert_one_line_error, run
from PIL import Image
from test_cli_lecture import slow_conv2d

from imgconv.lecture.animate import COLOURS, Frames, Layout, make_geometry, sample_values

# The measuring parent caps the address space it and its child may map, so that an
# animation that holds every frame, or draws one past the limit, fails with a MemoryError
# instead of taking the machine, and its timeout ends the child if it hangs.
MEASURE = """
import resource, subprocess, sys
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, resource.getrlimit(resource.RLIMIT_AS)[1]))
result = subprocess.run(sys.argv[1:], stderr=subprocess.PIPE, timeout=300)
sys.stderr.buffer.write(result.stderr)
print(result.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
"""


def centre_colour(frame, box):
    return frame.getpixel(((box[0] + box[2]) // 2, (box[1] + box[3]) // 2))


def expected_outputs(h, k, s, p, d):
    return (h + 2 * p - d * (k - 1) - 1) // s + 1


@pytest.mark.parametrize("size, kernel, stride, padding, dilation", [
    (5, 3, 1, 0, 1), (5, 3, 2, 1, 1), (7, 3, 1, 0, 2), (6, 2, 2, 1, 1), (8, 3, 3, 2, 2),
])
@pytest.mark.slow
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
    padding = tuple(zip(geometry.before, geometry.after, strict=True))
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


@pytest.mark.slow
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
    # NumPy takes no negative seed.
    assert_one_line_error(run("animate", tmp_path / "n.gif", "--seed", -1), 2, "--seed")
    assert not (tmp_path / "n.gif").exists()


def animate_peak(*args):
    """``imgconv animate ARGS`` as a program: its exit status, stderr and peak resident
    memory in MiB, measured by a parent of its own (Pillow's allocations are C's)."""
    result = subprocess.run([sys.executable, "-c", MEASURE, sys.executable, "-m", "imgconv", "animate",
                             *map(str, args)], capture_output=True, timeout=600, check=False)
    status, peak = result.stdout.split()
    return int(status), result.stderr.decode(), float(peak)


def frame_count_and_size(path):
    with Image.open(path) as animation:
        return animation.n_frames, animation.size


@pytest.mark.slow
def test_an_animation_over_the_pixel_limit_is_refused_before_anything_is_drawn(tmp_path):
    # 996,004 frames of 60150x30084: one frame alone would take 5.4 GB.
    status, stderr, peak = animate_peak(tmp_path / "a.gif", "--input-size", 1000)
    lines = stderr.splitlines()
    assert status == 2 and len(lines) == 1 and lines[0].startswith("imgconv: error: "), stderr
    assert "996004 frames of 60150x30084" in lines[0] and "--max-pixels" in lines[0]
    assert peak < 100, f"{peak:.0f} MiB"
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_the_limit_counts_the_pixels_of_every_frame(tmp_path, monkeypatch):
    assert run("animate", tmp_path / "a.gif", "--stride", 2, "--padding", 1).exit_code == 0
    count, (width, height) = frame_count_and_size(tmp_path / "a.gif")
    total = count * width * height
    assert count == 9
    result = run("animate", tmp_path / "b.gif", "--stride", 2, "--padding", 1, "--max-pixels", total - 1)
    assert_one_line_error(result, 2, "b.gif", f"9 frames of {width}x{height}", str(total), str(total - 1),
                          "--max-pixels")
    assert not (tmp_path / "b.gif").exists()
    assert run("animate", tmp_path / "b.gif", "--stride", 2, "--padding", 1, "--max-pixels", total).exit_code == 0
    assert frame_count_and_size(tmp_path / "b.gif") == (9, (width, height))
    monkeypatch.setenv("IMGCONV_MAX_PIXELS", str(total - 1))
    assert_one_line_error(run("animate", tmp_path / "c.webp", "--stride", 2, "--padding", 1), 2, str(total))
    assert run("animate", tmp_path / "c.webp", "--stride", 2, "--padding", 1, "--max-pixels", 0).exit_code == 0
    assert frame_count_and_size(tmp_path / "c.webp") == (9, (width, height))


@pytest.mark.slow
def test_memory_does_not_grow_with_the_frame_count(tmp_path):
    status, stderr, one = animate_peak(tmp_path / "one.gif", "--input-size", 3)
    assert status == 0, stderr
    status, stderr, hundred = animate_peak(tmp_path / "hundred.gif", "--input-size", 12)
    assert status == 0, stderr
    count, (width, height) = frame_count_and_size(tmp_path / "hundred.gif")
    assert count == 100
    all_frames = count * width * height * 3 / 2**20  # MiB, as RGB
    assert hundred - one < all_frames / 4, (one, hundred, all_frames)


def test_frames_wider_than_the_format_holds_are_refused(tmp_path):
    # One frame of 36150x114: WebP holds 16383 pixels a side.
    result = run("animate", tmp_path / "a.webp", "--input-size", "1x600", "--kernel-size", "1x600")
    assert_one_line_error(result, 2, "a.webp", "36150x114", "16383", ".png")
    assert not (tmp_path / "a.webp").exists()


@pytest.mark.parametrize("suffix", ["png", "webp"])
def test_apng_and_webp_hold_the_frames_exactly(tmp_path, suffix):
    out = tmp_path / f"a.{suffix}"
    assert run("animate", out, "--input-size", "6x5", "--stride", 2, "--padding", "same", "--numbers",
               "--fps", 4).exit_code == 0
    frames = Frames(make_geometry((6, 5), (3, 3), (2, 2), ("same", "same")), numbers=True)
    with Image.open(out) as animation:
        assert animation.n_frames == len(frames) == 9 and animation.info.get("loop") == 0
        for index in range(len(frames)):
            animation.seek(index)
            np.testing.assert_array_equal(np.asarray(animation.convert("RGB")), np.asarray(frames[index]))
            assert animation.info["duration"] == 250  # WebP's is read with the pixels
