"""``fft`` on whole channels, with no bands: two transforms per channel, whatever the
kernel's size, through ``scipy.fft`` (imported only on this path)."""

from typing import Any, cast

import numpy as np

from .strategy import Layout, Samples
from .taps import Taps, factor, is_rank_one

# Nanoseconds per output sample when the frame is the image's own size, measured on the
# project's machine (x86_64, 2 CPUs) on the 4K photo: a DCT-II and its inverse, and a
# real FFT and its inverse in wrap mode. They do not grow with the kernel.
NS_SPECTRAL = 12.0
NS_SPECTRAL_WRAP = 16.0
# A frame larger than the image costs more per sample than its area says: it is
# gathered through index maps, and long transforms run slower (measured: 1.5 times the
# time for 1.19 times the area at r=120 in nearest mode on the 4K photo).
FRAMED = 1.3
# The prime factors a frame's lengths may have: pocketfft transforms lengths with a
# larger one several times slower (measured: a 2161x3847 image 0.68 s instead of 0.16
# s, lengthened to 2240x3920 0.22 s).
SMOOTH_PRIMES = (2, 3, 5, 7, 11)


class WholeChannelFFT:
    """``fft`` on whole channels, with no bands: two transforms per channel, whatever
    the kernel's size.

    ``wrap`` extends the image periodically, so a discrete Fourier transform of the
    image's own size convolves it exactly with any kernel. ``reflect`` extends it into
    an even signal of period 2n, whose cosine transform is the DCT-II of the image
    itself: for a kernel symmetric about its anchor along both axes, filtering is a
    product with the kernel's cosine transform, and kernels reaching many times across
    the image (repeated reflections) fold onto one period. Other modes take the DCT-II
    of a frame that holds the image and the kernel's reach on both sides, extended by
    the mode: the DCT's reflections beyond the frame reach no sample that is kept (see
    `_frames`). The driver gathers one channel's frame at a time, and each transform
    runs on every thread (``workers``), which computes each line the same way whatever
    their number.
    """

    method = "fft"
    name = "whole-channel-fft"

    def __init__(self, taps: Taps, mode: str, shape: tuple[int, int], dtype: np.dtype[Any]) -> None:
        import scipy.fft  # only here: importing scipy costs start-up time

        self.fft = scipy.fft
        self.dtype = dtype
        self.periodic = mode == "wrap"
        self.taps = taps
        # `cost` has refused the modes and shapes that leave an axis unframed (None).
        (top, frame_height), (left, frame_width) = cast(list[tuple[int, int]], _frames(taps.shape, taps.before, mode,
                                                                                        shape))
        height, width = shape
        self.reach = (top, frame_height - height - top), (left, frame_width - width - left)
        self.crop = slice(top, top + height), slice(left, left + width)
        self.shape = frame_height, frame_width
        self.multipliers: list[np.ndarray] | None = None  # made by the first call, on its workers

    @staticmethod
    def cost(taps: Taps, mode: str, shape: tuple[int, int] | None, limit: float, samples: Samples | None
             ) -> float | None:
        """Estimated nanoseconds per output sample for an image of ``shape`` (height,
        width; None: one whose frame is its own size), or None if this path cannot
        filter with this kernel in this mode: outside ``wrap`` the DCT needs the kernel
        symmetric about its anchor along each axis (`Taps.symmetric`)."""
        if mode != "wrap" and not taps.symmetric:
            return None
        ns = NS_SPECTRAL_WRAP if mode == "wrap" else NS_SPECTRAL
        if shape is None:
            return ns
        lengths = [frame[1] for frame in _frames(taps.shape, taps.before, mode, shape) if frame is not None]
        if len(lengths) < len(shape):  # an axis that cannot be framed
            return None
        area = np.prod(lengths) / np.prod(shape)
        return ns * area * (FRAMED if area > 1 else 1.0)

    def layout(self, shape: tuple[int, int], threads: int) -> Layout:
        return Layout(shape[0], self.reach, planar=True, one_channel=True, workers=threads)

    def _multipliers(self, workers: int) -> list[np.ndarray]:
        """What a channel's spectrum is multiplied by, in turn."""
        taps = self.taps
        if taps.is_dense:
            # A rank-one kernel (a Gaussian, a box) multiplies by the outer product of its
            # column's and row's transforms, which are much quicker to make than a 2-D one.
            terms = [factor(taps.weights)] if is_rank_one(taps.weights) else None
        else:
            terms = taps.terms()
        if terms is None:
            return [self._spectrum(taps.weights, (0, 1), taps.before, workers)]
        spectra = [(self._spectrum(column[:, None], (0,), taps.before, workers),
                    self._spectrum(row[None, :], (1,), taps.before, workers)) for column, row in terms]
        # One term multiplies by each factor's spectrum in turn, with no array the
        # size of the image; more are summed into one.
        return list(spectra[0]) if len(spectra) == 1 else [sum(c * r for c, r in spectra)]

    def _spectrum(self, weights: np.ndarray, axes: tuple[int, ...], before: tuple[int, int], workers: int
                  ) -> np.ndarray:
        """The transform of ``weights`` along ``axes`` that filtering multiplies by.

        Along each axis: the period sums of the weights, flipped (correlation is
        convolution with the flipped kernel; offset j from the anchor lands on -j mod
        period), then the transform: for the DCT-II's even period 2n, the DCT-I of the
        sums from 0 to n, which weighs each by the cosine of its offset. For the DCT,
        axis 0 goes first, while the array is as narrow as the kernel, so that the long
        transforms run along contiguous rows. For wrap, axis 1 goes first, as in the
        image's transform: it is real, and only half of its spectrum is kept.
        """
        for axis in sorted(axes, reverse=self.periodic):
            n, reach = self.shape[axis], before[axis]
            period, kept = (n, n) if self.periodic else (2 * n, n + 1)
            weights = _period_sum(np.flip(weights, axis), reach + 1 - weights.shape[axis], period, kept, axis)
            if not self.periodic:
                weights = self.fft.dct(weights, type=1, axis=axis, workers=workers)[_cut(axis, 0, n)]
            elif axis == 1:
                weights = self.fft.rfft(weights, axis=1, workers=workers)
            else:
                weights = self.fft.fft(weights, axis=0, workers=workers)
        return weights.astype(np.result_type(self.dtype, np.complex64) if self.periodic else self.dtype)

    def _transform(self, values: np.ndarray, inverse: bool, workers: int) -> np.ndarray:
        if self.periodic:
            if inverse:
                return self.fft.irfft2(values, s=self.shape, workers=workers, overwrite_x=True)
            return self.fft.rfft2(values, workers=workers, overwrite_x=True)
        function = self.fft.idctn if inverse else self.fft.dctn
        return function(values, type=2, workers=workers, overwrite_x=True)

    def __call__(self, extended: np.ndarray, workers: int, into: np.ndarray | None = None) -> list[np.ndarray]:
        """The one channel of ``extended`` (its frame) filtered, cropped to the image."""
        if self.multipliers is None:
            self.multipliers = self._multipliers(workers)
        spectrum = self._transform(extended[:, :, 0], False, workers)
        for multiplier in self.multipliers:
            spectrum *= multiplier
        return [self._transform(spectrum, True, workers)[self.crop]]


