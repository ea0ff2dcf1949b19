"""The browser's only way out: a filtering forward proxy that puts every connection Chromium
makes past the SSRF guard (crawler/netguard.py).

Chromium is started with this proxy as its proxy server, loopback not bypassed and QUIC off
(crawler/browser.py `launch_options`), so every connection a page makes arrives here —
navigations and each redirect hop, subresources, fetch/XHR, WebSockets, EventSource, workers,
form posts, prefetches — as one of:

- `CONNECT host:port` (https:, wss:): the host is resolved and judged, and the tunnel is opened
  to the very address that was judged, so a name server cannot answer differently between the
  check and the connection (no DNS rebinding);
- `GET http://host/path` and every other method in absolute form (http:, ws:): judged the same
  way, sent on to the judged address, the answer passed back with its body counted.

A refused request is answered `403` with the header `X-Vaern-Guard: refused` and recorded on the
listener it came through. Each browser context gets a listener of its own (its own port), so a
page knows its own refusals and its own cut responses; the browser-wide listener catches the
rest.

Bounds (`crawl.max_response_mb` for crawl pages, `evidence.max_response_mb` for capture):
- a plain-HTTP response body is cut at the limit, counted after decompression (gzip and deflate;
  only those are offered upstream, so the count is of what Chromium will hold in memory): a
  decompression bomb is cut like a large page;
- a TLS tunnel cannot be read, so its whole download is bounded by `TUNNEL_FACTOR` times the limit
  (one tunnel carries many responses); the browser's memory ceiling (crawler/render.py) is the
  backstop for what a tunnel carries.
A cut response is recorded (`Listener.cut`); the renderer fails a page whose own document was cut.

Prefer a well-kept library? proxy.py and mitmproxy were weighed: neither connects to the address
it judged without patching internals, and mitmproxy's interception is more than this needs. The
HTTP framing here is h11's; what is left is judging and piping, tested in tests/crawler/test_guardproxy.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import zlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag, urlsplit

import h11

from vaern.crawler.netguard import IPAddress, NetGuard
from vaern.errors import BlockedAddress

log = logging.getLogger(__name__)

REFUSED_HEADER = "X-Vaern-Guard"
TUNNEL_FACTOR = 10
CHUNK = 64 * 1024
# Hop-by-hop headers (RFC 9110 7.6.1) and the proxy's own: never passed on.
_HOP_BY_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-connection", b"proxy-authorization", b"proxy-authenticate",
    b"te", b"trailer", b"transfer-encoding", b"upgrade",
})
# Encodings whose decoded size the proxy can count as it passes them on.
_COUNTABLE = b"gzip, deflate"


@dataclass(eq=False)
class Listener:
    """One port of the proxy: the connections of one browser context (or the browser at large)."""

    limit: int  # bytes per plain-HTTP response body, decoded
    refusals: list[str] = field(default_factory=list)  # why each refused request was refused
    refused_urls: list[str] = field(default_factory=list)
    cut: list[str] = field(default_factory=list)  # URLs whose answer was cut at the limit
    unreachable: dict[str, str] = field(default_factory=dict)  # URL -> why no connection was made
    port: int = 0
    server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def refused(self, url: str, reason: str) -> None:
        self.refused_urls.append(url)
        self.refusals.append(reason)

    def refusal_of(self, url: str) -> str | None:
        """Why the guard refused `url` (the same document: fragment and trailing slash aside)."""
        for target, reason in zip(self.refused_urls, self.refusals, strict=True):
            if _same_document(target, url):
                return reason
        return None

    def was_cut(self, url: str) -> bool:
        return any(_same_document(cut, url) for cut in self.cut)

    def document_problem(self, url: str, final_url: str, headers: dict[str, str]) -> str | None:
        """What is wrong with a page's own document, or None: it must be the site's, not the
        guard's refusal (a redirect or a script that led inward), not Chromium's error page,
        not cut at the size limit. Rendered crawl pages and evidence capture both ask."""
        refused = self.refusal_of(final_url) or self.refusal_of(url)
        if refused is not None:
            return f"blocked: {refused}"
        if {k.lower() for k in headers} & {REFUSED_HEADER.lower()}:
            return "blocked: the page led to an address the network guard refused"
        for target in (final_url, url):
            if urldefrag(target).url in self.unreachable:
                return f"no connection: {self.unreachable[urldefrag(target).url]}"
        if final_url.startswith("chrome-error:"):
            return "the browser showed an error page, not the site's (the navigation failed)"
        if self.was_cut(final_url) or self.was_cut(url):
            return (f"too large: the page is larger than {self.limit / (1024 * 1024):g} MB "
                    "(max_response_mb); cut at the limit")
        return None


class GuardProxy:
    """The proxy, run on an event loop in a thread of its own (so a busy crawl loop never holds a
    page's bytes up, and any caller — Scrapy's reactor, a plain script — can use it).

    `start()`, then `listener(limit)` for each browser context, `close_listener()` when the
    context is gone, and `close()` at the end. Usable as a context manager.
    """

    def __init__(self, guard: NetGuard, *, default_limit: int, connect_timeout: float = 30.0) -> None:
        self.guard = guard
        self.connect_timeout = connect_timeout
        self.default_limit = default_limit
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._listeners: set[Listener] = set()
        self.browser_wide: Listener | None = None

    # -- lifecycle (called from any thread) ------------------------------------------------------

    def start(self) -> GuardProxy:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            ready = threading.Event()
            self._thread = threading.Thread(
                target=self._serve, args=(loop, ready), name="vaern-guard-proxy", daemon=True
            )
            self._thread.start()
            ready.wait()
            self._loop = loop
            self.browser_wide = self.listener(self.default_limit)
        return self

    def __enter__(self) -> GuardProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The browser-wide listener, for Chromium's launch."""
        assert self.browser_wide is not None, "start() the proxy first"
        return self.browser_wide.url

    def listener(self, limit: int | None = None) -> Listener:
        """A new port for one browser context, with its own records."""
        listener = Listener(limit=limit or self.default_limit)
        self._call(self._listen(listener))
        return listener

    async def open_listener(self, limit: int | None = None) -> Listener:
        """`listener()` for a caller on another event loop, without blocking it."""
        listener = Listener(limit=limit or self.default_limit)
        await self._await(self._listen(listener))
        return listener

    def close_listener(self, listener: Listener) -> None:
        if listener.server is not None and self._loop is not None:
            self._call(self._stop(listener))

    async def close_listener_async(self, listener: Listener) -> None:
        if listener.server is not None and self._loop is not None:
            await self._await(self._stop(listener))

    def close(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        loop.close()

    def _serve(self, loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_forever()

    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        assert self._loop is not None, "start() the proxy first"
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(self.connect_timeout)

    async def _await(self, coro: Coroutine[Any, Any, None]) -> None:
        assert self._loop is not None, "start() the proxy first"
        await asyncio.wait_for(asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop)),
                               self.connect_timeout)

    async def _listen(self, listener: Listener) -> None:
        self._listeners.add(listener)
        listener.server = await asyncio.start_server(
            lambda r, w: self._spawn(self._client(listener, r, w)), "127.0.0.1", 0
        )
        listener.port = listener.server.sockets[0].getsockname()[1]

    async def _stop(self, listener: Listener) -> None:
        self._listeners.discard(listener)
        if listener.server is not None:
            listener.server.close()
            listener.server = None

    async def _shutdown(self) -> None:
        for listener in list(self._listeners):
            await self._stop(listener)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        # Closed transports finish closing on the loop's next turns; let them, before it stops.
        for _ in range(3):
            await asyncio.sleep(0)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- one client connection from Chromium -------------------------------------------------------

    async def _client(self, listener: Listener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                event = await _next_event(conn, reader)
                if not isinstance(event, h11.Request):
                    return  # the browser closed the connection (or sent nothing we can serve)
                if event.method == b"CONNECT":
                    await self._tunnel(listener, conn, event, reader, writer)
                    return
                keep_open = await self._forward(listener, conn, event, reader, writer)
                if not keep_open or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except (ConnectionError, h11.ProtocolError, asyncio.IncompleteReadError, TimeoutError):
            return
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _judged(self, listener: Listener, url: str) -> IPAddress | str | None:
        """The address to connect to for `url`, or None (after recording why) when refused."""
        try:
            return await self.guard.connect_address(url)
        except BlockedAddress as exc:
            listener.refused(url, str(exc))
            return None

    async def _refuse(self, conn: h11.Connection, writer: asyncio.StreamWriter, reason: str) -> None:
        body = f"refused by Værn's network guard: {reason}\n".encode()
        headers = [
            (REFUSED_HEADER, "refused"), ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))), ("Connection", "close"),
        ]
        writer.write(conn.send(h11.Response(status_code=403, headers=headers)) or b"")
        writer.write(conn.send(h11.Data(data=body)) or b"")
        writer.write(conn.send(h11.EndOfMessage()) or b"")
        await writer.drain()

    async def _open(self, address: IPAddress | str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.wait_for(asyncio.open_connection(str(address), port), self.connect_timeout)

    async def _tunnel(
        self, listener: Listener, conn: h11.Connection, request: h11.Request,
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
    ) -> None:
        target = request.target.decode("latin-1")
        host, _, port_text = target.rpartition(":")
        port = int(port_text) if port_text.isdigit() else 443
        scheme = "https" if port != 80 else "http"
        url = f"{scheme}://{target}/"
        address = await self._judged(listener, url)
        if address is None:
            await self._refuse(conn, writer, listener.refusals[-1])
            return
        try:
            up_reader, up_writer = await self._open(address, port)
        except (OSError, TimeoutError) as exc:
            listener.unreachable[url] = _why(exc, target)
            writer.write(conn.send(h11.Response(status_code=502, headers=[("Content-Length", "0")])) or b"")
            await writer.drain()
            return
        writer.write(conn.send(h11.Response(status_code=200, headers=[])) or b"")
        await writer.drain()
        leftover, _ = conn.trailing_data
        if leftover:
            up_writer.write(leftover)
        await _pipe_both(reader, writer, up_reader, up_writer, listener.limit * TUNNEL_FACTOR,
                         lambda: listener.cut.append(url))

    async def _forward(
        self, listener: Listener, conn: h11.Connection, request: h11.Request,
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
    ) -> bool:
        """Pass one plain-HTTP request on and its answer back. True if the client connection may
        serve another request."""
        url = request.target.decode("latin-1")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "ws") or not parts.hostname:
            listener.refused(url, f"refused {url}: not an absolute http URL")
            await self._refuse(conn, writer, listener.refusals[-1])
            return False
        judged_url = "http" + url[len(parts.scheme):]
        address = await self._judged(listener, judged_url)
        if address is None:
            await self._drain_request(conn, reader)
            await self._refuse(conn, writer, listener.refusals[-1])
            return False
        upgrade = any(n == b"upgrade" for n, _ in request.headers)
        headers: list[tuple[bytes, bytes]] = []
        for name, value in request.headers.raw_items():  # as the browser wrote them
            lower = name.lower()
            if lower == b"accept-encoding":
                value = _COUNTABLE
            if lower not in _HOP_BY_HOP:
                headers.append((name, value))
        if upgrade:
            headers += [(n, v) for n, v in request.headers.raw_items() if n.lower() in (b"upgrade", b"connection")]
        else:
            headers.append((b"connection", b"close"))
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            up_reader, up_writer = await self._open(address, parts.port or 80)
        except (OSError, TimeoutError) as exc:
            await self._drain_request(conn, reader)
            listener.unreachable[urldefrag(url).url] = _why(exc, parts.netloc)
            body = f"could not connect to {parts.netloc}: {listener.unreachable[urldefrag(url).url]}\n".encode()
            writer.write(conn.send(h11.Response(status_code=502, headers=[
                ("Content-Length", str(len(body))), ("Connection", "close")])) or b"")
            writer.write(conn.send(h11.Data(data=body)) or b"")
            writer.write(conn.send(h11.EndOfMessage()) or b"")
            await writer.drain()
            return False
        try:
            upstream = h11.Connection(h11.CLIENT)
            up_writer.write(upstream.send(h11.Request(method=request.method, target=path, headers=headers)) or b"")
            # The request body, if any, as it comes.
            while True:
                event = await _next_event(conn, reader)
                if isinstance(event, h11.Data):
                    up_writer.write(upstream.send(h11.Data(data=event.data)) or b"")
                    await up_writer.drain()
                elif isinstance(event, h11.EndOfMessage):
                    up_writer.write(upstream.send(h11.EndOfMessage()) or b"")
                    await up_writer.drain()
                    break
                else:
                    return False
            response = await _next_event(upstream, up_reader)
            if upgrade and isinstance(response, h11.InformationalResponse) and response.status_code == 101:
                writer.write(_raw_head(response))
                await writer.drain()
                await _pipe_both(reader, writer, up_reader, up_writer, listener.limit * TUNNEL_FACTOR,
                                 lambda: listener.cut.append(url))
                return False
            while isinstance(response, h11.InformationalResponse):
                response = await _next_event(upstream, up_reader)
            if not isinstance(response, h11.Response):
                return False
            return await self._pass_back(listener, url, conn, response, upstream, up_reader, writer)
        finally:
            up_writer.close()
            with contextlib.suppress(Exception):
                await up_writer.wait_closed()

    async def _pass_back(
        self, listener: Listener, url: str, conn: h11.Connection, response: h11.Response,
        upstream: h11.Connection, up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
    ) -> bool:
        headers = [(n, v) for n, v in response.headers.raw_items() if n.lower() not in _HOP_BY_HOP]
        encoding = dict(response.headers).get(b"content-encoding", b"").strip().lower()
        counter = _DecodedSize(encoding, listener.limit)
        writer.write(conn.send(h11.Response(status_code=response.status_code, headers=headers,
                                            reason=response.reason)) or b"")
        while True:
            event = await _next_event(upstream, up_reader)
            if isinstance(event, h11.Data):
                if counter.add(event.data) > listener.limit:
                    # Cut at the limit: the browser sees a truncated answer and the listener knows.
                    listener.cut.append(url)
                    await writer.drain()
                    return False
                writer.write(conn.send(h11.Data(data=event.data)) or b"")
                await writer.drain()
            elif isinstance(event, h11.EndOfMessage):
                writer.write(conn.send(h11.EndOfMessage()) or b"")
                await writer.drain()
                return True
            else:
                return False

    async def _drain_request(self, conn: h11.Connection, reader: asyncio.StreamReader) -> None:
        """Read a refused request's body, so the refusal can be answered in order."""
        while conn.their_state is h11.SEND_BODY:
            event = await _next_event(conn, reader)
            if not isinstance(event, h11.Data):
                break


