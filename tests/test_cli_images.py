"""Images in and out through the real command: formats, modes, alpha, metadata, pipes."""

import io
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import SAMPLES, assert_one_line_error, assert_rounded_from, load, reference, run, save
from PIL import Image

from imgconv import InvalidInputError, kernels
from imgconv.filters import kernel_filter
from imgconv.io.write import EncodeOptions
from imgconv.options import WriteOptions
from imgconv.pipeline import process_file

BLUR = ["blur", "-r", "2", "-s", "1"]
GAUSS = kernels.gaussian(1, radius=2)


@pytest.fixture
def rgb(rng):
    # Smooth gradients plus noise: every rounding path gets exercised.
    y, x = np.mgrid[0:40, 0:50]
    base = np.stack([x * 5, y * 6, (x + y) * 2], axis=-1) + rng.integers(0, 20, (40, 50, 3))
    return np.clip(base, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("extension, lossless", [(".png", True), (".tiff", True), (".bmp", True), (".ppm", True),
                                                 (".webp", False), (".jpg", False)])
def test_rgb_round_trip_through_each_format(tmp_path, rgb, extension, lossless):
    source = save(tmp_path / f"in{extension}", rgb, **({"lossless": True} if extension == ".webp" else {}))
    out = tmp_path / f"out{extension}"
    assert run(*BLUR, source, out).exit_code == 0
    mode, pixels = load(out)
    assert mode == "RGB" and pixels.shape == rgb.shape
    expected = reference(load(source)[1], GAUSS)
    if lossless:
        assert_rounded_from(pixels, expected)
    else:  # lossy encoders: close, not exact
        assert np.abs(pixels - expected).mean() < 3


def test_grey_pgm_and_format_by_extension(tmp_path, camera):
    source = save(tmp_path / "in.pgm", camera)
    assert run(*BLUR, source, tmp_path / "out.png").exit_code == 0
    with Image.open(tmp_path / "out.png") as image:
        assert image.format == "PNG" and image.mode == "L"
        assert_rounded_from(np.asarray(image), reference(camera, GAUSS))


def test_gif_first_frame(tmp_path, camera):
    frames = [Image.fromarray(camera), Image.fromarray(255 - camera)]
    frames[0].save(tmp_path / "in.gif", save_all=True, append_images=frames[1:])
    assert run(*BLUR, tmp_path / "in.gif", tmp_path / "out.png").exit_code == 0
    mode, pixels = load(tmp_path / "out.png")
    first = np.asarray(Image.open(tmp_path / "in.gif").convert(mode))
    assert np.array_equal(first, camera)  # the first frame, not the second
    assert_rounded_from(pixels, reference(first, GAUSS))
    assert run(*BLUR, tmp_path / "in.gif", tmp_path / "out.gif").exit_code == 0
    assert Image.open(tmp_path / "out.gif").format == "GIF"


def test_format_option_and_input_format_fallback(tmp_path, camera):
    source = SAMPLES / "camera.png"
    assert run(*BLUR, "--format", "tiff", source, tmp_path / "noextension").exit_code == 0
    assert Image.open(tmp_path / "noextension").format == "TIFF"
    assert run(*BLUR, source, tmp_path / "also-noextension").exit_code == 0
    assert Image.open(tmp_path / "also-noextension").format == "PNG"
    # The extension wins over --format.
    assert run(*BLUR, "--format", "tiff", source, tmp_path / "x.bmp").exit_code == 0
    assert Image.open(tmp_path / "x.bmp").format == "BMP"


def test_jpeg_quality(tmp_path, rgb):
    source = save(tmp_path / "in.png", rgb)
    sizes = {}
    for quality in (20, 95):
        out = tmp_path / f"q{quality}.jpg"
        assert run(*BLUR, "--quality", quality, source, out).exit_code == 0
        sizes[quality] = out.stat().st_size
    assert sizes[20] < sizes[95]


def test_16_bit_grey_stays_16_bit(tmp_path, camera):
    deep = camera.astype(np.uint16) * 257 + 128
    source = save(tmp_path / "in.png", deep)
    assert Image.open(source).mode == "I;16"
    for extension in (".png", ".tiff"):
        assert run(*BLUR, source, tmp_path / f"out{extension}").exit_code == 0
        mode, pixels = load(tmp_path / f"out{extension}")
        assert mode == "I;16" and pixels.dtype == np.uint16
        assert_rounded_from(pixels, reference(deep, GAUSS), dtype=np.uint16, slack=0.05)


def test_16_bit_clips_to_its_own_range(tmp_path):
    deep = np.full((8, 8), 60000, np.uint16)
    source = save(tmp_path / "in.png", deep)
    assert run("sharpen", "-a", "1", source, tmp_path / "out.png").exit_code == 0
    assert load(tmp_path / "out.png")[1].max() == 60000  # flat: no overshoot, no 8-bit clip
    deep[4, 4] = 65000
    save(tmp_path / "in.png", deep)
    assert run("sharpen", source, tmp_path / "out.png").exit_code == 0
    assert load(tmp_path / "out.png")[1][4, 4] == 65535


def test_int32_and_float_tiff(tmp_path, camera):
    wide = camera.astype(np.int32) * 1000
    save(tmp_path / "i.tiff", wide)
    assert Image.open(tmp_path / "i.tiff").mode == "I"
    assert run(*BLUR, tmp_path / "i.tiff", tmp_path / "i-out.tiff").exit_code == 0
    mode, pixels = load(tmp_path / "i-out.tiff")
    assert mode == "I"
    assert np.abs(pixels - reference(wide, GAUSS)).max() <= 16  # float32 carries 24 bits
    floats = camera.astype(np.float32) / 255
    save(tmp_path / "f.tiff", floats)
    assert run("sobel", "-d", "x", tmp_path / "f.tiff", tmp_path / "f-out.tiff").exit_code == 0
    mode, pixels = load(tmp_path / "f-out.tiff")
    assert mode == "F"
    np.testing.assert_allclose(pixels, np.abs(reference(floats, kernels.sobel("x"), correlate=True)), atol=1e-5)


def test_palette_and_bilevel_inputs(tmp_path, rgb, camera):
    Image.fromarray(rgb).quantize(64).save(tmp_path / "p.png")
    assert run(*BLUR, tmp_path / "p.png", tmp_path / "p-out.png").exit_code == 0
    mode, pixels = load(tmp_path / "p-out.png")
    assert mode == "RGB"
    assert_rounded_from(pixels, reference(np.asarray(Image.open(tmp_path / "p.png").convert("RGB")), GAUSS))
    Image.fromarray(camera).convert("1").save(tmp_path / "b.png")
    assert run(*BLUR, tmp_path / "b.png", tmp_path / "b-out.png").exit_code == 0
    mode, pixels = load(tmp_path / "b-out.png")
    bilevel = np.asarray(Image.open(tmp_path / "b.png").convert("L"))
    assert mode == "L" and set(np.unique(bilevel)) == {0, 255}
    assert_rounded_from(pixels, reference(bilevel, GAUSS))


def _white_square_on_hidden_red(channels):
    """An opaque white square on a fully transparent background whose colour is red."""
    image = np.zeros((30, 30, channels), np.uint8)
    image[..., 0] = 255  # red (or grey 255) under transparent pixels
    image[10:20, 10:20, :-1] = 255
    image[10:20, 10:20, -1] = 255
    return image


def test_alpha_blur_does_not_bleed_hidden_colour(tmp_path):
    source = save(tmp_path / "in.png", _white_square_on_hidden_red(4))
    assert run("blur", "-s", "3", source, tmp_path / "out.png").exit_code == 0
    mode, pixels = load(tmp_path / "out.png")
    assert mode == "RGBA"
    visible = pixels[..., 3] > 0
    assert visible.sum() > 100  # the blur spread the square
    red, green, blue = (pixels[..., c][visible].astype(int) for c in range(3))
    # White stays white wherever anything shows: no red tint from hidden pixels.
    assert np.abs(red - green).max() <= 1 and np.abs(green - blue).max() <= 1 and green.min() >= 254
    # Alpha is filtered like a channel.
    assert_rounded_from(pixels[..., 3], reference(_white_square_on_hidden_red(4)[..., 3], kernels.gaussian(3)))


def test_alpha_colour_is_premultiplied_then_divided(tmp_path, rng):
    image = rng.integers(0, 256, (12, 14, 4)).astype(np.uint8)
    source = save(tmp_path / "in.png", image)
    assert run(*BLUR, source, tmp_path / "out.png").exit_code == 0
    alpha = image[..., 3:] / 255
    new_alpha = reference(image[..., 3], GAUSS)[..., None]
    colour = reference(image[..., :3] * alpha, GAUSS) / (new_alpha / 255)
    pixels = load(tmp_path / "out.png")[1]
    assert_rounded_from(pixels[..., 3], new_alpha[..., 0])
    assert_rounded_from(pixels[..., :3], colour, slack=0.01)


def test_grey_with_alpha_and_edge_detector_keeps_alpha(tmp_path):
    source = save(tmp_path / "in.png", _white_square_on_hidden_red(2))
    assert Image.open(source).mode == "LA"
    assert run("sobel", source, tmp_path / "out.png").exit_code == 0
    mode, pixels = load(tmp_path / "out.png")
    assert mode == "LA"
    assert np.array_equal(pixels[..., 1], _white_square_on_hidden_red(2)[..., 1])  # alpha kept
    assert pixels[10:20, 10, 0].min() > 0  # the square's edge shows


@pytest.mark.parametrize("extension", [".jpg", ".ppm"])
def test_opaque_alpha_is_dropped_where_the_format_has_none(tmp_path, rgb, extension):
    """Most screenshots and exported PNGs are RGBA with every pixel opaque: that alpha
    holds nothing, and the output is the RGB image's, byte for byte."""
    opaque = save(tmp_path / "opaque.png", np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]))
    plain = save(tmp_path / "plain.png", rgb)
    assert run(*BLUR, opaque, tmp_path / f"from-rgba{extension}").exit_code == 0
    assert run(*BLUR, plain, tmp_path / f"from-rgb{extension}").exit_code == 0
    assert (tmp_path / f"from-rgba{extension}").read_bytes() == (tmp_path / f"from-rgb{extension}").read_bytes()
    mode, pixels = load(tmp_path / f"from-rgba{extension}")
    assert mode == "RGB"
    if extension == ".ppm":
        assert_rounded_from(pixels, reference(rgb, GAUSS))


