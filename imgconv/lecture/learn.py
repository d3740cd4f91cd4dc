"""A kernel learned from an example: the one K x K filter that maps INPUT to TARGET.

Convolution shares one kernel across every position, so every pixel is one equation
``target[y, x] = Σ k[i, j] · input[y - i + K//2, x - j + K//2]`` in the same K² unknowns.
Least squares over all of them gives the kernel; the normal equations
``(AᵀA + λI) k = Aᵀb`` are accumulated one band of rows at a time, so memory stays
bounded (a K² x K² matrix, and one band of patches) however large the image.
"""

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..boundary import extend
from ..errors import InvalidInputError
from ..io.formats import CMYK_MODES
from ..io.read import read_image
from ..io.sink import write_bytes
from ..kernelfile import format_kernel
from ..vocabulary import DEFAULT_MAX_PIXELS, resolve_mode

# Floats of patches held at once (about 32 MB in float64).
BAND_FLOATS = 1 << 22


@dataclass
class Fit:
    """Learned kernels (one, or one per channel) and how well they reproduce the target."""

    kernels: list[np.ndarray]
    rmse: float
    psnr: float
    peak: float


def learn_kernel(source: ArrayLike, target: ArrayLike, size: int, *, mode: str = "reflect", cval: float = 0.0,
                 per_channel: bool = False, ridge: float = 0.0, peak: float | None = None,
                 on_progress: Callable[[int, int], object] | None = None) -> Fit:
    """Least-squares kernel(s) with ``convolve(source, k, mode=mode) ≈ target``.

    Parameters
    ----------
    source, target : array_like, shape (H, W) or (H, W, C), the same shape
    size : int
        K: the kernel is K x K (even sizes anchor as `imgconv.convolve` does).
    mode, cval
        How the source is extended beyond its edges, as in `imgconv.convolve`.
    per_channel : bool
        One kernel per channel instead of one shared by all.
    ridge : float
        λ >= 0: penalises large weights; helps when the source is flat or tiny.
    peak : float, optional
        The peak signal for PSNR (255 for 8-bit images); default the target's range.
    on_progress : callable, optional
        ``on_progress(done, total)``: the rows of ``source`` fitted, ``(0, rows)``
        first, then after each band of them.

    Returns
    -------
    Fit
        ``kernels`` are in convolution orientation, ready for `imgconv.convolve` and
        ``imgconv convolve -k``.
    """
    source, target = np.asarray(source), np.asarray(target)
    if source.dtype.kind not in "biuf" or target.dtype.kind not in "biuf":
        raise InvalidInputError("INPUT and TARGET must hold real numbers")
    if source.shape != target.shape:
        raise InvalidInputError(f"INPUT is {_describe(source)} but TARGET is {_describe(target)}; they must match")
    if size < 1 or size > min(source.shape[:2]):
        raise InvalidInputError(f"kernel size {size} must be between 1 and the image's smaller side")
    if ridge < 0:
        raise InvalidInputError(f"ridge must be >= 0, got {ridge}")
    mode, cval = resolve_mode(mode, cval)
    if source.ndim == 2:
        source, target = source[..., np.newaxis], target[..., np.newaxis]
    channels = source.shape[2]
    unknowns = size * size
    groups = [[c] for c in range(channels)] if per_channel else [list(range(channels))]
    gram = np.zeros((len(groups), unknowns, unknowns))
    moments = np.zeros((len(groups), unknowns))
    energy = np.zeros(len(groups))  # Σ target², for the residual without a prediction
    # Convolution anchoring: the window of output y starts at y - (K - 1 - K//2).
    before = size - 1 - size // 2
    height, width = source.shape[:2]
    band = max(1, BAND_FLOATS // (width * unknowns))
    if on_progress:
        on_progress(0, height)
    for top in range(0, height, band):
        bottom = min(top + band, height)
        rows = slice(max(top - before, 0), min(bottom + size - 1 - before, height))
        pad_top, pad_bottom = before - (top - rows.start), (bottom + size - 1 - before) - rows.stop
        # One band at a time in float64: memory stays bounded whatever the image size.
        extended = extend(source[rows].astype(np.float64), (pad_top, before), (pad_bottom, size - 1 - before),
                          mode, cval)
        windows = np.lib.stride_tricks.sliding_window_view(extended, (size, size), axis=(0, 1))
        for g, group in enumerate(groups):
            for c in group:
                patches = windows[:, :, c].reshape(-1, unknowns)
                wanted = target[top:bottom, :, c].astype(np.float64).reshape(-1)
                gram[g] += patches.T @ patches
                moments[g] += patches.T @ wanted
                energy[g] += wanted @ wanted
        if on_progress:
            on_progress(bottom, height)
    kernels, squared_error = [], 0.0
    for g in range(len(groups)):
        system = gram[g] + ridge * np.eye(unknowns)
        weights = np.linalg.lstsq(system, moments[g], rcond=None)[0]
        # |Aw - t|² = t·t - 2 w·Aᵀt + w·AᵀA·w: the fit's error from the sums alone.
        squared_error += max(energy[g] - 2 * weights @ moments[g] + weights @ gram[g] @ weights, 0.0)
        # The window is correlated; flipping it gives the convolution kernel.
        kernels.append(weights.reshape(size, size)[::-1, ::-1].copy())
    rmse = math.sqrt(squared_error / target.size)
    if peak is None:
        peak = float(target.max()) - float(target.min()) or 1.0
    psnr = math.inf if rmse == 0 else 20 * math.log10(peak / rmse)
    return Fit(kernels, rmse, psnr, peak)


def _describe(array: np.ndarray) -> str:
    return "x".join(map(str, array.shape))


def learn_files(source: str | os.PathLike[str], target: str | os.PathLike[str], dest: str, size: int, *,
                max_pixels: int = DEFAULT_MAX_PIXELS, **options: Any) -> tuple[Fit, list[str]]:
    """What ``imgconv learn`` does: read two images, learn, write kernel file(s). CMYK
    is learned on its inks, as ``imgconv convolve`` filters them into a CMYK output;
    CMYK and another kind are refused.

    With ``per_channel``, channel c's kernel goes to ``STEM-c.SUFFIX``. Returns the `Fit`
    and the paths written.
    """
    source_picture, target_picture = (read_image(path, max_pixels=max_pixels) for path in (source, target))
    inks = [picture.mode in CMYK_MODES for picture in (source_picture, target_picture)]
    if inks[0] != inks[1]:
        raise InvalidInputError(f"INPUT is {source_picture.description} and TARGET {target_picture.description}: a "
                                "kernel maps samples to samples of the same kind; give both as CMYK or neither "
                                "(imgconv identity CMYK.tif RGB.png converts inks to sRGB)")
    peak = None if target_picture.raw else float(target_picture.sample_max)
    fit = learn_kernel(source_picture.pixels, target_picture.pixels, size, peak=peak, **options)
    if len(fit.kernels) == 1:
        paths = [dest]
    else:
        stem, suffix = os.path.splitext(dest)
        paths = [f"{stem}-{c}{suffix}" for c in range(len(fit.kernels))]
    for path, kernel in zip(paths, fit.kernels, strict=True):
        write_bytes(format_kernel(kernel).encode(), path)
    return fit, paths
