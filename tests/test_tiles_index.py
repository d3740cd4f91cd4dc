"""Rows of a tiled TIFF page read block by block: the header parsed and the file opened
once for all the blocks, each block reading only its own tiles, from any thread."""

import os
import pickle
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import tifffile
from helpers import SAMPLES, load

from imgconv.io.tiff_tiles import open_tiff
from imgconv.io.tiles import read_rows

CAMERA = load(SAMPLES / "camera.png")[1]  # 512 x 512 grey


def every_row(image):
    """The image read a row of tiles at a time, as the stream reads it."""
    th = image.tile[0]
    return np.concatenate([read_rows(image, top, min(top + th, image.shape[0]))
                           for top in range(0, image.shape[0], th)])


def test_the_header_is_parsed_once_for_all_the_rows(tmp_path, monkeypatch):
    """Parsing the page's tile offsets costs the page's tile count: done for each row,
    a block's cost grew with the whole image. The rows are read with what the header's
    check parsed; a copy of the image sent to a cluster's worker parses it once."""
    tifffile.imwrite(tmp_path / "in.tif", CAMERA[:200, :300], tile=(16, 16), compression="zlib")
    image, = open_tiff(tmp_path / "in.tif")
    copy = pickle.loads(pickle.dumps(image))
    parsed = []
    parse = tifffile.TiffFile.__init__

    def counting(self, *args, **kwargs):
        parsed.append(args)
        parse(self, *args, **kwargs)

    monkeypatch.setattr(tifffile.TiffFile, "__init__", counting)
    rows = every_row(image)
    assert parsed == []
    copied = every_row(copy)
    assert len(parsed) == 1
    monkeypatch.undo()
    reference = tifffile.imread(tmp_path / "in.tif")
    assert np.array_equal(rows, reference) and np.array_equal(copied, reference)


def test_the_rows_come_from_the_file_whose_header_was_checked(tmp_path):
    """A link put in the file's place after its header was read (by another user who
    may write to the folder) is not followed: the rows are the checked file's."""
    tifffile.imwrite(tmp_path / "in.tif", CAMERA[:64, :64], tile=(16, 16))
    tifffile.imwrite(tmp_path / "secret.tif", 255 - CAMERA[:64, :64], tile=(16, 16))
    image, = open_tiff(tmp_path / "in.tif")
    os.replace(tmp_path / "in.tif", tmp_path / "moved.tif")
    os.symlink(tmp_path / "secret.tif", tmp_path / "in.tif")
    assert np.array_equal(every_row(image), CAMERA[:64, :64])


def test_a_row_of_tiles_holds_about_its_own_size(tmp_path):
    """Past the first read, a row of a page of 4096 tiles allocates a few times the row,
    not the page's tile offsets (which tifffile parses into Python ints: 300 KB here)."""
    tifffile.imwrite(tmp_path / "in.tif", np.tile(CAMERA, (2, 2)), tile=(16, 16))
    image, = open_tiff(tmp_path / "in.tif")
    every_row(image)
    tracemalloc.start()
    try:
        row = read_rows(image, 512, 528)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.array_equal(row, np.tile(CAMERA, (1, 2))[:16])
    assert peak < 4 * row.nbytes, peak


@pytest.mark.parametrize("options", [
    {"compression": "zlib", "predictor": True, "planarconfig": "separate"},
    {"compression": "jpeg"},
])
def test_threads_read_through_one_open_file(tmp_path, options):
    """Rows read at once by several threads, and by a copy of the image pickled to
    another process (a cluster's worker, which opens the file itself), are the
    file's pixels."""
    rgb = np.stack([CAMERA[:160, :96], CAMERA[:160, 96:192], CAMERA[:160, 192:288]], axis=-1)
    planar = options.get("planarconfig") == "separate"  # tifffile takes and gives the planes first
    tifffile.imwrite(tmp_path / "in.tif", np.moveaxis(rgb, -1, 0) if planar else rgb, tile=(16, 32),
                     photometric="rgb", **options)
    reference = tifffile.imread(tmp_path / "in.tif")
    reference = np.moveaxis(reference, 0, -1) if planar else reference
    image, = open_tiff(tmp_path / "in.tif")
    with ThreadPoolExecutor(4) as pool:
        rows = list(pool.map(lambda top: read_rows(image, top, top + 16), range(0, 160, 16)))
    assert np.array_equal(np.concatenate(rows), reference)
    assert np.array_equal(every_row(pickle.loads(pickle.dumps(image))), reference)
