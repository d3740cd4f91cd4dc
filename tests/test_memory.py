"""Memory of one picture: filtered in its own memory strip by strip (`imgconv.in_place`),
its results handed to the encoders and released as they are copied (`imgconv.io.pages`),
and the peak of a whole command."""

import io
import os
import struct
import subprocess
import sys
import weakref
import zlib

import numpy as np
import pytest
import scipy.ndimage
from PIL import Image

from imgconv import in_place, kernels, strips
from imgconv.engine import EngineOptions
from imgconv.engine.bands import watching
from imgconv.filters import filter_picture, gradient_filter, kernel_filter, preset_filter
from imgconv.io import pages, pillow_memory, png
from imgconv.io.picture import Picture
from imgconv.io.pillow_modes import array_of
from imgconv.io.pillow_write import pillow_image
from imgconv.io.read import read_image
from imgconv.pipeline import process_file

LINUX = sys.platform.startswith("linux")


def photo(height: int, width: int, channels: int = 3, dtype: type = np.uint8, seed: int = 0) -> np.ndarray:
    """Smooth shapes and noise, as a photograph has both."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x + y) / (height + width) * 255, 128 + 100 * np.sin(x / 9), 128 + 100 * np.cos(y / 7),
                     200 - (x % 50)], axis=-1)[..., :channels]
    values = np.clip(base + rng.normal(0, 20, base.shape), 0, 255)
    if dtype == np.uint16:
        values = values * 257
    elif dtype == np.float32:
        values = values / 255
    return values.astype(dtype).squeeze()


def picture(samples: np.ndarray) -> Picture:
    mode = {(np.uint8, 2): "L", (np.uint8, 3): "RGB", (np.uint8, 4): "RGBA", (np.uint16, 3): "RGB;16",
            (np.float32, 2): "F"}[samples.dtype.type, 2 if samples.ndim == 2 else samples.shape[2]]
    return Picture([samples], mode, "PNG", name="test.png")


@pytest.fixture
def small_strips(monkeypatch: pytest.MonkeyPatch) -> None:
    """Strips of a few bands, so that a small picture is cut into many."""
    monkeypatch.setattr(in_place, "STRIP_BYTES", 4096)


FILTERS = {
    "blur 2": lambda e: preset_filter(kernels.gaussian(sigma=2), engine=e),
    "blur 9": lambda e: preset_filter(kernels.gaussian(sigma=9), engine=e),
    "box": lambda e: preset_filter(kernels.box(radius=3), engine=e),
    "sharpen": lambda e: preset_filter(kernels.sharpen(), engine=e),
    "sobel": lambda e: gradient_filter(kernels.sobel, engine=e),
    "random 5x5": lambda e: kernel_filter(np.random.default_rng(1).normal(size=(5, 5)), engine=e),
    "random 9x3 direct": lambda e: kernel_filter(np.random.default_rng(2).normal(size=(9, 3)),
                                                 engine=EngineOptions(e.mode, method="direct")),
}


@pytest.mark.parametrize("name", FILTERS)
@pytest.mark.parametrize("mode", ["reflect", "mirror", "nearest", "constant"])
@pytest.mark.parametrize(("shape", "dtype"), [((517, 301, 3), np.uint8), ((700, 123, 1), np.uint8),
                                              ((333, 211, 3), np.uint16), ((300, 200, 1), np.float32)])
def test_in_place_gives_the_whole_pictures_result(small_strips: None, name: str, mode: str, shape: tuple[int, ...],
                                                  dtype: type) -> None:
    samples = photo(shape[0], shape[1], shape[2], dtype)
    filt = FILTERS[name](EngineOptions(mode=mode))
    whole = filter_picture(picture(samples.copy()), filt, samples.dtype)
    filtered = samples.copy()
    if not in_place.filter_in_place(filtered, filt, "test.png"):
        # Only these take a strategy whose bands depend on the picture's height.
        assert name == "sobel" and dtype != np.uint8, f"{name} on {dtype.__name__} was not filtered in place"
        np.testing.assert_array_equal(filtered, samples)
        return
    np.testing.assert_array_equal(filtered, whole)


def test_in_place_blur_agrees_with_scipy(small_strips: None) -> None:
    samples = photo(400, 250, 1)
    weights = kernels.gaussian(sigma=2)
    filtered = samples.copy()
    assert in_place.filter_in_place(filtered, preset_filter(weights), "test.png")
    expected = scipy.ndimage.convolve(samples.astype(np.float64), np.asarray(weights)[::-1, ::-1], mode="reflect")
    assert np.abs(filtered.astype(np.float64) - np.clip(np.rint(expected), 0, 255)).max() <= 1


def test_in_place_reports_the_whole_pictures_progress(small_strips: None) -> None:
    """A progress display watching the engine sees the strips as parts of one picture:
    rows never going back, short of the height until the last strip, then all of it."""
    samples = photo(400, 250, 1)
    seen: list[tuple[int, int]] = []
    with watching(lambda done, total: seen.append((done, total))):
        assert in_place.filter_in_place(samples, preset_filter(kernels.gaussian(sigma=2)), "test.png")
    done = [d for d, _ in seen]
    assert {total for _, total in seen} == {400}
    assert done == sorted(done) and done[-1] == 400
    assert sum(d < 100 for d in done) > 1 and sum(d == 400 for d in done) == 1


def test_strips_are_written_as_soon_as_no_later_strip_reads_them() -> None:
    """Each strip's rows are written once it is filtered, but for the ``lead`` rows the
    next strip reads, and its result is gone before the next one is made."""
    planned = strips.Strips(rows=40, lead=16, below=3, methods=("direct",))
    written = np.zeros(130, bool)
    alive: list[weakref.ref[np.ndarray]] = []

    def filter_strip(rows: slice, read: slice) -> np.ndarray:
        assert not written[read].any()  # what it reads is still the picture's own
        assert written[: read.start].all()  # and everything above that is written
        assert all(ref() is None for ref in alive)  # the strip above's result is gone
        result = np.arange(read.start, read.stop)
        alive.append(weakref.ref(result))
        return result[rows.start - read.start : rows.stop - read.start]

    def write(rows: slice, result: np.ndarray) -> None:
        assert not written[rows].any() and np.array_equal(result, np.arange(rows.start, rows.stop))
        written[rows] = True

    strips.each_strip(planned, 130, filter_strip, write)
    assert written.all()


def test_a_picture_given_up_goes_back_as_its_composite_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over a background, a picture with alpha is filtered into a new array strip by
    strip; given up, its rows go back as each strip's result is written."""
    from imgconv import filters

    monkeypatch.setattr(filters, "ALPHA_STRIP_BYTES", 64 << 10)
    samples = photo(600, 500, 4)
    blur = preset_filter(kernels.gaussian(sigma=2))
    expected = filter_picture(picture(samples.copy()), blur, np.uint8, (255.0, 0.0, 0.0))
    with pages.giving_up([samples]):
        result = filter_picture(picture(samples), blur, np.uint8, (255.0, 0.0, 0.0))
    np.testing.assert_array_equal(result, expected)
    assert result.shape == (600, 500, 3)
    if LINUX:
        assert (samples[50:550] == 0).mean() > 0.9


