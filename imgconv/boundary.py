"""Boundary extension: which image sample each position beyond the edge repeats.

The modes and their names are in `imgconv.vocabulary`. NumPy's ``np.pad`` uses other
names for the same extensions (its ``reflect`` is scipy's ``mirror``), so the table
below maps each mode to the ``np.pad`` mode that produces it. ``np.pad`` repeats the
extension periodically when the padding is wider than the image, exactly as
``scipy.ndimage`` does. The engine pads index arrays, not images (`index_map`), so
that it can extend one band of rows at a time.
"""

import numpy as np

_NUMPY_PAD_MODE = {
    "reflect": "symmetric",
    "mirror": "reflect",
    "nearest": "edge",
    "wrap": "wrap",
    "constant": "constant",
}


def index_map(length, before, after, mode):
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
