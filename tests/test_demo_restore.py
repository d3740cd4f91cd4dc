"""The demo's "undoing the blur" panel over HTTP (``GET /restore.json``) on a real server
process: its pictures are what ``imgconv blur`` then ``imgconv deconvolve`` write, its
blur and restoration match scipy.ndimage and a Richardson-Lucy loop written here, its
PSNRs are the formula's, and hostile settings are refused in one line (the page in a
real browser: test_demo_browser.py)."""

import base64
import io
import json
import math
import re

import numpy as np
import pytest
import scipy.ndimage as ndi
from helpers import load, run
from PIL import Image
from test_demo import CHELSEA, DemoProcess, assert_one_line_refusal, cli_blur, fetch, pixels

from imgconv.demo.app import Demo, RequestError

# The tests of a server process are slow: it starts in 0.5 s, and each restoration
# takes up to 0.5 s, checked against both commands. The quick subset has the same
# answers made in-process.
slow = pytest.mark.slow


@pytest.fixture(scope="module")
def server():
    demo = DemoProcess(CHELSEA)
    yield demo
    assert demo.stop() == (130, "", "")  # nothing but the URL line: no log, no traceback


def restored(server, query=""):
    """The answer of ``/restore.json?QUERY``: the JSON, and its three pictures decoded
    (mode, samples)."""
    status, content_type, body = fetch(server, "/restore.json" + (f"?{query}" if query else ""))
    assert status == 200 and content_type == "application/json", body
    answer = json.loads(body)
    shown = {}
    for name in ("original", "blurred", "restored"):
        prefix, _, data = answer[name].partition(",")
        assert prefix == "data:image/png;base64"
        shown[name] = pixels(base64.b64decode(data, validate=True))
    return answer, shown


def psnr(result, original, peak=255.0):
    mse = np.mean((np.asarray(result, np.float64) - np.asarray(original, np.float64)) ** 2)
    return None if mse == 0 else 10 * math.log10(peak**2 / mse)


def cli_deconvolve(tmp_path, blurred, radius, deviation, boundary, *how):
    out = tmp_path / f"restored-{radius}-{deviation}-{boundary}-{'-'.join(map(str, how))}.png"
    kernel = f"gaussian:s={deviation},r={radius}" if radius else "1"
    result = run("deconvolve", "-k", kernel, *how, "-b", boundary, blurred, out)
    assert result.exit_code == 0, result.stderr
    return load(out)


@slow
@pytest.mark.parametrize("radius, deviation, boundary, method, how", [
    (5, 3, "reflect", "richardson-lucy", ("--iterations", 30)),  # the page's defaults
    (6, 2, "nearest", "richardson-lucy", ("--iterations", 1)),
    (12, 4, "constant", "richardson-lucy", ("--iterations", 50)),
    (4, 1.5, "wrap", "wiener", ("--algorithm", "wiener", "--balance", 0.001)),
    (8, 2.5, "mirror", "wiener", ("--algorithm", "wiener", "--balance", 1)),
])
def test_the_pictures_are_what_blur_then_deconvolve_write(server, tmp_path, radius, deviation, boundary, method,
                                                        how):
    iterations = how[1] if method == "richardson-lucy" else 30
    balance = how[-1] if method == "wiener" else 0.01
    answer, shown = restored(server, f"radius={radius}&deviation={deviation}&boundary={boundary}&method={method}"
                                     f"&iterations={iterations}&balance={balance}")
    original = load(CHELSEA)
    blurred = cli_blur(tmp_path, radius, deviation, "result", boundary)
    blurred_file = tmp_path / f"cli-{radius}-{deviation}-result-{boundary}.png"
    again = cli_deconvolve(tmp_path, blurred_file, radius, deviation, boundary, *how)
    assert shown["original"][0] == shown["blurred"][0] == shown["restored"][0] == "RGB"
    assert np.array_equal(shown["original"][1], original[1])
    assert np.array_equal(shown["blurred"][1], blurred[1])
    assert np.array_equal(shown["restored"][1], again[1])
    assert (answer["width"], answer["height"], answer["of"]) == (451, 300, [451, 300])
    assert answer["psnr"]["blurred"] == pytest.approx(psnr(blurred[1], original[1]), rel=1e-12)
    assert answer["psnr"]["restored"] == pytest.approx(psnr(again[1], original[1]), rel=1e-12)


