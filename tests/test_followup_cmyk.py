"""CMYK follow-ups: 16-bit frames converted through their profile in as few LittleCMS
calls as their size allows, each sample as LittleCMS converts its frame alone; and a
profile that cannot convert the inks refused in words that fit what was asked (an
output format, the library's imread, the demo, --background, values per channel); 16-bit
inks written as 8-bit sRGB rounded once, after converting."""

from dataclasses import replace

import imagecodecs
import numpy as np
import pytest
import tifffile
from helpers import assert_one_line_error, run
from PIL import Image
from test_cmyk import cmyk_profile

import imgconv
from imgconv.demo.app import Demo
from imgconv.errors import ImageReadError
from imgconv.io.cmyk import to_srgb
from imgconv.io.read import read_image

_CMS = {"colorspace": "cmyk", "outcolorspace": "rgb", "outdtype": np.uint16,
        "intent": imagecodecs.CMS.INTENT.RELATIVE_COLORIMETRIC, "flags": imagecodecs.CMS.FLAGS.BLACKPOINTCOMPENSATION}


def _counted(monkeypatch) -> list[tuple[int, ...]]:
    """The shapes imagecodecs' cms_transform is called with from now on."""
    calls: list[tuple[int, ...]] = []
    original = imagecodecs.cms_transform

    def counting(data, *args, **kwargs):
        calls.append(data.shape)
        return original(data, *args, **kwargs)

    monkeypatch.setattr(imagecodecs, "cms_transform", counting)
    return calls


def _pages(path, frames, profile=None):
    with tifffile.TiffWriter(path) as tiff:
        for frame in frames:
            extra = {"extrasamples": ["unassalpha"]} if frame.shape[2] == 5 else {}
            tiff.write(frame, photometric="separated", planarconfig="contig", iccprofile=profile, **extra)
    return path


def _naive16(inks: np.ndarray) -> np.ndarray:
    """The naive conversion at 16 bits: R = (max - K) - round(C * (max - K) / max)."""
    white = 65535 - inks[..., 3:4].astype(np.float64)
    return white - np.round(inks[..., :3] * white / 65535)


@pytest.mark.parametrize("profiled", [True, False])
@pytest.mark.parametrize("channels", [4, 5])
def test_small_16_bit_frames_are_converted_in_one_call_each_as_alone(tmp_path, rng, monkeypatch, channels, profiled):
    shapes = [(1, 1), (3, 7), (20, 1), (1, 1), (16, 24)]
    frames = [rng.integers(0, 65536, (*shape, channels), dtype=np.uint16) for shape in shapes]
    profile = cmyk_profile() if profiled else None
    # Frames of several sizes, as a picture given to the library may hold (a file's are refused).
    picture = replace(read_image(_pages(tmp_path / "in.tif", frames[:1], profile)), frames=frames)
    srgb = imagecodecs.cms_profile("srgb")
    expected = [imagecodecs.cms_transform(f[..., :4].copy(), profile, srgb, **_CMS) if profiled
                else _naive16(f) for f in frames]
    calls = _counted(monkeypatch)
    result = to_srgb(picture)
    assert len(calls) == (1 if profiled else 0)
    assert result.mode == ("RGB;16" if channels == 4 else "RGBA;16")
    for frame, out, rgb in zip(frames, result.frames, expected, strict=True):
        assert out.dtype == np.uint16 and out.shape == (*frame.shape[:2], channels - 1)
        np.testing.assert_array_equal(out[..., :3], rgb)
        np.testing.assert_array_equal(out[..., 3:], frame[..., 4:])


def test_16_bit_frames_of_over_a_million_pixels_together_are_converted_apart(tmp_path, monkeypatch):
    frames = [np.full((700, 800, 4), value, np.uint16) for value in (0, 40000)]
    calls = _counted(monkeypatch)
    result = to_srgb(read_image(_pages(tmp_path / "in.tif", frames, cmyk_profile())))
    assert calls == [(1, 700 * 800, 4)] * 2
    srgb = imagecodecs.cms_profile("srgb")
    for frame, out in zip(frames, result.frames, strict=True):
        np.testing.assert_array_equal(out[:1, :1], imagecodecs.cms_transform(frame[:1, :1], cmyk_profile(), srgb,
                                                                              **_CMS))
        assert (out == out[0, 0]).all()


def test_a_16_bit_profile_littlecms_cannot_read_is_refused_before_any_frame_is_converted(tmp_path, rng, monkeypatch):
    damaged = cmyk_profile()[:132] + bytes(range(256)) * 40
    frames = [rng.integers(0, 65536, (2, 3, 4), dtype=np.uint16)] * 5
    calls = _counted(monkeypatch)
    with pytest.raises(ImageReadError, match=r"in.tif: its CMYK cannot be converted to sRGB: its ICC profile is not "
                                             r"one LittleCMS reads \(.*\)$"):
        to_srgb(read_image(_pages(tmp_path / "in.tif", frames, damaged)))
    assert len(calls) == 1