def test_opaque_grey_alpha_is_dropped_at_16_bits(tmp_path, camera):
    import tifffile

    grey = camera[:40, :50].astype(np.uint16) * 257 + 3
    tifffile.imwrite(tmp_path / "la16.tif", np.dstack([grey, np.full_like(grey, 65535)]), extrasamples=["unassalpha"])
    assert run(*BLUR, tmp_path / "la16.tif", tmp_path / "out.pgm").exit_code == 0  # PGM holds 16-bit grey, no alpha
    with open(tmp_path / "out.pgm", "rb") as pgm:
        assert pgm.read(2) == b"P5"  # grey, with no alpha
    pixels = load(tmp_path / "out.pgm")[1]
    assert pixels.max() > 255
    assert_rounded_from(pixels, reference(grey, GAUSS), np.uint16, slack=0.05)


def test_alpha_that_is_not_opaque_is_refused_naming_background(tmp_path, rgb):
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[0, 0] = 254
    source = save(tmp_path / "in.png", np.dstack([rgb, alpha]))
    result = run(*BLUR, source, tmp_path / "out.jpg")
    assert_one_line_error(result, 1, "out.jpg", "RGB with alpha", "not opaque", "--background COLOR", "write PNG")
    assert sorted(os.listdir(tmp_path)) == ["in.png"]


