"""Faithful images through the real command: bit depth, EXIF orientation, lossy quality,
frames and pages, many channels, the formats table, metadata, and refusals in words.

Inputs are made from the photographs in samples/ with codecs other than imgconv's own
(Pillow, imagecodecs, tifffile), and every output is read back with those codecs, never
with imgconv's reader. References are scipy.ndimage and arrays computed here.
"""

import io
import os
import re
import struct
import zlib
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import scipy.ndimage as ndi
import tifffile
from helpers import SAMPLES, assert_one_line_error, assert_rounded_from, run
from PIL import Image, ImageCms, ImageOps, JpegImagePlugin, features

from imgconv.io import formats
from imgconv.io.picture import Picture
from imgconv.io.write import encode_image

H, W = 48, 64  # crops: small enough to be quick, big enough to be photographs
MAKE = "imgconv fidelity camera"
MAKE_TAG, ORIENTATION_TAG, GPS_IFD, EXIF_IFD = 0x010F, 0x0112, 0x8825, 0x8769
# 16-bit samples where rounding, truncation (v >> 8) and the ends of the range differ:
# round(v / 257) is 0, 0, 0, 1, 1, 2, 254, 255, 255, 255.
EDGE_SAMPLES = np.array([0, 127, 128, 129, 385, 386, 65406, 65407, 65408, 65535], np.uint16)


# ---------------------------------------------------------------- shared helpers


def ok(result):
    assert result.exit_code == 0, result.stderr
    return result


def gaussian(image, sigma):
    """scipy's Gaussian over rows and columns only, in float64 (radius ceil(3 sigma), as imgconv's)."""
    image = np.asarray(image, np.float64)
    return ndi.gaussian_filter(image, (sigma, sigma) + (0,) * (image.ndim - 2), mode="reflect", truncate=3.0)


def sobel_x_shown(image):
    """|Sobel x| per channel, as an image output shows it (before rounding)."""
    image = np.asarray(image, np.float64)
    if image.ndim == 2:
        return np.abs(ndi.sobel(image, axis=1, mode="reflect"))
    return np.stack([np.abs(ndi.sobel(image[..., c], axis=1, mode="reflect")) for c in range(image.shape[2])], -1)


def has_alpha(array):
    return array.ndim == 3 and array.shape[2] in (2, 4)


def write_png16(path, array):
    path.write_bytes(imagecodecs.png_encode(np.ascontiguousarray(array)))
    return path


def write_tiff(path, array, **options):
    colour = array.ndim == 3 and array.shape[2] >= 3
    tifffile.imwrite(path, np.ascontiguousarray(array), photometric="rgb" if colour else "minisblack",
                     extrasamples=["unassalpha"] if has_alpha(array) else None, metadata=None, **options)
    return path


def read_back(path):
    """An output read by an independent codec, by its extension."""
    suffix = Path(path).suffix
    if suffix == ".png":
        return imagecodecs.png_decode(Path(path).read_bytes())
    if suffix in (".tif", ".tiff"):
        return tifffile.imread(path)
    if suffix == ".npy":
        return np.load(path)
    raise AssertionError(suffix)


def png_with_exif(png, exif):
    """A PNG with an eXIf chunk (``exif``: Pillow's ``Exif.tobytes()``) inserted after IHDR."""
    payload = exif[6:] if exif.startswith(b"Exif\0\0") else exif
    body = b"eXIf" + payload
    chunk = struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))
    assert png[12:16] == b"IHDR"
    return png[:33] + chunk + png[33:]


