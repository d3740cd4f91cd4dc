"""The formats a refusal names "to keep" what it is about accept the whole picture: its
depth, frames, durations, resolution and colours together, with the same --strip. Every
format a refusal lists is written here, and must take the picture as it is."""

import re
import struct

import imagecodecs
import numpy as np
import pytest

from imgconv.errors import ImageWriteError
from imgconv.io import formats
from imgconv.io.picture import Picture
from imgconv.io.write import accepts, check_writable

P3 = imagecodecs.cms_profile("rgb", whitepoint=[0.3127, 0.329, 1.0],
                             primaries=[0.68, 0.32, 1.0, 0.265, 0.69, 1.0, 0.15, 0.06, 1.0], gamma=2.2)
LINEAR = {"png_colour": {b"gAMA": struct.pack(">I", 100000)}}  # gAMA 1
TITLES = {record.extension if record.raw else record.title or fmt: fmt for fmt, record in formats.FORMATS.items()}


def picture(mode="RGB", frames=1, shape=(4, 6), **metadata):
    dtype, channels = formats.DTYPE[mode], {"L": 1, "I;16": 1, "LA;16": 2, "RGB": 3, "RGB;16": 3, "RGBA;16": 4}[mode]
    frame = np.full((*shape, channels) if channels > 1 else shape, 7, dtype)
    return Picture([frame.copy() for _ in range(frames)], mode, "PNG", metadata=metadata)


def refusal(image, fmt, strip=False):
    with pytest.raises(ImageWriteError) as refused:
        check_writable(image, fmt, "out", strip)
    return str(refused.value)


def named(message):
    """The formats each "write ..." of a message lists."""
    lists = re.findall(r"write ((?:(?:\.npy|[A-Za-z0-9]+)(?:, | or |(?=[ ,;]|$)))+)", message)
    return [TITLES[word] for words in lists for word in re.split(r", | or ", words.strip(", "))]


def test_sixteen_bits_with_gamma_name_only_formats_that_keep_both():
    deep = picture("I;16", **LINEAR)
    assert refusal(deep, "JPEG") == ("out: JPEG holds 8 bits a sample and the input is 16-bit grey; write PNG or "
                                     "TIFF to keep 16 bits, or give --depth 8 to convert (round(v / 257))")
    assert "write PNG, TIFF, JPEG2000, PPM or .npy to keep 16 bits" in refusal(deep, "JPEG", strip=True)
    assert "write PNG, TIFF, JPEG2000, PPM or .npy to keep 16 bits" in refusal(picture("I;16"), "JPEG")


def test_frames_with_a_profile():
    assert refusal(picture(frames=2, icc_profile=P3), "BMP") == (
        "out: the input has 2 frames and BMP holds one; give --frame N (0-based) or write PNG, TIFF, WebP or AVIF")
    assert refusal(picture(frames=2), "BMP").endswith("or write PNG, TIFF, WebP, AVIF, GIF or .npy")


def test_resolution_with_a_profile():
    assert refusal(picture(dpi=(70000.0, 70000.0), icc_profile=P3), "JPEG") == (
        "out: JPEG cannot hold the input's resolution (70000 x 70000 dpi); write PNG or TIFF to keep it, or give "
        "--strip to leave it out")
    assert "write PNG, TIFF or BMP to keep it" in refusal(picture(dpi=(70000.0, 70000.0)), "JPEG")


def test_durations_with_gamma():
    long = picture(frames=2, **LINEAR)
    long.animation["duration"] = [65537.0, 10.0]  # beyond APNG's 16-bit fractions
    assert refusal(long, "PNG", strip=True).endswith("store as a frame's duration; write WebP, AVIF or GIF, or "
                                                     "give --frame N")
    long.metadata["png_colour"][b"gAMA"] = struct.pack(">I", 100000)
    assert "PNG cannot store as a frame's duration; write WebP or AVIF, or give --frame N" in refusal(long, "PNG")


def test_colours_name_only_formats_that_hold_the_rest():
    deep = picture("RGB;16", icc_profile=P3)
    assert refusal(deep, "PPM") == (
        "out: PPM holds 16 bits a sample only as 16-bit grey and the input is 16-bit RGB; write PNG or TIFF to keep "
        "16 bits, or give --depth 8 to convert (round(v / 257))")
    assert refusal(picture("RGB", icc_profile=P3), "PPM").endswith(
        "cannot carry (its samples would show as sRGB); write PNG, TIFF, JPEG, WebP or AVIF to keep it, or give "
        "--srgb to convert them to sRGB")
    grey = picture("L", icc_profile=imagecodecs.cms_profile("gray", gamma=2.2))  # WebP stores grey as RGB
    assert "which a WebP output cannot carry (its samples would show as sRGB); write PNG, TIFF, JPEG or AVIF to " \
           "keep it" in refusal(grey, "WEBP")
    assert accepts(picture("RGB", icc_profile=P3), "WEBP")


def test_npy_is_named_where_the_colours_are_srgb():
    assert accepts(picture(), "NPY") and accepts(picture(**LINEAR), "NPY", strip=True)
    assert not accepts(picture(icc_profile=P3), "NPY") and not accepts(picture(**LINEAR), "NPY")
    check_writable(picture(icc_profile=P3), "NPY", "out")  # the raw samples, asked for: written


@pytest.mark.parametrize("image", [
    picture("I;16", **LINEAR), picture("RGB;16", icc_profile=P3), picture("RGBA;16", icc_profile=P3),
    picture("LA;16", **LINEAR), picture(frames=3, icc_profile=P3), picture("RGB;16", frames=2, **LINEAR),
    picture(dpi=(70000.0, 1.0), icc_profile=P3), picture("I;16", dpi=(0.5, 0.5), **LINEAR),
])
@pytest.mark.parametrize("strip", [False, True])
def test_every_format_named_takes_the_picture(image, strip):
    """For each format that refuses the picture, each format its message names accepts it."""
    if image.has_alpha:
        image.frames[0][..., -1] = 3  # not opaque
    keepers = []
    for fmt in formats.available():
        try:
            check_writable(image, fmt, "out", strip)
        except ImageWriteError as exc:
            keepers += named(str(exc))
            for keeper in named(str(exc)):
                assert accepts(image, keeper, strip), (fmt, str(exc), keeper)
                check_writable(image, keeper, "out", strip)
    assert {"PNG", "TIFF"} <= set(keepers)
