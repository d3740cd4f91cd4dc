"""Every example of the README and the documentation runs as written.

The pages are README.md and every Markdown page under docs/. Their fenced blocks run in
order, page by page, in a scratch folder that holds a copy of samples/ and the files the
examples name (`workspace`):

- a ``sh`` block runs in bash (``-e -o pipefail``) and must exit 0 with no traceback and
  no ``imgconv: error`` line;
- a ``python`` block runs in one namespace for its page (its ``assert`` statements are
  checks of their own);
- a ``text`` block whose first line starts with ``$ `` runs that command and must print
  the rest of the block exactly (standard output and error together).

A block that cannot run here (it installs, serves, or needs other machines) follows a
line ``<!-- not run by the docs tests: REASON -->``.
"""

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import tifffile
from helpers import SAMPLES
from PIL import Image

# Every example run as written, 0.5-10 s a page: outside the quick subset.
pytestmark = pytest.mark.slow

ROOT = SAMPLES.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
NOT_RUN = re.compile(r"<!-- not run by the docs tests: (.*) -->")


@dataclass(frozen=True)
class Block:
    language: str  # the fence's info string: sh, python, text...
    text: str
    line: int  # of the opening fence, 1-based
    not_run: str | None  # why it is not run, or None


def blocks(page: Path) -> list[Block]:
    """The page's fenced blocks, MyST directives (```{...}) left out."""
    found: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.startswith("```"):
            index += 1
            continue
        end = lines.index("```", index + 1)
        before = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        reason = NOT_RUN.fullmatch(before.strip())
        language = line[3:].strip()
        if not language.startswith("{"):
            found.append(Block(language, "\n".join(lines[index + 1:end]) + "\n", index + 1,
                               reason.group(1) if reason else None))
        index = end + 1
    return found


def runnable(block: Block) -> bool:
    return block.not_run is None and (block.language in ("sh", "python")
                                      or (block.language == "text" and block.text.startswith("$ ")))


def page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


RUN_PAGES = [page for page in PAGES if any(map(runnable, blocks(page)))]


def make_workspace(folder: Path) -> None:
    """The files the examples name, built from the samples: small, so that the examples
    run quickly."""
    shutil.copytree(SAMPLES, folder / "samples")
    with Image.open(SAMPLES / "chelsea.png") as image:
        chelsea = np.asarray(image)
    with Image.open(SAMPLES / "camera.png") as image:
        camera = np.asarray(image)
    Image.fromarray(chelsea).save(folder / "in.png")
    Image.fromarray(chelsea).save(folder / "photo.jpg", quality=90)
    photos = folder / "photos"
    (photos / "trip").mkdir(parents=True)
    crops = {"a.jpg": chelsea[:80, :120], "b.png": chelsea[100:180, 200:320], "raw_c.jpg": chelsea[200:280, :120],
             "trip/d.jpg": chelsea[50:130, 300:420], "trip/e.png": chelsea[150:230, 100:220]}
    for name, crop in crops.items():
        Image.fromarray(np.ascontiguousarray(crop)).save(photos / name)
    tifffile.imwrite(folder / "scan.tif", camera[:256, :256].astype(np.uint16) * 257)  # 16-bit grey
    tifffile.imwrite(folder / "data.tif", camera[:256, :256].astype(np.float32) / 255)  # float, 0.0-1.0
    Image.fromarray(chelsea).convert("CMYK").save(folder / "print.tif")  # CMYK, no profile
    tifffile.imwrite(folder / "slide.tif", np.tile(chelsea, (2, 2, 1)), tile=(128, 128), photometric="rgb")
    zarr = pytest.importorskip("zarr")
    zarr.create_array(store=folder / "mosaic.zarr", data=camera, chunks=(128, 128))
    frames = [Image.fromarray(np.ascontiguousarray(chelsea[y:y + 48, 100:164])) for y in (0, 40, 80)]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    logo = np.zeros((64, 64, 4), np.uint8)
    logo[..., 0], logo[16:48, 16:48, 3] = 200, 255
    logo[8:56, 8:56, 3] = np.maximum(logo[8:56, 8:56, 3], 128)  # opaque, half and fully transparent
    Image.fromarray(logo).save(folder / "logo.png")
    (folder / "home").mkdir()
    bin_folder = folder / "bin"
    bin_folder.mkdir()
    shim = bin_folder / "imgconv"  # the imgconv of the interpreter under test
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m imgconv "$@"\n')
    shim.chmod(0o755)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """The files of `make_workspace`, made once for the module (0.14 s of CPU a page) and
    copied into each page's scratch folder, times kept."""
    folder = tmp_path_factory.mktemp("workspace")
    make_workspace(folder)
    return folder


