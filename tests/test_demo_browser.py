"""imgconv demo in a real headless Chromium: the controls drive what the page shows, and
what it shows is what the command line writes.

Needs Debian's chromium and chromium-driver (``.ci/run`` installs them) and selenium
(the test extra). Without them these tests skip, except under CI, where they fail.
Screenshots of the panels go to the folder IMGCONV_SCREENSHOTS names (the lecture guide's are
made with IMGCONV_SCREENSHOTS=docs), else to a temporary folder.
"""

import base64
import io
import math
import os
import statistics
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from helpers import load, run
from PIL import Image
from test_demo import CHELSEA, cli_blur, server  # noqa: F401 (server: the module's own demo process, a fixture)

from imgconv.kernels import gaussian
from imgconv.lecture.animate import Frames, make_geometry
from imgconv.vocabulary import MODES

# Slow as a whole: Chromium takes 2 s to start (once, for the module), and the page's
# movement and latency are measured in real time.
pytestmark = pytest.mark.slow

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
REPOSITORY = Path(__file__).resolve().parent.parent


def _missing():
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install -e '.[test]')")
    return missing


@pytest.fixture(scope="module")
def browser():
    missing = _missing()
    if missing:
        message = f"no headless Chromium: missing {', '.join(missing)} (apt-get install -y chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--window-size=1200,1600", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    options.binary_location = str(CHROMIUM)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def page(browser, server):  # noqa: F811 - pytest passes the fixture imported from test_demo
    """The page, freshly loaded, with its first picture shown."""
    browser.get(server.url)
    wait(browser, lambda: shown(browser) == query(5, 3, "result", "reflect"))
    return browser


def wait(driver, condition, seconds=15):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.02).until(lambda _: condition())


def js(driver, script, *args):
    return driver.execute_script(script, *args)


def element(driver, id):
    return driver.find_element("id", id)


def set_value(driver, id, value, event="input"):
    """What a user's move does: the control's value changes, then its event fires."""
    js(driver, "const e = document.getElementById(arguments[0]); e.value = arguments[1];"
               "e.dispatchEvent(new Event(arguments[2], {bubbles: true}));", id, str(value), event)


def shown(driver):
    return element(driver, "result").get_attribute("data-shown")


def query(radius, deviation, view, boundary, image=None):
    text = f"radius={radius}&deviation={deviation}&view={view}&boundary={boundary}"
    return text + (f"&image={image}" if image else "")


def served_picture(driver):
    """The pixels at the <img>'s own address (with the browser's cookie), and what the
    browser decoded of its size."""
    src = element(driver, "result").get_attribute("src")
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
    request = urllib.request.Request(src, headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=30) as response, Image.open(io.BytesIO(response.read())) as image:
        image.load()
        pixels = np.asarray(image)
    size = js(driver, "const r = document.getElementById('result'); return [r.naturalWidth, r.naturalHeight];")
    assert size == [pixels.shape[1], pixels.shape[0]]
    return image.mode, pixels


def screenshot(driver, id, name, tmp_path):
    folder = os.environ.get("IMGCONV_SCREENSHOTS")
    folder = (REPOSITORY / folder) if folder else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    js(driver, "document.getElementById(arguments[0]).scrollIntoView()", id)
    element(driver, id).screenshot(str(path))
    with Image.open(path) as image:
        assert image.width > 300 and image.height > 150


def test_the_page_opens_as_the_lecture_does(page, tmp_path):
    assert element(page, "radius").get_attribute("value") == "5" and element(page, "radius-value").text == "5"
    assert element(page, "deviation").get_attribute("value") == "3" and element(page, "deviation-value").text == "3"
    for id, expected in (("radius", ("0", "30", "1")), ("deviation", ("0.5", "10", "0.5"))):
        assert tuple(element(page, id).get_attribute(a) for a in ("min", "max", "step")) == expected

    def options(id):
        return js(page, f"return [...document.getElementById('{id}').options].map(o => o.value)")

    assert options("view") == ["result", "thumbnail", "side-by-side"]
    assert options("boundary") == list(MODES)
    mode, pixels = served_picture(page)
    expected_mode, expected = cli_blur(tmp_path, 5, 3, "result", "reflect")
    assert mode == expected_mode and np.array_equal(pixels, expected)
    assert element(page, "blur-command").text == "imgconv blur -r 5 -s 3 --view result -b reflect chelsea.png out.png"
    screenshot(page, "blur-panel", "demo-blur.png", tmp_path)


