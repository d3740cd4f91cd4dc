"""Colours an ICC profile describes other than as sRGB: refused in one line by the formats
that carry no profile, and converted to sRGB by ``--srgb``. The conversions are checked
against LittleCMS through Pillow's ImageCms (8 bits) and against the textbook float64
computation of the profiles' matrices and curves (XYZ of the primaries, sRGB's curve of
IEC 61966-2-1); the profiles are built here by imagecodecs' LittleCMS."""

import io
import json
import struct
import zlib

import imagecodecs
import numpy as np
import pytest
import tifffile
from helpers import assert_one_line_error, run
from PIL import Image, ImageCms

import imgconv
from imgconv.errors import ImageReadError, ImageWriteError
from imgconv.io.picture import Picture
from imgconv.io.srgb import not_srgb

SRGB = (0.3127, 0.3290, 0.64, 0.33, 0.30, 0.60, 0.15, 0.06)  # white, red, green, blue (x, y)
P3 = (0.3127, 0.3290, 0.680, 0.320, 0.265, 0.690, 0.150, 0.060)  # Display P3's
ADOBE = (0.3127, 0.3290, 0.64, 0.33, 0.21, 0.71, 0.15, 0.06)  # Adobe RGB (1998)'s
KEEPERS = "write PNG, TIFF, JPEG, WebP or AVIF to keep it"


def decode(v):
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def encode(light):
    light = np.clip(light, 0, 1)
    return np.where(light <= 0.0031308, light * 12.92, 1.055 * light ** (1 / 2.4) - 0.055)


def to_xyz(points):
    """The matrix of linear RGB to XYZ of primaries and white ``points``."""
    x, y = np.array(points[0::2]), np.array(points[1::2])
    xyz = np.array([x / y, np.ones(4), (1 - x - y) / y])
    return xyz[:, 1:] * np.linalg.solve(xyz[:, 1:], xyz[:, 0])


def expected(samples, points, light):
    """``samples`` of primaries ``points`` whose curve is ``light`` as sRGB, in float64
    (the same white: no adaptation), rounded."""
    top = np.iinfo(samples.dtype).max
    linear = light(samples[..., :3] / top) @ np.linalg.solve(to_xyz(SRGB), to_xyz(points)).T
    return np.round(encode(linear) * top)


def rgb_profile(points, gamma=None):
    """An RGB profile of ``points``, its curve a power or sRGB's (as a 4096-entry table)."""
    curve = {"gamma": gamma} if gamma else {
        "transferfunction": np.round(decode(np.linspace(0, 1, 4096)) * 65535).astype(np.uint16)}
    primaries = [v for i in (1, 2, 3) for v in (points[2 * i], points[2 * i + 1], 1.0)]
    return imagecodecs.cms_profile("rgb", whitepoint=[points[0], points[1], 1.0], primaries=primaries, **curve)


def png(path, samples, profile):
    Image.fromarray(samples).save(path, icc_profile=profile)
    return path


@pytest.fixture
def colours(rng):
    return rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)


@pytest.mark.parametrize("extension", [".gif", ".bmp", ".tga", ".qoi", ".ppm", ".jp2"])
def test_a_profile_no_output_carries_is_refused(tmp_path, colours, extension):
    source, out = png(tmp_path / "in.png", colours, rgb_profile(P3)), tmp_path / f"out{extension}"
    result = run("identity", source, out)
    fmt = {".jp2": "JPEG2000"}.get(extension, extension[1:].upper())
    assert result.exit_code == 1 and result.stderr == (
        f"imgconv: error: {out}: the input's colours are described by the ICC profile \"RGB built-in\", which a "
        f"{fmt} output cannot carry (its samples would show as sRGB); {KEEPERS}, or give --srgb to convert them "
        "to sRGB\n")
    assert not out.exists() and list(tmp_path.iterdir()) == [source]


def test_srgb_8_bits_is_littlecms_and_the_matrices(tmp_path, colours):
    profile = rgb_profile(P3)
    source, out = png(tmp_path / "in.png", colours, profile), tmp_path / "out.png"
    assert run("identity", "--srgb", source, out).exit_code == 0
    with Image.open(out) as image:
        assert image.mode == "RGB" and "icc_profile" not in image.info and "gamma" not in image.info
        result = np.asarray(image)
    littlecms = ImageCms.profileToProfile(
        Image.fromarray(colours), ImageCms.ImageCmsProfile(io.BytesIO(profile)), ImageCms.createProfile("sRGB"),
        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC, flags=ImageCms.Flags.BLACKPOINTCOMPENSATION)
    assert np.array_equal(result, np.asarray(littlecms))
    assert np.abs(result - expected(colours, P3, decode)).max() <= 1
    assert not np.array_equal(result, colours)  # P3 is not sRGB: the conversion changes samples