def straight_over(colour, alpha, background, peak=255):
    """colour * a + background * (1 - a), a = alpha / peak, in float64: the hand formula."""
    a = alpha.astype(np.float64)[..., None] / peak
    return colour * a + np.asarray(background, np.float64) * (1 - a)


def test_background_composites_each_pixel_as_by_hand(tmp_path):
    # Colour under alpha 0 is hidden, alpha 255 is the colour itself, the rest a mix.
    pixels = np.array([[[200, 10, 60, 128], [0, 255, 0, 0], [17, 99, 250, 255], [90, 180, 30, 77]]], np.uint8)
    source = save(tmp_path / "in.png", pixels)
    expected = straight_over(pixels[..., :3], pixels[..., 3], (255, 128, 0))
    assert np.abs(expected - np.floor(expected) - 0.5).min() > 0.01  # no tie for float32 to settle
    for extension in (".png", ".bmp", ".jpg"):
        result = run("identity", "--background", "#ff8000", "--quality", "100", source, tmp_path / f"out{extension}")
        assert result.exit_code == 0, result.stderr
        mode, written = load(tmp_path / f"out{extension}")
        assert mode == "RGB"
        if extension != ".jpg":
            assert np.array_equal(written, np.rint(expected).astype(np.uint8)), extension
    # Red: 200 * 128/255 + 255 * 127/255 = 227.39; green: 10 * 128/255 + 128 * 127/255 = 68.77.
    assert load(tmp_path / "out.png")[1][0, 0].tolist() == [227, 69, 30]


def test_background_composites_the_filtered_result(tmp_path, rng):
    """After filtering: the blur of premultiplied colour and of alpha, composited."""
    image = rng.integers(0, 256, (16, 20, 4)).astype(np.uint8)
    source = save(tmp_path / "in.png", image)
    assert run(*BLUR, "--background", "navy", source, tmp_path / "out.png").exit_code == 0
    mode, pixels = load(tmp_path / "out.png")
    assert mode == "RGB"
    premultiplied = reference(image[..., :3] * (image[..., 3:] / 255), GAUSS)
    alpha = reference(image[..., 3], GAUSS)
    assert_rounded_from(pixels, premultiplied + np.array([0, 0, 128]) * (1 - alpha[..., None] / 255))
    # What Pillow shows of the RGBA result over the same colour: one rounding more.
    assert run(*BLUR, source, tmp_path / "rgba.png").exit_code == 0
    with Image.open(tmp_path / "rgba.png") as rgba:
        shown = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 128, 255)), rgba)
    assert np.abs(np.asarray(shown)[..., :3].astype(int) - pixels).max() <= 1


