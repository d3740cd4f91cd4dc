"""A JP2's ICC profile kept with its samples as stored, as any file's profile is, and
checked before LittleCMS reads it: imagecodecs' decoder would otherwise convert the
samples to sRGB by the profile, unchecked. The JP2 files are made here: imagecodecs'
lossless encoder, the colour box then given the profile."""

import io
import struct

import imagecodecs
import numpy as np
import pytest
import tifffile
from helpers import assert_one_line_error, run
from PIL import Image, ImageCms
from test_attack_icc import _table, _with_tags
from test_read_jpeg2000 import decoding  # noqa: F401 (a fixture)
from test_srgb import ADOBE, rgb_profile

import imgconv


def _boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    found, start = [], 0
    while start < len(data):
        length, kind = struct.unpack_from(">I4s", data, start)
        length = length or len(data) - start
        found.append((kind, data[start + 8:start + length]))
        start += length
    return found


def jp2_with_profile(samples: np.ndarray, profile: bytes) -> bytes:
    """A lossless JP2 of ``samples`` whose colour box holds ``profile`` (method 2)."""
    plain = imagecodecs.jpeg2k_encode(samples, codecformat="JP2", reversible=True, level=0, mct=False)

    def box(kind: bytes, content: bytes) -> bytes:
        return struct.pack(">I4s", 8 + len(content), kind) + content

    header = b"".join(box(kind, b"\x02\x00\x00" + profile if kind == b"colr" else content)
                      for kind, content in _boxes(dict(_boxes(plain))[b"jp2h"]))
    return b"".join(box(kind, header if kind == b"jp2h" else content) for kind, content in _boxes(plain))


@pytest.fixture
def colours(rng) -> np.ndarray:
    return rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)


def test_the_samples_are_read_as_stored_and_the_profile_kept(tmp_path, colours):
    profile = rgb_profile(ADOBE, gamma=2.2)
    (tmp_path / "in.jp2").write_bytes(jp2_with_profile(colours, profile))
    picture = imgconv.read_image(tmp_path / "in.jp2")
    assert np.array_equal(picture.frames[0], colours) and picture.metadata["icc_profile"] == profile
    assert run("identity", tmp_path / "in.jp2", tmp_path / "out.tif").exit_code == 0
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert np.array_equal(tif.asarray(), colours)
        assert tif.pages[0].tags["InterColorProfile"].value == profile


def test_a_profile_other_than_srgb_is_refused_where_no_profile_goes_and_converted_by_srgb(tmp_path, colours):
    profile = rgb_profile(ADOBE, gamma=2.2)
    (tmp_path / "in.jp2").write_bytes(jp2_with_profile(colours, profile))
    assert_one_line_error(run("identity", tmp_path / "in.jp2", tmp_path / "out.gif"), 1, "out.gif",
                          "ICC profile")
    assert run("identity", "--srgb", tmp_path / "in.jp2", tmp_path / "out.png").exit_code == 0
    littlecms = ImageCms.profileToProfile(
        Image.fromarray(colours), ImageCms.ImageCmsProfile(io.BytesIO(profile)), ImageCms.createProfile("sRGB"),
        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC, flags=ImageCms.Flags.BLACKPOINTCOMPENSATION)
    with Image.open(tmp_path / "out.png") as out:
        assert np.array_equal(np.asarray(out), np.asarray(littlecms))


def test_a_hostile_profile_is_refused_before_decoding(tmp_path, colours, decoding):  # noqa: F811
    """1,000 float elements sharing one table: imagecodecs' conversion took 2.3 s for
    these 12 x 16 pixels; 10,000 curve sets, over 10 minutes."""
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    table = _table(3, 3)
    head = 16 + 8 * 1000
    mpet = b"mpet" + b"\0" * 4 + struct.pack(">HHI", 3, 3, 1000) + struct.pack(">II", head, len(table)) * 1000 + table
    profile = _with_tags(srgb, [(b"D2B0", mpet), (b"D2B1", 0), (b"D2B2", 0)])
    (tmp_path / "in.jp2").write_bytes(jp2_with_profile(colours, profile))
    assert_one_line_error(run("identity", tmp_path / "in.jp2", tmp_path / "out.tif"), 1, "in.jp2",
                          "ICC profile lists 1,000 processing elements, over the 64")
    assert "imagecodecs" not in decoding and not (tmp_path / "out.tif").exists()