def test_srgb_16_bits_with_alpha(tmp_path, rng):
    samples = rng.integers(0, 65536, (12, 16, 4), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "in.tif", samples, photometric="rgb", extrasamples=[2],
                     iccprofile=rgb_profile(ADOBE, gamma=2.2))
    assert run("identity", "--srgb", tmp_path / "in.tif", tmp_path / "out.png").exit_code == 0
    result = imgconv.imread(tmp_path / "out.png")
    assert result.dtype == np.uint16 and np.array_equal(result[..., 3], samples[..., 3])
    difference = np.abs(result[..., :3] - expected(samples, ADOBE, lambda v: v ** 2.2))
    # LittleCMS's s15.16 matrices against float64's: 22 levels of 65535 at most here.
    assert difference.max() <= 24 and difference.mean() < 1.5
    with Image.open(tmp_path / "out.png") as image:
        assert "icc_profile" not in image.info


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_grey_stays_grey_through_its_curve(tmp_path, rng, dtype):
    top = np.iinfo(dtype).max
    samples = rng.integers(0, top + 1, (12, 16, 2)).astype(dtype)
    samples[0, :2, 0] = (0, top)
    tifffile.imwrite(tmp_path / "in.tif", samples, photometric="minisblack", extrasamples=[2], planarconfig="contig",
                     iccprofile=imagecodecs.cms_profile("gray", gamma=1.75))
    assert run("identity", "--srgb", tmp_path / "in.tif", tmp_path / "out.png").exit_code == 0
    result = imgconv.imread(tmp_path / "out.png")
    assert result.shape == samples.shape and result.dtype == dtype
    assert np.array_equal(result[..., 0], np.round(encode((samples[..., 0] / top) ** 1.75) * top))
    assert np.array_equal(result[..., 1], samples[..., 1]) and tuple(result[0, :2, 0]) == (0, top)
    # LittleCMS unoptimised, grey to sRGB's RGB, gives the same neutral within a level.
    flags = imagecodecs.CMS.FLAGS.BLACKPOINTCOMPENSATION | imagecodecs.CMS.FLAGS.NOOPTIMIZE
    littlecms = imagecodecs.cms_transform(samples[..., 0], imagecodecs.cms_profile("gray", gamma=1.75),
                                          imagecodecs.cms_profile("srgb"), colorspace="gray", outcolorspace="rgb",
                                          intent=1, flags=flags)
    assert np.abs(littlecms.astype(float) - result[..., :1]).max() <= 1


@pytest.mark.parametrize("profile", [
    ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),  # named sRGB
    rgb_profile(SRGB),  # named "RGB built-in": sRGB by its curve and colorants
    None,
])
def test_srgb_goes_anywhere_and_srgb_changes_nothing(tmp_path, colours, profile):
    source = png(tmp_path / "in.png", colours, profile)
    assert run("identity", source, tmp_path / "out.gif").exit_code == 0
    for option in ([], ["--srgb"]):
        assert run("identity", *option, source, tmp_path / f"out{len(option)}.png").exit_code == 0
    assert (tmp_path / "out0.png").read_bytes() == (tmp_path / "out1.png").read_bytes()


