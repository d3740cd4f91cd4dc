"""Netpbm PAM (P7) images, which Pillow does not open, built here byte by byte."""

import numpy as np
import pytest

from imgconv.errors import ImageReadError, PixelLimitError
from imgconv.io.read import decode_image


def _pam(samples: np.ndarray, maxval: int, kind: str | None, comment: bool = False) -> bytes:
    height, width = samples.shape[:2]
    depth = 1 if samples.ndim == 2 else samples.shape[2]
    lines = ["P7", *(["# made by a test"] if comment else []), f"WIDTH {width}", f"HEIGHT {height}",
             f"DEPTH {depth}", f"MAXVAL {maxval}", *([f"TUPLTYPE {kind}"] if kind else []), "ENDHDR", ""]
    return "\n".join(lines).encode() + samples.astype(">u2" if maxval > 255 else np.uint8).tobytes()


@pytest.mark.parametrize(("kind", "depth", "mode"), [("GRAYSCALE", 1, "L"), ("GRAYSCALE_ALPHA", 2, "LA"),
                                                     ("RGB", 3, "RGB"), ("RGB_ALPHA", 4, "RGBA"), (None, 3, "RGB")])
def test_eight_bit_samples_as_stored(rng, kind, depth, mode):
    samples = rng.integers(0, 256, (3, 5, depth) if depth > 1 else (3, 5), dtype=np.uint8)
    picture = decode_image(_pam(samples, 255, kind, comment=True), "t.pam")
    assert picture.mode == mode
    np.testing.assert_array_equal(picture.frames[0], samples)


def test_sixteen_bit_samples_as_stored(rng):
    samples = rng.integers(0, 65536, (2, 3, 3)).astype(np.uint16)
    picture = decode_image(_pam(samples, 65535, "RGB"), "t.pam")
    assert picture.mode == "RGB;16"
    np.testing.assert_array_equal(picture.frames[0], samples)


@pytest.mark.parametrize(("maxval", "stored", "read"), [
    (1, [[0, 1]], np.array([[0, 255]], np.uint8)),  # BLACKANDWHITE: 1 is white
    (15, [[0, 1, 8, 15]], np.array([[0, 17, 136, 255]], np.uint8)),  # round(v * 255 / 15)
    (1023, [[0, 1, 512, 1023]], np.array([[0, 64, 32800, 65535]], np.uint16)),  # round(v * 65535 / 1023)
    (65534, [[1, 65533, 65534]], np.array([[1, 65534, 65535]], np.uint16)),  # v * 131070 passes 32 bits
])
def test_other_maxvals_are_scaled_to_the_full_range(maxval, stored, read):
    picture = decode_image(_pam(np.array(stored), maxval, "BLACKANDWHITE" if maxval == 1 else "GRAYSCALE"), "t.pam")
    np.testing.assert_array_equal(picture.frames[0], read)


@pytest.mark.parametrize(("data", "reason"), [
    (b"P7\nWIDTH 2\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\nENDHDR\n\x01", "truncated: its header claims 2 x 1 x 1 samples"),
    (b"P7\nWIDTH 1\nHEIGHT 1\nDEPTH 3\nMAXVAL 255\nTUPLTYPE GRAYSCALE\nENDHDR\n\0\0\0", "a PAM of tuple type"),
    (b"P7\nWIDTH 1\nHEIGHT 1\nDEPTH 5\nMAXVAL 255\nENDHDR\n\0\0\0\0\0", "a PAM of tuple type not given, depth 5"),
    (b"P7\nWIDTH x\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\nENDHDR\n\0", "its header's WIDTH is x"),
    (b"P7\nWIDTH 1\nHEIGHT 1\nDEPTH 1\nMAXVAL 9\nENDHDR\n\x0a", "a sample above its MAXVAL of 9"),
    (b"P7\nWIDTH 1\nHEIGHT 1\n", "no ENDHDR line"),
])
def test_damaged_headers_and_data_are_refused_in_one_line(data, reason):
    with pytest.raises(ImageReadError) as caught:
        decode_image(data, "t.pam")
    assert str(caught.value).startswith("t.pam: ") and reason in str(caught.value)


def test_the_pixel_limit_is_checked_from_the_header():
    """A header claiming 100000 x 100000 pixels, refused before its samples are sought."""
    with pytest.raises(PixelLimitError, match="100000 x 100000 is more pixels than the limit"):
        decode_image(b"P7\nWIDTH 100000\nHEIGHT 100000\nDEPTH 4\nMAXVAL 65535\nENDHDR\n", "t.pam")
