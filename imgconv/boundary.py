"""Boundary modes: what a filter sees beyond the edge of the image.

The names are those of ``scipy.ndimage``; each extends the row ``a b c d`` as::

    reflect   d c b a | a b c d | d c b a   (edge sample repeated)
    mirror      d c b | a b c d | c b a     (edge sample not repeated)
    nearest     a a a | a b c d | d d d
    wrap        a b c | a b c d | a b c
    constant    k k k | a b c d | k k k     (k = cval)

NumPy's ``np.pad`` uses other names for the same extensions (its ``reflect`` is
scipy's ``mirror``), so the table below maps each mode to the ``np.pad`` mode that
produces it. ``np.pad`` repeats the extension periodically when the padding is wider
than the image, exactly as ``scipy.ndimage`` does. The engine pads index arrays, not
images (`index_map`), so that it can extend one band of rows at a time.
"""

import numpy as np

from .errors import BoundaryError

MODES = ("reflect", "mirror", "nearest", "wrap", "constant")

ALIASES = {
    "symmetric": "reflect",
    "reflect101": "mirror",
    "reflect_101": "mirror",
    "edge": "nearest",
    "replicate": "nearest",
    "clamp": "nearest",
    "periodic": "wrap",
    "circular": "wrap",
    "fill": "constant",
    "zero": "constant",
}

DESCRIPTIONS = {
    "reflect": "d c b a | a b c d | d c b a",
    "mirror": "d c b | a b c d | c b a",
    "nearest": "a a a | a b c d | d d d",
    "wrap": "a b c d | a b c d | a b c d",
    "constant": "k k k | a b c d | k k k (k = cval)",
}

_NUMPY_PAD_MODE = {
    "reflect": "symmetric",
    "mirror": "reflect",
    "nearest": "edge",
    "wrap": "wrap",
    "constant": "constant",
}


def resolve_mode(name, cval=0.0):
    """Return the canonical mode name and the fill value for a mode name or alias.

    ``zero`` is ``constant`` with the fill value forced to 0.

    Examples
    --------
    >>> resolve_mode("Replicate")
    ('nearest', 0.0)
    >>> resolve_mode("zero", cval=7)
    ('constant', 0.0)
    """
    key = str(name).strip().lower().replace("-", "_")
    if key in MODES:
        return key, float(cval)
    if key in ALIASES:
        return ALIASES[key], 0.0 if key == "zero" else float(cval)
    valid = ", ".join(MODES)
    aliases = ", ".join(sorted(ALIASES))
    raise BoundaryError(
        f"unknown boundary mode {name!r}; valid modes: {valid} (aliases: {aliases})"
    )


def index_map(length, before, after, mode):
    """Source index of every sample of an axis of ``length`` extended by ``before``/``after``.

    The extended axis reads ``samples[index_map(...)]``; in ``constant`` mode the
    positions outside the image are -1, to be filled with the constant. ``mode`` must be
    a canonical name (see `resolve_mode`).

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