def test_background_on_grey_with_alpha_stays_grey_or_becomes_colour(tmp_path):
    pixels = np.array([[[40, 100], [250, 0], [0, 255]]], np.uint8)
    source = save(tmp_path / "in.png", pixels)
    assert run("identity", "--background", "#808080", source, tmp_path / "grey.png").exit_code == 0
    mode, grey = load(tmp_path / "grey.png")
    assert mode == "L" and grey.tolist() == [np.rint(straight_over(pixels[..., :1], pixels[..., 1], 128))[0, :, 0]
                                             .tolist()]
    assert run("identity", "--background", "red", source, tmp_path / "colour.png").exit_code == 0
    mode, colour = load(tmp_path / "colour.png")
    assert mode == "RGB"
    assert np.array_equal(colour, np.rint(straight_over(pixels[..., :1], pixels[..., 1], (255, 0, 0))))


def test_background_composites_16_bit_images_at_16_bits(tmp_path, rng):
    import tifffile

    image = rng.integers(0, 65536, (6, 7, 4)).astype(np.uint16)
    image[0, :3, 3] = (0, 65535, 32768)
    tifffile.imwrite(tmp_path / "in.tif", image, photometric="rgb", extrasamples=["unassalpha"])
    for extension in (".png", ".tif"):
        out = tmp_path / f"out{extension}"
        assert run("identity", "--background", "#102030", tmp_path / "in.tif", out).exit_code == 0
        written = tifffile.imread(out) if extension == ".tif" else _png16(out)
        assert written.dtype == np.uint16 and written.shape == (6, 7, 3)
        expected = straight_over(image[..., :3], image[..., 3], np.array([0x10, 0x20, 0x30]) * 257, 65535)
        assert_rounded_from(written, expected, np.uint16, slack=0.01)


def _png16(path):
    import imagecodecs

    return imagecodecs.png_decode(path.read_bytes())


def test_background_with_the_side_by_side_view_shows_the_original_composited(tmp_path):
    pixels = np.zeros((8, 10, 4), np.uint8)
    pixels[..., 0], pixels[..., 3] = 255, np.arange(10) * 25
    source = save(tmp_path / "in.png", pixels)
    result = run("identity", "--background", "white", "--view", "side-by-side", source, tmp_path / "out.png")
    assert result.exit_code == 0, result.stderr
    mode, shown = load(tmp_path / "out.png")
    assert mode == "RGB" and shown.shape == (8, 24, 3)
    expected = np.rint(straight_over(pixels[..., :3], pixels[..., 3], 255))
    assert np.array_equal(shown[:, :10], expected) and np.array_equal(shown[:, 14:], expected)


@pytest.mark.parametrize("colour", ["nosuch", "#12345", "#ff000080"])
def test_a_background_that_is_not_an_opaque_colour_is_a_usage_error(tmp_path, rgb, colour):
    source = save(tmp_path / "in.png", np.dstack([rgb, rgb[..., 0]]))
    assert_one_line_error(run(*BLUR, "--background", colour, source, tmp_path / "out.jpg"), 2, "--background", colour)
    assert sorted(os.listdir(tmp_path)) == ["in.png"]


def test_npy_in_and_out(tmp_path, rng):
    array = rng.normal(size=(16, 18, 3)).astype(np.float64)
    np.save(tmp_path / "in.npy", array)
    assert run("sobel", "-d", "y", tmp_path / "in.npy", tmp_path / "out.npy").exit_code == 0
    result = np.load(tmp_path / "out.npy")
    assert result.dtype == np.float64 and result.shape == array.shape  # float64 work and result
    np.testing.assert_allclose(result, reference(array, kernels.sobel("y"), correlate=True), rtol=0, atol=1e-12)


def test_npy_uint8_to_png(tmp_path, camera):
    np.save(tmp_path / "in.npy", camera)
    assert run(*BLUR, tmp_path / "in.npy", tmp_path / "out.png").exit_code == 0
    mode, pixels = load(tmp_path / "out.png")
    assert mode == "L"
    assert_rounded_from(pixels, reference(camera, GAUSS))


def test_icc_profile_and_exif_are_kept(tmp_path, rgb):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "imgconv test camera"  # Make
    for extension in (".jpg", ".png", ".webp", ".tiff"):
        source = tmp_path / f"in{extension}"
        Image.fromarray(rgb).save(source, icc_profile=icc, exif=exif.tobytes())
        out = tmp_path / f"out{extension}"
        assert run(*BLUR, source, out).exit_code == 0
        with Image.open(out) as image:
            assert image.info.get("icc_profile") == icc, extension
            assert image.getexif().get(0x010F) == "imgconv test camera", extension


