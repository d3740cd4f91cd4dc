"""A PNG's colour chunks (gAMA, cHRM, sRGB) go to PNG outputs, read back by Pillow and by
a chunk walk; an output of a format that carries neither them nor an ICC profile made
of them (tests/test_png_colour_profile.py) is refused unless --strip; --linear takes a
cHRM other than sRGB's and keeps it; and a refusal for frames names only the formats that
hold them."""

import io
import struct
import zlib

import numpy as np
import pytest
import tifffile
from helpers import assert_one_line_error, run
from PIL import Image, ImageCms, PngImagePlugin

from imgconv.io.png import encode_png

LINEAR = struct.pack(">I", 100000)  # gamma 1.0: the samples are linear light
SRGB_GAMMA = struct.pack(">I", 45455)
SRGB_POINTS = (31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000)
WIDE_POINTS = (34570, 35850, 73470, 26530, 15960, 84040, 3660, 100)  # D50, wide-gamut primaries


def chunks_of(data):
    """(type, data) of each chunk of PNG bytes, walked by hand."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    found, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + length]
        assert struct.unpack(">I", data[at + 8 + length:at + 12 + length])[0] == zlib.crc32(kind + body)
        found.append((kind, body))
        at += 12 + length
    return found


def png_with(path, array, chunks, frames=1, **options):
    """A PNG (an APNG of ``frames``) of ``array`` with the chunks ``{type: data}``,
    written by Pillow."""
    info = PngImagePlugin.PngInfo()
    for kind, data in chunks.items():
        info.add(kind, data)
    images = [Image.fromarray(np.roll(array, i, 1)) for i in range(frames)]
    images[0].save(path, pnginfo=info, save_all=frames > 1, append_images=images[1:], **options)
    return path


@pytest.fixture
def rgb():
    y, x = np.mgrid[0:12, 0:16]
    return np.dstack([x * 16, y * 20, x + y]).astype(np.uint8)


@pytest.mark.parametrize("chunks", [
    {b"gAMA": LINEAR},
    {b"gAMA": struct.pack(">I", 55555), b"cHRM": struct.pack(">8I", *WIDE_POINTS)},
    {b"gAMA": SRGB_GAMMA, b"cHRM": struct.pack(">8I", *SRGB_POINTS), b"sRGB": b"\x01"},
])
@pytest.mark.parametrize("frames", [1, 2])
def test_colour_chunks_go_to_png_outputs_as_the_input_had_them(tmp_path, rgb, chunks, frames):
    png_with(tmp_path / "in.png", rgb, chunks, frames)
    for strip in ([], ["--strip"]):  # the colours' description, kept as the ICC profile is
        assert run("blur", "-s", 1, *strip, tmp_path / "in.png", tmp_path / "out.png").exit_code == 0
        written = chunks_of((tmp_path / "out.png").read_bytes())
        kinds = [kind for kind, _ in written]
        assert {kind: body for kind, body in written if kind in chunks} == chunks
        assert all(kinds.index(kind) < kinds.index(b"IDAT") for kind in chunks)
        with Image.open(tmp_path / "out.png") as image:
            assert getattr(image, "n_frames", 1) == frames
            assert image.info.get("gamma") == struct.unpack(">I", chunks[b"gAMA"])[0] / 100000


def test_sixteen_bit_outputs_keep_them_too(tmp_path, rgb):
    tifffile.imwrite(tmp_path / "deep.tif", rgb.astype(np.uint16) * 257)
    deep = tmp_path / "deep.png"
    assert run("identity", tmp_path / "deep.tif", deep).exit_code == 0
    data = deep.read_bytes()
    # gAMA added before IDAT, by hand, to imgconv's own 16-bit PNG
    at = data.index(b"IDAT") - 4
    gamma = struct.pack(">I", 4) + b"gAMA" + LINEAR + struct.pack(">I", zlib.crc32(b"gAMA" + LINEAR))
    deep.write_bytes(data[:at] + gamma + data[at:])
    assert run("identity", deep, tmp_path / "out.png").exit_code == 0
    written = dict(chunks_of((tmp_path / "out.png").read_bytes()))
    assert written[b"gAMA"] == LINEAR and written[b"IHDR"][8] == 16  # bit depth


def test_values_libpng_ignores_as_invalid_are_not_carried(tmp_path, rgb):
    invalid = {b"gAMA": b"\xff" * 4, b"sRGB": b"\x09", b"cHRM": struct.pack(">8I", *SRGB_POINTS)}
    png_with(tmp_path / "in.png", rgb, invalid)
    assert run("identity", tmp_path / "in.png", tmp_path / "out.png").exit_code == 0
    kinds = [kind for kind, _ in chunks_of((tmp_path / "out.png").read_bytes())]
    assert b"cHRM" in kinds and b"gAMA" not in kinds and b"sRGB" not in kinds


def test_srgb_chunk_is_left_out_beside_an_icc_profile():
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode_png(np.zeros((2, 2, 3), np.uint8), "RGB", icc_profile=icc,
                      colour={b"gAMA": SRGB_GAMMA, b"sRGB": b"\x00"})
    kinds = [kind for kind, _ in chunks_of(data)]
    assert b"gAMA" in kinds and b"iCCP" in kinds and b"sRGB" not in kinds


@pytest.mark.parametrize("chunks, declared", [
    ({b"gAMA": LINEAR}, "gamma 1 "),
    ({b"gAMA": SRGB_GAMMA, b"cHRM": struct.pack(">8I", *WIDE_POINTS)}, "cHRM 0.3457 0.3585"),
])
@pytest.mark.parametrize("ext", ["bmp", "qoi"])
def test_other_formats_refuse_colours_they_cannot_say_unless_stripped(tmp_path, rgb, chunks, declared, ext):
    png_with(tmp_path / "in.png", rgb, chunks)
    out = tmp_path / f"out.{ext}"
    result = run("identity", tmp_path / "in.png", out)
    assert_one_line_error(result, 1, str(out), declared, "write PNG", "--strip")
    assert not out.exists()
    assert run("identity", "--strip", tmp_path / "in.png", out).exit_code == 0
    with Image.open(out) as image:
        assert image.size == (16, 12)


@pytest.mark.parametrize("chunks", [
    {b"gAMA": SRGB_GAMMA},  # how many exporters say sRGB
    {b"gAMA": struct.pack(">I", 45454), b"cHRM": struct.pack(">8I", *SRGB_POINTS)},
    {b"sRGB": b"\x00", b"gAMA": LINEAR},  # the sRGB chunk overrides gAMA
])
def test_srgb_inputs_go_anywhere(tmp_path, rgb, chunks):
    png_with(tmp_path / "in.png", rgb, chunks)
    assert run("identity", tmp_path / "in.png", tmp_path / "out.jpg").exit_code == 0
    assert run("blur", "-s", 1, "--linear", tmp_path / "in.png", tmp_path / "out.png").exit_code == 0


def test_an_icc_profile_overrides_the_gamma(tmp_path, rgb):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    png_with(tmp_path / "in.png", rgb, {b"gAMA": LINEAR}, icc_profile=icc)
    assert run("identity", tmp_path / "in.png", tmp_path / "out.jpg").exit_code == 0
    with Image.open(tmp_path / "out.jpg") as image:
        assert image.info["icc_profile"] == icc


@pytest.mark.parametrize("chunks", [
    {b"gAMA": LINEAR, b"cHRM": struct.pack(">8I", *WIDE_POINTS)},
    {b"cHRM": struct.pack(">8I", *WIDE_POINTS)},
])
def test_linear_light_takes_primaries_not_srgb_and_keeps_them(tmp_path, rgb, chunks):
    """Filtered in the light of the gamma, or sRGB's curve (tests/test_png_colour_linear.py)."""
    png_with(tmp_path / "in.png", rgb, chunks)
    assert run("blur", "-s", 1, "--linear", tmp_path / "in.png", tmp_path / "out.png").exit_code == 0
    with Image.open(tmp_path / "out.png") as image:
        assert [round(v * 100000) for v in image.info["chromaticity"]] == list(WIDE_POINTS)
        assert image.info.get("gamma") == (1.0 if b"gAMA" in chunks else None)


def test_frames_refused_name_only_the_formats_that_hold_them(tmp_path, rgb):
    deep = rgb.astype(np.uint16) * 257
    tifffile.imwrite(tmp_path / "deep.tif", np.stack([deep, deep[::-1]]))  # two 16-bit RGB pages
    out = tmp_path / "out.bmp"
    result = run("identity", tmp_path / "deep.tif", out)
    assert_one_line_error(result, 1, "2 frames", "--frame N", "write PNG, TIFF or .npy")  # .npy: one size, sRGB
    assert "GIF" not in result.stderr and "WebP" not in result.stderr
    icon = io.BytesIO()
    Image.fromarray(rgb[:8, :8]).resize((32, 32)).save(icon, "ICO", sizes=[(32, 32), (16, 16)])
    (tmp_path / "in.ico").write_bytes(icon.getvalue())
    result = run("identity", tmp_path / "in.ico", out)
    assert_one_line_error(result, 1, "2 frames", "write TIFF")  # .npy holds frames of one size
    assert ".npy" not in result.stderr and not out.exists()
