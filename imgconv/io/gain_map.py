"""JPEG photos that carry an HDR gain map: a second, smaller JPEG after the photo,
listed in the photo's MPF index (CIPA DC-007) and described by XMP, Adobe's and
Google's (Ultra HDR) ``hdrgm`` namespace or Apple's ``HDRGainMap`` one, in the
photo's XMP or the second image's. A viewer without HDR shows the photo alone; the
gain map is read as a second frame, a page of its own size, and named in words where
an output cannot hold it beside the photo."""

import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

from .picture import Picture

if TYPE_CHECKING:
    from PIL import ImageFile, JpegImagePlugin

# The key of `Picture.encoding` that says the second frame is the photo's gain map.
GAIN_MAP = "gain_map"

_XMP = b"http://ns.adobe.com/xap/1.0/\x00"  # an APP1 segment's header, before the XMP packet
_NAMESPACES = (b"http://ns.adobe.com/hdr-gain-map/1.0/", b"http://ns.apple.com/HDRGainMap/1.0/")


def adopt(image: "ImageFile.ImageFile", data: bytes) -> bool:
    """Whether ``image`` (opened by Pillow from ``data``) is a JPEG photo with an HDR
    gain map; if so, it is made Pillow's MPO, whose second frame is the gain map. Pillow
    opens an MPO whose photo names ``hdrgm`` as a plain JPEG, its gain map unread."""
    if image.format not in ("JPEG", "MPO") or "mp" not in image.info:
        return False
    try:
        header = cast("JpegImagePlugin.JpegImageFile", image)._getmp()  # the MP index Pillow found
    except (SyntaxError, TypeError, IndexError, ValueError, KeyError, struct.error):
        return False  # one Pillow cannot parse: the photo alone, as Pillow reads it
    entries = (header or {}).get(0xB002) or []
    base = _mp_base(data)
    if header is None or not header.get(0xB001) == len(entries) >= 2 or base is None:
        return False
    second = base + entries[1]["DataOffset"]
    if not any(space in xmp for xmp in (*_xmp(data, 0), *_xmp(data, second)) for space in _NAMESPACES):
        return False
    if image.format == "JPEG":
        from PIL import MpoImagePlugin

        MpoImagePlugin.MpoImageFile.adopt(cast("JpegImagePlugin.JpegImageFile", image), header)
    return True


def described(picture: Picture) -> str:
    """``a JPEG photo with an HDR gain map (a 192x256 second image)``, for a message."""
    height, width = picture.frames[1].shape[:2]
    return f"a JPEG photo with an HDR gain map (a {width}x{height} second image)"


def is_photo_with_gain_map(picture: Picture) -> bool:
    """Whether ``picture`` holds a photo and its gain map, as two frames."""
    return bool(picture.encoding.get(GAIN_MAP)) and len(picture.frames) == 2


def _segments(data: bytes, start: int) -> Iterator[tuple[int, int, int]]:
    """``(marker, payload start, payload end)`` of each segment of the JPEG at ``start``
    up to its scan (or its data's end, or anything that is not a segment)."""
    position = start + 2  # after SOI
    while position + 4 <= len(data) and data[position] == 0xFF and data[position + 1] not in (0xD9, 0xDA):
        length = int.from_bytes(data[position + 2:position + 4], "big")
        yield data[position + 1], position + 4, min(position + 2 + length, len(data))
        position += 2 + length


def _xmp(data: bytes, start: int) -> Iterator[bytes]:
    """The XMP packets of the JPEG at ``start`` (none where no JPEG starts there)."""
    if data[start:start + 2] != b"\xff\xd8":
        return
    for marker, begin, end in _segments(data, start):
        if marker == 0xE1 and data.startswith(_XMP, begin):
            yield data[begin + len(_XMP):end]


def _mp_base(data: bytes) -> int | None:
    """Where the photo's MP index (the TIFF header after ``MPF\\0`` in APP2) starts: the
    MPF's offsets of the other images count from it; None where it is not among the
    photo's segments as they are walked here."""
    return next((begin + 4 for marker, begin, _ in _segments(data, 0)
                 if marker == 0xE2 and data.startswith(b"MPF\x00", begin)), None)
