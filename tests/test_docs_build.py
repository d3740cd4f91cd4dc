"""The documentation builds, as the README's command builds it: HTML pages and the man
page, from docs/, with warnings as errors, into a temporary folder (nothing is left in
the repository). The man page is read back with man(1), as `man -l` shows it.

The two builders share one folder of parsed pages, so the sources are read once.
"""

import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import SAMPLES

from imgconv.cli import cli

# Two Sphinx builds, 10 s: outside the quick subset.
pytestmark = pytest.mark.slow

ROOT = SAMPLES.parent
pytest.importorskip("sphinx", reason="the docs extra is not installed: pip install -e '.[docs]'")


def sphinx(builder: str, output: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sphinx", "-M", builder, str(ROOT / "docs"), str(output), "-W",
                           "--keep-going", "-q"], capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    output = tmp_path_factory.mktemp("docs")
    for builder in ("html", "man"):
        done = sphinx(builder, output)
        assert done.returncode == 0, f"sphinx-build -M {builder}:\n{done.stderr}"
        assert done.stderr == "", done.stderr
    return output


def test_every_page_is_built(built):
    pages = {path.relative_to(ROOT / "docs").with_suffix("").as_posix()
             for path in (ROOT / "docs").rglob("*.md")}
    written = {path.relative_to(built / "html").with_suffix("").as_posix()
               for path in (built / "html").rglob("*.html")}
    assert pages <= written, sorted(pages - written)
    front = (built / "html" / "index.html").read_text(encoding="utf-8")
    # The front page is the README, its pictures and links made relative to docs/.
    assert 'src="_images/blur.jpg"' in front and 'href="guides/batch.html"' in front
    assert (built / "html" / "_images" / "blur.jpg").stat().st_size == (ROOT / "docs/gallery/blur.jpg").stat().st_size


def test_the_command_reference_is_generated_from_the_commands(built):
    page = (built / "html" / "reference" / "cli.html").read_text(encoding="utf-8")
    for name, command in cli.commands.items():
        assert f'id="imgconv-{name}"' in page, name
        for param in command.params:
            for option in param.opts:
                if option.startswith("--"):
                    assert f'id="cmdoption-imgconv-{name}-{option[2:]}"' in page, (name, option)
    # Help text is shown as --help prints it, not read as reStructuredText.
    assert "|gx|, |gy| or hypot(gx, gy)" in page and "--radius" in page


def test_the_api_reference_is_generated_from_the_package(built):
    import imgconv

    page = (built / "html" / "reference" / "api.html").read_text(encoding="utf-8")
    public = [name for name in dir(imgconv)
              if not name.startswith("_") and not inspect.ismodule(getattr(imgconv, name))]
    assert {"blur", "imread", "Picture", "convolve"} <= set(public)
    for name in public:
        assert f'id="imgconv.{name}"' in page or f'id="module-imgconv.{name}"' in page, name
    assert "Parameters" in page  # numpydoc's sections


def test_the_man_page_shows_every_command(built):
    page = built / "man" / "imgconv.1"
    man = shutil.which("man")
    if man is None:
        if os.environ.get("CI"):
            pytest.fail("man is missing: apt-get install -y man-db")
        pytest.skip("man is missing: apt-get install -y man-db")
    env = {**os.environ, "MANWIDTH": "100", "MAN_KEEP_FORMATTING": ""}
    done = subprocess.run([man, "--warnings", "-l", str(page)], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    text = re.sub(r".\x08", "", done.stdout)  # overstrikes, should man keep them
    assert text.startswith("IMGCONV(1)")
    for heading in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS", "ENVIRONMENT"):
        assert f"\n{heading}\n" in text, heading
    assert "imgconv - image convolution from the command line" in text
    for name in cli.commands:
        assert re.search(rf"^   {name}$", text, re.M), name
    assert "--boundary" in text and "IMGCONV_MAX_PIXELS" in text