@pytest.mark.parametrize("case", ["wrap", "display", "per-channel cval", "identity", "not contiguous", "few rows"])
def test_in_place_declines_and_leaves_the_samples(small_strips: None, monkeypatch: pytest.MonkeyPatch,
                                                  case: str) -> None:
    samples = photo(300, 200, 3)
    filt = preset_filter(kernels.gaussian(sigma=2))
    if case == "wrap":
        filt = preset_filter(kernels.gaussian(sigma=2), engine=EngineOptions(mode="wrap"))
    elif case == "display":
        filt = gradient_filter(kernels.sobel, "x")
    elif case == "per-channel cval":
        filt = preset_filter(kernels.gaussian(sigma=2), engine=EngineOptions(mode="constant", cval=(1, 2, 3)))
    elif case == "identity":
        filt = preset_filter(kernels.identity())
    elif case == "not contiguous":
        samples = np.asfortranarray(samples)
    elif case == "few rows":
        monkeypatch.setattr(in_place, "STRIP_BYTES", 2**30)
    given = samples.copy()
    assert not in_place.filter_in_place(samples, filt, "test.png")
    np.testing.assert_array_equal(samples, given)


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_process_file_in_place_writes_the_whole_pictures_result(small_strips: None, tmp_path, ext: str) -> None:
    samples = photo(480, 320, 3)
    Image.fromarray(samples).save(tmp_path / "in.png")
    filt = gradient_filter(kernels.sobel)
    process_file(tmp_path / "in.png", tmp_path / f"out.{ext}", filt)
    expected = filter_picture(picture(samples), filt, np.uint8)
    with Image.open(tmp_path / f"out.{ext}") as written:
        if ext == "png":
            np.testing.assert_array_equal(np.asarray(written), expected)
        else:  # the same picture through Pillow's encoder, byte for byte
            again = io.BytesIO()
            Image.fromarray(expected).save(again, "JPEG", quality=92, subsampling="4:4:4")  # imgconv's own for a JPEG
            assert (tmp_path / "out.jpg").read_bytes() == again.getvalue()


