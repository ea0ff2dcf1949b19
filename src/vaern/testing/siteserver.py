"""The one fixture web server of tests, benchmarks and the demo: a site plus named behaviours.

`SiteServer` serves a directory (and/or pages set from code) on a loopback address, port 0, in a
background thread, and records every request it receives. A site built on it mounts its own
routes (`route(path, handler)`: the JavaScript site of jssite.py, the evidence site of
evidencesite.py, the timestamp authority of tsa.py, the demo's site); each handler gets an
`Exchange` (the request, and ways to answer it). Besides, every server answers these named
behaviours (as Scrapy's mock server mounts its resources), the ways real sites make crawlers fail:

    /_/redirect?to=URL[&status=302]   redirect to URL (absolute or relative)
    /_/redirect-loop/a                a -> b -> a -> ... forever
    /_/status/CODE                    that status with a small HTML body (404, 410, 500, ...)
    /_/slow?seconds=S                 waits S seconds, then a small page
    /_/huge?mb=N[&chunked=1]          an N MB HTML page, with Content-Length or chunked (length unknown)
    /_/cloak?to=URL[&say=TEXT]        TEXT to crawlers; a browser (Chrome in its User-Agent) is redirected to URL
    /_/gzip-bomb?mb=N                 a gzip-encoded page of a few hundred KB that inflates to N MB
    /_/cp1252[?meta=1|header=1]       Danish text in windows-1252: undeclared, <meta charset>, or
                                      charset in the Content-Type header
    /_/bom[?header=CHARSET]           UTF-8 with a byte-order mark; the header may claim another charset
    /_/calendar/N                     a calendar trap: every month links to the next, endlessly
    /_/search?q=TEXT                  search results: echoes TEXT and links every page containing it
    /_/image.png, /_/download         non-HTML responses (the second a PDF at a URL without extension)
    /_/text                           text/plain
    /robots.txt                       from the directory or `set_page`, else 404

Every 200 page from the directory or `set_page` carries an ETag (a hash of the body) and a
Last-Modified, and gets 304 for a matching If-None-Match / If-Modified-Since (switch off with
`validators=False`); a route answers as its handler says. A POST is answered like a GET of its
path (a route sees its body). `requests` lists what arrived, so a test can prove that something
did NOT reach a server (the SSRF tests run a second server on 127.0.0.2 for that). `stopping` is
set when the server stops, so a handler that hangs on purpose can let go.

Never binds anything but a loopback address.
"""

from __future__ import annotations

import functools
import hashlib
import html
import ipaddress
import json
import mimetypes
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, quote, unquote, urlsplit

DANISH = "Hvorfor får René Rosenkilde lov at blive? Æbler, øl og ål på bordet i Ærøskøbing."
"""The Danish sentence the charset behaviours serve; tests compare the decoded text with it."""

_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as it arrived."""

    method: str
    path: str  # path and query, as sent
    headers: dict[str, str]
    at: float = field(default_factory=time.time)

    @property
    def route(self) -> str:
        """The path without the query string."""
        return urlsplit(self.path).path


class Exchange:
    """One request to a route or behaviour, and the ways to answer it (once)."""

    def __init__(self, handler: _Handler, body: bytes) -> None:
        self._handler = handler
        self.method = handler.command
        self.path = handler.path  # path and query, as sent
        parts = urlsplit(handler.path)
        self.route = parts.path
        self.query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.headers = {k: v for k, v in handler.headers.items()}
        self.body = body
        self.server = handler.server.site

    def send(
        self,
        status: int,
        body: bytes | str = b"",
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer with `body` (and its Content-Length)."""
        self._handler._send(status, body.encode() if isinstance(body, str) else body, content_type, headers)

    def json(self, data: object, headers: dict[str, str] | None = None) -> None:
        self.send(200, json.dumps(data, ensure_ascii=False).encode(), "application/json", headers)

    def redirect(self, location: str, status: int = 302) -> None:
        """A redirect with a small page linking to `location`."""
        self._handler._redirect(status, location)

    def stream(self, chunks: Iterable[bytes], content_type: str = "text/html; charset=utf-8") -> None:
        """A body of unknown length: each chunk as it comes, then the connection closes."""
        handler = self._handler
        handler.close_connection = True
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Connection", "close")
        handler.end_headers()
        for chunk in chunks:
            handler.wfile.write(chunk)
            handler.wfile.flush()

    @property
    def raw(self) -> BaseHTTPRequestHandler:
        """The request handler itself, for a behaviour that writes its own bytes."""
        return self._handler


