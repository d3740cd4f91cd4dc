"""Hostile input and faults in a batch: outputs confined to OUTPUT, symbolic links,
worker processes that die with their parent, job caps, counts after a signal."""

import os

import numpy as np
import pytest

from imgconv import batch, kernels
from imgconv.errors import InvalidInputError
from helpers import assert_one_line_error, assert_rounded_from, load, reference, run, save

BLUR = ["blur", "-r", "2", "-s", "1"]
GAUSS = kernels.gaussian(2, 1)


def files_under(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs)


def assert_blurred(out, original):
    assert_rounded_from(load(out)[1], reference(original, GAUSS))


@pytest.fixture
def pictures(tmp_path, rng):
    """in/a.png, in/b.png and outside/secret.png (not under in/), each a random RGB picture."""
    images = {}
    for relative in ["in/a.png", "in/b.png", "outside/secret.png"]:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        images[relative] = rng.integers(0, 256, (20, 28, 3)).astype(np.uint8)
        save(path, images[relative])
    return tmp_path, images


# --- Outputs stay inside OUTPUT -------------------------------------------------------


@pytest.mark.parametrize("suffix", ["/../../../x", "/x", "_a/b", "x\0y"])
def test_a_suffix_with_a_path_separator_or_nul_is_a_usage_error(pictures, suffix):
    tmp, _ = pictures
    (tmp / "out" / "a" / "x").mkdir(parents=True)  # what the old escape needed to exist
    result = run(*BLUR, "--suffix", suffix, tmp / "in" / "a.png", tmp / "out")
    assert_one_line_error(result, 2, "--suffix")
    assert files_under(tmp) == ["in/a.png", "in/b.png", "outside/secret.png"]


def test_a_suffix_of_dots_alone_stays_a_name(pictures):
    tmp, images = pictures
    result = run(*BLUR, "--suffix", "..", tmp / "in", tmp / "out")
    assert result.exit_code == 0, result.stderr
    assert files_under(tmp / "out") == ["a...png", "b...png"]
    assert_blurred(tmp / "out" / "a...png", images["in/a.png"])


def test_an_output_folder_leading_outside_refuses_the_batch_before_any_work(pictures):
    tmp, images = pictures
    (tmp / "in" / "sub").mkdir()
    save(tmp / "in" / "sub" / "c.png", images["in/a.png"])
    (tmp / "out").mkdir()
    (tmp / "elsewhere").mkdir()
    (tmp / "out" / "sub").symlink_to(tmp / "elsewhere")  # out/sub/c.png would land in elsewhere/
    result = run(*BLUR, "-R", tmp / "in", tmp / "out")
    assert_one_line_error(result, 2, "c.png", "outside")
    assert os.listdir(tmp / "elsewhere") == []
    assert os.listdir(tmp / "out") == ["sub"]  # refused before any work: a.png and b.png not written either


def test_a_name_without_a_file_name_is_refused(pictures):
    tmp, _ = pictures
    with pytest.raises(InvalidInputError, match="outside"):
        batch.plan_batch([str(tmp / "missing" / "..")], str(tmp / "out" / "deeper"))


def test_names_from_files_from_keep_only_their_file_name(pictures):
    tmp, images = pictures
    listing = f"{tmp / 'in' / '..' / 'outside' / 'secret.png'}\n{tmp / 'in' / 'a.png'}\n"
    result = run(*BLUR, "--files-from", "-", tmp / "out", input=listing)
    assert result.exit_code == 0, result.stderr
    assert files_under(tmp / "out") == ["a.png", "secret.png"]
    assert_blurred(tmp / "out" / "secret.png", images["outside/secret.png"])


def test_every_planned_output_lies_inside_output(pictures):
    tmp, _ = pictures
    tasks = batch.plan_batch([str(tmp / "in"), str(tmp / "outside" / "secret.png")], str(tmp / "out"),
                             format="tiff", suffix="-x")
    out = os.path.realpath(tmp / "out")
    assert [os.path.relpath(t.dest, tmp / "out") for t in tasks] == ["a-x.tiff", "b-x.tiff", "secret-x.tiff"]
    for task in tasks:
        assert os.path.dirname(os.path.realpath(task.dest)) == out and task.root == str(tmp / "out")


# --- Symbolic links in the input tree -------------------------------------------------


def test_links_leading_outside_the_input_are_skipped_with_a_note(pictures):
    tmp, images = pictures
    (tmp / "in" / "sub").mkdir()
    save(tmp / "in" / "sub" / "c.png", images["in/b.png"])
    (tmp / "in" / "leak.png").symlink_to(tmp / "outside" / "secret.png")
    (tmp / "in" / "sub" / "up.png").symlink_to(os.path.join("..", "..", "outside", "secret.png"))  # relative
    (tmp / "in" / "folder").symlink_to(tmp / "outside")
    (tmp / "in" / "gone.png").symlink_to(tmp / "outside" / "missing.png")  # dangling, outside
    (tmp / "in" / "same.png").symlink_to(tmp / "in" / "a.png")  # stays inside: read
    (tmp / "in" / "sub" / "near.png").symlink_to(os.path.join("..", "b.png"))  # stays inside: read
    result = run(*BLUR, "-R", tmp / "in", tmp / "out")
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[-1] == "processed 5, skipped 0, failed 0"  # the skipped links are not counted
    notes = sorted(lines[:-1])
    assert notes == sorted(f"imgconv: note: {tmp / 'in' / name}: symbolic link leads outside {tmp / 'in'}; skipped"
                           for name in ["folder", "gone.png", "leak.png", os.path.join("sub", "up.png")])
    assert files_under(tmp / "out") == ["a.png", "b.png", "same.png", "sub/c.png", "sub/near.png"]
    assert_blurred(tmp / "out" / "same.png", images["in/a.png"])
    assert_blurred(tmp / "out" / "sub" / "near.png", images["in/b.png"])


