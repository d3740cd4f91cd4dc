"""How the engine runs a filter: the options every public call of `imgconv.engine` takes."""

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class EngineOptions:
    """The engine's options, as `imgconv.engine.correlate` takes them (the defaults are its).

    Attributes
    ----------
    mode : str
        What lies beyond the edges: ``reflect``, ``mirror``, ``nearest``, ``wrap`` or
        ``constant``, or one of their aliases (see `imgconv.vocabulary`).
    cval : float
        The value beyond the edges in ``constant`` mode, in the image's sample units.
    method : str or tuple of str
        The strategy: ``auto`` (the one expected to be fastest), ``direct``,
        ``separable``, ``fft`` or a name in `imgconv.engine.STRATEGY_NAMES`; for
        `imgconv.engine.magnitude`, also one a kernel.
    threads : int, optional
        Bands filtered at once; default all CPUs. The result does not depend on it.
    """

    mode: str = "reflect"
    cval: float = 0.0
    method: str | tuple[str, ...] = "auto"
    threads: int | None = None

    def keywords(self) -> dict[str, Any]:
        """The options as keyword arguments of the engine's calls."""
        return asdict(self)
