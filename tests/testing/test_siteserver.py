"""The fixture site server itself: validators, 304s, recording, safety."""

from __future__ import annotations

import http.client
import threading
from pathlib import Path

import pytest

from tests.crawler.conftest import SITE_DIR
from vaern.testing.siteserver import SiteServer


def get(server: SiteServer, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), body


def test_files_and_set_pages_carry_validators_and_answer_304() -> None:
    with SiteServer(SITE_DIR) as server:
        status, headers, body = get(server, "/blog/post-1.html")
        assert status == 200 and body == (SITE_DIR / "blog" / "post-1.html").read_bytes()
        assert get(server, "/blog/post-1.html", **{"If-None-Match": headers["ETag"]})[0] == 304
        assert get(server, "/blog/post-1.html", **{"If-Modified-Since": headers["Last-Modified"]})[0] == 304
        # If-None-Match decides when present, even with a matching If-Modified-Since.
        both = {"If-None-Match": '"other"', "If-Modified-Since": headers["Last-Modified"]}
        assert get(server, "/blog/post-1.html", **both)[0] == 200

        server.set_page("/p", "<p>en</p>")
        etag = get(server, "/p")[1]["ETag"]
        server.set_page("/p", "<p>to</p>")
        status, headers, body = get(server, "/p", **{"If-None-Match": etag})
        assert (status, body) == (200, b"<p>to</p>") and headers["ETag"] != etag


def test_pages_without_validators_never_get_304() -> None:
    with SiteServer() as server:
        server.set_page("/p", "<p>x</p>", validators=False)
        status, headers, _ = get(server, "/p", **{"If-None-Match": "*"})
        assert status == 200 and "ETag" not in headers and "Last-Modified" not in headers


def test_removed_pages_and_unknown_paths_are_404() -> None:
    with SiteServer(SITE_DIR) as server:
        server.set_page("/p", "<p>x</p>")
        server.remove_page("/p")
        assert get(server, "/p")[0] == 404
        assert get(server, "/../../etc/passwd")[0] == 404
        assert get(server, "/_/no-such-behaviour")[0] == 404


def test_requests_are_recorded_with_their_headers() -> None:
    with SiteServer() as server:
        get(server, "/a?x=1", **{"User-Agent": "probe"})
        get(server, "/b")
        assert server.paths() == ["/a?x=1", "/b"]
        assert server.requests[0].headers["User-Agent"] == "probe"
        assert server.count("/a") == 1
        server.clear()
        assert server.requests == []


def test_only_loopback_addresses_are_bound(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="loopback"):
        SiteServer(tmp_path, host="0.0.0.0")


def test_a_route_answers_its_path_and_sees_a_posted_body() -> None:
    from vaern.testing.siteserver import Exchange

    seen: list[tuple[str, bytes, dict[str, str]]] = []

    def echo(ex: Exchange) -> None:
        seen.append((ex.method, ex.body, ex.query))
        ex.json({"route": ex.route}, headers={"Cache-Control": "no-store"})

    with SiteServer() as server:
        server.route("/api/echo", echo)
        server.route("/post/", lambda ex: ex.send(200, f"<p>{ex.route}</p>"), prefix=True)
        status, headers, body = get(server, "/api/echo?n=1")
        assert (status, body, headers["Cache-Control"]) == (200, b'{"route": "/api/echo"}', "no-store")
        connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
        connection.request("POST", "/api/echo", body=b"payload")
        assert connection.getresponse().status == 200
        connection.close()
        assert seen == [("GET", b"", {"n": "1"}), ("POST", b"payload", {})]
        assert get(server, "/post/7")[2] == b"<p>/post/7</p>" and "ETag" not in get(server, "/post/7")[1]
        assert server.count("/api/echo") == 2


def test_a_streamed_answer_ends_with_the_connection_and_stopping_releases_a_hang() -> None:
    from vaern.testing.siteserver import Exchange

    hanging = threading.Event()

    def hang(ex: Exchange) -> None:
        hanging.set()
        ex.server.stopping.wait()
        ex.send(503, "stopped")

    with SiteServer() as server:
        server.route("/stream", lambda ex: ex.stream(iter([b"<p>1</p>", b"<p>2</p>"])))
        server.route("/hang", hang)
        assert get(server, "/stream")[2] == b"<p>1</p><p>2</p>"
        connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
        connection.request("GET", "/hang")
        # Stop only once the handler holds the request: a connection the
        # server has not yet accepted is simply reset when it closes.
        assert hanging.wait(30)
    # The server stopped: the hanging handler was let go and answered.
    assert connection.getresponse().status == 503
    connection.close()
