"""imgconv.imread and imwrite, read_image and write_image: arrays and pictures in and out,
checked with other codecs (Pillow, imagecodecs, tifffile) and against the files
``imgconv identity`` writes."""

import imagecodecs
import numpy as np
import pytest
import tifffile
from helpers import SAMPLES, load, run, save
from PIL import Image, ImageCms

import imgconv


def test_imread_gives_the_samples_pillow_reads():
    for name in ("chelsea.png", "camera.png"):
        with Image.open(SAMPLES / name) as image:
            expected = np.asarray(image)
        pixels = imgconv.imread(SAMPLES / name)
        assert pixels.dtype == np.uint8
        np.testing.assert_array_equal(pixels, expected)


def test_imwrite_writes_the_file_imgconv_identity_writes(tmp_path, rng):
    arrays = {"grey16": rng.integers(0, 65536, (30, 40), dtype=np.uint16),
              "rgba": rng.integers(0, 256, (30, 40, 4), dtype=np.uint8),
              "rgb16": rng.integers(0, 65536, (30, 40, 3), dtype=np.uint16)}
    for name, array in arrays.items():
        np.save(tmp_path / f"{name}.npy", array)
        for extension in (".png", ".tif"):
            assert run("identity", tmp_path / f"{name}.npy", tmp_path / f"cli{extension}").exit_code == 0
            imgconv.imwrite(tmp_path / f"api{extension}", array)
            written = (tmp_path / f"api{extension}").read_bytes()
            assert written == (tmp_path / f"cli{extension}").read_bytes(), (name, extension)
    np.testing.assert_array_equal(imagecodecs.png_decode((tmp_path / "api.png").read_bytes()), arrays["rgb16"])
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "api.tif"), arrays["rgb16"])