@pytest.mark.skipif(not LINUX, reason="pages are released with Linux's madvise")
def test_released_rows_read_zeros_and_only_when_given_up() -> None:
    samples = np.full((64, 8192), 7, np.uint8)  # rows of two pages each
    pages.release_rows(samples, 10, 20)
    assert (samples == 7).all()  # not given up: nothing happens
    with pages.giving_up([samples]):
        pages.release_rows(samples, 10, 20)
    # The pages wholly within the rows: all but the parts of a page at either end.
    assert (samples[10:20] == 0).mean() > 0.9
    assert (samples[:10] == 7).all() and (samples[20:] == 7).all()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_of_given_up_samples(dtype: type) -> None:
    samples = photo(300, 500, 3, dtype)
    kept = samples.copy()
    mode = "RGB" if dtype == np.uint8 else "RGB;16"
    with pages.giving_up([samples]):
        data = png.encode_png(samples, mode)
    decoded = __import__("imagecodecs").png_decode(data)
    np.testing.assert_array_equal(decoded, kept)
    assert data == png.encode_png(kept, mode)
    if LINUX:
        assert (samples[100:200] == 0).mean() > 0.9  # their memory went back as they were written


def test_pillow_copies_rgb_by_strips_and_maps_grey() -> None:
    rgb, grey = photo(300, 1000, 3), photo(300, 1000, 1)
    kept = rgb.copy()
    with pages.giving_up([rgb, grey]):
        image = pillow_image(rgb)
        mapped = pillow_image(grey)
    assert image.mode == "RGB" and not image.readonly
    np.testing.assert_array_equal(np.asarray(image), kept)
    if LINUX:
        assert (rgb[100:200] == 0).mean() > 0.9
    assert mapped.readonly  # Pillow reads grey samples where they are: nothing to copy or release
    np.testing.assert_array_equal(np.asarray(mapped), grey)


@pytest.mark.parametrize("mode", ["1", "L", "LA", "RGB", "RGBA", "I", "F", "I;16"])
@pytest.mark.parametrize("height", [1, 150])
def test_array_of_a_pillow_image_is_numpys_and_writable(mode: str, height: int) -> None:
    image = Image.fromarray(photo(height, 70, 4)).convert(mode if mode != "LA" else "RGBA")
    if mode == "LA":
        image = image.convert("LA")
    samples = array_of(image)
    np.testing.assert_array_equal(samples, np.asarray(image))
    assert samples.dtype == np.asarray(image).dtype and samples.flags.writeable


@pytest.mark.parametrize(("mode", "target"), [("CMYK", "RGB"), ("P", "RGBA"), ("1", "L"), ("YCbCr", "RGB"),
                                              ("RGBa", "RGBA")])
def test_array_of_converts_strip_by_strip_as_the_whole_image(mode: str, target: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    image = Image.fromarray(photo(150, 70, 3)).convert(mode)
    if mode == "P":
        image.info["transparency"] = int(np.asarray(image)[0, 0])
    expected = np.asarray(image.convert(target))
    converted = []
    convert = Image.Image.convert
    monkeypatch.setattr(Image.Image, "convert", lambda self, *args, **kw: converted.append(self.height)
                        or convert(self, *args, **kw))
    samples = array_of(image, target)
    np.testing.assert_array_equal(samples, expected)
    assert samples.flags.writeable and max(converted) <= pages.STRIP_ROWS  # never a whole second image


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "CMYK"])
def test_a_pillow_images_memory_seen_by_numpy(mode: str) -> None:
    image = Image.fromarray(photo(90, 70, 3)).convert(mode)
    memory = pillow_memory.view(image)
    assert memory is not None and memory.flags.writeable
    np.testing.assert_array_equal(memory[..., :3] if mode == "RGB" else memory, np.asarray(image))
    memory[5, 6] = 7  # the image's own memory, which outlives the image object
    assert image.getpixel((6, 5)) == (7 if mode == "L" else (7,) * len(mode))
    del image
    assert memory[5, 6].tolist() == (7 if mode == "L" else [7] * 4)


