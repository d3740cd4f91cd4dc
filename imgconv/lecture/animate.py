"""The sliding kernel, drawn frame by frame: stride, padding and dilation made visible.

Each frame shows three grids: the padded input (padding cells grey), the kernel, and the
output. The cells under the kernel's taps are highlighted on the input (with dilation,
the gaps between taps stay visible), and the output fills in one cell per frame, the
current one highlighted. With numbers, the cells show small seeded input values, the
kernel's weights and each output value, computed by the engine (`layers.conv2d`).

There is one frame per output position: ``H' = floor((H + 2p - d·(k-1) - 1) / s) + 1``
rows of them, and as many columns.
"""

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..errors import InvalidInputError
from ..io.formats import FORMATS
from ..io.picture import Picture
from ..io.sink import STDIO, check_destination, write_bytes
from ..io.write import EncodeOptions, output_format
from ..vocabulary import DEFAULT_MAX_PIXELS
from .layers import conv2d, output_size, padding_amounts

COLOURS = {
    "background": (255, 255, 255),
    "input": (207, 226, 243),
    "padding": (217, 217, 217),
    "kernel": (255, 242, 204),
    "tap": (246, 178, 107),
    "done": (182, 215, 168),
    "current": (246, 178, 107),
    "empty": (255, 255, 255),
    "line": (102, 102, 102),
    "focus": (180, 95, 6),
    "text": (0, 0, 0),
    "padding text": (128, 128, 128),
}
CELL = 30
MARGIN = 20
TITLE = 22
GAP = 40


@dataclass(frozen=True)
class Geometry:
    """Sizes along (rows, columns): input, kernel, stride, dilation, padding, output.
    Each is a pair; of longer tuples a caller gives, the shortest decides the axes."""

    input: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    before: tuple[int, ...]
    after: tuple[int, ...]

    @property
    def padded(self) -> tuple[int, ...]:
        return tuple(n + b + a for n, b, a in zip(self.input, self.before, self.after, strict=False))

    @property
    def output(self) -> tuple[int, ...]:
        axes = zip(self.input, self.kernel, self.stride, self.dilation, self.before, self.after, strict=False)
        return tuple(output_size(n, k, s, d, b, a) for n, k, s, d, b, a in axes)


def make_geometry(input_size: Sequence[int], kernel_size: Sequence[int], stride: Sequence[int] = (1, 1),
                  padding: Sequence[int | str] = (0, 0), dilation: Sequence[int] = (1, 1)) -> Geometry:
    """A `Geometry`; ``padding`` per axis is a number or ``valid``, ``same``, ``full``."""
    axes = zip(input_size, kernel_size, stride, dilation, padding, strict=False)
    amounts = [padding_amounts(n, k, s, d, p) for n, k, s, d, p in axes]
    geometry = Geometry(tuple(input_size), tuple(kernel_size), tuple(stride), tuple(dilation),
                        tuple(a[0] for a in amounts), tuple(a[1] for a in amounts))
    if min(geometry.output) < 1:
        raise InvalidInputError(
            f"the kernel does not fit: the output would be {geometry.output[0]}x{geometry.output[1]}")
    return geometry


