"""What the demonstration page asks for, computed by imgconv, without HTTP.

Each answer takes the query of a request (a dict of strings, as the page sends them),
checks every value, and returns an `Answer`: how to make the bytes to send, their
content type, and what making them costs. A value out of range, a parameter the page
does not send, an unknown image: `RequestError` with the HTTP status and a one-line
reason.

- ``blur.png``: `imgconv.pipeline.render`, the code path of
  ``imgconv blur -r R -s S --view V -b B IMAGE out.png``;
- ``kernel.json``: that Gaussian's weights;
- ``conv.json`` and ``conv.png``: the geometry and the frames of `imgconv animate`;
- ``params.json``: `imgconv.lecture.params`' counts;
- ``restore.json``: that blur undone (`restore`), the three pictures as PNG ``data:``
  addresses and the PSNR of the blurred and restored ones;
- ``image``: a picture uploaded by the page, kept in memory only.

An answer whose memory grows with a picture (an upload read and decoded, a blur, a
frame) is made and sent in its turn of `Demo.turns`: two at once, the rest waiting in
order, a request beyond the waiting room refused. So what the server holds is bounded
by the upload limit, whatever arrives at once.
"""

import contextlib
import functools
import io
import json
import math
import os
import re
import secrets
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

# Names, not modules: the command line puts lazily loaded modules in sys.modules, and
# the server's threads must not be the ones to load them, at once (a module half loaded
# by one thread lacks its names in another).
from ..engine import EngineOptions
from ..errors import ImgconvError, PixelLimitError
from ..filters import preset_filter
from ..io.cmyk import to_srgb
from ..io.picture import Picture
from ..io.read import decode_image, read_image
from ..io.source import max_bytes
from ..io.write import check_writable
from ..kernels import separable_gaussian
from ..lecture.animate import Frames, Geometry, make_geometry
from ..lecture.params import format_ratio, parameter_counts, power_of_ten, ratios
from ..options import WriteOptions
from ..pipeline import render
from ..restoration import METHODS, RICHARDSON_LUCY
from ..vocabulary import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_UPLOAD_PIXELS,
    VIEWS,
    resolve_mode,
)
from .renders import Answer, Kept
from .restore import Settings, centre, panel

SAMPLE = Path(__file__).with_name("chelsea.png")

# The page's sliders: what the lecture's demonstration offers. The server takes the same
# ranges, so that a request cannot ask for more work than a slider can.
RADIUS = (0, 30)
DEVIATION = (0.5, 10.0)
# Undoing the blur: Richardson-Lucy updates (50 of the sample with the largest Gaussian
# took 0.6 s, see restore.SIDE), Wiener's balance, and the noise added (levels of 255).
ITERATIONS = (1, 50)
BALANCE = (0.0001, 1.0)
NOISE = (0.0, 20.0)
# The animation's controls. The largest setting (input 16, kernel 7, padding 4) has 324
# frames of 1590x804 pixels, each drawn and encoded as asked for: measured 60-145 ms a
# frame on the 2-core machine, within the page's step of 0.6 s.
CONV_INPUT = (1, 16)
CONV_KERNEL = (1, 7)
CONV_STRIDE = (1, 4)
CONV_DILATION = (1, 4)
CONV_PADDING = (0, 4)
PADDING_NAMES = ("valid", "same", "full")
# Parameter counts: the lecture's are up to 10^6 a size; beyond 10^9 nothing is learnt.
PARAMS_LARGEST = 10**9
# Uploads held at once, and no more pixels in all than one upload may have; older ones
# are forgotten (the page says to upload again).
UPLOADS_KEPT = 4
# Pictures made at once (blurs, frames, uploads decoded), and requests that may wait for
# their turn: more than the six connections a browser opens to one server.
WORKERS = 2
WAITING = 8

# A request's query: each parameter's value, as the page sends it.
Query = Mapping[str, str]


