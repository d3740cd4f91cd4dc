"""Files as public test collections hold them (image-rs, libwebp's test data,
libjpeg-turbo's and OpenImageIO's test images), built here in miniature, read and
written as their formats and their other readers define them."""

import io

import imagecodecs
import numpy as np
from PIL import Image

import imgconv


def test_a_lossless_webp_keeps_the_colour_of_its_transparent_pixels(tmp_path, rng):
    pixels = rng.integers(0, 256, (6, 8, 4), dtype=np.uint8)
    pixels[::2, :, 3] = 0  # transparent rows whose colours libwebp would drop
    source = io.BytesIO()
    Image.fromarray(pixels).save(source, "WEBP", lossless=True, exact=True)
    (tmp_path / "in.webp").write_bytes(source.getvalue())
    assert np.array_equal(imagecodecs.webp_decode(source.getvalue()), pixels)
    imgconv.write_image(tmp_path / "out.webp", imgconv.read_image(tmp_path / "in.webp"))
    assert np.array_equal(imagecodecs.webp_decode((tmp_path / "out.webp").read_bytes()), pixels)
