"""Deconvolution: undoing a known blur (the point spread function, ``psf``).

`richardson_lucy` iterates the Richardson-Lucy update
``u <- u * correlate(image / convolve(u, psf), psf)`` (correlating is convolving with
the flipped ``psf``), with the engine's boundary modes for both blurs. It differs from
scikit-image's ``restoration.richardson_lucy`` in these ways, each chosen so that an
image's edges and levels come back as they went in:

- the first estimate is the image itself, not a constant 0.5 (which assumes samples
  scaled to 0-1); ``start=0.5`` gives scikit-image's;
- the blurs extend the image as ``mode`` says (``reflect`` by default), where
  scikit-image's ``scipy.signal.convolve(..., mode="same")`` pads with zeros
  (``mode="constant"``, ``cval=0``), which darkens the edges of a picture that is not
  black beyond them; for a psf of even size, ``mode="same"`` also anchors it one sample
  earlier than ``scipy.ndimage`` and imgconv do (index ``n // 2 - 1``, not ``n // 2``);
- the ``psf`` is divided by its sum (a blur keeps the mean; scikit-image takes it as
  given), and where the blurred estimate is 0 the ratio is taken as 0, where
  scikit-image adds 1e-12 to every blurred sample (and, given ``filter_epsilon``, takes
  the ratio as 0 below it);
- the result is clipped to the input's range, where scikit-image's ``clip=True`` clips
  to -1..1.

So, for an odd-sized psf summing to 1, ``richardson_lucy(image, psf, n, start=0.5,
mode="constant")`` equals ``skimage.restoration.richardson_lucy(image, psf, n,
clip=False)`` clipped to the image's range, to float64 precision (the 1e-12 aside).

`wiener` divides by the ``psf``'s transfer function ``H`` with a constant regulariser,
``conj(H) · Y / (|H|² + balance)``, on the image extended by ``mode`` (so the FFT's
wrap-around does not bring one edge onto the other unless ``mode`` is ``wrap``). This is
scikit-image's ``restoration.wiener`` with ``reg`` an impulse (scikit-image's default is
a Laplacian, ``balance · |L|²``, which restores low frequencies more and high ones less),
``clip=False``, on the same extended image, cropped, and clipped to the input's range.

Both compute in float64 and give the same result for any ``threads``.
"""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .boundary import extend
from .engine import ChannelAxis, EngineOptions, Kernel, KernelLike, OutputLike, convolve, correlate, to_dtype
from .engine.arrays import check_output
from .engine.weights import check_kernel
from .errors import InvalidInputError, KernelError
from .filters import Filter
from .kernelfile import load_kernel
from .kernels import gaussian
from .vocabulary import resolve_mode

RICHARDSON_LUCY = "richardson-lucy"
WIENER = "wiener"
METHODS = (RICHARDSON_LUCY, WIENER)
GAUSSIAN_PREFIX = "gaussian:"


def _unit_psf(psf: KernelLike) -> np.ndarray:
    """``psf`` as float64 divided by its sum; a `KernelError`, naming the kernel's file
    if it has one, for a sum of 0 or an offset (a blur adds nothing)."""
    where = f"{psf.source}: " if isinstance(psf, Kernel) and psf.source else ""
    if isinstance(psf, Kernel) and psf.offset != 0:
        raise KernelError(f"{where}the psf has an offset ({psf.offset:g}); a blur's point spread function adds nothing")
    weights = check_kernel(psf.weights if isinstance(psf, Kernel) else psf, "psf")
    total = weights.sum()
    if not np.isfinite(total) or total == 0:
        raise KernelError(f"{where}the psf sums to {total:g}; a blur's point spread function must have a finite, "
                          "non-zero sum")
    return weights / total


