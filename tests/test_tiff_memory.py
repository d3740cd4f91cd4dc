"""TIFF outputs written into their file as they are encoded (`imgconv.io.tiff_write.write_strips`):
compressed a strip at a time, never assembled whole beside the samples, with every
sample and tag kept. Written by imgconv's encoder, read back by tifffile; the tags
expected are built here, never taken from imgconv's reader."""

import errno
import io
import os

import numpy as np
import pytest
import tifffile
from helpers import assert_one_line_error, run
from PIL import Image, ImageCms, TiffImagePlugin
from test_attack_disk import disk_of

from imgconv.filters import kernel_filter
from imgconv.io import tiff_write
from imgconv.io.picture import Picture
from imgconv.io.write import EncodeOptions, check_writable, encoder
from imgconv.pipeline import process_file

CHANNELS = {"L": 1, "I;16": 1, "LA": 2, "LA;16": 2, "RGB": 3, "RGB;16": 3, "RGBA": 4, "RGBA;16": 4, "CMYK": 4,
            "CMYK;16": 4}
PHOTOMETRIC = {1: "MINISBLACK", 2: "MINISBLACK", 3: "RGB", 4: "RGB"}


class Recorded(io.BytesIO):
    """A file that notes the size of every write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[int] = []

    def write(self, data) -> int:  # type: ignore[override]
        self.writes.append(memoryview(data).nbytes)
        return super().write(data)


def noise(mode: str, shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    channels = CHANNELS[mode]
    dtype = np.uint16 if mode.endswith("16") else np.uint8
    full = shape if channels == 1 else (*shape, channels)
    return np.random.default_rng([seed, channels, dtype().itemsize]).integers(0, np.iinfo(dtype).max, full, dtype)


def exif() -> Image.Exif:
    made = Image.Exif()
    made[0x010F] = "imgconv camera"  # Make
    made[0x0131] = "an editor"  # Software
    made[0x0112] = 1  # Orientation
    made.get_ifd(0x8769)[0x829A] = TiffImagePlugin.IFDRational(1, 250)  # exposure time
    made.get_ifd(0x8825)[1] = "N"  # latitude's reference
    return made


def written(frames: list[np.ndarray], mode: str, compression: str | None, source: str = "PNG",
            **picture) -> io.BytesIO:
    """``frames`` written by the command's encoder into a `Recorded`, as from a ``source`` file."""
    made = Picture([f.copy() for f in frames], mode, source, name="in", **picture)
    check_writable(made, "TIFF", "out")
    out = Recorded()
    encoder(made.frames, made, "TIFF", EncodeOptions(compression=compression), "out")(out)
    out.seek(0)
    return out


@pytest.mark.parametrize("compression", ["none", "lzw", "deflate", "zstd", "packbits"])
@pytest.mark.parametrize("mode", sorted(CHANNELS))
def test_every_mode_and_compression_keeps_samples_and_tags(mode, compression):
    want = noise(mode, (70, 90))
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    metadata = {"exif": exif(), "xmp": b"<x:xmpmeta/>", "dpi": (300.0, 150.0)}
    if CHANNELS[mode] >= 3 and not mode.startswith("CMYK"):
        metadata["icc_profile"] = profile
    with tifffile.TiffFile(written([want], mode, compression, metadata=metadata)) as tiff:
        page = tiff.pages[0]
        tags = page.tags
        np.testing.assert_array_equal(page.asarray(), want)
        assert page.compression == tiff_write.TIFF_COMPRESSION[compression]
        assert page.photometric.name == ("SEPARATED" if mode.startswith("CMYK") else PHOTOMETRIC[CHANNELS[mode]])
        assert page.predictor == 1
        assert tags["ExtraSamples"].value == (2,) if "A" in mode else "ExtraSamples" not in tags  # unassociated
        assert (tags["XResolution"].value, tags["YResolution"].value, tags["ResolutionUnit"].value) == \
            ((300, 1), (150, 1), 2)
        assert (tags["Make"].value, tags["Software"].value, tags["Orientation"].value, tags["XMP"].value) == \
            ("imgconv camera", "an editor", 1, b"<x:xmpmeta/>")
        assert tags["ExifTag"].value["ExposureTime"] == (1, 250) and tags["GPSTag"].value["GPSLatitudeRef"] == "N"
        assert tags.get("InterColorProfile") is None if "icc_profile" not in metadata else \
            tags["InterColorProfile"].value == profile


STRIPS = {"StripOffsets", "StripByteCounts", "RowsPerStrip"}


@pytest.mark.parametrize("compression", [("none", "raw"), ("deflate", "tiff_adobe_deflate")], ids=str)
@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "CMYK", "I;16"])
def test_the_tags_are_those_pillows_writer_gave(mode, compression):
    """The modes Pillow's (and libtiff's) writer wrote: the same tags, but for the strips,
    with the same values, and the resolution too."""
    want = noise(mode, (20, 30))
    ours = written([want], mode, compression[0], metadata={"dpi": (72.0, 72.0)})
    theirs = io.BytesIO()
    Image.fromarray(want, mode if mode in ("LA", "CMYK") else None).save(theirs, "TIFF", compression=compression[1],
                                                                         dpi=(72, 72))
    theirs.seek(0)
    tagged = []
    for data in (ours, theirs):
        with tifffile.TiffFile(data) as tiff:
            np.testing.assert_array_equal(tiff.pages[0].asarray(), want)
            tagged.append({tag.name: tag.value for tag in tiff.pages[0].tags if tag.name not in STRIPS})
    assert tagged[0] == tagged[1]


