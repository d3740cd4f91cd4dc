"""``.npy`` outputs: the raw result, in its own type."""

from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

if TYPE_CHECKING:
    from .formats import Format
    from .picture import Picture
    from .write import EncodeOptions


def write_npy(frames: list[np.ndarray], picture: "Picture", record: "Format", metadata: dict[str, Any],
              asked: "EncodeOptions", name: str, out: BinaryIO) -> None:
    """One (H, W[, C]) array, or (N, H, W[, C]) for several frames, as ``np.save``
    writes it, through ``out.write``: ``np.save`` writes into a real file with
    ``tofile``, whose failure (a full disk) says only how many bytes it wrote, not why."""
    array = np.ascontiguousarray(np.stack(frames) if len(frames) > 1 else frames[0])
    np.lib.format.write_array_header_1_0(out, np.lib.format.header_data_from_array_1_0(array))
    out.write(array.reshape(-1).view(np.uint8).data)
