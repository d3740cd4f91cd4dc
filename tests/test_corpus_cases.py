"""Structures from public test collections of TIFF and PNG files that imgconv had read
wrongly or refused for the wrong reason, each built here in miniature: CMYK at 16 bits
and with alpha, colour spaces tifffile gives as stored, WebP-compressed TIFF, tiles
located by StripOffsets, uncompressed subsampled YCbCr."""

import io
import struct

import imagecodecs
import numpy as np
import pytest
import tifffile
from helpers import assert_one_line_error, run
from PIL import Image


def _identity_png(tmp_path, data: bytes) -> np.ndarray:
    """``imgconv identity`` of a TIFF held in ``data`` to PNG, read back by libpng."""
    (tmp_path / "in.tif").write_bytes(data)
    result = run("identity", tmp_path / "in.tif", tmp_path / "out.png")
    assert result.exit_code == 0 and result.stderr == "", result.stderr
    return imagecodecs.png_decode((tmp_path / "out.png").read_bytes())


def _tiff(array: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array, byteorder="<", **options)
    return buffer.getvalue()


@pytest.mark.parametrize("planar", ["contig", "separate"])
def test_16_bit_cmyk_is_read_as_16_bit_rgb_not_as_rgba(tmp_path, rng, planar):
    """tifffile gives 16-bit CMYK as four samples, which had been written out as RGBA:
    inks converted as Pillow converts 8-bit CMYK, at 16 bits."""
    inks = rng.integers(0, 65536, (6, 5, 4), dtype=np.uint16)
    stored = inks if planar == "contig" else np.moveaxis(inks, -1, 0)
    rgb = _identity_png(tmp_path, _tiff(stored, photometric="separated", planarconfig=planar))
    c, k = inks[..., :3].astype(np.float64), inks[..., 3:].astype(np.float64)
    assert rgb.dtype == np.uint16 and rgb.shape == (6, 5, 3)
    assert np.array_equal(rgb, np.round((65535 - k) * (1 - c / 65535)).astype(np.uint16))


def test_8_bit_cmyk_with_alpha_is_rgba_as_pillow_converts_the_inks(tmp_path, rng):
    """Pillow opens no CMYK TIFF with an alpha sample; tifffile reads it. Every pair of
    ink and black values, against Pillow's own CMYK to RGB conversion."""
    values = np.arange(256, dtype=np.uint8)
    inks = np.zeros((256, 256, 5), np.uint8)
    inks[..., 0], inks[..., 1], inks[..., 2] = values[:, None], values[None, :], 255 - values[:, None]
    inks[..., 3], inks[..., 4] = values[None, :], rng.integers(0, 256, (256, 256))
    rgba = _identity_png(tmp_path, _tiff(inks, photometric="separated", extrasamples=["unassalpha"]))
    expected = np.asarray(Image.fromarray(np.ascontiguousarray(inks[..., :4]), "CMYK").convert("RGB"))
    assert np.array_equal(rgba[..., :3], expected) and np.array_equal(rgba[..., 3], inks[..., 4])


@pytest.mark.parametrize(("photometric", "fragment"), [
    ("cielab", "CIELAB samples (3 colour samples of 16 bits"),
    ("ycbcr", "YCBCR samples (3 colour samples of 8 bits, subsampled 2 x 1, without JPEG compression"),
])
def test_colour_spaces_given_as_stored_are_refused_by_name(tmp_path, rng, photometric, fragment):
    """16-bit CIELab went to tifffile, which gives the stored L*a*b*, and came out as
    RGB; uncompressed subsampled YCbCr, which Pillow reads as if not subsampled, was
    "corrupt or truncated"."""
    if photometric == "cielab":
        data = _tiff(rng.integers(0, 65536, (4, 6, 3), dtype=np.uint16), photometric="cielab")
    else:
        data = _tiff(rng.integers(0, 256, (4, 6, 3), dtype=np.uint8), photometric="rgb",
                     extratags=[(530, "H", 2, (2, 1), True)])
        data = _patched(data, 262, value=6)  # YCbCr
    (tmp_path / "in.tif").write_bytes(data)
    result = run("identity", tmp_path / "in.tif", tmp_path / "out.png")
    assert_one_line_error(result, 1, "in.tif: a TIFF of " + fragment, "not an image imgconv reads")
    assert not (tmp_path / "out.png").exists()


