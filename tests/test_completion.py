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


def in_a_real_shell(tmp_path, shell, lines, before=()):
    """Run ``lines`` in ``shell`` (its own settings not read) after ``before`` and the
    script ``imgconv completion SHELL`` prints, sourced, with this imgconv first on
    PATH: the lines it printed."""
    script = tmp_path / f"imgconv.{shell}"
    script.write_text(subprocess.run([IMGCONV, "completion", shell], capture_output=True, text=True,
                                     check=True).stdout)
    program = {"bash": [shutil.which("bash"), "--norc", "--noprofile", "-c"], "zsh": [shutil.which("zsh"), "-f", "-c"],
               "fish": [shutil.which("fish"), "--no-config", "-c"]}[shell]
    path = f"{IMGCONV.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    done = subprocess.run([*program, "\n".join([*before, f"source {script}", *lines])], capture_output=True,
                          text=True, env={**os.environ, "PATH": path}, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
@pytest.mark.parametrize("words, expected", [
    ('imgconv blur --boundary ""', list(MODES)),
    ("imgconv blur -b rep", ["replicate"]),
    ("imgconv conv", ["conv-layer", "convolve"]),
    ('imgconv sobel --method ""', list(METHODS)),
])
def test_a_real_bash_completes(tmp_path, words, expected):
    """The script's function called as bash calls it on TAB; COMPREPLY printed."""
    registered, *replies = in_a_real_shell(tmp_path, "bash", [
        "complete -p imgconv", f"COMP_WORDS=({words})", f"COMP_CWORD={len(words.split(' ')) - 1}",
        "_imgconv_completion imgconv", 'printf "%s\\n" "${COMPREPLY[@]}"'])
    assert registered == "complete -o nosort -F _imgconv_completion imgconv"
    assert replies == expected


@pytest.mark.skipif(shutil.which("zsh") is None, reason="no zsh")
def test_a_real_zsh_completes(tmp_path):
    """The script's function run by zsh as on TAB, with zsh's completion builtins (which
    need a terminal) replaced by functions printing what they are given."""
    stubs = ['compdef() { print -r -- "compdef $*" }', 'compadd() { print -rl -- "${(@P)${@[-1]}}" }',
             '_describe() { print -rl -- "${(@P)3}" }']
    shown = in_a_real_shell(tmp_path, "zsh", ['words=(imgconv blur --boundary ""); CURRENT=4; _imgconv_completion',
                                              "print -r -- ---",
                                              "words=(imgconv blur -b rep); CURRENT=4; _imgconv_completion"], stubs)
    assert shown == ["compdef _imgconv_completion imgconv", *MODES, "---", "replicate:the same as nearest"]


@pytest.mark.skipif(shutil.which("fish") is None, reason="no fish")
def test_a_real_fish_completes(tmp_path):
    """fish's own ``complete -C``: what TAB would offer, sorted by fish, with help."""
    shown = in_a_real_shell(tmp_path, "fish", ['complete -C "imgconv blur --boundary "', "echo ---",
                                               'complete -C "imgconv blur -b rep"', "echo ---",
                                               'complete -C "imgconv conv"'])
    assert shown == [*sorted(MODES), "---", "replicate\tthe same as nearest", "---",
                     "convolve\tFilter with your own kernel", "conv-layer\tA convolution layer of a neural network"]
