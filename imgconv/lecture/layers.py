"""Convolution as deep learning uses it: a layer of filters with stride, padding, dilation.

A convolution layer computes, for every filter f and output position (i, j),

    out[f, i, j] = bias[f] + Σ_c Σ_u Σ_v w[f, c, u, v] · x[c, i·s + u·d, j·s + v·d]

on the input ``x`` after padding: a cross-correlation, as PyTorch's ``conv2d`` defines
it. Along an axis of n samples with a kernel of k taps, stride s, dilation d and
padding p_before + p_after, there are ``floor((n + p_before + p_after - d·(k-1) - 1) / s) + 1``
outputs. Each (filter, channel) pair is one `imgconv.correlate` of the padded input with
the dilated kernel; the strided positions are then taken from its result.
"""

import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import engine, npyfile
from ..boundary import extend
from ..engine import Kernel
from ..errors import InvalidInputError
from ..io.cmyk import for_output
from ..io.formats import FORMATS
from ..io.picture import Picture
from ..io.read import read_image
from ..io.sink import check_destination, write_bytes
from ..io.write import EncodeOptions, encode_image, output_format
from ..vocabulary import DEFAULT_COMPRESS_LEVEL, DEFAULT_MAX_PIXELS, resolve_mode

GREY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma, as Pillow's convert("L")


