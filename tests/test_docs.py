"""The README and the guides cannot drift from the code: commands, modes, options and the
README's Python recipe are checked (tests/test_docs_examples.py runs every example,
tests/test_docs_build.py builds the pages)."""

import ast
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from helpers import SAMPLES, assert_rounded_from, reference, run
from PIL import Image

from imgconv.cli import cli
from imgconv.vocabulary import ALIASES, MODES

README = (SAMPLES.parent / "README.md").read_text()
GUIDES = SAMPLES.parent / "docs" / "guides"


def test_every_command_is_in_the_reference():
    for name in cli.commands:
        assert f"`imgconv {name}`" in README, name


def test_every_mode_and_alias_is_documented():
    guide = (GUIDES / "filters.md").read_text()
    table = guide[guide.index("## Boundary modes"):guide.index("## Convolution and correlation")]
    for name in list(MODES) + list(ALIASES):
        assert re.search(rf"\b{name}\b", table), name


def test_set_up_runs_the_signature_command_on_a_shipped_sample():
    assert "imgconv blur --radius 5 --sigma 3 samples/chelsea.png" in README
    assert (SAMPLES / "chelsea.png").exists()


def test_the_set_up_says_how_the_examples_find_imgconv():
    """Every example after the set-up says plain `imgconv`, which the set-up leaves in
    .venv/bin: the README's way to put it on PATH must work as written."""
    set_up = README.index("## Set-up")
    step = re.search(r"`(\. \.venv/bin/activate)`", README[set_up:README.index("## Gallery")])
    assert step, "the set-up does not say how to put imgconv on PATH"
    root = SAMPLES.parent
    if not (root / ".venv" / "bin" / "activate").exists():
        pytest.skip("no .venv in the repository: the tests run from another environment")
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    env["PATH"] = "/usr/bin:/bin"  # where a new shell finds no imgconv
    assert subprocess.run(["sh", "-c", "command -v imgconv"], env=env, capture_output=True, check=False).returncode != 0
    done = subprocess.run(["sh", "-c", f"{step.group(1)} && imgconv --version"], cwd=root, env=env, check=False,
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("imgconv "), done.stderr


def test_the_python_recipe_gives_scipys_results(tmp_path, monkeypatch):
    """The README's Python recipe, run as written, against scipy.ndimage."""
    block = re.search(r"\*\*In Python\*\*.*?```python\n(.*?)```", README, re.S).group(1)
    (tmp_path / "samples").symlink_to(SAMPLES)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(block, namespace)
    gaussian = np.exp(-np.arange(-5, 6) ** 2 / 18.0)
    gaussian = np.outer(gaussian, gaussian) / gaussian.sum() ** 2
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    assert np.allclose(namespace["smooth"], reference(namespace["pixels"], gaussian), atol=1e-3)
    assert np.allclose(namespace["edges"], reference(namespace["pixels"], sobel_x, "nearest", correlate=True))
    sharpen = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    assert_rounded_from(namespace["sharp"], reference(namespace["pixels"], sharpen, "mirror", correlate=True))
    with Image.open(SAMPLES / "chelsea.png") as original, Image.open(tmp_path / "chelsea-blur.png") as blurred:
        assert blurred.mode == "RGB"
        assert_rounded_from(np.asarray(blurred), reference(np.asarray(original), gaussian))


def test_every_option_is_in_the_guides():
    """Beyond the generated command reference, every option is explained in a guide."""
    guides = "".join(path.read_text() for path in GUIDES.glob("*.md"))
    for name, command in cli.commands.items():
        for param in command.params:
            for option in param.opts:
                if option.startswith("--") and option != "--help":
                    assert re.search(rf"{option}\b", guides), f"{name} {option}"


def test_a_filter_commands_own_options_come_first_in_its_help():
    lines = run("blur", "--help").stdout.splitlines()
    options = [line.split()[0].rstrip(",") for line in lines if line.strip().startswith("-")]
    assert options[:2] == ["-r", "-s"]
    headings = [line for line in lines if line and not line.startswith(" ") and line.endswith(":")]
    assert headings[:6] == ["Options:", "Engine:", "Output:", "Input:", "Messages:",
                            "Batch (several inputs, a folder, or --files-from):"]


@pytest.mark.parametrize("arguments", [[], ["--version"], ["blur", "--help"], ["--help"]])
def test_the_command_line_loads_no_codec_or_engine_to_start(arguments):
    """Help and the version answer without loading NumPy, the engine or any codec."""
    script = ("import sys\nfrom imgconv.cli import cli\ntry:\n    cli.main(sys.argv[1:])\nexcept SystemExit:\n"
              "    pass\nprint(sorted(sys.modules))")
    done = subprocess.run([sys.executable, "-c", script, *arguments], capture_output=True, text=True, check=True)
    loaded = set(ast.literal_eval(done.stdout.splitlines()[-1]))
    heavy = {"numpy", "PIL", "imagecodecs", "tifffile", "scipy", "threadpoolctl", "dask", "imgconv.engine",
             "imgconv.io.read", "imgconv.io.write", "imgconv.io.png", "multiprocessing"}
    assert not loaded & heavy, sorted(loaded & heavy)


@pytest.mark.parametrize("setting, threads", [(None, 1), ("2", 2)])
@pytest.mark.slow
def test_the_command_line_starts_no_blas_thread_pool_unless_asked(setting, threads):
    """NumPy's OpenBLAS starts a pool of threads on import, which the engine never uses."""
    script = ("import sys\nfrom imgconv.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
              "import numpy, threadpoolctl\n"
              "print([i['num_threads'] for i in threadpoolctl.threadpool_info() if i['internal_api'] == 'openblas'])")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    if setting:
        env["OPENBLAS_NUM_THREADS"] = setting
    done = subprocess.run([sys.executable, "-c", script, "--version"], capture_output=True, text=True, check=True,
                          env=env)
    assert ast.literal_eval(done.stdout.splitlines()[-1]) == [threads]
