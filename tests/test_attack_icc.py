"""Hostile ICC profiles in CMYK files refused before LittleCMS reads them
(`imgconv.io.icc`): float (``mpet``) tags whose entries share one element's bytes, curve
sets whose entries share one curve, profiles longer than a JPEG can carry; and float
profiles of a few elements still converted, as LittleCMS converts them.

The profiles are built here: the CMYK test profile of `test_cmyk` with a float ``D2B0``
tag (which LittleCMS prefers to ``A2B0``) and ``D2B1`` (the relative colorimetric
intent's) sharing its bytes."""

import io
import struct

import numpy as np
import pytest
import tifffile
from helpers import assert_one_line_error, run
from PIL import Image, ImageCms
from test_cmyk import cmyk_profile

from imgconv.io import icc


def _element(kind: bytes, inputs: int, outputs: int, body: bytes) -> bytes:
    return kind + b"\0" * 4 + struct.pack(">HH", inputs, outputs) + body


def _table(inputs: int, outputs: int) -> bytes:
    """A float lookup table (``clut``) of 2 points an input, each output the mean of
    the inputs (L* and a*, b* from 0 to 1: near black): the element whose evaluation
    is dearest to LittleCMS."""
    corners = np.stack(np.meshgrid(*[[0.0, 1.0]] * inputs, indexing="ij"), -1).reshape(-1, inputs)
    values = np.repeat(corners.mean(1, keepdims=True), outputs, 1).astype(">f4")
    return _element(b"clut", inputs, outputs, bytes([2] * inputs + [0] * (16 - inputs)) + values.tobytes())


def _curve_set(channels: int, segments: int) -> bytes:
    """A curve set (``cvst``) whose entries share one segmented curve of ``segments``
    identity segments."""
    breaks = np.linspace(-1, 1, segments + 1)[1:-1].astype(">f4").tobytes()
    identity = b"parf" + b"\0" * 4 + struct.pack(">HH4f", 0, 0, 1.0, 1.0, 0.0, 0.0)
    curve = b"curf" + b"\0" * 4 + struct.pack(">HH", segments, 0) + breaks + identity * segments
    return _element(b"cvst", channels, channels, struct.pack(">II", 12 + 8 * channels, len(curve)) * channels + curve)


def _mpet(elements: list[bytes]) -> bytes:
    """A ``mpet`` tag of 4 inputs and 3 outputs whose equal elements share their bytes."""
    head, body, places = 16 + 8 * len(elements), b"", {}
    for element in elements:
        if element not in places:
            places[element] = struct.pack(">II", head + len(body), len(element))
            body += element
    return b"mpet" + b"\0" * 4 + struct.pack(">HHI", 4, 3, len(elements)) + b"".join(map(places.get, elements)) + body


def _with_tags(profile: bytes, tags: list[tuple[bytes, bytes | int]]) -> bytes:
    """``profile`` with ``tags`` added ((signature, data) or (signature, index of an
    added tag whose bytes it shares)), as ICC v4."""
    (count,) = struct.unpack_from(">I", profile, 128)
    old = [struct.unpack_from(">4sII", profile, 132 + 12 * i) for i in range(count)]
    shift = 12 * len(tags)
    entries = [(sig, offset + shift, size) for sig, offset, size in old]
    data, added = profile[132 + 12 * count:], []
    for sig, value in tags:
        if isinstance(value, int):
            entries.append((sig, *added[value]))
            continue
        data += b"\0" * (-len(data) % 4)
        added.append((132 + 12 * len(old) + shift + len(data), len(value)))
        entries.append((sig, *added[-1]))
        data += value
    table = struct.pack(">I", len(entries)) + b"".join(struct.pack(">4sII", *entry) for entry in entries)
    size = 132 + len(table) - 4 + len(data)
    return struct.pack(">I", size) + profile[4:8] + b"\x04\x20\0\0" + profile[12:128] + table + data


def _float_profile(elements: list[bytes]) -> bytes:
    return _with_tags(cmyk_profile(), [(b"D2B0", _mpet(elements)), (b"D2B1", 0)])


def _inks() -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, (12, 16, 4), dtype=np.uint8)


