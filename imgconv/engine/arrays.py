"""The arrays a call of the engine takes and gives, in the words of ``scipy.ndimage`` and
scikit-image: the input and the axis of its channels (``channel_axis``), the output (a
type, or an array to fill) and where the kernel is anchored (``origin``).

The engine filters 2-D images, each channel on its own. Which axis holds the channels
of a 3-D array is ``channel_axis``, as in scikit-image:

- ``None``: the input is one 2-D image (H, W).
- an int: the axis of a 3-D array that holds the channels, any of the three, so
  ``channel_axis=0`` takes a channel-first (C, H, W) array. The result has the input's
  layout.
- ``"auto"`` (the default): a 2-D input has no channels, and a 3-D input has them last,
  as image files are read, (H, W, C), when there are at most `MAX_AUTO_CHANNELS` of them
  (grey, grey with alpha, RGB, RGBA). A 3-D input with more samples along its last axis,
  such as a channel-first (3, 64, 64) array, is refused, with a message that names
  ``channel_axis``, rather than filtered as 64 channels of an image 3 rows high.
"""

import operator
from collections.abc import Sequence
from typing import Any, Literal, cast

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ..errors import InvalidInputError
from ..vocabulary import ALIASES, MODES

ChannelAxis = int | None | Literal["auto"]
"""What ``channel_axis`` takes: an axis, None (no channels) or ``"auto"``."""

OriginLike = int | Sequence[int]
"""What ``origin`` takes: one shift for both axes, or (rows, columns)."""

OutputLike = np.ndarray | DTypeLike | None
"""What ``output`` takes: a NumPy type, an array to fill, or None for the float rule
(`imgconv.engine.work_dtype`)."""

# An image file holds at most four channels a pixel (grey, grey with alpha, RGB, RGBA):
# a longer last axis is taken for channels only when the caller says so.
MAX_AUTO_CHANNELS = 4


def check_image(values: ArrayLike) -> np.ndarray:
    """``values`` as an array of real numbers, not empty; any number of axes (see
    `channel_axis_of`)."""
    image = np.asarray(values)
    if image.dtype.kind not in "biuf":
        raise InvalidInputError(f"image must hold real numbers, got dtype {image.dtype}")
    if image.size == 0:
        raise InvalidInputError(f"image is empty (shape {image.shape})")
    return image


def channel_axis_of(shape: tuple[int, ...], channel_axis: ChannelAxis) -> int | None:
    """The axis of an array of ``shape`` that holds channels (0, 1 or 2), or None for a
    2-D image, as the module docstring says; `InvalidInputError` otherwise.

    Examples
    --------
    >>> channel_axis_of((480, 640, 3), "auto"), channel_axis_of((3, 480, 640), 0)
    (2, 0)
    """
    ndim = len(shape)
    if isinstance(channel_axis, str) and channel_axis == "auto":
        if ndim == 2:
            return None
        if ndim == 3 and shape[2] <= MAX_AUTO_CHANNELS:
            return 2
        if ndim == 3:
            raise InvalidInputError(
                f"a {shape} array has {shape[2]} samples along its last axis, more than the {MAX_AUTO_CHANNELS} "
                f"channels of an image file; give channel_axis=0 if axis 0 holds the channels (channel-first), or "
                f"channel_axis=-1 to filter {shape[2]} channels, each an image {shape[0]} rows high")
        raise InvalidInputError(f"image must be 2-D (H, W), or 3-D with an axis of channels, got shape {shape}")
    if channel_axis is None:
        if ndim == 2:
            return None
        raise InvalidInputError(f"channel_axis=None takes a 2-D image, got shape {shape}; give the axis of its "
                                "channels")
    try:
        axis = operator.index(channel_axis)
    except TypeError:
        raise InvalidInputError(f"channel_axis must be an int, None or 'auto', got {channel_axis!r}") from None
    if ndim != 3:
        raise InvalidInputError(f"channel_axis={axis} takes a 3-D array (two image axes and the channels), got "
                                f"shape {shape}")
    if not -3 <= axis < 3:
        raise InvalidInputError(f"channel_axis={axis} is out of range for a 3-D array")
    return axis % 3


