"""--linear on pictures whose ICC profile is not sRGB's: samples decoded by the profile's
own transfer curve (ICC.1:2010 curv and para tags), filtered, encoded by its inverse and
rounded once, against the same computed in float64 with scipy.ndimage from the curves'
formulas; the profile kept. Profiles built here byte by byte; refusals in one line."""

import struct
import warnings

import imagecodecs
import numpy as np
import pytest
import scipy.ndimage as ndi
from helpers import assert_one_line_error, run
from PIL import Image, ImageCms

from imgconv.errors import InvalidInputError
from imgconv.filters import kernel_filter, preset_filter
from imgconv.io.picture import Picture
from imgconv.kernels import gaussian, identity
from imgconv.linear import filter_linear, light_curves


def s15(value):
    return struct.pack(">i", round(value * 65536))


def curv(*entries):
    return b"curv" + bytes(4) + struct.pack(f">I{len(entries)}H", len(entries), *entries)


def para(function, *values):
    return b"para" + bytes(4) + struct.pack(">HH", function, 0) + b"".join(s15(v) for v in values)


def desc(text):
    """A multiLocalizedUnicode description, which LittleCMS reads."""
    name = text.encode("utf-16-be")
    return b"mluc" + bytes(4) + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(name), 28) + name


def profile(curves, space=b"RGB ", text="Test profile", extra=None):
    """An ICC v4 display profile with a description and ``curves`` ({tag: data}),
    then ``extra`` tags; tag data 4-byte aligned."""
    tags = {b"desc": desc(text), **curves, **(extra or {})}
    table, data, at = b"", b"", 132 + 12 * len(tags)
    for signature, body in tags.items():
        body += bytes(-len(body) % 4)
        table += struct.pack(">4sII", signature, at + len(data), len(body))
        data += body
    size = 132 + len(table) + len(data)
    header = (struct.pack(">I4sI4s4s4s", size, b"none", 0x04300000, b"mntr", space, b"XYZ ") + bytes(12)
              + b"acsp" + bytes(28) + s15(0.9642) + s15(1.0) + s15(0.8249) + bytes(48))
    return header + struct.pack(">I", len(tags)) + table + data


def rgb_profile(trc, **options):
    return profile({b"rTRC": trc, b"gTRC": trc, b"bTRC": trc}, **options)


def power(g):
    return lambda x: x**g, lambda y: y ** (1 / g)


def piecewise(g, a, b, c, d, e=0.0, f=0.0):
    """ICC's type 4 function, and its inverse, written out (continuous curves)."""
    def light(x):
        return np.where(x >= d, np.maximum(a * x + b, 0) ** g + e, c * x + f)

    def encoded(y):
        top = np.maximum(y - e, 0) ** (1 / g)
        return np.where(y >= c * d + f, (top - b) / a, (y - f) / c if c else d)
    return light, encoded


def fixed(*values):
    """The values as the profile stores them (s15.16)."""
    return [round(v * 65536) / 65536 for v in values]


# The CIE L* curve sampled in 1024 16-bit entries; LittleCMS interpolates between them.
GRID = np.linspace(0, 1, 1024)
LSTAR = np.round(np.where(GRID > 0.08, ((GRID * 100 + 16) / 116) ** 3, GRID * 100 / 903.3) * 65535)
TABLE = LSTAR / 65535

# sRGB's curve times 0.997, lifted by 0.002 of white: from 0.002 to 0.999.
K = 0.997 ** (1 / 2.4)
TYPE_4 = fixed(2.4, K / 1.055, K * 0.055 / 1.055, 0.997 / 12.92, 0.04045, 0.002, 0.002)