def sample_values(geometry: Geometry, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Small integers for the input (0-9) and kernel (-1-2), and the engine's output."""
    rng = np.random.default_rng(seed)
    inputs = rng.integers(0, 10, size=geometry.input)
    weights = rng.integers(-1, 3, size=geometry.kernel)
    padding = tuple(zip(geometry.before, geometry.after, strict=False))
    # Zero padding with each side's own amount ("same" can add one more after).
    padded = np.pad(inputs, padding)
    outputs = conv2d(padded, weights[np.newaxis, np.newaxis], stride=geometry.stride,
                     dilation=geometry.dilation)[0]
    return inputs, weights, outputs


class Layout:
    """Where each grid and cell is drawn."""

    def __init__(self, geometry: Geometry) -> None:
        self.geometry = geometry
        (ph, pw), (kh, kw), (oh, ow) = geometry.padded, geometry.kernel, geometry.output
        top = MARGIN + TITLE
        self.input_origin = (MARGIN, top)
        self.kernel_origin = (MARGIN + pw * CELL + GAP, top)
        self.output_origin = (self.kernel_origin[0] + kw * CELL + GAP, top)
        width = self.output_origin[0] + ow * CELL + MARGIN
        height = top + max(ph, kh, oh) * CELL + MARGIN + TITLE
        self.size = (width, height)

    @staticmethod
    def cell(origin: tuple[int, int], row: int, column: int) -> tuple[int, int, int, int]:
        x, y = origin[0] + column * CELL, origin[1] + row * CELL
        return (x, y, x + CELL, y + CELL)

    def input_cell(self, row: int, column: int) -> tuple[int, int, int, int]:
        """The box of padded-input cell (row, column)."""
        return self.cell(self.input_origin, row, column)

    def output_cell(self, row: int, column: int) -> tuple[int, int, int, int]:
        return self.cell(self.output_origin, row, column)

    def kernel_cell(self, row: int, column: int) -> tuple[int, int, int, int]:
        return self.cell(self.kernel_origin, row, column)


class Frames:
    """The animation's frames, one RGB image per output position in row-major order,
    each drawn when asked for (``frames[index]``): a large grid has hundreds, and the
    demonstration page shows one at a time."""

    def __init__(self, geometry: Geometry, numbers: bool = False, seed: int = 0) -> None:
        self.geometry, self.numbers = geometry, numbers
        self.layout = Layout(geometry)
        self.font = ImageFont.load_default()
        self.inputs, self.weights, self.outputs = sample_values(geometry, seed)
        self.base = self._base()

    def __len__(self) -> int:
        return self.geometry.output[0] * self.geometry.output[1]

    def _value(self, r: int, c: int) -> tuple[int, bool]:
        """The input value in padded-input cell (r, c), and whether it is inside the input."""
        (top, left), (h, w) = self.geometry.before, self.geometry.input
        inside = top <= r < top + h and left <= c < left + w
        return (self.inputs[r - top, c - left] if inside else 0), inside

    def _base(self) -> Image.Image:
        """What every frame shares: titles, the padded input and the kernel."""
        geometry, layout, font, numbers = self.geometry, self.layout, self.font, self.numbers
        (ph, pw), (kh, kw), (oh, ow) = geometry.padded, geometry.kernel, geometry.output
        (sy, sx), (dy, dx), (top, left) = geometry.stride, geometry.dilation, geometry.before
        base = Image.new("RGB", layout.size, COLOURS["background"])
        draw = ImageDraw.Draw(base)
        titles = [
            (layout.input_origin, f"input {geometry.input[0]}x{geometry.input[1]}, padding "
                                  f"{top},{left} / {geometry.after[0]},{geometry.after[1]}"),
            (layout.kernel_origin, f"kernel {kh}x{kw}, dilation {dy},{dx}"),
            (layout.output_origin, f"output {oh}x{ow}, stride {sy},{sx}"),
        ]
        for (x, y), text in titles:
            draw.text((x, y - TITLE + 4), text, fill=COLOURS["text"], font=font)
        for r in range(ph):
            for c in range(pw):
                value, inside = self._value(r, c)
                box = layout.input_cell(r, c)
                draw.rectangle(box, fill=COLOURS["input" if inside else "padding"], outline=COLOURS["line"])
                if numbers:
                    _centred(draw, box, str(value), COLOURS["text" if inside else "padding text"], font)
        for r in range(kh):
            for c in range(kw):
                box = layout.kernel_cell(r, c)
                draw.rectangle(box, fill=COLOURS["kernel"], outline=COLOURS["line"])
                if numbers:
                    _centred(draw, box, str(self.weights[r, c]), COLOURS["text"], font)
        return base

    def __getitem__(self, index: int) -> Image.Image:
        if not 0 <= index < len(self):
            raise IndexError(f"frame {index} of {len(self)}")
        geometry, layout, font, numbers = self.geometry, self.layout, self.font, self.numbers
        (kh, kw), (oh, ow) = geometry.kernel, geometry.output
        (sy, sx), (dy, dx) = geometry.stride, geometry.dilation
        i, j = divmod(index, ow)
        frame = self.base.copy()
        draw = ImageDraw.Draw(frame)
        for u in range(kh):
            for v in range(kw):
                r, c = i * sy + u * dy, j * sx + v * dx
                box = layout.input_cell(r, c)
                draw.rectangle(box, fill=COLOURS["tap"], outline=COLOURS["focus"], width=2)
                if numbers:
                    _centred(draw, box, str(self._value(r, c)[0]), COLOURS["text"], font)
        first = layout.input_cell(i * sy, j * sx)
        last = layout.input_cell(i * sy + dy * (kh - 1), j * sx + dx * (kw - 1))
        draw.rectangle((first[0], first[1], last[2], last[3]), outline=COLOURS["focus"], width=1)
        for a in range(oh):
            for b in range(ow):
                done = a * ow + b
                state = "done" if done < index else "current" if done == index else "empty"
                box = layout.output_cell(a, b)
                width = 3 if state == "current" else 1
                outline = COLOURS["focus" if state == "current" else "line"]
                draw.rectangle(box, fill=COLOURS[state], outline=outline, width=width)
                if numbers and done <= index:
                    _centred(draw, box, f"{self.outputs[a, b]:g}", COLOURS["text"], font)
        caption = f"output ({i}, {j}): taps at rows {i * sy}..{i * sy + dy * (kh - 1)} step {dy}, " \
                  f"columns {j * sx}..{j * sx + dx * (kw - 1)} step {dx}"
        draw.text((MARGIN, layout.size[1] - TITLE), caption, fill=COLOURS["text"], font=font)
        return frame


class _Arrays(Sequence[np.ndarray]):
    """The frames as arrays for `imgconv.io.animation`'s writers, drawn when asked for. The
    writers go through them in order, looking back one frame, so the last two drawn are
    kept: memory does not grow with the frame count."""

    def __init__(self, frames: Frames, on_progress: Callable[[int, int], object] | None = None) -> None:
        self.frames, self.on_progress = frames, on_progress
        self.kept: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]  # frames one at a time, no slices
        if index not in self.kept:
            if len(self.kept) == 2:
                del self.kept[min(self.kept)]
            self.kept[index] = np.asarray(self.frames[index])
            if self.on_progress:
                self.on_progress(index + 1, len(self))
        return self.kept[index]


