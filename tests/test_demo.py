"""imgconv demo over HTTP: a real server process on 127.0.0.1, its pictures compared with
what the CLI writes, and every kind of bad request refused in one line (the page in a
real browser: test_demo_browser.py)."""

import hashlib
import http.client
import io
import json
import os
import re
import select
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import tifffile
from helpers import SAMPLES, load, run
from PIL import Image

from imgconv.demo.app import SAMPLE, RequestError, Turns
from imgconv.io.source import max_bytes
from imgconv.lecture.animate import make_geometry
from imgconv.vocabulary import DEFAULT_MAX_UPLOAD_PIXELS

CHELSEA = SAMPLES / "chelsea.png"


class DemoProcess:
    """``python -m imgconv demo --no-browser --port 0 ARGS``, its URL read from its first
    line (``token``: the one in it; ``cookie``: the cookie the page gets for it); `stop`
    ends it with Ctrl-C and returns its exit status, stdout and stderr."""

    def __init__(self, *args, cwd=None, env=None, browser=False, prefix=()):
        options = ["--port", "0"] if browser else ["--no-browser", "--port", "0"]
        self.process = subprocess.Popen([*prefix, sys.executable, "-m", "imgconv", "demo", *options, *map(str, args)],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env=env)
        self.url = self.process.stdout.readline().strip()
        parts = urlsplit(self.url)
        if parts.scheme != "http" or not parts.port:
            self.stop()
            raise AssertionError(f"no URL line: {self.url!r}")
        self.host, self.port = parts.hostname, parts.port
        self.token = parse_qs(parts.query).get("token", [""])[0]
        self.cookie = f"imgconv-demo-{self.port}={self.token}"

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            out, err = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        return self.process.returncode, out, err


@pytest.fixture(scope="module")
def server():
    demo = DemoProcess(CHELSEA)
    yield demo
    status, out, err = demo.stop()
    # Nothing but the URL line, whatever the tests sent: no log, no traceback.
    assert (status, out, err) == (130, "", ""), (status, out, err)


def fetch(server, path, method="GET", body=None, headers=None, cookie=True):
    """Status, content type and body of one request, the path sent exactly as given,
    with the cookie the printed address gives (as the page's own requests have it)."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=60)
    try:
        connection.request(method, path, body=body,
                           headers=({"Cookie": server.cookie} if cookie else {}) | (headers or {}))
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


def own_headers(server):
    """The Host and Cookie lines a browser on the page sends, for requests written by hand."""
    return f"Host: 127.0.0.1:{server.port}\r\nCookie: {server.cookie}\r\n".encode()


def pixels(data):
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.mode, np.asarray(image)


def cli_blur(tmp_path, radius, deviation, view, boundary, image=CHELSEA):
    out = tmp_path / f"cli-{radius}-{deviation}-{view}-{boundary}.png"
    result = run("blur", "-r", radius, "-s", deviation, "--view", view, "-b", boundary, image, out)
    assert result.exit_code == 0, result.stderr
    return load(out)


def assert_one_line_refusal(status, content_type, body, expected_status, *fragments):
    assert status == expected_status, (status, body)
    assert content_type == "text/plain; charset=utf-8"
    text = body.decode()
    assert text.endswith("\n") and "\n" not in text[:-1] and text.strip(), text
    assert "Traceback" not in text and "<" not in text
    for fragment in fragments:
        assert fragment in text, (fragment, text)


def test_the_url_is_the_first_line_and_the_page_and_its_files_are_served(server):
    status, content_type, body = fetch(server, "/")
    assert status == 200 and content_type.startswith("text/html")
    page = body.decode()
    for element in ('id="radius"', 'id="deviation"', 'id="view"', 'id="result"', 'id="kernel"', 'id="image-file"',
                    'id="boundary"', 'id="conv-animation"', 'id="toggle-movement"', 'id="conv-next"',
                    'id="params-fc"', 'id="params-lc"', 'id="params-conv"', 'id="iterations"', 'id="restore-method"',
                    'id="restore-restored"', 'id="psnr-restored"'):
        assert element in page, element
    assert "http" not in page.replace("http://www.w3.org", "")  # nothing fetched from elsewhere
    for path, kind in (("/demo.js", "text/javascript"), ("/demo.css", "text/css")):
        status, content_type, body = fetch(server, path)
        assert status == 200 and content_type.startswith(kind) and body


@pytest.mark.parametrize("radius, deviation, view, boundary", [
    (5, 3, "result", "reflect"), (5, 3, "thumbnail", "reflect"), (5, 3, "side-by-side", "reflect"),
    (0, 0.5, "result", "constant"), (30, 10, "side-by-side", "wrap"), (2, 7.5, "thumbnail", "mirror"),
    (12, 1.5, "result", "nearest"),
])
def test_the_picture_is_what_the_cli_writes(server, tmp_path, radius, deviation, view, boundary):
    status, content_type, body = fetch(server, f"/blur.png?radius={radius}&deviation={deviation}&view={view}"
                                               f"&boundary={boundary}")
    assert status == 200 and content_type == "image/png"
    mode, served = pixels(body)
    expected_mode, expected = cli_blur(tmp_path, radius, deviation, view, boundary)
    assert mode == expected_mode and np.array_equal(served, expected)
    width = {"side-by-side": 451 * 2 + 4}.get(view, 451)
    assert served.shape == (300, width, 3)


@pytest.mark.slow
def test_the_default_image_is_the_shipped_sample_and_uploads_stay_in_memory(tmp_path):
    with Image.open(SAMPLE) as shipped, Image.open(CHELSEA) as sample:
        assert shipped.size == (451, 300) and np.array_equal(np.asarray(shipped), np.asarray(sample))
    folders = {name: tmp_path / name for name in ("cwd", "tmp", "home")}
    for folder in folders.values():
        folder.mkdir()
    demo = DemoProcess(cwd=folders["cwd"], env={**os.environ, "TMPDIR": str(folders["tmp"]),
                                                "HOME": str(folders["home"])})
    try:
        status, _, body = fetch(demo, "/image")
        assert status == 200 and json.loads(body) == {"id": None, "name": "chelsea.png", "width": 451,
                                                        "height": 300, "description": "8-bit RGB"}
        status, _, body = fetch(demo, "/image", "POST", CHELSEA.read_bytes())
        assert status == 200 and json.loads(body)["id"]
        assert fetch(demo, f"/blur.png?image={json.loads(body)['id']}")[0] == 200
    finally:
        assert demo.stop() == (130, "", "")
    assert [list(folder.iterdir()) for folder in folders.values()] == [[], [], []]


@pytest.mark.slow
def test_the_users_browser_is_opened_on_the_page(tmp_path):
    """Through a page only this user may read, which sends the browser on to the
    address: the token is not in the browser's command line, which any user can read."""
    opened = tmp_path / "opened.json"
    browser = tmp_path / "browser.py"
    browser.write_text("import json, os, sys\nfrom urllib.parse import unquote, urlsplit\n"
                       "path = unquote(urlsplit(sys.argv[1]).path)\n"
                       "seen = {'argv': sys.argv, 'path': path, 'mode': os.stat(path).st_mode, "
                       "'page': open(path).read()}\n"
                       f"open({str(opened)!r} + '.part', 'w').write(json.dumps(seen))\n"
                       f"os.rename({str(opened)!r} + '.part', {str(opened)!r})\n")
    demo = DemoProcess(browser=True, env={**os.environ, "BROWSER": f"{sys.executable} {browser} %s"})
    try:
        for _ in range(600):
            if opened.exists():
                break
            time.sleep(0.05)
        seen = json.loads(opened.read_text())
        assert seen["argv"][1].startswith("file:///") and demo.token not in " ".join(seen["argv"])
        assert stat.S_IMODE(seen["mode"]) == 0o600
        assert f'http-equiv="refresh" content="0; url={demo.url}"' in seen["page"]
        assert Path(seen["path"]).exists()
    finally:
        assert demo.stop() == (130, "", "")
    assert not Path(seen["path"]).exists()  # removed when the demo ends