def webp_chunks(data):
    """The RIFF chunk kinds of a WebP file, animation frames' own chunks included."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    kinds = []

    def walk(position, end):
        while position + 8 <= end:
            kind, size = data[position : position + 4], int.from_bytes(data[position + 4 : position + 8], "little")
            kinds.append(kind)
            if kind == b"ANMF":
                walk(position + 8 + 16, position + 8 + size)
            position += 8 + size + (size & 1)

    walk(12, len(data))
    return kinds


@pytest.fixture(scope="module")
def chelsea():
    with Image.open(SAMPLES / "chelsea.png") as image:
        return np.asarray(image.convert("RGB"))


@pytest.fixture(scope="module")
def camera():
    with Image.open(SAMPLES / "camera.png") as image:
        return np.asarray(image.convert("L"))


def _alpha_mask(shape):
    """Alpha for the tests: a fully transparent block, a fully opaque one, the photo between."""
    alpha = np.ones(shape, bool)
    alpha[4:14, 6:20] = False
    return alpha


@pytest.fixture(scope="module")
def eight(chelsea, camera):
    """8-bit L, LA, RGB, RGBA arrays from the photographs, alpha 0 over a block of colour."""
    grey, colour = camera[200 : 200 + H, 220 : 220 + W], chelsea[80 : 80 + H, 150 : 150 + W]
    alpha = camera[300 : 300 + H, 100 : 100 + W].copy()
    alpha[~_alpha_mask(alpha.shape)] = 0
    alpha[30:40, 40:60] = 255
    return {"L": grey, "LA": np.dstack([grey, alpha]), "RGB": colour, "RGBA": np.dstack([colour, alpha])}


@pytest.fixture(scope="module")
def deep(eight):
    """16-bit versions: the photo in the high byte, noise in the low byte (so that
    truncation would show), the edge samples in the first row of every channel."""
    rng = np.random.default_rng(20261127)
    arrays = {}
    for mode, name in (("L", "grey"), ("LA", "grey+alpha"), ("RGB", "RGB"), ("RGBA", "RGBA")):
        array = (eight[mode].astype(np.uint16) << 8) | rng.integers(0, 256, eight[mode].shape, dtype=np.uint16)
        if has_alpha(array):
            array[..., -1][eight[mode][..., -1] == 0] = 0  # transparent stays transparent
            array[30:40, 40:60, -1] = 65535
        array[0, : len(EDGE_SAMPLES)] = EDGE_SAMPLES[:, None] if array.ndim == 3 else EDGE_SAMPLES
        arrays[name] = array
    return arrays


# ---------------------------------------------------------------- 1. bit depth

DEEP_MODES = ["grey", "grey+alpha", "RGB", "RGBA"]


@pytest.mark.parametrize("out_ext", [".png", ".tiff", ".npy"])
@pytest.mark.parametrize("in_ext", [".png", ".tiff"])
@pytest.mark.parametrize("mode", DEEP_MODES)
def test_16_bit_identity_keeps_every_sample(tmp_path, deep, mode, in_ext, out_ext):
    array = deep[mode]
    source = (write_png16 if in_ext == ".png" else write_tiff)(tmp_path / f"in{in_ext}", array)
    out = tmp_path / f"out{out_ext}"
    ok(run("identity", source, out))
    pixels = read_back(out)
    assert pixels.dtype == np.uint16  # .npy too: an identity keeps the samples' type
    assert pixels.shape == array.shape
    if has_alpha(array):  # the colour under fully transparent pixels survives too
        hidden = array[..., -1] == 0
        assert hidden.any() and array[hidden][:, 0].any()
        assert np.array_equal(pixels[hidden], array[hidden])
    different = pixels != array
    assert different.sum() == 0, (f"{different.sum()} of {array.size} samples changed, by up to "
                                 f"{np.abs(pixels.astype(np.float64) - array).max()}")


@pytest.mark.parametrize("out_ext", [".png", ".tiff", ".npy"])
@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_8_bit_identity_keeps_every_sample(tmp_path, eight, mode, out_ext):
    array = eight[mode]
    source = tmp_path / "in.png"
    Image.fromarray(array).save(source)
    with Image.open(source) as image:
        assert image.mode == mode
    out = tmp_path / f"out{out_ext}"
    ok(run("identity", source, out))
    pixels = read_back(out)
    assert pixels.dtype == np.uint8 and pixels.shape == array.shape  # .npy too: an identity keeps the type
    different = pixels != array
    assert different.sum() == 0, (f"{different.sum()} of {array.size} samples changed, by up to "
                                 f"{np.abs(pixels.astype(np.float64) - array).max()}")


@pytest.mark.parametrize("in_ext, out_ext", [(".png", ".png"), (".tiff", ".tiff"), (".png", ".tiff")])
def test_16_bit_rgb_blur_matches_scipy(tmp_path, deep, in_ext, out_ext):
    array = deep["RGB"]
    source = (write_png16 if in_ext == ".png" else write_tiff)(tmp_path / f"in{in_ext}", array)
    ok(run("blur", "-s", 2, source, tmp_path / f"out{out_ext}"))
    pixels = read_back(tmp_path / f"out{out_ext}")
    assert pixels.dtype == np.uint16 and pixels.shape == array.shape
    assert_rounded_from(pixels, gaussian(array, 2), dtype=np.uint16, slack=0.05)


def test_16_bit_rgba_blur_is_premultiplied(tmp_path, deep):
    array = deep["RGBA"]
    source = write_png16(tmp_path / "in.png", array)
    ok(run("blur", "-s", 2, source, tmp_path / "out.png"))
    pixels = read_back(tmp_path / "out.png")
    assert pixels.dtype == np.uint16
    alpha = array[..., 3].astype(np.float64)
    new_alpha = gaussian(alpha, 2)
    premultiplied = gaussian(array[..., :3] * (alpha / 65535)[..., None], 2)
    visible = new_alpha > 0
    colour = array[..., :3].astype(np.float64)
    colour[visible] = premultiplied[visible] / (new_alpha[visible, None] / 65535)
    assert_rounded_from(pixels[..., 3], new_alpha, dtype=np.uint16, slack=0.05)
    assert_rounded_from(pixels[..., :3], colour, dtype=np.uint16, slack=0.05)


def test_16_bit_side_by_side(tmp_path, deep):
    array = deep["RGB"]
    source = write_png16(tmp_path / "in.png", array)
    ok(run("blur", "-s", 2, "--view", "side-by-side", source, tmp_path / "out.png"))
    pixels = read_back(tmp_path / "out.png")
    assert pixels.dtype == np.uint16 and pixels.shape == (H, 2 * W + 4, 3)
    assert np.array_equal(pixels[:, :W], array)
    assert (pixels[:, W : W + 4] == 65535).all()
    assert_rounded_from(pixels[:, W + 4 :], gaussian(array, 2), dtype=np.uint16, slack=0.05)


@pytest.mark.parametrize("fmt", ["png", "tiff"])
@pytest.mark.parametrize("mode", ["grey", "RGB"])
def test_16_bit_through_a_pipe(tmp_path, deep, fmt, mode):
    array = deep[mode]
    source = (write_png16 if fmt == "png" else write_tiff)(tmp_path / f"in.{fmt}", array)
    result = ok(run("blur", "-s", 1, "--format", fmt, "-", "-", input=source.read_bytes()))
    assert result.stderr == ""
    data = result.stdout_bytes
    pixels = imagecodecs.png_decode(data) if fmt == "png" else tifffile.imread(io.BytesIO(data))
    assert pixels.dtype == np.uint16 and pixels.shape == array.shape
    assert_rounded_from(pixels, gaussian(array, 1), dtype=np.uint16, slack=0.05)


def test_16_bit_through_a_batch(tmp_path, deep):
    folder = tmp_path / "in"
    folder.mkdir()
    write_png16(folder / "grey.png", deep["grey"])
    write_png16(folder / "rgb.png", deep["RGB"])
    write_tiff(folder / "rgba.tiff", deep["RGBA"])
    write_tiff(folder / "la.tiff", deep["grey+alpha"])
    result = ok(run("blur", "-s", 1, folder, tmp_path / "out"))
    assert "failed 0" in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["grey.png", "la.tiff", "rgb.png", "rgba.tiff"]
    for name, mode in (("grey.png", "grey"), ("rgb.png", "RGB"), ("rgba.tiff", "RGBA"), ("la.tiff", "grey+alpha")):
        pixels = read_back(tmp_path / "out" / name)
        assert pixels.dtype == np.uint16 and pixels.shape == deep[mode].shape, name
        if has_alpha(deep[mode]):  # alpha is blurred like a channel
            assert_rounded_from(pixels[..., -1], gaussian(deep[mode][..., -1], 1), dtype=np.uint16, slack=0.05)
        else:
            assert_rounded_from(pixels, gaussian(deep[mode], 1), dtype=np.uint16, slack=0.05)


def test_float_tiff_stays_float(tmp_path, camera):
    floats = (camera[100:140, 200:260].astype(np.float32) - 100) / 37
    floats[0, :3] = [1e6, -3.5e-7, np.pi]  # far outside 0..1: nothing may clip or round
    Image.fromarray(floats, "F").save(tmp_path / "in.tiff")
    with Image.open(tmp_path / "in.tiff") as image:
        assert image.mode == "F"
    ok(run("identity", tmp_path / "in.tiff", tmp_path / "out.tiff"))
    pixels = tifffile.imread(tmp_path / "out.tiff")
    assert pixels.dtype == np.float32 and np.array_equal(pixels, floats)


@pytest.mark.parametrize("in_ext", [".png", ".tiff"])
def test_16_bit_to_jpeg_is_refused_without_depth(tmp_path, deep, in_ext):
    source = (write_png16 if in_ext == ".png" else write_tiff)(tmp_path / f"in{in_ext}", deep["RGB"])
    result = run("blur", "-s", 1, source, tmp_path / "out.jpg")
    assert_one_line_error(result, 1, "--depth 8", "16-bit RGB", "out.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"in{in_ext}"]


@pytest.mark.parametrize("mode", DEEP_MODES)
def test_depth_8_rounds(tmp_path, deep, mode):
    array = deep[mode]
    source = write_png16(tmp_path / "in.png", array)
    ok(run("identity", "--depth", 8, source, tmp_path / "out.png"))
    pixels = read_back(tmp_path / "out.png")
    expected = ((array.astype(np.uint32) + 128) // 257).astype(np.uint8)  # round(v / 257)
    assert pixels.dtype == np.uint8 and np.array_equal(pixels, expected)
    assert (pixels[array == 65535] == 255).all() and (array == 65535).any()
    assert not np.array_equal(expected, array >> 8)  # the samples tell rounding from truncation


def test_depth_8_then_jpeg(tmp_path, deep):
    source = write_png16(tmp_path / "in.png", deep["RGB"])
    ok(run("identity", "--depth", 8, source, tmp_path / "out.jpg"))
    with Image.open(tmp_path / "out.jpg") as image:
        assert image.format == "JPEG" and image.mode == "RGB" and image.size == (W, H)


@pytest.mark.parametrize("out_ext", [".png", ".tiff"])
@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_depth_16_multiplies_by_257(tmp_path, eight, mode, out_ext):
    Image.fromarray(eight[mode]).save(tmp_path / "in.png")
    ok(run("identity", "--depth", 16, tmp_path / "in.png", tmp_path / f"out{out_ext}"))
    pixels = read_back(tmp_path / f"out{out_ext}")
    assert pixels.dtype == np.uint16 and np.array_equal(pixels, eight[mode].astype(np.uint16) * 257)


# ---------------------------------------------------------------- 1b. signed, 32- and 64-bit and float samples

WIDE_TYPES = ["int8", "int16", "int32", "int64", "uint32", "uint64", "float16", "float32", "float64"]
CHANNELS = {"grey": 1, "grey+alpha": 2, "RGB": 3, "RGBA": 4}


def wide(camera, dtype, channels=1):
    """The photograph spread over ``dtype``'s whole range (floats: 0.0-1.0, less 0.25), as
    ``channels`` channels, the first row starting with the type's edges: for integers
    min, -1 (or 1), 0, 1, max, where wrapping or a cast to another type shows."""
    dtype = np.dtype(dtype)
    crop = camera[100 : 100 + H, 200 : 200 + W].astype(np.float64) / 255
    if dtype.kind == "f":
        values = (crop - 0.25).astype(dtype)
        edges = [np.finfo(dtype).min, -1.5, 0, 2.0 ** -14, np.finfo(dtype).max]
    else:
        info = np.iinfo(dtype)
        values = np.floor(crop * (float(info.max) - float(info.min)) + float(info.min))
        values = np.clip(values, float(info.min), float(np.nextafter(float(info.max), 0))).astype(dtype)
        edges = [info.min, -1 if info.min else 2, 0, 1, info.max]
    values[0, :5] = edges
    if channels == 1:
        return values
    planes = [np.rot90(values, k).reshape(values.shape) if k % 2 == 0 else values[::-1] for k in range(channels)]
    return np.stack(planes, -1)


@pytest.mark.parametrize("out_ext", [".tif", ".npy"])
@pytest.mark.parametrize("in_ext", [".tif", ".npy"])
@pytest.mark.parametrize("kind", list(CHANNELS))
@pytest.mark.parametrize("dtype", WIDE_TYPES)
def test_wide_samples_are_kept_as_they_are(tmp_path, camera, dtype, kind, in_ext, out_ext):
    """int8 [-128, -1, 0, 1, 127] came out [128, 255, 0, 1, 127], uint32 2**31 as int32
    -2**31, and floats wider or narrower than 32 bits were refused."""
    array = wide(camera, dtype, CHANNELS[kind])
    source = write_tiff(tmp_path / "in.tif", array) if in_ext == ".tif" else tmp_path / "in.npy"
    if in_ext == ".npy":
        np.save(source, array)
    ok(run("identity", source, tmp_path / f"out{out_ext}"))
    pixels = read_back(tmp_path / f"out{out_ext}")
    assert pixels.dtype == array.dtype and pixels.shape == array.shape
    assert np.array_equal(pixels, array), f"{(pixels != array).sum()} samples changed"


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "uint32", "int64"])
def test_wide_samples_are_filtered_rounded_and_clipped_to_their_type(tmp_path, camera, dtype):
    array = wide(camera, dtype)
    write_tiff(tmp_path / "in.tif", array)
    sharpen = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    ok(run("convolve", "-k", "0 -1 0; -1 5 -1; 0 -1 0", tmp_path / "in.tif", tmp_path / "out.tif"))
    pixels = read_back(tmp_path / "out.tif")
    expected = ndi.correlate(array.astype(np.float64), sharpen, mode="reflect")
    info = np.iinfo(dtype)
    assert pixels.dtype == array.dtype
    assert (expected > info.max).any() and (expected < info.min).any()  # both ends are clipped
    # Wide integers are filtered in float64, to its 53 bits: a few of its steps, 2**13 near
    # the sharpen's largest sums of 64-bit samples (5 x 2**63), are below a level only
    # up to 32 bits.
    assert_rounded_from(pixels, expected, dtype=dtype, slack=1e-3 if info.bits < 64 else 2 ** 15)


def test_uint32_blur_is_float64_precise(tmp_path, camera):
    array = wide(camera, "uint32")
    write_tiff(tmp_path / "in.tif", array)
    ok(run("blur", "-s", 2, tmp_path / "in.tif", tmp_path / "out.tif"))
    pixels = read_back(tmp_path / "out.tif")
    assert pixels.dtype == np.uint32
    assert_rounded_from(pixels, gaussian(array, 2), dtype=np.uint32, slack=1e-3)  # float32: off by up to 256


@pytest.mark.parametrize("dtype, out", [("int8", "out.png"), ("uint32", "out.jpg"), ("int16", "out.webp"),
                                        ("uint64", "out.bmp")])
def test_wide_integers_are_refused_where_they_cannot_be_held(tmp_path, camera, dtype, out):
    write_tiff(tmp_path / "in.tif", wide(camera, dtype))
    result = run("blur", "-s", 1, tmp_path / "in.tif", tmp_path / out)
    words = {"int8": "8-bit signed grey", "uint32": "32-bit unsigned grey", "int16": "16-bit signed grey",
             "uint64": "64-bit unsigned grey"}[dtype]
    assert_one_line_error(result, 1, words, "write TIFF or .npy", out)
    assert_in_words(result.stderr.splitlines()[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tif"]
    result = run("blur", "-s", 1, "--depth", 8, tmp_path / "in.tif", tmp_path / out)
    assert_one_line_error(result, 2, words, "--depth converts 8-bit, 16-bit and float samples", "in.tif")


@pytest.fixture(scope="module")
def field():
    """Normally distributed float64 samples: a field, not a picture."""
    return np.random.default_rng(22).normal(size=(H, W))


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_float_npy_blurred_keeps_its_float_type(tmp_path, field, dtype):
    """blur of a float .npy to TIFF wrote uint8 0s and 1s; to .npy, float64 came back float32."""
    array = field.astype(dtype)
    np.save(tmp_path / "field.npy", array)
    for out in ("out.tif", "out.npy"):
        ok(run("blur", "-s", 2, tmp_path / "field.npy", tmp_path / out))
        pixels = read_back(tmp_path / out)
        assert pixels.dtype == array.dtype and pixels.shape == array.shape, out
        tolerance = {"float16": 2e-3, "float32": 1e-6, "float64": 1e-12}[dtype]
        np.testing.assert_allclose(pixels, gaussian(array, 2), rtol=0, atol=tolerance)


def test_floats_to_integer_formats_are_refused_naming_depth(tmp_path, field):
    np.save(tmp_path / "field.npy", field)
    for out, depths in (("out.png", ["--depth 8", "--depth 16"]), ("out.jpg", ["--depth 8"])):
        result = run("blur", "-s", 2, tmp_path / "field.npy", tmp_path / out)
        assert_one_line_error(result, 1, "64-bit float grey", "TIFF or .npy", "0.0-1.0 to 0-255", *depths)
        assert_in_words(result.stderr.splitlines()[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["field.npy"]


@pytest.mark.parametrize("source", ["npy", "tiff"])
def test_depth_maps_floats_from_0_to_1(tmp_path, source):
    values = np.array([[-0.5, 0.0, 0.25, 0.3 / 255, 0.7 / 255, 0.5, 1.0, 2.0, np.inf, -np.inf]], np.float32)
    path = tmp_path / f"in.{source}"
    np.save(path, values) if source == "npy" else write_tiff(path, values)
    ok(run("identity", "--depth", 8, path, tmp_path / "out8.png"))
    ok(run("identity", "--depth", 16, path, tmp_path / "out16.png"))
    # round(v * 255) and round(v * 65535), clipped, by hand:
    assert read_back(tmp_path / "out8.png").tolist() == [[0, 0, 64, 0, 1, 128, 255, 255, 255, 0]]
    assert read_back(tmp_path / "out16.png").tolist() == [[0, 0, 16384, 77, 180, 32768, 65535, 65535, 65535, 0]]


def test_floats_with_alpha_map_alpha_too(tmp_path, camera):
    array = np.clip(wide(camera, "float32", 4) + 0.25, 0, 1)
    np.save(tmp_path / "in.npy", array)
    ok(run("identity", "--depth", 8, tmp_path / "in.npy", tmp_path / "out.png"))
    pixels = read_back(tmp_path / "out.png")
    assert pixels.dtype == np.uint8 and np.array_equal(pixels, np.rint(array.astype(np.float64) * 255))


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "uint32", "int64", "bool"])
def test_integer_npy_is_kept_or_refused_never_clipped_to_8_bits(tmp_path, dtype):
    """An int32 .npy of 0-1000 written to PNG was clipped to 255."""
    array = np.arange(H * W).reshape(H, W) % 1001 * (1 if dtype != "int8" else 0.1) - (dtype == "int8") * 50
    array = (array % 2).astype(bool) if dtype == "bool" else array.astype(dtype)
    np.save(tmp_path / "in.npy", array)
    ok(run("identity", tmp_path / "in.npy", tmp_path / "out.npy"))
    assert np.load(tmp_path / "out.npy").dtype == array.dtype
    assert np.array_equal(np.load(tmp_path / "out.npy"), array)
    result = run("identity", tmp_path / "in.npy", tmp_path / "out.png")
    if dtype == "bool":  # samples 0 and 1, as 8-bit grey: kept as they are
        assert result.exit_code == 0 and np.array_equal(read_back(tmp_path / "out.png"), array.astype(np.uint8))
    else:
        assert_one_line_error(result, 1, "TIFF or .npy")
        ok(run("identity", tmp_path / "in.npy", tmp_path / "out.tif"))
        assert np.array_equal(read_back(tmp_path / "out.tif"), array)
        assert read_back(tmp_path / "out.tif").dtype == array.dtype


def test_integer_npy_blurred_to_npy_is_the_documented_raw_result(tmp_path, camera):
    """docs/guides/filters.md: .npy outputs hold the raw result, float32 for 8- and 16-bit samples,
    float64 for wider integers."""
    for dtype, work in ((np.uint8, np.float32), (np.int16, np.float32), (np.int32, np.float64)):
        array = camera[:H, :W].astype(dtype)
        np.save(tmp_path / "in.npy", array)
        ok(run("blur", "-s", 2, tmp_path / "in.npy", tmp_path / "out.npy"))
        result = np.load(tmp_path / "out.npy")
        assert result.dtype == work
        np.testing.assert_allclose(result, gaussian(array, 2), rtol=0, atol=1e-3)


# ---------------------------------------------------------------- 2. orientation

T = Image.Transpose
# For each EXIF orientation, the transposition that turns the upright image into the
# stored pixels (the inverse of what a viewer does).
STORED_FROM_UPRIGHT = {1: None, 2: T.FLIP_LEFT_RIGHT, 3: T.ROTATE_180, 4: T.FLIP_TOP_BOTTOM, 5: T.TRANSPOSE,
                       6: T.ROTATE_90, 7: T.TRANSVERSE, 8: T.ROTATE_270}
SAVE_OPTIONS = {"png": {}, "jpg": {"quality": 95}, "webp": {"lossless": True}, "tiff": {}}


@pytest.fixture(scope="module")
def upright(chelsea):
    return np.ascontiguousarray(chelsea[60:100, 140:196])  # 40 x 56, not square


@pytest.fixture(scope="module")
def upright_edges(upright, tmp_path_factory):
    """`imgconv sobel -d x` of the upright crop (checked against scipy once, here)."""
    folder = tmp_path_factory.mktemp("upright")
    Image.fromarray(upright).save(folder / "up.png")
    ok(run("sobel", "-d", "x", folder / "up.png", folder / "edges.png"))
    edges = read_back(folder / "edges.png")
    assert_rounded_from(edges, sobel_x_shown(upright), slack=0.01)
    return edges


def oriented_file(path, upright, orientation, ext):
    stored = Image.fromarray(upright)
    if STORED_FROM_UPRIGHT.get(orientation) is not None:
        stored = stored.transpose(STORED_FROM_UPRIGHT[orientation])
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    exif[MAKE_TAG] = MAKE
    stored.save(path, exif=exif, **SAVE_OPTIONS[ext])
    return path, np.asarray(stored)


def tags(path):
    """(orientation, make) as stored: tifffile for TIFF (Pillow turns TIFFs on loading), else Pillow."""
    if Path(path).suffix == ".tiff":
        with tifffile.TiffFile(path) as tiff:
            page = tiff.pages[0]

            def value(code):
                return page.tags[code].value if code in page.tags else None

            orientation = value(ORIENTATION_TAG)
            return (None if orientation is None else int(orientation)), value(MAKE_TAG)
    with Image.open(path) as image:
        exif = image.getexif()
        return exif.get(ORIENTATION_TAG), exif.get(MAKE_TAG)


def stored_shape(path):
    """(height, width) of the stored pixels, as the file has them."""
    if Path(path).suffix == ".tiff":
        return tifffile.imread(path).shape[:2]
    with Image.open(path) as image:
        return image.size[::-1]


ORIENTED = [("png", o) for o in range(1, 9)] + [("jpg", o) for o in range(1, 9)] + [("webp", 6), ("tiff", 8),
                                                                                      ("tiff", 5)]


@pytest.mark.parametrize("ext, orientation", ORIENTED)
def test_orientation_is_applied(tmp_path, upright, upright_edges, ext, orientation):
    source, _ = oriented_file(tmp_path / f"in.{ext}", upright, orientation, ext)
    with Image.open(source) as image:
        shown = np.asarray(ImageOps.exif_transpose(image))
    if ext == "jpg":
        assert shown.shape == upright.shape
        Image.fromarray(shown).save(tmp_path / "shown.png")  # the same decoder's pixels, turned by Pillow
        ok(run("sobel", "-d", "x", tmp_path / "shown.png", tmp_path / "expected.png"))
        expected = read_back(tmp_path / "expected.png")
    else:
        assert np.array_equal(shown, upright)
        expected = upright_edges
    assert tags(source) == (orientation, MAKE)
    ok(run("sobel", "-d", "x", source, tmp_path / "out.png"))
    assert np.array_equal(read_back(tmp_path / "out.png"), expected)
    same_format = tmp_path / f"out.{ext}"
    ok(run("sobel", "-d", "x", source, same_format))
    orientation_out, make = tags(same_format)
    assert orientation_out in (None, 1) and make == MAKE
    assert stored_shape(same_format) == upright.shape[:2]


@pytest.mark.parametrize("ext", ["png", "tiff"])
@pytest.mark.parametrize("orientation", [0, 9, 65535])
def test_an_orientation_outside_1_to_8_turns_nothing_and_is_kept(tmp_path, upright, ext, orientation):
    """As Pillow's exif_transpose: 9 and up were turned as 5 to 8 are (transposed)."""
    source, stored = oriented_file(tmp_path / f"in.{ext}", upright, orientation, ext)
    assert np.array_equal(stored, upright)
    out = tmp_path / f"out.{ext}"
    ok(run("sobel", "-d", "x", source, out))
    assert stored_shape(out) == upright.shape[:2] and tags(out) == (orientation, MAKE)
    assert_rounded_from(read_back(out), sobel_x_shown(upright), slack=0.01)