def test_stdin_to_stdout(tmp_path, camera):
    data = (SAMPLES / "camera.png").read_bytes()
    result = run(*BLUR, "-", "-", input=data)
    assert result.exit_code == 0 and result.stderr == ""
    with Image.open(io.BytesIO(result.stdout_bytes)) as image:
        assert image.format == "PNG"
        assert_rounded_from(np.asarray(image), reference(camera, GAUSS))
    result = run(*BLUR, "--format", "npy", "-", "-", input=data)
    np.testing.assert_allclose(np.load(io.BytesIO(result.stdout_bytes)), reference(camera, GAUSS), atol=1e-3)


def test_shell_pipeline_with_subprocesses(tmp_path, camera):
    """cat in.png | imgconv blur -s 2 - - | imgconv sobel - edges.png"""
    command = [sys.executable, "-m", "imgconv"]
    blurred = subprocess.run([*command, "blur", "-s", "2", "-", "-"], input=(SAMPLES / "camera.png").read_bytes(),
                             capture_output=True, check=True)
    assert blurred.stderr == b"" and blurred.stdout.startswith(b"\x89PNG")
    edges = subprocess.run([*command, "sobel", "-", str(tmp_path / "edges.png")], input=blurred.stdout,
                           capture_output=True, check=True)
    assert edges.stdout == b"" and edges.stderr == b""
    smooth = np.asarray(Image.open(io.BytesIO(blurred.stdout)))
    assert_rounded_from(smooth, reference(camera, kernels.gaussian(2)))
    gx = reference(smooth, kernels.sobel("x"), correlate=True)
    gy = reference(smooth, kernels.sobel("y"), correlate=True)
    assert_rounded_from(load(tmp_path / "edges.png")[1], np.hypot(gx, gy), slack=0.01)


def test_in_place_needs_the_flag(tmp_path, camera):
    target = save(tmp_path / "img.png", camera)
    result = run(*BLUR, target, target)
    assert result.exit_code == 2 and "--in-place" in result.stderr
    assert np.array_equal(load(target)[1], camera)
    assert run(*BLUR, "--in-place", target, target).exit_code == 0
    assert_rounded_from(load(target)[1], reference(camera, GAUSS))
    assert sorted(os.listdir(tmp_path)) == ["img.png"]


def test_overwrite_is_atomic_and_keeps_permissions(tmp_path, camera):
    out = tmp_path / "out.png"
    out.write_bytes(b"old")
    os.chmod(out, 0o640)
    assert run(*BLUR, SAMPLES / "camera.png", out).exit_code == 0
    assert os.stat(out).st_mode & 0o777 == 0o640
    assert sorted(os.listdir(tmp_path)) == ["out.png"]  # no temporary left behind


def test_cmyk_is_filtered_as_four_inks(tmp_path, rgb):
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "in.tiff")
    assert run(*BLUR, tmp_path / "in.tiff", tmp_path / "out.tiff").exit_code == 0
    mode, pixels = load(tmp_path / "out.tiff")
    assert mode == "CMYK"
    assert_rounded_from(pixels, reference(np.asarray(Image.open(tmp_path / "in.tiff")), GAUSS))


def test_a_bigtiffs_tags_are_kept_in_a_classic_exif(tmp_path, rgb):
    """Pillow reads a BigTIFF's tags as an EXIF in BigTIFF's layout, which its own TIFF
    writer could not load back (struct.error) and which went into PNGs and JPEGs as an
    eXIf no reader takes. The tags an EXIF can hold are kept, in a classic EXIF."""
    import tifffile

    source = tmp_path / "in.tif"
    text = {270: "a test card", 305: "imgconv tests", 306: "2024:01:02 03:04:05", 315: "A. Artist"}
    tifffile.imwrite(source, rgb, bigtiff=True, photometric="rgb", description=text[270], software=text[305],
                     datetime=text[306], metadata=None,
                     extratags=[(315, "s", 0, text[315], True), (65000, "Q", 1, 1 << 40, True)])
    assert tifffile.TiffFile(source).is_bigtiff
    assert run("identity", source, tmp_path / "same.tif").exit_code == 0
    assert np.array_equal(tifffile.imread(tmp_path / "same.tif"), rgb)
    tags = tifffile.TiffFile(tmp_path / "same.tif").pages[0].tags
    assert {tag: tags.valueof(tag) for tag in text} == text
    assert 65000 not in tags  # 2**40 needs BigTIFF's LONG8, which a classic EXIF has not
    for extension in (".tif", ".png", ".jpg"):
        result = run(*BLUR, source, tmp_path / f"out{extension}")
        assert result.exit_code == 0, result.stderr
        with Image.open(tmp_path / f"out{extension}") as image:
            exif = image.getexif()
            assert {tag: exif.get(tag) for tag in text} == text, extension
            if extension != ".jpg":
                assert_rounded_from(np.asarray(image), reference(rgb, GAUSS))