@pytest.mark.parametrize("compression", ["none", "lzw", "deflate"])
@pytest.mark.parametrize("mode", ["RGB", "RGBA;16"])
def test_samples_go_into_the_file_a_strip_at_a_time(mode, compression):
    """No write holds more than a strip: the file is never assembled elsewhere first,
    nor the samples copied whole."""
    want = noise(mode, (400, 600))  # 0.7 MB and 1.9 MB of noise, which LZW makes a third larger
    out = written([want], mode, compression)
    assert len(out.getvalue()) > 2.5 * tiff_write.STRIP_BYTES
    assert max(out.writes) <= 1.5 * tiff_write.STRIP_BYTES, out.writes
    with tifffile.TiffFile(out) as tiff:
        np.testing.assert_array_equal(tiff.pages[0].asarray(), want)
        assert tiff.pages[0].rowsperstrip == tiff_write.STRIP_BYTES // (want[0].nbytes)


def test_pages_each_keep_the_exif_and_no_resolution_is_made_up():
    """Pages of different sizes, each with the EXIF and its sub-directories; an input
    without a resolution gives an output without one (not tifffile's 1:1 without unit)."""
    pages = [noise("RGB", (20, 30), 1), noise("RGB", (31, 17), 2), noise("RGB", (5, 5), 3)]
    with tifffile.TiffFile(written(pages, "RGB", "deflate", metadata={"exif": exif()})) as tiff:
        assert len(tiff.pages) == 3
        for page, want in zip(tiff.pages, pages, strict=True):
            np.testing.assert_array_equal(page.asarray(), want)
            assert page.tags["Make"].value == "imgconv camera" and page.tags["GPSTag"].value == {"GPSLatitudeRef": "N"}
            assert not {"XResolution", "YResolution", "ResolutionUnit"} & {tag.name for tag in page.tags}


def test_a_bigtiff_of_pages_keeps_every_tag_on_each(monkeypatch):
    monkeypatch.setattr(tiff_write, "BIGTIFF_BYTES", 0)
    pages = [noise("I;16", (40, 30), 4), noise("I;16", (9, 70), 5)]
    with tifffile.TiffFile(written(pages, "I;16", "zstd", metadata={"exif": exif(), "dpi": (72.0, 72.0)})) as tiff:
        assert tiff.is_bigtiff
        for page, want in zip(tiff.pages, pages, strict=True):
            np.testing.assert_array_equal(page.asarray(), want)
            assert page.tags["ExifTag"].value["ExposureTime"] == (1, 250)
            assert page.tags["XResolution"].value == (72, 1) and page.tags["Software"].value == "an editor"


def test_written_into_the_output_file_with_its_exif(tmp_path):
    """Through the command's path: tifffile writes into the atomic file, which is read
    back for the EXIF's directories, and takes its name whole."""
    want = noise("RGB", (50, 60))
    Image.fromarray(want).save(tmp_path / "in.png", exif=exif().tobytes(), dpi=(200, 200))
    process_file(tmp_path / "in.png", tmp_path / "out.tif", kernel_filter(np.ones((1, 1))))
    with tifffile.TiffFile(tmp_path / "out.tif") as tiff:
        np.testing.assert_array_equal(tiff.pages[0].asarray(), want)
        tags = tiff.pages[0].tags
        across, per = tags["XResolution"].value  # PNG's dots a metre: 200 dpi less 0.0004
        assert tags["ExifTag"].value["ExposureTime"] == (1, 250) and across / per == pytest.approx(200, abs=1e-3)
    assert sorted(os.listdir(tmp_path)) == ["in.png", "out.tif"]


def test_a_full_disk_while_strips_are_compressed_says_so_and_leaves_nothing(tmp_path):
    source = tmp_path / "in.tif"
    tifffile.imwrite(source, noise("RGB", (400, 600)))
    with disk_of(65536):
        result = run("identity", "--compression", "lzw", source, tmp_path / "out.tif")
    assert_one_line_error(result, 1, f"out.tif: cannot write: {os.strerror(errno.EFBIG)}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tif"]


def test_a_bilevel_fax_keeps_its_exif_directories():
    """Pillow's writer, left for 1 bit a sample (the fax codes), with the EXIF's
    sub-directories added after."""
    bits = (np.random.default_rng(6).integers(0, 2, (40, 50)) * 255).astype(np.uint8)
    out = written([bits], "L", None, "TIFF", metadata={"exif": exif(), "xmp": b"<x:xmpmeta/>"},
                  encoding={"bilevel": True, "compression": 4})
    with tifffile.TiffFile(out) as tiff:
        page = tiff.pages[0]
        assert (page.bitspersample, page.compression) == (1, 4)
        np.testing.assert_array_equal(np.where(page.asarray(), 255, 0), bits)
        assert page.tags["ExifTag"].value["ExposureTime"] == (1, 250) and page.tags["XMP"].value == b"<x:xmpmeta/>"