@pytest.mark.parametrize("opened", ["address", "opener"])
def test_the_page_opens_from_the_printed_address_only(browser, server, opened):  # noqa: F811 - the fixture
    """Its token becomes an HttpOnly, SameSite=Strict cookie, and leaves the address;
    the page the command line has the browser open first (a file, so that the token is
    not in the browser's command line) leads there too."""
    from imgconv.demo import opener_page

    address = f"http://127.0.0.1:{server.port}/"
    browser.delete_all_cookies()
    browser.get(address)
    assert browser.find_element("tag name", "body").text == \
        "no valid token: open the address imgconv demo printed, with its token"
    browser.get(server.url.replace(server.token, server.token[::-1]))
    assert browser.find_element("tag name", "body").text.startswith("no valid token")
    assert browser.get_cookies() == []
    opener = opener_page(server.url)
    try:
        browser.get(server.url if opened == "address" else opener.as_uri())
        wait(browser, lambda: browser.current_url.startswith("http") and shown(browser) == query(5, 3, "result",
                                                                                                  "reflect"))
    finally:
        opener.unlink()
    assert browser.current_url == address  # no token in the address bar
    [cookie] = browser.get_cookies()
    assert (cookie["name"], cookie["value"], cookie["path"]) == (f"imgconv-demo-{server.port}", server.token, "/")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and "expiry" not in cookie
    assert js(browser, "return document.cookie") == ""  # out of the page's scripts' reach
    js(browser, "document.getElementById('result').dataset.shown = ''")
    browser.refresh()  # the address without the token, with the cookie
    wait(browser, lambda: shown(browser) == query(5, 3, "result", "reflect"))


@pytest.mark.parametrize("radius, deviation, view, boundary", [
    (8, 2.5, "thumbnail", "constant"), (1, 0.5, "side-by-side", "mirror"), (30, 10, "result", "wrap"),
    (3, 6, "side-by-side", "nearest"),
])
def test_the_picture_shown_is_what_the_cli_writes(page, tmp_path, radius, deviation, view, boundary):
    set_value(page, "radius", radius)
    set_value(page, "deviation", deviation)
    set_value(page, "view", view, "change")
    set_value(page, "boundary", boundary, "change")
    wait(page, lambda: shown(page) == query(radius, deviation, view, boundary))
    mode, pixels = served_picture(page)
    expected_mode, expected = cli_blur(tmp_path, radius, deviation, view, boundary)
    assert mode == expected_mode and np.array_equal(pixels, expected)
    assert element(page, "radius-value").text == str(radius)


def test_the_slider_moves_the_picture(page, tmp_path):
    from selenium.webdriver.common.keys import Keys

    before = served_picture(page)[1]
    element(page, "radius").send_keys(Keys.ARROW_RIGHT)  # a real key press: one step
    wait(page, lambda: shown(page) == query(6, 3, "result", "reflect"))
    after = served_picture(page)[1]
    assert element(page, "radius-value").text == "6"
    assert not np.array_equal(before, after)
    assert np.array_equal(after, cli_blur(tmp_path, 6, 3, "result", "reflect")[1])
    element(page, "deviation").send_keys(Keys.ARROW_LEFT)
    wait(page, lambda: shown(page) == query(6, 2.5, "result", "reflect"))
    assert element(page, "deviation-value").text == "2.5"


def test_a_burst_of_moves_asks_for_two_pictures_and_shows_the_last(page, tmp_path):
    before = js(page, "return window.imgconvDemo.requests")
    js(page, "const r = document.getElementById('radius');"
             "for (let v = 10; v <= 29; v++) { r.value = v; r.dispatchEvent(new Event('input')); }")
    wait(page, lambda: shown(page) == query(29, 3, "result", "reflect"))
    # The first move's picture, then the last one's; the 18 between are never asked for.
    assert js(page, "return window.imgconvDemo.requests") - before == 2
    assert np.array_equal(served_picture(page)[1], cli_blur(tmp_path, 29, 3, "result", "reflect")[1])


def test_slider_to_picture_latency_is_measured(page):
    """Prints the latency docs/guides/lecture.md reports (run with -s to see it); no timing is asserted."""
    latencies = []
    for move in range(20):
        radius = 6 + move % 10 * 2 + move // 10  # a new radius each move, 6 to 25
        count = js(page, "return window.imgconvDemo.latencies.length")
        set_value(page, "radius", radius)
        wait(page, lambda radius=radius: shown(page) == query(radius, 3, "result", "reflect"))
        assert js(page, "return window.imgconvDemo.latencies.length") == count + 1
        latencies.append(js(page, "return window.imgconvDemo.latencies.at(-1)"))
    assert all(value > 0 for value in latencies)
    print(f"\nslider input to picture load, 451x300 sample, 20 moves: median {statistics.median(latencies):.0f} ms, "
          f"worst {max(latencies):.0f} ms")


