"""The norm of several kernels' responses (`imgconv.engine.magnitude`), band by band:
a composite strategy that runs each kernel's own strategy on the same gathered band."""

import numpy as np

from .bands import Layout


class Norm:
    """Each part's strategy on the band (cropped to its own reach), its values as floats
    plus its offset, combined by ``hypot`` (``abs`` for one part). The parts must share
    the band's type and take interleaved bands on one worker (`joins`)."""

    name = "norm"

    def __init__(self, parts, shape, threads):
        """``parts``: (strategy, offset) per kernel."""
        self.parts = parts
        strategies = [strategy for strategy, _ in parts]
        self.dtype = strategies[0].dtype
        reaches = [strategy.reach for strategy in strategies]
        self.reach = tuple(tuple(max(reach[axis][side] for reach in reaches) for side in (0, 1)) for axis in (0, 1))
        self.band_height = max(strategy.layout(shape, threads).band_height for strategy in strategies)

    @staticmethod
    def joins(strategies, shape, threads):
        """Whether the strategies can share bands: one band type, none planar, none
        spreading one band over several workers (the FFTs, planar separable passes)."""
        layouts = [strategy.layout(shape, threads) for strategy in strategies]
        return (len({strategy.dtype for strategy in strategies}) == 1
                and not any(layout.planar or layout.one_channel or layout.workers > 1 for layout in layouts))

    def layout(self, shape, threads):
        return Layout(self.band_height, self.reach)

    def __call__(self, extended, workers, into=None):
        rows, columns, _ = extended.shape
        (above, below), (left, right) = self.reach
        total = None
        for strategy, offset in self.parts:
            (top, bottom), (start, end) = strategy.reach
            band = extended[above - top : rows - (below - bottom), left - start : columns - (right - end)]
            values = strategy(band, workers)
            values = strategy.scaled(values) if hasattr(strategy, "scaled") else values
            if offset:
                values += values.dtype.type(offset)
            total = np.abs(values, out=values) if total is None else np.hypot(total, values, out=total)
        return total
