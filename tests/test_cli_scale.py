"""The command line's shaped Gaussians and scale-space commands (blur --sigma SX,SY,
--radius RX,RY, --angle, --order; box --kernel-size W,H; unsharp --threshold; dog, log,
gradient), on real files, against scipy.ndimage."""

import numpy as np
import pytest
import scipy.ndimage as ndi
from helpers import load, run, save

MODES = ["reflect", "mirror", "nearest", "wrap", "constant"]


@pytest.fixture(scope="module")
def grey():
    rng = np.random.default_rng(27)
    return ndi.uniform_filter(rng.integers(0, 256, (41, 58)), 3).astype(np.uint8)


def float_run(tmp_path, grey, *args):
    """``imgconv ARGS in.npy out.npy`` on ``grey`` as float64: the raw result."""
    source, dest = tmp_path / "in.npy", tmp_path / "out.npy"
    np.save(source, grey.astype(np.float64))
    result = run(*args, source, dest)
    assert result.exit_code == 0, result.stderr
    return np.load(dest)


def image_run(tmp_path, grey, *args):
    """``imgconv ARGS in.png out.png`` on ``grey``: the 8-bit result."""
    source, dest = save(tmp_path / "in.png", grey), tmp_path / "out.png"
    result = run(*args, source, dest)
    assert result.exit_code == 0, result.stderr
    return load(dest)[1]


@pytest.mark.parametrize("mode", MODES)
def test_blur_sigma_and_radius_per_axis(tmp_path, grey, mode):
    ours = float_run(tmp_path, grey, "blur", "--sigma", "2.5,0.8", "--radius", "4,7", "-b", mode)
    # scipy's axes are (y, x): the command's pairs are horizontal first.
    theirs = ndi.gaussian_filter(grey.astype(float), (0.8, 2.5), radius=(7, 4), mode=mode)
    np.testing.assert_allclose(ours, theirs, atol=1e-3)


def test_blur_per_axis_image_rounds_the_reference(tmp_path, grey):
    ours = image_run(tmp_path, grey, "blur", "--sigma", "3,1")
    theirs = np.floor(ndi.gaussian_filter(grey.astype(float), (1, 3), radius=(3, 9)) + 0.5)
    assert np.abs(ours - theirs).max() <= 1
    assert np.count_nonzero(ours != theirs) < grey.size // 500


def test_one_value_keeps_its_meaning(tmp_path, grey):
    one = image_run(tmp_path, grey, "blur", "--sigma", "1.5")
    assert np.array_equal(one, image_run(tmp_path, grey, "blur", "--sigma", "1.5,1.5", "--radius", "5,5"))


def test_rotated_blur_is_the_turned_ellipse(tmp_path, grey):
    ours = float_run(tmp_path, grey, "blur", "--sigma", "3,1", "--angle", "30", "--radius", "8,8", "-b", "nearest")
    rows, columns = np.mgrid[-8:9, -8:9].astype(float)
    angle = np.radians(30)
    # Counter-clockwise on screen, where rows grow downwards: the major axis points to
    # (cos, -sin) in (x, row).
    along = columns * np.cos(angle) - rows * np.sin(angle)
    across = columns * np.sin(angle) + rows * np.cos(angle)
    kernel = np.exp(-0.5 * (along**2 / 9 + across**2))
    theirs = ndi.correlate(grey.astype(float), kernel / kernel.sum(), mode="nearest")
    np.testing.assert_allclose(ours, theirs, atol=1e-3)
    at_90 = float_run(tmp_path, grey, "blur", "--sigma", "3,1", "--angle", "90", "--radius", "8,8")
    np.testing.assert_allclose(at_90, ndi.gaussian_filter(grey.astype(float), (3, 1), radius=8), atol=1e-3)


@pytest.mark.parametrize("order", [(1, 0), (0, 2), (3, 1)])
def test_blur_order_is_scipys_derivative(tmp_path, grey, order):
    args = ("blur", "--sigma", "1.5", "--order", f"{order[0]},{order[1]}")
    theirs = ndi.gaussian_filter(grey.astype(float), 1.5, order=order[::-1], radius=5)
    np.testing.assert_allclose(float_run(tmp_path, grey, *args), theirs, atol=2e-3)
    shown = image_run(tmp_path, grey, *args).astype(float)
    assert np.abs(shown - np.clip(np.abs(theirs), 0, 255)).max() <= 0.5 + 1e-3


