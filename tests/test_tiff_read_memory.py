"""TIFF inputs decoded strip by strip into the picture's own array
(`imgconv.io.tiff_read`), the file released as the strips are decoded. Files are written
here by tifffile from known arrays, which are the reference; Pillow's reading of the same
file is the other."""

import io
import os

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageOps

from imgconv.io import pages, tiff_read
from imgconv.io.read import decode_image


def photo(shape: tuple[int, ...], dtype: str, seed: int = 0) -> np.ndarray:
    """Smooth gradients with noise: the differences a predictor leaves are small, not zero."""
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max
    ramp = np.add.outer(np.arange(shape[0]) * 3, np.arange(shape[1]) * 5)
    if len(shape) == 3:
        ramp = ramp[..., None] + np.arange(shape[2]) * 40
    return ((ramp * top // 600 + rng.integers(0, top // 50, shape)) % (top + 1)).astype(dtype)


def tiff(samples: np.ndarray, **options) -> bytes:
    out = io.BytesIO()
    photometric = "rgb" if samples.ndim == 3 else "minisblack"
    tifffile.imwrite(out, samples, photometric=photometric, rowsperstrip=options.pop("rowsperstrip", 13), **options)
    return out.getvalue()


@pytest.fixture
def every_size(monkeypatch):
    """Plain strips of any size read by tifffile (by default only large ones are)."""
    monkeypatch.setattr(tiff_read, "STRIPS_BYTES", 0)


def released(monkeypatch) -> list[tuple[int, int]]:
    """The spans of the file given back as its strips are decoded."""
    spans, release = [], pages.release_bytes

    def recorded(data, start, stop):
        spans.append((start, stop))
        release(data, start, stop)

    monkeypatch.setattr(pages, "release_bytes", recorded)
    return spans


@pytest.mark.parametrize("shape, dtype", [((90, 70, 3), "uint8"), ((90, 70), "uint8"), ((90, 70), "uint16")])
@pytest.mark.parametrize("options", [
    {}, {"compression": "lzw"}, {"compression": "lzw", "predictor": True}, {"compression": "adobe_deflate"},
    {"compression": "zlib", "predictor": True}, {"compression": "packbits"}, {"byteorder": ">"},
    {"compression": "lzw", "predictor": True, "byteorder": ">"},
])
def test_plain_strips_give_the_samples_written_and_pillows(every_size, monkeypatch, shape, dtype, options):
    samples = photo(shape, dtype)
    data = tiff(samples, **options)  # 7 strips of 13 rows, the last of 12
    spans = released(monkeypatch)
    with pages.giving_up([data]):
        picture = decode_image(data, "in.tif")
    (read,) = picture.frames
    assert read.dtype == np.dtype(dtype) and read.dtype.isnative and read.flags.writeable
    assert np.array_equal(read, samples)
    assert np.array_equal(read, np.asarray(Image.open(io.BytesIO(data))))
    assert picture.mode == {(3, "uint8"): "RGB", (2, "uint8"): "L", (2, "uint16"): "I;16"}[len(shape), dtype]
    assert len(spans) == 7  # decoded by tifffile, strip by strip


def test_only_large_plain_strips_leave_pillow(monkeypatch):
    samples = photo((90, 70, 3), "uint8")
    spans = released(monkeypatch)
    assert np.array_equal(decode_image(tiff(samples), "in.tif").frames[0], samples)
    assert spans == []


def test_uncompressed_differences_stay_as_pillow_reads_them(every_size, monkeypatch):
    """libtiff, and so Pillow, leaves a predictor on uncompressed 8-bit samples undone:
    the samples stored are read, where tifffile would add them up."""
    samples = photo((40, 30), "uint8")
    # Predictor 2, which tifffile's writer refuses without compression: a private tag of
    # the same type and value, the last in the directory, renumbered.
    data = tiff(samples, extratags=[(65000, "H", 1, 2, True)])
    data = data.replace((65000).to_bytes(2, "little") + (3).to_bytes(2, "little"), (317).to_bytes(2, "little") +
                        (3).to_bytes(2, "little"))
    assert Image.open(io.BytesIO(data)).tag_v2[317] == 2
    spans = released(monkeypatch)
    read = decode_image(data, "in.tif").frames[0]
    assert spans == [] and np.array_equal(read, samples)
    assert np.array_equal(read, np.asarray(Image.open(io.BytesIO(data))))
    assert not np.array_equal(read, tifffile.imread(io.BytesIO(data)))


def test_the_file_read_goes_back_as_it_is_decoded(every_size):
    samples = photo((400, 300, 3), "uint8")
    data = tiff(samples, rowsperstrip=200)  # two strips of 176 KiB
    with pages.giving_up([data]):
        read = decode_image(data, "in.tif").frames[0]
    assert np.array_equal(read, samples)
    if os.uname().sysname == "Linux":
        # Released pages read as zeros; those a strip shares with what is beside it are kept.
        middle = np.frombuffer(data, np.uint8)[len(data) // 4: len(data) * 3 // 4]
        assert (middle == 0).mean() > 0.95


def test_strips_sharing_bytes_are_read_from_the_file_kept(every_size, monkeypatch, tmp_path):
    """A file whose second strip points at the first one's bytes: nothing is released
    (the second would read zeros), both strips hold those samples."""
    samples = photo((128, 300), "uint8")
    (tmp_path / "in.tif").write_bytes(tiff(samples, rowsperstrip=64))
    with tifffile.TiffFile(tmp_path / "in.tif", mode="r+b") as file:
        offsets = file.pages[0].tags["StripOffsets"]
        offsets.overwrite((offsets.value[0], offsets.value[0]))
    data = (tmp_path / "in.tif").read_bytes()
    spans = released(monkeypatch)
    with pages.giving_up([data]):
        read = decode_image(data, "in.tif").frames[0]
    assert spans == [] and np.array_equal(read, np.concatenate([samples[:64], samples[:64]]))


@pytest.mark.parametrize("tag", ["StripByteCounts", "StripOffsets"])
def test_a_strip_without_bytes_is_read_as_pillow_reads_it(every_size, monkeypatch, tmp_path, tag):
    """libtiff guesses a strip's bytes where its count or offset is 0; tifffile would read 0s."""
    (tmp_path / "in.tif").write_bytes(tiff(photo((40, 30), "uint8"), rowsperstrip=10))
    with tifffile.TiffFile(tmp_path / "in.tif", mode="r+b") as file:
        values = file.pages[0].tags[tag]
        values.overwrite((values.value[0], 0, *values.value[2:]))
    data = (tmp_path / "in.tif").read_bytes()
    spans = released(monkeypatch)
    read = decode_image(data, "in.tif").frames[0]
    assert spans == [] and np.array_equal(read, np.asarray(Image.open(io.BytesIO(data))))
    assert not np.array_equal(read, tifffile.imread(io.BytesIO(data)))


def test_pages_tifffile_reads_are_decoded_strip_by_strip(monkeypatch):
    """16-bit RGB (beyond Pillow): several pages, plane by plane, in another byte order."""
    first, second = photo((50, 40, 3), "uint16"), photo((50, 40, 3), "uint16", seed=1)
    out = io.BytesIO()
    with tifffile.TiffWriter(out, byteorder=">") as writer:
        for page in (first, second):
            writer.write(np.moveaxis(page, -1, 0), photometric="rgb", planarconfig="separate", rowsperstrip=8,
                         compression="lzw")
    spans = released(monkeypatch)
    picture = decode_image(out.getvalue(), "in.tif")
    assert spans == []  # two pages: none is the file's only one
    assert all(np.array_equal(a, b) and a.dtype.isnative for a, b in zip(picture.frames, (first, second), strict=True))
    assert np.array_equal(decode_image(out.getvalue(), "in.tif", frame=1).frames[0], second)


@pytest.mark.parametrize("auto_orient", [True, False])
def test_an_orientation_turns_the_samples_as_pillow_does(every_size, auto_orient):
    samples = photo((30, 50, 3), "uint8")
    data = tiff(samples, compression="lzw", extratags=[(274, "H", 1, 6, True)])  # Orientation: turned 90 degrees
    read = decode_image(data, "in.tif", auto_orient=auto_orient).frames[0]
    upright = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))))
    assert np.array_equal(read, upright if auto_orient else samples) and upright.shape == (50, 30, 3)