def test_the_kernel_heat_map_has_the_weights(page):
    set_value(page, "radius", 2)
    set_value(page, "deviation", 1)
    # Its caption names the deviation: the kernel of radius 2 and deviation 3 has 5x5 weights too.
    wait(page, lambda: element(page, "kernel-caption").text.startswith("kernel 5x5, \u03c3 = 1,"))
    texts = js(page, "return [...document.querySelectorAll('#kernel text')].map(t => t.textContent)")
    numbers = [float(t) for t in texts]
    assert np.allclose(np.reshape(numbers, (5, 5)), gaussian(1, radius=2), atol=5e-4)
    set_value(page, "radius", 20)
    wait(page, lambda: element(page, "kernel").get_attribute("data-size") == "41")
    assert js(page, "return document.querySelectorAll('#kernel rect').length") == 41 * 41
    assert js(page, "return document.querySelectorAll('#kernel text').length") == 0  # too small to write in


def test_an_upload_is_blurred_and_a_bad_one_is_explained(page, tmp_path, rng):
    path = tmp_path / "mine.png"
    Image.fromarray(rng.integers(0, 256, (60, 80), dtype=np.uint8)).save(path)
    element(page, "image-file").send_keys(str(path))
    wait(page, lambda: "image=" in (shown(page) or ""))
    assert element(page, "image-name").text == "mine.png: 80x60, 8-bit grey"
    mode, pixels = served_picture(page)
    expected_mode, expected = cli_blur(tmp_path, 5, 3, "result", "reflect", image=path)
    assert mode == expected_mode == "L" and np.array_equal(pixels, expected)
    assert element(page, "blur-command").text.endswith("mine.png out.png")
    wait(page, lambda: "image=" in (restored_shown(page) or ""))  # the upload is restored too
    assert data_picture(page, "restore-original").shape == (60, 80)
    element(page, "image-sample").click()
    wait(page, lambda: shown(page) == query(5, 3, "result", "reflect"))
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    element(page, "image-file").send_keys(str(text))
    wait(page, lambda: element(page, "blur-error").text)
    assert element(page, "blur-error").text == "upload: not an image, or a format imgconv cannot read"


def restore_query(radius=5, deviation=3, boundary="reflect", method="richardson-lucy", iterations=30, balance="0.01",
                  noise="0", image=None):
    text = (f"radius={radius}&deviation={deviation}&boundary={boundary}&method={method}&iterations={iterations}"
            f"&balance={balance}&noise={noise}")
    return text + (f"&image={image}" if image else "")


def restored_shown(driver):
    return element(driver, "restore-restored").get_attribute("data-shown")


def data_picture(driver, id):
    """The samples of an <img> whose address is a PNG data: address."""
    prefix, _, data = element(driver, id).get_attribute("src").partition(",")
    assert prefix == "data:image/png;base64"
    with Image.open(io.BytesIO(base64.b64decode(data))) as image:
        return np.asarray(image)


def psnr(result, original):
    return 10 * math.log10(255**2 / np.mean((result.astype(np.float64) - original.astype(np.float64)) ** 2))


def cli_restore(tmp_path, blurred, *how):
    out = tmp_path / "restored.png"
    result = run("deconvolve", *how, blurred, out)
    assert result.exit_code == 0, result.stderr
    return load(out)[1]


def test_the_restoration_follows_its_slider_and_shows_the_psnr_python_computes(page, tmp_path):
    from selenium.webdriver.common.keys import Keys

    wait(page, lambda: restored_shown(page) == restore_query())
    assert tuple(element(page, "iterations").get_attribute(a) for a in ("min", "max", "step", "value")) == \
        ("1", "50", "1", "30")
    screenshot(page, "restore-panel", "demo-restore.png", tmp_path)
    before = data_picture(page, "restore-restored")
    element(page, "iterations").send_keys(Keys.HOME)  # a real key press: to the least, 1
    wait(page, lambda: restored_shown(page) == restore_query(iterations=1))
    after = data_picture(page, "restore-restored")
    assert element(page, "iterations-value").text == "1" and not np.array_equal(before, after)
    original = load(CHELSEA)[1]
    blurred = cli_blur(tmp_path, 5, 3, "result", "reflect")[1]
    restored = cli_restore(tmp_path, tmp_path / "cli-5-3-result-reflect.png", "-k", "gaussian:s=3,r=5",
                           "--iterations", 1, "-b", "reflect")
    assert np.array_equal(data_picture(page, "restore-blurred"), blurred) and np.array_equal(after, restored)
    assert np.array_equal(data_picture(page, "restore-original"), original)
    assert element(page, "psnr-blurred").text == f"{psnr(blurred, original):.2f} dB"
    assert element(page, "psnr-restored").text == f"{psnr(restored, original):.2f} dB"
    assert element(page, "psnr-gain").text == f"+{psnr(restored, original) - psnr(blurred, original):.2f} dB"
    assert element(page, "restore-command").text == (
        "imgconv blur -r 5 -s 3 -b reflect chelsea.png blurred.png\n"
        "imgconv deconvolve -k gaussian:s=3,r=5 --iterations 1 -b reflect blurred.png restored.png")


