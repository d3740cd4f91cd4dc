"""Another local user of the machine against a batch reading from or writing into a
folder they may write to: a sub-folder of OUTPUT swapped for a link after the batch
checked it, before it made or wrote into it; an input swapped for a link leading out of
its folder after the plan. The swap is done here, in this process, at the moment an
attacker racing the batch would win."""

import os

import numpy as np
import pytest
from helpers import assert_rounded_from, load, reference, save

from imgconv import batch, kernels, pipeline
from imgconv.batch import run as batch_run
from imgconv.filters import preset_filter

GAUSS = kernels.gaussian(1, radius=2)


def tree(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs)


@pytest.fixture
def layout(tmp_path, rng):
    """in/sub/a.png to blur, out/ (the batch's OUTPUT) and outside/, a folder the batch must never write."""
    image = rng.integers(0, 256, (20, 28, 3)).astype(np.uint8)
    (tmp_path / "in" / "sub").mkdir(parents=True)
    save(tmp_path / "in" / "sub" / "a.png", image)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "keep.txt").write_bytes(b"untouched")
    return tmp_path, image


def swap(path, target):
    """Put a link to ``target`` in the place of ``path`` (moved aside, if there)."""
    if os.path.lexists(path) and not os.path.islink(path):
        os.rename(path, f"{path}.moved")
    os.symlink(target, path)


def swap_after_the_check(monkeypatch, folder, target):
    """Once the batch has checked the output's folder, put a link to ``target`` in its place."""
    checked = batch_run.destination_problem

    def check_then_swap(task):
        problem = checked(task)
        swap(folder, target)
        return problem

    monkeypatch.setattr(batch_run, "destination_problem", check_then_swap)


def swap_while_reading(monkeypatch, folder, target):
    """As the input is read, the output's folder made, put a link to ``target`` in its place."""
    read = pipeline.read_image

    def swap_then_read(*args, **options):
        swap(folder, target)
        return read(*args, **options)

    monkeypatch.setattr(pipeline, "read_image", swap_then_read)


WHEN = {"after-the-check": (swap_after_the_check, ""), "while-reading": (swap_while_reading, "cannot write: ")}


@pytest.mark.parametrize("when", WHEN)
@pytest.mark.parametrize("made", [True, False], ids=["folder-made-before", "folder-made-by-the-batch"])
def test_a_subfolder_swapped_for_a_link_is_not_written_through(layout, monkeypatch, made, when):
    tmp, _ = layout
    out = tmp / "out"
    tasks = batch.plan_batch([str(tmp / "in")], str(out), recursive=True)
    (out / "sub").mkdir(parents=True, exist_ok=True) if made else out.mkdir()
    attack, said = WHEN[when]
    attack(monkeypatch, str(out / "sub"), str(tmp / "outside"))
    result = batch.run_task(tasks[0], preset_filter(GAUSS))
    assert result.error == f"{out}/sub/a.png: {said}its folder no longer lies inside the batch's output folder " \
                           "(a link was put on its way); not written", result
    assert tree(tmp / "outside") == ["keep.txt"]
    assert (tmp / "outside" / "keep.txt").read_bytes() == b"untouched"


def test_folders_made_for_outputs_are_not_made_through_a_link(tmp_path, rng, monkeypatch):
    """in/sub/deeper/a.png becomes out/sub/deeper/a.png: with out/sub a link to outside/
    by then, ``mkdir -p`` would make outside/deeper."""
    (tmp_path / "in" / "sub" / "deeper").mkdir(parents=True)
    save(tmp_path / "in" / "sub" / "deeper" / "a.png", rng.integers(0, 256, (8, 8)).astype(np.uint8))
    (tmp_path / "outside").mkdir()
    out = tmp_path / "out"
    tasks = batch.plan_batch([str(tmp_path / "in")], str(out), recursive=True)
    out.mkdir()
    swap_after_the_check(monkeypatch, str(out / "sub"), str(tmp_path / "outside"))
    result = batch.run_task(tasks[0], preset_filter(GAUSS))
    assert result.status == "failed" and "its folder no longer lies inside" in result.error, result
    assert os.listdir(tmp_path / "outside") == []


def test_links_inside_output_leading_inside_it_are_still_followed(layout):
    """What the batch's checks allow is written: out/sub a link to out/real."""
    tmp, image = layout
    out = tmp / "out"
    (out / "real").mkdir(parents=True)
    (out / "sub").symlink_to("real")
    tasks = batch.plan_batch([str(tmp / "in")], str(out), recursive=True)
    result = batch.run_task(tasks[0], preset_filter(GAUSS))
    assert result.status == "ok", result
    assert_rounded_from(load(out / "real" / "a.png")[1], reference(image, GAUSS))


def test_an_input_swapped_for_a_link_leading_outside_after_the_plan_is_not_read(layout):
    """The plan skips links leading out of the input folder; one put in a planned file's
    place afterwards (to have root filter a file only root can read into OUTPUT) is refused too."""
    tmp, image = layout
    save(tmp / "outside" / "secret.png", image[::-1])
    tasks = batch.plan_batch([str(tmp / "in")], str(tmp / "out"), recursive=True)
    swap(str(tmp / "in" / "sub" / "a.png"), str(tmp / "outside" / "secret.png"))
    result = batch.run_task(tasks[0], preset_filter(GAUSS))
    assert result.error == f"{tmp}/in/sub/a.png: cannot read: a link leading outside {tmp}/in was put in its " \
                           "place; not read", result
    assert not (tmp / "out" / "sub" / "a.png").exists()


def test_an_input_link_inside_the_input_folder_is_read(layout):
    tmp, image = layout
    tasks = batch.plan_batch([str(tmp / "in")], str(tmp / "out"), recursive=True)
    os.rename(tmp / "in" / "sub" / "a.png", tmp / "in" / "kept.png")
    (tmp / "in" / "sub" / "a.png").symlink_to(tmp / "in" / "kept.png")
    result = batch.run_task(tasks[0], preset_filter(GAUSS))
    assert result.status == "ok", result
    assert_rounded_from(load(tmp / "out" / "sub" / "a.png")[1], reference(image, GAUSS))