def channels_last(array: np.ndarray, axis: int | None) -> np.ndarray:
    """A view of ``array`` as the engine filters it, (H, W, C), whose channels are on
    ``axis`` (None: a 2-D array, given one channel). Writing into the view writes into
    ``array``."""
    if axis is None:
        return array[:, :, np.newaxis]
    return array if axis == 2 else np.moveaxis(array, axis, 2)


def planes(array: np.ndarray, axis: int | None) -> list[np.ndarray]:
    """Views of ``array`` as the engine filters it, (H, W, C): `channels_last`'s one
    view, or, for channels on another axis, one (H, W, 1) view a channel. The bands of
    a channel-first array's contiguous planes are gathered quicker than those of a view
    striding across its channels: a (3, 2048, 2048) uint8 image correlated with
    ``gaussian(3)`` into uint8 on 2 threads took 360 ms as one view, 130 ms channel by
    channel, and 150 ms channels last (medians of 9, on a busy 2-core machine)."""
    if axis is None or axis == 2:
        return [channels_last(array, axis)]
    return [array[(slice(None),) * axis + (c,)][:, :, np.newaxis] for c in range(array.shape[axis])]


def check_output(output: OutputLike, shape: tuple[int, ...], work: np.dtype[Any]) -> np.dtype[Any]:
    """The result's type for ``output`` (``work`` for None), refused unless it holds
    integers or floats; an array must have the input's ``shape`` and be writeable."""
    if output is None:
        return work
    if isinstance(output, np.ndarray):
        if output.shape != shape:
            raise InvalidInputError(f"output has shape {output.shape}, and the input {shape}")
        if not output.flags.writeable:
            raise InvalidInputError("output is a read-only array")
        dtype = output.dtype
    else:
        try:
            dtype = np.dtype(output)
        except TypeError:
            mode = isinstance(output, str) and output.strip().lower() in (*MODES, *ALIASES)
            hint = "; the boundary mode is the fourth argument, or mode=" if mode else ""
            raise InvalidInputError(f"output must be a NumPy type or an array to fill, got {output!r}{hint}") \
                from None
    if dtype.kind not in "iuf":
        raise InvalidInputError(f"output must hold integers or floats, got {dtype}")
    return dtype


def make_output(output: OutputLike, shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray:
    """The array the result goes into: ``output`` itself if it is one (`check_output`
    has passed), else a new one of ``shape`` and ``dtype``."""
    return output if isinstance(output, np.ndarray) else np.empty(shape, dtype)


def check_origin(origin: OriginLike, kernel_shape: tuple[int, int]) -> tuple[int, int]:
    """``origin`` as (rows, columns), within ``scipy.ndimage``'s limits: for n taps along
    an axis, ``-(n // 2) <= origin <= (n - 1) // 2``, which keeps the anchor on the
    kernel (`imgconv.engine.taps.anchor`), for correlation and convolution alike.

    Examples
    --------
    >>> check_origin(-1, (3, 4)), check_origin((0, 1), (3, 4))
    ((-1, -1), (0, 1))
    """
    pair: tuple[int, ...] = ()
    try:
        if np.ndim(origin) == 0:
            pair = (operator.index(cast(int, origin)),) * 2
        elif np.ndim(origin) == 1:
            pair = tuple(operator.index(o) for o in cast(Sequence[int], origin))
    except TypeError:
        pass
    if len(pair) != 2:
        raise InvalidInputError(f"origin must be an int or a pair of ints (rows, columns), got {origin!r}")
    for shift, taps, axis in zip(pair, kernel_shape, ("rows", "columns"), strict=True):
        if not -(taps // 2) <= shift <= (taps - 1) // 2:
            raise InvalidInputError(f"origin {shift} along the {axis} puts the anchor off the kernel: with {taps} "
                                    f"taps it must lie in {-(taps // 2)}..{(taps - 1) // 2}")
    return pair[0], pair[1]