Handler = Callable[[Exchange], None]


@dataclass
class _Page:
    body: bytes
    status: int
    content_type: str
    headers: dict[str, str]
    modified: float
    validators: bool | None = None  # None: the server's setting


class SiteServer:
    """See the module docstring. Use as a context manager, or call start()/stop()."""

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        validators: bool = True,
        record: bool = True,
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"SiteServer only listens on loopback addresses, not {host}")
        self.root = Path(root).resolve() if root is not None else None
        self.host = host
        self.validators = validators
        self.record = record
        self._pages: dict[str, _Page] = {}
        self._routes: dict[str, Handler] = {}  # exact paths
        self._prefixes: dict[str, Handler] = {}  # paths and everything below them
        self.stopping = threading.Event()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._server = _Server((host, port), _Handler)
        self._server.site = self
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SiteServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"siteserver-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # -- content -----------------------------------------------------------------------------

    def set_page(
        self,
        path: str,
        body: str | bytes,
        *,
        status: int = 200,
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
        validators: bool | None = None,
    ) -> None:
        """Serve `body` at `path` (overrides a file); setting it again changes ETag and Last-Modified.
        `validators=False` serves this page without ETag/Last-Modified (and never a 304)."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self._lock:
            previous = self._pages.get(path)
            # Last-Modified has one-second resolution; keep it moving forward on quick changes.
            modified = max(time.time(), previous.modified + 1) if previous else time.time()
            self._pages[path] = _Page(data, status, content_type, dict(headers or {}), modified, validators)

    def route(self, path: str, handler: Handler, *, prefix: bool = False) -> None:
        """Answer `path` (with `prefix`, every path that starts with it) by `handler(exchange)`;
        a route comes before the files and the pages set with `set_page`."""
        with self._lock:
            (self._prefixes if prefix else self._routes)[path] = handler

    def remove_page(self, path: str) -> None:
        """Forget a page set with set_page (it is a 404 from now on unless a file exists)."""
        with self._lock:
            self._pages.pop(path, None)

    # -- what arrived ------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def paths(self) -> list[str]:
        """The path (with query) of every request, in arrival order."""
        return [r.path for r in self.requests]

    def count(self, route: str) -> int:
        """How many requests arrived for this path (query ignored)."""
        return sum(1 for r in self.requests if r.route == route)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- internals used by the handler -------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        if self.record:
            with self._lock:
                self._requests.append(request)

    def _handler_for(self, route: str) -> Handler | None:
        with self._lock:
            found = self._routes.get(route)
            if found is not None:
                return found
            prefixed = [(path, h) for path, h in self._prefixes.items() if route.startswith(path)]
        return max(prefixed, key=lambda item: len(item[0]))[1] if prefixed else None  # the longest prefix

    def _lookup(self, route: str) -> _Page | None:
        with self._lock:
            page = self._pages.get(route)
        if page is not None:
            return page
        if self.root is None:
            return None
        target = (self.root / unquote(route).lstrip("/")).resolve()
        if target != self.root and self.root not in target.parents:
            return None  # path traversal
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            return None
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return _Page(target.read_bytes(), 200, content_type, {}, target.stat().st_mtime)

    def _all_pages(self) -> Iterator[tuple[str, bytes]]:
        with self._lock:
            pages = {k: v.body for k, v in self._pages.items() if v.status == 200 and "html" in v.content_type}
        yield from pages.items()
        if self.root is not None:
            for file in sorted(self.root.rglob("*.html")):
                route = "/" + file.relative_to(self.root).as_posix()
                if route not in pages:
                    yield route, file.read_bytes()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    # The default backlog of 5 drops connection attempts when a crawler opens many at once, and
    # the client's SYN retry then costs a whole second.
    request_queue_size = 128
    site: SiteServer

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hangs up (a crawler's timeout or size limit) is expected here.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm on, a keep-alive client's
    # delayed ACK then holds every response back ~40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass  # tests read `requests`, not stderr

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self.do_GET()

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        # A form post is answered like a GET of the same path (redirects included); its body is
        # read so the connection stays usable (and a route sees it), and it is recorded like any other.
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(self.rfile.read(length) if length else b"")

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._answer(b"")

    def _answer(self, body: bytes) -> None:
        site = self.server.site
        site._record(RecordedRequest(self.command, self.path, {k: v for k, v in self.headers.items()}))
        route = urlsplit(self.path).path
        try:
            handler = site._handler_for(route)
            if handler is None and route.startswith("/_/"):
                name = route[3:]
                handler = BEHAVIOURS.get(name) or BEHAVIOURS.get(name.split("/", 1)[0] + "/", _no_behaviour)
            if handler is not None:
                handler(Exchange(self, body))
                return
            page = site._lookup(route)
            if page is None:
                self._send(404, _html("Not found", f"<p>No page at {html.escape(route)}</p>"))
                return
            self._serve_page(page)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout or a size limit); that is what some tests do

    # -- responses ---------------------------------------------------------------------------

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _serve_page(self, page: _Page) -> None:
        headers = dict(page.headers)
        validators = self.server.site.validators if page.validators is None else page.validators
        if validators and page.status == 200:
            etag = '"' + hashlib.sha256(page.body).hexdigest()[:20] + '"'
            modified = formatdate(int(page.modified), usegmt=True)
            headers.setdefault("ETag", etag)
            headers.setdefault("Last-Modified", modified)
            if self._not_modified(etag, int(page.modified)):
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", modified)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        self._send(page.status, page.body, page.content_type, headers)

    def _not_modified(self, etag: str, modified: int) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            # RFC 9110: If-None-Match decides when present; If-Modified-Since is then ignored.
            tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
            return etag in tags or "*" in tags
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_modified_since:
            try:
                return modified <= parsedate_to_datetime(if_modified_since).timestamp()
            except (TypeError, ValueError):
                return False
        return False

    def _redirect(self, status: int, location: str) -> None:
        body = _html("Moved", f'<p><a href="{html.escape(location)}">moved</a></p>')
        self._send(status, body, headers={"Location": location})


# ---------------------------------------------------------------------------------------------
# The named behaviours under /_/: each answers one way real sites make crawlers fail.


def _redirect(ex: Exchange) -> None:
    ex.redirect(ex.query.get("to", "/"), int(ex.query.get("status", "302")))


def _redirect_loop(ex: Exchange) -> None:
    ex.redirect("/_/redirect-loop/b" if ex.route.endswith("/a") else "/_/redirect-loop/a")


def _status(ex: Exchange) -> None:
    code = int(ex.route.rsplit("/", 1)[1])
    ex.send(code, _html(f"Status {code}", f"<p>This is a {code} page.</p>"))


def _slow(ex: Exchange) -> None:
    time.sleep(float(ex.query.get("seconds", "5")))
    ex.send(200, _html("Slow", "<p>Finally.</p>"))


def _huge(ex: Exchange) -> None:
    """An N MB HTML page, with a Content-Length or chunked (length unknown)."""
    total = int(float(ex.query.get("mb", "6")) * 1024 * 1024)
    chunked = ex.query.get("chunked") == "1"
    chunk = (b"<p>" + b"fyld " * 200 + b"</p>\n") * 64
    out = ex.raw
    out.send_response(200)
    out.send_header("Content-Type", "text/html; charset=utf-8")
    if chunked:
        out.send_header("Transfer-Encoding", "chunked")
    else:
        out.send_header("Content-Length", str(total))
    out.end_headers()
    sent = 0
    while sent < total:
        piece = chunk[: total - sent]
        if chunked:
            out.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        else:
            out.wfile.write(piece)
        sent += len(piece)
    if chunked:
        out.wfile.write(b"0\r\n\r\n")


def _cloak(ex: Exchange) -> None:
    # Shows crawlers a post and sends browsers elsewhere: what a page aimed at the evidence browser does.
    if "Chrome" in (ex.headers.get("User-Agent") or ""):
        ex.redirect(ex.query.get("to", "/"), int(ex.query.get("status", "302")))
    else:
        ex.send(200, _html("Opslag", f"<p>{html.escape(ex.query.get('say', DANISH))}</p>"))


def _gzip_bomb(ex: Exchange) -> None:
    """An HTML page that is small on the wire and `mb` megabytes once decompressed."""
    ex.send(200, _gzip_bomb_body(int(float(ex.query.get("mb", "200")))), headers={"Content-Encoding": "gzip"})


def _cp1252(ex: Exchange) -> None:
    meta = '<meta charset="windows-1252">' if ex.query.get("meta") == "1" else ""
    # The title names the variant: three URLs that said exactly the same would be one page.
    variant = "meta" if meta else "header" if ex.query.get("header") == "1" else "undeclared"
    body = f"<html><head>{meta}<title>Ærgerligt ({variant})</title></head><body><p>{DANISH}</p></body></html>"
    charset = "; charset=windows-1252" if ex.query.get("header") == "1" else ""
    ex.send(200, body.encode("cp1252"), "text/html" + charset)


def _bom(ex: Exchange) -> None:
    body = f"<html><head><title>BOM</title></head><body><p>{DANISH}</p></body></html>"
    content_type = f"text/html; charset={ex.query['header']}" if "header" in ex.query else "text/html"
    ex.send(200, b"\xef\xbb\xbf" + body.encode("utf-8"), content_type)


def _calendar(ex: Exchange) -> None:
    month = int(ex.route.rsplit("/", 1)[1])
    ex.send(
        200,
        _html(
            f"Kalender {month}",
            f'<p>Ingen begivenheder i måned {month}.</p>'
            f'<a href="/_/calendar/{month + 1}">Næste måned</a> <a href="/_/calendar/{month - 1}">Forrige</a>',
        ),
    )


def _search(ex: Exchange) -> None:
    """Search results: echoes `q` and links every page of the site that contains it."""
    text = ex.query.get("q", "")
    needle = text.casefold()
    links = [
        f'<li><a href="{html.escape(quote(route))}">{html.escape(route)}</a></li>'
        for route, body in ex.server._all_pages()
        if needle and needle in body.decode("utf-8", "replace").casefold()
    ]
    ex.send(200, _html(f"Søgning: {text}", f"<h1>Resultater for {html.escape(text)}</h1><ul>{''.join(links)}</ul>"))


def _no_behaviour(ex: Exchange) -> None:
    ex.send(404, _html("Not found", "<p>No such behaviour.</p>"))


# name -> behaviour; a name ending in "/" answers every path below it (/_/status/404).
BEHAVIOURS: dict[str, Handler] = {
    "redirect": _redirect,
    "redirect-loop/": _redirect_loop,
    "status/": _status,
    "slow": _slow,
    "huge": _huge,
    "cloak": _cloak,
    "gzip-bomb": _gzip_bomb,
    "cp1252": _cp1252,
    "bom": _bom,
    "calendar/": _calendar,
    "search": _search,
    "image.png": lambda ex: ex.send(200, _PNG, "image/png"),
    "download": lambda ex: ex.send(200, b"%PDF-1.4\n" + b"0" * 50_000 + b"\n%%EOF\n", "application/pdf"),
    "text": lambda ex: ex.send(200, DANISH.encode("utf-8"), "text/plain; charset=utf-8"),
}


@functools.lru_cache(maxsize=4)
def _gzip_bomb_body(megabytes: int) -> bytes:
    """Made once per size: compressing hundreds of MB takes seconds a test should not wait."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    spaces = b" " * (1024 * 1024)
    body = packer.compress(b"<!doctype html><html><body><p>")
    for _ in range(megabytes):
        body += packer.compress(spaces)
    return body + packer.compress(b"</p></body></html>") + packer.flush()


def _html(title: str, body: str) -> bytes:
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f"<body>{body}</body></html>"
    ).encode()