def test_pillow_memory_is_seen_only_in_one_block_and_for_its_modes(monkeypatch: pytest.MonkeyPatch) -> None:
    assert pillow_memory.view(Image.new("LA", (8, 8))) is None
    monkeypatch.setattr(pillow_memory, "ONE_BLOCK_BYTES", 0)
    Image.core.set_block_size(4096)  # 16 rows of 64 RGB pixels a block
    try:
        assert pillow_memory.view(Image.new("RGB", (64, 64))) is None
        with pillow_memory.one_block((64, 64)):
            inside = Image.new("RGB", (64, 64), (1, 2, 3))
        assert pillow_memory.view(Image.new("RGB", (64, 64))) is None  # restored
        first, second = pillow_memory.one_block((64, 64)), pillow_memory.one_block((64, 64))
        first.__enter__()
        second.__enter__()  # another thread's, meanwhile
        first.__exit__(None, None, None)
        overlapping = Image.new("RGB", (64, 64))
        second.__exit__(None, None, None)
        assert Image.core.get_use_block_allocator() == 0
    finally:
        Image.core.set_block_size(16 << 20)
    assert pillow_memory.view(overlapping) is not None
    memory = pillow_memory.view(inside)
    assert memory is not None and (memory[..., :3] == (1, 2, 3)).all()


@pytest.mark.parametrize(("mode", "target"), [("RGB", "RGB"), ("CMYK", "RGB"), ("RGBA", "RGBA"), ("L", "L")])
@pytest.mark.skipif(not LINUX, reason="releases pages with madvise")
def test_array_of_an_image_spent_takes_or_releases_its_memory(mode: str, target: str) -> None:
    image = Image.fromarray(photo(300, 1024, 4)).convert(mode)
    expected = np.asarray(image.convert(target))
    memory = pillow_memory.view(image)
    samples = array_of(image, target, spend=True)
    np.testing.assert_array_equal(samples, expected)
    if mode == target != "RGB":
        assert np.shares_memory(samples, memory)  # stored as NumPy holds them: no copy
    else:  # copied, and given back as it went but for the pages that straddle two strips
        rows_kept = np.asarray(image).reshape(300, -1).any(axis=1).sum()
        assert rows_kept <= 2 * len(list(pages.strips(300))) + 1


