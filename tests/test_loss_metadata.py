"""Outputs keep the metadata their format holds: the resolution (dots per inch) in PNG,
JPEG, TIFF and BMP, and a PNG's text chunks in PNG; each read back by Pillow or tifffile."""

import zlib

import numpy as np
import pytest
import tifffile
from helpers import assert_one_line_error, run
from PIL import Image, PngImagePlugin, TiffImagePlugin

from imgconv.io.chunks import chunk

ACROSS, DOWN = 300, 150  # unequal, so that a swap shows


@pytest.fixture
def rgb():
    y, x = np.mgrid[0:12, 0:16]
    return np.dstack([x * 16, y * 20, x + y]).astype(np.uint8)


def dpi_of(path):
    with Image.open(path) as image:
        return image.info.get("dpi")


@pytest.mark.parametrize("source", ["png", "jpg", "tif", "bmp"])
def test_resolution_is_kept_in_every_format_that_holds_one(tmp_path, rgb, source):
    Image.fromarray(rgb).save(tmp_path / f"in.{source}", dpi=(ACROSS, DOWN))
    for ext in ("png", "jpg", "tif", "bmp"):
        result = run("identity", tmp_path / f"in.{source}", tmp_path / f"out.{ext}")
        assert result.exit_code == 0, result.stderr
        assert dpi_of(tmp_path / f"out.{ext}") == pytest.approx((ACROSS, DOWN), rel=1e-4), (source, ext)


def test_resolution_is_kept_by_the_tiff_and_apng_writers_of_deep_and_animated_pictures(tmp_path, rgb):
    deep = rgb.astype(np.uint16) * 257
    tifffile.imwrite(tmp_path / "in.tif", deep, resolution=(ACROSS, DOWN), resolutionunit="INCH")
    assert run("blur", "-s", 1, tmp_path / "in.tif", tmp_path / "out.tif").exit_code == 0
    with tifffile.TiffFile(tmp_path / "out.tif") as tiff:
        assert tiff.pages[0].get_resolution() == pytest.approx((ACROSS, DOWN))
        assert tiff.pages[0].dtype == np.uint16
    frames = [Image.fromarray(np.roll(rgb, i, 1)) for i in range(2)]
    frames[0].save(tmp_path / "in.png", save_all=True, append_images=frames[1:], dpi=(ACROSS, DOWN))
    assert run("identity", tmp_path / "in.png", tmp_path / "out.png").exit_code == 0
    with Image.open(tmp_path / "out.png") as image:
        assert image.n_frames == 2
        assert image.info["dpi"] == pytest.approx((ACROSS, DOWN), rel=1e-4)


def test_resolution_turns_with_the_pixels(tmp_path, rgb):
    exif = Image.Exif()
    exif[0x0112] = 6  # turned 90 degrees: what was across is down
    exif[0x011A], exif[0x011B], exif[0x0128] = ACROSS, DOWN, 2  # X and YResolution, in inches
    Image.fromarray(rgb).save(tmp_path / "in.jpg", dpi=(ACROSS, DOWN), exif=exif)
    assert run("identity", tmp_path / "in.jpg", tmp_path / "out.png").exit_code == 0
    with Image.open(tmp_path / "out.png") as image:
        assert image.size == (12, 16)
        assert image.info["dpi"] == pytest.approx((DOWN, ACROSS), rel=1e-4)
        assert (image.getexif()[0x011A], image.getexif()[0x011B]) == (DOWN, ACROSS)


def test_no_resolution_is_made_up(tmp_path, rgb):
    """Pillow gives a TIFF without resolution tags 1 dpi, and a JPEG whose JFIF has no
    unit but which has an EXIF 72 dpi: neither is the file's."""
    tifffile.imwrite(tmp_path / "in.tif", rgb, resolution=None)
    exif = Image.Exif()
    exif[0x010F] = "maker"
    Image.fromarray(rgb).save(tmp_path / "in.jpg", exif=exif)
    for source in ("in.tif", "in.jpg"):
        assert run("identity", tmp_path / source, tmp_path / "out.png").exit_code == 0
        assert b"pHYs" not in (tmp_path / "out.png").read_bytes(), source


def test_a_resolution_the_output_cannot_hold_is_refused(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / "in.png", dpi=(70000, 70000))  # JFIF holds 16 bits
    result = run("identity", tmp_path / "in.png", tmp_path / "out.jpg")
    assert_one_line_error(result, 1, "out.jpg", "70000", "write PNG, TIFF or BMP", "--strip")
    assert not (tmp_path / "out.jpg").exists()
    assert run("identity", "--strip", tmp_path / "in.png", tmp_path / "out.jpg").exit_code == 0
    assert dpi_of(tmp_path / "out.jpg") is None
    assert run("identity", tmp_path / "in.png", tmp_path / "out.tif").exit_code == 0
    assert dpi_of(tmp_path / "out.tif") == pytest.approx((70000, 70000))