CASES = {
    "display-p3": (para(3, 2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045),
                   piecewise(2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)),
    "adobe-rgb": (curv(563), power(563 / 256)),
    "linear-curv": (curv(), power(1.0)),
    "linear-para": (para(0, 1.0), power(1.0)),
    "gamma-1.8": (para(0, 1.8), power(1.8)),
    "prophoto": (para(3, *fixed(1.8, 1, 0, 1 / 16, 1 / 32)), piecewise(*fixed(1.8, 1, 0, 1 / 16, 1 / 32))),
    "rec709": (para(3, *fixed(1 / 0.45, 1 / 1.099, 0.099 / 1.099, 1 / 4.5, 0.081)),
               piecewise(*fixed(1 / 0.45, 1 / 1.099, 0.099 / 1.099, 1 / 4.5, 0.081))),
    "type-1": (para(1, *fixed(2.2, 0.95, 0.05)), piecewise(*fixed(2.2, 0.95, 0.05), 0, -1)),
    "type-2": (para(2, *fixed(2.0, 0.9, 0.1, -0.01)), piecewise(*fixed(2.0, 0.9, 0.1), 0, -1, *fixed(-0.01, -0.01))),
    "type-4": (para(4, *TYPE_4), piecewise(*TYPE_4)),
    "table": (curv(*LSTAR.astype(int)), (lambda x: np.interp(x, GRID, TABLE), lambda y: np.interp(y, TABLE, GRID))),
}


@pytest.mark.parametrize("case", CASES)
def test_the_curves_are_littlecms_own(case):
    """LittleCMS converting a ramp of 16-bit samples from the profile to the same
    primaries with a linear curve (relative colorimetric: the intent a matrix/TRC
    profile describes; LittleCMS's perceptual intent on a version 4 profile also moves
    its black point) gives the curve's light, within its 16-bit rounding (Rec. 709's
    pieces, which miss each other by 5.4e-5 of white, are joined here)."""
    colorants = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    count = struct.unpack_from(">I", colorants, 128)[0]
    entries = [struct.unpack_from(">4sII", colorants, 132 + 12 * i) for i in range(count)]
    kept = {tag: colorants[at : at + size] for tag, at, size in entries if tag in (b"wtpt", b"chad", b"rXYZ",
                                                                                   b"gXYZ", b"bXYZ")}
    ramp = np.repeat(np.arange(65536, dtype=np.uint16), 3).reshape(256, 256, 3)
    source, linear = rgb_profile(CASES[case][0], extra=kept), rgb_profile(curv(), extra=kept)
    light = imagecodecs.cms_transform(ramp, source, linear, colorspace="rgb", outcolorspace="rgb", intent=1)
    # LittleCMS's 16-bit pipeline rounds more than once: up to 2 levels here, and
    # Rec. 709's joined pieces 2.6.
    slack = 2.6 if case == "rec709" else 2
    curves = light_curves(tagged(ramp, "RGB;16", source))
    assert np.abs(curves.decoded[ramp] - light).max() <= slack
    assert np.abs(np.clip(CASES[case][1][0](ramp / 65535), 0, 1) * 65535 - light).max() <= slack  # the reference's


def reference(samples, kernel, peak, curves, alpha=False):
    """Decode by the curve, premultiply by alpha, filter each channel (float64,
    reflect), divide, encode by the inverse, round half up once."""
    light_of, encoded_of = curves
    x = np.atleast_3d(samples.astype(np.float64))
    colours = x.shape[2] - alpha
    light = np.clip(light_of(x[..., :colours] / peak), 0, 1)
    cover = x[..., colours:] / peak if alpha else np.ones((*x.shape[:2], 1))
    filtered = np.stack([ndi.convolve(c, kernel, mode="reflect") for c in np.moveaxis(light * cover, 2, 0)], 2)
    coverage = ndi.convolve(cover[..., 0], kernel, mode="reflect")[..., np.newaxis]
    out = np.floor(np.clip(encoded_of(np.clip(filtered / coverage, 0, 1)), 0, 1) * peak + 0.5)
    if alpha:
        out = np.concatenate([out, np.floor(coverage * peak + 0.5)], axis=2)
    return out.reshape(samples.shape)


def assert_within_rounding(ours, theirs):
    """Equal, except where float32 filtering puts a value next to a half-way point on
    the other side: one level, and rarely."""
    difference = np.abs(ours.astype(np.int64) - theirs)
    assert difference.max() <= 1
    assert np.count_nonzero(difference) <= 1 + ours.size // 1000


