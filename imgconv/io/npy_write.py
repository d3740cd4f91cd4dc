"""``.npy`` outputs: the raw result, in its own type."""

from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

if TYPE_CHECKING:
    from .formats import Format
    from .picture import Picture
    from .write import EncodeOptions


def write_npy(frames: list[np.ndarray], picture: "Picture", record: "Format", metadata: dict[str, Any],
              asked: "EncodeOptions", name: str, out: BinaryIO) -> None:
    """One (H, W[, C]) array, or (N, H, W[, C]) for several frames."""
    np.save(out, np.stack(frames) if len(frames) > 1 else frames[0], allow_pickle=False)