def scratch(workspace: Path, folder: Path) -> None:
    shutil.copytree(workspace, folder, symlinks=True, dirs_exist_ok=True)


def environment(folder: Path) -> dict[str, str]:
    """The examples' environment: imgconv first on the PATH, a home of their own, no
    IMGCONV_ settings of the caller's, and bytecode, as an installed imgconv has it (a
    machine that sets PYTHONDONTWRITEBYTECODE would compile every module at every
    command: 0.31 s of CPU a blur instead of 0.21), kept where tests/conftest.py has the
    workers keep theirs: the modules they compiled already are not compiled again."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("IMGCONV_") and key != "PYTHONDONTWRITEBYTECODE"}
    env.update(PATH=f"{folder / 'bin'}:/usr/bin:/bin", HOME=str(folder / "home"))
    assert env.get("PYTHONPYCACHEPREFIX"), "tests/conftest.py sets it"
    return env


def run_shell(block: Block, page: Path, folder: Path, env: dict[str, str]) -> None:
    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block.text], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    where = f"{page_id(page)}:{block.line}"
    assert done.returncode == 0, f"{where}: exit status {done.returncode}\n{done.stderr}"
    assert "Traceback" not in done.stderr and "imgconv: error" not in done.stderr, f"{where}\n{done.stderr}"


def run_transcript(block: Block, page: Path, folder: Path, env: dict[str, str]) -> None:
    command, _, expected = block.text.partition("\n")
    done = subprocess.run(["bash", "-c", command[2:]], cwd=folder, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=600, check=False)
    assert done.stdout == expected, f"{page_id(page)}:{block.line}: {command} printed\n{done.stdout}"


@pytest.mark.parametrize("page", RUN_PAGES, ids=page_id)
def test_the_examples_run(page, tmp_path, monkeypatch, workspace):
    scratch(workspace, tmp_path)
    monkeypatch.chdir(tmp_path)
    env = environment(tmp_path)
    namespace: dict[str, object] = {}
    for block in filter(runnable, blocks(page)):
        if block.language == "sh":
            run_shell(block, page, tmp_path, env)
        elif block.language == "python":
            exec(compile(block.text, f"{page_id(page)}:{block.line}", "exec"), namespace)
        else:
            run_transcript(block, page, tmp_path, env)


def test_a_block_not_run_says_why_and_every_page_runs_some():
    for page in PAGES:
        for block in blocks(page):
            assert block.not_run is None or block.not_run.strip(), f"{page_id(page)}:{block.line}"
        text = page.read_text(encoding="utf-8")
        for marker in NOT_RUN.finditer(text):
            after = text[marker.end():].lstrip("\n")
            assert after.startswith("```"), f"{page_id(page)}: '{marker.group(0)}' stands before no block"
    assert {"README.md", "docs/guides/images.md", "docs/guides/filters.md"} <= set(map(page_id, RUN_PAGES))


def test_a_failing_example_fails_the_test(tmp_path, workspace):
    """The runners see failures: a command that fails, and a transcript that differs."""
    scratch(workspace, tmp_path)
    env = environment(tmp_path)
    page = ROOT / "README.md"
    with pytest.raises(AssertionError, match="exit status 1"):
        run_shell(Block("sh", "imgconv blur -s 2 missing.png out.png\n", 1, None), page, tmp_path, env)
    with pytest.raises(AssertionError, match="printed"):
        run_transcript(Block("text", "$ imgconv kernels\nblur  nothing else\n", 1, None), page, tmp_path, env)