@pytest.mark.parametrize("args, message", [
    (("--order", "4", "--sigma", "1"), "order must be 0 to 3"),
    (("--order", "1", "--angle", "10", "--sigma", "2"), "no derivative order"),
    (("--sigma", "1,2,3"), "one number or two"),
    (("--sigma", "nan"), "finite"),
    (("--radius", "2,-1"), "at least 0"),
])
def test_bad_shapes_are_one_line(tmp_path, grey, args, message):
    result = run("blur", *args, save(tmp_path / "in.png", grey), tmp_path / "out.png")
    assert result.exit_code == 2 and message in result.stderr
    assert result.stderr.count("\n") == 1 and not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("mode", ["reflect", "constant"])
def test_box_of_width_and_height(tmp_path, grey, mode):
    ours = float_run(tmp_path, grey, "box", "--kernel-size", "5,3", "-b", mode)
    np.testing.assert_allclose(ours, ndi.uniform_filter(grey.astype(float), (3, 5), mode=mode), atol=1e-3)


@pytest.mark.parametrize("mode", MODES)
def test_scale_space_commands_equal_scipy(tmp_path, grey, mode):
    x = grey.astype(float)
    dog = float_run(tmp_path, grey, "dog", "--sigma", "1", "--sigma2", "2", "--radius", "6", "-b", mode)
    theirs = ndi.gaussian_filter(x, 1, radius=6, mode=mode) - ndi.gaussian_filter(x, 2, radius=6, mode=mode)
    np.testing.assert_allclose(dog, theirs, atol=1e-3)
    log = float_run(tmp_path, grey, "log", "--sigma", "1.5", "-b", mode)
    np.testing.assert_allclose(log, ndi.gaussian_laplace(x, 1.5, radius=5, mode=mode), atol=1e-3)
    gradient = float_run(tmp_path, grey, "gradient", "--sigma", "1.2", "--radius", "3", "-b", mode)
    np.testing.assert_allclose(gradient, ndi.gaussian_gradient_magnitude(x, 1.2, radius=3, mode=mode), atol=1e-3)


def test_signed_responses_show_their_absolute_value(tmp_path, grey):
    shown = image_run(tmp_path, grey, "log", "--sigma", "1").astype(float)
    theirs = np.clip(np.abs(ndi.gaussian_laplace(grey.astype(float), 1, radius=3)), 0, 255)
    assert np.abs(shown - theirs).max() <= 0.5 + 1e-3
    assert shown.max() > 20  # not all clipped to 0


def test_dog_needs_the_wider_gaussian_second(tmp_path, grey):
    result = run("dog", "--sigma", "2", "--sigma2", "1", save(tmp_path / "in.png", grey), tmp_path / "out.png")
    assert result.exit_code == 2 and "--sigma2 larger than --sigma" in result.stderr


def test_unsharp_threshold_leaves_low_contrast_alone(tmp_path, grey):
    ours = image_run(tmp_path, grey, "unsharp", "--sigma", "2,1", "--amount", "1.5", "--threshold", "6")
    x = grey.astype(float)
    detail = x - ndi.gaussian_filter(x, (1, 2), radius=(3, 6))
    theirs = np.where(np.abs(detail) < 6, x, np.clip(np.floor(x + 1.5 * detail + 0.5), 0, 255))
    clear = np.abs(np.abs(detail) - 6) > 1e-3  # float32 may decide the ties either way
    assert np.abs(ours - theirs)[clear].max() <= 1
    assert np.count_nonzero((ours == grey) & (np.abs(detail) >= 6 + 1e-3) & (np.abs(1.5 * detail) > 1)) == 0
    assert 0 < np.count_nonzero(ours == grey) < grey.size


@pytest.fixture(scope="module")
def colour():
    rng = np.random.default_rng(127)
    return ndi.uniform_filter(rng.integers(0, 256, (37, 45, 3)), (3, 3, 1)).astype(np.uint8)


def srgb_decode(v):
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def srgb_encode(v):
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * np.maximum(v, 0) ** (1 / 2.4) - 0.055)


def test_linear_blur_is_blurred_light(tmp_path, colour):
    ours = image_run(tmp_path, colour, "blur", "--sigma", "2", "--linear").astype(float)
    light = srgb_decode(colour / 255.0)
    blurred = np.stack([ndi.gaussian_filter(light[..., c], 2, radius=6) for c in range(3)], -1)
    theirs = np.floor(srgb_encode(np.clip(blurred, 0, 1)) * 255 + 0.5)
    assert np.abs(ours - theirs).max() <= 1
    plain = image_run(tmp_path, colour, "blur", "--sigma", "2").astype(float)
    assert np.abs(plain - theirs).max() > 3  # the test tells the two apart


