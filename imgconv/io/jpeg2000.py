"""JPEG 2000 pictures decoded by OpenJPEG through imagecodecs, each component at its own
depth and sign. Pillow (which also decodes with OpenJPEG) reads signed samples as
unsigned, samples of 1 to 7 and 9 to 15 bits shifted rather than scaled, colour of more
than 8 bits at 8, and misreads the colours of JP2 files that carry an ICC profile or
sYCC channel definitions; it only opens the file here, for its size and metadata."""

import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ImageReadError
from . import formats, icc
from .budget import PixelBudget
from .picture import Picture

# A code stream's start (SOC), then its SIZ marker; a JP2 file's signature box.
CODE_STREAM = b"\xff\x4f\xff\x51"
JP2_SIGNATURE = b"\0\0\0\x0cjP  \r\n\x87\n"
# The JP2 colour box's enumerated colour spaces OpenJPEG gives as RGB or grey samples
# (sRGB, grey, sYCC, which it converts to RGB), and CMYK, whose inks it gives as stored.
_SRGB, _GREY, _SYCC, _CMYK = 16, 17, 18, 12
# The subsampling of a Y, Cb, Cr code stream (every component's step across and down)
# that OpenJPEG's sYCC conversion upsamples: 4:2:0 and 4:2:2.
_CHROMA_STEPS = (((1, 1), (2, 2), (2, 2)), ((1, 1), (2, 1), (2, 1)))


@dataclass(frozen=True)
class Component:
    """A component as the code stream's SIZ marker describes it."""

    signed: bool
    bits: int
    step: tuple[int, int]  # sampled every step[0] pixels across, step[1] down


def components(data: bytes) -> list[Component] | None:
    """The components of a JPEG 2000 code stream, bare or the first in a JP2 file, from
    its SIZ marker; None where ``data`` is no JPEG 2000 or the marker is cut short."""
    if not data.startswith((CODE_STREAM, JP2_SIGNATURE)):
        return None
    start = data.find(CODE_STREAM)
    if start < 0 or len(data) < start + 42:
        return None
    count = int.from_bytes(data[start + 40:start + 42], "big")
    described = data[start + 42:start + 42 + 3 * count]
    if len(described) < 3 * count:
        return None
    return [Component(bool(depth & 0x80), (depth & 0x7F) + 1, (across, down))
            for depth, across, down in zip(described[::3], described[1::3], described[2::3], strict=True)]


def subsampled(data: bytes) -> str | None:
    """What a JPEG 2000 whose components are sampled more coarsely than its grid (SIZ's
    XRsiz and YRsiz) is, in words; else None."""
    coarse = sorted({f"{c.step[0]} x {c.step[1]}" for c in components(data) or [] if c.step != (1, 1)})
    return f"its JPEG 2000 components are sampled every {' or '.join(coarse)} pixels" if coarse else None


def picture_of_many_components(data: bytes, name: str, budget: PixelBudget) -> Picture:
    """A JPEG 2000 of more than four components (a multispectral image, ITU-T T.803's
    p0_13 of 257), which Pillow does not open: by OpenJPEG, each component a channel of
    an array (`formats.MULTICHANNEL`), its size taken from ``budget`` first as a ``.npy``'s
    (H x W x ceil(C / 4))."""
    start = data.find(CODE_STREAM)
    right, bottom, left, top = struct.unpack_from(">4I", data, start + 8)  # Xsiz, Ysiz, XOsiz, YOsiz
    budget.take(right - left, bottom - top, math.ceil(len(components(data) or []) / 4))
    return picture_from_openjpeg(data, {}, name)


def many_components(data: bytes) -> bool:
    """Whether ``data`` is a JPEG 2000 of more than four components."""
    return len(components(data) or []) > 4


def by_openjpeg(data: bytes) -> bool:
    """Whether OpenJPEG (`picture_from_openjpeg`) decodes this JPEG 2000, rather than
    Pillow: every one but those whose components are all 8-bit unsigned samples taken
    every n x m pixels alike (n x m not 1 x 1), which imagecodecs does not decode and
    Pillow reads at the grid's size, each sample repeated over its n x m pixels."""
    found = components(data)
    if not found:
        return False
    steps = {c.step for c in found}
    return not (len(steps) == 1 and steps != {(1, 1)} and {(c.signed, c.bits) for c in found} == {(False, 8)})