def test_a_webp_compressed_tiff_is_read_by_tifffile(tmp_path, rng):
    """Pillow's libtiff has no WebP ("decoder error -2", said as damage)."""
    pixels = rng.integers(0, 256, (16, 24, 4), dtype=np.uint8)
    data = _tiff(pixels, photometric="rgb", compression="webp", compressionargs={"lossless": True},
                 tile=(16, 16))
    assert np.array_equal(tifffile.TiffFile(io.BytesIO(data)).pages[0].asarray(), pixels)
    assert np.array_equal(_identity_png(tmp_path, data), pixels)


def test_tiles_located_by_strip_offsets_are_read_as_tiles(tmp_path, rng):
    """TileWidth and TileLength with StripOffsets and StripByteCounts (as old SGI files
    have them; libtiff and tifffile read tiles): Pillow had taken 16-row strips of the
    image's width and refused the file as truncated."""
    pixels = rng.integers(0, 256, (20, 40), dtype=np.uint8)
    data = _patched(_patched(_tiff(pixels, tile=(16, 16)), 324, new_tag=273), 325, new_tag=279)
    assert np.array_equal(tifffile.TiffFile(io.BytesIO(data)).pages[0].asarray(), pixels)
    assert np.array_equal(_identity_png(tmp_path, data), pixels)


def _patched(data: bytes, tag: int, *, new_tag: int | None = None, value: int | None = None) -> bytes:
    """A little-endian classic TIFF with a tag of its first IFD renumbered, or its
    inline short value changed."""
    data = bytearray(data)
    ifd = struct.unpack_from("<L", data, 4)[0]
    for entry in range(ifd + 2, ifd + 2 + 12 * struct.unpack_from("<H", data, ifd)[0], 12):
        if struct.unpack_from("<H", data, entry)[0] == tag:
            if new_tag is not None:
                struct.pack_into("<H", data, entry, new_tag)
            if value is not None:
                struct.pack_into("<H", data, entry + 8, value)
            return bytes(data)
    raise AssertionError(f"no tag {tag}")