def test_a_float_profile_of_a_few_elements_converts_as_littlecms_converts_it(tmp_path):
    profile = _float_profile([_table(4, 3), _curve_set(3, 2)])
    Image.fromarray(_inks(), "CMYK").save(tmp_path / "in.tif", icc_profile=profile)
    result = run("identity", tmp_path / "in.tif", tmp_path / "out.png")
    assert result.exit_code == 0, result.stderr
    transform = ImageCms.buildTransform(
        ImageCms.ImageCmsProfile(io.BytesIO(profile)), ImageCms.createProfile("sRGB"), "CMYK", "RGB",
        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC, flags=ImageCms.Flags.BLACKPOINTCOMPENSATION)
    expected = np.asarray(ImageCms.applyTransform(Image.fromarray(_inks(), "CMYK"), transform))
    with Image.open(tmp_path / "out.png") as out:
        assert np.array_equal(np.asarray(out), expected)
    # The float tag is what was used: its tables give L* of 1 at most (PCS floats are
    # L* from 0 to 100), near black, where the ink table gives colours.
    assert expected.max() < 16 and np.asarray(Image.fromarray(_inks(), "CMYK").convert("RGB")).max() > 200


@pytest.mark.parametrize("depth", [8, 16])
def test_a_float_profile_of_many_elements_sharing_one_is_refused_unread(tmp_path, depth):
    """1,000 entries sharing one table cost LittleCMS 2.7 s of building the transform, a
    profile of 8.7 KB; 10,000 sharing one curve set, over 10 minutes and 1 GiB."""
    profile = _float_profile([_table(4, 3)] + [_table(3, 3)] * 999)
    inks = _inks() if depth == 8 else _inks().astype(np.uint16) * np.uint16(257)
    tifffile.imwrite(tmp_path / "in.tif", inks, photometric="separated", iccprofile=profile)
    result = run("identity", tmp_path / "in.tif", tmp_path / "out.png")
    assert_one_line_error(result, 1, "in.tif", "ICC profile lists 1,000 processing elements, over the 64")
    assert not (tmp_path / "out.png").exists()


def test_curves_and_segments_of_curve_sets_count_at_each_reference(tmp_path):
    assert icc.hazard(_float_profile([_curve_set(4, 1)] * 63 + [_table(4, 3)])) is None  # 252 curves
    many = _float_profile([_curve_set(16, 1)] * 20 + [_table(4, 3)])
    assert icc.hazard(many) == "holds 320 curves in its curve sets, over the 256 imgconv takes"
    long = _float_profile([_curve_set(4, 1100), _table(4, 3)])
    assert icc.hazard(long) == "holds 4,400 curve segments, over the 4,096 imgconv takes"
    Image.fromarray(_inks(), "CMYK").save(tmp_path / "in.jpg", icc_profile=long)
    assert_one_line_error(run("identity", tmp_path / "in.jpg", tmp_path / "out.png"), 1, "in.jpg",
                          "4,400 curve segments")
    assert not (tmp_path / "out.png").exists()


def test_tags_count_once_when_linked_and_at_each_entry_otherwise():
    """LittleCMS reads once tags of one offset and size, and afresh each entry of one
    offset and another size."""
    mpet = _mpet([_table(4, 3)] + [_table(3, 3)] * 39)
    assert icc.hazard(_with_tags(cmyk_profile(), [(b"D2B0", mpet), (b"D2B1", 0), (b"D2B2", 0)])) is None
    twice = _with_tags(cmyk_profile(), [(b"D2B0", mpet + b"\0" * 4), (b"D2B1", 0)])
    (count,) = struct.unpack_from(">I", twice, 128)
    entry = 132 + 12 * (count - 1)
    twice = twice[:entry + 8] + struct.pack(">I", len(mpet)) + twice[entry + 12:]
    assert icc.hazard(twice) == "lists 80 processing elements, over the 64 imgconv takes"


def test_profiles_too_long_or_whose_tag_table_runs_past_their_end_are_refused():
    assert icc.hazard(cmyk_profile()) is None
    assert icc.hazard(bytes(icc.MAX_BYTES + 1)) == "is 16,777,217 bytes long, over the 16,777,216 imgconv takes"
    cut = cmyk_profile()[:128] + struct.pack(">I", 1000) + bytes(100)
    assert icc.hazard(cut) == "is damaged (its tag table of 1,000 tags runs past its 232 bytes)"
    assert icc.hazard(_float_profile([_table(4, 3)] * 65)[:-8]) == \
        "lists 65 processing elements, over the 64 imgconv takes"
