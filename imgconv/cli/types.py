"""Click parameter types: each checks its value as it is parsed, and loads the library
it needs (Pillow, NumPy) only when the option is given, so that ``--help`` does not."""

import math
from typing import Any

import click

from ..errors import ImgconvError
from ..vocabulary import resolve_mode
from .lazy import formats, kernelfile, layers, pipeline


class BoundaryType(click.ParamType):
    name = "mode"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            resolve_mode(value)
        except ImgconvError as exc:
            self.fail(str(exc), param, ctx)
        return value


class FormatType(click.ParamType):
    """A format name this Pillow writes (``imgconv formats`` lists them), checked only
    when given, so that ``--help`` does not load Pillow."""

    name = "FMT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value.lower() not in formats.names():
            self.fail(f"unknown format {value!r}; imgconv writes {', '.join(sorted(formats.names()))}", param, ctx)
        return value.lower()


class ColourType(click.ParamType):
    """A colour name or #rrggbb, read (by Pillow) only when given."""

    name = "COLOR"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return pipeline.parse_background(value)
        except ImgconvError as exc:
            self.fail(str(exc), param, ctx)


class KernelSpecType(click.ParamType):
    name = "kernel"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return kernelfile.load_kernel(value)
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


RADIUS = click.IntRange(min=0)
FINITE = FiniteFloat()
POSITIVE = FiniteFloat(min=0, min_open=True)


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


class PaddingType(click.ParamType):
    """``valid``, ``same``, ``full``, ``N`` or ``PY,PX``: per axis, a name or a number."""

    name = "valid|same|full|N|PY,PX"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        text = str(value).strip().lower()
        if text in ("valid", "same", "full"):
            return (text, text)
        return PairType(minimum=0).convert(text, param, ctx)


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
