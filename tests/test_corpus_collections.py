"""Files as public test collections hold them (image-rs, libwebp's test data,
libjpeg-turbo's and OpenImageIO's test images), built here in miniature, read and
written as their formats and their other readers define them."""

import io
import struct

import imagecodecs
import numpy as np
import pytest
from PIL import Image

import imgconv
from imgconv.errors import ImageReadError
from imgconv.io.read import decode_image


def test_a_lossless_webp_keeps_the_colour_of_its_transparent_pixels(tmp_path, rng):
    pixels = rng.integers(0, 256, (6, 8, 4), dtype=np.uint8)
    pixels[::2, :, 3] = 0  # transparent rows whose colours libwebp would drop
    source = io.BytesIO()
    Image.fromarray(pixels).save(source, "WEBP", lossless=True, exact=True)
    (tmp_path / "in.webp").write_bytes(source.getvalue())
    assert np.array_equal(imagecodecs.webp_decode(source.getvalue()), pixels)
    imgconv.write_image(tmp_path / "out.webp", imgconv.read_image(tmp_path / "in.webp"))
    assert np.array_equal(imagecodecs.webp_decode((tmp_path / "out.webp").read_bytes()), pixels)


def _tga_rle(width: int, height: int, descriptor: int, packets: bytes) -> bytes:
    """A run-length 24-bit TGA (image type 10) of ``packets``, its descriptor byte given."""
    header = bytes([0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0]) + width.to_bytes(2, "little") \
        + height.to_bytes(2, "little") + bytes([24, descriptor])
    return header + packets


# A run of 12 pixels, across two ends of rows 5 wide, then 3 pixels as they are (BGR).
_RUN, _RAW = (10, 20, 30), [(1, 2, 3), (4, 5, 6), (7, 8, 9)]
_PACKETS = bytes([0x80 | 11, *_RUN[::-1], 2]) + b"".join(bytes(p[::-1]) for p in _RAW)
_STORED = np.array([_RUN] * 12 + _RAW, np.uint8).reshape(3, 5, 3)  # in the order stored


@pytest.mark.parametrize(("descriptor", "shown"), [
    (0x20, _STORED), (0x00, _STORED[::-1]), (0x30, _STORED[:, ::-1]), (0x10, _STORED[::-1, ::-1])])
def test_a_tga_run_length_packet_may_run_across_rows(descriptor, shown):
    picture = decode_image(_tga_rle(5, 3, descriptor, _PACKETS), "t.tga")
    assert picture.mode == "RGB" and np.array_equal(picture.pixels, shown)


def test_a_tga_whose_run_length_data_ends_early_is_refused():
    with pytest.raises(ImageReadError, match=r"^t\.tga: truncated: its run-length data ends before its last pixel, "):
        decode_image(_tga_rle(5, 3, 0x20, _PACKETS[:-1]), "t.tga")


def test_a_psd_of_channels_pillow_does_not_read_is_refused_saying_so():
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 4, 4, 16, 3)  # 16-bit RGB, 4 x 4
    with pytest.raises(ImageReadError, match=r"^t\.psd: a damaged or unsupported PSD file: its 16-bit channels "
                                             r"\(colour mode 3\) are not what Pillow, its reader, reads$"):
        decode_image(header + bytes(64), "t.psd")


def test_a_dds_of_a_format_pillow_lacks_is_refused_as_unsupported_not_damaged():
    pixel_format = struct.pack("<2I4s5I", 32, 4, b"DX10", 0, 0, 0, 0, 0)  # a DX10 header follows
    header = struct.pack("<7I44x", 124, 0x1007, 4, 4, 16, 0, 0) + pixel_format + struct.pack("<5I", 0x1000, 0, 0, 0, 0)
    dx10 = struct.pack("<5I", 72, 3, 0, 1, 0)  # DXGI_FORMAT_BC1_UNORM_SRGB, a 2D texture
    with pytest.raises(ImageReadError, match=r"^t\.dds: unsupported by the decoders imgconv uses \(Unimplemented DXGI"):
        decode_image(b"DDS " + header + dx10 + bytes(64), "t.dds")
