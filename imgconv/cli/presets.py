"""The preset filter commands, made from one table; ``convolve``, the filter with a
kernel of the user's own; and ``imgconv kernels``, which lists the presets.

A new preset is one `Preset` in `PRESETS` (beside its kernel in `imgconv.kernels`).
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from .lazy import filters, kernelfile, kernels
from .run import Maker, filter_command
from .sections import KERNEL_SIZE, OptionSpec
from .types import FINITE, POSITIVE, RADIUS, FiniteFloat, KernelSpecType

if TYPE_CHECKING:
    from ..engine import EngineOptions
    from ..filters import Filter


@dataclass(frozen=True)
class Preset:
    """A preset filter command: its name, the name of its kernel in `kernels.PRESETS`,
    how it makes its filter from the engine's and its own options, its own options
    (listed first in ``--help``, in this order) and its help text; and the options of
    which it ``needs`` one, or more unless ``exclusive`` (its kernel's size)."""

    command: str
    kernel: str
    make: Maker
    options: tuple[OptionSpec, ...]
    help: str
    needs: tuple[str, ...] = ()
    exclusive: bool = False


def _kernel_of(function: str) -> Maker:
    """Filter with the kernel ``kernels.<function>`` makes of the command's own options."""

    def make(engine: "EngineOptions", **own: Any) -> "Filter":
        return filters.preset_filter(getattr(kernels, function)(**own), engine=engine)

    return make


def _gradient_of(operator: str) -> Maker:
    """Filter with the derivative ``kernels.<operator>`` (sobel, prewitt or scharr)."""

    def make(engine: "EngineOptions", direction: str, normalize: bool) -> "Filter":
        return filters.gradient_filter(getattr(kernels, operator), direction, normalize=normalize, engine=engine)

    return make


def _gradient(name: str) -> Preset:
    """The edge detection command of the derivative ``kernels.<name>``."""
    return Preset(name, name, _gradient_of(name), (
        (("--direction", "-d"), {
            "type": click.Choice(["x", "y", "magnitude"]), "default": "magnitude", "show_default": True,
            "help": "x (positive rightwards), y (positive downwards), or hypot of both."}),
        (("--normalize",), {"is_flag": True, "help": "Stretch the response so its maximum is full white."}),
    ), f"""{name.capitalize()} edge detection.

    Images show |gx|, |gy| or hypot(gx, gy), clipped to the output range (or stretched
    with --normalize); .npy outputs keep the signed float32 response.

    \b
    Example:
      imgconv {name} --direction x in.png edges.png
    """)


def _square(function: str) -> Maker:
    """Filter with the square ``kernels.<function>`` (box or tent) of a radius or a size."""

    def make(engine: "EngineOptions", radius: int | None, kernel_size: int | None) -> "Filter":
        return filters.preset_filter(getattr(kernels, function)(radius, kernel_size), engine=engine)

    return make


def _square_preset(name: str, summary: str) -> Preset:
    """``box`` or ``tent``: its kernel of a radius or a size, odd or even."""
    return Preset(name, name, _square(f"separable_{name}"), (
        (("--radius", "-r"), {"type": RADIUS, "help": "Kernel radius; size is 2r+1."}),
        ((KERNEL_SIZE,), {"type": click.IntRange(min=1), "metavar": "K", "help": "Kernel size, odd or even."}),
    ), f"""{summary} Give --radius or --kernel-size.

    \b
    Example:
      imgconv {name} --radius 2 in.png out.png
    """, needs=("--radius", KERNEL_SIZE), exclusive=True)


_AMOUNT = "--amount", "-a"

PRESETS = (
    Preset("blur", "gaussian", _kernel_of("separable_gaussian"), (
        (("--radius", "-r"), {"type": RADIUS, "help": "Kernel radius; size is 2r+1. Default ceil(3 sigma)."}),
        (("--sigma", "-s"), {"type": POSITIVE, "help": "Standard deviation in pixels. Default radius / 3."}),
    ), """Gaussian blur. Give --radius, --sigma or both.

    \b
    Example:
      imgconv blur --radius 5 --sigma 3 in.png out.png
    """, needs=("--radius", "--sigma")),
    _square_preset("box", "Box blur: the mean of a square neighbourhood."),
    _square_preset("tent", "Tent blur: weights 1, 2, ..., r+1, ..., 2, 1 along each axis (a box of a box), a\n"
                   "    quick stand-in for a Gaussian at any radius."),
    _gradient("sobel"),
    _gradient("prewitt"),
    _gradient("scharr"),
    Preset("sharpen", "sharpen", _kernel_of("sharpen"), (
        (_AMOUNT, {"type": FINITE, "default": 1.0, "show_default": True,
                  "help": "Strength; 1 is the classic 3x3 sharpen."}),
    ), """Sharpen: identity minus amount times the Laplacian.

    \b
    Example:
      imgconv sharpen --amount 0.5 in.png out.png
    """),
    Preset("unsharp", "unsharp", _kernel_of("separable_unsharp"), (
        (("--radius", "-r"), {"type": RADIUS, "help": "Radius of the Gaussian; default ceil(3 sigma)."}),
        (("--sigma", "-s"), {"type": POSITIVE, "help": "Sigma of the Gaussian; default radius / 3."}),
        (_AMOUNT, {"type": FINITE, "default": 1.0, "show_default": True, "help": "How much detail to add back."}),
    ), """Unsharp mask: identity + amount * (identity - Gaussian).

    \b
    Example:
      imgconv unsharp --sigma 2 --amount 1.5 in.png out.png
    """, needs=("--radius", "--sigma")),
    Preset("laplacian", "laplacian", _kernel_of("laplacian"), (
        (("--diagonals",), {"is_flag": True, "help": "Use the 8-neighbour Laplacian."}),
    ), """Laplacian (second derivative): edges and spots. Negative responses clip to 0
    in images; write .npy to keep them.

    \b
    Example:
      imgconv laplacian in.png out.npy
    """),
    Preset("emboss", "emboss", _kernel_of("emboss"), (), """Emboss: relief lit from the top left.

    \b
    Example:
      imgconv emboss in.png out.png
    """),
    Preset("motion", "motion", _kernel_of("motion"), (
        (("--length", "-l"), {"type": FiniteFloat(min=1), "default": 9, "show_default": True,
                              "help": "Length of the blur in pixels."}),
        (("--angle",), {"type": FINITE, "default": 0.0, "show_default": True,
                        "help": "Degrees counter-clockwise from the x axis."}),
    ), """Motion blur along a line.

    \b
    Example:
      imgconv motion --length 15 --angle 30 in.png out.png
    """),
    Preset("identity", "identity", _kernel_of("identity"), (),
           """The identity kernel: converts between formats without changing pixels.

    \b
    Example:
      imgconv identity in.png out.tiff
    """),
)


def preset_command(preset: Preset) -> click.Command:
    """The filter command of ``preset``, with ``--print-kernel``."""
    if not preset.needs:
        return filter_command(preset.command, preset.make, preset.options, help=preset.help)

    def make(engine: "EngineOptions", **own: Any) -> "Filter":
        given = [flag for flag in preset.needs if own[flag.lstrip("-").replace("-", "_")] is not None]
        if not given or (preset.exclusive and len(given) > 1):
            number = "one, not both" if preset.exclusive else "or both"
            raise click.UsageError(f"{preset.command} needs {' or '.join(preset.needs)} ({number})")
        return preset.make(engine=engine, **own)

    return filter_command(preset.command, make, preset.options, help=preset.help)


CONVOLVE_OPTIONS: tuple[OptionSpec, ...] = (
    (("--kernel", "-k", "kernel"), {
        "type": KernelSpecType(), "required": True,
        "help": "A kernel file (.txt .csv .kernel .mat .npy .json) or an inline kernel like '1 2 1; 2 4 2; 1 2 1'."}),
    (("--normalize",), {"is_flag": True, "help": "Divide the kernel by its sum."}),
    (("--divisor",), {"type": FINITE, "help": "Divide the kernel by this."}),
    (("--offset",), {"type": FINITE, "help": "Add this to every result, in sample units."}),
    (("--correlate",), {"is_flag": True, "help": "Correlate (do not flip the kernel)."}),
)


def convolve_filter(engine: "EngineOptions", kernel: Any, normalize: bool, divisor: float | None,
                    offset: float | None, correlate: bool) -> "Filter":
    """Filter with your own kernel, by true convolution (the kernel is flipped)
    unless --correlate is given.

    \b
    Examples:
      imgconv convolve -k samples/kernels/sharpen.txt in.png out.png
      imgconv convolve -k "1 2 1; 2 4 2; 1 2 1" --normalize in.png out.png
    """
    kernel = kernelfile.adjust_kernel(kernel, normalize=normalize, divisor=divisor, offset=offset)
    return filters.kernel_filter(kernel, correlate=correlate, engine=engine)


convolve = filter_command("convolve", convolve_filter, CONVOLVE_OPTIONS, preset=False)


@click.command("kernels")
def list_kernels() -> None:
    """List the preset kernels, one line each.

    \b
    Example:
      imgconv kernels
    """
    command_of = {preset.kernel: preset.command for preset in PRESETS}
    for preset in kernels.PRESETS.values():
        click.echo(f"{command_of.get(preset.name, preset.name):<10} {preset.summary}")

