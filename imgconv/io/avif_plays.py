"""How many times an AVIF image sequence plays: read from its boxes (Pillow gives no loop
count for AVIF), and written into the boxes of one Pillow made (which loops for ever).

libavif's reader (and Chromium's, built on it) takes the repetitions from the track's
edit list, one segment of all the frames' durations: with the ``elst`` box's flag 1
("repeat") clear, none; set, the track's ``tkhd`` duration over the segment's, rounded
up, less one, or for ever where that duration is all ones (undefined)."""

import struct
from collections.abc import Iterator

# The boxes of an AVIF image sequence that hold the boxes read and changed here.
_CONTAINERS = frozenset([b"moov", b"trak", b"edts"])
# Where a duration lies in the content of ``mvhd`` and ``tkhd`` boxes of version 1 (64
# bits) and 0 (32 bits): after the version and flags, two times, and the timescale
# (``mvhd``) or the track's ID and 4 reserved bytes (``tkhd``).
_DURATION_AT = {(b"mvhd", 1): 24, (b"tkhd", 1): 28, (b"mvhd", 0): 16, (b"tkhd", 0): 20}


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, start of its content, end) of each ISO BMFF box in ``data[start:end]``,
    and of the boxes in those of `_CONTAINERS`, in file order; a box whose size is
    shorter than its header or runs past ``end`` ends the walk (a damaged file)."""
    while start + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, start)
        header = 8
        if size == 1 and start + 16 <= end:
            size, header = struct.unpack_from(">Q", data, start + 8)[0], 16
        elif size == 0:  # the last box, to the end
            size = end - start
        if size < header or start + size > end:
            return
        yield kind, start + header, start + size
        if kind in _CONTAINERS:
            yield from _boxes(data, start + header, start + size)
        start += size


def plays(data: bytes) -> int | None:
    """How many times the AVIF image sequence ``data`` plays (0: for ever), as libavif
    reads it from its first track; None where it has no edit list to say so."""
    found = {kind: (start, end) for kind, start, end in reversed(list(_boxes(data, 0, len(data))))
             if kind in (b"elst", b"tkhd")}
    if len(found) < 2:
        return None
    (elst, elst_end), (tkhd, tkhd_end) = found[b"elst"], found[b"tkhd"]
    wide, track_wide = data[elst] == 1, data[tkhd] == 1
    segment_at, duration_at = elst + 8, tkhd + _DURATION_AT[b"tkhd", int(track_wide)]
    if segment_at + (8 if wide else 4) > elst_end or duration_at + (8 if track_wide else 4) > tkhd_end:
        return None
    if not data[elst + 3] & 1:  # no repeat
        return 1
    segment = struct.unpack_from(">Q" if wide else ">I", data, segment_at)[0]
    duration = struct.unpack_from(">Q" if track_wide else ">I", data, duration_at)[0]
    if segment == 0 or duration == (1 << (64 if track_wide else 32)) - 1:
        return 0
    return -(-duration // segment)


def played(data: bytes, count: int) -> bytes:
    """``data``, an AVIF image sequence as libavif writes it through Pillow (looping for
    ever: Pillow sets no repetition count), made to play ``count`` times (0: for ever):
    the movie's (``mvhd``) and track's durations become ``count`` segments, as libavif
    writes them for a repetition count of ``count - 1``. libavif writes these boxes in
    version 1, their durations 64 bits."""
    if count == 0:
        return data
    patched = bytearray(data)
    boxes = list(_boxes(data, 0, len(data)))
    segment = next(struct.unpack_from(">Q", data, start + 8)[0] for kind, start, _ in boxes if kind == b"elst")
    for kind, start, _ in boxes:
        if kind in (b"mvhd", b"tkhd"):
            struct.pack_into(">Q", patched, start + _DURATION_AT[kind, 1], segment * count)
        elif kind == b"elst":
            patched[start + 3] = patched[start + 3] & ~1 | (count > 1)
    return bytes(patched)
