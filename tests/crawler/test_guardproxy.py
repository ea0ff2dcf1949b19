"""The guard proxy on its own, spoken to as Chromium speaks to it: absolute-form requests with
keep-alive, request bodies, CONNECT tunnels, refusals, size limits and decompression bombs.
The fixture site listens on 127.0.0.1 (allowed); 127.0.0.2 is the internal address (refused)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from vaern.crawler.guardproxy import REFUSED_HEADER, GuardProxy, Listener
from vaern.crawler.netguard import NetGuard
from vaern.testing.siteserver import SiteServer

LIMIT = 1 << 20  # 1 MB


@pytest.fixture(scope="module")
def site() -> Iterator[SiteServer]:
    with SiteServer() as s:
        s.set_page("/post", "<p>René Rosenkilde</p>")
        yield s


@pytest.fixture(scope="module")
def internal() -> Iterator[SiteServer]:
    with SiteServer(host="127.0.0.2") as s:
        s.set_page("/secret", "hemmelig")
        yield s


@pytest.fixture(scope="module")
def proxy() -> Iterator[GuardProxy]:
    with GuardProxy(NetGuard(["127.0.0.1"]), default_limit=LIMIT) as p:
        yield p


@pytest.fixture
def listener(proxy: GuardProxy) -> Iterator[Listener]:
    one = proxy.listener()
    yield one
    proxy.close_listener(one)


def _exchange(listener: Listener, raw: bytes, *, read_all: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as sock:
        sock.sendall(raw)
        if not read_all:
            return sock.recv(65536)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
        return b"".join(chunks)


def _get(url: str, extra: str = "", close: bool = True) -> bytes:
    host = url.split("/")[2]
    connection = "Proxy-Connection: close\r\nConnection: close\r\n" if close else "Proxy-Connection: keep-alive\r\n"
    return f"GET {url} HTTP/1.1\r\nHost: {host}\r\n{connection}{extra}\r\n".encode()


def test_an_allowed_page_passes_with_its_body(listener: Listener, site: SiteServer) -> None:
    answer = _exchange(listener, _get(site.url("/post"), "Accept-Encoding: gzip, deflate, br, zstd\r\n"))
    assert answer.startswith(b"HTTP/1.1 200") and "René Rosenkilde".encode() in answer
    # The origin got an origin-form request, no proxy headers, and only encodings the proxy can count.
    arrived = site.requests[-1]
    assert arrived.path == "/post" and "Proxy-Connection" not in arrived.headers
    assert arrived.headers["Accept-Encoding"] == "gzip, deflate"
    assert listener.refusals == [] and listener.cut == []


def test_keep_alive_serves_several_requests_on_one_connection(listener: Listener, site: SiteServer) -> None:
    two = _get(site.url("/post"), close=False) + _get(site.url("/_/text"))
    answer = _exchange(listener, two)
    assert answer.count(b"HTTP/1.1 200") == 2


def test_a_post_body_reaches_the_origin(listener: Listener, site: SiteServer) -> None:
    body = b"navn=Ren%C3%A9"
    raw = (f"POST {site.url('/post')} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    assert _exchange(listener, raw).startswith(b"HTTP/1.1 200")
    assert site.requests[-1].method == "POST"


@pytest.mark.parametrize("host", ["127.0.0.2", "[::ffff:127.0.0.2]", "[64:ff9b::7f00:2]", "[::1]", "10.0.0.1"])
def test_a_request_inward_is_refused_and_recorded(listener: Listener, internal: SiteServer, host: str) -> None:
    url = f"http://{host}:{internal.port}/secret"
    answer = _exchange(listener, _get(url))
    assert answer.startswith(b"HTTP/1.1 403") and REFUSED_HEADER.encode() in answer
    assert listener.refused_urls == [url] and "not in network.allow_private_hosts" in listener.refusals[0]
    assert internal.requests == []


def test_a_tunnel_inward_is_refused_before_anything_is_connected(listener: Listener, internal: SiteServer) -> None:
    answer = _exchange(listener, f"CONNECT 127.0.0.2:{internal.port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 403")
    assert listener.refusal_of(f"https://127.0.0.2:{internal.port}/") is not None
    assert internal.requests == []


def test_an_allowed_tunnel_carries_bytes_both_ways(listener: Listener) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        def echo() -> None:
            conn, _ = server.accept()
            with conn:
                conn.sendall(conn.recv(100).upper())

        threading.Thread(target=echo, daemon=True).start()
        with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as sock:
            sock.sendall(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            head = sock.recv(1000)
            assert head.startswith(b"HTTP/1.1 200")
            sock.sendall(b"hej med dig")
            assert sock.recv(100) == b"HEJ MED DIG"


def test_an_unreachable_origin_is_a_recorded_502(listener: Listener) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    assert _exchange(listener, _get(url)).startswith(b"HTTP/1.1 502")
    assert "refused the connection" in (listener.document_problem(url, url, {}) or "")


@pytest.mark.parametrize("path", ["/_/huge?mb=3", "/_/huge?mb=3&chunked=1", "/_/gzip-bomb?mb=60"])
def test_a_body_past_the_limit_is_cut_decoded_size_counted(listener: Listener, site: SiteServer, path: str) -> None:
    answer = _exchange(listener, _get(site.url(path)))
    assert answer.startswith(b"HTTP/1.1 200")
    assert len(answer) < 2 * LIMIT, "the body was cut near the limit"
    assert listener.cut == [site.url(path)]
    assert (listener.document_problem(site.url(path), site.url(path), {}) or "").startswith("too large")


def test_a_body_under_the_limit_is_whole(listener: Listener, site: SiteServer) -> None:
    answer = _exchange(listener, _get(site.url("/_/huge?mb=0.5")))
    assert len(answer.split(b"\r\n\r\n", 1)[1]) == 512 * 1024 and listener.cut == []
