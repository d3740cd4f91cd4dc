"""imgconv demo in a real headless Chromium: the controls drive what the page shows, and
what it shows is what the command line writes.

Needs Debian's chromium and chromium-driver (``.ci/run`` installs them) and selenium
(the test extra). Without them these tests skip, except under CI, where they fail.
Screenshots of the panels go to the folder IMGCONV_SCREENSHOTS names (the lecture guide's are
made with IMGCONV_SCREENSHOTS=docs), else to a temporary folder.
"""

import io
import os
import statistics
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_demo import cli_blur, server  # noqa: F401 (server: the module's own demo process, a fixture)

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
    wait(page, lambda: element(page, "kernel").get_attribute("data-size") == "5")
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
    element(page, "image-sample").click()
    wait(page, lambda: shown(page) == query(5, 3, "result", "reflect"))
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    element(page, "image-file").send_keys(str(text))
    wait(page, lambda: element(page, "blur-error").text)
    assert element(page, "blur-error").text == "upload: not an image, or a format imgconv cannot read"


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