def load_psf(spec: str) -> Kernel | np.ndarray:
    """The psf ``spec`` names: ``gaussian:s=SIGMA[,r=RADIUS]`` (`imgconv.kernels.gaussian`,
    the radius 3 sigma by default), or a kernel file or inline kernel
    (`imgconv.kernelfile.load_kernel`)."""
    if not spec.startswith(GAUSSIAN_PREFIX):
        return load_kernel(spec)
    given: dict[str, float] = {}
    for part in spec[len(GAUSSIAN_PREFIX):].split(","):
        name, _, value = part.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if name.strip() not in ("s", "r") or name.strip() in given or not math.isfinite(number) or number <= 0:
            raise KernelError(f"{spec}: write a Gaussian psf as gaussian:s=SIGMA or gaussian:s=SIGMA,r=RADIUS, "
                              "each > 0")
        given[name.strip()] = number
    if "s" not in given:
        raise KernelError(f"{spec}: a Gaussian psf needs its sigma, as gaussian:s=SIGMA[,r=RADIUS]")
    return gaussian(given["s"], radius=given.get("r"))


def _clip_to(result: np.ndarray, image: np.ndarray) -> np.ndarray:
    """``result`` clipped, in place, to the range of ``image``'s samples."""
    if image.size:
        np.clip(result, image.min(), image.max(), out=result)
    return result


def _check_start(start: float | None) -> None:
    """Refuse a first estimate that is not a number > 0 (an estimate of 0 stays 0)."""
    if start is not None and (isinstance(start, bool) or not isinstance(start, (int, float, np.number))
                              or not 0 < start < np.inf):
        raise InvalidInputError(f"start must be a number > 0 and finite, or None for the image itself, got {start!r}")


def _channels_last(image: np.ndarray, channel_axis: ChannelAxis) -> np.ndarray:
    if image.ndim == 2 or channel_axis in (None, -1, image.ndim - 1, "auto"):
        return image
    return np.moveaxis(image, channel_axis, -1)  # type: ignore[arg-type]


def richardson_lucy(image: ArrayLike, psf: KernelLike, iterations: int = 30, *, start: float | None = None,
                    mode: str = "reflect", cval: float = 0.0, method: str = "auto", threads: int | None = None,
                    channel_axis: ChannelAxis = "auto") -> np.ndarray:
    """The Richardson-Lucy deconvolution of ``image`` (H, W) or (H, W, C) blurred by ``psf``.

    Parameters
    ----------
    image : array_like
        Samples, none negative (the method models counts of light).
    psf : array_like
        The blur, as convolved: it is divided by its sum, which must not be 0.
    iterations : int
        Updates of the estimate, at least 1; more sharpen more and amplify noise more.
    start : float, optional
        The first estimate, that value everywhere, > 0 (0.5 is scikit-image's); by
        default the image itself.
    mode, cval, method, threads, channel_axis
        As `imgconv.convolve` takes them, for both blurs of each update.

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``image``, clipped to ``image``'s range.
    """
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 1:
        raise InvalidInputError(f"iterations must be a whole number >= 1, got {iterations!r}")
    _check_start(start)
    weights = _unit_psf(psf)
    data = np.asarray(image, dtype=np.float64)
    if data.size and data.min() < 0:
        raise InvalidInputError(f"Richardson-Lucy needs samples >= 0 (counts of light); the image's lowest is "
                                f"{data.min():g}")
    options: dict[str, Any] = {"mode": mode, "cval": cval, "method": method, "threads": threads,
                               "channel_axis": channel_axis}
    estimate = data.copy() if start is None else np.full_like(data, start)
    for _ in range(iterations):
        blurred = convolve(estimate, weights, np.float64, **options)
        ratio = np.divide(data, blurred, out=np.zeros_like(data), where=blurred > 0)
        estimate *= correlate(ratio, weights, np.float64, **options)
    return _clip_to(estimate, data)


