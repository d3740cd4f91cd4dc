"""Filtering in linear light against the sRGB formula (IEC 61966-2-1) computed in float64
with scipy.ndimage, rounded once; alpha never converted; a Lab ICC profile refused."""

import io

import numpy as np
import pytest
import scipy.ndimage as ndi
from PIL import ImageCms

from imgconv.engine import EngineOptions, Kernel
from imgconv.errors import InvalidInputError
from imgconv.filters import filter_picture, kernel_filter, preset_filter
from imgconv.io.picture import Picture
from imgconv.kernels import box, gaussian, identity, separable_gaussian
from imgconv.linear import ENCODE_SAMPLES, Curves, filter_linear, scales_exactly


def to_light(encoded):
    """The standard's decoding, written out: linear below 0.04045, a 2.4 power above."""
    v = np.asarray(encoded, np.float64)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def to_encoded(light):
    v = np.clip(np.asarray(light, np.float64), 0, 1)
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * v ** (1 / 2.4) - 0.055)


def reference(samples, kernel, peak, alpha=False):
    """Decode, premultiply by alpha, filter each channel (float64, reflect), divide,
    encode, round half up once."""
    x = samples.astype(np.float64)
    x = x[..., np.newaxis] if x.ndim == 2 else x
    colours = x.shape[2] - alpha
    light = to_light(x[..., :colours] / peak)
    cover = x[..., colours:] / peak if alpha else np.ones((*x.shape[:2], 1))
    filtered = [ndi.convolve(c, kernel, mode="reflect") for c in np.moveaxis(light * cover, 2, 0)]
    coverage = ndi.convolve(cover[..., 0], kernel, mode="reflect")[..., np.newaxis]
    colour = np.stack(filtered, axis=2) / coverage
    out = np.floor(to_encoded(colour) * peak + 0.5)
    if alpha:
        out = np.concatenate([out, np.floor(coverage * peak + 0.5)], axis=2)
    return out.reshape(samples.shape)


def assert_within_rounding(ours, theirs):
    """Equal, except where float32 filtering puts a value within 1e-3 of a half-way
    point on the other side: one level, and rarely."""
    difference = np.abs(ours.astype(np.int64) - theirs)
    assert difference.max() <= 1
    assert np.count_nonzero(difference) <= 1 + ours.size // 1000


