"""Kernel files and inline kernels: reading them (`load_kernel`) and writing them.

Formats, chosen by the file's extension:

- plain text (``.txt``, ``.csv``, ``.kernel`` or no extension): one row per line,
  numbers separated by spaces, tabs or commas; ``#`` starts a comment.
- libvips matrix (``.mat``): a header ``width height [scale [offset]]``, then the rows;
  the filtered value is ``sum / scale + offset``, as libvips computes it. ``vips conv``
  correlates with it: ``imgconv convolve --correlate -k K.mat`` gives the same result.
- NumPy ``.npy``: a 2-D numeric array.
- JSON (``.json``): a nested list, or ``{"kernel": [[...]], "divisor": d, "offset": o}``.
- inline, when the spec is not an existing file: rows split by ``;``, numbers by spaces
  or commas, e.g. ``"0 -1 0; -1 5 -1; 0 -1 0"``.
- an ImageMagick kernel string, when the inline spec starts with a name or ``WxH:``
  (``"Gaussian:0x2"``, ``"3x3+1+1: 1,2,1 2,4,2 1,2,1"``; see `imgconv.magick`).

`format_kernel` writes the plain text form, or ImageMagick's, a libvips ``.mat`` or a nested
list (JSON, which ``np.array(json.loads(text))`` reads): each one convolves, in its own tool
(``-morphology Convolve``, ``vips conv``), as the kernel does in imgconv.
"""

import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from . import magick, npyfile
from .engine import MAX_KERNEL_SIZE, Kernel, KernelLike, SeparableKernel, check_kernel
from .errors import KernelError
from .vocabulary import KERNEL_FORMATS

TEXT_EXTENSIONS = ("", ".txt", ".csv", ".kernel")
# The largest kernel, 1025x1025, written with 25 characters a number, is 27 MB of text:
# a larger file is refused before it is read.
MAX_FILE_BYTES = 64 << 20
_SEPARATORS = re.compile(r"[\s,]+")
# Numbers and their separators; "nan" and "inf" too, so that they are refused as numbers
# that are not finite (as in a file), not as a file that does not exist.
_INLINE = re.compile(r"^(?:[\s0-9eE+\-.,;]|nan|inf(?:inity)?)+$", re.IGNORECASE)


def load_kernel(spec: str | os.PathLike[str], *, normalize: bool = False, divisor: float | None = None,
                offset: float | None = None) -> Kernel:
    """Read a kernel from a file or an inline string.

    Parameters
    ----------
    spec : str or os.PathLike
        A kernel file (format by extension, see the module docstring) or, when no
        such file exists, an inline kernel such as ``"1 2 1; 2 4 2; 1 2 1"``.
    normalize : bool
        Divide the weights by their sum (a `KernelError` if the sum is zero).
    divisor : float, optional
        Divide the weights by this, after any scale or divisor the file gives.
    offset : float, optional
        Add this to every filtered sample, on top of any offset the file gives.

    Returns
    -------
    Kernel
        ``weights`` (2-D float64), ``offset`` and ``source`` (the file, or None); use it
        with `imgconv.convolve`.

    Examples
    --------
    >>> load_kernel("1 2 1", normalize=True).weights
    array([[0.25, 0.5 , 0.25]])
    """
    spec = os.fspath(spec)
    if os.path.isfile(spec):
        kernel = replace(_read_file(spec), source=spec)
    elif _INLINE.match(spec) and re.search(r"\d", spec):
        kernel = _parse_rows(spec.split(";"), "inline kernel", numbered=False)
    elif not os.path.exists(spec) and magick.looks_like_magick(spec):
        kernel = magick.parse_kernel(spec)
    elif os.path.exists(spec):
        raise KernelError(f"{spec}: not a file")
    else:
        raise KernelError(f"{spec}: no such kernel file, and not an inline kernel like '1 2 1; 2 4 2; 1 2 1' "
                          f"or 'Gaussian:0x2'")
    return adjust_kernel(kernel, normalize=normalize, divisor=divisor, offset=offset)


def adjust_kernel(kernel: Kernel, *, normalize: bool = False, divisor: float | None = None,
                  offset: float | None = None) -> Kernel:
    """Apply the options every kernel takes: normalise, then divide, then add an offset."""
    weights, total_offset = kernel.weights, kernel.offset
    if normalize:
        total = weights.sum()
        if abs(total) <= 1e-12 * np.abs(weights).sum():
            raise KernelError("cannot normalise a kernel whose weights sum to zero")
        weights = weights / total
    if divisor is not None:
        if divisor == 0:
            raise KernelError("the divisor must not be zero")
        weights = weights / divisor
    if offset is not None:
        total_offset += offset
    return Kernel(check_kernel(weights), float(total_offset), kernel.source)