def test_the_kernel_is_the_gaussian(server):
    status, content_type, body = fetch(server, "/kernel.json?radius=1&deviation=1")
    assert status == 200 and content_type == "application/json"
    weights = np.array(json.loads(body)["weights"])
    g = np.exp(-np.array([1.0, 0.0, 1.0]) / 2)  # exp(-i²/2sigma²), i = -1, 0, 1
    g /= g.sum()
    np.testing.assert_allclose(weights, np.outer(g, g), rtol=1e-12)
    assert np.array(json.loads(fetch(server, "/kernel.json?radius=30&deviation=10")[2])["weights"]).shape == (61, 61)


def test_uploads_are_filtered_as_the_cli_filters_their_file(server, tmp_path, rng):
    path = tmp_path / "upload.png"
    Image.fromarray(rng.integers(0, 256, (37, 53, 4), dtype=np.uint8)).save(path)
    status, _, body = fetch(server, "/image", "POST", path.read_bytes())
    assert status == 200
    info = json.loads(body)
    assert (info["width"], info["height"], info["description"]) == (53, 37, "8-bit RGB with alpha")
    status, _, served = fetch(server, f"/blur.png?radius=3&deviation=1.5&view=side-by-side&boundary=wrap"
                                      f"&image={info['id']}")
    assert status == 200
    mode, served = pixels(served)
    expected_mode, expected = cli_blur(tmp_path, 3, 1.5, "side-by-side", "wrap", image=path)
    assert mode == expected_mode == "RGBA" and np.array_equal(served, expected)