def read_array(path: str, what: str = "weights") -> np.ndarray:
    """The finite numbers of a ``.npy`` file (its header checked before anything is
    allocated, see `imgconv.npyfile`), for ``--weights`` and ``--bias``."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    values = npyfile.array(data, npyfile.read_header(data, path, InvalidInputError), path, InvalidInputError)
    if not np.all(np.isfinite(values)):
        raise InvalidInputError(f"{path}: the {what} hold NaN or infinite values")
    return values


def parse_bias(spec: str) -> list[float]:
    """``--bias``: comma-separated numbers, or a ``.npy`` file of them."""
    if spec.endswith(".npy"):
        return read_array(spec, "bias").astype(float).ravel().tolist()
    try:
        values = [float(v) for v in spec.split(",")]
    except ValueError:
        raise InvalidInputError(f"{spec!r} is not a comma-separated list of numbers") from None
    if not all(map(math.isfinite, values)):
        raise InvalidInputError(f"{spec!r}: NaN or infinite bias")
    return values


def padding_amounts(size: int, kernel: int, stride: int, dilation: int, padding: int | str) -> tuple[int, int]:
    """(before, after) padding along one axis.

    ``padding`` is ``"valid"`` (none), ``"same"`` (``ceil(size / stride)`` outputs; an odd
    total puts the extra sample after, at the bottom or right), ``"full"`` (every
    position where the kernel touches the input), or a number of samples on each side.

    Examples
    --------
    >>> padding_amounts(5, 3, 2, 1, "same"), padding_amounts(6, 3, 2, 1, "same")
    ((1, 1), (0, 1))
    """
    reach = dilation * (kernel - 1)
    if padding == "valid":
        return 0, 0
    if padding == "full":
        return reach, reach
    if padding == "same":
        total = max((math.ceil(size / stride) - 1) * stride + reach + 1 - size, 0)
        return total // 2, total - total // 2
    return int(padding), int(padding)


def output_size(size: int, kernel: int, stride: int, dilation: int, before: int, after: int) -> int:
    """``floor((size + before + after - dilation·(kernel-1) - 1) / stride) + 1``."""
    return (size + before + after - dilation * (kernel - 1) - 1) // stride + 1


def conv2d(image: ArrayLike, weights: ArrayLike, bias: Sequence[float] | np.ndarray | None = None, *,
           stride: Sequence[int] = (1, 1), padding: Sequence[int | str] = ("valid", "valid"),
           dilation: Sequence[int] = (1, 1), mode: str = "constant", cval: float = 0.0,
           activation: str = "none", on_progress: Callable[[int, int], object] | None = None) -> np.ndarray:
    """A convolution layer's feature maps.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
    weights : array_like, shape (F, C, kh, kw)
    bias : array_like, shape (F,), optional
    stride, dilation : (int, int)
        Along rows and columns, each >= 1.
    padding : (padding, padding)
        Along rows and columns: ``"valid"``, ``"same"``, ``"full"`` or a number.
    mode, cval : str, float
        What the padding holds: a boundary mode of `imgconv.vocabulary` (``constant`` with
        ``cval=0``, zeros, as in deep learning, by default).
    activation : {"none", "relu"}
    on_progress : callable, optional
        ``on_progress(done, total)``: the F x C 2-D kernels applied, ``(0, F * C)``
        first, then after each.

    Returns
    -------
    numpy.ndarray, shape (F, H', W'), float32

    Examples
    --------
    >>> conv2d(np.arange(16.0).reshape(4, 4), np.ones((1, 1, 2, 2)), stride=(2, 2))
    array([[[10., 18.],
            [42., 50.]]], dtype=float32)
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[..., np.newaxis]
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 4 or 0 in weights.shape:
        raise InvalidInputError(f"weights must have shape (F, C, kh, kw), got {weights.shape}")
    filters, channels, kh, kw = weights.shape
    if channels != image.shape[2]:
        raise InvalidInputError(f"the weights have {channels} channel(s), the image has {image.shape[2]}")
    if min(stride) < 1 or min(dilation) < 1:
        raise InvalidInputError("stride and dilation must be at least 1")
    if activation not in ("none", "relu"):
        raise InvalidInputError(f"unknown activation {activation!r}; valid: none, relu")
    mode, cval = resolve_mode(mode, cval)
    # The first two of stride, dilation and padding are the rows' and columns'.
    axes = zip(image.shape[:2], (kh, kw), stride, dilation, padding, strict=False)
    (top, bottom), (left, right) = (padding_amounts(n, k, s, d, p) for n, k, s, d, p in axes)
    out_h = output_size(image.shape[0], kh, stride[0], dilation[0], top, bottom)
    out_w = output_size(image.shape[1], kw, stride[1], dilation[1], left, right)
    if out_h < 1 or out_w < 1:
        raise InvalidInputError(f"the kernel does not fit: the output would be {out_h}x{out_w}")
    padded = extend(image, (top, left), (bottom, right), mode, cval)
    # The dilated kernel: taps d apart, zeros between.
    dh, dw = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    dilated = np.zeros((filters, channels, dh, dw))
    dilated[:, :, :: dilation[0], :: dilation[1]] = weights
    # correlate anchors a kernel of size n at n // 2; the layer anchors at its first tap.
    rows = slice(dh // 2, dh // 2 + (out_h - 1) * stride[0] + 1, stride[0])
    cols = slice(dw // 2, dw // 2 + (out_w - 1) * stride[1] + 1, stride[1])
    maps = np.zeros((filters, out_h, out_w), np.float32)
    if on_progress:
        on_progress(0, filters * channels)
    for f in range(filters):
        for c in range(channels):
            if np.any(dilated[f, c]):
                maps[f] += engine.correlate(padded[..., c], dilated[f, c], mode="constant")[rows, cols]
            if on_progress:
                on_progress(f * channels + c + 1, filters * channels)
        if bias is not None:
            maps[f] += np.float32(bias[f])
    if activation == "relu":
        np.maximum(maps, 0, out=maps)
    return maps


def grey(pixels: ArrayLike, has_alpha: bool = False) -> np.ndarray:
    """(H, W) luma of (H, W) or (H, W, C) samples; alpha, if any, is dropped."""
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim == 2:
        return pixels
    colour = pixels[..., :-1] if has_alpha else pixels
    if colour.shape[2] == 1:
        return colour[..., 0]
    return colour[..., :3] @ np.asarray(GREY_WEIGHTS, np.float32)


def montage(maps: np.ndarray, columns: int | None = None, gap: int = 2, background: int = 128) -> np.ndarray:
    """Feature maps (F, H, W) as one 8-bit grey picture in a near-square grid.

    Each map is stretched from its own minimum to its maximum over 0-255 (a constant map
    is black); maps are laid out row by row, ``columns`` to a row (default
    ``ceil(sqrt(F))``), ``gap`` pixels of ``background`` grey between them.
    """
    count, height, width = maps.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    sheet = np.full((rows * height + (rows - 1) * gap, columns * width + (columns - 1) * gap), background, np.uint8)
    for index, feature in enumerate(maps):
        low, high = float(feature.min()), float(feature.max())
        scaled = (feature - low) * (255.0 / (high - low)) if high > low else np.zeros_like(feature)
        top, left = (index // columns) * (height + gap), (index % columns) * (width + gap)
        sheet[top : top + height, left : left + width] = np.rint(scaled)
    return sheet


def conv_layer_file(source: str | os.PathLike[str], dest: str, *,
                    kernels: Sequence[ArrayLike | Kernel] | None = None, weights: np.ndarray | None = None,
                    bias: Sequence[float] | np.ndarray | None = None, columns: int | None = None,
                    compress_level: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS,
                    **layer_options: Any) -> np.ndarray:
    """What ``imgconv conv-layer`` does: read an image, run a layer, write maps or a montage.

    Give ``kernels`` (2-D kernels of one size, each a feature map of the image in grey;
    an `imgconv.Kernel`'s offset is added to its map, as a bias is)
    or ``weights`` (F, C, kh, kw) over the image's channels as read (see
    `imgconv.io`); CMYK is first converted to sRGB, as for a PNG output
    (`imgconv.io.cmyk`). A ``.npy`` ``dest`` gets the (F, H', W') float32 maps; an
    image, their `montage`. ``max_pixels`` is `imgconv.io.read_image`'s; ``layer_options``
    are `conv2d`'s.
    """
    if (kernels is None) == (weights is None):
        raise InvalidInputError("give kernels or weights, not both")
    check_destination(dest)
    given = read_image(source, max_pixels=max_pixels)
    picture = for_output(given, FORMATS["PNG"])  # CMYK's inks as sRGB: a layer sees a picture's colours
    if kernels is not None:
        shapes = {np.shape(k) for k in kernels}
        if len(shapes) != 1:
            raise InvalidInputError(f"all kernels of a layer must have one size, got {sorted(shapes)}")
        weights = np.stack([np.asarray(k, np.float64) for k in kernels])[:, np.newaxis]
        offsets = np.array([getattr(k, "offset", 0.0) for k in kernels])
        pixels = grey(picture.pixels, picture.has_alpha)
    else:
        assert weights is not None  # one of the two, as checked first
        offsets, pixels = np.zeros(len(weights)), picture.pixels
        channels = 1 if pixels.ndim == 2 else pixels.shape[2]
        if picture is not given and np.shape(weights)[1:2] != (channels,):
            raise InvalidInputError(f"{given.name}: the weights have {np.shape(weights)[1]} channel(s), and the "
                                    f"image's {given.description} is read as sRGB, {channels} channels")
    weights = np.asarray(weights)
    if bias is not None and len(bias) != len(weights):
        raise InvalidInputError(f"{len(bias)} bias value(s) for {len(weights)} filter(s)")
    if offsets.any():
        bias = offsets + (0.0 if bias is None else np.asarray(bias, np.float64))
    maps = conv2d(pixels, weights, bias, **layer_options)
    fmt = output_format(dest, None, "PNG")
    if FORMATS[fmt].raw:
        data = encode_image([maps], picture, fmt)
    else:
        sheet = Picture([montage(maps, columns)], "L", fmt)
        level = DEFAULT_COMPRESS_LEVEL if compress_level is None else compress_level
        data = encode_image(sheet.frames, sheet, fmt, EncodeOptions(compress_level=level), name=str(dest))
    write_bytes(data, dest)
    return maps
