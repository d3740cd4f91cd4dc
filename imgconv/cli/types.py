"""Click parameter types: each checks its value as it is parsed, and loads the library
it needs (Pillow, NumPy) only when the option is given, so that ``--help`` does not.

Each also says how the shell completes its values (`click.ParamType.shell_complete`):
the names it takes, or files."""

import math
from typing import Any

import click
from click.shell_completion import CompletionItem

from ..errors import ImgconvError
from ..vocabulary import ALIASES, MODES, TRUNCATE, resolve_mode
from .lazy import formats, kernelfile, layers, pipeline, restoration


def starting(incomplete: str, names: dict[str, str | None]) -> list[CompletionItem]:
    """The completions of ``incomplete`` among ``names`` (each with its help, or None),
    matched without regard to case, in the order given."""
    start = incomplete.lower()
    return [CompletionItem(name, help=text) for name, text in names.items() if name.lower().startswith(start)]


class PathType(click.ParamType):
    """A file name, taken as given (``-`` included), that the shell completes as a file.
    Click's own `click.Path` would also check it; the commands check their files
    themselves, each with its own message."""

    name = "path"

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        return [CompletionItem(incomplete, type="file")]


class BoundaryType(click.ParamType):
    """A boundary mode, or an alias of one (`imgconv.vocabulary`); ``truncate`` too
    where the command filters whole images."""

    name = "mode"

    def __init__(self, truncate: bool = False) -> None:
        self.truncate = truncate

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            resolve_mode(value, truncate=self.truncate)
        except ImgconvError as exc:
            self.fail(str(exc), param, ctx)
        return value

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        """The five modes; the aliases too once a letter is typed."""
        names: dict[str, str | None] = dict.fromkeys(MODES + ((TRUNCATE,) if self.truncate else ()))
        if incomplete:
            names.update((alias, f"the same as {mode}") for alias, mode in ALIASES.items())
        return starting(incomplete, names)


class FormatType(click.ParamType):
    """A format name this Pillow writes (``imgconv formats`` lists them), checked only
    when given, so that ``--help`` does not load Pillow."""

    name = "FMT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value.lower() not in formats.names():
            self.fail(f"unknown format {value!r}; imgconv writes {', '.join(sorted(formats.names()))}", param, ctx)
        return value.lower()

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        """Each format's name and extensions, as ``imgconv formats`` lists them."""
        table = formats.names()
        return starting(incomplete, {name: table[name] for name in sorted(table)})


class ColourType(click.ParamType):
    """A colour name or #rrggbb, read (by Pillow) only when given."""

    name = "COLOR"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return pipeline.parse_background(value)
        except ImgconvError as exc:
            self.fail(str(exc), param, ctx)

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        """The colour names Pillow knows, once a letter is typed (there are 148)."""
        from PIL import ImageColor

        return starting(incomplete, dict.fromkeys(sorted(ImageColor.colormap))) if incomplete else []


class KernelSpecType(PathType):
    """A kernel file, or a kernel written inline (`imgconv.kernelfile.load_kernel`); with
    ``channels``, a list of its kernels: one, or one per channel of a 3-D ``.npy``
    (`imgconv.kernelfile.load_channel_kernels`)."""

    name = "kernel"

    def __init__(self, channels: bool = False) -> None:
        self.channels = channels

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            if self.channels:
                return kernelfile.load_channel_kernels(value)
            return kernelfile.load_kernel(value)
        except ImgconvError as exc:
            self.fail(str(exc), param, ctx)


class PsfSpecType(PathType):
    """A blur to undo: a kernel file, an inline kernel or ``gaussian:s=SIGMA[,r=RADIUS]``
    (`imgconv.restoration.load_psf`)."""

    name = "kernel"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return restoration.load_psf(value)
        except ImgconvError as exc:
            self.fail(str(exc), param, ctx)


