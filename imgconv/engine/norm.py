"""The norm of several kernels' responses (`imgconv.engine.magnitude`), band by band:
a composite strategy that runs each kernel's own strategy on the same gathered band."""

from typing import cast

import numpy as np

from .separable import Separable, share_columns, shared_responses
from .strategy import Layout, Strategy


class Norm:
    """Each part's strategy on the band (cropped to its own reach), its values as floats
    plus its offset, combined by ``hypot`` (``abs`` for one part), or as the square root
    of the sum of squares where that is safe. The parts must share the band's type and
    take interleaved bands on one worker (`joins`)."""

    name = "norm"

    def __init__(self, parts: list[tuple[Strategy, float]], shape: tuple[int, int], threads: int) -> None:
        """``parts``: (strategy, offset) per kernel."""
        self.parts = parts
        strategies = [strategy for strategy, _ in parts]
        self.dtype = strategies[0].dtype
        reaches = [strategy.reach for strategy in strategies]
        (above, below), (left, right) = ((max(reach[axis][side] for reach in reaches) for side in (0, 1))
                                         for axis in (0, 1))
        self.reach = (above, below), (left, right)
        self.band_height = max(strategy.layout(shape, threads).band_height for strategy in strategies)
        # np.hypot on float32 takes 3.8 ns a sample, squares, their sum and a square root
        # 0.57 (bands of 64 rows of the 4K photo; `hypot` 2.0). Squares are safe where every non-zero
        # value's square is a normal float32 and no sum overflows: exact integer sums
        # times a scale (`integer`, no offset), whose smallest non-zero value is the
        # scale and largest at most 65535 times it.
        small, large = np.finfo(np.float32).tiny, np.finfo(np.float32).max
        # Gradients of Gaussians: both derivatives' column passes in one product.
        self.shared = len(strategies) > 1 and share_columns(strategies) and len(set(reaches)) == 1
        self.squares = all(hasattr(strategy, "scale") and not offset and strategy.scale**2 >= small
                           and len(parts) * (65535 * strategy.scale) ** 2 <= large for strategy, offset in parts)

    @staticmethod
    def joins(strategies: list[Strategy], shape: tuple[int, int], threads: int) -> bool:
        """Whether the strategies can share bands: one band type, none planar, none
        spreading one band over several workers (the FFTs, planar separable passes)."""
        layouts = [strategy.layout(shape, threads) for strategy in strategies]
        return (len({strategy.dtype for strategy in strategies}) == 1
                and not any(layout.planar or layout.one_channel or layout.workers > 1 for layout in layouts))

    def layout(self, shape: tuple[int, int], threads: int) -> Layout:
        return Layout(self.band_height, self.reach)

    def __call__(self, extended: np.ndarray, workers: int, into: np.ndarray | None = None) -> np.ndarray:
        strategies = [strategy for strategy, _ in self.parts]
        if self.shared:
            responses = shared_responses(cast(list[Separable], strategies), extended)
        else:
            responses = [self._response(strategy, extended, workers) for strategy in strategies]
        total: np.ndarray | None = None
        for (strategy, offset), values in zip(self.parts, responses, strict=True):
            values = strategy.scaled(values) if hasattr(strategy, "scaled") else values
            if offset:
                values += values.dtype.type(offset)
            if self.squares:
                values = np.square(values, out=values)
                total = values if total is None else np.add(total, values, out=total)
            else:
                total = values if total is None else hypot(total, values)  # hypot ignores signs
        assert total is not None  # there is at least one part
        if self.squares:
            return np.sqrt(total, out=total)
        return np.abs(total, out=total) if len(self.parts) == 1 else total

    def _response(self, strategy: Strategy, extended: np.ndarray, workers: int) -> np.ndarray:
        """One part's values for the band, cropped to its own reach."""
        rows, columns, _ = extended.shape
        (above, below), (left, right) = self.reach
        (top, bottom), (start, end) = strategy.reach
        band = extended[above - top : rows - (below - bottom), left - start : columns - (right - end)]
        return cast(np.ndarray, strategy(band, workers))  # parts are never planar (`joins`)


# Samples `hypot` combines at a time, at least a row: its two float64 buffers (512 KB)
# stay in the CPU's cache. Chunks of 1, 2, 4 and 8 rows of a 4K RGB image took 2.18,
# 2.04, 1.99 and 2.12 ns a sample.
HYPOT_CHUNK = 32768


def hypot(total: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.hypot(total, values, out=total)``, for float32 as glibc's ``hypotf``
    computes it: the squares summed in float64 (where they are exact and cannot
    overflow), its square root rounded once to float32. Run a chunk of rows at a time,
    that takes 2.0 ns a sample where np.hypot takes 3.4 (one thread, bands of 48 rows
    of a 4K RGB image, x86_64). Other types go to np.hypot."""
    if total.dtype != np.float32 or values.dtype != np.float32:
        return np.hypot(total, values, out=total)
    rows = max(1, HYPOT_CHUNK // max(1, total[0].size))
    squares = np.empty((2, min(rows, len(total)), *total.shape[1:]), np.float64)
    for top in range(0, len(total), rows):
        part, other = total[top : top + rows], values[top : top + rows]
        first, second = squares[0, : len(part)], squares[1, : len(part)]
        # Converting first, then squaring in place, is quicker than squaring as float64
        # while converting (2.9 ns a sample in all).
        np.copyto(first, part)
        np.copyto(second, other)
        np.multiply(first, first, out=first)
        np.multiply(second, second, out=second)
        np.add(first, second, out=first)
        np.sqrt(first, out=first)
        np.copyto(part, first, casting="same_kind")
    return total