def test_an_orientation_of_another_type_turns_nothing(tmp_path, upright):
    """A JPEG whose orientation tag says BYTE instead of SHORT: Pillow reads it as bytes,
    which raised a TypeError (a traceback). It turns nothing; written
    back, its EXIF is refused in one line that names --strip, which leaves it out."""
    source, _ = oriented_file(tmp_path / "in.jpg", upright, 6, "jpg")
    data = source.read_bytes()
    entry = struct.pack(">HHI", ORIENTATION_TAG, 3, 1)  # tag, SHORT, one value (Pillow writes big-endian)
    assert data.count(entry) == 1
    source.write_bytes(data.replace(entry, struct.pack(">HHI", ORIENTATION_TAG, 1, 1)))
    assert tags(source)[0] == b"\x00"  # the first byte of the big-endian SHORT 6
    refused = run("sobel", "-d", "x", source, tmp_path / "out.jpg")
    assert refused.exit_code == 1 and "--strip" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "out.jpg").exists()
    ok(run("sobel", "-d", "x", "--strip", source, tmp_path / "out.jpg"))
    assert stored_shape(tmp_path / "out.jpg") == stored_shape(source)  # not turned


@pytest.mark.parametrize("ext", ["png", "jpg", "webp", "tiff"])
def test_no_auto_orient_keeps_stored_pixels_and_tag(tmp_path, upright, ext):
    source, stored = oriented_file(tmp_path / f"in.{ext}", upright, 6, ext)
    assert stored.shape[:2] == upright.shape[1::-1]
    out = tmp_path / f"out.{ext}"
    ok(run("sobel", "-d", "x", "--no-auto-orient", source, out))
    assert stored_shape(out) == stored.shape[:2]
    assert tags(out) == (6, MAKE)
    if ext == "png":
        assert_rounded_from(read_back(out), sobel_x_shown(stored), slack=0.01)


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_side_by_side_of_an_oriented_photo(tmp_path, upright, ext):
    source, _ = oriented_file(tmp_path / f"in.{ext}", upright, 6, ext)
    ok(run("blur", "-s", 1, "--view", "side-by-side", source, tmp_path / "out.png"))
    pixels = read_back(tmp_path / "out.png")
    assert pixels.shape == (upright.shape[0], 2 * upright.shape[1] + 4, 3)
    if ext == "png":
        assert np.array_equal(pixels[:, : upright.shape[1]], upright)