def test_png_text_chunks_are_kept_and_stripped(tmp_path, rgb):
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "a title")
    info.add_text("Description", "long " * 300, zip=True)
    info.add_itxt("Comment", "ünïcödé ✓", lang="fr", tkey="Commentaire")
    exif = Image.Exif()
    exif[0x010F] = "maker"
    raw = exif.tobytes()
    info.add_text("Raw profile type exif", f"\nexif\n{len(raw):8d}\n{raw.hex()}\n")  # ImageMagick's copy of the EXIF
    Image.fromarray(rgb).save(tmp_path / "in.png", pnginfo=info)
    assert run("blur", "-s", 1, tmp_path / "in.png", tmp_path / "out.png").exit_code == 0
    with Image.open(tmp_path / "out.png") as image:
        text = image.text
    assert text == {"Title": "a title", "Description": "long " * 300, "Comment": "ünïcödé ✓"}
    assert (text["Comment"].lang, text["Comment"].tkey) == ("fr", "Commentaire")
    assert b"zTXt" in (tmp_path / "out.png").read_bytes()  # the long text deflated
    assert run("identity", "--strip", tmp_path / "in.png", tmp_path / "stripped.png").exit_code == 0
    with Image.open(tmp_path / "stripped.png") as image:
        assert image.text == {}


def test_text_after_the_pixels_is_kept(tmp_path, rgb):
    """Text chunks may follow IDAT; Pillow finds them once it has decoded the pixels."""
    Image.fromarray(rgb).save(tmp_path / "plain.png")
    data = (tmp_path / "plain.png").read_bytes()
    end = data.rindex(b"IEND") - 4
    late = b"".join(chunk(b"zTXt", b"Late\0\0" + zlib.compress(b"after the pixels")))
    (tmp_path / "in.png").write_bytes(data[:end] + late + data[end:])
    assert run("identity", tmp_path / "in.png", tmp_path / "out.png").exit_code == 0
    with Image.open(tmp_path / "out.png") as image:
        assert image.text == {"Late": "after the pixels"}


def icc_header(space):
    """The 128-byte header of an ICC profile of colour space ``space``, with no tags."""
    header = bytearray(132)
    header[0:4] = (132).to_bytes(4, "big")
    header[12:24] = b"prtr" + space + b"Lab "
    header[36:40] = b"acsp"
    return bytes(header)


def test_a_profile_is_written_only_for_samples_it_describes(tmp_path, rgb):
    """A CMYK input's profile goes with the CMYK it stays in JPEG and TIFF outputs; an
    RGB input's with its RGB everywhere."""
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "in-cmyk.jpg", icc_profile=icc_header(b"CMYK"))
    Image.fromarray(rgb).save(tmp_path / "in-rgb.jpg", icc_profile=icc_header(b"RGB "))
    for ext in ("png", "jpg", "tif"):
        assert run("identity", tmp_path / "in-rgb.jpg", tmp_path / f"rgb.{ext}").exit_code == 0
        with Image.open(tmp_path / f"rgb.{ext}") as kept:
            assert kept.info["icc_profile"] == icc_header(b"RGB "), ext
    for ext in ("jpg", "tif"):
        assert run("identity", tmp_path / "in-cmyk.jpg", tmp_path / f"cmyk.{ext}").exit_code == 0
        with Image.open(tmp_path / f"cmyk.{ext}") as cmyk:
            assert cmyk.mode == "CMYK" and cmyk.info["icc_profile"] == icc_header(b"CMYK"), ext


def test_a_comment_goes_where_the_output_keeps_one(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / "in.jpg", comment="caf\xe9 noir".encode())
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "from a png")
    Image.fromarray(rgb).save(tmp_path / "in.png", pnginfo=info)
    assert run("identity", tmp_path / "in.jpg", tmp_path / "out.png").exit_code == 0
    with Image.open(tmp_path / "out.png") as image:
        assert image.text == {"Comment": "caf\xe9 noir"}
    for ext in ("jpg", "gif", "jp2"):
        assert run("identity", tmp_path / "in.png", tmp_path / f"out.{ext}").exit_code == 0
        with Image.open(tmp_path / f"out.{ext}") as image:
            assert image.info["comment"] == b"from a png", ext
    assert run("identity", tmp_path / "in.jpg", tmp_path / "out.jp2").exit_code == 0
    with Image.open(tmp_path / "out.jp2") as image:
        assert image.info["comment"] == "caf\xe9 noir".encode()


def test_exif_is_kept_in_tiffs_that_tifffile_writes(tmp_path, rgb):
    """16-bit colour and the wider sample types are written by tifffile, which writes no
    EXIF: its tags are added after, sub-directories included."""
    exif = Image.Exif()
    exif[0x010F], exif[0x8298] = "maker", "(c) someone"
    exif[0x8769] = {0x9003: "2020:01:02 03:04:05", 0x829A: TiffImagePlugin.IFDRational(1, 250)}
    deep = rgb.astype(np.uint16) * 257
    Image.fromarray(rgb).save(tmp_path / "eight.png", exif=exif)
    assert run("identity", "--depth", 16, tmp_path / "eight.png", tmp_path / "deep.tif").exit_code == 0
    with tifffile.TiffFile(tmp_path / "deep.tif") as tiff:
        page = tiff.pages[0]
        assert page.dtype == np.uint16 and np.array_equal(page.asarray(), deep)
        assert (page.tags.valueof(0x010F), page.tags.valueof(0x8298)) == ("maker", "(c) someone")
        assert page.tags.valueof(0x8769)["DateTimeOriginal"] == "2020:01:02 03:04:05"
    with Image.open(tmp_path / "deep.tif") as image:
        assert image.getexif().get_ifd(0x8769)[0x829A] == TiffImagePlugin.IFDRational(1, 250)
