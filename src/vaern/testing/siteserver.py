"""A real HTTP server for tests and benchmarks: a fixture site plus misbehaving pages.

`SiteServer` serves a directory (and/or pages set from code) on a loopback address, port 0, in a
background thread, and records every request it receives. Besides the files it answers these
behaviour paths, the ways real sites make crawlers fail:

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
`validators=False`). A POST is answered like a GET of its path. `requests` lists what arrived,
so a test can prove that something did NOT reach a server (the SSRF tests run a second server on
127.0.0.2 for that).

Never binds anything but a loopback address.
"""

from __future__ import annotations

import functools
import hashlib
import html
import ipaddress
import mimetypes
import sys
import threading
import time
import zlib
from collections.abc import Iterator
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
        # read so the connection stays usable, and the request is recorded like any other.
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        site = self.server.site
        site._record(RecordedRequest(self.command, self.path, {k: v for k, v in self.headers.items()}))
        parts = urlsplit(self.path)
        route, query = parts.path, parse_qs(parts.query)
        try:
            if route.startswith("/_/"):
                self._behaviour(route[3:], query)
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

    def _behaviour(self, name: str, query: dict[str, list[str]]) -> None:  # noqa: C901 - a flat dispatch
        first = {k: v[0] for k, v in query.items()}
        if name == "redirect":
            self._redirect(int(first.get("status", "302")), first.get("to", "/"))
        elif name.startswith("redirect-loop/"):
            self._redirect(302, "/_/redirect-loop/b" if name.endswith("/a") else "/_/redirect-loop/a")
        elif name.startswith("status/"):
            code = int(name.split("/", 1)[1])
            self._send(code, _html(f"Status {code}", f"<p>This is a {code} page.</p>"))
        elif name == "slow":
            time.sleep(float(first.get("seconds", "5")))
            self._send(200, _html("Slow", "<p>Finally.</p>"))
        elif name == "huge":
            self._huge(float(first.get("mb", "6")), first.get("chunked") == "1")
        elif name == "cloak":
            # Shows crawlers a post and sends browsers elsewhere: what a page aimed at the
            # evidence browser does.
            if "Chrome" in (self.headers.get("User-Agent") or ""):
                self._redirect(int(first.get("status", "302")), first.get("to", "/"))
            else:
                self._send(200, _html("Opslag", f"<p>{html.escape(first.get('say', DANISH))}</p>"))
        elif name == "gzip-bomb":
            self._gzip_bomb(float(first.get("mb", "200")))
        elif name == "cp1252":
            meta = '<meta charset="windows-1252">' if first.get("meta") == "1" else ""
            body = f"<html><head>{meta}<title>Ærgerligt</title></head><body><p>{DANISH}</p></body></html>"
            charset = "; charset=windows-1252" if first.get("header") == "1" else ""
            self._send(200, body.encode("cp1252"), "text/html" + charset)
        elif name == "bom":
            body = f"<html><head><title>BOM</title></head><body><p>{DANISH}</p></body></html>"
            content_type = f"text/html; charset={first['header']}" if "header" in first else "text/html"
            self._send(200, b"\xef\xbb\xbf" + body.encode("utf-8"), content_type)
        elif name.startswith("calendar/"):
            month = int(name.split("/", 1)[1])
            self._send(
                200,
                _html(
                    f"Kalender {month}",
                    f'<p>Ingen begivenheder i måned {month}.</p>'
                    f'<a href="/_/calendar/{month + 1}">Næste måned</a> <a href="/_/calendar/{month - 1}">Forrige</a>',
                ),
            )
        elif name == "search":
            self._search(first.get("q", ""))
        elif name == "image.png":
            self._send(200, _PNG, "image/png")
        elif name == "download":
            self._send(200, b"%PDF-1.4\n" + b"0" * 50_000 + b"\n%%EOF\n", "application/pdf")
        elif name == "text":
            self._send(200, DANISH.encode("utf-8"), "text/plain; charset=utf-8")
        else:
            self._send(404, _html("Not found", "<p>No such behaviour.</p>"))

    def _huge(self, megabytes: float, chunked: bool) -> None:
        total = int(megabytes * 1024 * 1024)
        chunk = (b"<p>" + b"fyld " * 200 + b"</p>\n") * 64
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(total))
        self.end_headers()
        sent = 0
        while sent < total:
            piece = chunk[: total - sent]
            if chunked:
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            else:
                self.wfile.write(piece)
            sent += len(piece)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _gzip_bomb(self, megabytes: float) -> None:
        """An HTML page that is small on the wire and `megabytes` once decompressed."""
        self._send(200, _gzip_bomb(int(megabytes)), headers={"Content-Encoding": "gzip"})

    def _search(self, text: str) -> None:
        needle = text.casefold()
        links = [
            f'<li><a href="{html.escape(quote(route))}">{html.escape(route)}</a></li>'
            for route, body in self.server.site._all_pages()
            if needle and needle in body.decode("utf-8", "replace").casefold()
        ]
        self._send(
            200,
            _html(f"Søgning: {text}", f"<h1>Resultater for {html.escape(text)}</h1><ul>{''.join(links)}</ul>"),
        )


@functools.lru_cache(maxsize=4)
def _gzip_bomb(megabytes: int) -> bytes:
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
