"""The transfer curve of an ICC profile's matrix/TRC model: the tone reproduction curves
(rTRC, gTRC, bTRC; grey's kTRC) that map a device's samples to linear light, read from
the profile's tag table (ICC.1:2010, 7.3 and 10.5, 10.18).

Only what `tone_curve` needs is read, defensively: the header's size must fit the bytes
given, the tag count is capped, and every tag must lie inside the profile; nothing is
allocated beyond the profile's own size. A profile that carries lookup tables (AToB0 and
kin) is refused: colour-managed viewers decode through them when present (`LUT_TAGS`),
and their curves are not the TRCs'.
"""

import functools
import struct
from dataclasses import dataclass

import numpy as np

# LittleCMS reads at most 100 tags (MAX_TABLE_TAG); a real profile holds a dozen or two.
MAX_TAGS = 100

# Tags that make a profile's samples decode through lookup tables rather than its TRCs:
# LittleCMS reads DToB (float) of the intent, then AToB of the intent or AToB0, and
# only without them the matrix/TRC (_cmsReadInputLUT). BToA tags, for converting into
# the profile's colours, do not change how its samples show.
LUT_TAGS = frozenset(b"A2B0 A2B1 A2B2 D2B0 D2B1 D2B2 D2B3".split())

# Parameters each parametric curve function type (0 to 4) holds (ICC.1:2010 table 65).
PARA_COUNTS = (1, 3, 4, 5, 7)

# sRGB's curve as parametric function type 3: g, a, b, c, d (IEC 61966-2-1).
SRGB_PARAMETERS = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)

# How far from sRGB's curve a profile's curve may lie and be taken for it: one 16-bit
# level (of linear light) at any 16-bit level. The sRGB profiles measured lie within
# 0.52 of a level (LittleCMS's and Pillow's parametric curve, 0.27; libvips's v4
# profile's, whose power is 2.40004, 0.20; the 1024-entry tables of Ghostscript's and
# libvips's v2 profiles, 0.51); the nearest other curve, Adobe RGB's power of 2.2, 567.
SRGB_SLACK = 1 / 65535

# How far a parametric curve's lower piece may end above where its upper piece starts,
# taken for a join (the upper piece held at that level just past it): Rec. 709's own
# rounded constants make its pieces miss by 5.4e-5 of white, and the s15.16 rounding of
# ProPhoto's by 1e-8. 2**-12 of white is a sixteenth of the light between two 8-bit
# levels where a lower piece of slope 1 (Rec. 709's is 1/4.5) joins.
JOIN_SLACK = 2.0**-12


class ProfileError(ValueError):
    """A profile whose curves cannot be read or used; the message says why, in words
    that follow "the image's ICC profile"."""


