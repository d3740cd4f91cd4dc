"""TIFFs that Pillow reads differently from what they hold: samples of fewer than 8 bits,
predictors and planar layouts Pillow's reader misses, 16-bit palettes, and the tags of
a multi-page input. Each file is built here; tifffile reads the reference."""

import numpy as np
import pytest
import tifffile
from PIL import Image

from helpers import run


def test_a_multi_page_tiff_keeps_the_first_pages_tags_not_the_last_pages_layout(tmp_path, rng):
    """Pillow reloads the EXIF it hands out with each page's tags as it seeks: the last
    page's layout tags (SampleFormat among them) must not come back into the output,
    where libtiff's compressing writer turns a SampleFormat of (1, 1) into signed."""
    pages = [Image.fromarray(rng.integers(0, 256, (10, 12, 2), dtype=np.uint8), "LA") for _ in range(3)]
    pages[0].save(tmp_path / "in.tif", save_all=True, append_images=pages[1:],
                  tiffinfo={339: (1, 1), 270: "first page"})
    with tifffile.TiffFile(tmp_path / "in.tif") as tiff:
        assert [page.tags.valueof(339) for page in tiff.pages] == [(1, 1)] * 3
        expected = [page.asarray() for page in tiff.pages]
    assert run("identity", "--compression", "deflate", tmp_path / "in.tif", tmp_path / "out.tif").exit_code == 0
    with tifffile.TiffFile(tmp_path / "out.tif") as tiff:
        assert [page.dtype for page in tiff.pages] == [np.uint8] * 3
        assert all(np.array_equal(page.asarray(), e) for page, e in zip(tiff.pages, expected))
        assert tiff.pages[0].description == "first page"
