"""``.npy`` outputs: the raw result, in its own type."""

import io
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .formats import Format
    from .picture import Picture
    from .write import EncodeOptions


def write_npy(frames: list[np.ndarray], picture: "Picture", record: "Format", metadata: dict[str, Any],
              asked: "EncodeOptions", name: str) -> bytes:
    """One (H, W[, C]) array, or (N, H, W[, C]) for several frames."""
    buffer = io.BytesIO()
    np.save(buffer, np.stack(frames) if len(frames) > 1 else frames[0], allow_pickle=False)
    return buffer.getvalue()