def test_links_are_checked_without_recursion_too_and_quiet_hides_the_note(pictures):
    tmp, _ = pictures
    (tmp / "in" / "leak.png").symlink_to(tmp / "outside" / "secret.png")
    result = run(*BLUR, tmp / "in", tmp / "out")
    assert result.exit_code == 0
    assert result.stderr.splitlines()[0].startswith("imgconv: note: ")
    assert files_under(tmp / "out") == ["a.png", "b.png"]
    result = run(*BLUR, "--quiet", tmp / "in", tmp / "out2")
    assert result.exit_code == 0 and result.stderr == ""
    assert files_under(tmp / "out2") == ["a.png", "b.png"]


def test_an_excluded_link_gets_no_note(pictures):
    tmp, _ = pictures
    (tmp / "in" / "leak.png").symlink_to(tmp / "outside" / "secret.png")
    result = run(*BLUR, "--exclude", "leak*", tmp / "in", tmp / "out")
    assert result.exit_code == 0 and "note" not in result.stderr


def test_an_input_folder_reached_through_a_link_is_scanned(pictures):
    tmp, images = pictures
    (tmp / "alias").symlink_to(tmp / "in")  # named by the user: followed
    (tmp / "in" / "same.png").symlink_to(tmp / "in" / "a.png")
    result = run(*BLUR, tmp / "alias", tmp / "in" / "a.png", tmp / "outside" / "secret.png", tmp / "out1")
    assert result.exit_code == 2 and "would both write" in result.stderr  # alias/a.png and in/a.png
    result = run(*BLUR, tmp / "alias", tmp / "out")
    assert result.exit_code == 0 and "note" not in result.stderr, result.stderr
    assert files_under(tmp / "out") == ["a.png", "b.png", "same.png"]


def test_a_file_named_by_the_user_is_read_wherever_its_link_leads(pictures):
    tmp, images = pictures
    (tmp / "in" / "leak.png").symlink_to(tmp / "outside" / "secret.png")
    result = run(*BLUR, tmp / "in" / "leak.png", tmp / "in" / "a.png", tmp / "out")
    assert result.exit_code == 0, result.stderr
    assert_blurred(tmp / "out" / "leak.png", images["outside/secret.png"])


# --- A symbolic link already at a destination -----------------------------------------


def test_an_output_that_is_a_link_leading_outside_is_refused_not_written_through(pictures):
    tmp, images = pictures
    (tmp / "out").mkdir()
    target = tmp / "outside" / "secret.png"
    before = target.read_bytes()
    (tmp / "out" / "a.png").symlink_to(target)
    for options in ([], ["--skip-existing"], ["-j", "2"]):  # the target is newer than in/a.png: still refused
        result = run(*BLUR, *options, tmp / "in", tmp / "out")
        assert result.exit_code == 1, result.stderr
        lines = result.stderr.splitlines()
        assert lines[0] == (f"imgconv: error: {tmp / 'out' / 'a.png'}: is a symbolic link leading outside "
                            f"{tmp / 'out'}; not written")
        assert lines[-1] in ("processed 1, skipped 0, failed 1", "processed 0, skipped 1, failed 1")
        assert target.read_bytes() == before and os.path.islink(tmp / "out" / "a.png")
        assert files_under(tmp / "outside") == ["secret.png"]  # not even a temporary file
        assert_blurred(tmp / "out" / "b.png", images["in/b.png"])


def test_an_output_that_is_a_link_inside_output_is_replaced(pictures):
    tmp, images = pictures
    (tmp / "out" / "keep").mkdir(parents=True)
    kept = save(tmp / "out" / "keep" / "k.png", images["outside/secret.png"])
    before = kept.read_bytes()
    (tmp / "out" / "a.png").symlink_to(kept)
    result = run(*BLUR, tmp / "in", tmp / "out")
    assert result.exit_code == 0, result.stderr
    assert not os.path.islink(tmp / "out" / "a.png")  # the rename replaces the link itself
    assert_blurred(tmp / "out" / "a.png", images["in/a.png"])
    assert kept.read_bytes() == before


def test_a_folder_link_planted_after_planning_is_refused_by_the_worker(pictures):
    tmp, images = pictures
    tasks = batch.plan_batch([str(tmp / "in")], str(tmp / "out"))
    (tmp / "out").mkdir()
    (tmp / "out" / "a.png").symlink_to(tmp / "outside" / "secret.png")
    result = batch.run_task(tasks[0], None)
    assert result.status == "failed" and "symbolic link leading outside" in result.error
    nested = batch.Task(str(tmp / "in" / "b.png"), str(tmp / "out" / "sub" / "b.png"), str(tmp / "out"))
    (tmp / "out" / "sub").symlink_to(tmp / "outside")
    result = batch.run_task(nested, None)
    assert result.status == "failed" and "folder leads outside" in result.error
    assert files_under(tmp / "outside") == ["secret.png"]
