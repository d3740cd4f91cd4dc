"""The demonstration's web server: the standard library's threading HTTP server.

A local page for one user asks for a handful of fixed paths with short query strings
and uploads one raw body; ``http.server`` does that in a page of code and adds no
dependency. What it does by default and a demo must not: it logs every request and
prints a traceback when a browser drops a request it no longer wants (a superseded
picture), and it answers errors with HTML. Here nothing is logged but real errors,
one line each, and every refusal is one line of plain text.

Other web pages must not read or drive the demo (see README, Threat model): as
Jupyter does, each run has a random token, in the address printed and then in a
cookie; a request without it, naming another host (DNS rebinding) or coming from
another page (``Origin``) is refused with 403.
"""

import hmac
import ipaddress
import secrets
import socket
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qsl

from ..errors import ImgconvError
from .app import RequestError

STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/demo.js": ("demo.js", "text/javascript; charset=utf-8"),
    "/demo.css": ("demo.css", "text/css; charset=utf-8"),
}
GET = {"/blur.png": "blur", "/kernel.json": "kernel", "/conv.json": "conv", "/conv.png": "conv_frame",
       "/params.json": "params", "/image": "image"}
POST = {"/image"}
# A query string longer than this is no request the page makes.
MAX_QUERY = 2000
# The loopback names a browser on this machine may give in Host, besides the address
# listened on.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def _say_error(message):
    print(f"imgconv: error: demo: {' '.join(str(message).split())}", file=sys.stderr, flush=True)


class Handler(BaseHTTPRequestHandler):
    """Routes a request to the `Demo` of its server; every refusal is one line."""

    server_version = "imgconv-demo"

    def log_message(self, format, *args):
        """Requests are not logged, and neither are refusals: the page shows those."""

    def send_error(self, code, message=None, explain=None):
        """One line of plain text, for http.server's own refusals (a malformed request
        line, an unknown method) as for the demo's."""
        status = HTTPStatus(code)
        self._send(code, f"{message or status.phrase}\n".encode(), "text/plain; charset=utf-8",
                   {"Allow": "GET, POST"} if code == HTTPStatus.METHOD_NOT_ALLOWED else {})

    def _send(self, code, body, content_type, headers=()):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for name, value in dict(headers).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _route(self):
        """The path and the query (a dict, without ``token``), or a refusal."""
        path, _, query = self.path.partition("?")
        if len(query) > MAX_QUERY:
            raise RequestError("the query string is too long", HTTPStatus.REQUEST_URI_TOO_LONG)
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query), errors="strict")
        except (ValueError, UnicodeDecodeError):
            raise RequestError("the query string is not name=value pairs of UTF-8 text") from None
        names = [name for name, _ in pairs]
        if len(set(names)) != len(names):
            raise RequestError("a parameter is given twice")
        query = dict(pairs)
        query.pop("token", None)
        return path, query

    def _check_access(self):
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

    def _cookies(self, wanted):
        for header in self.headers.get_all("Cookie") or []:
            for pair in header.split(";"):
                name, _, value = pair.strip().partition("=")
                if name == wanted:
                    yield value

    def _answer(self, work):
        """Checks access, routes, and sends what ``work(path, query)`` makes, or the refusal."""
        try:
            by_token = self._check_access()
            path, query = self._route()
            body, content_type = work(path, query)
            # The printed address: the page comes with the cookie (its script then takes
            # the token out of the address bar and the history). Not a redirect: after
            # one started elsewhere (the page that opens the browser, a link), a
            # SameSite=Strict cookie would not be sent.
            cookie = {"Set-Cookie": self.server.cookie} if by_token and path == "/" else {}
            self._send(HTTPStatus.OK, body, content_type, cookie)
        except (ConnectionError, TimeoutError):
            raise  # the browser went away: handle_error knows
        except RequestError as exc:
            self.send_error(exc.status, str(exc))
        except ImgconvError as exc:  # a picture that cannot be read or rendered
            self.send_error(HTTPStatus.BAD_REQUEST, str(exc))
        except Exception as exc:
            _say_error(f"{self.command} {self.path.partition('?')[0]}: {type(exc).__name__}: {exc}")
            self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR, "the demo failed; its terminal says why")

    def do_GET(self):
        self._answer(self._get)

    def _get(self, path, query):
        if path in STATIC:
            name, content_type = STATIC[path]
            if query:
                raise RequestError(f"{path} takes no parameters")
            return resources.files(__package__).joinpath("static", name).read_bytes(), content_type
        if path in GET:
            return getattr(self.server.demo, GET[path])(query)
        raise RequestError("no such page", HTTPStatus.NOT_FOUND)

    def do_POST(self):
        self._answer(self._post)

    def _post(self, path, query):
        if path not in POST:
            status = HTTPStatus.METHOD_NOT_ALLOWED if path in GET or path in STATIC else HTTPStatus.NOT_FOUND
            raise RequestError(f"{path} takes GET" if status == HTTPStatus.METHOD_NOT_ALLOWED else "no such page",
                               status)
        if query:
            raise RequestError(f"{path} takes no parameters")
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            raise RequestError("an upload needs a Content-Length", HTTPStatus.LENGTH_REQUIRED)
        limit = self.server.demo.max_upload_bytes
        if limit and int(length) > limit:
            raise RequestError(f"upload: {int(length)} bytes is more than an image within the pixel limit can take "
                               f"({limit} bytes; imgconv demo --max-pixels N raises it)",
                               HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        data = self.rfile.read(int(length))
        if len(data) != int(length):
            raise RequestError("upload: the body ended before its Content-Length")
        return self.server.demo.upload(data)

    def do_HEAD(self):
        self._answer(self._not_served)

    def _not_served(self, path, query):
        raise RequestError(f"{self.command} is not served; use GET or POST", HTTPStatus.METHOD_NOT_ALLOWED)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD


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

    daemon_threads = True
    # A lecture hall's reloads: more waiting connections than the default 5.
    request_queue_size = 64

    def __init__(self, demo, host="127.0.0.1", port=0):
        self.demo = demo
        self.token = secrets.token_urlsafe(32)
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
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
    def url(self):
        """The page's address, with the token."""
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}/?token={self.token}" if ":" in host else \
            f"http://{host}:{port}/?token={self.token}"

    def is_own_host(self, value):
        """Whether a Host header names this server, as a browser gives it."""
        return self._hosts is None or value.strip().lower() in self._hosts

    def is_token(self, value):
        return hmac.compare_digest(value.encode(), self.token.encode())

    def handle_error(self, request, client_address):
        """A browser that drops a request it no longer wants is normal; anything else is
        a real error, reported on one line."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, TimeoutError)):
            _say_error(f"{type(exc).__name__}: {exc}")

