"""Per-channel kernels and per-channel values beyond the edges.

A call may give each channel its own kernel: a 3-D NumPy array (kh, kw, C) whose last
axis is the channel, or a list (or tuple) of C 2-D kernels, each an array, a `Kernel`
or a `SeparableKernel`. (A nested Python list of numbers three levels deep is such a
list, channel first; only a NumPy array is read channel last.) It may also give
``cval`` as C numbers, one per channel. Either way channel c of the result is the 2-D
filter of channel c with kernel c and value c beyond the edges: the engine filters each
channel as an image of its own (`split`), each with its own plan, since the strategy
that suits one kernel may not suit another (a box on red, a Sobel on green), and
writes it into its channel of the result. Channels whose kernels and values are all
the same are filtered together, as one call. `imgconv.engine.plan` and
`imgconv.engine.choose_method` take one 2-D kernel: what a per-channel call does is
what they say for each channel's kernel and value.
"""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from ..errors import InvalidInputError, KernelError
from .weights import Kernel, KernelLike, SeparableKernel, check_kernel

# What they take as cval: one number for every channel, or one per channel.
ChannelValues = float | Sequence[float] | np.ndarray


def per_channel_kernels(kernel: KernelLike, channels: int) -> list[KernelLike] | None:
    """The C kernels of a per-channel ``kernel`` for an image of ``channels`` channels
    (2-D images have one), or None for one kernel for every channel. `KernelError`
    if the count of kernels is not the image's count of channels."""
    if isinstance(kernel, np.ndarray) and kernel.ndim == 3:
        kernels: list[KernelLike] = [kernel[:, :, c] for c in range(kernel.shape[2])]
        where = "a 3-D kernel's last axis"
    elif isinstance(kernel, (list, tuple)) and kernel and all(_is_2d(item) for item in kernel):
        kernels, where = list(kernel), "a list of kernels"
    else:
        return None
    if len(kernels) != channels:
        raise KernelError(f"{where} gives {len(kernels)} kernels, but the image has {channels} "
                          f"channel{'s' if channels != 1 else ''}: give one 2-D kernel, or one per channel")
    return kernels


def per_channel_values(cval: ChannelValues, channels: int) -> list[float] | None:
    """The C values beyond the edges of a per-channel ``cval``, or None for one number.
    `InvalidInputError` if their count is not the image's count of channels."""
    if np.ndim(cval) == 0:
        return None
    try:
        values = np.asarray(cval, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"cval must be a number or one number per channel: {exc}") from None
    if values.ndim != 1 or len(values) != channels:
        raise InvalidInputError(f"cval gives {values.size} values, but the image has {channels} "
                                f"channel{'s' if channels != 1 else ''}: give one number, or one per channel")
    if not np.all(np.isfinite(values)):
        raise InvalidInputError(f"cval must be finite, got {', '.join(map(str, values))}")
    return [float(value) for value in values]


def split(image: np.ndarray, kernels: Sequence[KernelLike], cval: ChannelValues, constant: bool,
          filter_channels: Callable[[np.ndarray, list[KernelLike], float], np.ndarray], output: DTypeLike | None,
          work: np.dtype[Any], out: np.ndarray | None = None) -> np.ndarray | None:
    """``image`` filtered channel by channel when any of ``kernels`` or, in a
    ``constant`` mode, ``cval`` is per channel; else None (the caller filters it whole).

    ``filter_channels(channels, kernels, cval)`` filters an (H, W, k) slice of the image
    with plain kernels and one value; a plain kernel among per-channel ones serves
    every channel, and channels that share every kernel and value go in one call. The
    result has the image's shape and the type ``output``, or ``work``; it is ``out``
    (of ``image``'s shape) when given, which may be ``image`` itself (each call reads
    only the channels it writes, before writing them).
    """
    count = image.shape[2] if image.ndim == 3 else 1
    split_kernels = [per_channel_kernels(kernel, count) or [kernel] * count for kernel in kernels]
    values = per_channel_values(cval, count)
    if values is None:
        if all(len({id(kernel) for kernel in own}) == 1 for own in split_kernels):
            return None
        values = [cval] * count  # type: ignore[list-item]  # one number, as `per_channel_values` found
    elif not constant:
        values = [0.0] * count  # validated, but never seen: no reason to split
    groups: dict[tuple[object, ...], list[int]] = {}
    for channel in range(count):
        key = (*(id(own[channel]) for own in split_kernels), values[channel])
        groups.setdefault(key, []).append(channel)
    for own in split_kernels:  # every kernel refused, if it must be, before anything is filtered
        for kernel in own:
            if not isinstance(kernel, SeparableKernel):
                check_kernel(kernel)
    planes = image.reshape(*image.shape[:2], count)
    result = np.empty(planes.shape, work if output is None else output) if out is None else out
    for members in groups.values():
        first = members[0]
        chosen = planes if len(members) == count else planes[:, :, members]
        result[:, :, members] = filter_channels(chosen, [own[first] for own in split_kernels], values[first])
    return result.reshape(image.shape)


def _is_2d(item: object) -> bool:
    """Whether a list's item is one 2-D kernel."""
    return isinstance(item, (Kernel, SeparableKernel)) or np.ndim(item) == 2  # type: ignore[arg-type]
