"""``fft`` in bands: each band convolved through ``scipy.fft`` (imported only on this
path, as importing scipy takes a noticeable part of a second), for any kernel held
densely; the kernel's spectra are cached per transform size."""

from collections.abc import Iterator
from typing import Any

import numpy as np

from .strategy import Layout, Samples
from .taps import Taps

# Nanoseconds per output sample, measured on the project's machine (x86_64, 2 CPUs) on
# the 4K photo with bands gathered as planes: a fixed part, and one that grows with the
# kernel's height (bands re-read kh - 1 rows, and their transforms get longer).
NS_FFT = 8.5
NS_FFT_PER_ROW = 0.0545
# Rows per band: each band re-reads kh - 1 rows, so bands of a few kernel heights keep
# that waste low; at least 128 so that short kernels still make long transforms. A
# judgement, not a measurement.
KERNEL_HEIGHTS_PER_BAND = 3
MIN_BAND_HEIGHT = 128
# Bands per thread below which they run one after another, each transform on every
# thread: bands at once would leave threads idle while the last ones finish. The
# threshold is a judgement; running few bands so, with planes one at a time, takes r=500
# on the 4K photo in 0.50 s where bands at once took 0.79 s.
BANDS_PER_THREAD = 2


class BandedFFT:
    """``fft`` in bands, gathered as planes, so that every transform runs along
    contiguous rows; each plane is transformed only when the one before has been
    written out."""

    method = "fft"
    name = "banded-fft"

    def __init__(self, taps: Taps, mode: str, shape: tuple[int, int], dtype: np.dtype[Any]) -> None:
        import scipy.fft  # only here: importing scipy costs start-up time

        self.fft = scipy.fft
        self.dtype = dtype
        self.reach = taps.reach
        self.flipped = taps.weights[::-1, ::-1].astype(dtype)
        self._spectra: dict[tuple[int, int], np.ndarray] = {}

    @staticmethod
    def cost(taps: Taps, mode: str, shape: tuple[int, int] | None, limit: float, samples: Samples | None
             ) -> float | None:
        """Estimated nanoseconds per output sample; None without dense weights."""
        return NS_FFT + NS_FFT_PER_ROW * taps.shape[0] if taps.is_dense else None

    def layout(self, shape: tuple[int, int], threads: int) -> Layout:
        band = max(MIN_BAND_HEIGHT, KERNEL_HEIGHTS_PER_BAND * self.flipped.shape[0])
        few = -(-shape[0] // band) < BANDS_PER_THREAD * threads
        return Layout(band, self.reach, planar=True, workers=threads if few else 1)

    def __call__(self, extended: np.ndarray, workers: int, into: np.ndarray | None = None) -> Iterator[np.ndarray]:
        """The band's planes, each transformed only when the one before has been taken;
        ``workers`` threads per transform (scipy.fft's own), which compute each line of
        a transform the same way whatever their number."""
        kh, kw = self.flipped.shape
        rows, columns, _ = extended.shape
        # Circular convolution over a size >= the band wraps only into the first
        # kh - 1 rows and kw - 1 columns, which are exactly the ones thrown away.
        shape = (self.fft.next_fast_len(rows, real=True), self.fft.next_fast_len(columns, real=True))
        if shape not in self._spectra:  # filled from several threads; a race builds one twice
            self._spectra[shape] = self.fft.rfft2(self.flipped, s=shape, workers=workers)
        for plane in extended.transpose(2, 0, 1):
            spectrum = self.fft.rfft2(plane, s=shape, workers=workers)
            spectrum *= self._spectra[shape]
            yield self.fft.irfft2(spectrum, s=shape, workers=workers)[kh - 1 : rows, kw - 1 : columns]
