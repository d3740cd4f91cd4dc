"""The preset filter commands, made from one table; ``convolve``, the filter with a
kernel of the user's own; and ``imgconv kernels``, which lists the presets.

A new preset is one `Preset` in `PRESETS` (beside its kernel in `imgconv.kernels`).
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from .lazy import filters, kernelfile, kernels, restoration, scale_filters
from .lazy import threshold as _threshold
from .run import Maker, filter_command
from .sections import KERNEL_SIZE, OptionSpec
from .types import FINITE, RADIUS, SIGMA, AxesType, FiniteFloat, KernelSpecType, PsfSpecType

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
    """Filter with the square ``kernels.<function>`` (box or tent) of a radius or a size;
    a box of a size ``(w, h)`` is `imgconv.scale_filters.box_filter`'s."""

    def make(engine: "EngineOptions", radius: int | None, kernel_size: Any) -> "Filter":
        if isinstance(kernel_size, tuple):
            return scale_filters.box_filter(kernel_size, engine=engine)
        return filters.preset_filter(getattr(kernels, function)(radius=radius, size=kernel_size), engine=engine)

    return make


_RADIUS = "--radius", "-r"
_LUMINANCE: OptionSpec = (("--luminance",), {
    "is_flag": True, "help": "Filter only Y' of full-range BT.601 Y'CbCr (as JPEG stores it), keeping Cb and Cr: "
                             "no colour shifts."})
_SIGMA = "--sigma", "-s"


def _square_preset(name: str, summary: str) -> Preset:
    """``box`` or ``tent``: its kernel of a radius or a size, odd or even (box: or W,H)."""
    size = (AxesType(whole=True, minimum=1), "K|W,H", "Kernel size, odd or even; W,H for a rectangle.") \
        if name == "box" else (click.IntRange(min=1), "K", "Kernel size, odd or even.")
    return Preset(name, name, _square(f"separable_{name}"), (
        (_RADIUS, {"type": click.IntRange(min=0), "help": "Kernel radius; size is 2r+1."}),
        ((KERNEL_SIZE,), {"type": size[0], "metavar": size[1], "help": size[2]}),
        *((_LUMINANCE,) if name == "box" else ()),
    ), f"""{summary} Give --radius or --kernel-size.

    \b
    Example:
      imgconv {name} --radius 2 in.png out.png
    """, needs=("--radius", KERNEL_SIZE), exclusive=True)


_AMOUNT = "--amount", "-a"


def _blur(engine: "EngineOptions", radius: Any, sigma: Any, angle: float, order: Any) -> "Filter":
    """``blur``: one radius and sigma as ever (`imgconv.kernels.separable_gaussian`);
    per axis, turned or differentiated, `imgconv.scale_filters.shaped_blur_filter`."""
    if angle or order != 0 or isinstance(radius, tuple) or isinstance(sigma, tuple):
        return scale_filters.shaped_blur_filter(sigma, radius=radius, angle=angle, order=order, engine=engine)
    return filters.preset_filter(kernels.separable_gaussian(sigma=sigma, radius=radius), engine=engine)


def _unsharp(engine: "EngineOptions", radius: Any, sigma: Any, amount: float, threshold: float) -> "Filter":
    """``unsharp``: `imgconv.threshold.unsharp_filter`."""
    return _threshold.unsharp_filter(sigma=sigma, radius=radius, amount=amount, threshold=threshold, engine=engine)


def _scale(function: str, *sigmas: str) -> Maker:
    """``dog``, ``log`` or ``gradient``: ``scale_filters.<function>`` of the ``sigmas``
    options and --radius."""

    def make(engine: "EngineOptions", radius: Any, **own: Any) -> "Filter":
        if "sigma2" in own and not _below(own["sigma"], own["sigma2"]):
            raise click.UsageError("dog needs --sigma2 larger than --sigma along each axis (S1 < S2)")
        return getattr(scale_filters, function)(*(own[name] for name in sigmas), radius=radius, engine=engine)

    return make


