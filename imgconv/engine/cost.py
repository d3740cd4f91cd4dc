"""The cost model and the registry of strategies: each strategy estimates its own
time per output sample (its ``cost``), and the cheapest of those that may run is
taken."""

from ..errors import KernelError
from .banded_fft import BandedFFT
from .direct import Direct
from .integer import Integer
from .kernel_columns import MAX_WIDTH, KernelColumns
from .running_sums import RunningSums, WholeRunningSums
from .separable import Separable
from .strategy import Samples, StrategyClass
from .taps import Taps
from .weights import MAX_KERNEL_SIZE, size_in_words
from .whole_channel_fft import WholeChannelFFT

# Every strategy, in the order their estimates are made; a tie goes to the first. Each
# follows the protocol of `imgconv.engine.strategy` (`StrategyClass`, `Strategy`), and
# may also have ``write(values, target, offset, clip)``: a band's values into the
# output, where they need more than `bands.to_dtype` (the integer sums' scale).
#
# WholeRunningSums and RunningSums are one strategy, ``running-sums``: its integer sums
# where the samples allow them, its float64 ones otherwise.
# Separable comes last: its estimate may need an SVD, which the others' may spare.
STRATEGIES: tuple[StrategyClass, ...] = (Integer, Direct, KernelColumns, WholeRunningSums, RunningSums, BandedFFT,
                                          WholeChannelFFT, Separable)
BY_NAME = {strategy.name: strategy for strategy in STRATEGIES}

# Why an explicitly asked method cannot run: ``integer`` needs 8-bit samples and an
# integer kernel, ``kernel-columns`` a kernel at most `MAX_WIDTH` wide, ``running-sums``
# boxes and tents (`imgconv.engine.running_sums.chains`); otherwise only
# kernels too large to hold densely (`SeparableKernel`s) are refused, as ``direct`` and
# FFT bands need the dense weights.
_REFUSALS = {
    "integer": "method 'integer' needs an 8-bit image, a kernel of small integers times one scale whose sums fit "
               "16 bits, and in constant mode a cval of 0 to 255; this {size} kernel or image is not; use auto",
    "direct": "method 'direct' needs the kernel as one dense array, at most {limit}, and this one is {size}; "
              "use auto or separable",
    "kernel-columns": "method 'kernel-columns' takes kernels held densely up to {width} columns wide, and this one "
                      "is {size}; use auto or direct",
    "running-sums": "method 'running-sums' takes one outer product of boxes and tents (each factor a run of equal "
                    "weights, or two such runs convolved), and this {size} kernel is not; use auto",
    "fft": "method 'fft' can filter a {size} kernel only on whole channels, which needs it symmetric about its "
           "anchor (outside wrap mode) and, in wrap mode, image sides with no prime factor above 11; "
           "use auto or separable",
}


def cheapest(taps: Taps, mode: str, shape: tuple[int, int] | None, method: str, size: tuple[int, int],
             samples: Samples | None = None) -> StrategyClass:
    """The strategy class that filters ``taps`` (`Taps`) in ``mode`` on an image of
    ``shape`` with `Samples` ``samples`` (None: not known to be 8-bit) quickest by its
    own estimate, among those of ``method`` (``auto``: all; a method; or a strategy's
    name). `KernelError` if none of them can run; ``size`` is the kernel's own, for the
    message."""
    candidates = [s for s in STRATEGIES if method in ("auto", s.method, s.name)]
    best: StrategyClass | None = None
    best_cost = float("inf")
    for strategy in candidates:
        cost = strategy.cost(taps, mode, shape, best_cost, samples)
        if cost is not None and (best is None or cost < best_cost):
            best, best_cost = strategy, cost
    if best is None:
        template = _REFUSALS.get(method, "method {method!r} cannot filter a {size} kernel here")
        raise KernelError(template.format(method=method, size=size_in_words(size),
                                          limit=size_in_words((MAX_KERNEL_SIZE,) * 2), width=MAX_WIDTH))
    return best