def _frames(kernel_shape: tuple[int, int], before: tuple[int, int], mode: str, shape: tuple[int, int]
            ) -> list[tuple[int, int] | None]:
    """Per axis, where the image starts in the array that is transformed (its frame)
    and the frame's length; None for an axis that cannot be framed.

    In reflect mode the frame is the image, whose DCT-II builds in the extension; so is
    the period in wrap mode. Other modes' frames hold the kernel's reach on both sides
    of the image, so that no kept sample meets the DCT's reflections. Frame lengths
    with a prime factor above 11 are lengthened to one without (pocketfft transforms
    those several times slower); a reflect frame then runs on past the image's far end
    as far as the kernel reaches, while a wrap period cannot be lengthened.
    """
    frames: list[tuple[int, int] | None] = []
    for n, k, b in zip(shape, kernel_shape, before, strict=True):
        if mode == "wrap":
            frames.append((0, n) if _smooth(n) else None)
            continue
        if mode == "reflect":
            lead, length = 0, n if _smooth(n) else max(n + k - 1 - b, b)
        else:
            lead, length = b, n + k - 1
        while not _smooth(length):
            length += 1
        frames.append((lead, length))
    return frames


def _smooth(n: int) -> bool:
    """Whether ``n`` has no prime factor beyond `SMOOTH_PRIMES`."""
    for p in SMOOTH_PRIMES:
        while n > 1 and n % p == 0:
            n //= p
    return n == 1


def _period_sum(weights: np.ndarray, first: int, period: int, kept: int, axis: int) -> np.ndarray:
    """Entry p < ``kept`` of the result sums the ``weights`` at j ≡ p (mod ``period``)
    along ``axis``, where index 0 is j = ``first``."""
    shape = list(weights.shape)
    length, shape[axis] = shape[axis], kept
    out = np.zeros(shape, np.result_type(weights, np.float64))
    index = 0
    while index < length:  # a run of consecutive indices per period
        p = (first + index) % period
        count = min(period - p, length - index)
        stop = min(p + count, kept)
        if stop > p:
            out[_cut(axis, p, stop)] += weights[_cut(axis, index, index + stop - p)]
        index += count
    return out


def _cut(axis: int, start: int, stop: int) -> tuple[slice, ...]:
    """The index of entries ``start:stop`` along ``axis``."""
    return (slice(None),) * axis + (slice(start, stop),)