def test_wiener_with_noise_loses_and_the_page_says_by_how_much(page, tmp_path):
    wait(page, lambda: restored_shown(page) == restore_query())
    assert element(page, "balance").get_attribute("disabled") == "true"
    set_value(page, "restore-method", "wiener", "change")
    set_value(page, "balance", "0.001", "change")
    set_value(page, "noise", 5)
    set_value(page, "radius", 4)
    wait(page, lambda: restored_shown(page) == restore_query(radius=4, method="wiener", balance="0.001", noise=5))
    assert element(page, "iterations").get_attribute("disabled") == "true"
    assert element(page, "balance").get_attribute("disabled") is None
    assert element(page, "noise-value").text == "5"
    assert element(page, "restore-note").text == ("Noise of \u03c3 5 levels (of 255), from a fixed seed, is added to "
                                                  "blurred.png before it is restored; the commands shown add none.")
    original = load(CHELSEA)[1]
    blurred = cli_blur(tmp_path, 4, 3, "result", "reflect")[1]
    noisy = np.clip(np.rint(blurred + np.random.default_rng(0).normal(0, 5, blurred.shape)), 0, 255).astype(np.uint8)
    Image.fromarray(noisy).save(tmp_path / "noisy.png")
    restored = cli_restore(tmp_path, tmp_path / "noisy.png", "-k", "gaussian:s=3,r=4", "--algorithm", "wiener",
                           "--balance", "0.001")
    assert np.array_equal(data_picture(page, "restore-restored"), restored)
    assert element(page, "psnr-blurred").text == f"{psnr(noisy, original):.2f} dB"
    assert element(page, "psnr-restored").text == f"{psnr(restored, original):.2f} dB"
    loss = psnr(noisy, original) - psnr(restored, original)
    assert loss > 5 and element(page, "psnr-gain").text == f"\u2212{loss:.2f} dB"
    assert "--algorithm wiener --balance 0.001" in element(page, "restore-command").text
    screenshot(page, "restore-panel", "demo-restore-wiener.png", tmp_path)


def test_iterations_to_restoration_latency_is_measured(page):
    """Prints the latency of the restoration panel (run with -s to see it); no timing is asserted."""
    wait(page, lambda: restored_shown(page) == restore_query())
    latencies = []
    for move in range(4):
        iterations = 50 - 15 * move  # 50 down to 5: the costliest first
        count = js(page, "return window.imgconvRestore.latencies.length")
        set_value(page, "iterations", iterations)
        wait(page, lambda iterations=iterations: restored_shown(page) == restore_query(iterations=iterations))
        assert js(page, "return window.imgconvRestore.latencies.length") == count + 1
        latencies.append(js(page, "return window.imgconvRestore.latencies.at(-1)"))
    print(f"\niterations input to restoration shown, 451x300 sample, 50 to 5 iterations: median "
          f"{statistics.median(latencies):.0f} ms, worst {max(latencies):.0f} ms")


def step(driver):
    return int(element(driver, "conv-animation").get_attribute("data-step"))


def test_the_movement_runs_stops_and_steps(page, tmp_path):
    start = step(page)
    wait(page, lambda: step(page) != start, 5)  # it opens moving
    assert element(page, "toggle-movement").get_attribute("aria-pressed") == "true"
    element(page, "toggle-movement").click()
    assert element(page, "toggle-movement").get_attribute("aria-pressed") == "false"
    wait(page, lambda: not js(page, "return conv.drawing"))  # a frame that was being drawn lands
    stopped = step(page)
    time.sleep(1.5)  # more than two steps' time
    assert step(page) == stopped
    steps = int(js(page, "return conv.info.steps"))
    assert steps == 9  # the 5x5 input, 3x3 kernel: 3x3 outputs
    for expected in [(stopped + n) % steps for n in range(1, steps + 1)]:  # round to where it was, through 0
        element(page, "conv-next").click()
        wait(page, lambda expected=expected: step(page) == expected, 5)
    screenshot(page, "conv-panel", "demo-conv.png", tmp_path)
    element(page, "toggle-movement").click()
    wait(page, lambda: step(page) != stopped, 5)