class RequestError(ImgconvError):
    """A request the demo refuses: ``status`` is the HTTP status, the message one line."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Turns:
    """Work taken in turns, in the order it comes: at most ``workers`` at once, whose
    costs (pixels) add up to at most ``capacity``; work costing more runs alone. At most
    ``waiting`` wait; beyond that, `RequestError` 503."""

    def __init__(self, workers: int, capacity: int, waiting: int) -> None:
        self.workers, self.capacity, self.waiting = workers, capacity, waiting
        self._condition = threading.Condition()
        self._queue: deque[object] = deque()
        self._running = self._cost = 0

    def _fits(self, cost: int) -> bool:
        return self._running == 0 or (self._running < self.workers and self._cost + cost <= self.capacity)

    @contextlib.contextmanager
    def turn(self, cost: int) -> Iterator[None]:
        """Waits for this work's turn, and holds it while the ``with`` block runs."""
        with self._condition:
            if len(self._queue) >= self.waiting:
                raise RequestError(f"the demo is busy ({self._running} pictures in the making, {len(self._queue)} "
                                   f"waiting); try again", 503)
            ticket = object()
            self._queue.append(ticket)
            self._condition.wait_for(lambda: self._queue[0] is ticket and self._fits(cost))
            self._queue.popleft()
            self._running += 1
            self._cost += cost
            self._condition.notify_all()  # the next in line may fit too
        try:
            yield
        finally:
            with self._condition:
                self._running -= 1
                self._cost -= cost
                self._condition.notify_all()


def _check_names(query: Query, names: Sequence[str]) -> None:
    unknown = sorted(set(query) - set(names))
    if unknown:
        raise RequestError(f"unknown parameter {unknown[0]!r}; this takes {', '.join(names)}")


def _shown(value: str) -> str:
    """A value as a message quotes it: one line, not too long."""
    return repr(value if len(value) <= 40 else value[:40] + "...")


def _whole(query: Query, name: str, bounds: tuple[int, int], default: int) -> int:
    value = query.get(name, str(default))
    low, high = bounds
    if not re.fullmatch(r"[0-9]{1,10}", value) or not low <= int(value) <= high:
        raise RequestError(f"{name}: {_shown(value)} is not a whole number from {low} to {high}")
    return int(value)


def _number(query: Query, name: str, bounds: tuple[float, float], default: float) -> float:
    value = query.get(name, str(default))
    low, high = bounds
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and low <= number <= high):
        raise RequestError(f"{name}: {_shown(value)} is not a number from {low:g} to {high:g}")
    return number


def _choice(query: Query, name: str, choices: Sequence[str], default: str) -> str:
    value = query.get(name, default)
    if value not in choices:
        raise RequestError(f"{name}: {_shown(value)} is not one of {', '.join(choices)}")
    return value


def _size(query: Query, name: str, default: str) -> tuple[int, int]:
    """``HxW`` or ``N``, as the command line's ``--input-size`` and ``--kernel-size`` take them."""
    value = query.get(name, default)
    match = re.fullmatch(r"([0-9]{1,10})(?:x([0-9]{1,10}))?", value)
    numbers = match and (int(match[1]), int(match[2] or match[1]))
    if not numbers or not all(1 <= n <= PARAMS_LARGEST for n in numbers):
        raise RequestError(f"{name}: {_shown(value)} is not a size HxW, each from 1 to {PARAMS_LARGEST:,}")
    return numbers


def _json(value: Any) -> Answer:
    return Answer(lambda: json.dumps(value).encode(), "application/json")


