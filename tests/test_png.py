"""The PNG writer, read back by Pillow's and libpng's decoders (independent of libdeflate)."""

import io

import imagecodecs
import numpy as np
import pytest
from helpers import SAMPLES, load, run
from PIL import Image, ImageCms

from imgconv.io.png import encode_png


def decode(data):
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image, np.asarray(image)


@pytest.mark.parametrize("mode, shape, dtype", [("L", (37, 53), np.uint8), ("LA", (37, 53, 2), np.uint8),
                                                ("RGB", (37, 53, 3), np.uint8), ("RGBA", (37, 53, 4), np.uint8),
                                                ("I;16", (37, 53), np.uint16)])
@pytest.mark.parametrize("level", [0, 2, 9])
def test_every_mode_round_trips(rng, mode, shape, dtype, level):
    samples = rng.integers(0, np.iinfo(dtype).max, size=shape, endpoint=True).astype(dtype)
    image, pixels = decode(encode_png(samples, mode, level=level))
    assert image.mode == mode and np.array_equal(pixels, samples)


@pytest.mark.parametrize("mode, channels", [("RGB", 3), ("RGBA", 4), ("RGB;16", 3), ("LA;16", 2)])
def test_libpng_reads_back_a_photo_in_every_row(camera, mode, channels):
    deep = mode.endswith(";16")
    photo = np.dstack([np.roll(camera, 17 * c, axis=1) for c in range(channels)])
    samples = photo.astype(np.uint16) * 257 + np.arange(photo.shape[1], dtype=np.uint16)[:, None] if deep else photo
    assert np.array_equal(imagecodecs.png_decode(encode_png(samples, mode)), samples)


def test_single_pixel():
    assert np.array_equal(decode(encode_png(np.array([[7]], np.uint8), "L"))[1], [[7]])


def test_metadata_chunks():
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "maker"
    image, _ = decode(encode_png(np.zeros((4, 4, 3), np.uint8), "RGB", icc_profile=icc, exif=exif.tobytes()))
    assert image.info["icc_profile"] == icc and image.getexif()[0x010F] == "maker"


def test_compress_level_option_trades_size(tmp_path):
    sizes = {}
    for level in (0, 9):
        out = tmp_path / f"{level}.png"
        assert run("identity", "--compress-level", level, SAMPLES / "chelsea.png", out).exit_code == 0
        assert np.array_equal(load(out)[1], load(SAMPLES / "chelsea.png")[1])
        sizes[level] = out.stat().st_size
    assert sizes[9] < 0.7 * sizes[0]  # level 0 stores the filtered rows uncompressed
    assert run("identity", "--compress-level", 10, SAMPLES / "chelsea.png", tmp_path / "x.png").exit_code == 2
