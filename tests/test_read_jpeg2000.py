"""JPEG 2000 samples read at their own depth and sign (OpenJPEG through imagecodecs), and
what imgconv cannot represent refused before anything is decoded. The code streams are
made here by imagecodecs' encoder, losslessly, their SIZ marker altered where a test
needs what the encoder does not make."""

import io

import imagecodecs
import numpy as np
import pytest
from PIL import Image, ImageFile

from imgconv.errors import ImageReadError, PixelLimitError
from imgconv.io.read import decode_image


def _code_stream(samples: np.ndarray, bits: int | None = None, jp2: bool = False) -> bytes:
    return imagecodecs.jpeg2k_encode(samples, codecformat="JP2" if jp2 else "J2K", bitspersample=bits,
                                     reversible=True, level=0, mct=False, planar=False)


def test_signed_samples_are_kept_signed():
    """4-bit signed samples (-8 to 7), which Pillow read as unsigned: v + 8, shifted 4 bits."""
    stored = np.array([[-8, -1, 0, 7], [3, -4, 5, -6]], np.int8)
    picture = decode_image(_code_stream(stored, 4), "t.j2k")
    assert picture.mode == "L;int8"
    np.testing.assert_array_equal(picture.frames[0], stored)


def test_signed_twelve_bit_colour():
    stored = (np.arange(24, dtype=np.int16).reshape(2, 4, 3) * 170 - 2048)  # -2048 to 1862
    picture = decode_image(_code_stream(stored, 12), "t.j2k")
    assert (picture.mode, picture.frames[0].dtype) == ("RGB;int16", np.int16)
    np.testing.assert_array_equal(picture.frames[0], stored)


@pytest.mark.parametrize(("bits", "stored", "read"), [
    # round(v * 255 / 15), as TIFF samples of 1 to 7 bits; Pillow shifted them (15 -> 240)
    (4, np.array([[0, 1, 7, 8, 15]], np.uint8), np.array([[0, 17, 119, 136, 255]], np.uint8)),
    # round(v * 65535 / 4095), as 12-bit JPEGs (2048 * 65535 / 4095 = 32776.0); Pillow: v * 16
    (12, np.array([[0, 1, 2048, 4094, 4095]], np.uint16), np.array([[0, 16, 32776, 65519, 65535]], np.uint16)),
])
def test_unsigned_depths_are_scaled_to_the_full_range(bits, stored, read):
    picture = decode_image(_code_stream(stored, bits), "t.j2k")
    np.testing.assert_array_equal(picture.frames[0], read)


def test_sixteen_bit_colour_keeps_its_sixteen_bits():
    """Pillow read 16-bit RGB at 8 bits."""
    stored = np.arange(24, dtype=np.uint16).reshape(2, 4, 3) * 2731 + 3
    picture = decode_image(_code_stream(stored, jp2=True), "t.jp2")
    assert picture.mode == "RGB;16"
    np.testing.assert_array_equal(picture.frames[0], stored)


@pytest.fixture
def decoding(monkeypatch) -> list[str]:
    """What decoded pixels: Pillow's loading of a file or imagecodecs' JPEG 2000 decoder."""
    calls: list[str] = []
    pillows, openjpegs = ImageFile.ImageFile.load, imagecodecs.jpeg2k_decode

    def load(image, *args, **kwargs):
        calls.append("Pillow")
        return pillows(image, *args, **kwargs)

    def decode(*args, **kwargs):
        calls.append("imagecodecs")
        return openjpegs(*args, **kwargs)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    monkeypatch.setattr(imagecodecs, "jpeg2k_decode", decode)
    return calls


def _siz_altered(data: bytes, component: int, depth: int | None = None, step: tuple[int, int] | None = None) -> bytes:
    """``data`` with a component's Ssiz (sign and bits - 1) or XRsiz, YRsiz set."""
    altered = bytearray(data)
    at = data.find(b"\xff\x4f\xff\x51") + 42 + 3 * component
    if depth is not None:
        altered[at] = depth
    if step is not None:
        altered[at + 1:at + 3] = bytes(step)
    return bytes(altered)


def test_components_of_different_sizes_are_refused_before_decoding(decoding):
    """Two full and two quarter components (as ITU-T T.803's p0_05), which Pillow read as
    RGBA without a word."""
    data = _code_stream(np.zeros((8, 8, 4), np.uint8))
    data = _siz_altered(_siz_altered(data, 2, step=(2, 2)), 3, step=(2, 2))
    with pytest.raises(ImageReadError) as caught:
        decode_image(data, "t.j2k")
    assert str(caught.value) == ("t.j2k: unsupported by the decoders imgconv uses: its JPEG 2000 components are "
                                 "sampled every 2 x 2 pixels")
    assert decoding == []


def test_components_of_different_depths_are_refused_before_decoding(decoding):
    data = _siz_altered(_code_stream(np.zeros((4, 4, 3), np.uint8)), 1, depth=11)
    with pytest.raises(ImageReadError) as caught:
        decode_image(data, "t.j2k")
    assert str(caught.value) == ("t.j2k: a JPEG 2000 of 12-bit unsigned and 8-bit unsigned components: imgconv "
                                 "reads components of one depth and sign")
    assert decoding == []


def _pillows_jp2() -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3)).save(out, "JPEG2000")
    return out.getvalue()


def test_a_colour_space_openjpeg_leaves_unconverted_is_refused(decoding):
    """CIELab (the colour box's enumerated space 14), which OpenJPEG gives as stored and
    Pillow read as RGB."""
    data = _pillows_jp2()
    colour = data.find(b"colr") + 4
    assert data[colour] == 1 and int.from_bytes(data[colour + 3:colour + 7], "big") == 16  # sRGB
    data = data[:colour + 3] + (14).to_bytes(4, "big") + data[colour + 7:]
    with pytest.raises(ImageReadError) as caught:
        decode_image(data, "t.jp2")
    assert str(caught.value) == ("t.jp2: a JP2 of enumerated colour space 14, which imgconv does not convert "
                                 "(it reads sRGB, grey, sYCC and CMYK)")
    assert decoding == []


def test_eight_bit_colour_is_read_as_stored(decoding):
    """Unchanged for what Pillow read right: 8-bit RGB, by OpenJPEG alone now."""
    stored = np.arange(48, dtype=np.uint8).reshape(4, 4, 3) * 5
    picture = decode_image(_code_stream(stored, jp2=True), "t.jp2")
    assert picture.mode == "RGB"
    np.testing.assert_array_equal(picture.frames[0], stored)
    assert decoding == ["imagecodecs"]


def test_more_than_four_components_are_read_as_channels_of_an_array(rng):
    """A multispectral image (ITU-T T.803's p0_13 has 257 components), which Pillow does
    not open: each component a channel, written only to .npy."""
    stored = rng.integers(0, 256, (3, 4, 6)).astype(np.uint8)
    picture = decode_image(_code_stream(stored), "t.j2k")
    assert picture.mode == "multichannel"
    np.testing.assert_array_equal(picture.frames[0], stored)


def test_more_than_four_components_count_against_the_pixel_limit(decoding):
    """As a .npy's: 6 components of 3 x 4 pixels are 3 x 4 x 2 pixels of four samples."""
    data = _code_stream(np.zeros((3, 4, 6), np.uint8))
    decode_image(data, "t.j2k", max_pixels=24)
    with pytest.raises(PixelLimitError, match=r"^t\.j2k: 4 x 3 x 2 is more pixels than the limit of 23 "):
        decode_image(data, "t.j2k", max_pixels=23)
    assert decoding == ["imagecodecs"]
