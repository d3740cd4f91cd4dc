"""One image file through one filter: read, filter, encode, write atomically.

This is what every filter command of the CLI does for each input; Python users get
the same result with `process_file`.
"""

import contextlib
import functools
import io
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager as ContextManager
from contextvars import ContextVar
from dataclasses import replace
from typing import Any, BinaryIO

import numpy as np

from .errors import ImageReadError, ImageWriteError, InvalidInputError
from .filters import LINEAR, LUMINANCE, Filter, channel_kernels, composite, filter_picture
from .in_place import filter_in_place
from .io import formats, pages
from .io.cmyk import background_samples, for_output, white
from .io.picture import Picture
from .io.probe import Probe, streamed_probe
from .io.read import read_image
from .io.sink import STDIO, check_destination, output_file
from .io.srgb import profile_not_srgb, srgb_form, to_srgb
from .io.tiled_image import Path, is_zarr
from .io.write import check_writable, encoder, keepers, output_format
from .linear import filter_linear
from .luminance import filter_luminance
from .missing_filter import InterpolatingFilter
from .names import quote_name
from .options import ReadOptions, WriteOptions
from .restoration import Deconvolution
from .views import compose
from .vocabulary import TRUNCATE, resolve_mode


def process_file(source: Path, dest: Path, filt: Filter, read: ReadOptions = ReadOptions(),
                 write: WriteOptions = WriteOptions(), *, in_place: bool = False,
                 on_progress: Callable[[int, int], object] | None = None, get: Callable[..., Any] | None = None,
                 probed: Probe | None = None) -> str:
    """Apply a `Filter` to the image ``source`` and write the result to ``dest``.

    Parameters
    ----------
    source, dest : str or os.PathLike
        Files, or ``"-"`` for standard input and output.
    filt : imgconv.filters.Filter
    read : imgconv.options.ReadOptions
        How ``source`` is read: frame, orientation, pixel limit.
    write : imgconv.options.WriteOptions
        How ``dest`` is written: format, depth, view, background, tiles, sync, encoding.
    in_place : bool
        Allow ``dest`` to be ``source`` itself.
    on_progress : callable, optional
        ``on_progress(done, total)``: tiles written, after each row of tiles, when a
        tiled input is streamed; else frames filtered, ``(0, frames)`` first and then
        after each frame.
    get : callable, optional
        The Dask scheduler a streamed tiled input's blocks run on (a
        ``distributed.Client``'s ``get``); default Dask's threads.
    probed : imgconv.io.probe.Probe, optional
        What the caller's `imgconv.io.probe.streamed_probe` of ``source`` and ``dest``
        found for ``read`` (``Probe()`` where it found None), so that the input's header
        is not read twice; default probed here.

    A tiled TIFF or a Zarr store written to a TIFF file or a Zarr store is streamed tile
    by tile (`imgconv.stream`): ``read.max_pixels`` then bounds what is decoded at once.

    Returns
    -------
    str
        The output format written.
    """
    check_paths(source, dest, in_place)
    if probed is None:
        probed = streamed_probe(source, dest, write.format, read.frame, read.max_pixels, read.auto_orient)
    if probed is not None and probed.tiled:
        _check_streamable(filt, dest)
        _check_streamed_colours(probed, dest, write.srgb)
        if write.background is not None:
            raise InvalidInputError(f"{quote_name(dest)}: --background composites whole images, and a tiled input is "
                                    "streamed to a TIFF or Zarr output tile by tile, alpha kept; write another format "
                                    "to decode it whole")
        from .stream.run import process_tiled  # Dask and the tiled writers, loaded for these inputs only

        return process_tiled(source, dest, filt, read, write, on_progress=on_progress, get=get, probed=probed)
    if write.tile_size is not None:
        raise InvalidInputError(f"{quote_name(dest)}: --tile-size is for tiled outputs, written from a tiled TIFF or "
                                "Zarr input to a .tif or .zarr")
    check_destination(dest)
    name = "<stdout>" if dest == STDIO else quote_name(dest)
    picture = read_image(source, frame=read.frame, auto_orient=read.auto_orient, max_pixels=read.max_pixels,
                         only_regular=read.only_regular)
    fmt = output_format(dest, write.format, picture.format)
    render_into(functools.partial(output_file, dest, sync=write.sync), picture, filt, fmt, write, name=name,
                on_progress=on_progress, release_input=True)
    return fmt


