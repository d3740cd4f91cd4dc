"""The demonstration's web server: the standard library's threading HTTP server.

A local page for one user asks for a handful of fixed paths with short query strings
and uploads one raw body; ``http.server`` does that in a page of code and adds no
dependency. What it does by default and a demo must not: it logs every request and
prints a traceback when a browser drops a request it no longer wants (a superseded
picture), and it answers errors with HTML. Here nothing is logged but real errors,
one line each, and every refusal is one line of plain text.

Other web pages must not read or drive the demo (docs/guides/security.md, Threat model): as
Jupyter does, each run has a random token, in the address printed and then in a
cookie; a request without it, naming another host (DNS rebinding) or coming from
another page (``Origin``) is refused with 403. Connections are capped and time out.
"""

import contextlib
import hmac
import http.client
import io
import ipaddress
import re
import secrets
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl

from ..errors import ImgconvError
from ..names import printable
from .app import Demo, Query, RequestError
from .renders import Answer

STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/demo.js": ("demo.js", "text/javascript; charset=utf-8"),
    "/demo.css": ("demo.css", "text/css; charset=utf-8"),
}
GET = {"/blur.png": "blur", "/kernel.json": "kernel", "/restore.json": "restore", "/conv.json": "conv",
       "/conv.png": "conv_frame", "/params.json": "params", "/image": "image"}
POST = {"/image"}
# A query string longer than this is no request the page makes.
MAX_QUERY = 2000
# Connections served at once (each has a thread); more are refused. A page opens six.
MAX_CONNECTIONS = 64
# Seconds a connection may keep the server waiting for its next bytes.
READ_TIMEOUT = 30
# The most bytes of a request's head (request line and headers) held: http.server lets
# the request line have 64 KiB; the headers may have as much again (the page's take
# under 1 KiB). Without this, 100 header lines of 64 KiB each would be held a connection.
MAX_HEAD = 65537 + 65536
# The loopback names a browser on this machine may give in Host, besides the address
# listened on.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def _say_error(message: object) -> None:
    # One write: lines printed by two threads at once would otherwise interleave. A
    # library's message may quote what a request brought: no control character of it
    # reaches the terminal (`imgconv.names.printable`).
    sys.stderr.write(f"imgconv: error: demo: {printable(' '.join(str(message).split()))}\n")
    sys.stderr.flush()


