"""A command's filter run over missing data: NaN samples interpolated by normalized
convolution (`imgconv.missing`) instead of refused."""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .engine import ChannelAxis, OutputLike
from .errors import InvalidInputError
from .filters import ONE_KERNEL, Filter
from .missing import interpolate_missing


@dataclass(frozen=True)
class InterpolatingFilter(Filter):
    """A one-kernel `Filter` whose outputs are the weighted means of the non-NaN samples
    each covers (NaN where none): `imgconv.missing.interpolate_missing`."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.combine != ONE_KERNEL:
            raise InvalidInputError("missing data are interpolated for one kernel's filters, not a magnitude")

    def apply(self, samples: ArrayLike, output: OutputLike = None, channel_axis: ChannelAxis = -1) -> np.ndarray:
        (kernel, convolved), = self.passes
        options = self.engine.keywords()
        return interpolate_missing(samples, kernel, output, convolution=convolved, channel_axis=channel_axis,
                                   **options)


def interpolating(filt: Filter) -> InterpolatingFilter:
    """``filt`` run with NaN samples as missing (``--nan interpolate``)."""
    return InterpolatingFilter(filt.passes, filt.combine, filt.display, filt.engine)