@pytest.mark.parametrize("peak", [255, 65535])
def test_the_tables_follow_the_formula(peak):
    curves = Curves(peak)
    every = np.arange(peak + 1)
    np.testing.assert_allclose(curves.decoded, to_light(every / peak) * peak, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(curves.to_samples(curves.decoded, np.int64), every)
    light = np.random.default_rng(peak).random(200_000).astype(np.float32) * peak
    expected = np.floor(to_encoded(light.astype(np.float64) / peak) * peak + 0.5)
    np.testing.assert_array_equal(curves.to_samples(light, np.int64), expected)
    # More than `ENCODE_SAMPLES` are encoded a few rows at a time: every row once.
    assert light.size > ENCODE_SAMPLES
    np.testing.assert_array_equal(curves.to_samples(light.reshape(-1, 5, 8), np.int64), expected.reshape(-1, 5, 8))
    held = np.array([-3.0, peak * 2.0, np.inf, -np.inf, 2.0**62, 2.0**63, 3e38, -3e38], np.float32)
    expected = [0, peak, peak, 0, peak, peak, peak, 0]
    np.testing.assert_array_equal(curves.to_samples(held, np.int64), expected)
    bounded = np.array([-3.0 * curves.scale, 2.0 * peak * curves.scale, 2.0**61, -(2.0**61)], np.float32)
    np.testing.assert_array_equal(curves.to_samples(bounded, np.int64, in_steps=True), [0, peak, peak, 0])


def test_each_result_is_its_own_though_the_encode_reuses_its_arrays():
    """The encode keeps each thread's arrays from one call to the next (grown for a
    larger one, remade for the other depth): a result returned without ``out`` is not
    one of them, and is not changed by the calls after it."""
    eight, sixteen = Curves(255), Curves(65535)
    light = np.linspace(-1, 256, 600, dtype=np.float32).reshape(20, 30)
    halfway = to_light((np.arange(1, 256) - 0.5) / 255) * 255
    expected = np.searchsorted(halfway, light.astype(np.float64), side="right")
    first = eight.to_samples(light, np.int16)
    eight.to_samples(light[::-1], np.int16)
    sixteen.to_samples(light * 257, np.uint16)
    larger = eight.to_samples(np.tile(light, 3), np.int16)
    np.testing.assert_array_equal(first, expected)
    np.testing.assert_array_equal(larger, np.tile(expected, 3))


def around(points, dtype, ulps):
    """``points`` as ``dtype``, and the values up to ``ulps`` steps above and below them."""
    values = [points.astype(dtype)]
    for direction in (np.inf, -np.inf):
        value = values[0]
        for _ in range(ulps):
            value = np.nextafter(value, dtype(direction))
            values.append(value)
    return np.concatenate(values)


@pytest.mark.parametrize("peak", [255, 65535])
def test_light_next_to_every_threshold_and_step_end_is_rounded_once(peak):
    """Float32 light within 2 ulps of each half-way point between sample values (in
    linear light) and of both ends of the step holding it, and float64 light within
    one: its sample value is the count of half-way points at or below it. The same
    light counted in steps gives the same samples."""
    curves = Curves(peak)
    halfway = to_light((np.arange(1, peak + 1) - 0.5) / peak) * peak
    start = np.floor(halfway * curves.scale) / curves.scale
    points = np.concatenate([halfway, start, start + curves.step])
    for light in (around(points, np.float32, 2), around(points, np.float64, 1)):
        expected = np.searchsorted(halfway, light.astype(np.float64), side="right")
        np.testing.assert_array_equal(curves.to_samples(light, np.int64), expected)
        np.testing.assert_array_equal(curves.to_samples(light * curves.scale, np.int64, in_steps=True), expected)


@pytest.fixture(scope="module")
def photo():
    rng = np.random.default_rng(61966)
    return ndi.uniform_filter(rng.integers(0, 256, (40, 52, 3)), (5, 5, 1)).astype(np.uint8)


def test_rgb_blurred_in_linear_light(photo):
    kernel = gaussian(sigma=1.5)
    ours = filter_linear(Picture([photo], "RGB", "PNG"), preset_filter(kernel), np.uint8)
    assert ours.dtype == np.uint8
    assert_within_rounding(ours, reference(photo, kernel[::-1, ::-1], 255))


def test_a_red_green_edge_keeps_its_light():
    edge = np.zeros((6, 8, 3), np.uint8)
    edge[:, :4, 0] = 255
    edge[:, 4:, 1] = 255
    blur = preset_filter(np.full((1, 2), 0.5))
    plain = filter_picture(Picture([edge], "RGB", "PNG"), blur, np.uint8)
    linear = filter_linear(Picture([edge], "RGB", "PNG"), blur, np.uint8)
    # Half of each primary's light: 0.5 encodes as 187.5 -> 188, where the encoded mean is 128.
    assert tuple(plain[0, 3]) == (128, 128, 0)
    assert tuple(linear[0, 3]) == (188, 188, 0)


def test_alpha_is_filtered_as_it_is_and_colour_premultiplied_in_linear_light():
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, (30, 33, 4)).astype(np.uint8)
    rgba[..., 3] = np.where(rng.random((30, 33)) < 0.3, 0, rgba[..., 3])
    kernel = gaussian(sigma=1)
    ours = filter_linear(Picture([rgba], "RGBA", "PNG"), preset_filter(kernel), np.uint8)
    theirs = reference(rgba, kernel, 255, alpha=True)
    visible = theirs[..., 3] > 0
    assert_within_rounding(ours[visible], theirs[visible])
    plain = filter_picture(Picture([rgba], "RGBA", "PNG"), preset_filter(kernel), np.uint8)
    np.testing.assert_array_equal(ours[..., 3], plain[..., 3])