def tagged(samples, mode, icc, name="photo.png"):
    return Picture([samples], mode, "PNG", metadata={"icc_profile": icc}, name=name)


@pytest.fixture
def rgb():
    return np.random.default_rng(32).integers(0, 256, (30, 34, 3)).astype(np.uint8)


@pytest.mark.parametrize("case", CASES)
def test_rgb_blurred_in_the_light_its_profile_declares(rgb, case):
    trc, curves = CASES[case]
    kernel = gaussian(sigma=1.5)
    ours = filter_linear(tagged(rgb, "RGB", rgb_profile(trc)), preset_filter(kernel), np.uint8)
    assert_within_rounding(ours, reference(rgb, kernel[::-1, ::-1], 255, curves))


def test_display_p3_takes_srgbs_tables_exactly(rgb):
    blur = preset_filter(gaussian(sigma=2))
    p3 = filter_linear(tagged(rgb, "RGB", rgb_profile(CASES["display-p3"][0], text="Display P3")), blur, np.uint8)
    np.testing.assert_array_equal(p3, filter_linear(Picture([rgb], "RGB", "PNG"), blur, np.uint8))


@pytest.mark.parametrize("case", ["adobe-rgb", "type-4", "table"])
def test_sixteen_bit_grey_with_alpha_premultiplied_in_that_light(case):
    trc, curves = CASES[case]
    grey = np.random.default_rng(16).integers(0, 65536, (24, 27, 2)).astype(np.uint16)
    kernel = gaussian(sigma=1)
    picture = tagged(grey, "LA;16", profile({b"kTRC": trc}, space=b"GRAY"))
    ours = filter_linear(picture, preset_filter(kernel), np.uint16)
    theirs = reference(grey, kernel[::-1, ::-1], 65535, curves, alpha=True)
    visible = theirs[..., 1] > 0
    assert_within_rounding(ours[visible], theirs[visible])


def test_raw_results_are_encoded_floats_by_the_curves_inverse(rgb):
    for case in ("rec709", "table", "type-2"):
        picture = tagged(rgb, "RGB", rgb_profile(CASES[case][0]))
        raw = filter_linear(picture, kernel_filter(identity()))  # encoded floats, unrounded
        light_of, encoded_of = CASES[case][1]
        expected = np.clip(encoded_of(np.clip(light_of(rgb / 255.0), 0, 1)), 0, 1) * 255
        assert raw.dtype == np.float32 and np.abs(raw - expected).max() < 0.02, case


def test_the_command_line_filters_it_and_keeps_the_profile(tmp_path, rgb):
    icc = rgb_profile(CASES["adobe-rgb"][0], text="Adobe RGB (1998)")
    Image.fromarray(rgb).save(tmp_path / "in.png", icc_profile=icc)
    assert run("blur", "-s", "1", "--linear", tmp_path / "in.png", tmp_path / "out.png").exit_code == 0
    with Image.open(tmp_path / "out.png") as image:
        assert image.info["icc_profile"] == icc
        kernel = gaussian(sigma=1)
        assert_within_rounding(np.asarray(image), reference(rgb, kernel[::-1, ::-1], 255, CASES["adobe-rgb"][1]))


REFUSED = {
    "differ": (profile({b"rTRC": curv(563), b"gTRC": curv(563), b"bTRC": curv(460)}),
               "its profile 'Test profile' gives red, green and blue different curves"),
    "lut": (rgb_profile(curv(563), extra={b"A2B0": b"mAB " + bytes(28)}),
            "converts through lookup tables (A2B0), not through curves alone"),
    "lut-only": (profile({b"A2B0": b"mAB " + bytes(28), b"B2A0": b"mBA " + bytes(28)}),
                 "converts through lookup tables (A2B0)"),
    "no-curve": (profile({b"rTRC": curv(563), b"gTRC": curv(563)}), "has no bTRC curve"),
    "falls": (rgb_profile(curv(0, 40000, 30000, 65535)), "has a rTRC curve that does not rise"),
    "flat": (rgb_profile(para(0, 0.0)), "has a rTRC curve that does not rise"),
    "grey-for-rgb": (profile({b"kTRC": curv(563)}, space=b"GRAY"), "describes GRAY colours, not RGB"),
    "unknown-type": (rgb_profile(para(7, 2.2)), "is damaged: its rTRC tag is a parametric curve of unknown type 7"),
    "short-table": (rgb_profile(b"curv" + bytes(4) + struct.pack(">I2H", 5, 0, 65535)), "fewer than its 5 entries"),
}


