"""``imgconv demo``: the lecture's live demonstrations in a local web page.

Four panels, each computed by imgconv: a Gaussian blur with radius and deviation
sliders whose picture is exactly what ``imgconv blur`` writes; that blur undone as
``imgconv deconvolve`` undoes it, side by side with the original, with the PSNR of
each (`restore`); the sliding kernel of a convolution layer, frame by frame as
``imgconv animate`` draws it; and the parameter counts of ``imgconv params``.
`app.Demo` answers the page's requests, `server` serves them over HTTP, the page
itself is in ``static/``.

In Python, on a free port of the loopback interface::

    from imgconv.demo import make_server, serve
    server = make_server()
    print(server.url)  # with the token every request needs
    serve(server)
"""

import contextlib
import html
import os
import signal
import sys
import tempfile
import threading
import webbrowser
from collections.abc import Iterator
from pathlib import Path

from ..errors import ImgconvError
from ..vocabulary import DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD_PIXELS
from .app import Demo
from .server import DemoServer


def make_server(image: str | os.PathLike[str] | None = None, host: str = "127.0.0.1", port: int = 0,
                max_pixels: int = DEFAULT_MAX_PIXELS, max_upload_pixels: int = DEFAULT_MAX_UPLOAD_PIXELS) -> DemoServer:
    """A `server.DemoServer` listening on ``host:port`` (0: a free port), its address
    and token in ``url``; ``image`` (default: the 451x300 sample) is read first.

    Raises `imgconv.errors.ImageReadError` for an image that cannot be read, and
    `imgconv.errors.ImgconvError` for an address that cannot be listened on.
    """
    demo = Demo(image, max_pixels, max_upload_pixels)
    try:
        return DemoServer(demo, host, port)
    except OSError as exc:
        raise ImgconvError(f"cannot listen on {host} port {port}: {exc.strerror or exc}") from None


# glibc's mallopt parameters for the size from which freed memory is given back to the
# system (trim) and from which a block is mapped on its own (mmap), and glibc's default.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_GLIBC_THRESHOLD = 128 << 10


def serve(server: DemoServer, open_browser: bool = True) -> None:
    """Serve until interrupted (KeyboardInterrupt propagates; in the main thread, Ctrl-C
    interrupts even where SIGINT came ignored), opening the user's browser on the page
    first unless told not to; the server is closed in the end.
    Warns on stderr when the server listens elsewhere than on a loopback address.

    glibc's thresholds are set back to its default: the command line has it keep up to
    64 MiB of freed memory for reuse, which speeds batches, but the server's threads
    keep that in each of glibc's arenas. Measured with the memory test of
    tests/test_demo.py: peaks of 1120-1167 MiB with the command line's settings, 843-850
    with glibc's default. Two arenas instead of up to eight a core gave 883-942 with the
    command line's settings, 842-848 with the default: only the thresholds are set."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.mallopt(_M_TRIM_THRESHOLD, _GLIBC_THRESHOLD)
        libc.mallopt(_M_MMAP_THRESHOLD, _GLIBC_THRESHOLD)
    except (OSError, AttributeError):
        pass  # not glibc
    if not server.loopback:
        print(f"imgconv: warning: demo: {server.server_address[0]} is not a loopback address: other machines can "
              f"reach the page, and its token is then all that protects it", file=sys.stderr, flush=True)
    opener = opener_page(server.url) if open_browser and _can_show_a_browser() else None
    if opener:
        threading.Thread(target=webbrowser.open, args=(opener.as_uri(),), daemon=True).start()
    try:
        with _interrupted_by_ctrl_c():
            server.serve_forever()
    finally:
        server.server_close()
        if opener:
            opener.unlink(missing_ok=True)


@contextlib.contextmanager
def _interrupted_by_ctrl_c() -> Iterator[None]:
    """Ctrl-C (SIGINT) raises KeyboardInterrupt meanwhile, even where it came ignored:
    a shell without job control (a script's ``imgconv demo &``) starts a command in the
    background so, and Ctrl-C, the way to stop the demo, then did nothing. Servers such
    as uvicorn and gunicorn take SIGINT whatever they inherit, too. Only the main thread
    can set a handler; a handler of the caller's own stands."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def opener_page(url: str) -> Path:
    """A page only this user can read that sends the browser on to ``url``: the browser
    is started with its name, so that the token is not in the browser's command line,
    which every user of the machine can read (as Jupyter does)."""
    descriptor, name = tempfile.mkstemp(prefix="imgconv-demo-", suffix=".html")  # mode 0600
    with os.fdopen(descriptor, "w", encoding="utf-8") as page:
        link = html.escape(url)
        page.write(f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0; url={link}">'
                   f'<title>imgconv demo</title><a href="{link}">imgconv demo</a>\n')
    return Path(name)


def _can_show_a_browser() -> bool:
    """A display for a graphical browser, or one the user named in $BROWSER. Without
    either, `webbrowser` would start a console browser (lynx, w3m) in the terminal the
    server prints to; the address printed is enough there."""
    return bool(os.environ.get("BROWSER") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                or sys.platform in ("darwin", "win32"))