def test_16_bits_are_kept_or_refused_never_dropped(tmp_path, rng):
    grey = rng.integers(0, 65536, (20, 30), dtype=np.uint16)
    with pytest.raises(imgconv.ImageWriteError, match=r"JPEG holds 8 bits a sample and the input is 16-bit grey; "
                                                      r"write PNG, .* or give --depth 8"):
        imgconv.imwrite(tmp_path / "out.jpg", grey)
    assert not (tmp_path / "out.jpg").exists()
    imgconv.imwrite(tmp_path / "out.png", grey, depth=8)
    mode, pixels = load(tmp_path / "out.png")
    assert mode == "L"
    np.testing.assert_array_equal(pixels, (grey.astype(np.uint32) + 128) // 257)


def test_floats_go_to_tiff_as_they_are_or_are_mapped_by_depth(tmp_path, rng):
    values = rng.random((20, 30)).astype(np.float32) * 2 - 0.5
    imgconv.imwrite(tmp_path / "out.tif", values)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out.tif"), values)
    np.testing.assert_array_equal(imgconv.imread(tmp_path / "out.tif"), values)
    blurred = imgconv.blur(np.full((20, 30), 200, np.uint8), 1)  # float32, 200.0 everywhere
    for array in (values, blurred):
        with pytest.raises(imgconv.ImageWriteError, match=r"out.png: PNG holds integer samples and the array holds "
                                                          r"float32 ones; give imgconv's filter output=np.uint8 .*"
                                                          r"write TIFF.* to keep the floats, or give depth=8 or 16"):
            imgconv.imwrite(tmp_path / "out.png", array)
    assert not (tmp_path / "out.png").exists()
    imgconv.imwrite(tmp_path / "out.png", values, depth=16)
    expected = np.rint(np.clip(values, 0, 1) * 65535).astype(np.uint16)
    np.testing.assert_array_equal(imagecodecs.png_decode((tmp_path / "out.png").read_bytes()), expected)


def test_alpha_is_kept_refused_or_composited_over_a_background(tmp_path):
    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = [0, 51, 102, 153, 204, 255]
    with pytest.raises(imgconv.ImageWriteError, match="alpha is not opaque everywhere; give --background"):
        imgconv.imwrite(tmp_path / "out.jpg", rgba)
    imgconv.imwrite(tmp_path / "out.png", rgba, background="white")
    mode, pixels = load(tmp_path / "out.png")
    coverage = rgba[..., 3:] / 255
    assert mode == "RGB"
    np.testing.assert_array_equal(pixels, np.rint([200, 0, 0] * coverage + 255 * (1 - coverage)))
    imgconv.imwrite(tmp_path / "alpha.webp", rgba, quality=100)
    with Image.open(tmp_path / "alpha.webp") as image:
        assert image.mode == "RGBA"


def test_frames_become_an_animation_with_their_timing(tmp_path, rng):
    frames = [rng.integers(0, 256, (12, 16, 3), dtype=np.uint8) for _ in range(3)]
    imgconv.imwrite(tmp_path / "anim.png", frames, duration=[40, 80, 120], loop=2)
    with Image.open(tmp_path / "anim.png") as image:
        assert image.n_frames == 3 and image.info["loop"] == 2
        durations = []
        for index in range(3):
            image.seek(index)
            durations.append(image.info["duration"])
            np.testing.assert_array_equal(np.asarray(image.convert("RGB")), frames[index])
    assert durations == [40, 80, 120]
    stacked = imgconv.imread(tmp_path / "anim.png", frame=None)
    assert stacked.shape == (3, 12, 16, 3)
    np.testing.assert_array_equal(stacked[2], frames[2])
    np.testing.assert_array_equal(imgconv.imread(tmp_path / "anim.png", frame=1), frames[1])
    with pytest.raises(imgconv.InvalidInputError, match="3 durations for 2 frames"):
        imgconv.imwrite(tmp_path / "two.gif", frames[:2], duration=[1, 2, 3])


def test_pages_of_different_sizes_are_read_one_by_one(tmp_path):
    pages = [np.zeros((10, 12), np.uint8), np.full((5, 7), 9, np.uint8)]
    imgconv.imwrite(tmp_path / "pages.tif", pages)
    with tifffile.TiffFile(tmp_path / "pages.tif") as tiff:
        assert [page.shape for page in tiff.pages] == [(10, 12), (5, 7)]
    np.testing.assert_array_equal(imgconv.imread(tmp_path / "pages.tif", frame=1), pages[1])
    with pytest.raises(imgconv.InvalidInputError, match=r"its frames differ in size.*read_image"):
        imgconv.imread(tmp_path / "pages.tif", frame=None)
    assert [f.shape for f in imgconv.read_image(tmp_path / "pages.tif").frames] == [(10, 12), (5, 7)]


def test_write_image_keeps_what_the_file_held(tmp_path, camera):
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    save(tmp_path / "in.png", np.stack([camera] * 3, -1), icc_profile=profile)
    picture = imgconv.read_image(tmp_path / "in.png")
    picture.frames = [imgconv.blur(picture.pixels, 2, output=np.uint8)]
    imgconv.write_image(tmp_path / "out.jpg", picture, quality=90)
    with Image.open(tmp_path / "out.jpg") as image:
        assert image.info["icc_profile"] == profile
        assert image.size == (512, 512)
    assert run("blur", "-s", "2", tmp_path / "in.png", tmp_path / "cli.png").exit_code == 0
    imgconv.write_image(tmp_path / "api.png", picture)
    assert (tmp_path / "api.png").read_bytes() == (tmp_path / "cli.png").read_bytes()


@pytest.mark.parametrize("name, array, message", [
    ("out", np.zeros((4, 4), np.uint8), "no extension to tell the format by; give format="),
    ("out.png", np.zeros((4, 4, 6), np.uint8), "the input has 6 channels; only .npy can hold them"),
    ("out.png", np.zeros((2, 4, 4, 3), np.uint8), r"must be \(H, W\) or \(H, W, C\) samples, got shape"),
    ("out.png", np.zeros((4, 4), np.complex64), "complex64 samples are not an image imgconv writes"),
    ("out.xyz", np.zeros((4, 4), np.uint8), "cannot tell the output format from '.xyz'"),
])
def test_what_cannot_be_written_is_refused_before_a_file_appears(tmp_path, name, array, message):
    with pytest.raises((imgconv.InvalidInputError, imgconv.ImageWriteError), match=message):
        imgconv.imwrite(tmp_path / name, array)
    assert list(tmp_path.iterdir()) == []


def test_many_channels_go_to_npy_and_a_format_may_be_named(tmp_path, rng):
    cube = rng.random((6, 5, 9))
    imgconv.imwrite(tmp_path / "cube.npy", cube)
    np.testing.assert_array_equal(np.load(tmp_path / "cube.npy"), cube)
    imgconv.imwrite(tmp_path / "grey", cube[..., 0].astype(np.float32), format="tiff")
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "grey"), cube[..., 0].astype(np.float32))