def test_a_png_pillow_decodes_is_read_in_its_own_memory(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    grey = photo(200, 64, 1)
    Image.fromarray(grey).save(tmp_path / "plain.png")
    data = (tmp_path / "plain.png").read_bytes()
    text = b"Comment\0after the pixels"  # a chunk after IDAT: decoded by Pillow, not imagecodecs
    late = struct.pack(">I", len(text)) + b"tEXt" + text + struct.pack(">I", zlib.crc32(b"tEXt" + text))
    (tmp_path / "late.png").write_bytes(data[:-12] + late + data[-12:])
    monkeypatch.setattr(pillow_memory, "ONE_BLOCK_BYTES", 0)
    Image.core.set_block_size(4096)  # 64 rows a block, but for one_block
    try:
        frame = read_image(tmp_path / "late.png").frames[0]
    finally:
        Image.core.set_block_size(16 << 20)
    np.testing.assert_array_equal(frame, grey)
    assert frame.flags.writeable and not frame.flags.owndata  # Pillow's decoded image itself


def test_a_tiff_read_by_pillow_is_filtered_in_place(small_strips: None, tmp_path, monkeypatch) -> None:
    samples = photo(300, 200, 3)
    Image.fromarray(samples).save(tmp_path / "in.tif")
    done = []
    monkeypatch.setattr("imgconv.pipeline.filter_in_place",
                        lambda *args: done.append(in_place.filter_in_place(*args)) or done[-1])
    filt = preset_filter(kernels.gaussian(sigma=2))
    process_file(tmp_path / "in.tif", tmp_path / "out.tif", filt)
    assert done == [True]
    with Image.open(tmp_path / "out.tif") as written:
        np.testing.assert_array_equal(np.asarray(written), filter_picture(picture(samples), filt, np.uint8))


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_a_batch_keeps_small_results_for_the_next_file(tmp_path, monkeypatch, ext: str) -> None:
    """A command's one file hands its result's pages back as it is encoded; a batch's
    file (`run_task`, in `reusing_memory`) keeps a result of at most
    `KEPT_RESULT_BYTES` whole for the next file, and hands back a larger one; the
    files are the same."""
    import imgconv.pipeline
    from imgconv.batch.plan import Task
    from imgconv.batch.run import run_task

    samples = photo(200, 300, 3)
    Image.fromarray(samples).save(tmp_path / "in.png")
    released: list[bool] = []
    monkeypatch.setattr(pages, "release_rows", lambda array, top, bottom: released.append(pages.given_up(array)))
    filt = preset_filter(kernels.gaussian(sigma=2))
    written = []
    for kept, batch, expected in ((imgconv.pipeline.KEPT_RESULT_BYTES, False, True),
                                  (imgconv.pipeline.KEPT_RESULT_BYTES, True, False),
                                  (samples.nbytes - 1, True, True)):
        monkeypatch.setattr(imgconv.pipeline, "KEPT_RESULT_BYTES", kept)
        released.clear()
        dest = tmp_path / f"out{len(written)}.{ext}"
        if batch:
            assert run_task(Task(str(tmp_path / "in.png"), str(dest)), filt).status == "ok"
        else:
            process_file(tmp_path / "in.png", dest, filt)
        written.append(dest.read_bytes())
        assert any(released) == expected
    assert written[0] == written[1] == written[2]


@pytest.mark.parametrize("ext", ["png", "jpg", "tif"])
def test_a_callers_array_is_never_released(tmp_path, ext: str) -> None:
    """imwrite's identity result is the caller's own array: encoded, never given up."""
    import imgconv

    samples = photo(600, 900, 3)
    kept = samples.copy()
    imgconv.imwrite(tmp_path / f"out.{ext}", samples)
    np.testing.assert_array_equal(samples, kept)
    if ext != "jpg":
        np.testing.assert_array_equal(imgconv.imread(tmp_path / f"out.{ext}"), kept)


# The interpreter's peak with this in it, read as it exits.
MEASURED = """
import atexit, sys
def report():
    with open("/proc/self/status") as status:
        print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")), file=sys.stderr)
atexit.register(report)
sys.argv[0] = "imgconv"
from imgconv.cli import main
main()
"""


def peak_mib(*args: str) -> float:
    done = subprocess.run([sys.executable, "-c", MEASURED, *args], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    return int(done.stderr.split()[-1]) / 1024


@pytest.mark.slow
@pytest.mark.skipif(not LINUX, reason="reads the peak from /proc")
def test_a_large_jpeg_blurred_holds_little_beside_the_decoded_picture(tmp_path) -> None:
    """6000x4000 RGB (69 MiB decoded): the peak less a 64x64 picture's is 3.7 times the
    decoded picture where it is filtered whole, 2.4 where it is filtered in place and
    released as it is encoded, and 1.9 with one malloc arena for the band threads (the
    CLI's mallopt), on 2 busy cores; the peak hardly depends on the machine's load."""
    samples = photo(4000, 6000, 3)
    Image.fromarray(samples).save(tmp_path / "big.jpg", quality=90)
    Image.fromarray(samples[:64, :64]).save(tmp_path / "small.jpg", quality=90)
    del samples
    fixed = peak_mib("blur", "-s", "2", str(tmp_path / "small.jpg"), str(tmp_path / "out.jpg"))
    peak = peak_mib("blur", "-s", "2", str(tmp_path / "big.jpg"), str(tmp_path / "out.jpg"))
    decoded = 4000 * 6000 * 3 / 2**20
    assert (peak - fixed) / decoded < 2.2