def test_tables_into_the_profile_do_not_stop_its_curves(rgb):
    """A BToA0 table converts into the profile's colours; its samples still show
    through the TRCs."""
    icc = rgb_profile(CASES["adobe-rgb"][0], extra={b"B2A0": b"mBA " + bytes(28)})
    kernel = gaussian(sigma=1)
    ours = filter_linear(tagged(rgb, "RGB", icc), preset_filter(kernel), np.uint8)
    assert_within_rounding(ours, reference(rgb, kernel[::-1, ::-1], 255, CASES["adobe-rgb"][1]))


@pytest.mark.parametrize("case", REFUSED)
def test_unusable_profiles_are_refused_in_one_line(rgb, case):
    icc, reason = REFUSED[case]
    with pytest.raises(InvalidInputError, match=r"^photo.png: linear light decodes by the image's ICC profile's "
                                                r"curves, and .*" + reason.replace("(", r"\(").replace(")", r"\)")):
        filter_linear(tagged(rgb, "RGB", icc), preset_filter(gaussian(sigma=1)), np.uint8)


def test_a_damaged_tag_table_is_refused_in_one_line_naming_the_file(tmp_path, rgb):
    """LittleCMS skips a tag that lies outside the profile and reads the rest; the
    curves are not read from outside it."""
    icc = bytearray(rgb_profile(curv(563)))
    entry = 132 + 12 * 3  # bTRC's entry: its offset pointed past the end
    icc[entry + 4 : entry + 8] = struct.pack(">I", len(icc) - 4)
    Image.fromarray(rgb).save(tmp_path / "damaged.png", icc_profile=bytes(icc))
    result = run("blur", "-s", "1", "--linear", tmp_path / "damaged.png", tmp_path / "out.png")
    assert_one_line_error(result, 2, "damaged.png", "is damaged: its bTRC tag lies outside it")
    assert not (tmp_path / "out.png").exists()
    many = bytearray(rgb_profile(curv(563)))
    many[128:132] = struct.pack(">I", 10**9)  # a tag count no profile holds
    with pytest.raises(InvalidInputError, match=r"^photo.png: .*(is damaged|unreadable)"):
        filter_linear(tagged(rgb, "RGB", bytes(many)), preset_filter(gaussian(sigma=1)), np.uint8)


def test_hostile_curves_and_signatures_give_one_line(rgb):
    """A power beyond float64's range, a lower piece that steps down at the join, a
    colour space signature of control characters."""
    blur = preset_filter(gaussian(sigma=1))
    huge = rgb_profile(para(3, 30000.0, 3.0, 0.0, 1.0, 0.5))  # (3 x) ** 30000 from 0.5 on
    step = rgb_profile(para(3, 1.0, 1.0, 0.0, 1.0, 0.5))  # x below 0.5, then x again: rises
    down = rgb_profile(para(4, 1.0, 1.0, 0.0, 1.0, 0.5, -0.1, 0.0))  # 0.5 below, 0.4 above
    with pytest.raises(InvalidInputError, match=r"has a rTRC curve that does not rise from black to white$"):
        filter_linear(tagged(rgb, "RGB", down), blur, np.uint8)
    assert filter_linear(tagged(rgb, "RGB", step), blur, np.uint8).shape == rgb.shape
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert filter_linear(tagged(rgb, "RGB", huge), blur, np.uint8).shape == rgb.shape
    odd = bytearray(rgb_profile(curv(563)))
    odd[16:20] = b"\n\x1b[1"
    with pytest.raises(InvalidInputError, match=r"describes b'\\n\\x1b\[1' colours, not RGB$"):
        filter_linear(tagged(rgb, "RGB", bytes(odd)), blur, np.uint8)