@pytest.mark.parametrize("fmt", ["png", "tiff"])
@pytest.mark.parametrize("mode", DEEP_MODES)
def test_16_bit_orientation(tmp_path, deep, mode, fmt):
    up = deep[mode][:40, :56]
    stored = np.ascontiguousarray(np.rot90(up, 1))  # orientation 6: shown turned 90 degrees clockwise
    if fmt == "png":
        exif = Image.Exif()
        exif[ORIENTATION_TAG] = 6
        (tmp_path / "in.png").write_bytes(png_with_exif(imagecodecs.png_encode(stored), exif.tobytes()))
    else:
        write_tiff(tmp_path / "in.tiff", stored, extratags=[(ORIENTATION_TAG, "H", 1, 6, True)])
    ok(run("identity", tmp_path / f"in.{fmt}", tmp_path / f"out.{fmt}"))
    pixels = read_back(tmp_path / f"out.{fmt}")
    assert pixels.shape == up.shape, f"stored {stored.shape}, upright {up.shape}"
    assert np.array_equal(pixels, up)
    assert tags(tmp_path / f"out.{fmt}")[0] in (None, 1)


# ---------------------------------------------------------------- 3. JPEG and WebP quality


def pillow_jpeg(array, **options):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", **options)
    buffer.seek(0)
    image = Image.open(buffer)
    return image.quantization, JpegImagePlugin.get_sampling(image)


