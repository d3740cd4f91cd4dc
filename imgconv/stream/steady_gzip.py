"""Gzip for Zarr outputs without the time of writing in every chunk.

The gzip codecs of numcodecs (Zarr format 2) and of zarr (format 3) stamp each chunk's
header with the current time (RFC 1952's MTIME), so one command run twice gives two
different stores. These write MTIME 0 ("no time stamp available"), which every gzip
reader accepts; the store's metadata still names plain ``gzip`` with its level.
"""

import gzip
from collections.abc import Iterable
from typing import Any

import numcodecs
import numpy as np
import zarr.codecs
from zarr.core.array_spec import ArraySpec
from zarr.core.buffer import Buffer


class _SteadyGZip(numcodecs.GZip):
    def encode(self, buf: Any) -> bytes:
        data = np.ascontiguousarray(buf).tobytes()  # a chunk's copy, as numcodecs makes one
        return gzip.compress(data, compresslevel=self.level, mtime=0)


class _SteadyGzipCodec(zarr.codecs.GzipCodec):
    def _encode_sync(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> Buffer | None:
        data = chunk_bytes.as_numpy_array().tobytes()
        return chunk_spec.prototype.buffer.from_bytes(gzip.compress(data, compresslevel=self.level, mtime=0))


def steady(compressors: Any) -> Any:
    """``compressors`` as `zarr.create_array` takes them, each gzip codec made steady."""
    if compressors is None or isinstance(compressors, str):
        return compressors
    if not isinstance(compressors, Iterable):
        return _steady(compressors)
    return [_steady(codec) for codec in compressors]


def _steady(codec: Any) -> Any:
    if type(codec) is numcodecs.GZip:
        return _SteadyGZip(level=codec.level)
    if type(codec) is zarr.codecs.GzipCodec:
        return _SteadyGzipCodec(level=codec.level)
    return codec

