"""What the demonstration page asks for, computed by imgconv, without HTTP.

Each answer takes the query of a request (a dict of strings, as the page sends them),
checks every value, and returns the bytes to send and their content type. A value out
of range, a parameter the page does not send, an unknown image: `RequestError` with
the HTTP status and a one-line reason.

- ``blur.png``: `imgconv.pipeline.render`, the code path of
  ``imgconv blur -r R -s S --view V -b B IMAGE out.png``;
- ``kernel.json``: that Gaussian's weights;
- ``conv.json`` and ``conv.png``: the geometry and the frames of `imgconv animate`;
- ``params.json``: `imgconv.lecture.params`' counts;
- ``image``: a picture uploaded by the page, kept in memory only.
"""

import functools
import io
import json
import math
import re
import secrets
import threading
from collections import OrderedDict
from pathlib import Path

# Names, not modules: the command line puts lazily loaded modules in sys.modules, and
# the server's threads must not be the ones to load them, at once (a module half loaded
# by one thread lacks its names in another).
from ..errors import ImgconvError
from ..filters import preset_filter
from ..imageio import check_writable, decode_image, max_bytes, read_image
from ..kernels import separable_gaussian
from ..lecture.animate import Frames, make_geometry
from ..lecture.params import format_ratio, parameter_counts, power_of_ten, ratios
from ..pipeline import render
from ..vocabulary import DEFAULT_MAX_PIXELS, VIEWS, resolve_mode

SAMPLE = Path(__file__).with_name("chelsea.png")

# The page's sliders: what the lecture's demonstration offers. The server takes the same
# ranges, so that a request cannot ask for more work than a slider can.
RADIUS = (0, 30)
DEVIATION = (0.5, 10.0)
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
# Uploads held at once; older ones are forgotten (the page uploads again when asked).
UPLOADS_KEPT = 4


class RequestError(ImgconvError):
    """A request the demo refuses: ``status`` is the HTTP status, the message one line."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def _check_names(query, names):
    unknown = sorted(set(query) - set(names))
    if unknown:
        raise RequestError(f"unknown parameter {unknown[0]!r}; this takes {', '.join(names)}")


def _shown(value):
    """A value as a message quotes it: one line, not too long."""
    return repr(value if len(value) <= 40 else value[:40] + "...")


def _whole(query, name, bounds, default):
    value = query.get(name, str(default))
    low, high = bounds
    if not re.fullmatch(r"[0-9]{1,10}", value) or not low <= int(value) <= high:
        raise RequestError(f"{name}: {_shown(value)} is not a whole number from {low} to {high}")
    return int(value)


def _number(query, name, bounds, default):
    value = query.get(name, str(default))
    low, high = bounds
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and low <= number <= high):
        raise RequestError(f"{name}: {_shown(value)} is not a number from {low:g} to {high:g}")
    return number


def _choice(query, name, choices, default):
    value = query.get(name, default)
    if value not in choices:
        raise RequestError(f"{name}: {_shown(value)} is not one of {', '.join(choices)}")
    return value


def _size(query, name, default):
    """``HxW`` or ``N``, as the command line's ``--input`` and ``--filter`` take them."""
    value = query.get(name, default)
    match = re.fullmatch(r"([0-9]{1,10})(?:x([0-9]{1,10}))?", value)
    numbers = match and (int(match[1]), int(match[2] or match[1]))
    if not numbers or not all(1 <= n <= PARAMS_LARGEST for n in numbers):
        raise RequestError(f"{name}: {_shown(value)} is not a size HxW, each from 1 to {PARAMS_LARGEST:,}")
    return numbers


def _json(value):
    return json.dumps(value).encode(), "application/json"