def _huge_png_header(width, height):
    """A PNG whose header claims width x height; its pixels are never there."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat = zlib.compress(b"\0" * 100)
    idat_chunk = struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    return b"\x89PNG\r\n\x1a\n" + chunk + idat_chunk


BAD_REQUESTS = [
    ("/blur.png?radius=-1", 400, "radius"),
    ("/blur.png?radius=1000000000", 400, "radius"),
    ("/blur.png?radius=1e9", 400, "radius"),
    ("/blur.png?radius=2.5", 400, "radius"),
    ("/blur.png?radius=", 400, "radius"),
    ("/blur.png?deviation=-1", 400, "deviation"),
    ("/blur.png?deviation=NaN", 400, "deviation"),
    ("/blur.png?deviation=nan", 400, "deviation"),
    ("/blur.png?deviation=inf", 400, "deviation"),
    ("/blur.png?deviation=abc", 400, "deviation"),
    ("/blur.png?deviation=0", 400, "deviation"),
    ("/blur.png?radius=five", 400, "radius"),
    ("/blur.png?view=sideways", 400, "view"),
    ("/blur.png?boundary=bounce", 400, "boundary"),
    ("/blur.png?image=0123456789abcdef", 404, "upload it again"),
    ("/blur.png?radius=5&radius=6", 400, "twice"),
    ("/blur.png?size=5", 400, "unknown parameter 'size'"),
    ("/blur.png?radius=%ff", 400, "UTF-8"),
    ("/kernel.json?radius=31", 400, "radius"),
    ("/conv.json?input=3&kernel=7", 400, "does not fit"),
    ("/conv.json?stride=0", 400, "stride"),
    ("/conv.json?padding=huge", 400, "nor one of valid, same, full"),
    ("/conv.png?step=9", 400, "step"),
    ("/conv.png?step=-1", 400, "step"),
    ("/params.json?input=10y", 400, "input"),
    ("/params.json?hidden=0", 400, "hidden"),
    ("/params.json?filter=99999999999x2", 400, "filter"),
    ("/params.json?bias=yes", 400, "bias"),
    ("/?x=1", 400, "no parameters"),
    ("/nothing-here", 404, "no such page"),
    ("/../../etc/passwd", 404, "no such page"),
    ("/%2e%2e/%2e%2e/etc/passwd", 404, "no such page"),
    ("/..%2f..%2fetc/passwd", 404, "no such page"),
    ("/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", 404, "no such page"),
    ("/%252e%252e/%252e%252e/etc/passwd", 404, "no such page"),
    ("/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", 404, "no such page"),
    ("/..\\..\\etc\\passwd", 404, "no such page"),
    ("//etc/passwd", 404, "no such page"),
    ("/static/../../../etc/passwd", 404, "no such page"),
    ("/demo.js/../../etc/passwd", 404, "no such page"),
    ("/static/demo.js", 404, "no such page"),
    ("/__init__.py", 404, "no such page"),
    ("/app.py", 404, "no such page"),
    ("http://127.0.0.1/etc/passwd", 403, "Host"),  # http.client sends Host: 127.0.0.1, without the port
]


@pytest.mark.parametrize("path, status, fragment", BAD_REQUESTS)
def test_bad_requests_get_one_line_and_the_server_serves_on(server, path, status, fragment):
    assert_one_line_refusal(*fetch(server, path), status, fragment)
    assert fetch(server, "/blur.png?radius=1&deviation=1")[0] == 200


@pytest.mark.parametrize("method, path, body, headers, status, fragment", [
    ("POST", "/image", b"not an image at all", {}, 400, "not an image"),
    ("POST", "/image", b"\x89PNG\r\n\x1a\n broken", {}, 400, "upload"),
    ("POST", "/image", _huge_png_header(30000, 30000), {}, 413, "more pixels than the limit"),
    ("POST", "/image", b"", {}, 400, "not an image"),
    ("POST", "/image?name=x", b"x", {}, 400, "no parameters"),
    ("POST", "/blur.png", b"x", {}, 405, "takes GET"),
    ("POST", "/elsewhere", b"x", {}, 404, "no such page"),
    ("GET", "/image?id=1", None, {}, 400, "unknown parameter"),
    ("PUT", "/image", b"x", {}, 405, "GET or POST"),
    ("DELETE", "/", None, {}, 405, "GET or POST"),
])
def test_bad_uploads_and_methods_get_one_line(server, method, path, body, headers, status, fragment):
    assert_one_line_refusal(*fetch(server, method=method, path=path, body=body, headers=headers), status, fragment)
    assert fetch(server, "/")[0] == 200


def test_an_upload_over_the_byte_limit_is_refused_before_it_is_read(server):
    # Its Content-Length alone: the body never comes, and the answer does not wait for it.
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        connection.putrequest("POST", "/image")
        connection.putheader("Cookie", server.cookie)
        connection.putheader("Content-Length", str(10**15))
        connection.endheaders()
        response = connection.getresponse()
        assert_one_line_refusal(response.status, response.getheader("Content-Type"), response.read(), 413,
                                "--max-upload-pixels N raises it")
    finally:
        connection.close()
    no_length = socket.create_connection((server.host, server.port), timeout=30)
    with no_length:
        no_length.sendall(b"POST /image HTTP/1.0\r\n" + own_headers(server) + b"\r\n")
        assert no_length.makefile("rb").readline().split()[1] == b"411"


def test_a_malformed_request_gets_one_line(server):
    def answer(request):
        with socket.create_connection((server.host, server.port), timeout=30) as connection:
            connection.sendall(request)
            return connection.makefile("rb").read().decode()

    head, _, body = answer(b"GET / HTTP/1.0\r\nX-Long: " + b"x" * 70000 + b"\r\n\r\n").partition("\r\n\r\n")
    assert head.split()[1] == "431" and "text/plain" in head and body.count("\n") == 1
    # A request line that cannot be read is answered as HTTP/0.9, which has no head.
    assert answer(b"GARBAGE\r\n\r\n") == "Bad request syntax ('GARBAGE')\n"
    assert answer(b"GET / HTTP/1.x\r\n\r\n") == "Bad request version ('HTTP/1.x')\n"


def test_the_animation_frames_are_those_of_imgconv_animate(server, tmp_path):
    out = tmp_path / "slide.png"
    assert run("animate", out, "--input-size", 6, "--kernel-size", 3, "--stride", 2, "--padding", "same",
               "--dilation", 1, "--numbers").exit_code == 0
    status, _, body = fetch(server, "/conv.json?input=6&kernel=3&stride=2&padding=same&dilation=1")
    info = json.loads(body)
    assert status == 200 and info["output"] == [3, 3] and info["steps"] == 9
    assert info["formula"] == "floor((6 + 0 + 1 - 1·(3 - 1) - 1) / 2) + 1 = 3"
    with Image.open(out) as animation:
        assert animation.n_frames == 9
        for step in (0, 4, 8):
            animation.seek(step)
            status, content_type, frame = fetch(server, f"/conv.png?input=6&kernel=3&stride=2&padding=same"
                                                        f"&dilation=1&step={step}")
            assert status == 200 and content_type == "image/png"
            assert np.array_equal(pixels(frame)[1], np.asarray(animation.convert("RGB")))


@pytest.mark.parametrize("query, output", [
    ("input=5&kernel=3&stride=1&padding=0&dilation=1", 3),  # (5 - 2 - 1) / 1 + 1
    ("input=5&kernel=3&stride=2&padding=1&dilation=1", 3),  # (5 + 2 - 2 - 1) / 2 + 1
    ("input=7&kernel=3&stride=1&padding=0&dilation=2", 3),  # (7 - 4 - 1) / 1 + 1
    ("input=8&kernel=3&stride=3&padding=2&dilation=2", 3),  # floor((8 + 4 - 4 - 1) / 3) + 1
    ("input=16&kernel=7&stride=4&padding=full&dilation=1", 6),  # floor((16 + 12 - 6 - 1) / 4) + 1
    ("input=9&kernel=4&stride=2&padding=same&dilation=1", 5),  # ceil(9 / 2)
])
def test_the_output_size_follows_the_formula(server, query, output):
    info = json.loads(fetch(server, "/conv.json?" + query)[2])
    assert info["output"] == [output, output] and info["steps"] == output * output
    assert info["formula"].endswith(f"= {output}")
    parts = dict(p.split("=") for p in query.split("&"))
    padding = parts["padding"] if parts["padding"] in ("same", "full") else int(parts["padding"])
    geometry = make_geometry(*[(v, v) for v in (int(parts["input"]), int(parts["kernel"]), int(parts["stride"]))],
                             (padding, padding), (int(parts["dilation"]),) * 2)
    assert geometry.output == (output, output)


def test_parameter_counts(server):
    status, _, body = fetch(server, "/params.json")
    assert status == 200
    assert json.loads(body) == {
        "counts": {"fully connected": "1,000,000,000,000", "locally connected": "100,000,000",
                   "convolutional": "10,000"},
        "powers": {"fully connected": "10^12", "locally connected": "10^8", "convolutional": "10^4"},
        "ratios": {"fully connected / locally connected": "10,000", "locally connected / convolutional": "10,000",
                   "fully connected / convolutional": "100,000,000"},
        "ratio_powers": {"fully connected / locally connected": "10^4", "locally connected / convolutional": "10^4",
                         "fully connected / convolutional": "10^8"},
    }
    counts = json.loads(fetch(server, "/params.json?input=32x24&hidden=100&filter=5&filters=6&channels=3&bias=1")[2])
    # 32·24·3·100 + 100; 100·5·5·3 + 100; 6·5·5·3 + 6
    assert counts["counts"] == {"fully connected": "230,500", "locally connected": "7,600", "convolutional": "456"}


@pytest.mark.slow
def test_cancelled_requests_leave_nothing_on_stderr_and_ctrl_c_exits_130(tmp_path):
    demo = DemoProcess(CHELSEA)
    try:
        for index in range(40):
            # Each asks for its own picture: one asked for before would be sent as kept.
            request = (f"GET /blur.png?radius=30&deviation={5 + index / 8}&view=side-by-side HTTP/1.0\r\n".encode()
                       + own_headers(demo) + b"\r\n")
            sock = socket.create_connection((demo.host, demo.port))
            # Closed with a reset, as a browser drops a superseded picture: before the
            # request ends, right after it, or once the answer has begun.
            sock.sendall(request[: len(request) // 2] if index % 3 == 0 else request)
            if index % 3 == 2:
                sock.recv(10)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        time.sleep(0.5)  # the server's threads finish writing to the closed sockets
        assert fetch(demo, "/blur.png?radius=1&deviation=1")[0] == 200
    finally:
        status, out, err = demo.stop()
    assert (status, out, err) == (130, "", "")


@pytest.mark.slow
def test_ctrl_c_stops_a_demo_started_with_ctrl_c_ignored():
    """A shell without job control (a script, ``imgconv demo &``) starts a command in the
    background with SIGINT ignored, and a program inherits that; Ctrl-C (SIGINT) must
    still stop the demo, whose way to stop it is."""
    demo = DemoProcess(prefix=("sh", "-c", 'trap "" INT; exec "$@"', "sh"))
    assert fetch(demo, "/params.json")[0] == 200
    assert demo.stop() == (130, "", "")


@pytest.mark.slow
def test_a_missing_image_or_a_taken_port_is_one_line(tmp_path, server):
    result = subprocess.run([sys.executable, "-m", "imgconv", "demo", "--no-browser", str(tmp_path / "no.png")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [f"imgconv: error: {tmp_path / 'no.png'}: no such file"]
    result = subprocess.run([sys.executable, "-m", "imgconv", "demo", "--no-browser", "--port", str(server.port)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(f"imgconv: error: cannot listen on 127.0.0.1 port {server.port}: ")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.slow
def test_an_image_the_page_cannot_show_is_refused_at_the_start(tmp_path):
    path = tmp_path / "float.npy"
    np.save(path, np.zeros((4, 4, 5), np.float32))
    result = subprocess.run([sys.executable, "-m", "imgconv", "demo", "--no-browser", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stdout == "" and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("imgconv: error: ") and "channels" in result.stderr


# ---- Other web pages, DNS rebinding, other users: the token, Host and Origin ----------

def other_token(token):
    """``token`` with its last character changed: as long, and wrong."""
    return token[:-1] + ("A" if token[-1] != "A" else "B")


PAGE_REQUESTS = [("GET", "/", None), ("GET", "/demo.js", None), ("GET", "/image", None),
                 ("GET", "/blur.png?radius=1&deviation=1", None), ("GET", "/kernel.json", None),
                 ("GET", "/conv.png", None), ("GET", "/params.json", None), ("GET", "/restore.json?iterations=1", None),
                 ("POST", "/image", CHELSEA.read_bytes()),
                 ("PUT", "/image", b"x"), ("GET", "/nothing-here", None), ("GET", "/blur.png?radius=%ff", None)]


@pytest.mark.parametrize("method, path, body", PAGE_REQUESTS)
def test_every_request_needs_the_token_or_its_cookie(server, method, path, body):
    joined = "&" if "?" in path else "?"
    refused = [
        ({}, path),  # neither
        ({"Cookie": f"imgconv-demo-{server.port}={other_token(server.token)}"}, path),
        ({"Cookie": f"imgconv-demo-{server.port}="}, path),
        ({"Cookie": f"imgconv-demo-{server.port + 1}={server.token}"}, path),  # another demo's cookie name
        ({"Cookie": f"other={server.token}"}, path),
        ({}, f"{path}{joined}token={other_token(server.token)}"),
        ({}, f"{path}{joined}token={server.token[:-1]}"),
        ({}, f"{path}{joined}token="),
        ({"Cookie": server.cookie}, f"{path}{joined}token={other_token(server.token)}"),  # a wrong token is wrong
        ({}, f"{path}{joined}token={server.token}&token={server.token}x"),
    ]
    for headers, sent in refused:
        assert_one_line_refusal(*fetch(server, sent, method, body, headers, cookie=False), 403, "token")
    # With the cookie, or the token in the query (as a script may send it), the page answers.
    expected = fetch(server, path, method, body)
    assert expected[0] in (200, 400, 404, 405)
    assert fetch(server, f"{path}{joined}token={server.token}", method, body, cookie=False)[:2] == expected[:2]
    assert fetch(server, path, method, body, {"Cookie": f"a=b; {server.cookie}; c=d"}, cookie=False)[:2] == \
        expected[:2]


def set_cookie_parts(header):
    return [part.strip() for part in header.split(";")]


@pytest.mark.slow
def test_the_printed_address_gives_the_page_with_the_cookie(server):
    parts = urlsplit(server.url)
    assert (parts.hostname, parts.path, parts.query) == ("127.0.0.1", "/", f"token={server.token}")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", server.token)  # secrets.token_urlsafe(32): 256 bits
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        connection.request("GET", f"/?token={server.token}")
        response = connection.getresponse()
        page = response.read()
        assert response.status == 200 and b'id="result"' in page and server.token.encode() not in page
        assert (response.getheader("Cache-Control"), response.getheader("Referrer-Policy")) == ("no-store",
                                                                                               "no-referrer")
        cookie = set_cookie_parts(response.getheader("Set-Cookie"))
    finally:
        connection.close()
    assert cookie[0] == server.cookie and sorted(cookie[1:]) == ["HttpOnly", "Path=/", "SameSite=Strict"]
    # The cookie opens the page; the page's script takes the token out of the address.
    status, content_type, page = fetch(server, "/", headers={"Cookie": cookie[0]}, cookie=False)
    assert status == 200 and content_type.startswith("text/html") and b'id="result"' in page
    assert 'if (location.search) history.replaceState(null, "", "/");' in fetch(server, "/demo.js")[2].decode()
    # Only the page's own address sets it.
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        connection.request("GET", f"/params.json?token={server.token}")
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Set-Cookie") is None
    finally:
        connection.close()
    # Each run has its own token, and it is in neither the process's arguments nor its environment.
    other = DemoProcess()
    try:
        assert other.token != server.token and len(other.token) == len(server.token)
        assert fetch(other, "/", headers={"Cookie": server.cookie.replace(str(server.port), str(other.port))},
                     cookie=False)[0] == 403
        for name in ("cmdline", "environ"):
            assert other.token.encode() not in (Path("/proc") / str(other.process.pid) / name).read_bytes()
    finally:
        assert other.stop() == (130, "", "")


@pytest.mark.parametrize("host", [
    "evil.example:{port}", "evil.example", "127.0.0.1", "127.0.0.1:{other}", "localhost:{other}",
    "127.0.0.1:{port}.evil.example", "localhost.evil.example:{port}", "0.0.0.0:{port}", "127.0.0.2:{port}",
    "192.168.1.1:{port}", "127.0.0.1:{port}@evil.example", "",
])
def test_a_host_header_naming_another_server_is_refused(server, host, rng):
    """DNS rebinding: a page of evil.example whose name now leads to 127.0.0.1 sends its
    own name in Host. It could read neither the picture nor its name, even with the
    cookie (which its browser would not send it)."""
    upload = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(upload, "PNG")
    key = json.loads(fetch(server, "/image", "POST", upload.getvalue())[2])["id"]
    host = host.format(port=server.port, other=server.port + 1)
    for path in ("/", f"/blur.png?image={key}", "/image", f"/?token={server.token}"):
        status, content_type, body = fetch(server, path, headers={"Host": host})
        assert_one_line_refusal(status, content_type, body, 403, "Host")
        assert key.encode() not in body
    assert_one_line_refusal(*fetch(server, "/image", "POST", upload.getvalue(), {"Host": host}), 403, "Host")


def test_the_host_header_may_name_the_address_or_localhost_with_the_port(server):
    for host in ("127.0.0.1:{port}", "localhost:{port}", "LocalHost:{port}", "[::1]:{port}"):
        assert fetch(server, "/image", headers={"Host": host.format(port=server.port)})[0] == 200, host

    def answer(head):
        with socket.create_connection((server.host, server.port), timeout=30) as connection:
            connection.sendall(head + f"Cookie: {server.cookie}\r\n\r\n".encode())
            return connection.makefile("rb").read().decode()

    # None (an HTTP/1.0 client may send none), or two.
    for head in (b"GET /image HTTP/1.0\r\n",
                 b"GET /image HTTP/1.0\r\nHost: 127.0.0.1:%d\r\nHost: evil.example\r\n" % server.port):
        head, _, body = answer(head).partition("\r\n\r\n")
        assert head.split()[1] == "403" and body.count("\n") == 1 and "Host" in body


@pytest.mark.parametrize("origin", [
    "http://evil.example", "http://evil.example:{port}", "http://127.0.0.1:{other}", "http://localhost:{port}",
    "https://127.0.0.1:{port}", "http://127.0.0.1", "null", "",
])
def test_a_post_from_another_page_is_refused(server, origin):
    """A form or fetch() of another page, text/plain so that no preflight asks first."""
    headers = {"Origin": origin.format(port=server.port, other=server.port + 1), "Content-Type": "text/plain"}
    assert_one_line_refusal(*fetch(server, "/image", "POST", CHELSEA.read_bytes(), headers), 403, "another page")
    assert_one_line_refusal(*fetch(server, "/params.json", headers=headers), 403, "another page")


def test_a_post_from_the_page_itself_or_from_a_script_is_taken(server):
    for headers in ({"Origin": f"http://127.0.0.1:{server.port}"}, {}):
        status, _, body = fetch(server, "/image", "POST", CHELSEA.read_bytes(), headers)
        assert status == 200 and json.loads(body)["width"] == 451
    status, _, body = fetch(server, "/image", "POST", CHELSEA.read_bytes(),
                            {"Origin": f"http://localhost:{server.port}", "Host": f"localhost:{server.port}"})
    assert status == 200


def test_upload_ids_are_random_not_the_pictures_hash(server):
    data = CHELSEA.read_bytes()
    keys = [json.loads(fetch(server, "/image", "POST", data)[2])["id"] for _ in range(2)]
    assert keys[0] != keys[1] and all(re.fullmatch(r"[A-Za-z0-9_-]{16}", key) for key in keys)
    assert not any(key in hashlib.sha256(data).hexdigest() for key in keys)
    for key in keys:
        assert fetch(server, f"/blur.png?radius=1&deviation=1&image={key}")[0] == 200


UNSHARE = shutil.which("unshare")


@pytest.mark.skipif(not UNSHARE, reason="needs unshare (util-linux) for a network of its own")
@pytest.mark.slow
def test_an_address_other_than_loopback_is_warned_about():
    """Listening on every address, in a network namespace of its own (only its own
    loopback, down): nothing outside the test can reach it."""
    prefix = [UNSHARE, "--net"] + (["--map-root-user"] if os.getuid() else [])
    demo = DemoProcess("--host", "0.0.0.0", prefix=prefix)
    # Printed as it starts to serve (a minute at most, were it never printed).
    warning = demo.process.stderr.readline() if select.select([demo.process.stderr], [], [], 60)[0] else ""
    status, out, err = demo.stop()
    assert demo.url.startswith("http://0.0.0.0:") and status == 130 and out == err == ""
    assert warning == ("imgconv: warning: demo: 0.0.0.0 is not a loopback address: other machines can reach the "
                       "page, and its token is then all that protects it\n")
    for host in ("localhost", "127.0.0.1"):
        quiet = DemoProcess("--host", host)
        assert quiet.url.startswith("http://127.0.0.1:") and fetch(quiet, "/")[0] == 200
        assert quiet.stop() == (130, "", "")


# ---- Bounds: Content-Length, upload limits, turns, connections, memory ----------

@pytest.mark.parametrize("lengths, status", [
    ([b"\xb2"], 400),  # '²' in ISO-8859-1: str.isdigit() takes it, int() does not
    ([b"\xb9"], 400),  # '¹'
    ([b"\xd9\xa3"], 400),  # '٣' in UTF-8
    ([b"-1"], 400), ([b"+5"], 400), ([b"1_0"], 400), ([b"0x10"], 400), ([b"5 5"], 400), ([b"5, 5"], 400),
    ([b"1e3"], 400), ([b""], 400),
    ([b"5", b"5"], 400), ([b"5", b"6"], 400),
    ([b"9" * 30], 413), ([b"9" * 5000], 413),  # int() refuses more than 4300 digits
    ([b"00000000000000000000000000005"], 400),  # 5: then five bytes that are no picture
])
def test_a_content_length_that_is_not_one_ascii_number_is_refused(server, lengths, status):
    head = b"POST /image HTTP/1.0\r\n" + own_headers(server)
    head += b"".join(b"Content-Length: " + length + b"\r\n" for length in lengths)
    with socket.create_connection((server.host, server.port), timeout=30) as connection:
        connection.sendall(head + b"\r\nabcde")
        answer = connection.makefile("rb").read().decode()
    head, _, body = answer.partition("\r\n\r\n")
    assert head.split()[1] == str(status), answer
    assert body.endswith("\n") and body.count("\n") == 1 and "Traceback" not in body
    assert ("not an image" if lengths == [b"00000000000000000000000000005"] else
            "Content-Length" if status == 400 else "--max-upload-pixels") in body
    assert fetch(server, "/blur.png?radius=1&deviation=1")[0] == 200


def test_uploads_have_their_own_limit(server):
    limit = DEFAULT_MAX_UPLOAD_PIXELS
    assert limit == 3840 * 2160
    # From the header: one pixel more is refused, the limit itself gets as far as its pixels.
    assert_one_line_refusal(*fetch(server, "/image", "POST", _huge_png_header(3841, 2160)), 413,
                            f"more pixels than the limit of {limit:,}", "imgconv demo --max-upload-pixels N")
    assert_one_line_refusal(*fetch(server, "/image", "POST", _huge_png_header(3840, 2160)), 400, "upload")
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:  # refused from its Content-Length alone: the body never comes
        connection.putrequest("POST", "/image")
        connection.putheader("Cookie", server.cookie)
        connection.putheader("Content-Length", str(max_bytes(limit) + 1))
        connection.endheaders()
        response = connection.getresponse()
        assert_one_line_refusal(response.status, response.getheader("Content-Type"), response.read(), 413,
                                f"{max_bytes(limit) + 1} bytes", "--max-upload-pixels")
    finally:
        connection.close()


def png(rng, height, width):
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.slow
def test_the_upload_limit_is_an_option_and_max_pixels_still_bounds_it(rng):
    demo = DemoProcess("--max-upload-pixels", 3600)
    try:
        assert fetch(demo, "/image", "POST", png(rng, 60, 60))[0] == 200
        assert_one_line_refusal(*fetch(demo, "/image", "POST", png(rng, 60, 61)), 413,
                                "more pixels than the limit of 3,600", "--max-upload-pixels")
    finally:
        assert demo.stop() == (130, "", "")
    demo = DemoProcess("--max-pixels", 1000000, "--max-upload-pixels", 5000000)
    try:
        assert_one_line_refusal(*fetch(demo, "/image", "POST", _huge_png_header(1001, 1000)), 413,
                                "more pixels than the limit of 1,000,000", "imgconv demo --max-pixels N")
    finally:
        assert demo.stop() == (130, "", "")
    result = subprocess.run([sys.executable, "-m", "imgconv", "demo", "--no-browser", "--max-upload-pixels", "0"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and result.stdout == "" and "--max-upload-pixels" in result.stderr


@pytest.mark.slow
def test_uploads_held_are_few_and_no_more_pixels_than_one_upload_may_have(tmp_path, rng):
    """The limit 5000: four uploads of 40x40 are 6400 pixels, so the first is forgotten;
    of 10x10 ones, four are kept."""
    demo = DemoProcess("--max-upload-pixels", 5000)
    try:
        def upload(height, width):
            data = png(rng, height, width)
            status, _, body = fetch(demo, "/image", "POST", data)
            assert status == 200
            return json.loads(body)["id"], data

        def kept(key, data):
            status, _, served = fetch(demo, f"/blur.png?radius=2&deviation=1&image={key}")
            if status == 404:
                return False
            path = tmp_path / f"{key}.png"
            path.write_bytes(data)
            assert status == 200 and np.array_equal(pixels(served)[1], cli_blur(tmp_path, 2, 1, "result", "reflect",
                                                                               image=path)[1])
            return True

        large = [upload(40, 40) for _ in range(4)]
        assert [kept(*one) for one in large] == [False, True, True, True]
        small = [upload(10, 10) for _ in range(5)]
        assert [kept(*one) for one in large + small] == [False] * 5 + [True] * 4
        assert_one_line_refusal(*fetch(demo, f"/blur.png?image={large[0][0]}"), 404, "upload it again")
    finally:
        assert demo.stop() == (130, "", "")


def test_turns_are_taken_in_order_within_the_workers_and_the_capacity():
    """`Turns` by itself, with threads that wait for their turn and record it."""
    turns = Turns(workers=2, capacity=100, waiting=3)
    log, lock = [], threading.Lock()
    release = {name: threading.Event() for name in "abcde"}

    def work(name, cost):
        try:
            with turns.turn(cost):
                with lock:
                    log.append(f"+{name}")
                release[name].wait(30)
                with lock:
                    log.append(f"-{name}")
        except RequestError as exc:
            with lock:
                log.append(f"{exc.status} {name}: {exc}")

    def start(name, cost):
        thread = threading.Thread(target=work, args=(name, cost))
        thread.start()
        return thread

    def settled(count):
        for _ in range(3000):
            with lock:
                if len(log) >= count:
                    return list(log)
            time.sleep(0.01)
        raise AssertionError(log)

    def waiting(count):
        for _ in range(3000):
            if len(turns._queue) == count:
                return
            time.sleep(0.01)
        raise AssertionError(len(turns._queue))

    threads = [start("a", 60), start("b", 30)]  # both at once: 90 of 100
    assert sorted(settled(2)) == ["+a", "+b"]
    threads.append(start("c", 20))  # a third: waits for a worker
    waiting(1)
    threads.append(start("e", 500))  # more than the capacity: will run alone
    waiting(2)
    threads.append(start("d", 0))  # behind e, though it would fit
    waiting(3)
    threads.append(start("f", 0))  # the waiting room is full
    assert settled(3)[2] == "503 f: the demo is busy (2 pictures in the making, 3 waiting); try again"
    release["a"].set()
    assert settled(5)[3:] == ["-a", "+c"]  # 30 + 20 of 100
    release["b"].set()
    settled(6)
    release["c"].set()
    assert settled(8)[5:] == ["-b", "-c", "+e"]  # d did not pass e
    release["e"].set()
    release["d"].set()
    for thread in threads:
        thread.join(30)
    assert log[8:] == ["-e", "+d", "-d"]


def status_of(pid, field):
    """A number of /proc/PID/status: ``Threads``, or ``VmHWM`` (peak resident memory, KiB)."""
    return int(re.search(rf"^{field}:\s+(\d+)", (Path("/proc") / str(pid) / "status").read_text(), re.MULTILINE)[1])


@pytest.mark.slow
def test_connections_are_capped():
    """300 connections that send nothing: 64 get a thread each, the others one line and
    closed at once; once their clients leave, the slots serve again (idle connections
    closed by the server: test_an_idle_connection_is_closed_unanswered_when_its_time_is_up)."""
    demo = DemoProcess()
    connections = []
    try:
        threads = status_of(demo.process.pid, "Threads")
        for _ in range(300):
            connections.append(socket.create_connection((demo.host, demo.port), timeout=120))
        answers, waiting = {}, set(connections)
        while len(answers) < 300 - 64:  # those refused are answered and closed at once
            ready = select.select(list(waiting), [], [], 120)[0]
            assert ready, f"{len(answers)} of 300 connections answered; none for two minutes"
            for connection in ready:
                answers[connection] = connection.makefile("rb").read()
                waiting.discard(connection)
        held = status_of(demo.process.pid, "Threads")
        print(f"\nthreads of the demo: {threads}, with 300 connections at once: {held}")
        assert len(waiting) == 64 and held <= threads + 64
        body = b"the demo has 64 connections open; try again\n"
        assert set(answers.values()) == {b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain; "
                                         b"charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                                         % (len(body), body)}
        for connection in waiting:
            connection.close()
        assert served_once_a_slot_is_free(lambda: fetch(demo, "/blur.png?radius=1&deviation=1")[0]) == 200
    finally:
        for connection in connections:
            connection.close()
        assert demo.stop() == (130, "", "")


def served_once_a_slot_is_free(status):
    """``status()`` again while it is 503: a connection's slot is freed just after the
    connection is closed. Two minutes at most, to end a test that would hang."""
    for _ in range(1200):
        answer = status()
        if answer != 503:
            return answer
        time.sleep(0.1)
    return answer


@pytest.mark.slow
def test_a_request_head_is_held_up_to_128_kib():
    """64 connections (all there may be) sending 97 header lines of 64,000 bytes each (99
    with Host and Cookie: http.server takes 100) and never the end of the head: 6.2 MB
    each, were it all held."""
    demo = DemoProcess()
    connections = []
    try:
        line = b"X-Filler: " + b"x" * 63988 + b"\r\n"
        for _ in range(64):
            connection = socket.create_connection((demo.host, demo.port), timeout=60)
            connections.append(connection)
            connection.sendall(b"GET / HTTP/1.0\r\n" + own_headers(demo))
            try:
                for _ in range(97):
                    connection.sendall(line)
            except ConnectionError:
                pass  # answered and closed before the headers ended
        peak = status_of(demo.process.pid, "VmHWM") >> 10
        print(f"\npeak memory of the demo, 64 connections sending 6.2 MB of headers each: {peak} MiB")
        assert peak < 128
        for connection in connections:
            try:
                answer = connection.makefile("rb").read()
            except ConnectionError:
                continue  # the answer was lost to the reset of the unread headers
            assert answer.split(b"\r\n", 1)[0] == b"HTTP/1.0 431 Request Header Fields Too Large", answer[:200]
            assert answer.endswith(b"\r\n\r\nLine too long\n")
        assert fetch(demo, "/")[0] == 200
    finally:
        for connection in connections:
            connection.close()
        assert demo.stop() == (130, "", "")


MEMORY_BOUND = 1 << 30


@pytest.mark.slow
def test_the_servers_memory_stays_under_1_gib_whatever_arrives_at_once(rng):
    """Uploads at the limits, and blurs of the costliest pictures there are to blur
    (16-bit RGBA: 85 bytes a pixel side by side), all at once, against the default
    limits; float RGBA uploads (16 bytes a pixel) are decoded, then refused: the demo's
    pictures are those PNG holds."""
    demo = DemoProcess()
    try:
        height, width = 2160, 3840  # the default limit
        buffer = io.BytesIO()
        tifffile.imwrite(buffer, rng.integers(0, 65536, (height, width, 4), dtype=np.uint16))
        rgba16 = buffer.getvalue()  # 66 MB
        buffer = io.BytesIO()
        np.save(buffer, rng.random((height, width, 4), dtype=np.float32))
        floats = buffer.getvalue()  # 133 MB
        garbage = bytes(max_bytes(DEFAULT_MAX_UPLOAD_PIXELS))  # 200 MB that are no picture, read whole
        statuses, failures, uploads = [], [], []

        def send(path, body=None):
            try:
                status, _, answer = fetch(demo, path, "GET" if body is None else "POST", body)
            except ConnectionError:
                # An upload refused (503) before its body was read: the refusal may be lost
                # to the reset that closing the connection on the unread body makes.
                assert body is not None
                status, answer = "cut", b""
            except BaseException as exc:
                failures.append(exc)
                raise
            if status not in (200, "cut"):
                assert_one_line_refusal(status, "text/plain; charset=utf-8", answer, status)
            elif status == 200 and body is not None:
                uploads.append(json.loads(answer)["id"])  # in the order they were taken
            statuses.append((path if body is None else f"{path} {len(body)}", status))
            return answer

        def at_once(*requests):
            threads = [threading.Thread(target=send, args=request) for request in requests]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        def blur(key="", view="side-by-side", deviation=10):
            return (f"/blur.png?radius=30&deviation={deviation}&view={view}" + (f"&image={key}" if key else ""),)

        def restore(key):
            # Each update holds what the first holds: 5 measure what 50 (the most) would.
            return (f"/restore.json?radius=30&deviation=10&iterations=5&noise=20&image={key}",)

        # The renders of an upload that another one arriving first made the demo forget
        # get 404; the last upload's are made for certain.
        send("/image", rgba16)
        at_once(blur(uploads[-1]), blur(uploads[-1]), ("/image", floats), ("/image", garbage), ("/image", garbage),
                *[blur()] * 4, ("/conv.png?input=16&kernel=7",))
        send("/image", floats)
        at_once(blur(uploads[-1]), blur(uploads[-1], "result"), ("/image", rgba16), blur(deviation=9),
                blur(deviation=9))  # not the sample's blur above: that one is kept, and sent at once
        send(*restore(uploads[-1]))
        send(*blur(uploads[-1]))
        peak = status_of(demo.process.pid, "VmHWM") << 10
    finally:
        assert demo.stop() == (130, "", "")
    assert not failures, failures
    print(f"\npeak memory of the demo, {len(statuses)} requests: {peak / 2**20:.0f} MiB; {sorted(statuses, key=str)}")
    assert peak < MEMORY_BOUND
    assert {status for _, status in statuses} <= {200, 400, 404, 503, "cut"}
    # The first upload, sent alone, is taken for certain, and so is the second (the only
    # other that is a picture PNG holds: the queue has room for the five sent with it);
    # the first was blurred while others arrived (of its four blurs sent at once with
    # uploads, the first in line is made).
    assert len(uploads) == 2 and statuses[-2:] == [(restore(uploads[-1])[0], 200), (blur(uploads[-1])[0], 200)]
    assert (blur(uploads[0])[0], 200) in statuses


@pytest.mark.slow
def test_a_wheel_holds_every_module_the_page_and_the_sample(tmp_path):
    """What ``pip install .`` installs: built from a copy, so that nothing is left in the
    repository."""
    repository = SAMPLES.parent
    source = tmp_path / "source"
    shutil.copytree(repository / "imgconv", source / "imgconv", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(repository / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "wheel"),
                            str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    with zipfile.ZipFile(next((tmp_path / "wheel").glob("imgconv-*.whl"))) as wheel:
        held = {name for name in wheel.namelist() if name.startswith("imgconv/")}
    files = {path.relative_to(source).as_posix() for path in (source / "imgconv").rglob("*") if path.is_file()}
    assert {"imgconv/demo/static/index.html", "imgconv/demo/chelsea.png", "imgconv/engine/bands.py"} <= files
    assert held == files


@pytest.fixture
def one_connection_server(monkeypatch):
    """An in-process demo server that serves one connection at a time, and a function
    that sends it a request the page makes and returns the connection."""
    import imgconv.demo.server
    from imgconv.demo import make_server

    monkeypatch.setattr(imgconv.demo.server, "MAX_CONNECTIONS", 1)
    demo = make_server()
    port = demo.server_address[1]

    def send():
        connection = socket.create_connection(("127.0.0.1", port), timeout=60)
        connection.sendall(f"GET /params.json?token={demo.token} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        return connection

    yield demo, send
    demo.server_close()


def answer_status(connection):
    with connection, connection.makefile("rb") as answer:
        return answer.readline().split(b" ", 2)[1]


@pytest.mark.parametrize("thread", ["served first", "never started", "started after"])
def test_ctrl_c_while_a_connections_thread_starts_frees_its_slot_once(one_connection_server, monkeypatch, capsys,
                                                                       thread):
    """Ctrl-C may land while the server starts a connection's thread: after the thread
    has served the connection, before the thread could start, or with the thread
    running only once the server has given the connection up. Each way the interrupt
    reaches the caller, nothing is printed, no thread fails, and the one slot is free
    again."""
    demo, send = one_connection_server
    start, started, failures = threading.Thread.start, [], []

    def interrupted_start(self):
        if thread == "served first":
            start(self)
            self.join()
        started.append(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(threading, "excepthook", failures.append)
    first = send()
    with monkeypatch.context() as patch:
        patch.setattr(threading.Thread, "start", interrupted_start)
        with pytest.raises(KeyboardInterrupt):
            demo.handle_request()
    if thread == "started after":
        start(started[0])
        started[0].join()
    assert (capsys.readouterr().err, failures) == ("", [])
    first.close()
    second = send()  # served, not refused with 503: the slot was freed
    demo.handle_request()
    assert answer_status(second) == b"200"


def test_a_render_cut_short_by_the_stop_prints_nothing(monkeypatch, capsys):
    """Ctrl-C closes the server, and the interpreter's exit then has concurrent.futures
    refuse new work ("cannot schedule new futures after interpreter shutdown") to the
    renders still under way: that is the stop, not an error of the demo. Here a render
    waits for its turn while the server closes and the refusal is set as the exit sets
    it; two band threads, as on any machine of two cores or more. It printed a line a
    render, lines of two threads interleaved."""
    import concurrent.futures.thread

    import imgconv.engine.bands
    from imgconv.demo import make_server

    monkeypatch.setattr(imgconv.engine.bands, "cpu_count", lambda: 2)
    demo = make_server()
    port = demo.server_address[1]
    try:
        with demo.demo.turns.turn(demo.demo.turns.capacity + 1):  # costs more than all: runs alone, the render waits
            connection = socket.create_connection(("127.0.0.1", port), timeout=60)
            connection.sendall(f"GET /blur.png?radius=30&deviation=10&token={demo.token} HTTP/1.0\r\n"
                               f"Host: 127.0.0.1:{port}\r\n\r\n".encode())
            demo.handle_request()  # its thread reads the request, then waits for its turn to render
            demo.server_close()
            monkeypatch.setattr(concurrent.futures.thread, "_shutdown", True)  # as the interpreter's exit sets it
        with connection, connection.makefile("rb") as answer:
            answer.read()  # until the connection's thread has closed it
    finally:
        demo.server_close()
    assert capsys.readouterr().err == ""


def test_an_idle_connection_is_closed_unanswered_when_its_time_is_up(one_connection_server, monkeypatch):
    """A connection that sends nothing holds its slot (here the only one) until the read
    timeout closes it, without an answer; then the slot serves the next. The timeout is
    0.5 s here instead of 30, the mechanism the same."""
    from imgconv.demo.server import Handler

    monkeypatch.setattr(Handler, "timeout", 0.5)
    demo, send = one_connection_server
    port = demo.server_address[1]
    idle = socket.create_connection(("127.0.0.1", port), timeout=60)
    demo.handle_request()
    refused = send()
    demo.handle_request()
    assert answer_status(refused) == b"503"
    with idle:
        assert idle.recv(100) == b""

    def status():
        connection = send()
        demo.handle_request()
        return int(answer_status(connection))

    assert served_once_a_slot_is_free(status) == 200
