"""Zarr stores (a folder named ``*.zarr``) holding one image, read by rows."""

import asyncio
import os
from collections.abc import Iterable
from types import ModuleType
from typing import Any

import numpy as np

from ..errors import INSTALL_HINT, ImageReadError, ImgconvError, InvalidInputError, MissingExtraError
from .staging import open_inside
from .tiled_image import ZARR, Path, TiledImage, check_budget, sample_mode


def zarr_module() -> ModuleType:
    try:
        import zarr
    except ImportError:
        raise MissingExtraError(f"Zarr stores need zarr, which is not installed: {INSTALL_HINT}") from None
    return zarr


def open_zarr(path: Path, max_pixels: int = 0, frame: int | None = None) -> TiledImage:
    """The array of a Zarr store (one frame: ``frame`` may be 0), checked as `open_tiff`
    checks a page."""
    zarr_module()  # the missing extra is what is said first
    name = os.fspath(path)
    if frame not in (None, 0):
        raise InvalidInputError(f"{name}: --frame {frame} does not exist; a Zarr store holds 1 frame, numbered 0")
    if not os.path.isdir(path):
        raise ImageReadError(f"{name}: no such Zarr store" if not os.path.exists(path) else
                             f"{name}: not a Zarr store (a folder)")
    try:
        array = open_array(path)
        shape, dtype, chunks = tuple(array.shape), np.dtype(array.dtype), tuple(array.chunks)
        options = {"compressors": array.compressors, "zarr_format": array.metadata.zarr_format}
    except ImgconvError:
        raise
    except Exception as exc:
        raise ImageReadError(f"{name}: not a Zarr array, or a damaged one ({' '.join(str(exc).split())})") from None
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ImageReadError(f"{name}: an array of shape {shape}: not an image (H, W) or (H, W, C)")
    channels = 1 if len(shape) == 2 else shape[2]
    mode = sample_mode(dtype, channels, name)
    check_budget(name, shape, chunks[:2], max_pixels)
    return TiledImage(os.path.abspath(name), name, ZARR, 0, shape, dtype, mode, chunks[:2], options)


def open_array(path: Path) -> Any:
    """The ``zarr.Array`` of the store ``path``, read through `_confined_store`."""
    return zarr_module().open_array(_confined_store(os.path.realpath(path)), mode="r")


def _confined_store(root: str) -> Any:
    """A read-only ``zarr.storage.LocalStore`` of ``root`` whose files are read only
    inside it: a file or folder of the store that is a link leading outside it (to
    another user's secret, say, to be read as samples and written out) is refused, as
    a batch skips such a link in a folder, and so is one put there while the store is
    read. Links inside the store leading inside it are followed."""
    from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest
    from zarr.core.buffer import default_buffer_prototype
    from zarr.storage import LocalStore

    outside = f"{root}: holds a link leading outside the Zarr store; not read"

    def read(key: str, byte_range: Any) -> bytes | None:
        try:
            descriptor = open_inside(root, os.path.join(root, key), outside, os.O_RDONLY | os.O_CLOEXEC)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None  # a chunk never written: the fill value
        except OSError as exc:
            raise ImageReadError(exc.strerror or str(exc)) from None
        with open(descriptor, "rb") as file:
            if isinstance(byte_range, RangeByteRequest):
                file.seek(byte_range.start)
                return file.read(byte_range.end - byte_range.start)
            if isinstance(byte_range, OffsetByteRequest):
                file.seek(byte_range.offset)
            elif isinstance(byte_range, SuffixByteRequest):
                file.seek(max(0, file.seek(0, os.SEEK_END) - byte_range.suffix))
            return file.read()

    class ConfinedStore(LocalStore):
        async def get(self, key: str, prototype: Any = None, byte_range: Any = None) -> Any:
            data = await asyncio.to_thread(read, key, byte_range)
            return None if data is None else (prototype or default_buffer_prototype()).buffer.from_bytes(data)

        async def get_partial_values(self, prototype: Any, key_ranges: Iterable[tuple[str, Any]]) -> list[Any]:
            return [await self.get(key, prototype, byte_range) for key, byte_range in key_ranges]

    return ConfinedStore(root, read_only=True)