@pytest.mark.parametrize("bits, compression, byteorder", [
    (16, None, "<"), (16, "zlib", "<"), (16, None, ">"), (12, None, "<"), (10, None, "<"), (14, None, "<"),
])
def test_white_is_zero_grey_deeper_than_8_bits_is_turned(tmp_path, rng, bits, compression, byteorder):
    """MINISWHITE grey of 9 to 16 bits (Pillow turns 8 bits and fewer; not 16-bit
    files, and tifffile none) is read as black-is-zero, 2**bits - 1 - v, in the file's
    own range: a 12-bit file stays within 0-4095, as a black-is-zero one is read."""
    import tifffile

    top = (1 << bits) - 1
    stored = rng.integers(0, top + 1, (30, 40), dtype=np.uint16)
    stored[0, :2] = 0, top
    tifffile.imwrite(tmp_path / "in.tif", stored.astype(byteorder + "u2"), photometric="miniswhite",
                     compression=compression, **({} if bits == 16 else {"bitspersample": bits}))
    assert np.array_equal(tifffile.imread(tmp_path / "in.tif"), stored)  # tifffile gives them as stored
    assert run("identity", tmp_path / "in.tif", tmp_path / "out.tif").exit_code == 0
    with tifffile.TiffFile(tmp_path / "out.tif") as out:
        assert out.pages[0].photometric == tifffile.PHOTOMETRIC.MINISBLACK
        assert np.array_equal(out.asarray(), top - stored)
    grey_alpha = np.dstack([stored, stored[::-1]])
    tifffile.imwrite(tmp_path / "la.tif", grey_alpha, photometric="miniswhite", extrasamples=["unassalpha"])
    if bits == 16:  # alpha is not turned
        assert run("identity", tmp_path / "la.tif", tmp_path / "la-out.tif").exit_code == 0
        assert np.array_equal(tifffile.imread(tmp_path / "la-out.tif"), np.dstack([top - stored, stored[::-1]]))


def test_16_bit_pgm_stays_16_bit(tmp_path, camera):
    deep = camera.astype(np.uint16) * 257
    Image.fromarray(deep).save(tmp_path / "in.pgm")
    assert run(*BLUR, tmp_path / "in.pgm", tmp_path / "out.png").exit_code == 0
    mode, pixels = load(tmp_path / "out.png")
    assert mode == "I;16"
    assert_rounded_from(pixels, reference(deep, GAUSS), dtype=np.uint16, slack=0.05)


def test_a_format_that_cannot_hold_the_mode_says_which_can(tmp_path, camera):
    save(tmp_path / "deep.png", camera.astype(np.uint16) * 257)
    result = run(*BLUR, tmp_path / "deep.png", tmp_path / "out.jpg")
    assert result.exit_code == 1 and "write PNG, TIFF, JPEG2000, PPM or .npy to keep 16 bits" in result.stderr


# ---------------------------------------------------------------- TIFF compression


def tiff_pages(path):
    """Each page's compression (tifffile's number) and samples, as tifffile reads them."""
    import tifffile

    with tifffile.TiffFile(path) as tiff:
        return [(int(page.compression), page.asarray()) for page in tiff.pages]


def fax(camera, pages=3):
    """Bilevel pages: the photograph thresholded at three levels, as Pillow's mode 1."""
    return [Image.fromarray(camera > level) for level in (60, 120, 180)[:pages]]


def test_a_group_4_fax_comes_back_group_4_with_the_same_samples(tmp_path, camera):
    """A 1.5 MB 12-page G4 fax became a 173 MB uncompressed TIFF."""
    pages = fax(camera)
    pages[0].save(tmp_path / "fax.tif", compression="group4", save_all=True, append_images=pages[1:])
    assert run("identity", tmp_path / "fax.tif", tmp_path / "out.tif").exit_code == 0
    written = tiff_pages(tmp_path / "out.tif")
    assert [compression for compression, _ in written] == [4, 4, 4]  # CCITT T.6, Group 4
    for (_, samples), page in zip(written, pages, strict=True):
        assert np.array_equal(samples.astype(bool), np.asarray(page))
    with Image.open(tmp_path / "out.tif") as image:  # and as Pillow (libtiff) reads it
        assert image.mode == "1" and image.n_frames == 3
        for index, page in enumerate(pages):
            image.seek(index)
            assert np.array_equal(np.asarray(image), np.asarray(page))
    assert (tmp_path / "out.tif").stat().st_size < 2 * (tmp_path / "fax.tif").stat().st_size


