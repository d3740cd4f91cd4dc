"""ICC profiles from files checked before LittleCMS builds a transform from them.

LittleCMS checks that a profile's data is there before it allocates for it, so what a
profile costs grows with its bytes, except in one tag type: a ``multiProcessElementsType``
(``mpet``, the float ``D2Bx``/``B2Dx`` tags, which LittleCMS prefers to ``A2Bx``) lists
its elements by offset, and any number of entries may share one element's bytes; each
entry is read, and evaluated at every point of the grid the transform is sampled on
(17 points an ink for CMYK, by LittleCMS's default), as a stage of its own. So do the
curves of a curve-set element, whose entries may share one segmented curve's bytes,
evaluated segment by segment. An 80 KB profile of 10,000 entries sharing one curve-set
element had taken LittleCMS 109 s of CPU and 1 GiB, unfinished, when it was stopped;
10,000 sharing one 2-point table, 26 s.
"""

import struct

MAX_BYTES = 16_777_216
"""The longest profile taken: 16 MiB, a little more than the most a JPEG carries (255
APP2 segments of 65,519 bytes: 16,707,345). LittleCMS held 6 bytes for each byte of
a 24.6 MB profile of 16-bit tables read as a CMYK TIFF's (181 MB at its peak)."""

MAX_ELEMENTS = 64
"""The most processing elements a profile's ``mpet`` tags may list, all tags together.
Each costs up to 4.5 ms of building a CMYK transform (measured per 1,000 elements: 0.8 s
for 3x3 matrices, 2.5 s for 2-point tables, 3.4 s and 75 MB for curve sets of three
one-segment curves), so 64 cost 0.3 s at most; the float profiles met in practice list
fewer than 10."""

MAX_CURVES = 256
"""The most curves a profile's curve-set elements may hold, a curve counted at each
reference to it: LittleCMS tabulates each as it reads it, 1.1 ms and 25 KB (1,000
curve sets of three one-segment curves took 3.4 s and 75 MB), so 256 cost 0.3 s."""

MAX_SEGMENTS = 4096
"""The most segments those curves may hold, counted so too: each costs 24 us of building
a CMYK transform (31,000 took 0.75 s), so 4,096 cost 0.1 s; a segmented curve in
practice has 1 to 3."""

_CHANNELS = 16  # LittleCMS's most channels (cmsMAXCHANNELS): it refuses an element of more


def hazard(profile: bytes) -> str | None:
    """Why LittleCMS should not be given ``profile`` (in words that follow "its ICC
    profile"), or None: longer than `MAX_BYTES`, a header or tag table that does not
    fit in it, or ``mpet`` tags listing more than `MAX_ELEMENTS` elements,
    `MAX_CURVES` curves or `MAX_SEGMENTS` curve segments. Reads only the header, the tag table and the
    element and curve tables of ``mpet`` tags."""
    if len(profile) > MAX_BYTES:
        return f"is {len(profile):,} bytes long, over the {MAX_BYTES:,} imgconv takes"
    if len(profile) < 132:
        return f"is damaged ({len(profile)} bytes, shorter than its header and tag count)"
    (count,) = struct.unpack_from(">I", profile, 128)
    if 132 + 12 * count > len(profile):
        return f"is damaged (its tag table of {count:,} tags runs past its {len(profile):,} bytes)"
    # Tags of one offset and size are read once (LittleCMS links them); others each time.
    tags = [_elements(profile, start) for start, _ in sorted({_tag(profile, 132 + 12 * i) for i in range(count)})
            if profile[start:start + 4] == b"mpet"]
    elements, curves, segments = (sum(counts) for counts in zip(*tags, strict=True)) if tags else (0, 0, 0)
    if elements > MAX_ELEMENTS:
        return f"lists {elements:,} processing elements, over the {MAX_ELEMENTS} imgconv takes"
    if curves > MAX_CURVES:
        return f"holds {curves:,} curves in its curve sets, over the {MAX_CURVES} imgconv takes"
    if segments > MAX_SEGMENTS:
        return f"holds {segments:,} curve segments, over the {MAX_SEGMENTS:,} imgconv takes"
    return None


def _tag(profile: bytes, entry: int) -> tuple[int, int]:
    """A tag's (offset, size) from its entry of the tag table."""
    _, offset, size = struct.unpack_from(">4sII", profile, entry)
    return offset, size


def _positions(profile: bytes, start: int, count: int) -> list[int]:
    """The offsets in ``profile`` of the first ``count`` parts that the position table
    of the ``mpet`` tag or ``cvst`` element at ``start`` lists ((offset from ``start``,
    size) pairs) and that lie in the profile (LittleCMS refuses the rest)."""
    table = start + 16 if profile[start:start + 4] == b"mpet" else start + 12
    found = []
    for i in range(count):
        if table + 8 * i + 8 > len(profile):
            break
        offset, _ = struct.unpack_from(">II", profile, table + 8 * i)
        if start + offset + 12 <= len(profile):
            found.append(start + offset)
    return found


def _elements(profile: bytes, start: int) -> tuple[int, int, int]:
    """The elements an ``mpet`` tag at ``start`` lists, the curves of its curve sets and
    their segments (each curve counted at each reference to it)."""
    if start + 16 > len(profile):
        return 0, 0, 0
    (count,) = struct.unpack_from(">I", profile, start + 12)
    curves = segments = 0
    for element in _positions(profile, start, min(count, MAX_ELEMENTS + 1)):
        if profile[element:element + 4] == b"cvst":
            (channels,) = struct.unpack_from(">H", profile, element + 8)
            for curve in _positions(profile, element, min(channels, _CHANNELS)):
                if profile[curve:curve + 4] == b"curf":
                    curves += 1
                    segments += struct.unpack_from(">H", profile, curve + 8)[0]
    return count, curves, segments