class Demo:
    """The pictures a page works on, and the answer to each of its requests.

    Parameters
    ----------
    image : str or os.PathLike, optional
        The picture the page opens with; default the 451x300 sample (a cat).
    max_pixels : int
        The most pixels of that picture (0: no limit), checked from the header before
        decoding, as ``--max-pixels`` is by every command; uploads too, if smaller.
    max_upload_pixels : int
        The most pixels of an upload (all its frames), checked in the same way.
    """

    def __init__(self, image: str | os.PathLike[str] | None = None, max_pixels: int = DEFAULT_MAX_PIXELS,
                 max_upload_pixels: int = DEFAULT_MAX_UPLOAD_PIXELS) -> None:
        self.max_pixels = max_pixels
        # The smaller limit, and the option that sets it (--max-pixels where they are
        # equal; its 0 is no limit).
        self.upload_limit = (max_pixels, "--max-pixels") if max_pixels and max_pixels <= max_upload_pixels else \
            (max_upload_pixels, "--max-upload-pixels")
        path = SAMPLE if image is None else image
        self.picture = to_srgb(read_image(path, max_pixels=max_pixels))  # CMYK as sRGB, once
        check_writable(self.picture, "PNG", str(path))
        self.info = self._describe(self.picture, Path(path).name, None)
        self.uploads: OrderedDict[str, Picture] = OrderedDict()
        self.lock = threading.Lock()  # for self.uploads
        self.turns = Turns(WORKERS, self.upload_limit[0], WAITING)
        self.kept = Kept()  # blur.png, restore.json and conv.png, by all that decides them

    @staticmethod
    def _describe(picture: Picture, name: str, key: str | None) -> dict[str, Any]:
        height, width = picture.frames[0].shape[:2]
        return {"id": key, "name": name, "width": width, "height": height, "description": picture.description}

    @property
    def max_upload_bytes(self) -> int:
        """The largest upload taken; a larger one is refused before it is read."""
        return max_bytes(self.upload_limit[0])

    def upload(self, length: int, read: Callable[[int], bytes]) -> Answer:
        """An upload of ``length`` bytes, read with ``read(length)`` in its turn (alone:
        nothing else is made meanwhile) and kept in memory; the answer is its
        description (``id`` for ``blur.png``, random)."""
        limit, option = self.upload_limit
        if length > self.max_upload_bytes:
            raise RequestError(f"upload: {length} bytes is more than a picture of {limit:,} pixels can take "
                               f"({self.max_upload_bytes:,} bytes; imgconv demo {option} N raises it)", 413)

        def make() -> bytes:
            data = read(length)
            if len(data) != length:
                raise RequestError("upload: the body ended before its Content-Length")
            try:
                picture = to_srgb(decode_image(data, "upload", max_pixels=limit))
            except PixelLimitError:
                raise RequestError(f"upload: more pixels than the limit of {limit:,} (imgconv demo {option} N "
                                   f"raises it)", 413) from None
            del data
            check_writable(picture, "PNG", "upload")
            key = secrets.token_urlsafe(12)
            with self.lock:
                self.uploads[key] = picture
                while len(self.uploads) > UPLOADS_KEPT or sum(map(_pixels, self.uploads.values())) > limit:
                    self.uploads.popitem(last=False)
            return _json(self._describe(picture, "upload", key)).make()

        return Answer(make, "application/json", limit)

    def image(self, query: Query) -> Answer:
        """The description of the picture the page opens with."""
        _check_names(query, ())
        return _json(self.info)

    def blur(self, query: Query) -> Answer:
        """``blur.png``: what ``imgconv blur -r R -s S --view V -b B IMAGE out.png`` writes."""
        _check_names(query, ("radius", "deviation", "view", "boundary", "image"))
        radius = _whole(query, "radius", RADIUS, 5)
        deviation = _number(query, "deviation", DEVIATION, 3)
        view = _choice(query, "view", VIEWS, "result")
        boundary = _boundary(query)
        key = query.get("image")
        # As the blur command makes its filter from its options (cli.blur).
        filt = preset_filter(separable_gaussian(deviation, radius=radius), engine=EngineOptions(mode=boundary))
        # The upload is looked up again in its turn: one forgotten meanwhile is not kept
        # alive by the requests waiting for it.
        return self.kept.answer(("blur", key, radius, deviation, view, boundary), Answer(
            lambda: render(self._picture(key), filt, "PNG", WriteOptions(view=view), name="blur.png"),
            "image/png", _pixels(self._picture(key))))

    def restore(self, query: Query) -> Answer:
        """``restore.json``: `restore.restoration` of the picture as the page sets it."""
        _check_names(query, ("radius", "deviation", "boundary", "image", "method", "iterations", "balance", "noise"))
        settings = Settings(_whole(query, "radius", RADIUS, 5), _number(query, "deviation", DEVIATION, 3),
                            _boundary(query), _choice(query, "method", METHODS, RICHARDSON_LUCY),
                            _whole(query, "iterations", ITERATIONS, 30), _number(query, "balance", BALANCE, 0.01),
                            _number(query, "noise", NOISE, 0))
        key = query.get("image")
        # The upload is looked up again in its turn, as for blur.png.
        return self.kept.answer(("restore", key, settings), Answer(
            lambda: _json(panel(self._picture(key), settings)).make(), "application/json",
            math.prod(centre(self._picture(key).frames[0]).shape[:2])))

    def _picture(self, key: str | None) -> Picture:
        """The sample (key None) or an upload held."""
        if key is None:
            return self.picture
        with self.lock:
            picture = self.uploads.get(key)
        if picture is None:
            raise RequestError(f"image: no upload {_shown(key)} is held (only the last few); upload it again", 404)
        return picture

    def kernel(self, query: Query) -> Answer:
        """``kernel.json``: the Gaussian's weights, rows of the dense kernel."""
        _check_names(query, ("radius", "deviation"))
        radius = _whole(query, "radius", RADIUS, 5)
        deviation = _number(query, "deviation", DEVIATION, 3)
        weights = separable_gaussian(deviation, radius=radius).dense()
        return _json({"radius": radius, "deviation": deviation, "weights": weights.tolist()})

    @staticmethod
    def _geometry(query: Query, extra: tuple[str, ...] = ()) -> Geometry:
        _check_names(query, ("input", "kernel", "stride", "padding", "dilation", *extra))
        size = _whole(query, "input", CONV_INPUT, 5)
        kernel = _whole(query, "kernel", CONV_KERNEL, 3)
        stride = _whole(query, "stride", CONV_STRIDE, 1)
        dilation = _whole(query, "dilation", CONV_DILATION, 1)
        padding: int | str = query.get("padding", "0")
        if padding not in PADDING_NAMES:
            try:
                padding = _whole(query, "padding", CONV_PADDING, 0)
            except RequestError as exc:
                raise RequestError(f"{exc}, nor one of {', '.join(PADDING_NAMES)}") from None
        try:
            return make_geometry((size, size), (kernel, kernel), (stride, stride), (padding, padding),
                                 (dilation, dilation))
        except ImgconvError as exc:
            raise RequestError(str(exc)) from None

    def conv(self, query: Query) -> Answer:
        """``conv.json``: the animation's sizes, steps and output-size formula."""
        geometry = self._geometry(query)
        n, k, s, d = geometry.input[0], geometry.kernel[0], geometry.stride[0], geometry.dilation[0]
        before, after, out = geometry.before[0], geometry.after[0], geometry.output[0]
        formula = f"floor(({n} + {before} + {after} - {d}·({k} - 1) - 1) / {s}) + 1 = {out}"
        return _json({"input": n, "padded": geometry.padded[0], "before": before, "after": after,
                      "output": list(geometry.output), "steps": out * out, "formula": formula})

    def conv_frame(self, query: Query) -> Answer:
        """``conv.png``: frame ``step`` of ``imgconv animate --numbers`` (seed 0)."""
        geometry = self._geometry({k: v for k, v in query.items() if k != "step"}, ("step",))
        step = _whole(query, "step", (0, geometry.output[0] * geometry.output[1] - 1), 0)

        def make() -> bytes:
            buffer = io.BytesIO()
            _frames(geometry)[step].save(buffer, format="PNG")
            return buffer.getvalue()

        # A frame is at most 1590x804 (a few MB): it takes a turn, not pixels.
        return self.kept.answer(("conv", geometry, step), Answer(make, "image/png", 0))

    @staticmethod
    def params(query: Query) -> Answer:
        """``params.json``: the three layers' parameter counts and their ratios."""
        _check_names(query, ("input", "hidden", "filter", "filters", "channels", "bias"))
        input_size = _size(query, "input", "1000x1000")
        filter_size = _size(query, "filter", "10x10")
        hidden = _whole(query, "hidden", (1, PARAMS_LARGEST), 10**6)
        count = _whole(query, "filters", (1, PARAMS_LARGEST), 100)
        channels = _whole(query, "channels", (1, PARAMS_LARGEST), 1)
        bias = _choice(query, "bias", ("0", "1"), "0") == "1"
        counts = parameter_counts(input_size, hidden, filter_size, count, channels, bias)
        quotients = ratios(counts)
        # As the command prints them (params.format_table).
        return _json({
            "counts": {name: f"{value:,}" for name, value in counts.items()},
            "powers": {name: power_of_ten(value) for name, value in counts.items()},
            "ratios": {name: format_ratio(value) for name, value in quotients.items()},
            "ratio_powers": {name: power_of_ten(value) for name, value in quotients.items()},
        })


def _boundary(query: Query) -> str:
    boundary = query.get("boundary", "reflect")
    try:
        resolve_mode(boundary)
    except ImgconvError as exc:
        raise RequestError(f"boundary: {exc}") from None
    return boundary


def _pixels(picture: Picture) -> int:
    return sum(frame.shape[0] * frame.shape[1] for frame in picture.frames)


@functools.lru_cache(maxsize=16)
def _frames(geometry: Geometry) -> Frames:
    return Frames(geometry, numbers=True)