_GREY = imagecodecs.cms_profile("gray")


@pytest.mark.parametrize("output", ["out.png", "out.webp"])
def test_the_refusal_names_the_output_and_what_keeps_the_inks(tmp_path, rng, output):
    path = _pages(tmp_path / "in.tif", [rng.integers(0, 256, (4, 5, 4), dtype=np.uint8)], _GREY)
    result = run("identity", path, tmp_path / output)
    assert_one_line_error(result, 1, f"in.tif: its CMYK cannot be converted to sRGB for a {output[4:].upper()} "
                          "output: its ICC profile describes grey, not CMYK inks; write TIFF, JPEG or .npy to keep "
                          "its inks")


def test_imread_and_the_demo_refuse_in_their_own_words(tmp_path, rng):
    path = _pages(tmp_path / "in.tif", [rng.integers(0, 256, (4, 5, 4), dtype=np.uint8)], _GREY)
    with pytest.raises(ImageReadError, match=r"in.tif: its CMYK cannot be converted to sRGB: its ICC profile "
                                             r"describes grey, not CMYK inks; give cmyk=True to read its inks$"):
        imgconv.imread(path)
    assert imgconv.imread(path, cmyk=True).shape == (4, 5, 4)
    with pytest.raises(ImageReadError, match=r"in.tif: its CMYK cannot be converted to sRGB: its ICC profile "
                                             r"describes grey, not CMYK inks$"):
        Demo(path)


def test_background_over_inks_whose_profile_is_refused_says_what_keeps_them(tmp_path, rng):
    inks = rng.integers(0, 256, (4, 5, 5), dtype=np.uint8)
    path = _pages(tmp_path / "in.tif", [inks], _GREY)
    result = run("identity", "--background", "white", path, tmp_path / "out.tif")
    assert_one_line_error(result, 1, "in.tif: --background cannot be converted to the file's CMYK inks: its ICC "
                          "profile describes grey, not CMYK inks; write TIFF without --background to keep its alpha")
    assert not (tmp_path / "out.tif").exists()
    assert run("identity", path, tmp_path / "out.tif").exit_code == 0
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out.tif"), inks)


@pytest.mark.parametrize(("option", "dtype", "keep"), [(["--cval", "1,2,3,4"], np.uint8, "TIFF, JPEG or .npy"),
                                                       (["-k", "1", "-k", "1", "-k", "1", "-k", "1"], np.uint16,
                                                        "TIFF or .npy")])
def test_values_per_ink_for_an_srgb_output_say_the_cmyk_was_converted(tmp_path, rng, option, dtype, keep):
    inks = rng.integers(0, 256, (6, 7, 4), dtype=np.uint8).astype(dtype)
    path = _pages(tmp_path / "in.tif", [inks])
    command = ["blur", "-r", "1", "-b", "constant"] if option[0] == "--cval" else ["convolve"]
    name = "--cval" if option[0] == "--cval" else "--kernel"
    result = run(*command, *option, path, tmp_path / "out.png")
    assert_one_line_error(result, 2, f"in.tif: {name} gives 4, one per channel, but the image has 3 channel(s) "
                          f"({8 if dtype == np.uint8 else 16}-bit RGB: its CMYK converted to sRGB for a PNG output): "
                          f"give one, or one per channel, or write {keep} to keep the four inks")
    assert not (tmp_path / "out.png").exists()
    assert run(*command, *option, path, tmp_path / "out.tif").exit_code == 0
    out = tifffile.imread(tmp_path / "out.tif")
    assert out.shape == inks.shape and out.dtype == dtype


@pytest.mark.parametrize("profiled", [True, False])
def test_16_bit_inks_to_8_bit_srgb_are_converted_at_16_bits_and_rounded_once(tmp_path, rng, profiled):
    inks = rng.integers(0, 65536, (24, 32, 4), dtype=np.uint16)
    path = _pages(tmp_path / "in.tif", [inks], cmyk_profile() if profiled else None)
    assert run("identity", "--depth", "8", path, tmp_path / "out.png").exit_code == 0
    with Image.open(tmp_path / "out.png") as image:
        assert image.mode == "RGB"
        out = np.asarray(image).astype(np.float64)
    if profiled:
        wide = imagecodecs.cms_transform(inks, cmyk_profile(), imagecodecs.cms_profile("srgb"), **_CMS)
    else:
        wide = _naive16(inks)
    assert np.abs(out - wide / 257).max() <= 0.5  # rounded once: before, 1.8 and 1.3 levels off