@pytest.mark.parametrize("args", [("blur", "--sigma", "1.5"), ("box", "--radius", "1"), ("sharpen",),
                                  ("unsharp", "--sigma", "1", "--amount", "2")])
def test_luminance_filters_only_luma(tmp_path, colour, args):
    ours = image_run(tmp_path, colour, *args, "--luminance").astype(float)
    x = colour.astype(float)
    luma = x @ [0.299, 0.587, 0.114]
    kernels = {"blur": lambda y: ndi.gaussian_filter(y, 1.5, radius=5), "box": lambda y: ndi.uniform_filter(y, 3),
               "sharpen": lambda y: ndi.correlate(y, [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
               "unsharp": lambda y: y + 2 * (y - ndi.gaussian_filter(y, 1, radius=3))}
    theirs = np.clip(np.floor(x + (kernels[args[0]](luma) - luma)[..., None] + 0.5), 0, 255)
    assert np.abs(ours - theirs).max() <= 1


def test_linear_and_luminance_refusals(tmp_path, colour):
    from PIL import Image, ImageCms

    source = save(tmp_path / "in.png", colour)
    both = run("blur", "-s", "1", "--linear", "--luminance", source, tmp_path / "out.png")
    assert both.exit_code == 2 and "not both" in both.stderr and both.stderr.count("\n") == 1
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    Image.fromarray(colour).save(tmp_path / "lab.png", icc_profile=lab)
    other = run("blur", "-s", "1", "--linear", tmp_path / "lab.png", tmp_path / "out.png")
    assert other.exit_code != 0 and "lab.png" in other.stderr and "ICC profile" in other.stderr
    assert other.stderr.count("\n") == 1 and not (tmp_path / "out.png").exists()
    edges = run("sobel", "--luminance", source, tmp_path / "out.png")
    assert edges.exit_code == 2 and "--luminance" in edges.stderr


def test_tiled_streaming_refuses_linear_in_one_line(tmp_path, colour):
    import tifffile

    tifffile.imwrite(tmp_path / "tiled.tif", np.tile(colour, (2, 2, 1))[:64, :80], tile=(16, 16))
    result = run("blur", "-s", "1", "--linear", tmp_path / "tiled.tif", tmp_path / "out.tif")
    assert result.exit_code != 0 and "--linear" in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "out.tif").exists()


@pytest.fixture(scope="module")
def holes(grey):
    x = grey.astype(np.float64)
    x[10:14, 20:23] = np.nan
    x[30, 5] = np.nan
    return x


@pytest.mark.parametrize("mode", ["reflect", "constant", "truncate"])
def test_nan_interpolate_is_normalized_convolution(tmp_path, holes, mode):
    source, dest = tmp_path / "in.npy", tmp_path / "out.npy"
    np.save(source, holes)
    result = run("blur", "--sigma", "1", "--nan", "interpolate", "-b", mode, source, dest)
    assert result.exit_code == 0, result.stderr
    valid = ~np.isnan(holes)
    edges = "constant" if mode == "truncate" else mode
    # In constant mode the fill (0) counts as valid samples; truncated, the outside is missing.
    fill = 1.0 if mode == "constant" else 0.0
    theirs = ndi.gaussian_filter(np.where(valid, holes, 0), 1, radius=3, mode=edges) / \
        ndi.gaussian_filter(valid.astype(float), 1, radius=3, mode=edges, cval=fill)
    np.testing.assert_allclose(np.load(dest), theirs, atol=1e-3)


def test_nan_is_refused_by_default_in_one_line(tmp_path, holes):
    np.save(tmp_path / "in.npy", holes)
    result = run("blur", "--sigma", "1", tmp_path / "in.npy", tmp_path / "out.npy")
    assert result.exit_code != 0 and "in.npy: NaN samples" in result.stderr and "--nan interpolate" in result.stderr
    assert result.stderr.count("\n") == 1 and not (tmp_path / "out.npy").exists()


@pytest.mark.parametrize("mode", ["reflect", "truncate"])
def test_truncate_boundary_is_the_mean_inside(tmp_path, grey, mode):
    ours = float_run(tmp_path, grey, "box", "--kernel-size", "7,3", "-b", mode)
    x = grey.astype(float)
    if mode == "truncate":
        theirs = ndi.uniform_filter(x, (3, 7), mode="constant") / ndi.uniform_filter(np.ones_like(x), (3, 7),
                                                                                     mode="constant")
    else:
        theirs = ndi.uniform_filter(x, (3, 7), mode=mode)
    np.testing.assert_allclose(ours, theirs, atol=1e-3)


def test_truncate_refuses_edge_detectors_in_one_line(tmp_path, grey):
    result = run("sobel", "-b", "truncate", save(tmp_path / "in.png", grey), tmp_path / "out.png")
    assert result.exit_code != 0 and "truncate" in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("args", [("--nan", "interpolate"), ("-b", "truncate"), ("--luminance",),
                                  ("--cval", "1,2,3")])
def test_tiled_streaming_refuses_whole_image_options(tmp_path, grey, args):
    import tifffile

    tifffile.imwrite(tmp_path / "tiled.tif", np.tile(grey, (2, 2))[:64, :96], tile=(16, 16))
    result = run("blur", "-s", "1", *args, tmp_path / "tiled.tif", tmp_path / "out.tif")
    assert result.exit_code != 0 and args[0] in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "out.tif").exists()