@pytest.mark.parametrize("profile", [
    rgb_profile((0.3127, 0.3290, 0.645, 0.33, 0.30, 0.60, 0.15, 0.06)),  # red's x 0.005 off
    rgb_profile(SRGB, gamma=2.2),  # sRGB's primaries, another curve
    imagecodecs.cms_profile("gray", gamma=2.2),  # a grey profile, grey samples
])
def test_near_srgb_is_not_srgb(profile):
    grey = profile[16:20] == b"GRAY"
    picture = Picture([np.zeros((2, 2) if grey else (2, 2, 3), np.uint8)], "L" if grey else "RGB", "PNG",
                      metadata={"icc_profile": profile})
    assert not_srgb(picture).words == ('the ICC profile "gray built-in"' if grey else 'the ICC profile "RGB built-in"')
    picture.metadata["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    assert not_srgb(picture) is None  # sRGB; for grey samples, an RGB profile describes nothing


def named(profile, name):
    """``profile`` (of imagecodecs, described "RGB built-in") described as ``name``, of as
    many characters."""
    return profile.replace("RGB built-in".encode("utf-16-be"), name.encode("utf-16-be"))


def test_a_name_vouches_for_the_curve_not_the_colorants():
    rgb = np.zeros((2, 2, 3), np.uint8)
    power = Picture([rgb], "RGB", "PNG", metadata={"icc_profile": named(rgb_profile(SRGB, gamma=2.2), "sRGB gamma22")})
    assert not_srgb(power) is None  # called sRGB, of sRGB's colorants, its curve near sRGB's
    wide = Picture([rgb], "RGB", "PNG", metadata={"icc_profile": named(rgb_profile(P3), "P3 with sRGB")})
    assert not_srgb(wide).words == 'the ICC profile "P3 with sRGB"'


def test_a_hostile_description_stays_on_one_line(tmp_path, colours):
    profile = named(rgb_profile(P3), "P3\n\x1b[2J12345")
    result = run("identity", png(tmp_path / "in.png", colours, profile), tmp_path / "out.gif")
    assert_one_line_error(result, 1, 'ICC profile "P3 \\033[2J12345"', "--srgb")


def test_png_gamma_names_srgb_and_is_converted(tmp_path, colours):
    encoded = io.BytesIO()
    Image.fromarray(colours).save(encoded, "PNG")
    data = struct.pack(">I", 100000)  # gAMA 1: the samples are linear light
    gamma = struct.pack(">I", 4) + b"gAMA" + data + struct.pack(">I", zlib.crc32(b"gAMA" + data))
    (tmp_path / "in.png").write_bytes(encoded.getvalue()[:33] + gamma + encoded.getvalue()[33:])  # after IHDR
    result = run("identity", tmp_path / "in.png", tmp_path / "out.bmp")
    assert_one_line_error(result, 1, "gamma 1 (gAMA", "give --srgb to convert its colours to sRGB or --strip")
    assert run("identity", "--srgb", tmp_path / "in.png", tmp_path / "out.png").exit_code == 0
    with Image.open(tmp_path / "out.png") as image:
        assert "gamma" not in image.info and "icc_profile" not in image.info
        assert np.abs(np.asarray(image) - np.round(encode(colours / 255) * 255)).max() <= 1


def test_cmyk_becomes_srgb_even_in_tiff(tmp_path, rng):
    inks = rng.integers(0, 256, (8, 8, 4), dtype=np.uint8)
    Image.frombytes("CMYK", (8, 8), inks.tobytes()).save(tmp_path / "in.jpg", quality=100)
    assert run("identity", tmp_path / "in.jpg", tmp_path / "srgb.png").exit_code == 0
    assert run("identity", "--srgb", tmp_path / "in.jpg", tmp_path / "out.tif").exit_code == 0
    assert np.array_equal(tifffile.imread(tmp_path / "out.tif"), imgconv.imread(tmp_path / "srgb.png"))


def test_linear_light_after_the_conversion(tmp_path, colours):
    source = png(tmp_path / "in.png", colours, rgb_profile(ADOBE, gamma=2.2))
    assert run("identity", "--srgb", source, tmp_path / "srgb.png").exit_code == 0
    assert run("blur", "-s", "1", "--linear", tmp_path / "srgb.png", tmp_path / "two.png").exit_code == 0
    assert run("blur", "-s", "1", "--linear", "--srgb", source, tmp_path / "one.png").exit_code == 0
    assert np.array_equal(imgconv.imread(tmp_path / "one.png"), imgconv.imread(tmp_path / "two.png"))


def test_floats_and_tiles_refuse_srgb(tmp_path):
    tifffile.imwrite(tmp_path / "float.tif", np.zeros((4, 4, 3), np.float32), photometric="rgb",
                     iccprofile=rgb_profile(P3))
    result = run("identity", "--srgb", tmp_path / "float.tif", tmp_path / "out.tif")
    assert_one_line_error(result, 1, "float.tif: --srgb converts 8- and 16-bit grey and RGB samples",
                          '"RGB built-in"')
    tifffile.imwrite(tmp_path / "tiled.tif", np.zeros((32, 32, 3), np.uint8), photometric="rgb", tile=(16, 16))
    result = run("identity", "--srgb", tmp_path / "tiled.tif", tmp_path / "out.tif")
    assert_one_line_error(result, 2, "out.tif: --srgb converts whole images", "tile by tile")
    assert not (tmp_path / "out.tif").exists()


def test_a_zarr_store_refuses_a_streamed_profile(tmp_path, rng):
    samples, p3 = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), rgb_profile(P3)
    for name, profile in (("p3", p3), ("srgb", rgb_profile(SRGB))):
        tifffile.imwrite(tmp_path / f"{name}.tif", samples, photometric="rgb", tile=(16, 16), iccprofile=profile)
    result = run("identity", tmp_path / "p3.tif", tmp_path / "p3.zarr")
    assert_one_line_error(result, 1, "p3.zarr: the input's colours are described by the ICC profile "
                                     '"RGB built-in", which a Zarr store does not carry; write a .tif to keep it')
    assert not (tmp_path / "p3.zarr").exists()
    assert run("identity", tmp_path / "p3.tif", tmp_path / "out.tif").exit_code == 0  # streamed, kept
    with tifffile.TiffFile(tmp_path / "out.tif") as tiff:
        assert tiff.pages[0].tags["InterColorProfile"].value == p3
    assert run("identity", tmp_path / "srgb.tif", tmp_path / "srgb.zarr").exit_code == 0