class Handler(BaseHTTPRequestHandler):
    """Routes a request to the `Demo` of its server; every refusal is one line."""

    server: "DemoServer"
    server_version = "imgconv-demo"
    timeout = READ_TIMEOUT

    def setup(self) -> None:
        super().setup()
        # Not a BufferedIOBase, but it answers as one: readline limited, the rest its reader's.
        self.rfile = _HeadLimit(self.rfile)  # type: ignore[assignment]

    def log_message(self, format: str, *args: object) -> None:
        """Requests are not logged, and neither are refusals: the page shows those."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """One line of plain text, for http.server's own refusals (a malformed request
        line, an unknown method) as for the demo's."""
        status = HTTPStatus(code)
        self._send(code, f"{message or status.phrase}\n".encode(), "text/plain; charset=utf-8",
                   {"Allow": "GET, POST"} if code == HTTPStatus.METHOD_NOT_ALLOWED else {})

    def _send(self, code: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _route(self) -> tuple[str, dict[str, str]]:
        """The path and the query (a dict, without ``token``), or a refusal."""
        path, _, text = self.path.partition("?")
        if len(text) > MAX_QUERY:
            raise RequestError("the query string is too long", HTTPStatus.REQUEST_URI_TOO_LONG)
        try:
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
        except (ValueError, UnicodeDecodeError):
            raise RequestError("the query string is not name=value pairs of UTF-8 text") from None
        names = [name for name, _ in pairs]
        if len(set(names)) != len(names):
            raise RequestError("a parameter is given twice")
        query = dict(pairs)
        query.pop("token", None)
        return path, query

    def _check_access(self) -> bool:
        """Refuses (403) a request that names another host, comes from another page, or
        holds neither the token in its query nor the cookie. Returns whether the token
        came in the query."""
        server = self.server
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1 or not server.is_own_host(hosts[0]):
            raise RequestError("the Host header does not name this server; open the address imgconv demo printed",
                               HTTPStatus.FORBIDDEN)
        origins = self.headers.get_all("Origin")
        # Browsers send Origin with every POST; a script that has the token need not.
        if origins is not None and [origin.strip().lower() for origin in origins] != \
                [f"http://{hosts[0].strip().lower()}"]:
            raise RequestError("a request from another page is refused", HTTPStatus.FORBIDDEN)
        # The token as the query gives it: _route may not parse the rest.
        given = [value for name, value in parse_qsl(self.path.partition("?")[2], errors="replace")
                 if name == "token"]
        if given:
            if len(given) == 1 and server.is_token(given[0]):
                return True
        elif any(server.is_token(value) for value in self._cookies(server.cookie_name)):
            return False
        raise RequestError("no valid token: open the address imgconv demo printed, with its token",
                           HTTPStatus.FORBIDDEN)

    def _cookies(self, wanted: str) -> Iterator[str]:
        for header in self.headers.get_all("Cookie") or []:
            for pair in header.split(";"):
                name, _, value = pair.strip().partition("=")
                if name == wanted:
                    yield value

    def _answer(self, work: Callable[[str, Query], Answer]) -> None:
        """Checks access, routes, and sends the `Answer` of ``work(path, query)``, or the refusal."""
        try:
            by_token = self._check_access()
            path, query = self._route()
            answer = work(path, query)
            # The printed address: the page comes with the cookie (its script then takes
            # the token out of the address bar and the history). Not a redirect: after
            # one started elsewhere (the page that opens the browser, a link), a
            # SameSite=Strict cookie would not be sent.
            cookie = {"Set-Cookie": self.server.cookie} if by_token and path == "/" else {}
            # Sent in its turn too: what it holds is freed before the next is made.
            with contextlib.nullcontext() if answer.cost is None else self.server.demo.turns.turn(answer.cost):
                self._send(HTTPStatus.OK, answer.make(), answer.content_type, cookie)
        except (ConnectionError, TimeoutError):
            raise  # the browser went away: handle_error knows
        except RequestError as exc:
            self.send_error(exc.status, str(exc))
        except ImgconvError as exc:  # a picture that cannot be read or rendered
            self.send_error(HTTPStatus.BAD_REQUEST, str(exc))
        except Exception as exc:
            if self.server.closed:
                return  # cut short by the stop: see DemoServer.server_close
            _say_error(f"{self.command} {self.path.partition('?')[0]}: {type(exc).__name__}: {exc}")
            self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR, "the demo failed; its terminal says why")

    def do_GET(self) -> None:
        self._answer(self._get)

    def _get(self, path: str, query: Query) -> Answer:
        if path in STATIC:
            name, content_type = STATIC[path]
            if query:
                raise RequestError(f"{path} takes no parameters")
            return Answer(resources.files(__package__).joinpath("static").joinpath(name).read_bytes, content_type)
        if path in GET:
            return getattr(self.server.demo, GET[path])(query)
        raise RequestError("no such page", HTTPStatus.NOT_FOUND)

    def do_POST(self) -> None:
        self._answer(self._post)

    def _post(self, path: str, query: Query) -> Answer:
        if path not in POST:
            status = HTTPStatus.METHOD_NOT_ALLOWED if path in GET or path in STATIC else HTTPStatus.NOT_FOUND
            raise RequestError(f"{path} takes GET" if status == HTTPStatus.METHOD_NOT_ALLOWED else "no such page",
                               status)
        if query:
            raise RequestError(f"{path} takes no parameters")
        return self.server.demo.upload(self._content_length(), self.rfile.read)

    def _content_length(self) -> int:
        lengths = self.headers.get_all("Content-Length")
        if lengths is None:
            raise RequestError("an upload needs a Content-Length", HTTPStatus.LENGTH_REQUIRED)
        # ASCII digits only: str.isdigit() and int() take others ('²', '٣').
        if len(lengths) != 1 or not re.fullmatch(r"[0-9]+", lengths[0].strip(" \t")):
            raise RequestError("the Content-Length is not one whole number of bytes")
        digits = lengths[0].strip(" \t").lstrip("0") or "0"
        # Beyond 19 digits, more than any limit (and int() refuses past 4300).
        return int(digits) if len(digits) <= 19 else 10**19

    def do_HEAD(self) -> None:
        self._answer(self._not_served)

    def _not_served(self, path: str, query: Query) -> Answer:
        raise RequestError(f"{self.command} is not served; use GET or POST", HTTPStatus.METHOD_NOT_ALLOWED)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD


class _HeadLimit:
    """A connection's reader that lets the lines of its head (http.server reads those
    with ``readline``, the body with ``read``) take `MAX_HEAD` bytes in all; past that,
    http.server answers 431."""

    def __init__(self, reader: io.BufferedIOBase) -> None:
        self._reader, self._left = reader, MAX_HEAD

    def readline(self, limit: int = -1) -> bytes:
        line = self._reader.readline(limit)
        self._left -= len(line)
        if self._left < 0:
            raise http.client.LineTooLong("the request's head")
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)


class DemoServer(ThreadingHTTPServer):
    """A `ThreadingHTTPServer` for a `Demo`, quiet about dropped connections, that
    answers only requests holding its token (``url`` has it).

    Parameters
    ----------
    demo : imgconv.demo.app.Demo
    host : str
        Address to listen on: a name, an IPv4 or an IPv6 address.
    port : int
        0 picks a free port (``url`` says which).
    """

    # A lecture hall's reloads: more waiting connections than the default 5.
    request_queue_size = 64
    # (host, port), and flow and scope for IPv6.
    server_address: tuple[str, int] | tuple[str, int, int, int]

    def __init__(self, demo: Demo, host: str = "127.0.0.1", port: int = 0) -> None:
        self.demo = demo
        self.token = secrets.token_urlsafe(32)
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._connections = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.closed = False
        super().__init__((host, port), Handler)
        address, port = self.server_address[:2]
        # Cookies are kept by host, not by port: the port in the name keeps two demos apart.
        self.cookie_name = f"imgconv-demo-{port}"
        self.cookie = f"{self.cookie_name}={self.token}; HttpOnly; SameSite=Strict; Path=/"
        self.loopback = ipaddress.ip_address(address).is_loopback
        # A wildcard address is reached by whatever names the machine has: no Host is
        # known to be wrong there, and the token is all that protects it.
        names = [f"[{name}]" if ":" in name else name for name in {host.lower(), address, *LOOPBACK_NAMES}]
        self._hosts = None if ipaddress.ip_address(address).is_unspecified else {
            f"{name}:{port}" for name in names} | (set(names) if port == 80 else set())

    @property
    def url(self) -> str:
        """The page's address, with the token."""
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}/?token={self.token}" if ":" in host else \
            f"http://{host}:{port}/?token={self.token}"

    def is_own_host(self, value: str) -> bool:
        """Whether a Host header names this server, as a browser gives it."""
        return self._hosts is None or value.strip().lower() in self._hosts

    def is_token(self, value: str) -> bool:
        return hmac.compare_digest(value.encode(), self.token.encode())

    # A TCP server's requests are sockets; socketserver's type also has a UDP server's.
    def process_request(self, request: socket.socket, client_address: Any) -> None:  # type: ignore[override]
        """A thread for the connection; beyond `MAX_CONNECTIONS`, one line and closed."""
        if not self._connections.acquire(blocking=False):
            body = f"the demo has {MAX_CONNECTIONS} connections open; try again\n".encode()
            try:
                request.sendall(b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
            except OSError:
                pass  # gone already
            self.shutdown_request(request)
            return
        # The slot is freed once, by whoever takes ``owner`` first: the thread as it
        # begins, or this method if the thread cannot start or Ctrl-C lands while it
        # starts (the thread may still begin later; it then leaves the connection, which
        # the server closes, alone). A daemon, as ThreadingHTTPServer's threads are:
        # stopping does not wait for the browser's open connections.
        owner = threading.Lock()
        try:
            threading.Thread(target=self._serve, args=(request, client_address, owner), daemon=True).start()
        except BaseException:
            if owner.acquire(blocking=False):
                self._connections.release()
            raise

    def _serve(self, request: socket.socket, client_address: Any, owner: threading.Lock) -> None:
        """A connection's thread: `ThreadingMixIn`'s, holding the connection's slot."""
        if not owner.acquire(blocking=False):
            return
        try:
            self.process_request_thread(request, client_address)
        finally:
            self._connections.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A browser that drops a request it no longer wants is normal, and so is a
        request cut short by the stop; anything else is a real error, reported on one line."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, TimeoutError)) and not self.closed:
            _say_error(f"{type(exc).__name__}: {exc}")

    def server_close(self) -> None:
        """Stops listening. The connections' threads are daemons, so what they are still
        making is cut short by the interpreter's exit (concurrent.futures refuses the
        engine's threads new work then): from here on, a request that fails is not
        reported, since the failure is the stop's, not the demo's."""
        self.closed = True
        super().server_close()

