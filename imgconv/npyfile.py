""".npy bytes read safely, for images and kernels alike.

``np.load`` allocates what the header claims before it reads the data, so a 100-byte
file claiming a shape of 10^12 exhausts memory; its header parser also fails in
unexpected ways on damaged bytes (a tokenizer error, say). Here the header is parsed
and checked first; the caller judges the shape; only then is the array made, as a view
of the bytes already read.
"""

import ast
import io
import itertools
import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

# NumPy retries a header that is not a Python literal through a tokenizer filter meant
# for files written by Python 2, in time that grows with the square of its length:
# 0.07 s at 500 bytes, 0.2 s at 1,000, 3.8 s at 4,000, 13 s at 8,000 (a 9 KB damaged
# header ran 7 s), so a short hostile file could hold a reader for seconds. Python 2's
# NumPy wrote headers of about a hundred bytes; a longer one that is not a literal is
# refused before NumPy sees it.
MAX_FILTERED_HEADER = 500
# The deepest brackets a header may nest. A numeric array's header nests 2 deep
# (``{'shape': (3, 4), ...}``); Python's parser, NumPy's and ours, raises MemoryError
# at about 200, which would read as memory running out rather than as a damaged file.
MAX_HEADER_DEPTH = 16
# NumPy refuses longer headers itself, unread.
NUMPY_MAX_HEADER = 10000


@dataclass(frozen=True)
class Header:
    """What a .npy header says: the array's shape, sample type and order, and where its data starts."""

    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    fortran_order: bool
    offset: int  # where the data starts


def read_header(data: bytes, name: str, error: type[Exception]) -> Header:
    """The header of .npy ``data``, or ``error`` (an exception class) saying what is wrong.

    Only arrays of numbers (booleans, integers, floats) are accepted: never objects,
    which would need pickle.
    """
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        _check_text(data, version, name, error)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise error(f"{name}: .npy format version {version[0]}.{version[1]} is not supported")
    except error:
        raise
    except Exception as exc:  # the header is a Python literal: its parser fails in many ways
        raise error(f"{name}: not a valid .npy file: {exc}") from None
    if dtype.hasobject or dtype.kind not in "biuf":
        raise error(f"{name}: expected a numeric array, got dtype {dtype}")
    if not all(type(length) is int and length >= 0 for length in shape):
        raise error(f"{name}: not a valid .npy file: shape {shape}")
    return Header(tuple(shape), dtype, fortran_order, stream.tell())


def _check_text(data: bytes, version: tuple[int, int], name: str, error: type[Exception]) -> None:
    """Refuse a header nested deeper than `MAX_HEADER_DEPTH`, or longer than
    `MAX_FILTERED_HEADER` and not a Python literal, before NumPy parses it."""
    size = "<H" if version == (1, 0) else "<I"
    start = 8 + struct.calcsize(size)
    if len(data) < start:
        return  # NumPy's reader says what is missing
    length = struct.unpack(size, data[8:start])[0]
    if length > NUMPY_MAX_HEADER:
        return
    text = data[start : start + length].decode("latin1")
    depth = max(itertools.accumulate((c in "([{") - (c in ")]}") for c in text), default=0)
    if depth > MAX_HEADER_DEPTH:
        raise error(f"{name}: not a valid .npy file: its header nests {depth} brackets deep")
    if length <= MAX_FILTERED_HEADER:
        return
    try:
        ast.literal_eval(text)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        raise error(f"{name}: not a valid .npy file: its header ({length} bytes) is not a Python literal") from None


def array(data: bytes, header: Header, name: str, error: type[Exception]) -> np.ndarray:
    """The array ``header`` describes, a read-only view of ``data``."""
    count = math.prod(header.shape)
    if len(data) - header.offset < count * header.dtype.itemsize:
        raise error(f"{name}: truncated .npy file: the header promises {count * header.dtype.itemsize} bytes "
                    f"of data, the file holds {len(data) - header.offset}")
    values = np.frombuffer(data, header.dtype, count, header.offset)
    return values.reshape(header.shape, order="F" if header.fortran_order else "C")