@slow
def test_the_blur_and_its_undoing_match_scipy_and_a_richardson_lucy_loop_written_here(server):
    """scipy.ndimage.gaussian_filter for the blur, and Richardson-Lucy as its paper has it
    (first estimate the blurred picture, psf normalised), in float64 with
    scipy.ndimage.convolve: equal but for a rounding step here and there."""
    radius, deviation, iterations = 5, 3.0, 10
    _, shown = restored(server, f"radius={radius}&deviation={deviation}&iterations={iterations}")
    original = load(CHELSEA)[1].astype(np.float64)
    blur = ndi.gaussian_filter(original, (deviation, deviation, 0), mode="reflect", truncate=radius / deviation)
    expected = np.clip(np.rint(blur), 0, 255)
    assert np.abs(shown["blurred"][1] - expected).max() <= 1
    assert np.mean(shown["blurred"][1] == expected) > 0.999
    g = np.exp(-np.arange(-radius, radius + 1) ** 2 / (2 * deviation**2))
    psf = np.outer(g, g) / np.outer(g, g).sum()
    data = shown["blurred"][1].astype(np.float64)
    estimate = data.copy()
    for _ in range(iterations):
        for c in range(3):
            again = ndi.convolve(estimate[..., c], psf, mode="reflect")
            ratio = np.divide(data[..., c], again, out=np.zeros_like(again), where=again > 0)
            estimate[..., c] *= ndi.correlate(ratio, psf, mode="reflect")
    expected = np.clip(np.rint(np.clip(estimate, data.min(), data.max())), 0, 255)
    assert np.abs(shown["restored"][1] - expected).max() <= 1
    assert np.mean(shown["restored"][1] == expected) > 0.999
    # The restoration gains here: the panel's point.
    assert psnr(shown["restored"][1], original) > psnr(shown["blurred"][1], original) + 1


@slow
def test_noise_is_added_to_the_blur_from_a_fixed_seed_and_then_restored(server, tmp_path):
    answer, shown = restored(server, "noise=4&iterations=20")
    assert restored(server, "noise=4&iterations=20")[1]["blurred"][1].tobytes() == shown["blurred"][1].tobytes()
    blurred = cli_blur(tmp_path, 5, 3, "result", "reflect")[1]
    noise = np.random.default_rng(0).normal(0, 4, blurred.shape)
    noisy = np.clip(np.rint(blurred + noise), 0, 255).astype(np.uint8)
    assert np.array_equal(shown["blurred"][1], noisy)
    path = tmp_path / "noisy.png"
    Image.fromarray(noisy).save(path)
    assert np.array_equal(shown["restored"][1], cli_deconvolve(tmp_path, path, 5, 3, "reflect", "--iterations", 20)[1])
    original = load(CHELSEA)[1]
    assert answer["psnr"]["blurred"] == pytest.approx(psnr(noisy, original), rel=1e-12)
    # Noise costs the restoration more than it costs the blur.
    _, quiet = restored(server, "iterations=20")
    assert psnr(quiet["blurred"][1], original) - psnr(noisy, original) < \
        psnr(quiet["restored"][1], original) - psnr(shown["restored"][1], original)


@slow
def test_a_radius_of_0_changes_nothing_and_its_psnr_is_null(server):
    answer, shown = restored(server, "radius=0&iterations=3")
    assert answer["psnr"] == {"blurred": None, "restored": None}
    assert np.array_equal(shown["blurred"][1], shown["original"][1])
    assert np.array_equal(shown["restored"][1], shown["original"][1])


@slow
def test_an_upload_larger_than_512_is_restored_at_its_centre_alpha_and_all(server, tmp_path, rng):
    """An RGBA upload of 700x530: the centre 512x512 is what blur and deconvolve are run
    on; the noise leaves alpha alone."""
    samples = rng.integers(0, 256, (530, 700, 4), dtype=np.uint8)
    samples[..., 3] = np.where(rng.random((530, 700)) < 0.3, 255, samples[..., 3])
    upload = io.BytesIO()
    Image.fromarray(samples).save(upload, format="PNG")
    status, _, body = fetch(server, "/image", "POST", upload.getvalue())
    assert status == 200
    key = json.loads(body)["id"]
    answer, shown = restored(server, f"image={key}&radius=3&deviation=1&iterations=4&noise=2")
    centre = samples[9:521, 94:606]
    assert (answer["width"], answer["height"], answer["of"]) == (512, 512, [700, 530])
    assert shown["original"][0] == "RGBA" and np.array_equal(shown["original"][1], centre)
    path = tmp_path / "centre.png"
    Image.fromarray(centre).save(path)
    blurred = cli_blur(tmp_path, 3, 1, "result", "reflect", image=path)[1]
    assert np.array_equal(shown["blurred"][1][..., 3], blurred[..., 3])
    noise = np.random.default_rng(0).normal(0, 2, (512, 512, 3))
    assert np.array_equal(shown["blurred"][1][..., :3], np.clip(np.rint(blurred[..., :3] + noise), 0, 255))
    noisy = tmp_path / "noisy.png"
    Image.fromarray(shown["blurred"][1]).save(noisy)
    assert np.array_equal(shown["restored"][1], cli_deconvolve(tmp_path, noisy, 3, 1, "reflect", "--iterations", 4)[1])
    assert answer["psnr"]["restored"] == pytest.approx(psnr(shown["restored"][1], centre), rel=1e-12)