FORMATS = KERNEL_FORMATS
"""The forms `format_kernel` writes: plain text, an ImageMagick kernel string, a libvips
``.mat`` and a nested list (for ``np.array``; a ``.json`` kernel file)."""


def format_kernel(kernel: KernelLike, form: str = "text") -> str:
    """A kernel written in one of `FORMATS`, which `load_kernel` reads back unchanged
    (the numpy form from a ``.json`` file), but for the vips form.

    ``vips conv`` correlates, so the vips form is the kernel turned by 180 degrees (an
    even size first given a row or column of zeros after its last, which keeps imgconv's
    anchor at the middle): ``vips conv`` with it gives what `imgconv.convolve` gives with
    the kernel, and so does ``imgconv convolve --correlate -k`` with the ``.mat`` file.

    Each number is written with the fewest digits that read back as the same float64.
    A `SeparableKernel` is written densely, so one larger than 1025x1025 is refused,
    before anything is allocated.

    Examples
    --------
    >>> print(format_kernel([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]), end="")
     0.0 -1.0  0.0
    -1.0  5.0 -1.0
     0.0 -1.0  0.0
    """
    if isinstance(kernel, SeparableKernel) and max(kernel.shape) > MAX_KERNEL_SIZE:
        rows, columns = kernel.shape
        raise KernelError(f"the kernel is {columns}x{rows}, too large to print densely "
                          f"(the largest printable kernel is {MAX_KERNEL_SIZE}x{MAX_KERNEL_SIZE})")
    if form not in FORMATS:
        raise KernelError(f"unknown kernel format {form!r}; use {', '.join(FORMATS)}")
    weights = check_kernel(kernel)
    if form == "imagemagick":
        return magick.format_magick(weights)
    if form == "numpy":
        return json.dumps(weights.tolist()) + "\n"
    if form == "vips":
        weights = np.pad(weights[::-1, ::-1], ((1 - weights.shape[0] % 2, 0), (1 - weights.shape[1] % 2, 0)))
    cells = [[repr(float(x)) for x in row] for row in weights]
    if form == "vips":
        return f"{weights.shape[1]} {weights.shape[0]} 1 0\n" + "".join(" ".join(row) + "\n" for row in cells)
    width = max(len(c) for row in cells for c in row)
    return "".join(" ".join(c.rjust(width) for c in row) + "\n" for row in cells)


