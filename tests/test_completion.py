"""Shell completion: Click's protocol as bash, zsh and fish speak it, the scripts that
``imgconv completion`` prints, and the bash script run by a real bash."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from imgconv.cli import cli
from imgconv.vocabulary import ALIASES, METHODS, MODES, VIEWS

IMGCONV = Path(sys.executable).with_name("imgconv")
BASH = shutil.which("bash")


def offered(shell, line):
    """What ``shell`` is offered for the last word of ``line`` (a command line typed up
    to the cursor): (type, value, help) for each completion, as imgconv answers it."""
    words = line.split(" ")
    env = {"_IMGCONV_COMPLETE": f"{shell}_complete", "COMP_WORDS": line}
    env["COMP_CWORD"] = words[-1] if shell == "fish" else str(len(words) - 1)
    result = CliRunner().invoke(cli, [], env=env, catch_exceptions=False)
    assert result.exit_code == 0 and result.stderr == "", result.stderr
    if shell == "zsh":  # type, value, help (or _) on three lines each
        lines = result.stdout.split("\n")[:-1] if result.stdout.strip() else []  # none: one empty line
        assert len(lines) % 3 == 0, result.stdout
        triples = zip(lines[0::3], lines[1::3], lines[2::3], strict=True)
        return [(t, v.replace("\\:", ":"), None if h == "_" else h) for t, v, h in triples]
    answers = []
    for answer in result.stdout.splitlines():
        kind, _, rest = answer.partition(",")
        value, _, help_text = rest.partition("\t")  # fish alone sends the help, after a tab
        answers.append((kind, value, help_text or None))
    return answers


def values(shell, line):
    return [value for kind, value, _ in offered(shell, line) if kind == "plain"]


SHELLS = ["bash", "zsh", "fish"]


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("command", ["blur", "convolve", "conv-layer", "learn"])
def test_boundary_modes_complete(shell, command):
    assert values(shell, f"imgconv {command} --boundary ") == list(MODES)
    assert values(shell, f"imgconv {command} -b w") == ["wrap"]


@pytest.mark.parametrize("shell", SHELLS)
def test_aliases_complete_once_a_letter_is_typed(shell):
    answers = offered(shell, "imgconv blur -b re")
    assert [value for _, value, _ in answers] == ["reflect", "reflect101", "reflect_101", "replicate"]
    helps = {value: help_text for _, value, help_text in answers}
    if shell != "bash":  # bash shows no descriptions
        assert helps["replicate"] == f"the same as {ALIASES['replicate']}" and helps["reflect"] is None
    assert values(shell, "imgconv blur -b C") == ["constant", "clamp", "circular"]  # in any case


@pytest.mark.parametrize("shell", SHELLS)
def test_choices_complete(shell):
    assert values(shell, "imgconv sobel --method ") == list(METHODS)
    assert values(shell, "imgconv sharpen --view ") == list(VIEWS)
    assert values(shell, "imgconv sobel -d ") == ["x", "y", "magnitude"]
    assert values(shell, "imgconv blur --compression ") == ["none", "deflate", "lzw", "zstd", "packbits"]
    assert values(shell, "imgconv conv-layer --padding ") == ["valid", "same", "full"]
    assert values(shell, "imgconv completion ") == SHELLS


@pytest.mark.parametrize("shell", SHELLS)
def test_formats_complete_as_this_pillow_writes_them(shell):
    every = values(shell, "imgconv blur --format ")
    written = {ext[1:] for ext, name in Image.registered_extensions().items() if name in Image.SAVE}
    assert {"png", "jpeg", "jpg", "tif", "tiff", "npy"} <= set(every)
    assert set(every) - {"npy"} <= written | {name.lower() for name in Image.SAVE}
    assert values(shell, "imgconv blur --format jp") == [v for v in every if v.startswith("jp")] != []


@pytest.mark.parametrize("shell", SHELLS)
def test_commands_and_colours_complete(shell):
    assert values(shell, "imgconv conv") == ["conv-layer", "convolve"]
    assert values(shell, "imgconv s") == ["scharr", "sharpen", "sobel"]
    assert values(shell, "imgconv blur --background whi") == ["white", "whitesmoke"]
    assert values(shell, "imgconv blur --background ") == []  # 148 names: not before a letter


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("line", ["imgconv blur -s 2 ph", "imgconv convolve -k ker", "imgconv learn a.png b",
                                  "imgconv animate sl", "imgconv demo ph"])
def test_files_are_left_to_the_shell(shell, line):
    assert offered(shell, line) == [("file", line.rsplit(" ", 1)[1], None)]


@pytest.mark.parametrize("shell", SHELLS)
def test_the_script_is_clicks_own_for_imgconv(shell):
    printed = subprocess.run([IMGCONV, "completion", shell], capture_output=True, text=True, check=True)
    sourced = subprocess.run([IMGCONV], capture_output=True, text=True, check=True,
                             env={**os.environ, "_IMGCONV_COMPLETE": f"{shell}_source"})
    assert printed.stdout == sourced.stdout and printed.stderr == ""
    assert f"_IMGCONV_COMPLETE={shell}_complete" in printed.stdout
    registration = {"bash": "complete -o nosort -F _imgconv_completion imgconv", "zsh": "#compdef imgconv",
                    "fish": "complete --no-files --command imgconv"}
    assert registration[shell] in printed.stdout


@pytest.mark.skipif(BASH is None, reason="no bash")
@pytest.mark.parametrize("words, expected", [
    ('imgconv blur --boundary ""', list(MODES)),
    ("imgconv blur -b rep", ["replicate"]),
    ("imgconv conv", ["conv-layer", "convolve"]),
    ('imgconv sobel --method ""', list(METHODS)),
])
def test_a_real_bash_completes(tmp_path, words, expected):
    """The printed script sourced by bash, its function called as bash calls it on TAB."""
    (tmp_path / "imgconv.bash").write_text(subprocess.run([IMGCONV, "completion", "bash"], capture_output=True,
                                                          text=True, check=True).stdout)
    count = len(words.split(" "))
    script = (f'source {tmp_path / "imgconv.bash"}\ncomplete -p imgconv\nCOMP_WORDS=({words})\n'
              f'COMP_CWORD={count - 1}\n_imgconv_completion imgconv\nprintf "%s\\n" "${{COMPREPLY[@]}}"\n')
    path = f"{IMGCONV.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    done = subprocess.run([BASH, "--norc", "--noprofile", "-c", script], capture_output=True, text=True,
                          env={**os.environ, "PATH": path}, timeout=120)
    assert done.returncode == 0, done.stderr
    registered, *replies = done.stdout.splitlines()
    assert registered == "complete -o nosort -F _imgconv_completion imgconv"
    assert replies == expected