class Demo:
    """The pictures a page works on, and the answer to each of its requests.

    Parameters
    ----------
    image : str or os.PathLike, optional
        The picture the page opens with; default the 451x300 sample (a cat).
    max_pixels : int
        The most pixels of that picture and of an upload (0: no limit), checked from
        the header before decoding, as ``--max-pixels`` is by every command.
    """

    def __init__(self, image=None, max_pixels=DEFAULT_MAX_PIXELS):
        self.max_pixels = max_pixels
        path = SAMPLE if image is None else image
        self.picture = read_image(path, max_pixels=max_pixels)
        check_writable(self.picture, "PNG", str(path))
        self.info = self._describe(self.picture, Path(path).name, None)
        self.uploads = OrderedDict()
        # One upload decoded at a time: decoding briefly lifts Pillow's global limit,
        # and one picture at a time bounds the memory uploads take.
        self.lock = threading.Lock()

    @staticmethod
    def _describe(picture, name, key):
        height, width = picture.frames[0].shape[:2]
        return {"id": key, "name": name, "width": width, "height": height, "description": picture.description}

    @property
    def max_upload_bytes(self):
        """The largest upload taken; a larger one is refused before it is read."""
        return max_bytes(self.max_pixels)

    def upload(self, data):
        """Keep an uploaded picture in memory; its description (``id`` for ``blur.png``,
        random: a hash would name the picture to whoever has it)."""
        key = secrets.token_urlsafe(12)
        with self.lock:
            picture = decode_image(data, "upload", max_pixels=self.max_pixels)
            check_writable(picture, "PNG", "upload")
            self.uploads[key] = picture
            while len(self.uploads) > UPLOADS_KEPT:
                self.uploads.popitem(last=False)
            return _json(self._describe(picture, "upload", key))

    def image(self, query):
        """The description of the picture the page opens with."""
        _check_names(query, ())
        return _json(self.info)

    def blur(self, query):
        """``blur.png``: what ``imgconv blur -r R -s S --view V -b B IMAGE out.png`` writes."""
        _check_names(query, ("radius", "deviation", "view", "boundary", "image"))
        radius = _whole(query, "radius", RADIUS, 5)
        deviation = _number(query, "deviation", DEVIATION, 3)
        view = _choice(query, "view", VIEWS, "result")
        boundary = query.get("boundary", "reflect")
        try:
            resolve_mode(boundary)
        except ImgconvError as exc:
            raise RequestError(f"boundary: {exc}") from None
        picture = self.picture
        if "image" in query:
            with self.lock:
                picture = self.uploads.get(query["image"])
            if picture is None:
                raise RequestError(f"image: no upload {_shown(query['image'])} is held (only the last "
                                   f"{UPLOADS_KEPT}); upload it again", 404)
        # As the blur command makes its filter from its options (cli.blur).
        filt = preset_filter(separable_gaussian(radius, deviation), boundary=boundary, cval=0.0, method="auto",
                             threads=None)
        return render(picture, filt, "PNG", view=view, name="blur.png"), "image/png"

    def kernel(self, query):
        """``kernel.json``: the Gaussian's weights, rows of the dense kernel."""
        _check_names(query, ("radius", "deviation"))
        radius = _whole(query, "radius", RADIUS, 5)
        deviation = _number(query, "deviation", DEVIATION, 3)
        weights = separable_gaussian(radius, deviation).dense()
        return _json({"radius": radius, "deviation": deviation, "weights": weights.tolist()})

    @staticmethod
    def _geometry(query, extra=()):
        _check_names(query, ("input", "kernel", "stride", "padding", "dilation") + extra)
        size = _whole(query, "input", CONV_INPUT, 5)
        kernel = _whole(query, "kernel", CONV_KERNEL, 3)
        stride = _whole(query, "stride", CONV_STRIDE, 1)
        dilation = _whole(query, "dilation", CONV_DILATION, 1)
        padding = query.get("padding", "0")
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

    def conv(self, query):
        """``conv.json``: the animation's sizes, steps and output-size formula."""
        geometry = self._geometry(query)
        n, k, s, d = geometry.input[0], geometry.kernel[0], geometry.stride[0], geometry.dilation[0]
        before, after, out = geometry.before[0], geometry.after[0], geometry.output[0]
        formula = f"floor(({n} + {before} + {after} - {d}·({k} - 1) - 1) / {s}) + 1 = {out}"
        return _json({"input": n, "padded": geometry.padded[0], "before": before, "after": after,
                      "output": list(geometry.output), "steps": out * out, "formula": formula})

    def conv_frame(self, query):
        """``conv.png``: frame ``step`` of ``imgconv animate --numbers`` (seed 0)."""
        geometry = self._geometry({k: v for k, v in query.items() if k != "step"}, ("step",))
        frames = _frames(geometry)
        step = _whole(query, "step", (0, len(frames) - 1), 0)
        buffer = io.BytesIO()
        frames[step].save(buffer, format="PNG")
        return buffer.getvalue(), "image/png"

    @staticmethod
    def params(query):
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


@functools.lru_cache(maxsize=16)
def _frames(geometry):
    return Frames(geometry, numbers=True)