def test_what_the_output_refuses_is_refused_before_converting(tmp_path, rng, monkeypatch):
    samples = rng.integers(0, 65536, (4, 4, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "in.tif", samples, photometric="rgb", iccprofile=rgb_profile(P3))

    def unused(*args):
        raise AssertionError("converted before the refusal")

    monkeypatch.setattr("imgconv.io.cms.converter", unused)
    result = run("identity", "--srgb", tmp_path / "in.tif", tmp_path / "out.gif")
    assert_one_line_error(result, 1, "GIF holds 8 bits a sample and the input is 16-bit RGB; write PNG, TIFF or "
                                     ".npy to keep 16 bits")  # as sRGB: .npy keeps it whole


def test_batch(tmp_path, colours):
    (tmp_path / "in").mkdir()
    for index in range(2):
        png(tmp_path / "in" / f"{index}.png", colours[::1 - 2 * index], rgb_profile(P3))
    result = run("identity", "--format", "bmp", "--report", tmp_path / "refused.json", tmp_path / "in",
                 tmp_path / "out")
    assert result.exit_code != 0 and not list((tmp_path / "out").glob("*.bmp"))
    assert all("--srgb" in json.loads(line)["error"] for line in (tmp_path / "refused.json").read_text().splitlines())
    assert run("identity", "--srgb", "--format", "bmp", tmp_path / "in", tmp_path / "out").exit_code == 0
    for index in range(2):
        assert np.abs(imgconv.imread(tmp_path / "out" / f"{index}.bmp")
                      - expected(colours[::1 - 2 * index], P3, decode)).max() <= 1


def test_python_api(tmp_path, colours, rng):
    source = png(tmp_path / "in.png", colours, rgb_profile(P3))
    converted = imgconv.imread(source, srgb=True)
    assert np.abs(converted - expected(colours, P3, decode)).max() <= 1
    assert np.array_equal(imgconv.imread(source), colours)
    with pytest.raises(ImageWriteError, match=r"out\.gif: .* \"RGB built-in\".* give --srgb"):
        imgconv.write_image(tmp_path / "out.gif", imgconv.read_image(source))
    assert not (tmp_path / "out.gif").exists()
    imgconv.write_image(tmp_path / "out.bmp", imgconv.read_image(source), srgb=True)
    assert np.array_equal(imgconv.imread(tmp_path / "out.bmp"), converted)
    inks = rng.integers(0, 256, (4, 4, 4), dtype=np.uint8)
    imgconv.imwrite(tmp_path / "inks.tif", inks, cmyk=True, srgb=True)
    assert tifffile.imread(tmp_path / "inks.tif").shape == (4, 4, 3)
    tifffile.imwrite(tmp_path / "lut.tif", colours, photometric="rgb", iccprofile=b"\0" * 200)
    assert np.array_equal(imgconv.imread(tmp_path / "lut.tif", srgb=True), colours)  # unreadable: as it is


def test_a_profile_littlecms_cannot_convert_is_refused(tmp_path, colours):
    profile = bytearray(rgb_profile(P3))
    profile[profile.index(b"rXYZ") + 4:profile.index(b"rXYZ") + 8] = (10 ** 6).to_bytes(4, "big")  # tag outside
    with pytest.raises(ImageReadError, match="--srgb cannot convert its colours to sRGB: its ICC profile"):
        imgconv.imread(png(tmp_path / "in.png", colours, bytes(profile)), srgb=True)