def test_sixteen_bit_grey():
    grey = (np.random.default_rng(4).random((25, 31)) * 65535).astype(np.uint16)
    kernel = separable_gaussian(sigma=2)
    ours = filter_linear(Picture([grey], "I;16", "PNG"), preset_filter(kernel), np.uint16)
    assert ours.dtype == np.uint16 and ours.shape == grey.shape
    assert_within_rounding(ours, reference(grey, kernel.dense()[::-1, ::-1], 65535))


def test_the_identity_changes_nothing_and_raw_results_are_encoded_floats(photo):
    picture = Picture([photo], "RGB", "PNG")
    np.testing.assert_array_equal(filter_linear(picture, kernel_filter(identity()), np.uint8), photo)
    raw = filter_linear(picture, kernel_filter(identity()))
    assert raw.dtype == np.float32
    np.testing.assert_allclose(raw, photo, atol=2e-3)


def profile(kind):
    return ImageCms.ImageCmsProfile(ImageCms.createProfile(kind)).tobytes()


def test_an_srgb_profile_is_taken_and_others_refused_in_one_line(photo):
    blur = preset_filter(gaussian(sigma=1))
    tagged = Picture([photo], "RGB", "PNG", metadata={"icc_profile": profile("sRGB")}, name="tagged.png")
    assert filter_linear(tagged, blur, np.uint8).shape == photo.shape
    lab = Picture([photo], "RGB", "PNG", metadata={"icc_profile": profile("LAB")}, name="lab.png")
    with pytest.raises(InvalidInputError, match=r"^lab.png: linear light decodes by the image's ICC profile's "
                                                r"curves, and its profile 'Lab identity built-in' describes Lab "
                                                r"colours, not RGB$"):
        filter_linear(lab, blur, np.uint8)
    broken = Picture([photo], "RGB", "PNG", metadata={"icc_profile": b"not a profile"}, name="broken.png")
    with pytest.raises(InvalidInputError, match=r"^broken.png: .*ICC profile, which is unreadable$"):
        filter_linear(broken, blur, np.uint8)


def test_float_samples_are_refused(photo):
    floats = Picture([photo.astype(np.float32)], "RGB;float32", "NPY", name="data.npy")
    with pytest.raises(InvalidInputError, match=r"^data.npy: linear light converts 8- and 16-bit sRGB samples"):
        filter_linear(floats, preset_filter(gaussian(sigma=1)), np.float32)


def test_profile_bytes_are_read_by_littlecms():
    assert ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(profile("sRGB")))).startswith("sRGB")


def test_a_block_of_rows_with_the_kernels_reach_gives_the_whole_pictures_rows(photo):
    # What streaming does: each block filtered with the rows the kernel reaches around it.
    blur = preset_filter(gaussian(sigma=2))  # radius 6
    whole = filter_linear(Picture([photo], "RGB", "PNG"), blur, np.uint8)
    block = filter_linear(Picture([photo[4:30]], "RGB", "PNG"), blur, np.uint8)
    np.testing.assert_array_equal(block[6:-6], whole[10:24])


EIGHT, SIXTEEN = ("RGB", 255, np.uint8), ("RGB;16", 65535, np.uint16)


@pytest.mark.parametrize(("method", "mode", "depth"), [
    ("auto", "reflect", EIGHT), ("whole-channel-fft", "reflect", EIGHT), ("banded-fft", "reflect", EIGHT),
    ("separable", "reflect", EIGHT), ("auto", "truncate", EIGHT), ("auto", "reflect", SIXTEEN),
    ("auto", "truncate", SIXTEEN)])
def test_every_strategy_and_truncate_in_linear_light(method, mode, depth):
    """Bands decoded and encoded around each strategy (odd sizes: 8-bit samples an odd
    number to a band), and truncate, which the engine runs on the whole image. (The
    FFTs' float32 errors on 16-bit light put more values across half-way points than
    `assert_within_rounding` allows.)"""
    mode_name, peak, dtype = depth
    rgb = np.random.default_rng(peak).integers(0, peak + 1, (37, 29, 3)).astype(dtype)
    kernel = gaussian(sigma=1.5)
    blur = preset_filter(kernel, engine=EngineOptions(mode=mode, method=method))
    ours = filter_linear(Picture([rgb], mode_name, "PNG"), blur, dtype)
    light = to_light(rgb / peak)
    flipped = kernel[::-1, ::-1]
    if mode == "truncate":
        inside = ndi.convolve(np.ones(rgb.shape[:2]), flipped, mode="constant")
        filtered = np.stack([ndi.convolve(light[..., c], flipped, mode="constant") / inside for c in range(3)], 2)
    else:
        filtered = np.stack([ndi.convolve(light[..., c], flipped, mode="reflect") for c in range(3)], 2)
    assert ours.dtype == dtype
    assert_within_rounding(ours, np.floor(to_encoded(filtered) * peak + 0.5))