def _centred(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], text: str, colour: tuple[int, int, int],
             font: ImageFont.ImageFont | ImageFont.FreeTypeFont) -> None:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x = (box[0] + box[2] - (right - left)) / 2 - left
    y = (box[1] + box[3] - (bottom - top)) / 2 - top
    draw.text((x, y), text, fill=colour, font=font)


def check_size(geometry: Geometry, format: str, max_pixels: int, name: str) -> None:
    """Refuse, before anything is drawn, an animation whose frames hold more than
    ``max_pixels`` pixels in all (0: no limit) or are wider or taller than ``format``
    (a name of `imgconv.io.formats.FORMATS`) holds. Drawing and writing take time in
    proportion to those pixels."""
    width, height = Layout(geometry).size
    count = geometry.output[0] * geometry.output[1]
    if max_pixels and count * width * height > max_pixels:
        raise InvalidInputError(f"{name}: {count} frames of {width}x{height} make {count * width * height} pixels, "
                                f"more than the limit of {max_pixels} (--max-pixels N raises it; 0 lifts it)")
    longest = FORMATS[format].max_side
    if longest is not None and max(width, height) > longest:
        raise InvalidInputError(f"{name}: frames of {width}x{height} are larger than {format} holds (at most "
                                f"{longest} pixels a side); write .png")


def animate_file(dest: str, geometry: Geometry, *, fps: float = 2.0, numbers: bool = False, seed: int = 0,
                 max_pixels: int = DEFAULT_MAX_PIXELS, on_progress: Callable[[int, int], object] | None = None) -> int:
    """Write the animation, looping, to ``dest``: a GIF, or an animated PNG or lossless
    WebP as its extension says (``-`` for standard output is a GIF). Refused (see
    `check_size`) past ``max_pixels`` pixels in all its frames. ``on_progress(done,
    total)`` is told the frames drawn, ``(0, frames)`` first. Returns the frame count."""
    record = FORMATS[output_format(dest, None, "GIF")]
    if not record.timed:
        timed = sorted(other.extension for other in FORMATS.values() if other.timed)
        raise InvalidInputError(f"{dest}: an animation is written as {', '.join(timed[:-1])} or {timed[-1]}")
    name = "<stdout>" if dest == STDIO else dest
    check_size(geometry, record.name, max_pixels, name)
    check_destination(dest)  # before drawing, which can take a while
    frames = _Arrays(Frames(geometry, numbers, seed), on_progress)
    if on_progress:
        on_progress(0, len(frames))
    timing = {"duration": [max(1, round(1000 / fps))] * len(frames), "loop": 0}
    # Frames are annotated as a list; the writers take the length, index and iterate,
    # which _Arrays does without holding every frame. WebP's is lossless, as a lossless
    # input's would be; one frame is an animation still.
    picture = Picture(frames, "RGB", record.name, encoding={"lossless": True}, animation=timing)  # type: ignore[arg-type]
    writer = record.writer_of(animated=True)
    buffer = io.BytesIO()
    writer(frames, picture, record, {}, EncodeOptions(), name, buffer)  # type: ignore[arg-type]
    write_bytes(buffer.getvalue(), dest)
    return len(frames)