def test_a_blurred_fax_has_grey_levels_and_is_deflated(tmp_path, camera):
    page = fax(camera, 1)[0]
    page.save(tmp_path / "fax.tif", compression="group4")
    assert run(*BLUR, tmp_path / "fax.tif", tmp_path / "out.tif").exit_code == 0
    (compression, samples), = tiff_pages(tmp_path / "out.tif")
    assert compression == 8 and samples.dtype == np.uint8  # Adobe Deflate
    assert_rounded_from(samples, reference(np.asarray(page, np.uint8) * 255, GAUSS))


@pytest.mark.parametrize("scheme, number, dtype", [
    (scheme, number, dtype)
    for scheme, number in [("lzw", 5), ("zlib", 8), ("packbits", 32773), ("zstd", 50000), (None, 1)]
    for dtype in ["uint8", "uint16", "int16", "float32"]
] + [("jpeg", 8, "uint8")])
def test_a_tiff_output_keeps_its_inputs_lossless_compression(tmp_path, rgb, scheme, number, dtype):
    """JPEG in TIFF is lossy: that one becomes Deflate, as the samples are kept exactly."""
    import tifffile

    array = rgb.astype(dtype) * (257 if dtype == "uint16" else 1) - (100 if dtype == "int16" else 0)
    tifffile.imwrite(tmp_path / "in.tif", array, photometric="rgb", compression=scheme)
    array = tifffile.imread(tmp_path / "in.tif")  # what a lossy scheme left
    assert run("identity", tmp_path / "in.tif", tmp_path / "out.tif").exit_code == 0
    (compression, samples), = tiff_pages(tmp_path / "out.tif")
    assert compression == number and samples.dtype == array.dtype and np.array_equal(samples, array)


@pytest.mark.parametrize("source", ["in.png", "in.npy"])
def test_other_inputs_are_deflated_and_compression_chooses(tmp_path, rgb, source):
    save(tmp_path / "in.png", rgb)
    np.save(tmp_path / "in.npy", rgb.astype(np.float64) / 255)
    assert run("identity", tmp_path / source, tmp_path / "out.tif").exit_code == 0
    assert tiff_pages(tmp_path / "out.tif")[0][0] == 8
    for option, number in (("none", 1), ("lzw", 5), ("zstd", 50000), ("packbits", 32773), ("deflate", 8)):
        assert run("identity", "--compression", option, tmp_path / source, tmp_path / "out.tif").exit_code == 0
        (compression, samples), = tiff_pages(tmp_path / "out.tif")
        assert compression == number
        assert np.array_equal(samples, rgb if source == "in.png" else rgb.astype(np.float64) / 255)
    with pytest.raises(InvalidInputError, match="--compression jpeg: a TIFF output takes none, deflate"):
        process_file(tmp_path / source, tmp_path / "bad.tif", kernel_filter([[1]]),
                     write=WriteOptions(encoding=EncodeOptions(compression="jpeg")))
    assert not (tmp_path / "bad.tif").exists()


def test_compression_keeps_the_exif_subdirectories(tmp_path, rgb):
    """Pillow's compressing TIFF writer (libtiff's) cannot write EXIF's own directories:
    imgconv adds them, and libtiff, tifffile and Pillow read them back."""
    import tifffile

    exif = Image.Exif()
    exif[0x010F] = "imgconv camera"
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 22.0, 0.0)})  # GPS
    exif.get_ifd(0x8769).update({0x9003: "2025:01:02 03:04:05"})  # Exif: date taken
    save(tmp_path / "in.jpg", rgb, exif=exif, quality=95)
    assert run(*BLUR, tmp_path / "in.jpg", tmp_path / "out.tif").exit_code == 0
    with tifffile.TiffFile(tmp_path / "out.tif") as tiff:
        tags = tiff.pages[0].tags
        assert tiff.pages[0].compression == 8
        assert tags["Make"].value == "imgconv camera"
        assert tags["GPSTag"].value["GPSLatitude"] == (52, 1, 22, 1, 0, 1)
        assert tags["ExifTag"].value["DateTimeOriginal"] == "2025:01:02 03:04:05"
    with Image.open(tmp_path / "out.tif") as image:
        assert dict(image.getexif().get_ifd(0x8825)) == {1: "N", 2: (52.0, 22.0, 0.0)}
        assert_rounded_from(np.asarray(image), reference(load(tmp_path / "in.jpg")[1], GAUSS))