@pytest.mark.parametrize("dtype", [np.int16, np.uint64])
def test_associated_alpha_that_cannot_be_divided_back_exactly_is_refused(tmp_path, dtype):
    """Signed colour has no rule, and 64-bit c * max would wrap around silently."""
    stored = np.full((4, 5, 4), 7, dtype)
    (tmp_path / "in.tif").write_bytes(_tiff(stored, photometric="rgb", extrasamples=["assocalpha"]))
    result = run("identity", tmp_path / "in.tif", tmp_path / "out.tif")
    assert_one_line_error(result, 1, "in.tif", "associated (premultiplied) alpha", np.dtype(dtype).name)
    assert not (tmp_path / "out.tif").exists()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_associated_alpha_is_divided_back_at_every_depth(tmp_path, rng, dtype):
    """16-bit and float premultiplied colour had been kept premultiplied and written as
    straight alpha: translucent pixels too dark. One rule at every depth, Pillow's for
    8 bits: min(max, c * max // a), kept where alpha is 0 or the maximum."""
    top = 1.0 if dtype == np.float32 else np.iinfo(dtype).max
    if dtype == np.float32:
        alpha = rng.random((8, 6, 1)).astype(dtype)
        alpha[0, :3] = 0
        straight = rng.random((8, 6, 3)).astype(dtype)
    else:
        alpha = rng.integers(0, top + 1, (8, 6, 1), dtype=np.uint64)
        alpha[0, :2], alpha[1, :2] = 0, top
        straight = rng.integers(0, top + 1, (8, 6, 3), dtype=np.uint64)
    stored = np.concatenate([straight * alpha / top if dtype == np.float32 else straight * alpha // top, alpha], -1)
    stored = stored.astype(dtype)
    (tmp_path / "in.tif").write_bytes(_tiff(stored, photometric="rgb", extrasamples=["assocalpha"]))
    assert run("identity", tmp_path / "in.tif", tmp_path / "out.tif").exit_code == 0
    out = tifffile.imread(tmp_path / "out.tif")
    colour, a = stored[..., :3].astype(np.float64), stored[..., 3:].astype(np.float64)
    if dtype == np.float32:
        expected = np.where(a != 0, colour / np.where(a != 0, a, 1), colour).astype(dtype)
    else:
        expected = np.where((a == 0) | (a == top), colour, np.minimum(top, (colour * top) // np.maximum(a, 1)))
        if dtype == np.uint8:  # the rule is Pillow's
            pillow = np.asarray(Image.frombuffer("RGBa", (6, 8), stored.tobytes()).convert("RGBA"))
            assert np.array_equal(pillow[..., :3], expected)
    assert np.array_equal(out[..., :3], expected.astype(dtype)) and np.array_equal(out[..., 3], stored[..., 3])


@pytest.mark.parametrize("kind", ["palette", "4-bit", "1-bit", "cielab"])
def test_tiled_pages_whose_stored_samples_are_not_read_as_stored_are_decoded_whole(tmp_path, rng, kind):
    """A tiled TIFF to a TIFF is streamed with its samples as stored: a palette's
    indices had been written without their colour map, 1-bit tiles refused as "bool
    samples", 4-bit ones written as 8-bit 0-15, CIELab's signed a* and b* filtered as
    unsigned. Those pages are decoded whole, as to any other format."""
    stored = rng.integers(0, 4 if kind == "palette" else 16, (20, 40), dtype=np.uint8)
    options: dict = {"tile": (16, 16)}
    if kind == "palette":
        colormap = rng.integers(0, 256, (3, 256), dtype=np.uint16) * 257
        options.update(photometric="palette", colormap=colormap)
        expected = (colormap[:, stored] // 257).astype(np.uint8).transpose(1, 2, 0)
    elif kind == "4-bit":
        options.update(bitspersample=4, photometric="minisblack")
        expected = stored * 17
    elif kind == "1-bit":
        stored = stored > 7
        options.update(photometric="minisblack")
        expected = stored.astype(np.uint8) * 255
    else:
        stored = rng.integers(0, 256, (20, 40, 3), dtype=np.uint8)
        options.update(photometric="cielab")
        expected = np.asarray(Image.open(io.BytesIO(_tiff(stored, photometric="cielab"))).convert("RGB"))
    (tmp_path / "in.tif").write_bytes(_tiff(stored, **options))
    assert run("identity", tmp_path / "in.tif", tmp_path / "out.tif").exit_code == 0
    with Image.open(tmp_path / "out.tif") as out:  # Pillow applies a bilevel output's photometric
        assert np.array_equal(np.asarray(out.convert("L") if out.mode == "1" else out), expected)


def test_a_tiled_palette_page_among_streamed_pages_is_refused_in_one_line(tmp_path, rng):
    buffer = io.BytesIO()
    with tifffile.TiffWriter(buffer) as tiff:
        tiff.write(rng.integers(0, 256, (20, 40), dtype=np.uint8), tile=(16, 16))
        tiff.write(rng.integers(0, 4, (20, 40), dtype=np.uint8), tile=(16, 16), photometric="palette",
                   colormap=rng.integers(0, 65536, (3, 256), dtype=np.uint16))
    (tmp_path / "in.tif").write_bytes(buffer.getvalue())
    result = run("identity", tmp_path / "in.tif", tmp_path / "out.tif")
    assert_one_line_error(result, 1, "in.tif: page 1: 8-bit PALETTE samples of compression 1",
                          "give --frame N")
    assert not (tmp_path / "out.tif").exists()
    assert run("identity", "--frame", "1", tmp_path / "in.tif", tmp_path / "out.tif").exit_code == 0
