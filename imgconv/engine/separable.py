"""``separable``: the kernel as a sum of outer products ``column ⊗ row`` (one for a
Gaussian or a box, a few for a low-rank kernel), each filtered as a column pass, then a
row pass, both BLAS products.

Per term, the column pass weighs each output row's input rows as one batched vector
product over a strided view (up to `SHORT_COLUMN` taps), or is a series of products
with banded (Toeplitz) blocks. Rows of up to `SHORT_ROW` taps keep the channels
interleaved as they are in the image: every run of output pixels with about 16
samples (`pixel_block`) is a small product with ``kron(toeplitz, identity(channels))``,
all of them in one ``np.matmul`` over a strided view of overlapping windows. Longer
rows run on planes (the band is gathered channel by channel), so both passes are
Toeplitz products along contiguous rows, with no transposition.
"""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .strategy import Layout, Samples
from .taps import Taps

# Crossovers between the two forms of each pass, for long rows on planes. No timing of
# them is recorded: a judgement, checked only through the cost model's choices on the
# 4K photo.
# Rows of at most this many taps run with channels interleaved, longer ones on planes;
SHORT_ROW = 40
# columns of at most this many taps run as batched vector products, longer ones as
# Toeplitz matrix products.
SHORT_COLUMN = 25
# Output rows (columns) per Toeplitz block of a long column (row) pass. Each output
# also multiplies block - 1 zeros, but much smaller blocks make BLAS slower. The exact
# value is a judgement.
COLUMN_BLOCK = 32
ROW_BLOCK = 32
# Rows per band: taller bands amortise the kh - 1 rows gathered beyond them, but should
# stay in cache; 48 for short columns, at least 64 (one kernel height) for long ones. A
# judgement, not a measurement.
SHORT_BAND_HEIGHT = 48
LONG_BAND_HEIGHT = 64

# Nanoseconds per output sample, measured on the project's machine (x86_64, 2 CPUs) on
# the 4K photo: a BLAS matrix multiply-add, a tap of a batched vector product, and
# gathering a band into planes and writing it back interleaved.
NS_PER_BLAS_MAC = 0.035
NS_PER_GEMV_TAP = 0.05
NS_PLANAR = 0.5
# The interleaved row pass: a fixed part, and each multiply-add of its Kronecker
# products ((pixel_block + kw) x 3 per RGB sample). NS_PER_BLAS_MAC overestimated these
# small products by up to half, and ``auto`` took `kernel_columns` for the r=2 Gaussian
# where this pass was quicker. Fitted to Gaussians of radius 1 to 6 on the 4K photo
# (one thread, 8-bit out, best of 5; 2026-11-27), less the column pass's estimate and
# the 0.4 ns a sample that gathering and rounding take around every float strategy
# (`integer.NS_FLOAT_BAND`): rows of 3, 5, 7, 9, 13 taps 0.59, 0.64, 0.72, 0.83, 1.02 ns.
NS_KRON_FIXED = 0.25
NS_PER_KRON_MAC = 0.0143