def _why(exc: BaseException, target: str) -> str:
    if isinstance(exc, TimeoutError):
        return f"{target} did not answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return f"{target} refused the connection (ERR_CONNECTION_REFUSED)"
    return f"{target}: {exc.strerror or exc}" if isinstance(exc, OSError) else f"{target}: {exc}"


def _same_document(a: str, b: str) -> bool:
    return urldefrag(a).url.rstrip("/") == urldefrag(b).url.rstrip("/")


async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(CHUNK)
            conn.receive_data(data)
            if not data and conn.their_state is h11.CLOSED:
                return h11.ConnectionClosed()
            continue
        return event


def _raw_head(response: h11.InformationalResponse) -> bytes:
    lines = [b"HTTP/1.1 %d %s" % (response.status_code, response.reason or b"Switching Protocols")]
    lines += [name + b": " + value for name, value in response.headers.raw_items()]
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _pipe_both(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter,
    download_limit: int, on_cut: Callable[[], None],
) -> None:
    """Bytes both ways until either side closes; the download side is bounded."""

    async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, limit: int | None) -> None:
        total = 0
        try:
            while data := await src.read(CHUNK):
                total += len(data)
                if limit is not None and total > limit:
                    on_cut()
                    return
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            return

    up = asyncio.ensure_future(pump(reader, up_writer, None))
    down = asyncio.ensure_future(pump(up_reader, writer, download_limit))
    try:
        await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (up, down):
            task.cancel()
        up_writer.close()


class _DecodedSize:
    """Counts the decoded size of a body as it passes, without keeping it: a gzip bomb is
    measured by what it would become, in bounded steps."""

    def __init__(self, encoding: bytes, limit: int) -> None:
        self.total = 0
        self.limit = limit
        self._inflate = None
        if encoding in (b"gzip", b"x-gzip"):
            self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == b"deflate":
            self._inflate = zlib.decompressobj()

    def add(self, data: bytes) -> int:
        if self._inflate is None:
            self.total += len(data)
            return self.total
        pending = data
        try:
            while pending:
                out = self._inflate.decompress(pending, CHUNK)
                self.total += len(out)
                pending = self._inflate.unconsumed_tail
                if self.total > self.limit:
                    break
        except zlib.error:
            self.total += len(data)  # not what it claims to be: count the bytes as they are
        return self.total