def _read_file(path: str) -> Kernel:
    extension = os.path.splitext(path)[1].lower()
    data = _read_bytes(path)
    if extension == ".npy":
        return _read_npy(data, path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KernelError(f"{path}: cannot read: {exc}") from None
    if extension == ".json":
        return _parse_json(text, path)
    if extension == ".mat":
        return _parse_vips_matrix(text, path)
    if extension in TEXT_EXTENSIONS:
        return _parse_rows(text.splitlines(), path)
    raise KernelError(
        f"{path}: unknown kernel file type {extension!r}; use .txt, .csv, .kernel, .mat, .npy or .json"
    )


def _read_bytes(path: str) -> bytes:
    """The bytes of the kernel file ``path``, refused if larger than a kernel needs."""
    try:
        if os.path.getsize(path) > MAX_FILE_BYTES:
            raise KernelError(f"{path}: larger than {MAX_FILE_BYTES} bytes, more than the largest kernel "
                              f"({MAX_KERNEL_SIZE}x{MAX_KERNEL_SIZE}) needs")
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise KernelError(f"{path}: cannot read: {exc.strerror or exc}") from None


MAX_CHANNELS = 4
"""The most kernels a 3-D kernel file gives: one per channel of RGBA."""


def load_channel_kernels(spec: str | os.PathLike[str]) -> list[Kernel]:
    """`load_kernel`'s one kernel; or, for a 3-D ``.npy`` file (kh, kw, C), its C
    kernels (the channel last, at most `MAX_CHANNELS`), one per channel of an image."""
    spec = os.fspath(spec)
    if os.path.splitext(spec)[1].lower() == ".npy" and os.path.isfile(spec):
        data = _read_bytes(spec)
        header = npyfile.read_header(data, spec, KernelError)
        if len(header.shape) == 3:
            if not 1 <= header.shape[2] <= MAX_CHANNELS:
                raise KernelError(f"{spec}: a 3-D kernel's last axis is the channel, 1 to {MAX_CHANNELS}; "
                                  f"it has {header.shape[2]}")
            _check_size(header.shape[:2], spec)
            planes = npyfile.array(data, header, spec, KernelError)
            return [Kernel(check_kernel(planes[:, :, c], spec), 0.0, spec) for c in range(planes.shape[2])]
    return [load_kernel(spec)]


def _read_npy(data: bytes, path: str) -> Kernel:
    header = npyfile.read_header(data, path, KernelError)
    _check_size(header.shape, path)
    return Kernel(check_kernel(npyfile.array(data, header, path, KernelError), path))


def _check_size(shape: Sequence[int], source: str) -> None:
    """Refuse more rows or columns than a kernel may have, before building it."""
    if len(shape) == 2 and max(shape) > MAX_KERNEL_SIZE:
        raise KernelError(f"{source}: a {shape[1]}x{shape[0]} kernel; the largest is "
                          f"{MAX_KERNEL_SIZE}x{MAX_KERNEL_SIZE}")


def _parse_rows(lines: Sequence[str], source: str, numbered: bool = True) -> Kernel:
    """Rows of numbers, one per line; ``#`` comments and blank lines are skipped."""
    rows: list[list[float]] = []
    for number, line in enumerate(lines, start=1):
        where = f"{source}: line {number}" if numbered else f"{source}: row {number}"
        fields = [f for f in _SEPARATORS.split(line.split("#", 1)[0]) if f]
        if not fields:
            continue
        _check_size((len(rows) + 1, len(fields)), where)
        row = [_number(f, where) for f in fields]
        if rows and len(row) != len(rows[0]):
            raise KernelError(f"{where}: expected {len(rows[0])} numbers, found {len(row)}")
        rows.append(row)
    if not rows:
        raise KernelError(f"{source}: no numbers found (empty kernel)")
    return Kernel(check_kernel(rows, source))


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise KernelError(f"{where}: {text!r} is not a number") from None
    if not np.isfinite(value):
        raise KernelError(f"{where}: {text!r} is not a finite number")
    return value


def _parse_vips_matrix(text: str, path: str) -> Kernel:
    lines = text.splitlines()
    header_index = next((i for i, line in enumerate(lines) if line.split("#", 1)[0].strip()), None)
    if header_index is None:
        raise KernelError(f"{path}: empty file")
    where = f"{path}: line {header_index + 1}"
    header = [_number(f, where) for f in _SEPARATORS.split(lines[header_index].strip())]
    if not 2 <= len(header) <= 4:
        raise KernelError(f"{where}: expected 'width height [scale [offset]]', found {len(header)} numbers")
    width, height = header[:2]
    scale = header[2] if len(header) > 2 else 1.0
    offset = header[3] if len(header) > 3 else 0.0
    if width != int(width) or height != int(height) or width < 1 or height < 1:
        raise KernelError(f"{where}: width and height must be whole numbers >= 1")
    if scale == 0:
        raise KernelError(f"{where}: scale must not be zero")
    body = [""] * (header_index + 1) + lines[header_index + 1 :]
    kernel = _parse_rows(body, path)
    rows, cols = kernel.weights.shape
    if (cols, rows) != (int(width), int(height)):
        raise KernelError(f"{path}: header says {int(width)}x{int(height)}, the rows give {cols}x{rows}")
    return Kernel(kernel.weights / scale, offset)


def _finite(number: float) -> bool:
    """Whether a JSON number is a finite float64 (an integer of 400 digits is not)."""
    try:
        return math.isfinite(number)
    except OverflowError:
        return False


def _parse_json(text: str, path: str) -> Kernel:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KernelError(f"{path}: line {exc.lineno}: invalid JSON: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:  # an integer of thousands of digits; lists nested too deep
        raise KernelError(f"{path}: invalid JSON: {exc}") from None
    divisor, offset = 1.0, 0.0
    if isinstance(data, dict):
        unknown = set(data) - {"kernel", "divisor", "offset"}
        if "kernel" not in data or unknown:
            raise KernelError(f"{path}: expected an object with 'kernel' and optional 'divisor', 'offset'")
        divisor, offset = data.get("divisor", 1.0), data.get("offset", 0.0)
        data = data["kernel"]
        for name, value in (("divisor", divisor), ("offset", offset)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
                raise KernelError(f"{path}: {name} must be a finite number")
        if divisor == 0:
            raise KernelError(f"{path}: divisor must not be zero")
    if not isinstance(data, list) or not all(isinstance(row, list) for row in data):
        raise KernelError(f"{path}: the kernel must be a list of rows (a list of lists of numbers)")
    _check_size((len(data), max(map(len, data), default=0)), path)
    for number, row in enumerate(data, start=1):
        if any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in row):
            raise KernelError(f"{path}: row {number}: every entry must be a number")
        if len(row) != len(data[0]):
            raise KernelError(f"{path}: row {number}: expected {len(data[0])} numbers, found {len(row)}")
    return Kernel(check_kernel(data, path).copy() / divisor, float(offset))