@pytest.fixture(scope="module")
def q96(chelsea, tmp_path_factory):
    path = tmp_path_factory.mktemp("jpeg") / "q96.jpg"
    Image.fromarray(chelsea).save(path, quality=96, subsampling=0)
    with Image.open(path) as image:
        assert JpegImagePlugin.get_sampling(image) == 0
        return path, image.quantization


def test_jpeg_keeps_the_inputs_tables_and_subsampling(tmp_path, q96):
    source, tables = q96
    out = tmp_path / "out.jpg"
    ok(run("blur", "-s", 1, source, out))
    sizes = f"input {source.stat().st_size} bytes, output {out.stat().st_size} bytes"
    with Image.open(out) as image:
        assert image.quantization == tables, sizes
        assert JpegImagePlugin.get_sampling(image) == 0, sizes


def test_jpeg_keeps_a_420_inputs_subsampling(tmp_path, chelsea):
    Image.fromarray(chelsea).save(tmp_path / "in.jpg", quality=75, subsampling=2)
    ok(run("blur", "-s", 1, tmp_path / "in.jpg", tmp_path / "out.jpg"))
    with Image.open(tmp_path / "out.jpg") as image, Image.open(tmp_path / "in.jpg") as original:
        assert JpegImagePlugin.get_sampling(image) == 2 and image.quantization == original.quantization


def test_jpeg_quality_option_replaces_the_tables(tmp_path, q96, chelsea):
    source, tables = q96
    ok(run("blur", "-s", 1, "--quality", 50, source, tmp_path / "out.jpg"))
    with Image.open(tmp_path / "out.jpg") as image:
        assert image.quantization == pillow_jpeg(chelsea, quality=50)[0] != tables
        assert JpegImagePlugin.get_sampling(image) == 0  # subsampling still the input's


def test_jpeg_subsampling_option(tmp_path, q96):
    source, tables = q96
    ok(run("blur", "-s", 1, "--subsampling", "4:2:0", source, tmp_path / "out.jpg"))
    with Image.open(tmp_path / "out.jpg") as image:
        assert JpegImagePlugin.get_sampling(image) == 2 and image.quantization == tables