LIGHTS = {None: filter_picture, LINEAR: filter_linear, LUMINANCE: filter_luminance}
"""How `render` filters a picture, by its filter's ``light``."""

# Results of at most this many bytes in all are kept whole for the next file's within
# `reusing_memory`: glibc keeps freed blocks of this size for the next allocation (its
# default, and the CLI's 64 MiB), where pages given up to the encoder and handed back
# strip by strip (`imgconv.io.pages`) are faulted in anew by the next file's result.
# Six 4K JPEGs blurred (r=5) one after another by process_file in one process: 80-83
# ms a file instead of 94 (best of 3 rounds), 20-70 page faults a file instead of
# 6,100, the same peak. A command's one file still hands them back: it has no next
# file, and its peak is 17 MB lower (105 MB against 122 for one 4K JPEG).
KEPT_RESULT_BYTES = 32 << 20

_REUSING: ContextVar[bool] = ContextVar("imgconv_reusing_memory", default=False)


@contextlib.contextmanager
def reusing_memory() -> Iterator[None]:
    """Within this context, `render` (and so `process_file`) keeps results of at most
    `KEPT_RESULT_BYTES` in all whole until they are freed, so that the next file's
    result reuses their memory: for a batch's worker, which goes on to another file."""
    token = _REUSING.set(True)
    try:
        yield
    finally:
        _REUSING.reset(token)


def render(picture: Picture, filt: Filter, fmt: str, write: WriteOptions = WriteOptions(),
           name: str = "<stdout>", on_progress: Callable[[int, int], object] | None = None, *,
           release_input: bool = False) -> bytes:
    """The bytes `process_file` writes for a `Picture` already read, as `render_into`
    makes them."""
    buffer = io.BytesIO()
    render_into(lambda: contextlib.nullcontext(buffer), picture, filt, fmt, write, name, on_progress,
                release_input=release_input)
    return buffer.getvalue()