def _png(path, samples: np.ndarray, colour_type: int, bits: int, chunks: dict) -> None:
    """A PNG written by hand: grey or RGB ``samples`` packed at ``bits`` a sample, with
    ``chunks`` (kind: payload) before the pixels."""
    import struct
    import zlib

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    height, width = samples.shape[:2]
    if bits < 8:
        bits_of = np.unpackbits(samples[..., None].astype(np.uint8), axis=-1)[..., 8 - bits:]
        rows = np.packbits(bits_of.reshape(height, -1), axis=-1)
    else:
        rows = samples.astype(">u2" if bits == 16 else np.uint8).reshape(height, -1).view(np.uint8)
    raw = b"".join(b"\0" + row.tobytes() for row in rows)
    header = struct.pack(">IIBBBBB", width, height, bits, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + b"".join(chunk(k, v) for k, v in chunks.items())
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("colour_type, bits, trns", [
    (0, 1, 1), (0, 2, 2), (0, 4, 0x1F), (0, 8, 7), (0, 16, 40000), (2, 8, (1, 2, 3)), (2, 16, (1, 2, 3))])
def test_a_png_transparent_colour_becomes_alpha(tmp_path, rng, colour_type, bits, trns):
    """A grey or RGB PNG's tRNS chunk names its transparent colour: the output has alpha
    where libpng reads it (a tRNS value wider than the samples is cut to their bits, as
    libpng cuts it), in PNG and in TIFF."""
    import struct

    import imagecodecs
    import tifffile

    top = (1 << bits) - 1
    channels = 1 if colour_type == 0 else 3
    samples = rng.integers(0, top + 1, (20, 30, channels)).squeeze()
    key = np.atleast_1d(trns) & top
    samples[::3, ::2] = key
    _png(tmp_path / "in.png", samples, colour_type, bits, {b"tRNS": struct.pack(f">{len(key)}H", *np.atleast_1d(trns))})
    expected = imagecodecs.png_decode((tmp_path / "in.png").read_bytes())
    assert expected.shape[-1] == channels + 1 and 0 < (expected[..., -1] == 0).sum() < expected[..., -1].size
    for extension, read in ((".png", imagecodecs.png_decode), (".tif", tifffile.imread)):
        assert run("identity", tmp_path / "in.png", tmp_path / f"out{extension}").exit_code == 0
        assert np.array_equal(read((tmp_path / f"out{extension}").read_bytes() if extension == ".png"
                                   else tmp_path / f"out{extension}"), expected)


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.uint16])
def test_a_tiff_stored_in_reversed_bit_order_is_written_in_its_samples(tmp_path, rng, dtype):
    """FillOrder 2 says each byte of the input is stored last bit first: the decoder
    undoes it, so the tag must not reach the output, where it would reverse the bits of
    samples written in the usual order."""
    import tifffile

    samples = rng.integers(0, 2 if dtype == np.bool_ else np.iinfo(dtype).max, (12, 20)).astype(dtype)
    Image.fromarray(samples).save(tmp_path / "in.tif", tiffinfo={266: 2})  # the bytes as they are, tagged reversed
    with tifffile.TiffFile(tmp_path / "in.tif") as tiff:
        assert tiff.pages[0].fillorder == 2
        expected = tiff.asarray()
    assert not np.array_equal(expected, samples)  # tifffile reverses them
    assert run("identity", tmp_path / "in.tif", tmp_path / "out.tif").exit_code == 0
    assert np.array_equal(tifffile.imread(tmp_path / "out.tif"), expected)


_XMP_ORIENTATION = {
    "attribute": '<rdf:Description rdf:about="" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="3"/>',
    "element": '<rdf:Description rdf:about="" xmlns:tiff="http://ns.adobe.com/tiff/1.0/">'
               "<tiff:Orientation>3</tiff:Orientation></rdf:Description>",
}


@pytest.mark.parametrize("form", sorted(_XMP_ORIENTATION))
@pytest.mark.parametrize("with_exif", [False, True])
def test_an_xmp_orientation_turns_the_pixels_once(tmp_path, rgb, form, with_exif):
    """Pillow's exif_transpose takes the orientation from XMP where EXIF has none, as
    imgconv does: once the pixels are turned, the XMP says so, or viewers turn them again."""
    from PIL import ImageOps, PngImagePlugin

    xmp = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           f"{_XMP_ORIENTATION[form]}</rdf:RDF></x:xmpmeta>")
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp)
    exif = Image.Exif()
    if with_exif:
        exif[0x0112] = 3
    Image.fromarray(rgb).save(tmp_path / "in.png", pnginfo=info, exif=exif)
    upright = rgb[::-1, ::-1]  # orientation 3: turned half a turn
    assert np.array_equal(np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "in.png"))), upright)
    assert run("identity", tmp_path / "in.png", tmp_path / "out.png").exit_code == 0
    with Image.open(tmp_path / "out.png") as image:
        assert np.array_equal(np.asarray(image), upright)
        assert np.array_equal(np.asarray(ImageOps.exif_transpose(image)), upright)
