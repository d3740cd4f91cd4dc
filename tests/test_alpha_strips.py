"""Pictures with alpha filtered strip by strip (`imgconv.strips`): premultiplied, filtered
and divided back a strip at a time, into a new array (`imgconv.filters.filter_picture`)
or over the picture's own samples (`imgconv.in_place`), with the whole picture's result."""

from collections.abc import Callable

import numpy as np
import pytest
import scipy.ndimage
from PIL import Image

from imgconv import filters, in_place, kernels, strips
from imgconv.engine import EngineOptions
from imgconv.filters import Filter, filter_picture, gradient_filter, kernel_filter, preset_filter
from imgconv.io.picture import Picture
from imgconv.pipeline import process_file


def rgba(height: int, width: int, grey: bool = False, deep: bool = False) -> Picture:
    """A smooth picture with noise, under alpha that is 0 in a band, 255 (or 65535) in a
    block, a ramp elsewhere and noise in a corner; colour hidden under alpha 0 too."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:height, 0:width]
    colour = np.stack([(x + y) / (height + width) * 255, 128 + 100 * np.sin(x / 9), 128 + 100 * np.cos(y / 7)], -1)
    colour = np.clip(colour + rng.normal(0, 20, colour.shape), 0, 255)[..., :1 if grey else 3]
    alpha = np.round(x / (width - 1) * 255)
    alpha[: height // 5] = 0
    alpha[height // 5 : height // 2, : width // 3] = 255
    alpha[height // 2 :, width // 2 :] = rng.integers(0, 256, (height - height // 2, width - width // 2))
    samples = np.dstack([colour, alpha])
    if deep:
        samples = samples * 257 + rng.integers(0, 257, samples.shape) * (samples < 255)
    mode = ("LA" if grey else "RGBA") + (";16" if deep else "")
    return Picture([samples.astype(np.uint16 if deep else np.uint8)], mode, "PNG", name="test.png")


FILTERS: dict[str, Callable[[EngineOptions], Filter]] = {
    "blur": lambda e: preset_filter(kernels.gaussian(sigma=2), engine=e),
    "sharpen": lambda e: preset_filter(kernels.sharpen(), engine=e),
    "sobel x": lambda e: gradient_filter(kernels.sobel, "x", engine=e),
    "sobel": lambda e: gradient_filter(kernels.sobel, engine=e),
    "random 5x5": lambda e: kernel_filter(np.random.default_rng(1).normal(size=(5, 5)), engine=e),
}


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Strips of a few bands, so that a small picture is cut into many; the strips
    `filter_picture` filters are counted."""
    monkeypatch.setattr(filters, "ALPHA_STRIP_BYTES", 8192)
    cuts: list[int] = []

    def each_strip(planned: strips.Strips, height: int, *args: object) -> None:
        cuts.append(len(list(planned.cuts(height))))
        strips.each_strip(planned, height, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(filters, "each_strip", each_strip)
    return cuts


@pytest.mark.parametrize("name", FILTERS)
@pytest.mark.parametrize("kind", ["RGBA", "LA", "RGBA;16"])
@pytest.mark.parametrize(("mode", "background"), [("constant", None), ("reflect", (250.0, 10.0, 90.0))])
def test_strips_give_the_whole_pictures_result(counted: list[int], monkeypatch: pytest.MonkeyPatch, name: str,
                                               kind: str, mode: str, background: tuple[float, ...] | None) -> None:
    picture = rgba(600, 24, grey=kind == "LA", deep=kind.endswith("16"))
    filt = FILTERS[name](EngineOptions(mode=mode, cval=9.0))
    results = [filter_picture(picture, filt, dtype, background) for dtype in (picture.sample_dtype, None)]
    assert counted and min(counted) > 2
    monkeypatch.setattr(filters, "ALPHA_STRIP_BYTES", 2**30)  # one strip: the whole picture's float work
    for dtype, result in zip((picture.sample_dtype, None), results, strict=True):
        whole = filter_picture(picture, filt, dtype, background)
        assert result.dtype == whole.dtype
        np.testing.assert_array_equal(result, whole)
    assert len(counted) == 2


def test_strips_blur_agrees_with_scipy(counted: list[int]) -> None:
    picture = rgba(600, 24)
    samples = picture.pixels.astype(np.float64)
    weights = np.asarray(kernels.gaussian(sigma=1.5))
    result = filter_picture(picture, preset_filter(weights), np.uint8)
    assert counted

    def blurred(plane: np.ndarray) -> np.ndarray:
        return scipy.ndimage.convolve(plane, weights[::-1, ::-1], mode="reflect")

    alpha = blurred(samples[..., 3])
    colour = np.stack([blurred(samples[..., c] * samples[..., 3] / 255) for c in range(3)], -1)
    visible = alpha > 1e-3
    expected = np.where(visible[..., None], colour / np.where(visible, alpha / 255, 1)[..., None], samples[..., :3])
    difference = np.abs(result[..., :3] - np.clip(np.rint(expected), 0, 255))
    assert difference[alpha > 1].max() <= 1  # where alpha is tiny, colour is a ratio of tiny numbers
    assert np.abs(result[..., 3] - np.rint(alpha)).max() <= 1
    hidden = samples[..., 3] == 0
    np.testing.assert_array_equal(result[:10][..., :3], picture.pixels[:10][..., :3])  # alpha 0 all round
    assert hidden[:10].all()


@pytest.mark.parametrize("kind", ["RGBA", "LA", "RGBA;16"])
@pytest.mark.parametrize("name", ["blur", "sobel"])
def test_in_place_with_alpha_gives_filter_pictures_result(counted: list[int], kind: str, name: str) -> None:
    picture = rgba(600, 24, grey=kind == "LA", deep=kind.endswith("16"))
    filt = FILTERS[name](EngineOptions())
    expected = filter_picture(picture, filt, picture.sample_dtype)
    samples = picture.pixels.copy()
    assert in_place.filter_in_place(samples, filt, "test.png", picture.sample_max)
    np.testing.assert_array_equal(samples, expected)


def test_process_file_filters_alpha_in_place(counted: list[int], monkeypatch: pytest.MonkeyPatch,
                                             tmp_path) -> None:
    picture = rgba(600, 24)
    Image.fromarray(picture.pixels, "RGBA").save(tmp_path / "in.png")
    filt = preset_filter(kernels.gaussian(sigma=2))
    done: list[bool] = []
    monkeypatch.setattr("imgconv.pipeline.filter_in_place",
                        lambda *args: done.append(in_place.filter_in_place(*args)) or done[-1])
    process_file(tmp_path / "in.png", tmp_path / "out.png", filt)
    assert done == [True]
    with Image.open(tmp_path / "out.png") as written:
        assert written.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(written), filter_picture(picture, filt, np.uint8))