def test_cval_per_channel(tmp_path, colour):
    ours = image_run(tmp_path, colour, "blur", "--sigma", "2", "-b", "constant", "--cval", "255,0,40").astype(float)
    theirs = np.stack([ndi.gaussian_filter(colour[..., c].astype(float), 2, radius=6, mode="constant", cval=v)
                       for c, v in enumerate((255, 0, 40))], -1)
    assert np.abs(ours - np.floor(theirs + 0.5)).max() <= 1
    assert ours[0, 0, 0] > ours[0, 0, 1] + 40  # the red fill brightens the corner's red


def test_cval_of_another_count_is_refused_naming_the_file(tmp_path, colour):
    result = run("blur", "-s", "1", "-b", "constant", "--cval", "1,2", save(tmp_path / "in.png", colour),
                 tmp_path / "out.png")
    assert result.exit_code != 0 and "in.png" in result.stderr and "3 channel" in result.stderr
    assert result.stderr.count("\n") == 1 and not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("mode", ["reflect", "constant"])
def test_convolve_a_kernel_per_channel(tmp_path, colour, mode):
    planes = np.zeros((3, 5, 3))
    planes[1, :, 0], planes[:, 1, 1], planes[0, 4, 2] = 0.2, [0.5, 0.25, 0.25], 1.0
    np.save(tmp_path / "k.npy", planes)
    source = save(tmp_path / "in.png", colour)
    result = run("convolve", "-k", tmp_path / "k.npy", "-b", mode, "--cval", "9,99,200", source, tmp_path / "a.png")
    assert result.exit_code == 0, result.stderr
    theirs = np.stack([ndi.convolve(colour[..., c].astype(float), planes[..., c], mode=mode, cval=v)
                       for c, v in enumerate((9, 99, 200))], -1)
    ours = load(tmp_path / "a.png")[1].astype(float)
    assert np.abs(ours - np.floor(theirs + 0.5)).max() <= 1
    inline = ["-k", "0 0 0 0 0; 1 1 1 1 1; 0 0 0 0 0", "-k", "0 2 0 0 0; 0 1 0 0 0; 0 1 0 0 0",
              "-k", "0 0 0 0 1; 0 0 0 0 0; 0 0 0 0 0"]
    result = run("convolve", *inline, "--normalize", "-b", mode, "--cval", "9,99,200", source, tmp_path / "b.png")
    assert result.exit_code == 0, result.stderr
    assert np.array_equal(load(tmp_path / "b.png")[1], load(tmp_path / "a.png")[1])


def test_kernels_of_another_count_are_refused(tmp_path, colour):
    result = run("convolve", "-k", "1 1", "-k", "1", save(tmp_path / "in.png", colour), tmp_path / "out.png")
    assert result.exit_code != 0 and "in.png" in result.stderr and "--kernel gives 2" in result.stderr
    assert result.stderr.count("\n") == 1 and not (tmp_path / "out.png").exists()
    np.save(tmp_path / "k.npy", np.ones((3, 3, 5)))
    result = run("convolve", "-k", tmp_path / "k.npy", tmp_path / "in.png", tmp_path / "out.png")
    assert result.exit_code != 0 and "last axis is the channel" in result.stderr


@pytest.mark.parametrize("args", [("unsharp", "-s", "1", "--threshold", "3"), ("blur", "-s", "1", "--linear"),
                                  ("blur", "-s", "1", "--nan", "interpolate")])
def test_print_kernel_refuses_what_convolve_would_not_reproduce(args):
    result = run(*args, "--print-kernel")
    assert result.exit_code == 2 and "not a single kernel" in result.stderr and not result.stdout