def render_into(opened: Callable[[], ContextManager[BinaryIO]], picture: Picture, filt: Filter, fmt: str,
                write: WriteOptions = WriteOptions(), name: str = "<stdout>",
                on_progress: Callable[[int, int], object] | None = None, *, release_input: bool = False) -> None:
    """A `Picture` already read, filtered, shown as ``write.view`` says and encoded in
    ``fmt`` (a name of `imgconv.io.write.output_format`) into the file ``opened()``
    gives (`imgconv.io.sink.output_file`), entered once everything that is refused has
    been, and the filtering is done.

    ``write``'s format, tile size and sync are `process_file`'s own; ``name`` is the
    destination, for messages only; ``on_progress(done, total)`` is told the frames
    filtered, ``(0, frames)`` first.

    The results are given up to the encoder (`imgconv.io.pages`), which hands their
    memory back as it copies them. With ``release_input``, the picture is given up too,
    as `process_file` gives up the one it read: a frame is filtered in its own memory
    where `imgconv.in_place.filter_in_place` can, and each frame is dropped from the
    picture once filtered (an array of its shape that holds no samples takes its place),
    so that the input is not held while the results are encoded.
    """
    view, compression, record = write.view, write.encoding.compression, formats.FORMATS[fmt]
    if view != "result" and record.raw:
        raise InvalidInputError(f"{name}: --view {view} makes a picture; a {record.extension} output holds the raw "
                                "result")
    if compression is not None and not record.compression:
        compressed = " or ".join(other.name for other in formats.FORMATS.values() if other.compression)
        raise InvalidInputError(f"{name}: --compression is for {compressed} outputs (and streamed Zarr ones), not "
                                f"{record.extension if record.raw else fmt}")
    given = picture
    if write.srgb and write.depth is None and write.background is None and picture.mode in _SRGB_FORMS:
        # Nothing but the conversion changes this picture before the output's checks:
        # they run first, so that what is refused costs no conversion (a 4K 16-bit
        # frame's takes 1.4 s of CPU).
        check_writable(srgb_form(picture), fmt, name, write.encoding.strip)
    with pages.giving_up(given.frames if release_input else []):  # colours and inks go as they are converted
        if write.srgb:
            picture = to_srgb(picture)
        picture = for_output(picture, record, depth=write.depth, background=write.background is not None,
                             subsampling=write.encoding.subsampling)
    picture, written, over = _alpha_for(picture, record, write.background, name, write.encoding.strip)
    check_writable(written, fmt, name, write.encoding.strip)
    _check_channel_values(filt, picture, given.mode, record.name)
    results: list[np.ndarray] = []
    if on_progress:
        on_progress(0, len(picture.frames))
    for index in range(len(picture.frames)):
        results.append(_render_frame(picture, index, filt, record, view, over, release_input))
        if release_input:
            for holder in (given, picture):
                holder.frames[index] = _spent(holder.frames[index])
        if on_progress:
            on_progress(len(results), len(picture.frames))
    held = [] if release_input else [*given.frames, *picture.frames]
    small = _REUSING.get() and sum(r.nbytes for r in results) <= KEPT_RESULT_BYTES
    with pages.giving_up([] if small else [r for r in results if not any(np.may_share_memory(r, f) for f in held)]):
        encode = encoder(results, written, fmt, write.encoding, name=name)
        with opened() as file:
            encode(file)


def _render_frame(picture: Picture, index: int, filt: Filter, record: formats.Format, view: str,
                  over: tuple[float, ...] | None, in_place: bool) -> np.ndarray:
    """Frame ``index`` of ``picture`` filtered and shown as ``view`` says, for `render`;
    with ``in_place``, into the frame's own samples where `filter_in_place` can."""
    pixels = picture.frames[index]
    if pixels.dtype.kind == "f" and not isinstance(filt, InterpolatingFilter) and np.isnan(pixels).any():
        raise ImageReadError(f"{picture.name}: NaN samples; give --nan interpolate to take each output as the "
                             "mean of the valid samples its kernel covers")
    alpha_max = picture.sample_max if picture.has_alpha else None
    if in_place and view == "result" and not record.raw and over is None \
            and pixels.dtype == picture.sample_dtype and filter_in_place(pixels, filt, picture.name, alpha_max):
        return pixels
    one = replace(picture, frames=[pixels])
    # Given up, a picture composited over a background gives its rows back as its
    # result is made (`imgconv.filters.filter_picture`); the result view alone reads
    # nothing of it after.
    with pages.giving_up([pixels] if in_place and view == "result" else []):
        samples = LIGHTS[filt.light](one, filt, None if record.raw else picture.sample_dtype, over)
    if record.raw and pixels.dtype.kind == "f":
        samples = samples.astype(pixels.dtype, copy=False)  # a float input's own type: float16 stays float16
    # The original is shown beside the result by the other views only: composited
    # whole in float32, it would be the peak of a picture written over a background.
    original = pixels if over is None or view == "result" else composite(pixels, over, picture.sample_max)
    return compose(original, samples, view, white(picture))


def _spent(frame: np.ndarray) -> np.ndarray:
    """What stands for a frame given up: its shape and type, and no samples (one zero,
    broadcast), so that its memory goes back once the result no longer needs it."""
    return np.broadcast_to(np.zeros((), frame.dtype), frame.shape)


