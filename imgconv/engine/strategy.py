"""The protocol every strategy follows, and the records it passes: what the band driver
asks of a strategy built for one image (`Strategy`, `Layout`), and what the cost model
asks of a strategy's class (`StrategyClass`, `Samples`). `imgconv.engine.cost` lists
the strategies."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np

from .taps import Reach, Taps


@dataclass(frozen=True)
class Layout:
    """How the driver feeds a strategy.

    Attributes
    ----------
    band_height : int
        Output rows per call; the image's height for whole channels.
    reach : ((int, int), (int, int))
        Rows above and below, columns left and right, gathered beyond each band and
        extended by the boundary mode: the kernel's reach, or a whole-channel frame.
    planar : bool
        Bands are gathered channel by channel in memory, and the call returns one
        (height, width) plane per channel instead of a (height, width, channels) array.
    one_channel : bool
        Each call gets one channel, so that only one channel's band is held at a time.
    workers : int
        Threads each call runs on. Above 1, the calls run one after another, and the
        gathering and writing around them are split over the threads instead.
    """

    band_height: int
    reach: Reach
    planar: bool = False
    one_channel: bool = False
    workers: int = 1


class Samples(NamedTuple):
    """What the strategies may ask of the image's samples: their type (``integer`` runs
    only on 8-bit ones) and the value beyond the edges in constant mode."""

    dtype: np.dtype[Any]
    cval: float = 0.0


# What a strategy returns for a band: an array of the band's shape, or, for a planar
# `Layout`, one (height, width) plane per channel.
Values = np.ndarray | Iterable[np.ndarray]


class Strategy(Protocol):
    """A strategy built for one image, working in ``dtype``."""

    name: str  # its own name, which `imgconv.engine.Plan` reports
    dtype: np.dtype[Any]
    reach: Reach  # how far it reads beyond each output band (`Layout.reach`)

    def layout(self, shape: tuple[int, int], threads: int) -> Layout:
        """How the driver cuts an image of ``shape`` (height, width) for it."""
        ...

    def __call__(self, extended: np.ndarray, workers: int, into: np.ndarray | None = None) -> Values:
        """One band or channel, gathered with its reach, filtered; ``into``, when not
        None, is where the output's band lies, of the strategy's own type, and a
        strategy that can may fill it and return it."""
        ...


class StrategyClass(Protocol):
    """A strategy's class, as the cost model picks it: its own ``name``, the ``method``
    that selects it (``method=``), its estimate, and its constructor."""

    method: str
    name: str

    @staticmethod
    def cost(taps: Taps, mode: str, shape: tuple[int, int] | None, limit: float,
             samples: Samples | None) -> float | None:
        """Estimated nanoseconds per output sample for `Taps` in a boundary mode on an
        image of ``shape`` (height, width; None: unknown) whose samples are ``samples``
        (None: unknown), or None if it cannot run, or cannot beat ``limit`` and is too
        costly to estimate exactly (the SVD of a large kernel)."""
        ...

    def __call__(self, taps: Taps, mode: str, shape: tuple[int, int], dtype: np.dtype[Any]) -> Strategy:
        """The strategy built for one image of ``shape``, working in ``dtype``."""
        ...