def _below(low: Any, high: Any) -> bool:
    """Each of ``low`` (a number or (x, y)) is below the same axis's ``high``."""
    pairs = (low, low) if not isinstance(low, tuple) else low, (high, high) if not isinstance(high, tuple) else high
    return all(a < b for a, b in zip(*pairs, strict=True))


def _scale_preset(name: str, function: str, summary: str, example: str, *more: OptionSpec) -> Preset:
    """A scale-space command: --sigma (required), ``more`` options, --radius."""
    sigmas = ("sigma", *(spec[0][0].lstrip("-") for spec in more))
    return Preset(name, name, _scale(function, *sigmas), (
        (_SIGMA, {"type": SIGMA, "required": True, "help": "Standard deviation in pixels, or SX,SY."}),
        *more,
        (_RADIUS, {"type": RADIUS, "help": "Kernel radius, or RX,RY, as blur takes it [default: ceil(3 sigma)]."}),
    ), f"""{summary} Images show the absolute response (as sobel --direction x does); .npy
    outputs keep the signed float32 one.

    \b
    Example:
      imgconv {name} {example} in.png out.png
    """)

PRESETS = (
    Preset("blur", "gaussian", _blur, (
        (_RADIUS, {"type": RADIUS, "help": "Kernel radius, or RX,RY; size is 2r+1. Default ceil(3 sigma)."}),
        (_SIGMA, {"type": SIGMA, "help": "Standard deviation in pixels, or SX,SY (along and across the "
                                         "major axis with --angle). Default radius / 3."}),
        (("--angle",), {"type": FINITE, "default": 0.0, "show_default": True, "metavar": "DEG",
                        "help": "Turn the Gaussian's ellipse by DEG counter-clockwise (a dense kernel)."}),
        (("--order",), {"type": AxesType(whole=True), "default": "0", "metavar": "O|OX,OY",
                        "help": "Derivative order along x and y, 0 to 3; images show |response|, .npy the sign. "
                                "[default: 0]"}),
        _LUMINANCE,
    ), """Gaussian blur. Give --radius, --sigma or both (per axis as X,Y, horizontal first).

    \b
    Examples:
      imgconv blur --radius 5 --sigma 3 in.png out.png
      imgconv blur --sigma 6,2 --angle 30 in.png out.png
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
        _LUMINANCE,
    ), """Sharpen: identity minus amount times the Laplacian.

    \b
    Example:
      imgconv sharpen --amount 0.5 in.png out.png
    """),
    Preset("unsharp", "unsharp", _unsharp, (
        (_RADIUS, {"type": RADIUS, "help": "Radius of the Gaussian, or RX,RY; default ceil(3 sigma)."}),
        (_SIGMA, {"type": SIGMA, "help": "Sigma of the Gaussian, or SX,SY; default radius / 3."}),
        (_AMOUNT, {"type": FINITE, "default": 1.0, "show_default": True, "help": "How much detail to add back."}),
        (("--threshold",), {"type": FiniteFloat(min=0), "default": 0.0, "show_default": True, "metavar": "T",
                            "help": "Leave samples where |original - blurred| < T (in sample levels) as they are."}),
        _LUMINANCE,
    ), """Unsharp mask: identity + amount * (identity - Gaussian).

    \b
    Example:
      imgconv unsharp --sigma 2 --amount 1.5 in.png out.png
    """, needs=("--radius", "--sigma")),
    _scale_preset("dog", "difference_of_gaussians_filter", "Difference of Gaussians: blur(sigma) - blur(sigma2).",
                  "--sigma 1 --sigma2 2", (("--sigma2",), {
                      "type": SIGMA, "required": True, "help": "The second, wider Gaussian's sigma (S2 > S)."})),
    _scale_preset("log", "laplacian_of_gaussian_filter", "Laplacian of Gaussian: blobs and edges at a scale.",
                  "--sigma 2"),
    _scale_preset("gradient", "gradient_magnitude_filter", "Gaussian gradient magnitude: edge strength at a scale.",
                  "--sigma 1.5"),
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
        "type": KernelSpecType(channels=True), "required": True, "multiple": True,
        "help": "A kernel file (.txt .csv .kernel .mat .npy .json) or an inline kernel like '1 2 1; 2 4 2; 1 2 1'; "
                "once, or once per channel (3 for RGB; 4 for RGBA, or for CMYK kept in TIFF or JPEG); a 3-D .npy "
                "gives one per channel, its last axis."}),
    (("--normalize",), {"is_flag": True, "help": "Divide the kernel by its sum."}),
    (("--divisor",), {"type": FINITE, "help": "Divide the kernel by this."}),
    (("--offset",), {"type": FINITE, "help": "Add this to every result, in sample units."}),
    (("--correlate",), {"is_flag": True, "help": "Correlate (do not flip the kernel)."}),
)


def convolve_filter(engine: "EngineOptions", kernel: tuple[list[Any], ...], normalize: bool,
                    divisor: float | None, offset: float | None, correlate: bool) -> "Filter":
    """Filter with your own kernel, by true convolution (the kernel is flipped)
    unless --correlate is given; or each channel with its own (--kernel once a channel).

    \b
    Examples:
      imgconv convolve -k samples/kernels/sharpen.txt in.png out.png
      imgconv convolve -k "1 2 1; 2 4 2; 1 2 1" --normalize in.png out.png
      imgconv convolve -k "1 1 1" -k "1" -k "1; 1; 1" --normalize in.png out.png
    """
    given = [kernelfile.adjust_kernel(one, normalize=normalize, divisor=divisor, offset=offset)
             for spec in kernel for one in spec]
    return filters.kernel_filter(given[0] if len(given) == 1 else tuple(given), correlate=correlate, engine=engine)


convolve = filter_command("convolve", convolve_filter, CONVOLVE_OPTIONS, preset=False)

DECONVOLVE_OPTIONS: tuple[OptionSpec, ...] = (
    (("--kernel", "-k", "kernel"), {
        "type": PsfSpecType(), "required": True,
        "help": "The blur to undo (its point spread function, divided by its sum): a kernel file (.txt .csv "
                ".kernel .mat .npy .json), an inline kernel like '1 2 1; 2 4 2; 1 2 1', or a Gaussian as "
                "gaussian:s=SIGMA[,r=RADIUS] (radius 3 sigma by default)."}),
    # --method is the engine's strategy in every filter command.
    (("--algorithm",), {"type": click.Choice(["richardson-lucy", "wiener"]), "default": "richardson-lucy",
                        "show_default": True, "help": "Richardson-Lucy iterations, or one Wiener division."}),
    (("--iterations",), {"type": int, "default": 30, "show_default": True,
                         "help": "Richardson-Lucy updates, at least 1: more sharpen more, and amplify noise more."}),
    (("--balance",), {"type": FINITE, "default": 0.01, "show_default": True,
                      "help": "Wiener's regulariser, > 0: smaller restores more detail, and more noise."}),
)


def deconvolve_filter(engine: "EngineOptions", kernel: list[Any], algorithm: str, iterations: int,
                      balance: float) -> "Filter":
    """Undo a known blur: Richardson-Lucy deconvolution (the default) or Wiener's,
    with the boundary mode of every other command; the result stays within the input's
    range of levels.

    \b
    Examples:
      imgconv deconvolve -k blur.txt blurred.png restored.png
      imgconv deconvolve -k gaussian:s=2,r=6 --iterations 10 in.png out.png
      imgconv deconvolve --algorithm wiener --balance 0.001 -k blur.npy in.tif out.tif
    """
    return restoration.deconvolve_filter(kernel, method=algorithm, iterations=iterations, balance=balance,
                                         engine=engine)


deconvolve_command = filter_command("deconvolve", deconvolve_filter, DECONVOLVE_OPTIONS, preset=False)


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

