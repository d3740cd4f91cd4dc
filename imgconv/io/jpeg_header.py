"""JPEG headers holding what libjpeg passes over and Pillow's parser refuses, tidied."""

_SOS = 0xDA
_APP0 = 0xE0
_JFIF_LENGTH = 16  # a JFIF segment's length field: version, units, density, thumbnail size


def tidy(data: bytes) -> bytes:
    """``data``, a JPEG whose header (up to its first scan) holds bytes between segments,
    which libjpeg skips (warning that they are extraneous; browsers show the picture),
    or a JFIF segment too short for its fields, which libjpeg ignores, without them: the
    same picture, which Pillow's parser then opens. Any other file as it is."""
    if not data.startswith(b"\xff\xd8"):
        return data
    kept, position, changed = [(0, 2)], 2, False  # spans of data, copied only when something goes
    while position < len(data):
        marker_at = data.find(b"\xff", position)
        while 0 <= marker_at < len(data) - 1 and data[marker_at + 1] == 0xFF:  # fill bytes
            marker_at += 1
        if marker_at < 0 or marker_at + 1 >= len(data):
            return data  # cut short: the decoders say how
        marker = data[marker_at + 1]
        if marker == 0:  # 0xFF 0x00 outside a scan is more of what libjpeg skips
            changed, position = True, marker_at + 2
            continue
        changed = changed or marker_at != position
        if marker == _SOS or 0xD0 <= marker <= 0xD9:  # the scan (or a marker without a length) and the rest
            kept.append((marker_at, len(data)))
            break
        end = marker_at + 2 + int.from_bytes(data[marker_at + 2:marker_at + 4], "big")
        if marker == _APP0 and data[marker_at + 4:marker_at + 9] == b"JFIF\0" and end - marker_at - 2 < _JFIF_LENGTH:
            changed = True
        else:
            kept.append((marker_at, end))
        position = end
    return b"".join(data[start:end] for start, end in kept) if changed else data