@dataclass(frozen=True)
class ToneCurve:
    """One transfer curve, encoded values in [0, 1] to linear light in [0, 1].

    ``parameters`` holds ICC's type 4 function's g, a, b, c, d, e, f (types 0 to 3
    rewritten as type 4): light = (a x + b) ** g + e for x >= d, c x + f below;
    ``table`` (a ``curv`` tag's big-endian 16-bit entries, as the profile holds them),
    where set, replaces them: light interpolated linearly between entries spread
    evenly over [0, 1], as LittleCMS evaluates a table."""

    parameters: tuple[float, ...] = (1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    table: bytes | None = None

    @property
    def entries(self) -> np.ndarray:
        """The table's entries as light in [0, 1], in float64."""
        return np.frombuffer(self.table or b"", ">u2") / 65535

    @property
    def gamma(self) -> float | None:
        """The power of a curve that is a pure power (light = x ** gamma); else None."""
        g, a, b, _, d, e, _ = self.parameters
        return g if self.table is None and (a, b, d, e) == (1.0, 0.0, 0.0, 0.0) else None

    @functools.cached_property
    def is_srgb(self) -> bool:
        """Whether the curve is sRGB's: within `SRGB_SLACK` of it at each of the 65536
        16-bit levels."""
        levels = np.linspace(0, 1, 65536)
        return bool(np.abs(self.light(levels) - SRGB_CURVE.light(levels)).max() <= SRGB_SLACK)

    def light(self, encoded: np.ndarray) -> np.ndarray:
        """Encoded values in [0, 1] as linear light, in float64, held to [0, 1] as
        LittleCMS holds a curve's 16-bit results."""
        x = np.asarray(encoded, np.float64)
        if self.table is not None:
            entries = self.entries
            return np.interp(x, np.linspace(0, 1, len(entries)), entries)
        g, a, b, c, d, e, f = self.parameters
        with np.errstate(over="ignore"):  # a power beyond float64's range is white, held
            upper = np.maximum(a * x + b, 0.0) ** g + e
        # The upper piece held at or above where the lower one ends: `checked` takes
        # a fall there of up to `JOIN_SLACK` for a join.
        return np.clip(np.where(x >= d, np.maximum(upper, c * d + f), c * x + f), 0.0, 1.0)

    def encoded(self, light: np.ndarray) -> np.ndarray:
        """The inverse of `light`: linear light in [0, 1] (held there) as encoded
        values in [0, 1], in float64; where the curve is flat, its first point."""
        y = np.clip(np.asarray(light, np.float64), 0.0, 1.0)
        if self.table is not None:
            entries = self.entries
            return np.interp(y, entries, np.linspace(0, 1, len(entries)))
        g, a, b, c, d, e, f = self.parameters
        with np.errstate(over="ignore", divide="ignore"):
            upper = (np.maximum(y - e, 0.0) ** (1 / g) - b) / a
            lower = (y - f) / c if c > 0 else np.where(y > f, d, 0.0)
        start = self.light(np.float64(d))  # where the upper piece begins
        return np.clip(np.where(y >= start, np.maximum(upper, d), np.minimum(lower, d)), 0.0, 1.0)


SRGB_CURVE = ToneCurve((*SRGB_PARAMETERS, 0.0, 0.0))
"""sRGB's own curve (IEC 61966-2-1)."""


def tone_curve(profile: bytes, grey: bool) -> ToneCurve:
    """The transfer curve that a matrix/TRC ``profile`` gives every channel of an RGB
    picture (``grey`` False) or a grey one. `ProfileError` for a damaged profile, one
    of another colour space, one with lookup tables (`LUT_TAGS`), channels with
    different curves, or a curve that does not rise."""
    tags = tag_table(profile)
    space = profile[16:20]
    if space != (b"GRAY" if grey else b"RGB "):
        raise ProfileError(f"describes {printable(space)} colours, "
                           f"not {'grey' if grey else 'RGB'}")
    luts = sorted(LUT_TAGS & set(tags))
    if luts:
        raise ProfileError(f"converts through lookup tables ({luts[0].decode()}), not through curves alone")
    names = (b"kTRC",) if grey else (b"rTRC", b"gTRC", b"bTRC")
    missing = [name.decode() for name in names if name not in tags]
    if missing:
        raise ProfileError(f"has no {missing[0]} curve")
    curves = {read_curve(profile, *tags[name], name.decode()) for name in names}
    if len(curves) > 1:
        raise ProfileError("gives red, green and blue different curves")
    return curves.pop()


def tag_table(profile: bytes) -> dict[bytes, tuple[int, int]]:
    """The profile's tags, ``{signature: (offset, size)}``, each checked to lie inside
    the size its header declares (which must fit the bytes given)."""
    if len(profile) < 132 or profile[36:40] != b"acsp":
        raise ProfileError("is damaged: no ICC header")
    size, count = struct.unpack_from(">I", profile, 0)[0], struct.unpack_from(">I", profile, 128)[0]
    if size > len(profile) or count > MAX_TAGS or 132 + 12 * count > size:
        raise ProfileError(f"is damaged: its header declares {size} bytes and {count} tags, in {len(profile)} bytes")
    tags = {}
    for index in range(count):
        signature, offset, length = struct.unpack_from(">4sII", profile, 132 + 12 * index)
        if offset + length > size or length < 8:
            raise ProfileError(f"is damaged: its {printable(signature)} tag lies outside it")
        tags[signature] = (offset, length)
    return tags


def read_curve(profile: bytes, offset: int, size: int, name: str) -> ToneCurve:
    """The curve a ``curv`` or ``para`` tag at ``offset`` holds (ICC.1:2010 10.5, 10.18)."""
    kind = profile[offset : offset + 4]
    if size < 12:
        raise ProfileError(f"is damaged: its {name} tag is cut short")
    if kind == b"curv":
        count = struct.unpack_from(">I", profile, offset + 8)[0]
        if 12 + 2 * count > size:
            raise ProfileError(f"is damaged: its {name} tag holds fewer than its {count} entries")
        if count == 0:
            return ToneCurve()
        if count == 1:
            gamma = struct.unpack_from(">H", profile, offset + 12)[0] / 256  # u8.8
            return checked(ToneCurve((gamma, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0)), name)
        return checked(ToneCurve(table=profile[offset + 12 : offset + 12 + 2 * count]), name)
    if kind == b"para":
        function = struct.unpack_from(">H", profile, offset + 8)[0]
        if function >= len(PARA_COUNTS) or 12 + 4 * PARA_COUNTS[function] > size:
            raise ProfileError(f"is damaged: its {name} tag is a parametric curve of unknown type {function} "
                               f"or cut short")
        values = [v / 65536 for v in struct.unpack_from(f">{PARA_COUNTS[function]}i", profile, offset + 12)]
        return checked(ToneCurve(type4(function, values)), name)
    raise ProfileError(f"is damaged: its {name} tag is of type {printable(kind)}, not a curve")


def type4(function: int, values: list[float]) -> tuple[float, ...]:
    """Parametric function ``function``'s ``values`` as type 4's g, a, b, c, d, e, f."""
    g, a, b, c, d, e, f = [*values, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0][:7]
    if function == 0:
        return (g, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    start = -b / a if a else 0.0  # types 1 and 2 switch where a x + b is 0
    if function == 1:
        return (g, a, b, 0.0, start, 0.0, 0.0)
    if function == 2:
        return (g, a, b, 0.0, start, c, c)
    return (g, a, b, c, d, e, f)


def checked(curve: ToneCurve, name: str) -> ToneCurve:
    """``curve``, if it rises from black to white and never falls: a table whose
    entries never fall, or a function whose power and slopes are not below 0 and whose
    lower piece ends at or below where its upper piece starts (`JOIN_SLACK`)."""
    if curve.table is not None:
        falls = bool(np.any(np.diff(curve.entries) < 0))
    else:
        g, a, b, c, d, e, f = curve.parameters
        with np.errstate(over="ignore"):
            upper_start = np.float64(max(a * d + b, 0.0)) ** g + e
        falls = g <= 0 or a <= 0 or (0 < d <= 1 and (c < 0 or c * d + f > upper_start + JOIN_SLACK))
    if falls or not curve.light(np.float64(1)) > curve.light(np.float64(0)):
        raise ProfileError(f"has a {name} curve that does not rise from black to white")
    return curve


def printable(signature: bytes) -> str:
    """A four-byte signature for a one-line message: its letters, or its bytes
    escaped where they are not printable ASCII."""
    text = signature.decode("latin-1").strip()
    return text if text.isascii() and text.isprintable() and text else repr(signature)
