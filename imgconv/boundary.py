"""Boundary extension: which image sample each position beyond the edge repeats.

The modes and their names are in `imgconv.vocabulary`. NumPy's ``np.pad`` uses other
names for the same extensions (its ``reflect`` is scipy's ``mirror``), so the table
below maps each mode to the ``np.pad`` mode that produces it. ``np.pad`` repeats the
extension periodically when the padding is wider than the image, exactly as
``scipy.ndimage`` does. The engine pads index arrays, not images (`index_map`), so
that it can extend one band of rows at a time.
"""

from typing import Literal

import numpy as np

_NUMPY_PAD_MODE: dict[str, Literal["symmetric", "reflect", "edge", "wrap", "constant"]] = {
    "reflect": "symmetric",
    "mirror": "reflect",
    "nearest": "edge",
    "wrap": "wrap",
    "constant": "constant",
}


def index_map(length: int, before: int, after: int, mode: str) -> np.ndarray:
    """Source index of every sample of an axis of ``length`` extended by ``before``/``after``.

    The extended axis reads ``samples[index_map(...)]``; in ``constant`` mode the
    positions outside the image are -1, to be filled with the constant. ``mode`` must be
    a canonical name (see `imgconv.vocabulary.resolve_mode`).

    Examples
    --------
    >>> index_map(4, 3, 2, "reflect")
    array([2, 1, 0, 0, 1, 2, 3, 3, 2])
    >>> index_map(4, 2, 1, "constant")
    array([-1, -1,  0,  1,  2,  3, -1])
    """
    indices = np.arange(length)
    if mode == "constant":
        return np.pad(indices, (before, after), mode="constant", constant_values=-1)
    return np.pad(indices, (before, after), mode=_NUMPY_PAD_MODE[mode])


def extend(
    image: np.ndarray, before: tuple[int, int], after: tuple[int, int], mode: str, cval: float = 0.0
) -> np.ndarray:
    """``image`` (H, W[, C]) extended by (rows, columns) ``before`` and ``after`` samples.

    Examples
    --------
    >>> extend(np.array([[1, 2, 3]]), (0, 2), (0, 1), "wrap")
    array([[2, 3, 1, 2, 3, 1]])
    """
    rows = index_map(image.shape[0], before[0], after[0], mode)
    columns = index_map(image.shape[1], before[1], after[1], mode)
    out = image[np.maximum(rows, 0)][:, np.maximum(columns, 0)]
    if mode == "constant":
        out[rows < 0] = cval
        out[:, columns < 0] = cval
    return out