def test_the_animation_is_imgconv_animates_frame(page):
    element(page, "toggle-movement").click()
    set_value(page, "conv-input-size", 6)
    set_value(page, "conv-stride", 2)
    set_value(page, "conv-padding", "1")
    set_value(page, "conv-dilation", 2)
    wait(page, lambda: element(page, "conv-output-size").text == "2x2")  # floor((6 + 2 - 4 - 1) / 2) + 1
    # The last setting's first frame drawn: the stride alone gave 2x2 too, and the step
    # shown may be 0 still from before; "next" does nothing while a frame is drawn.
    wait(page, lambda: js(page, "return conv.query") == "input=6&kernel=3&stride=2&padding=1&dilation=2")
    wait(page, lambda: step(page) == 0 and not js(page, "return conv.drawing"))
    element(page, "conv-next").click()
    wait(page, lambda: step(page) == 1)
    url = js(page, "return document.getElementById('conv-animation').toDataURL('image/png')")
    import base64

    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as drawn:
        drawn = np.asarray(drawn.convert("RGB"))
    frame = Frames(make_geometry((6, 6), (3, 3), (2, 2), (1, 1), (2, 2)), numbers=True)[1]
    assert np.array_equal(drawn, np.asarray(frame))


@pytest.mark.parametrize("size, kernel, stride, padding, dilation, output", [
    (5, 3, 2, "1", 1, 3),  # floor((5 + 2 - 2 - 1) / 2) + 1
    (7, 3, 1, "0", 2, 3),  # floor((7 - 4 - 1) / 1) + 1
    (16, 7, 4, "full", 1, 6),  # floor((16 + 12 - 6 - 1) / 4) + 1
    (9, 4, 2, "same", 1, 5),  # ceil(9 / 2)
])
def test_the_output_size_shown_follows_the_formula(page, size, kernel, stride, padding, dilation, output):
    for id, value in (("conv-input-size", size), ("conv-kernel-size", kernel), ("conv-stride", stride),
                      ("conv-padding", padding), ("conv-dilation", dilation)):
        set_value(page, id, value)
    wait(page, lambda: element(page, "conv-output-size").text == f"{output}x{output}")
    assert element(page, "conv-formula").text.endswith(f"= {output}")
    assert element(page, "conv-error").text == ""


def test_a_kernel_that_does_not_fit_is_explained(page):
    set_value(page, "conv-input-size", 3)
    set_value(page, "conv-kernel-size", 7)
    wait(page, lambda: element(page, "conv-error").text)
    assert element(page, "conv-error").text.startswith("the kernel does not fit")
    assert element(page, "conv-output-size").text == "none"


def test_the_parameter_counts(page, tmp_path):
    wait(page, lambda: element(page, "params-fc").text)
    counts = {id: element(page, id).text for id in ("params-fc", "params-lc", "params-conv", "params-ratio-fc-lc",
                                                     "params-ratio-lc-conv", "params-ratio-fc-conv")}
    assert counts == {"params-fc": "1,000,000,000,000", "params-lc": "100,000,000", "params-conv": "10,000",
                      "params-ratio-fc-lc": "10,000", "params-ratio-lc-conv": "10,000",
                      "params-ratio-fc-conv": "100,000,000"}
    assert element(page, "params-ratio-fc-conv-power").text == "10^8"
    screenshot(page, "params-panel", "demo-params.png", tmp_path)
    for id, value in (("params-input", "32x24"), ("params-hidden", 100), ("params-filter", "5x5"),
                      ("params-filters", 6), ("params-channels", 3)):
        set_value(page, id, value)
    element(page, "params-bias").click()
    # 32·24·3·100 + 100; 100·5·5·3 + 100; 6·5·5·3 + 6
    wait(page, lambda: element(page, "params-conv").text == "456")
    assert (element(page, "params-fc").text, element(page, "params-lc").text) == ("230,500", "7,600")
    set_value(page, "params-filter", "5y5")
    wait(page, lambda: element(page, "params-error").text)
    assert element(page, "params-error").text.startswith("filter: '5y5' is not a size HxW")
    assert element(page, "params-conv").text == ""