def _check_channel_values(filt: Filter, picture: Picture, read_mode: str, output: str) -> None:
    """Refuse, naming the file, values beyond the edges or kernels given one per
    channel in another count than the picture's channels (alpha counted), or with a
    light that filters other channels than the picture's own. A picture read as CMYK
    (``read_mode``) and converted to sRGB for the ``output`` format says so, and what
    keeps the four inks."""
    cval, kernels = filt.engine.cval, len(channel_kernels(filt.passes[0][0]))
    first = picture.frames[0]  # every frame has the same channels
    channels = 1 if first.ndim == 2 else first.shape[2]
    for option, count in (("--cval", len(cval) if isinstance(cval, tuple) else 1), ("--kernel", kernels)):
        if count > 1 and (filt.light == LUMINANCE or count != channels):
            have = "is filtered as Y' alone" if filt.light == LUMINANCE else f"has {channels} channel(s)"
            description, remedy = picture.description, "give one, or one per channel"
            if read_mode in formats.CMYK_MODES and picture.mode not in formats.CMYK_MODES:
                description += f": its CMYK converted to sRGB for a {output} output"
                remedy += f", or write {formats.holders(read_mode)} to keep the four inks"
            raise InvalidInputError(f"{picture.name}: {option} gives {count}, one per channel, but the image {have} "
                                    f"({description}): {remedy}")


def _check_streamable(filt: Filter, dest: Path) -> None:
    """Refuse, in one line, what a tiled input streamed tile by tile is not made for:
    linear light, luminance and per-channel kernels or values are applied to whole
    pictures only, and the truncate mode's edges and the interpolation of NaN need the
    image's own edges, not a tile's; deconvolution's iterations reach past a tile's margin."""
    refused = {
        f"--{filt.light}": filt.light is not None,
        "a kernel per channel": filt.per_channel,
        "a --cval per channel": isinstance(filt.engine.cval, tuple),
        "--nan interpolate": isinstance(filt, InterpolatingFilter),
        "deconvolution": isinstance(filt, Deconvolution),  # each update reaches further than the psf
        "--boundary truncate": resolve_mode(filt.engine.mode, truncate=True)[0] == TRUNCATE,
    }
    for asked, given in refused.items():
        if given:
            raise InvalidInputError(f"{quote_name(dest)}: {asked} filters whole images, and a tiled input is streamed "
                                    "to a TIFF or Zarr output tile by tile; write another format to decode it whole")


def _check_streamed_colours(probed: Probe, dest: Path, srgb: bool) -> None:
    """Refuse ``srgb`` for a tiled input streamed tile by tile (its ICC profile goes to a
    TIFF output as it is), and an ICC profile other than sRGB's
    (`imgconv.io.srgb.profile_not_srgb`) for a Zarr store, which holds none."""
    if srgb:
        raise InvalidInputError(f"{quote_name(dest)}: --srgb converts whole images, and a tiled input is streamed "
                                "to a TIFF or Zarr output tile by tile, its ICC profile kept; write another "
                                "format to decode it whole")
    if not is_zarr(dest):
        return
    for image in probed.images:
        profile = image.options.get("iccprofile")
        described = profile and profile_not_srgb(profile, len(image.shape) == 2 or image.shape[2] <= 2)
        if described:
            raise ImageWriteError(f"{quote_name(dest)}: the input's colours are described by the ICC profile "
                                  f"{described}, which a Zarr store does not carry; write a .tif to keep it, or give "
                                  "--srgb and another output format (decoded whole) to convert them to sRGB")


