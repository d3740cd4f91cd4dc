"""The corpus runner's Pillow reference (benchmarks/corpus.py) reads frames as imgconv
numbers them where Pillow can (an APNG's each sought to afresh, checked against libpng's
APNG decoder; an ICO's every image, largest first) and sets aside what Pillow reads
otherwise (XBM, 16-bit SGI, colour cursors), so that its report counts no wrong samples
that are the reference's."""

import importlib.util
import struct
import sys
from pathlib import Path

import imagecodecs
import numpy as np
from helpers import run
from PIL import Image

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "corpus.py"
_SPEC = importlib.util.spec_from_file_location("corpus_reference", _PATH)
corpus = importlib.util.module_from_spec(_SPEC)
sys.modules["corpus_reference"] = corpus  # dataclasses look their module up
_SPEC.loader.exec_module(corpus)


def test_apng_frames_are_sought_to_afresh(tmp_path):
    # A frame disposed of as PREVIOUS, then two blended OVER: Pillow reading frame after
    # frame gives the last one wrong.
    base = np.zeros((8, 8, 4), np.uint8)
    base[..., 0], base[..., 3] = 200, 255
    frames = [base]
    for k in range(3):
        frame = base.copy()
        frame[1 + k:4 + k, 1 + k:4 + k] = [0, 60 * k, 255 - 50 * k, 128]
        frames.append(frame)
    images = [Image.fromarray(f) for f in frames]
    source = tmp_path / "in.png"
    images[0].save(source, save_all=True, append_images=images[1:], disposal=[0, 0, 2, 0], blend=[0, 0, 1, 1],
                   duration=100)
    read = corpus.read_frames(str(source), "PNG")
    libpng = imagecodecs.apng_decode(source.read_bytes())
    assert len(read.arrays) == len(libpng) == 4 and read.durations == [100.0] * 4
    # libpng pastes an OVER frame with its alpha as mask: the frames blended SOURCE are
    # libpng's, the others Porter-Duff over the second frame (the third goes back to it).
    np.testing.assert_array_equal(read.arrays[:2], libpng[:2])
    for ours, frame in zip(read.arrays[2:], frames[2:], strict=True):
        top, below = frame / 255, frames[1] / 255
        alpha = top[..., 3:] + below[..., 3:] * (1 - top[..., 3:])
        colour = (top[..., :3] * top[..., 3:] + below[..., :3] * below[..., 3:] * (1 - top[..., 3:])) / alpha
        np.testing.assert_array_equal(ours, np.round(np.dstack([colour, alpha]) * 255))
    assert run("identity", source, tmp_path / "out.png").exit_code == 0
    assert corpus.compare_files(str(source), "PNG", str(tmp_path / "out.png"), "PNG") == ["equal", ""]


def test_every_image_of_an_icon_largest_first(tmp_path):
    y, x = np.mgrid[0:32, 0:32]
    picture = np.dstack([x * 8, y * 8, x + y, np.full_like(x, 255)]).astype(np.uint8)
    source = tmp_path / "in.ico"
    Image.fromarray(picture).save(source, sizes=[(16, 16), (32, 32), (24, 24)])
    assert corpus.output_extension(source, "ICO") == ".tif"
    read = corpus.read_frames(str(source), "ICO")
    assert [a.shape[:2] for a in read.arrays] == [(32, 32), (24, 24), (16, 16)]
    np.testing.assert_array_equal(read.arrays[0], picture)  # the 32x32 image, as stored
    assert run("identity", source, tmp_path / "out.tif").exit_code == 0
    assert corpus.compare_files(str(source), "ICO", str(tmp_path / "out.tif"), "TIFF") == ["equal", ""]


def sgi_16_bit(path, samples):
    """A verbatim grey SGI of two bytes a sample, rows stored bottom up."""
    height, width = samples.shape
    header = struct.pack(">hBBHHHHii4x80sI", 474, 0, 2, 2, width, height, 1, 0, 65535, b"", 0)
    path.write_bytes(header.ljust(512, b"\0") + samples[::-1].astype(">u2").tobytes())


def colour_cursor(path, rgb, mask):
    """A 24-bit cursor whose AND mask (``mask`` True: transparent) follows its colours."""
    height, width = mask.shape
    colours = b"".join(rgb[row, :, ::-1].tobytes().ljust((width * 3 + 3) // 4 * 4, b"\0") for row in
                       range(height - 1, -1, -1))
    masks = b"".join(np.packbits(mask[row]).tobytes().ljust((width + 31) // 32 * 4, b"\0") for row in
                     range(height - 1, -1, -1))
    bitmap = struct.pack("<IiiHHIIiiII", 40, width, height * 2, 1, 24, 0, 0, 0, 0, 0, 0) + colours + masks
    entry = struct.pack("<BBBBHHII", width, height, 0, 0, 1, 1, len(bitmap), 22)
    path.write_bytes(struct.pack("<HHH", 0, 2, 1) + entry + bitmap)


def test_files_pillow_reads_otherwise_are_not_compared(tmp_path):
    rng = np.random.default_rng(3)
    xbm = tmp_path / "in.xbm"
    Image.fromarray(rng.random((8, 16)) < 0.5).save(xbm)
    sgi = tmp_path / "in.sgi"
    sgi_16_bit(sgi, rng.integers(0, 65536, (6, 5)))
    cur = tmp_path / "in.cur"
    colour_cursor(cur, rng.integers(0, 256, (4, 4, 3), dtype=np.uint8), np.eye(4, dtype=bool))
    for source, fmt, reason in [(xbm, "XBM", "XBM, whose set bits Pillow reads white"),
                                (sgi, "SGI", "16-bit SGI"), (cur, "CUR", "a colour cursor")]:
        with Image.open(source) as image:
            assert image.format == fmt
        assert run("identity", source, tmp_path / "out.png").exit_code == 0
        category, detail = corpus.compare_files(str(source), fmt, str(tmp_path / "out.png"), "PNG")
        assert category == "not compared" and detail.startswith(reason), (fmt, category, detail)


def test_an_eight_bit_sgi_is_still_compared(tmp_path):
    rng = np.random.default_rng(4)
    sgi = tmp_path / "in.sgi"
    Image.fromarray(rng.integers(0, 256, (6, 5), dtype=np.uint8)).save(sgi, format="SGI")
    assert run("identity", sgi, tmp_path / "out.png").exit_code == 0
    assert corpus.compare_files(str(sgi), "SGI", str(tmp_path / "out.png"), "PNG") == ["equal", ""]