def picture_from_openjpeg(data: bytes, metadata: dict[str, Any], name: str) -> Picture:
    """A JPEG 2000 decoded by OpenJPEG: signed samples kept as they are (int8, int16, int32),
    unsigned ones scaled to the full range of the type that holds them, as a 12-bit
    JPEG's are (`_full_range`); a JP2's ICC profile kept with the samples as they are
    stored (`_with_profile`). Components of different depths, signs or (but for a Y, Cb,
    Cr image's chroma) sizes are refused, before anything is decoded."""
    import imagecodecs

    found = components(data) or []
    steps = tuple(c.step for c in found)
    if set(steps) != {(1, 1)} and steps not in _CHROMA_STEPS:
        raise ImageReadError(f"{name}: unsupported by the decoders imgconv uses: {subsampled(data)}")
    kinds = sorted({f"{c.bits}-bit {'signed' if c.signed else 'unsigned'}" for c in found})
    if len(kinds) > 1:
        raise ImageReadError(f"{name}: a JPEG 2000 of {' and '.join(kinds)} components: imgconv reads "
                             "components of one depth and sign")
    space = _colour_space(data)
    if space is not None and space not in (_SRGB, _GREY, _SYCC, _CMYK):
        raise ImageReadError(f"{name}: a JP2 of enumerated colour space {space}, which imgconv does not convert "
                             "(it reads sRGB, grey, sYCC and CMYK)")
    data, metadata = _with_profile(data, metadata, name)
    samples = imagecodecs.jpeg2k_decode(data)  # which checks the JP2 header's size against the code stream's
    channels = 1 if samples.ndim == 2 else samples.shape[2]
    if channels != len(found) and samples.dtype != np.uint8:  # a palette (pclr) of unknown depth
        raise ImageReadError(f"{name}: a JP2 palette of {samples.dtype} entries: imgconv reads 8-bit palettes")
    if channels == len(found) and not found[0].signed:
        samples = _full_range(samples, found[0].bits)
    if space == _CMYK and channels == 4 and samples.dtype in (np.uint8, np.uint16):
        return Picture([samples], "CMYK" + (";16" if samples.dtype == np.uint16 else ""), "JPEG2000", metadata, {})
    mode = formats.mode_of(samples.dtype, channels) or (formats.MULTICHANNEL if channels > 4 else None)
    if mode is None:
        raise ImageReadError(f"{name}: a JPEG 2000 of {channels} components of {samples.dtype}: not an image "
                             "imgconv reads")
    return Picture([samples], mode, "JPEG2000", metadata, {})


def _with_profile(data: bytes, metadata: dict[str, Any], name: str) -> tuple[bytes, dict[str, Any]]:
    """What OpenJPEG is to decode of a JP2, and its metadata: a JP2 whose colour box holds
    an ICC profile gives its code stream alone, so that the samples come as stored, and the
    profile goes into the metadata, kept or refused by the output as any file's profile
    is. imagecodecs' decoder would convert them to sRGB by LittleCMS, at the intent the
    profile's header names, clipping colours beyond sRGB, and before imgconv could check
    the profile (`icc.hazard`): a profile of 1,000 float elements took it 2.3 s for 32 x
    32 pixels. A palette or channel definitions need the JP2 header: such a file is
    decoded whole once its profile is checked, its colours converted."""
    profile = _icc_profile(data)
    if profile is None:
        return data, metadata
    if why := icc.hazard(profile):
        raise ImageReadError(f"{name}: its ICC profile {why}")
    header = _box(data, b"jp2h", 0, len(data))
    stream = _box(data, b"jp2c", 0, len(data))
    if header is None or stream is None or any(_box(data, kind, *header) for kind in (b"pclr", b"cmap", b"cdef")):
        return data, metadata
    return data[stream[0]:stream[1]], {**metadata, "icc_profile": profile}


def _icc_profile(data: bytes) -> bytes | None:
    """The ICC profile of a JP2's first colour box (methods 2 and 3), or None."""
    if not data.startswith(JP2_SIGNATURE):
        return None
    header = _box(data, b"jp2h", 0, len(data))
    colour = header and _box(data, b"colr", *header)
    if not colour or colour[1] - colour[0] < 4 or data[colour[0]] not in (2, 3):
        return None
    return data[colour[0] + 3:colour[1]]


def _full_range(samples: np.ndarray, bits: int) -> np.ndarray:
    """Unsigned samples of ``bits`` scaled to the full range of their type (8, 16 or 32
    bits): ``round(v * top / (2**bits - 1))``, halves up, as imgconv reads TIFF samples
    of 1 to 7 bits and 12-bit JPEGs, so that each keeps its brightness and ``round(w *
    (2**bits - 1) / top)`` gives it back."""
    top = np.iinfo(samples.dtype).max
    most = (1 << bits) - 1
    if most == top:
        return samples
    wide = samples.astype(np.uint64)
    return ((wide * 2 * top + most) // (2 * most)).astype(samples.dtype)


def _colour_space(data: bytes) -> int | None:
    """The enumerated colour space of a JP2's first colour box (in its header box), or
    None: a bare code stream, a colour box of an ICC profile, or none found."""
    if not data.startswith(JP2_SIGNATURE):
        return None
    header = _box(data, b"jp2h", 0, len(data))
    colour = header and _box(data, b"colr", *header)
    if not colour or colour[1] - colour[0] < 7 or data[colour[0]] != 1:  # METH 1: enumerated
        return None
    return int.from_bytes(data[colour[0] + 3:colour[0] + 7], "big")


def _box(data: bytes, kind: bytes, start: int, end: int) -> tuple[int, int] | None:
    """Where the contents of the first box of ``kind`` between ``start`` and ``end``
    begin and end, or None."""
    while start + 8 <= end:
        length, found = int.from_bytes(data[start:start + 4], "big"), data[start + 4:start + 8]
        header = 8
        if length == 1 and start + 16 <= end:  # a 64-bit length follows
            length, header = int.from_bytes(data[start + 8:start + 16], "big"), 16
        elif length == 0:  # to the end
            length = end - start
        if length < header:
            return None
        if found == kind:
            return start + header, min(end, start + length)
        start += length
    return None

