"""The `Picture`: an image's frames as arrays, its mode, and what is needed to write a
result back the same way."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from . import formats


@dataclass
class Picture:
    """An image's frames and how to write a result back in the same form.

    Attributes
    ----------
    frames : list of numpy.ndarray
        (H, W) or (H, W, C) samples in the file's units, one array per frame or page.
    mode : str
        The mode the result is written in (`imgconv.io.formats`).
    format : str
        Pillow's name of the input format, or ``"NPY"``.
    metadata : dict
        ``icc_profile``, ``exif``, ``xmp``, ``comment``, ``dpi`` (the resolution in dots
        per inch, across and down) and ``text`` (a PNG's text chunks, ``{keyword: text}``)
        as the input had them (`imgconv.io.metadata.metadata_of`), with the EXIF
        orientation removed (and the XMP's set to 1) once it has been applied, and the
        resolution swapped where that turned the pixels.
    encoding : dict
        What the input's encoder chose: ``qtables`` and ``subsampling`` for JPEG,
        ``lossless`` for WebP, ``compression`` (the TIFF tag's number) and ``bilevel``
        (stored at 1 bit a sample) for TIFF; ``gain_map`` (True) for a JPEG photo whose
        second frame is its HDR gain map (`imgconv.io.gain_map`).
    animation : dict
        For several frames: ``duration`` (ms, per frame) and ``loop``, as far as the
        format has them. Frames are whole pictures as displayed, so how the input
        composed them (disposal, blending) is not kept: `imgconv.io.animation` writes them.
    name : str
        The input as messages name it: its path, ``<stdin>``, or "the input".
    """

    frames: list[np.ndarray]
    mode: str
    format: str
    metadata: dict[str, Any] = field(default_factory=dict)
    encoding: dict[str, Any] = field(default_factory=dict)
    animation: dict[str, Any] = field(default_factory=dict)
    name: str = "the input"

    @property
    def pixels(self) -> np.ndarray:
        """The samples of a single-frame picture."""
        if len(self.frames) != 1:
            raise InvalidInputError(f"the image has {len(self.frames)} frames; take one first "
                                    "(imgconv identity --frame N IN OUT)")
        return self.frames[0]

    @property
    def raw(self) -> bool:
        """Whether it was read from a raw array (``.npy``, `imgconv.io.formats.Format.raw`):
        numbers in their own type, not an image's samples."""
        record = formats.FORMATS.get(self.format)
        return record is not None and record.raw

    @property
    def has_alpha(self) -> bool:
        """The last channel is alpha."""
        return self.mode in formats.WITH_ALPHA

    @property
    def sample_max(self) -> float:
        """The largest sample of ``mode``: 255, 65535, 1.0 for floats (`imgconv.io.formats`)."""
        return formats.SAMPLE_MAX[self.mode]

    @property
    def sample_dtype(self) -> np.dtype[Any]:
        """The NumPy type of the samples written in ``mode``."""
        return np.dtype(formats.DTYPE[self.mode])

    @property
    def description(self) -> str:
        """The mode in words, with the frame count: ``16-bit RGB``, ``8-bit RGB, 3 frames``."""
        words = formats.WORDS[self.mode]
        return words if len(self.frames) == 1 else f"{words}, {len(self.frames)} frames"


def frame_indices(count: int, frame: int | None, name: str) -> Sequence[int]:
    if frame is None:
        return range(count)
    if not 0 <= frame < count:
        raise InvalidInputError(f"{name}: --frame {frame} does not exist; the image has {count} frame(s), "
                                f"numbered from 0")
    return [frame]
