"""Work the engine does on each band around a strategy (`Hooks`): a lookup of every
sample as its band is gathered, and any other change of the gathered samples; a
comparison of each result with its input, a factor for each pixel's results, and an
encoding of the results in place of rounding them; all while the band is in the CPU's
cache, instead of as passes over whole images with full-size temporaries.

Linear light (`imgconv.linear`) decodes sRGB samples by a table and encodes the
filtered light back to sample values; an unsharp mask's threshold
(`imgconv.threshold`) keeps the input wherever the mask changes it by less than the
threshold. Missing data (`imgconv.missing`) set NaN samples to 0 as they are gathered
and divide by the weights of the valid samples as results are written. Where the
engine cannot run band by band (the ``truncate`` mode), the same work is done on the
whole image (`filter_whole`).
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

import numpy as np

Encoder = Callable[[np.ndarray, np.ndarray], object]
"""``encode(values, target)``: float results (which it may overwrite) written into
``target``, an array of the output's type and the values' shape."""


@dataclass(frozen=True, eq=False)
class Hooks:
    """What is done around the filter, band by band.

    Attributes
    ----------
    decode : numpy.ndarray or None
        A float table indexed by sample value (of an 8- or 16-bit image): every sample
        is filtered as its entry. The strategy is planned for float samples.
    keep : float
        Where a result differs from its (decoded) input by less than this, the input
        stays: results are compared before the kernel's offset is added. 0: nowhere.
    encode : Encoder or None
        Writes the results into the output, in place of rounding and clipping them.
    prepare : callable or None
        ``prepare(band)`` changes, in place, each band of (decoded) float samples once
        gathered, before constant mode's value beyond the edges is set in it.
    scale : numpy.ndarray or None
        (H, W) floats: the results of pixel (y, x), the kernel's offset included, are
        multiplied by ``scale[y, x]`` (before `encode`, rounding or clipping).
    """

    decode: np.ndarray | None = None
    keep: float = 0.0
    encode: Encoder | None = None
    prepare: Callable[[np.ndarray], object] | None = None
    scale: np.ndarray | None = None

    @property
    def idle(self) -> bool:
        """Nothing is done around the filter."""
        return (self.decode is None and not self.keep and self.encode is None and self.prepare is None
                and self.scale is None)

    def look_up(self, samples: np.ndarray, out: np.ndarray) -> None:
        """``out[...] = decode[samples]``. Contiguous 8-bit samples are looked up two
        at a time, as 16-bit codes in a table of every pair (`pairs`): 0.52 ns a sample
        where one at a time takes 0.90 (one thread, 4-byte entries, bands of a 4K RGB
        image), as the index of each lookup is converted to a 64-bit integer first."""
        table = cast(np.ndarray, self.decode)
        if (samples.dtype == np.uint8 and table.itemsize == 4 and samples.size % 2 == 0
                and samples.flags.c_contiguous and out.flags.c_contiguous):
            np.take(self.pairs, samples.reshape(-1).view(np.uint16), out=out.reshape(-1).view(np.uint64), mode="clip")
        else:
            np.take(table, samples, out=out, mode="clip")

    @cached_property
    def pairs(self) -> np.ndarray:
        """The entries of every two 8-bit samples side by side, as one 8-byte value,
        indexed by the two bytes read as one 16-bit code (in the machine's order)."""
        table = cast(np.ndarray, self.decode)
        codes = np.arange(65536, dtype=np.uint16).view(np.uint8).reshape(-1, 2)
        return np.ascontiguousarray(table[codes]).view(np.uint64).reshape(-1)


NO_HOOKS = Hooks()
"""Nothing done around the filter: the default."""


def keep_inputs(values: np.ndarray, samples: np.ndarray, hooks: Hooks) -> None:
    """Put back into ``values`` each input (``samples``, of the same shape, decoded as
    ``hooks`` say; converted exactly to the values' type) where the two differ by less
    than ``hooks.keep``. The samples are read from the image, not from the band the
    strategy was given: some strategies (the FFTs) overwrite it."""
    inputs = samples if hooks.decode is None else np.take(hooks.decode, samples)
    change = np.subtract(values, inputs, dtype=values.dtype)
    np.abs(change, out=change)
    np.copyto(values, inputs, where=change < values.dtype.type(hooks.keep), casting="unsafe")


def filter_whole(plane: np.ndarray, hooks: Hooks, work: np.dtype[Any], dtype: np.dtype[Any],
                 run: Callable[[np.ndarray], np.ndarray], to_dtype: Callable[[np.ndarray, np.dtype[Any]], np.ndarray]
                 ) -> np.ndarray:
    """``hooks`` applied around ``run`` (a filter of a whole (H, W, C) plane giving
    floats of ``work``) instead of band by band, the result of ``dtype``: through
    ``to_dtype`` unless ``hooks`` encode it."""
    samples = plane if hooks.decode is None else np.take(hooks.decode, plane)
    if hooks.prepare is not None:
        samples = samples.astype(work)  # a copy: the image is not changed
        hooks.prepare(samples)
    values = run(samples).astype(work, copy=False)
    if hooks.keep:
        keep_inputs(values, plane, hooks)
    if hooks.scale is not None:
        values *= hooks.scale[..., np.newaxis]
    if hooks.encode is None:
        return to_dtype(values, dtype)
    out = np.empty(values.shape, dtype)
    hooks.encode(values, out)
    return out