def parse_background(spec: str | tuple[int, ...]) -> tuple[int, int, int]:
    """The opaque colour of ``--background`` as (r, g, b), 0-255: a name (white, black,
    ...) or #rrggbb, as Pillow's ImageColor reads them (#rgb, rgb(...) and hsl(...)
    too), or (r, g, b) itself."""
    from PIL import ImageColor

    try:
        colour = ImageColor.getrgb(spec) if isinstance(spec, str) else tuple(int(v) for v in spec)
    except (ValueError, TypeError):
        raise InvalidInputError(f"{spec!r} is not a colour; give a name such as white, or #rrggbb") from None
    if len(colour) == 4 and colour[3] == 255:
        colour = colour[:3]  # #rrggbbff: opaque all the same
    if len(colour) != 3 or not all(0 <= v <= 255 for v in colour):
        raise InvalidInputError(f"{spec!r}: a background is an opaque colour, such as white or #rrggbb")
    return colour


# The modes `imgconv.io.srgb.srgb_form` takes whose form neither `for_output` (without
# a depth) nor `_alpha_for` (without a background, of a picture without alpha) changes.
_SRGB_FORMS = frozenset(["L", "RGB", "I;16", "RGB;16"])

# The mode of each mode with alpha without it, and of grey made colour by a background.
_OPAQUE = {"LA": "L", "RGBA": "RGB", "LA;16": "I;16", "RGBA;16": "RGB;16", "CMYKA": "CMYK", "CMYKA;16": "CMYK;16"}
_COLOUR = {"L": "RGB", "I;16": "RGB;16"}


def _alpha_for(picture: Picture, record: formats.Format, background: str | tuple[int, int, int] | None,
               name: str, strip: bool) -> tuple[Picture, Picture, tuple[float, ...] | None]:
    """How a picture's alpha reaches the output format, ``record``: (the picture to
    filter, the picture as written, the background its result is composited over in
    sample units, or None).

    With ``background``, alpha goes after filtering: the filtered result is composited
    over it (grey over a colour becomes RGB). Without, alpha that ``record`` cannot hold
    is dropped before filtering when every pixel is opaque, which loses nothing, and
    refused otherwise, naming --background and the formats that keep it as it is (given
    ``strip``, `imgconv.io.write.keepers`).
    """
    if not picture.has_alpha:
        return picture, picture, None
    opaque = _OPAQUE.get(picture.mode)
    if background is not None:
        if opaque is None:
            raise ImageWriteError(f"{name}: --background composites 8- and 16-bit images, not "
                                  f"{formats.WORDS[picture.mode]}")
        colour: tuple[int, ...] = parse_background(background)
        if opaque in _COLOUR and len(set(colour)) == 1:
            colour = colour[:1]
        else:
            opaque = _COLOUR.get(opaque, opaque)
        over = background_samples(picture, colour)
        return picture, replace(picture, mode=opaque), over
    if record.raw or picture.mode in record.holds or opaque not in record.holds:
        return picture, picture, None  # kept, or check_writable names what holds it
    if not all(np.all(f[..., -1] == picture.sample_max) for f in picture.frames):
        raise ImageWriteError(f"{name}: {record.name} cannot hold {formats.WORDS[picture.mode]} and the input's "
                              "alpha is not opaque everywhere; give --background COLOR (a name or #rrggbb) to "
                              f"composite it over that colour, or write {formats.listed(keepers(picture, strip))}")
    frames = [np.ascontiguousarray(f[..., 0] if f.shape[2] == 2 else f[..., :-1]) for f in picture.frames]
    flat = replace(picture, frames=frames, mode=opaque)
    return flat, flat, None


def check_paths(source: Path, dest: Path, in_place: bool = False) -> None:
    """Refuse ``dest`` being ``source`` itself, unless ``in_place`` allows it."""
    if not in_place and same_file(source, dest):
        raise InvalidInputError(f"{quote_name(dest)}: output is the input file; give --in-place to overwrite it")


def same_file(source: Path, dest: Path) -> bool:
    """The two paths name one file (or, where one does not exist, the same path)."""
    if STDIO in (source, dest):
        return False
    try:
        return os.path.samefile(source, dest)
    except OSError:
        return os.path.abspath(source) == os.path.abspath(dest)
