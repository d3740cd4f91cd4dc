"""``imgconv completion SHELL``: the script that has bash, zsh or fish complete imgconv."""

import click
from click.shell_completion import get_completion_class

COMPLETE_VAR = "_IMGCONV_COMPLETE"
"""The environment variable through which a shell asks imgconv for completions (Click's
protocol: ``bash_complete``, ``zsh_complete``, ``fish_complete``, or ``bash_source``...
for the script itself)."""

SHELLS = ("bash", "zsh", "fish")


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS), metavar="SHELL")
def completion(shell: str) -> None:
    """Print the script with which SHELL completes imgconv's commands, options, files
    and the values of options: boundary modes, methods, views, formats, paddings,
    colours, and the preset commands themselves.

    Enable it once, then start a new shell:

    \b
      bash (4.4 or later), in ~/.bashrc:
        eval "$(imgconv completion bash)"
      or, without running imgconv as each shell starts (bash-completion loads it
      the first time imgconv is completed):
        mkdir -p ~/.local/share/bash-completion/completions
        imgconv completion bash > ~/.local/share/bash-completion/completions/imgconv
      zsh, in ~/.zshrc, after compinit:
        eval "$(imgconv completion zsh)"
      or, as a file in a folder of $fpath (say fpath=(~/.zfunc $fpath) in
      ~/.zshrc, before compinit):
        imgconv completion zsh > ~/.zfunc/_imgconv
      fish:
        imgconv completion fish > ~/.config/fish/completions/imgconv.fish

    The script asks imgconv itself for each completion, through the environment
    variable _IMGCONV_COMPLETE, so it follows whatever imgconv is on PATH.

    \b
    Example:
      imgconv blur --boundary <TAB>   offers reflect mirror nearest wrap constant
    """
    root = click.get_current_context().find_root()
    script_class = get_completion_class(shell)
    assert script_class is not None  # Click has a class for each of SHELLS
    # As Click prints it for _IMGCONV_COMPLETE=bash_source: bytes, so that no LF becomes CRLF.
    click.echo(script_class(root.command, {}, root.info_name or "imgconv", COMPLETE_VAR).source().encode(), nl=False)