@pytest.mark.parametrize(("method", "mode", "depth"), [
    ("separable", "reflect", EIGHT), ("fft", "wrap", EIGHT), ("running-sums", "reflect", EIGHT),
    ("direct", "constant", SIXTEEN), ("banded-fft", "nearest", SIXTEEN), ("running-sums", "mirror", SIXTEEN)])
def test_light_in_steps_gives_the_samples_of_light_in_sample_units(method, mode, depth):
    """The engine filters light counted in steps (a power of two times sample units)
    wherever that rounds alike: the samples are those of light in sample units, bit for
    bit, for every strategy."""
    mode_name, peak, dtype = depth
    rgb = np.random.default_rng(peak + 1).integers(0, peak + 1, (41, 35, 3)).astype(dtype)
    blur = preset_filter(box(radius=2) if method == "running-sums" else gaussian(sigma=1.5),
                         engine=EngineOptions(mode=mode, method=method))
    assert scales_exactly(blur)
    curves = Curves(peak)
    in_units = blur.apply_with(curves.hooks, rgb, dtype)
    np.testing.assert_array_equal(blur.apply_with(curves.step_hooks, rgb, dtype), in_units)
    np.testing.assert_array_equal(filter_linear(Picture([rgb], mode_name, "PNG"), blur, dtype), in_units)


def test_offsets_constant_edges_truncate_and_huge_weights_are_filtered_in_sample_units(photo):
    """An offset and a constant edge value are in sample units, truncate divides by
    weights that may be near 0, and weights summing past 2**40 could overflow float32
    in steps: such filters run in sample units."""
    kernel = gaussian(sigma=1)
    offset = kernel_filter(Kernel(kernel, offset=20.0))
    edged = preset_filter(kernel, engine=EngineOptions(mode="constant", cval=100.0))
    assert not scales_exactly(offset) and not scales_exactly(edged)
    assert not scales_exactly(kernel_filter(np.array([[2.0**41]])))
    assert not scales_exactly(preset_filter(kernel, engine=EngineOptions(mode="truncate")))
    light = to_light(photo / 255) * 255
    for filt, edge, added in ((offset, "reflect", 20.0), (edged, "constant", 0.0)):
        filtered = np.stack([ndi.convolve(light[..., c], kernel, mode=edge, cval=100.0) for c in range(3)], 2)
        theirs = np.floor(to_encoded((filtered + added) / 255) * 255 + 0.5)
        assert_within_rounding(filter_linear(Picture([photo], "RGB", "PNG"), filt, np.uint8), theirs)


@pytest.mark.parametrize(("sigma", "mode", "threads"), [
    (3, "reflect", 2), (3, "constant", 1), (8, "mirror", 2)])
def test_bands_copying_the_rows_above_give_the_bands_gathered_whole(sigma, mode, threads):
    """A thread that decodes consecutive bands copies the rows each shares with the one
    above (sigma 8: rows on planes, bands of 65 rows); its samples are those of the
    light decoded first and filtered without hooks, bit for bit, at every band's edge
    and in the short last band."""
    rgb = np.random.default_rng(sigma).integers(0, 256, (470, 9, 3)).astype(np.uint8)
    curves = Curves(255)
    blur = preset_filter(separable_gaussian(sigma=sigma),
                         engine=EngineOptions(mode=mode, cval=70.0, method="separable", threads=threads))
    light = blur.apply(np.take(curves.decoded, rgb), np.float32)
    np.testing.assert_array_equal(blur.apply_with(curves.hooks, rgb, np.uint8), curves.to_samples(light, np.uint8))
