""".npy bytes read safely, for images and kernels alike.

``np.load`` allocates what the header claims before it reads the data, so a 100-byte
file claiming a shape of 10^12 exhausts memory; its header parser also fails in
unexpected ways on damaged bytes (a tokenizer error, say). Here the header is parsed
and checked first; the caller judges the shape; only then is the array made, as a view
of the bytes already read.
"""

import io
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Header:
    shape: tuple
    dtype: np.dtype
    fortran_order: bool
    offset: int  # where the data starts


def read_header(data, name, error):
    """The header of .npy ``data``, or ``error`` (an exception class) saying what is wrong.

    Only arrays of numbers (booleans, integers, floats) are accepted: never objects,
    which would need pickle.
    """
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
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


def array(data, header, name, error):
    """The array ``header`` describes, a read-only view of ``data``."""
    count = math.prod(header.shape)
    if len(data) - header.offset < count * header.dtype.itemsize:
        raise error(f"{name}: truncated .npy file: the header promises {count * header.dtype.itemsize} bytes "
                    f"of data, the file holds {len(data) - header.offset}")
    values = np.frombuffer(data, header.dtype, count, header.offset)
    return values.reshape(header.shape, order="F" if header.fortran_order else "C")