def wiener(image: ArrayLike, psf: KernelLike, balance: float = 0.01, *, mode: str = "reflect",
           cval: float = 0.0, channel_axis: ChannelAxis = "auto") -> np.ndarray:
    """The Wiener deconvolution of ``image`` (H, W) or (H, W, C) blurred by ``psf``.

    Parameters
    ----------
    image : array_like
        Samples.
    psf : array_like
        The blur, as convolved: it is divided by its sum, which must not be 0.
    balance : float
        The regulariser added to ``|H|²``, > 0: smaller restores more detail and more
        noise.
    mode, cval, channel_axis
        How the image is extended before the FFT, as `imgconv.convolve` takes them: by
        twice the psf's height and width on each side, or not at all in ``wrap`` mode
        (the FFT's own extension).

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``image``, clipped to ``image``'s range.
    """
    if not 0 < balance < np.inf:
        raise InvalidInputError(f"balance must be > 0 and finite, got {balance}")
    weights = _unit_psf(psf)
    data = np.asarray(image, dtype=np.float64)
    planes = _channels_last(data, channel_axis)
    mode, cval = resolve_mode(mode, cval)
    # The FFT wraps around: in wrap mode that is the extension asked for; otherwise a
    # margin of twice the psf's size on each side puts the seam among extended samples.
    margin = (0, 0) if mode == "wrap" else (2 * weights.shape[0], 2 * weights.shape[1])
    padded = extend(planes, margin, margin, mode, cval)
    shape = padded.shape[:2]
    # The psf's centre moved to (0, 0), so that the restored image is not shifted.
    centred = np.zeros(shape)
    centred[:weights.shape[0], :weights.shape[1]] = weights
    centred = np.roll(centred, (-(weights.shape[0] // 2), -(weights.shape[1] // 2)), axis=(0, 1))
    transfer = np.fft.rfft2(centred)
    gain = np.conj(transfer) / (np.abs(transfer) ** 2 + balance)
    if padded.ndim == 3:
        gain = gain[..., None]
    restored = np.fft.irfft2(np.fft.rfft2(padded, axes=(0, 1)) * gain, s=shape, axes=(0, 1))
    restored = restored[margin[0]:margin[0] + planes.shape[0], margin[1]:margin[1] + planes.shape[1]]
    restored = _clip_to(restored, data)
    return restored if planes is data else np.moveaxis(restored, -1, channel_axis)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Deconvolution(Filter):
    """The deconvolve command's filter: ``passes`` holds the psf (convolved); ``method``
    is `RICHARDSON_LUCY` (``iterations`` updates from ``start``, see `richardson_lucy`)
    or `WIENER` (``balance``)."""

    method: str = RICHARDSON_LUCY
    iterations: int = 30
    balance: float = 0.01
    start: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.method not in METHODS:
            raise InvalidInputError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.method == RICHARDSON_LUCY:
            # Refused when the filter is made, before any image is read.
            if self.iterations < 1:
                raise InvalidInputError(f"iterations must be a whole number >= 1, got {self.iterations!r}")
            _check_start(self.start)
        elif not 0 < self.balance < np.inf:
            raise InvalidInputError(f"balance must be > 0 and finite, got {self.balance}")
        _unit_psf(self.passes[0][0])

    def apply(self, samples: ArrayLike, output: OutputLike = None, channel_axis: ChannelAxis = -1) -> np.ndarray:
        (psf, _), = self.passes
        check_output(output, np.shape(samples), np.dtype(np.float64))  # refused before any work
        options = self.engine
        if self.method == RICHARDSON_LUCY:
            result = richardson_lucy(samples, psf, self.iterations, start=self.start, mode=options.mode,
                                     cval=float(options.cval), method=str(options.method), threads=options.threads,
                                     channel_axis=channel_axis)
        else:
            result = wiener(samples, psf, self.balance, mode=options.mode, cval=float(options.cval),
                            channel_axis=channel_axis)
        if isinstance(output, np.ndarray):
            return to_dtype(result, output.dtype, out=output)
        return result if output is None else to_dtype(result, output)


def deconvolve_filter(psf: KernelLike, *, method: str = RICHARDSON_LUCY, iterations: int = 30,
                      balance: float = 0.01, start: float | None = None,
                      engine: EngineOptions = EngineOptions()) -> Deconvolution:
    """A `Deconvolution` of ``psf`` by ``method``, refused here if any option is bad."""
    return Deconvolution(((psf, True),), engine=engine, method=method, iterations=iterations, balance=balance,
                         start=start)