@slow
@pytest.mark.parametrize("query, status, fragment", [
    ("iterations=0", 400, "iterations: '0' is not a whole number from 1 to 50"),
    ("iterations=51", 400, "from 1 to 50"),
    ("iterations=1000000000", 400, "from 1 to 50"),
    ("iterations=99999999999999999999", 400, "iterations"),
    ("iterations=1e3", 400, "iterations"),
    ("iterations=-1", 400, "iterations"),
    ("iterations=2.5", 400, "iterations"),
    ("iterations=", 400, "iterations"),
    ("balance=0", 400, "balance: '0' is not a number from 0.0001 to 1"),
    ("balance=-1", 400, "balance"),
    ("balance=1e-300", 400, "balance"),
    ("balance=inf", 400, "balance"),
    ("balance=nan", 400, "balance"),
    ("noise=-0.5", 400, "noise: '-0.5' is not a number from 0 to 20"),
    ("noise=21", 400, "noise"),
    ("noise=1e308", 400, "noise"),
    ("noise=NaN", 400, "noise"),
    ("method=magic", 400, "method: 'magic' is not one of richardson-lucy, wiener"),
    ("method=", 400, "method"),
    ("radius=31", 400, "radius"),
    ("deviation=0", 400, "deviation"),
    ("boundary=bounce", 400, "boundary"),
    ("view=result", 400, "unknown parameter 'view'"),
    ("iterations=5&iterations=6", 400, "twice"),
    ("image=0123456789abcdef", 404, "upload it again"),
    ("iterations=%ff", 400, "UTF-8"),
])
def test_hostile_settings_are_refused_in_one_line_and_the_server_serves_on(server, query, status, fragment):
    assert_one_line_refusal(*fetch(server, f"/restore.json?{query}"), status, fragment)
    assert fetch(server, "/restore.json?iterations=1")[0] == 200


@slow
def test_restore_json_needs_the_token_and_takes_get_only(server):
    assert_one_line_refusal(*fetch(server, "/restore.json?iterations=1", cookie=False), 403, "no valid token")
    assert_one_line_refusal(*fetch(server, "/restore.json", "POST", b"x"), 405, "/restore.json takes GET")
    assert_one_line_refusal(*fetch(server, "/restore.json?iterations=1",
                                   headers={"Origin": "http://evil.example"}), 403, "another page")


def test_in_process_the_answer_is_the_blur_and_its_undoing_and_bad_settings_are_refused():
    demo = Demo(CHELSEA)
    answer = json.loads(demo.restore({"radius": "0", "iterations": "2"}).make())
    assert answer["psnr"] == {"blurred": None, "restored": None}
    with Image.open(io.BytesIO(base64.b64decode(answer["restored"].partition(",")[2]))) as image:
        assert np.array_equal(np.asarray(image), load(CHELSEA)[1])
    answer = json.loads(demo.restore({"radius": "2", "deviation": "1", "method": "wiener"}).make())
    assert answer["psnr"]["restored"] > answer["psnr"]["blurred"] > 20
    for query, message in (({"iterations": "51"}, "iterations: '51' is not a whole number from 1 to 50"),
                           ({"noise": "inf"}, "noise: 'inf' is not a number from 0 to 20"),
                           ({"balance": "0"}, "balance: '0' is not a number from 0.0001 to 1"),
                           ({"method": "blind"}, "method: 'blind' is not one of richardson-lucy, wiener"),
                           ({"size": "5"}, "unknown parameter 'size'")):
        with pytest.raises(RequestError, match=re.escape(message)):
            demo.restore(query)


def test_an_animation_has_its_first_frame_restored(rng):
    frames = [Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)) for _ in range(3)]
    upload = io.BytesIO()
    frames[0].save(upload, format="PNG", save_all=True, append_images=frames[1:])  # an APNG
    data = upload.getvalue()
    demo = Demo(CHELSEA)
    key = json.loads(demo.upload(len(data), lambda _: data).make())["id"]
    answer = json.loads(demo.restore({"image": key, "radius": "1", "deviation": "1", "iterations": "2"}).make())
    assert answer["frames"] == 3 and answer["of"] == [40, 30]
    with Image.open(io.BytesIO(base64.b64decode(answer["original"].partition(",")[2]))) as image:
        assert np.array_equal(np.asarray(image), np.asarray(frames[0]))


def test_a_16_bit_upload_keeps_its_depth_and_its_noise_and_psnr_are_scaled_to_it(tmp_path, rng):
    samples = rng.integers(0, 65536, (40, 50), dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(samples).save(path)
    demo = Demo(CHELSEA)
    data = path.read_bytes()
    key = json.loads(demo.upload(len(data), lambda _: data).make())["id"]
    answer = json.loads(demo.restore({"image": key, "radius": "2", "deviation": "1", "iterations": "3",
                                      "noise": "3"}).make())
    shown = {name: pixels(base64.b64decode(answer[name].partition(",")[2])) for name in ("blurred", "restored")}
    blurred = cli_blur(tmp_path, 2, 1, "result", "reflect", image=path)[1]
    assert blurred.dtype == np.uint16 and shown["blurred"][1].dtype == np.uint16
    noisy = np.clip(np.rint(blurred + np.random.default_rng(0).normal(0, 3 * 65535 / 255, blurred.shape)), 0, 65535)
    assert np.array_equal(shown["blurred"][1], noisy)
    assert answer["psnr"]["blurred"] == pytest.approx(psnr(noisy, samples, 65535), rel=1e-12)
    assert answer["psnr"]["restored"] == pytest.approx(psnr(shown["restored"][1], samples, 65535), rel=1e-12)