class FiniteFloat(click.FloatRange):
    """A float within a range, never NaN or infinite (Click's own FloatRange lets both
    through: comparisons with NaN are false, and infinity is beyond no open bound)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.min is None and self.max is None:
            self.name = "float"  # no range to show in --help

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number

    def _describe_range(self) -> str:
        return "" if self.min is None and self.max is None else super()._describe_range()


FINITE = FiniteFloat()


class PairType(click.ParamType):
    """``N`` or ``A,B`` (also ``AxB``): one whole number for both axes, or one each."""

    name = "N|A,B"

    def __init__(self, minimum: int = 1) -> None:
        self.minimum = minimum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        parts = str(value).replace("x", ",").split(",")
        try:
            numbers = tuple(int(p) for p in parts)
        except ValueError:
            self.fail(f"{value!r} is not a whole number or a pair like 2,3", param, ctx)
        if len(numbers) not in (1, 2) or min(numbers) < self.minimum:
            self.fail(f"{value!r}: expected N or A,B, each at least {self.minimum}", param, ctx)
        return numbers * 2 if len(numbers) == 1 else numbers


PADDINGS: dict[str, str | None] = {
    "valid": "no padding", "same": "ceil(size/stride) outputs", "full": "every position the kernel touches"}


class PaddingType(click.ParamType):
    """``valid``, ``same``, ``full``, ``N`` or ``PY,PX``: per axis, a name or a number."""

    name = "valid|same|full|N|PY,PX"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        text = str(value).strip().lower()
        if text in PADDINGS:
            return (text, text)
        return PairType(minimum=0).convert(text, param, ctx)

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        return starting(incomplete, PADDINGS)


class BiasType(click.ParamType):
    """Comma-separated numbers, or a .npy file of them."""

    name = "B1,B2,...|FILE.npy"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return layers.parse_bias(value)
        except ImgconvError as exc:
            self.fail(str(exc), param, ctx)


class AxesType(click.ParamType):
    """``N`` or ``X,Y`` (horizontal first): one number, kept as one (today's meaning of
    the option), or a pair ``(x, y)``; whole numbers if ``whole``, each at least
    ``minimum`` (above it if ``open``), finite."""

    def __init__(self, whole: bool = False, minimum: float = 0.0, open: bool = False) -> None:
        self.whole, self.minimum, self.open = whole, minimum, open
        self.name = "N|X,Y" if whole else "S|SX,SY"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        parts = value.split(",")
        try:
            numbers = tuple((int if self.whole else float)(p) for p in parts)
        except ValueError:
            kind = "integer" if self.whole else "number"
            self.fail(f"{value!r} is not a valid {kind} or a pair like 2,3", param, ctx)
        low = all(n > self.minimum if self.open else n >= self.minimum for n in numbers)
        if len(numbers) not in (1, 2) or not low or not all(math.isfinite(n) for n in numbers):
            bound = f"above {self.minimum:g}" if self.open else f"at least {self.minimum:g}"
            self.fail(f"{value!r}: expected one number or two (x,y), each finite and {bound}", param, ctx)
        return numbers[0] if len(numbers) == 1 else numbers


RADIUS = AxesType(whole=True)
"""``--radius R`` or ``RX,RY``."""
SIGMA = AxesType(open=True)
"""``--sigma S`` or ``SX,SY``."""


class ChannelValuesType(click.ParamType):
    """``V`` or ``V1,V2,...``: one finite number for every channel, or one per channel
    (R,G,B or R,G,B,A; grey and alpha, two)."""

    name = "V|R,G,B[,A]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            numbers = tuple(float(part) for part in value.split(","))
        except ValueError:
            self.fail(f"{value!r} is not a number or numbers like 255,128,0", param, ctx)
        if len(numbers) > 4 or not all(math.isfinite(n) for n in numbers):
            self.fail(f"{value!r}: expected one finite number, or one per channel (at most 4)", param, ctx)
        return numbers[0] if len(numbers) == 1 else numbers
