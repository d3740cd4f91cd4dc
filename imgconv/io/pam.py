"""Netpbm's PAM (``P7``) images, which Pillow does not read: a text header of WIDTH,
HEIGHT, DEPTH, MAXVAL and TUPLTYPE lines up to ENDHDR, then the samples, rows top
first, big-endian (two bytes a sample where MAXVAL passes 255)."""

import re

import numpy as np

from ..errors import ImageReadError
from .budget import PixelBudget
from .deep import deep_picture
from .picture import Picture

SIGNATURE = b"P7\n"
# The tuple types of netpbm's PAM specification imgconv reads, by DEPTH; an image
# without TUPLTYPE is read by its DEPTH alone.
_TUPLE_TYPES = {"GRAYSCALE": 1, "BLACKANDWHITE": 1, "GRAYSCALE_ALPHA": 2, "BLACKANDWHITE_ALPHA": 2, "RGB": 3,
                "RGB_ALPHA": 4}
_HEADER_END = re.compile(rb"(?:^|\n)ENDHDR\n")
_LONGEST_HEADER = 4096  # where ENDHDR is sought: a few short lines, and comments of up to some kilobytes


def picture_from_pam(data: bytes, name: str, budget: PixelBudget) -> Picture:
    """A PAM of grey, grey+alpha, RGB or RGBA samples, of MAXVAL 1 to 65535: 255 and
    65535 as they are, others scaled to the full range of 8 bits (MAXVAL up to 255) or
    16 (above), ``round(v * top / MAXVAL)``, as imgconv reads other depths; its size
    taken from ``budget`` before the samples are."""
    end = _HEADER_END.search(data, 0, _LONGEST_HEADER)
    if end is None:
        raise ImageReadError(f"{name}: a damaged PAM: no ENDHDR line ends its header")
    fields: dict[str, str] = {}
    for line in data[len(SIGNATURE):end.start()].decode("ascii", "replace").splitlines():
        key, _, value = line.split("#", 1)[0].strip().partition(" ")
        if key:
            fields[key] = value.strip()
    width, height, depth, most = (_number(fields, key, name) for key in ("WIDTH", "HEIGHT", "DEPTH", "MAXVAL"))
    kind = fields.get("TUPLTYPE")
    if not 1 <= most <= 65535 or not 1 <= depth <= 4 or (kind is not None and _TUPLE_TYPES.get(kind) != depth):
        raise ImageReadError(f"{name}: a PAM of tuple type {kind or 'not given'}, depth {depth} and maxval {most}: "
                             "imgconv reads grey, grey+alpha, RGB and RGBA of maxval 1 to 65535")
    budget.take(width, height)
    wide = most > 255
    count = width * height * depth
    start = end.end()
    if len(data) < start + count * (2 if wide else 1):
        raise ImageReadError(f"{name}: truncated: its header claims {width} x {height} x {depth} samples, more "
                             "than the file holds")
    samples = np.frombuffer(data, ">u2" if wide else np.uint8, count, start).reshape(height, width, depth)
    if samples.max(initial=0) > most:
        raise ImageReadError(f"{name}: a damaged PAM: a sample above its MAXVAL of {most}")
    if most not in (255, 65535):
        top = 65535 if wide else 255
        samples = ((samples.astype(np.uint64) * 2 * top + most) // (2 * most)).astype(np.uint16 if wide else np.uint8)
    return deep_picture([samples[..., 0] if depth == 1 else samples], "PAM", {}, name)


def _number(fields: dict[str, str], key: str, name: str) -> int:
    """A header field's whole number, which must be there."""
    value = fields.get(key, "")
    if not value.isdigit():
        raise ImageReadError(f"{name}: a damaged PAM: its header's {key} is {value or 'missing'!s}")
    return int(value)