def pixel_block(channels: int) -> int:
    """Output pixels per small product of an interleaved row pass: as many as make at
    most 16 samples. Each output also multiplies (pixels - 1) * channels zeros, but
    products with 15 or 16 output columns ran quickest for every row length measured
    (7 to 41 taps, 1 to 4 channels; RGB, 11 taps: 5 pixels 0.51-0.62 ms a band, 4
    pixels 0.60-0.70, 8 pixels 0.74-0.99), likely the width OpenBLAS's kernels take
    at once here."""
    return max(1, 16 // channels)


def _toeplitz(taps: np.ndarray, outputs: int, dtype: np.dtype[Any]) -> np.ndarray:
    """The (outputs, outputs + len(taps) - 1) matrix whose product correlates with taps."""
    matrix = np.zeros((outputs, outputs + len(taps) - 1), dtype)
    diagonal = np.arange(outputs)
    for i, tap in enumerate(taps):
        matrix[diagonal, diagonal + i] = tap
    return matrix


class Separable:
    """``separable``: per outer product of the kernel, a column pass, then a row pass.

    Short rows run with the channels interleaved as they are in the image. Long rows
    run on planes, one channel after another: then every pass is a plain matrix
    product along contiguous rows, and no pass multiplies the zeros of a Kronecker
    matrix or needs a transposition.
    """

    method = name = "separable"
    keeps_band = True  # the passes read the band they are given, never write it (`imgconv.engine.bands`)

    def __init__(self, taps: Taps, mode: str, shape: tuple[int, int], dtype: np.dtype[Any]) -> None:
        """The terms are `Taps.terms`: a dense kernel's by SVD, or a `SeparableKernel`'s
        own, with none."""
        self.dtype = dtype
        self.shape = taps.shape
        self.reach = taps.reach
        self.terms = [(column.astype(dtype), row.astype(dtype)) for column, row in taps.terms()]
        self.planar = taps.shape[1] > SHORT_ROW
        self._matrices: dict[tuple[object, ...], np.ndarray] = {}

    @staticmethod
    def cost(taps: Taps, mode: str, shape: tuple[int, int] | None, limit: float, samples: Samples | None
             ) -> float | None:
        """Estimated nanoseconds per output sample, or None once it cannot beat ``limit``:
        the rank may need an SVD, which takes a noticeable time for large kernels (0.13
        s at 1001x1001), so it is skipped when even a single term would lose."""
        term, planes = _term_cost(*taps.shape)
        if term + planes >= limit:
            return None
        return taps.rank * term + planes

    def layout(self, shape: tuple[int, int], threads: int) -> Layout:
        band = SHORT_BAND_HEIGHT if self.shape[0] <= SHORT_COLUMN else max(LONG_BAND_HEIGHT, self.shape[0])
        return Layout(band, self.reach, planar=self.planar)

    def _matrix(self, key: tuple[object, ...], build: Callable[[], np.ndarray]) -> np.ndarray:
        # Filled lazily from several threads; a race builds the same matrix twice.
        if key not in self._matrices:
            self._matrices[key] = build()
        return self._matrices[key]

    def __call__(self, extended: np.ndarray, workers: int, into: np.ndarray | None = None) -> np.ndarray:
        kh, kw = self.shape
        rows, columns, channels = extended.shape
        height, width = rows - kh + 1, columns - kw + 1
        # A stack of matrices whose rows are the image's rows: one per channel, or one
        # with the channels interleaved.
        if self.planar:
            stack = extended.transpose(2, 0, 1)
        else:
            stack = extended.reshape(1, rows, columns * channels)
        out = None
        for index, (column, row) in enumerate(self.terms):
            vertical = self._column_pass(index, stack, column, height)
            if self.planar:
                term = self._planar_row_pass(index, vertical, row, width)
            else:
                term = self._interleaved_row_pass(index, vertical.reshape(height, columns, channels), row, width,
                                                  into if out is None else None)
            out = term if out is None else np.add(out, term, out=out)
        if out is None:  # every term was negligible: a zero kernel
            out = np.empty((channels, height, width) if self.planar else (height, width, channels),
                           extended.dtype) if into is None else into
            out.fill(0)
        return out

    def _column_pass(self, index: int, stack: np.ndarray, taps: np.ndarray, height: int) -> np.ndarray:
        """Correlate the rows of each matrix of ``stack`` with ``taps``; short columns
        may be several (P, kh) at once, their results (depth, height, P, length)."""
        if taps.shape[-1] <= SHORT_COLUMN:
            # Output row y is the weighted sum of rows y ... y + kh - 1: a vector times a
            # strided view of those rows, batched over y. No zeros are multiplied.
            depth, _, length = stack.shape
            windows = as_strided(stack, shape=(depth, height, taps.shape[-1], length),
                                 strides=(stack.strides[0], stack.strides[1], stack.strides[1], stack.strides[2]),
                                 writeable=False)
            return np.matmul(taps, windows)
        # Long columns: products with banded (Toeplitz) blocks are faster.
        out = np.empty((stack.shape[0], height, stack.shape[2]), stack.dtype)
        for start in range(0, height, COLUMN_BLOCK):
            size = min(COLUMN_BLOCK, height - start)
            block = self._matrix(("column", index, size),
                                 lambda: _toeplitz(taps, size, self.dtype))  # noqa: B023  # _matrix calls it at once
            np.matmul(block, stack[:, start : start + size + len(taps) - 1], out=out[:, start : start + size])
        return out

    def _planar_row_pass(self, index: int, planes: np.ndarray, taps: np.ndarray, width: int) -> np.ndarray:
        """Correlate the rows of each plane with ``taps``: each block of output columns
        is the product of a slice of the planes' rows and a Toeplitz block."""
        depth, height, columns = planes.shape
        rows = planes.reshape(depth * height, columns)
        out = np.empty((depth, height, width), planes.dtype)
        out_rows = out.reshape(depth * height, width)
        for start in range(0, width, ROW_BLOCK):
            size = min(ROW_BLOCK, width - start)
            # Row blocks multiply from the right, so they are kept transposed.
            block = self._matrix(("row", index, size),
                                 lambda: _toeplitz(taps, size, self.dtype).T.copy())  # noqa: B023  # _matrix calls it at once
            np.matmul(rows[:, start : start + size + len(taps) - 1], block, out=out_rows[:, start : start + size])
        return out

    def _interleaved_row_pass(self, index: int, values: np.ndarray, taps: np.ndarray, width: int,
                              into: np.ndarray | None = None) -> np.ndarray:
        """Short rows, channels left interleaved: each run of a few output pixels is one
        small matrix product with ``kron(toeplitz, identity(channels))``, into ``into``
        if given.

        The windows overlap, so they are a strided view of the band, not a copy, and one
        ``np.matmul`` call runs the products for every window of every row.
        """
        height, columns, channels = values.shape
        rows = values.reshape(height, columns * channels)
        out = np.empty((height, width, channels), values.dtype) if into is None else into
        out_rows = out.reshape(height, width * channels)
        item = values.itemsize
        pixels = pixel_block(channels)
        blocks, rest = divmod(width, pixels)
        # (number of windows, first output pixel, pixels per window): the full blocks,
        # then what is left over.
        for count, first, size in ((blocks, 0, pixels), (int(rest > 0), blocks * pixels, rest)):
            if not count:
                continue
            matrix = self._matrix(("kron", index, size, channels), lambda: np.kron(
                _toeplitz(taps, size, self.dtype).T, np.eye(channels, dtype=self.dtype)))  # noqa: B023  # called at once
            inputs, outputs = matrix.shape
            offset = first * channels
            # as_strided does no bounds checking: the last window must end inside the row.
            assert offset + (count - 1) * outputs + inputs <= rows.shape[1]
            assert offset + count * outputs <= out_rows.shape[1]
            windows = as_strided(rows[:, offset:], shape=(count, height, inputs),
                                 strides=(outputs * item, rows.strides[0], item), writeable=False)
            targets = as_strided(out_rows[:, offset:], shape=(count, height, outputs),
                                 strides=(outputs * item, out_rows.strides[0], item))
            np.matmul(windows, matrix, out=targets)
        return out


def share_columns(strategies: Sequence[object]) -> bool:
    """Whether `shared_responses` can filter bands for all of ``strategies``: each
    `Separable` with one term, short columns, interleaved rows, all of one shape and
    type."""
    first = strategies[0]
    return isinstance(first, Separable) and all(
        isinstance(s, Separable) and len(s.terms) == 1 and not s.planar and s.shape[0] <= SHORT_COLUMN
        and s.shape == first.shape and s.dtype == first.dtype for s in strategies)


def shared_responses(strategies: Sequence[Separable], extended: np.ndarray) -> list[np.ndarray]:
    """Each strategy's values for one band (`share_columns`), their column passes as
    one product whose stacked taps read the band once: for a Gaussian gradient's two
    derivatives (19 taps, bands of the 4K photo), 0.59 ms a band where one product
    each took 1.27, with the same values."""
    kh, kw = strategies[0].shape
    rows, columns, channels = extended.shape
    height, width = rows - kh + 1, columns - kw + 1
    taps = np.stack([strategy.terms[0][0] for strategy in strategies])
    vertical = strategies[0]._column_pass(0, extended.reshape(1, rows, columns * channels), taps, height)
    return [strategy._interleaved_row_pass(0, vertical[0, :, p].reshape(height, columns, channels),
                                           strategy.terms[0][1], width)
            for p, strategy in enumerate(strategies)]


def _term_cost(kh: int, kw: int) -> tuple[float, float]:
    """The estimated cost of one term for a kh x kw kernel, and that of gathering the
    band into planes and writing them back, paid once whatever the rank."""
    planes = 0.0
    if kw <= SHORT_ROW:  # interleaved: the Kronecker matrix's zeros are multiplied too (3 channels)
        row_pass = NS_KRON_FIXED + (pixel_block(3) + kw) * 3 * NS_PER_KRON_MAC
    else:
        row_pass = (ROW_BLOCK + kw) * NS_PER_BLAS_MAC
        planes = NS_PLANAR
    column_pass = kh * NS_PER_GEMV_TAP if kh <= SHORT_COLUMN else (COLUMN_BLOCK + kh) * NS_PER_BLAS_MAC
    return column_pass + row_pass, planes