@pytest.mark.slow
def test_jpeg_tables_of_16_bits_are_written_baseline_without_a_word(tmp_path, chelsea):
    """libjpeg writes steps above 255 as an extended (SOF1) JPEG and prints "Caution:
    quantization tables are too coarse for baseline JPEG" on stderr, from C: the real
    command's stderr is checked. Such a step is written as 255 (docs/guides/images.md)."""
    import subprocess
    import sys

    tables = [[min(8 + 7 * k, 1000) for k in range(64)], [min(12 + 9 * k, 1000) for k in range(64)]]
    Image.fromarray(chelsea).save(tmp_path / "in.jpg", qtables=tables, subsampling=0)
    with Image.open(tmp_path / "in.jpg") as image:
        assert max(max(t) for t in image.quantization.values()) > 255  # the input really has 16-bit steps
    result = subprocess.run([sys.executable, "-m", "imgconv", "identity", tmp_path / "in.jpg", tmp_path / "out.jpg"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert (result.returncode, result.stderr, result.stdout) == (0, "", "")
    data = (tmp_path / "out.jpg").read_bytes()
    assert b"\xff\xc0" in data and b"\xff\xc1" not in data  # baseline, not extended
    with Image.open(tmp_path / "out.jpg") as image:
        assert image.quantization == {index: [min(step, 255) for step in table] for index, table in enumerate(tables)}


def test_jpeg_from_png_is_q92_444(tmp_path, chelsea):
    Image.fromarray(chelsea).save(tmp_path / "in.png")
    ok(run("blur", "-s", 1, tmp_path / "in.png", tmp_path / "out.jpg"))
    with Image.open(tmp_path / "out.jpg") as image:
        assert image.quantization == pillow_jpeg(chelsea, quality=92)[0]
        assert JpegImagePlugin.get_sampling(image) == 0


def test_lossless_webp_stays_lossless(tmp_path, eight):
    for mode in ("RGB", "RGBA"):
        Image.fromarray(eight[mode]).save(tmp_path / "in.webp", lossless=True)
        assert b"VP8L" in webp_chunks((tmp_path / "in.webp").read_bytes())
        ok(run("identity", tmp_path / "in.webp", tmp_path / "out.webp"))
        kinds = webp_chunks((tmp_path / "out.webp").read_bytes())
        assert b"VP8L" in kinds and b"VP8 " not in kinds, (mode, kinds)
        with Image.open(tmp_path / "out.webp") as image, Image.open(tmp_path / "in.webp") as original:
            assert np.array_equal(np.asarray(image), np.asarray(original)), mode
    ok(run("identity", "--quality", 80, tmp_path / "in.webp", tmp_path / "lossy.webp"))
    assert b"VP8 " in webp_chunks((tmp_path / "lossy.webp").read_bytes())


def test_webp_from_png_is_lossy(tmp_path, eight):
    Image.fromarray(eight["RGB"]).save(tmp_path / "in.png")
    ok(run("identity", tmp_path / "in.png", tmp_path / "out.webp"))
    kinds = webp_chunks((tmp_path / "out.webp").read_bytes())
    assert b"VP8 " in kinds and b"VP8L" not in kinds, kinds


# ---------------------------------------------------------------- 4. frames and pages

DURATIONS = [100, 200, 300]
ANIMATION = {  # what each input is saved with, and read back as
    "gif": {"loop": 0, "disposal": [1, 2, 1]},
    "png": {"loop": 2, "disposal": [0, 1, 0]},
    "webp": {"loop": 3, "lossless": True},
    "tiff": {},
}


@pytest.fixture(scope="module")
def animations(chelsea, tmp_path_factory):
    """3-frame GIF, APNG, lossless WebP and 3-page TIFF from different crops and turns of the photo."""
    folder = tmp_path_factory.mktemp("frames")
    frames = [chelsea[40 : 40 + H, 100 : 100 + W], np.rot90(chelsea[150 : 150 + W, 250 : 250 + H]),
              chelsea[200 : 200 + H, 300 : 300 + W][::-1]]
    images = [Image.fromarray(np.ascontiguousarray(f)) for f in frames]
    paths = {}
    for ext, options in ANIMATION.items():
        paths[ext] = folder / f"in.{ext}"
        timing = {} if ext == "tiff" else {"duration": DURATIONS}
        images[0].save(paths[ext], save_all=True, append_images=images[1:], **timing, **options)
    return paths


def animation_info(path):
    with Image.open(path) as image:
        durations, disposals = [], []
        for index in range(image.n_frames):
            image.seek(index)
            image.load()
            durations.append(image.info.get("duration"))
            disposals.append(getattr(image, "disposal_method", image.info.get("disposal")))
        return image.n_frames, durations, disposals, image.info.get("loop")


def frames_of(path):
    """Every frame as displayed, by independent decoders: (N, H, W, 3)."""
    suffix = Path(path).suffix
    if suffix == ".png":
        return imagecodecs.apng_decode(Path(path).read_bytes())
    if suffix == ".tiff":
        with tifffile.TiffFile(path) as tiff:
            return np.stack([page.asarray() for page in tiff.pages])
    with Image.open(path) as image:
        out = []
        for index in range(image.n_frames):
            image.seek(index)
            out.append(np.asarray(image.convert("RGB")))
        return np.stack(out)


def test_frame_durations_a_format_cannot_store_are_refused_before_filtering(tmp_path, chelsea):
    """WebP holds a frame of 8,388,607 ms; GIF's delay (16 bits of 10 ms) and APNG's
    (a fraction of 16-bit numbers) cannot, and Pillow's writers raised an OverflowError
    and a ValueError after the filtering. A 70 s frame, 70/1 s, is
    one APNG can store."""
    frames = [Image.fromarray(np.ascontiguousarray(chelsea[:H, i * W : (i + 1) * W])) for i in range(3)]
    frames[0].save(tmp_path / "long.webp", save_all=True, append_images=frames[1:], duration=[100, 8388607, 100],
                   lossless=True)
    for ext, fmt in (("gif", "GIF"), ("png", "PNG")):
        result = run("blur", "-s", 1, tmp_path / "long.webp", tmp_path / f"out.{ext}")
        line = result.stderr.strip()
        assert result.exit_code == 1 and len(line.splitlines()) == 1 and "Traceback" not in line
        assert f"lasts 8388607 ms, which {fmt} cannot store" in line and "write WebP" in line, line
        assert not (tmp_path / f"out.{ext}").exists()
    ok(run("blur", "-s", 1, tmp_path / "long.webp", tmp_path / "out.webp"))
    assert animation_info(tmp_path / "out.webp")[1] == [100, 8388607, 100]
    frames[0].save(tmp_path / "slow.gif", save_all=True, append_images=frames[1:], duration=[100, 70000, 100])
    ok(run("blur", "-s", 1, tmp_path / "slow.gif", tmp_path / "slow.png"))
    assert animation_info(tmp_path / "slow.png")[1] == [100, 70000, 100]


def test_a_gif_frame_without_a_delay_gets_0_and_the_others_keep_theirs(tmp_path, animations):
    """A GIF frame without a Graphic Control Extension has no delay: Pillow gives it no
    duration, and its writer then indexed a list one short (IndexError, a traceback).
    That frame gets 0, the others keep theirs."""
    data = animations["gif"].read_bytes()
    extensions = [found.start() for found in re.finditer(b"\x21\xf9\x04", data)]
    assert len(extensions) == 3  # one per frame: introducer, label, block size 4, 4 bytes, terminator
    source = tmp_path / "in.gif"
    source.write_bytes(data[: extensions[1]] + data[extensions[1] + 8 :])
    assert animation_info(source)[:2] == (3, [100, None, 300])
    out = tmp_path / "out.gif"
    ok(run("blur", "-s", 2, source, out))
    count, durations, _, loop = animation_info(out)
    assert count == 3 and durations == [100, 0, 300] and loop == 0


@pytest.mark.parametrize("ext", list(ANIMATION))
def test_frames_keep_count_timing_and_pixels(tmp_path, animations, ext):
    source = animations[ext]
    count, _, disposals, _ = animation_info(source)
    assert count == 3
    out = tmp_path / f"out.{ext}"
    ok(run("blur", "-s", 2, source, out))
    got_count, got_durations, got_disposals, got_loop = animation_info(out)
    assert got_count == 3
    if ext != "tiff":
        assert [int(d) for d in got_durations] == DURATIONS and got_loop == ANIMATION[ext]["loop"]
    if ext in ("gif", "png"):
        # The frames are whole pictures as displayed: each replaces the one before
        # (GIF: kept, not disposed of; APNG: disposed NONE), whatever the input did.
        assert disposals == ANIMATION[ext]["disposal"]  # the input really has them
        assert got_disposals == {"gif": [1, 1, 1], "png": [0, 0, 0]}[ext]
    if ext == "webp":
        kinds = webp_chunks(out.read_bytes())
        assert b"VP8L" in kinds and b"VP8 " not in kinds, kinds
    written = frames_of(out)
    assert written.shape == (3, H, W, 3)
    for index in range(3):
        single = tmp_path / f"frame{index}.png"
        ok(run("blur", "-s", 2, "--frame", index, source, single))
        expected = read_back(single)
        if ext == "gif":  # re-quantised to 256 colours a frame
            error = np.abs(written[index].astype(int) - expected)
            assert error.mean() <= 2 and error.max() <= 24, (index, error.mean(), error.max())
        else:
            assert np.array_equal(written[index], expected), index


@pytest.mark.parametrize("ext", list(ANIMATION))
def test_one_frame_matches_scipy(tmp_path, animations, ext):
    source = animations[ext]
    ok(run("blur", "-s", 2, "--frame", 1, source, tmp_path / "out.png"))
    displayed = frames_of(source)[1]
    assert not np.array_equal(displayed, frames_of(source)[0])
    assert_rounded_from(read_back(tmp_path / "out.png"), gaussian(displayed, 2))


@pytest.mark.parametrize("single", [".jpg", ".bmp"])
@pytest.mark.parametrize("ext", list(ANIMATION))
def test_frames_to_a_single_frame_format_are_refused(tmp_path, animations, ext, single):
    result = run("blur", "-s", 2, animations[ext], tmp_path / f"out{single}")
    assert_one_line_error(result, 1, "--frame")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("ext", list(ANIMATION))
def test_a_frame_that_does_not_exist(tmp_path, animations, ext):
    result = run("blur", "-s", 2, "--frame", 9, animations[ext], tmp_path / "out.png")
    assert_one_line_error(result, 2, "--frame 9")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("ext", list(ANIMATION))
def test_frames_to_npy(tmp_path, animations, ext):
    ok(run("blur", "-s", 2, animations[ext], tmp_path / "out.npy"))
    array = np.load(tmp_path / "out.npy")
    assert array.shape == (3, H, W, 3) and array.dtype == np.float32
    for index, frame in enumerate(frames_of(animations[ext])):
        np.testing.assert_allclose(array[index], gaussian(frame, 2), atol=2e-3)


# ---------------------------------------------------------------- 5. many channels


@pytest.fixture(scope="module")
def channels(chelsea, camera):
    """Seven channels from the photographs, and five of them as uint8."""
    crop, grey = chelsea[100 : 100 + H, 200 : 200 + W], camera[50 : 50 + H, 300 : 300 + W]
    noise = np.random.default_rng(7).random((H, W)) * 255
    stack = np.dstack([crop, grey, 255 - grey, crop.mean(axis=2), noise])
    return {7: (stack / 255).astype(np.float32), 5: stack[..., :5].astype(np.uint8)}


@pytest.mark.parametrize("count", [7, 5])
def test_many_channels_are_filtered_one_by_one(tmp_path, channels, count):
    array = channels[count]
    np.save(tmp_path / "in.npy", array)
    ok(run("blur", "-s", 1, tmp_path / "in.npy", tmp_path / "out.npy"))
    result = np.load(tmp_path / "out.npy")
    assert result.shape == array.shape and result.dtype == np.float32
    np.testing.assert_allclose(result, gaussian(array, 1), atol=1e-5 * float(array.max()))


@pytest.mark.parametrize("count", [7, 5])
def test_many_channels_cannot_be_an_image(tmp_path, channels, count):
    np.save(tmp_path / "in.npy", channels[count])
    result = run("blur", "-s", 1, tmp_path / "in.npy", tmp_path / "out.png")
    assert_one_line_error(result, 1, f"{count} channels", "only .npy can hold them")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npy"]


# ---------------------------------------------------------------- 6. formats

IMAGE_FORMATS = [f for f in formats.available() if f != formats.NPY]
# docs/guides/images.md: "JPEG, lossy WebP and AVIF lose detail by design" and GIF is re-quantised; the
# others are lossless (Pillow writes JPEG 2000 reversibly unless asked otherwise).
LOSSLESS = {"PNG", "TIFF", "BMP", "TGA", "QOI", "PPM", "JPEG2000"}


@pytest.mark.parametrize("fmt", IMAGE_FORMATS)
def test_identity_to_every_format(tmp_path, eight, fmt):
    array = eight["RGB"]
    Image.fromarray(array).save(tmp_path / "in.png")
    out = tmp_path / f"out{formats.available()[fmt][0]}"
    ok(run("identity", tmp_path / "in.png", out))
    with Image.open(out) as image:
        assert image.format == fmt and image.size == (W, H)
        pixels = np.asarray(image.convert("RGB"))
    if fmt in LOSSLESS:
        assert np.array_equal(pixels, array)
    else:  # lossy or re-quantised: close on average
        error = np.abs(pixels.astype(int) - array).mean()
        assert error < 4, error


def with_alpha(array, kind):
    """``array`` with its alpha made binary (0 or 255, all that GIF can store) or kept graded
    (the photo's levels, with a fully transparent and a fully opaque block)."""
    if kind == "binary" and has_alpha(array):
        array = array.copy()
        array[..., -1] = np.where(_alpha_mask(array.shape[:2]), 255, 0)
    return array


# Formats whose alpha imgconv writes itself, Pillow's writer losing it (`imgconv.io.bmp_write`).
OWN_ALPHA_WRITERS = {"BMP"}


def pillow_keeps(fmt, mode, array):
    """Pillow (imgconv, for `OWN_ALPHA_WRITERS`) writes ``mode`` as ``fmt``, and Pillow
    reads back its colour and its alpha."""
    buffer = io.BytesIO()
    try:
        if fmt in OWN_ALPHA_WRITERS:
            buffer.write(encode_image([array], Picture([array], mode, "PNG"), fmt))
        else:
            Image.fromarray(array).save(buffer, format=fmt)
    except (OSError, ValueError, KeyError, TypeError):
        return False
    buffer.seek(0)
    with Image.open(buffer) as image:
        image.load()
        colour_kept = "RGB" not in mode or image.mode not in ("L", "LA", "I", "I;16", "1")
        alpha_kept = ("A" in mode) == image.has_transparency_data
    return colour_kept and alpha_kept


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
@pytest.mark.parametrize("fmt", IMAGE_FORMATS)
def test_holds_table_agrees_with_pillow(eight, fmt, mode):
    """Pillow accepting a mode is not enough: PPM takes RGBA and drops the alpha without a
    word, so "holds" here means Pillow writes it and reads the same channels back. Alpha
    is binary, which even GIF can store."""
    keeps = pillow_keeps(fmt, mode, with_alpha(eight[mode], "binary"))
    assert keeps == (mode in formats.FORMATS[fmt].holds), (
        f"FORMATS[{fmt!r}].holds {'lacks' if keeps else 'has'} {mode}, but Pillow {'keeps' if keeps else 'loses'} it")


ALPHA_CASES = [(fmt, mode) for fmt in IMAGE_FORMATS for mode in ("LA", "RGBA") if mode in formats.FORMATS[fmt].holds]


@pytest.mark.parametrize("kind", ["binary", "graded"])
@pytest.mark.parametrize("fmt, mode", ALPHA_CASES)
def test_alpha_survives_every_format_said_to_hold_it(tmp_path, eight, fmt, mode, kind):
    """'imgconv never drops alpha silently': a format it writes alpha to keeps it. Where
    the format is lossy or holds one level (GIF), at least the fully transparent pixels
    stay transparent and the opaque ones opaque."""
    array = with_alpha(eight[mode], kind)
    Image.fromarray(array).save(tmp_path / "in.png")
    out = tmp_path / f"out{formats.available()[fmt][0]}"
    ok(run("identity", tmp_path / "in.png", out))
    alpha = array[..., -1]
    with Image.open(out) as image:
        assert image.has_transparency_data, f"{fmt} output of {mode} has no alpha ({image.mode})"
        pixels = np.asarray(image.convert(mode))
    clear, opaque = alpha == 0, alpha == 255
    assert clear.any() and opaque.any()
    assert (pixels[..., -1][clear] < 128).all() and (pixels[..., -1][opaque] >= 128).all(), (
        f"{(pixels[..., -1][clear] >= 128).sum()} of {clear.sum()} transparent pixels became visible")
    if fmt in LOSSLESS:
        visible = alpha > 0
        assert np.array_equal(pixels[..., -1], alpha) and np.array_equal(pixels[visible], array[visible])


@pytest.mark.skipif(not features.check("avif") and not os.environ.get("CI"),
                    reason="Pillow built without AVIF (PyPI's wheels have it, and CI must)")
def test_format_option_writes_avif(tmp_path, eight):
    Image.fromarray(eight["RGB"]).save(tmp_path / "in.png")
    result = ok(run("identity", "--format", "avif", tmp_path / "in.png", "-"))
    assert result.stdout_bytes[4:12] == b"ftypavif"
    ok(run("identity", "--format", "avif", tmp_path / "in.png", tmp_path / "no-extension"))
    for data in (result.stdout_bytes, (tmp_path / "no-extension").read_bytes()):
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "AVIF" and image.size == (W, H)
            assert np.abs(np.asarray(image.convert("RGB")).astype(int) - eight["RGB"]).mean() < 4


def test_unknown_format_option(tmp_path):
    result = run("identity", "--format", "nosuch", SAMPLES / "camera.png", tmp_path / "out")
    assert_one_line_error(result, 2, "nosuch")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- 7. metadata

XMP = (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
       b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
       b'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>imgconv fidelity</dc:creator>'
       b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')
GPS = {1: "N", 2: (52.0, 22.0, 0.0)}
COMMENT = b"imgconv fidelity comment"


def xmp_of(image):
    xmp = image.info.get("xmp")
    return xmp.encode() if isinstance(xmp, str) else xmp


@pytest.fixture(scope="module")
def tagged_jpeg(chelsea, tmp_path_factory):
    """A JPEG photo with an ICC profile, EXIF (a Make and a GPS position), XMP and a comment."""
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[MAKE_TAG] = MAKE
    exif.get_ifd(GPS_IFD).update(GPS)
    path = tmp_path_factory.mktemp("metadata") / "in.jpg"
    Image.fromarray(chelsea[:H, :W]).save(path, quality=95, icc_profile=icc, exif=exif, xmp=XMP, comment=COMMENT)
    with Image.open(path) as image:
        assert image.info["icc_profile"] == icc and xmp_of(image) == XMP and image.info["comment"] == COMMENT
        assert image.getexif().get(MAKE_TAG) == MAKE and dict(image.getexif().get_ifd(GPS_IFD)) == GPS
    return path, icc


@pytest.mark.parametrize("ext", ["jpg", "png", "webp", "tiff"])
def test_metadata_is_kept(tmp_path, tagged_jpeg, ext):
    source, icc = tagged_jpeg
    out = tmp_path / f"out.{ext}"
    ok(run("blur", "-s", 1, source, out))
    with Image.open(out) as image:
        exif = image.getexif()
        kept = {"icc": image.info.get("icc_profile") == icc, "make": exif.get(MAKE_TAG) == MAKE,
                "gps": dict(exif.get_ifd(GPS_IFD)) == GPS, "xmp": xmp_of(image) == XMP}
        if ext == "jpg":
            kept["comment"] = image.info.get("comment") == COMMENT
    assert all(kept.values()), f"lost in {ext}: {[k for k, v in kept.items() if not v]}"


@pytest.mark.parametrize("ext", ["jpg", "png", "webp", "tiff"])
def test_strip_drops_exif_and_xmp_and_keeps_icc(tmp_path, tagged_jpeg, ext):
    source, icc = tagged_jpeg
    out = tmp_path / f"out.{ext}"
    ok(run("blur", "-s", 1, "--strip", source, out))
    with Image.open(out) as image:
        exif = image.getexif()
        assert image.info.get("icc_profile") == icc
        assert xmp_of(image) is None and "comment" not in image.info
        assert not exif.get_ifd(GPS_IFD) and GPS_IFD not in exif and EXIF_IFD not in exif and MAKE_TAG not in exif
        if ext != "tiff":  # a TIFF's own layout tags show up as EXIF in Pillow
            assert len(exif) == 0, dict(exif)
    assert MAKE.encode() not in out.read_bytes()


# ---------------------------------------------------------------- 8. messages in words

PILLOW_CODES = ["I;16", "I;16B", "I;16L", "RGB;16", "LA;16", "RGBA;16", "RGBA", "RGBa", "RGBX", "LA", "La", "PA",
                "CMYK", "YCbCr", "P", "F", "I", "L"]


def assert_in_words(line):
    for code in PILLOW_CODES:
        assert not re.search(rf"(?<![\w;]){re.escape(code)}(?![\w;])", line), (code, line)
    parts = [p.strip().lower() for p in re.split(r"[;:.]\s+|\s+\(|\)", line) if p.strip()]
    repeated = {p for p in parts if parts.count(p) > 1}
    assert not repeated, (repeated, line)


@pytest.fixture
def refusals(tmp_path, deep, eight, animations, channels):
    write_png16(tmp_path / "rgb16.png", deep["RGB"])
    write_png16(tmp_path / "rgba16.png", deep["RGBA"])
    write_tiff(tmp_path / "la16.tiff", deep["grey+alpha"])
    Image.fromarray(eight["RGBA"]).save(tmp_path / "rgba.png")
    Image.fromarray(eight["LA"]).save(tmp_path / "la.png")
    np.save(tmp_path / "seven.npy", channels[7])
    return tmp_path


@pytest.mark.parametrize("source, target, fragments", [
    ("rgb16.png", "out.jpg", ["16-bit RGB", "--depth 8"]),
    ("rgba16.png", "out.jpg", ["16-bit RGB with alpha"]),
    ("la16.tiff", "out.webp", ["16-bit grey with alpha", "--depth 8"]),
    ("rgba.png", "out.jpg", ["8-bit RGB with alpha"]),
    ("la.png", "out.qoi", ["8-bit grey with alpha"]),
    ("rgba.png", "out.ppm", ["8-bit RGB with alpha"]),
    ("gif", "out.jpg", ["3 frames", "--frame"]),
    ("png", "out.bmp", ["3 frames", "--frame"]),
    ("seven.npy", "out.png", ["7 channels"]),
])
def test_refusals_are_in_words(refusals, animations, source, target, fragments):
    source = animations[source] if source in animations else refusals / source
    result = run("blur", "-s", 1, source, refusals / target)
    assert_one_line_error(result, 1, *fragments)
    assert_in_words(result.stderr.splitlines()[0])
    assert not (refusals / target).exists()


def test_refusals_in_a_batch_are_in_words(tmp_path, deep, eight):
    folder = tmp_path / "in"
    folder.mkdir()
    write_png16(folder / "rgb16.png", deep["RGB"])
    Image.fromarray(eight["RGBA"]).save(folder / "rgba.png")
    result = run("blur", "-s", 1, "--format", "jpg", folder, tmp_path / "out")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("imgconv: error: ")]
    assert len(errors) == 2 and "Traceback" not in result.stderr
    for line in errors:
        assert_in_words(line)
    assert not list((tmp_path / "out").iterdir())


@pytest.mark.parametrize("output", ["out.gif", "out.png", "out.webp", "out.npy"])
def test_pages_of_different_sizes_are_kept_in_tiff_and_refused_where_one_size_must_hold(tmp_path, output):
    # WebP had failed with a traceback; GIF and PNG had padded the small page
    # to the first one's size.
    pages = [np.full((16, 24, 3), 40 * i, np.uint8) for i in range(2)] + [np.full((1, 24, 3), 200, np.uint8)]
    with tifffile.TiffWriter(tmp_path / "in.tif") as tiff:
        for page in pages:
            tiff.write(page, photometric="rgb")
    result = run("identity", tmp_path / "in.tif", tmp_path / output)
    assert_one_line_error(result, 1, output, "frames differ in size (24x16, 24x1)", "write TIFF")
    assert not (tmp_path / output).exists()
    assert run("identity", tmp_path / "in.tif", tmp_path / "out.tif").exit_code == 0
    with tifffile.TiffFile(tmp_path / "out.tif") as tiff:
        assert [np.array_equal(p.asarray(), want) for p, want in zip(tiff.pages, pages, strict=True)] == [True] * 3


@pytest.mark.parametrize("output, width, view", [("out.webp", 16400, "result"), ("out.avif", 16383, "side-by-side")])
def test_an_output_longer_than_its_format_holds_is_refused(tmp_path, output, width, view):
    # An AVIF 32770 pixels wide would be written, and no reader opens it.
    fmt = output[4:].upper()
    if fmt not in formats.available():
        pytest.skip(f"this Pillow writes no {fmt}")
    Image.fromarray(np.full((4, width), 90, np.uint8)).save(tmp_path / "in.png")
    result = run("identity", "--view", view, tmp_path / "in.png", tmp_path / output)
    assert_one_line_error(result, 1, output, "larger than", "pixels a side", "write PNG or TIFF")
    assert not (tmp_path / output).exists()
