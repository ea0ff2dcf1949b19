"""Evidence capture in a real Chromium against the local fixture site."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from warcio.archiveiterator import ArchiveIterator

from vaern.config import Config
from vaern.crawler.capture import (
    Capture,
    CaptureFailure,
    CaptureRequest,
    capture_pages,
    mark_incomplete,
    missing_mentions,
)
from vaern.storage.archive import Archive, sha256_hex
from vaern.testing.evidencesite import BLUE, CYAN, GREEN, MAGENTA, ORANGE, RED, Site, fixture_site
from vaern.testing.siteserver import SiteServer

pytestmark = pytest.mark.browser

DETECTED = datetime(2026, 11, 21, 14, 3, 11, tzinfo=UTC)


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    """The evidence fixture site, shared; tests that edit its post set it back first."""
    with fixture_site() as s:
        yield s


def _refused_url(path: str) -> str:
    """A local address where nothing listens (Chromium refuses well-known unsafe ports like 9)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def _config(**evidence: Any) -> Config:
    return Config.model_validate({
        "organisation": "Testby Kommune", "network": {"allow_private_hosts": ["127.0.0.1"]},
        "evidence": {"settle_seconds": 0.5, **evidence},
    })


def _request(site: Site, path: str, reason: str = "hit", **kw: Any) -> CaptureRequest:
    return CaptureRequest(site.url(path), "testsite", DETECTED, reason, **kw)


def _png(capture: Capture, kind: str = "screenshot") -> Image.Image:
    item = capture.file(kind)
    assert item is not None, f"no {kind}"
    return Image.open(io.BytesIO(item.data)).convert("RGB")


def _close(pixel: tuple[int, ...], rgb: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 8 for a, b in zip(pixel, rgb, strict=False))


def _provenance(capture: Capture) -> dict[str, Any]:
    item = capture.file("provenance")
    assert item is not None
    data: dict[str, Any] = json.loads(item.data)
    return data


def _records(capture: Capture) -> list[Any]:
    item = capture.file("warc")
    assert item is not None
    out = []
    for rec in ArchiveIterator(io.BytesIO(item.data)):
        out.append((rec.rec_type, rec.rec_headers, rec.http_headers, rec.content_stream().read()))
    return out


@pytest.fixture(scope="module")
def batch(site: Site) -> dict[str, Capture | CaptureFailure]:
    """One browser, many pages — as the pipeline calls it. A refused page sits in the middle."""
    paths = ["/tall", "/lazy", "/refused", "/inner", "/r1", "/gz", "/unreachable-removed"]
    requests = [_request(site, p) for p in paths]
    requests[2] = CaptureRequest(_refused_url("/gone"), "testsite", DETECTED, "hit")
    requests[6] = CaptureRequest(_refused_url("/post/1"), "testsite", DETECTED, "removed")
    requests[4] = _request(site, "/r1", raw_html=b"<p>what the crawler got</p>", raw_status=200,
                           matches=({"person": "rr", "name": "René Rosenkilde", "matched": "René Rosenkilde",
                                     "snippet": "Hvorfor får René Rosenkilde lov"},),
                           site_settings={"id": "testsite", "render": "http"})
    results = capture_pages(_config(pdf=True), requests)
    assert len(results) == len(paths)
    return dict(zip(paths, results, strict=True))


def _ok(batch: dict[str, Capture | CaptureFailure], path: str) -> Capture:
    result = batch[path]
    assert isinstance(result, Capture), result
    return result


def test_a_40000_px_page_is_captured_whole(batch: dict[str, Capture | CaptureFailure]) -> None:
    capture = _ok(batch, "/tall")
    image = _png(capture)
    assert image.size == (1280, 40000)
    assert _close(image.getpixel((150, 100)), RED)
    assert _close(image.getpixel((150, 20000)), GREEN)
    assert _close(image.getpixel((150, 39900)), BLUE)
    assert _close(image.getpixel((150, 10000)), (255, 255, 255))
    shot = _provenance(capture)["screenshot"]
    assert shot["method"] == "tiles" and shot["capped"] is False and shot["page_height"] == 40000
    assert sum(t["height"] for t in shot["tiles"]) == 40000


def test_hashes_are_taken_at_capture(batch: dict[str, Capture | CaptureFailure]) -> None:
    for result in batch.values():
        if isinstance(result, Capture):
            for item in result.files:
                assert item.sha256 == sha256_hex(item.data)
            assert {"screenshot", "html", "dom", "text", "warc", "provenance"} <= {f.kind for f in result.files}


def test_lazy_content_is_loaded_before_the_screenshot(batch: dict[str, Capture | CaptureFailure]) -> None:
    capture = _ok(batch, "/lazy")
    dom = capture.file("dom")
    assert dom is not None and "Kommentar indlæst senere" in dom.data.decode()
    assert "René Rosenkilde skal fyres" in capture.text
    html = capture.file("html")
    assert html is not None and "Kommentar indlæst senere" not in html.data.decode()  # as served: before scripts
    image = _png(capture)
    assert image.size[1] >= 4000
    assert any(_close(image.getpixel((150, y)), MAGENTA) for y in range(2500, image.size[1], 50))
    actions = _provenance(capture)["actions"]
    # The shared browser path's record: the window scrolled down past the first view, a view at a time.
    scrolls = [a for a in actions if a.get("kind") == "scroll" and a.get("target") == "window"]
    assert scrolls and int(scrolls[0]["detail"].split(" -> ")[1].split(" ")[0]) >= 900
    urls = [h["WARC-Target-URI"] for t, h, _, _ in _records(capture) if t == "response"]
    assert any(u.endswith("/lazy/more") for u in urls)


def test_inner_scrolling_container_is_not_lost(batch: dict[str, Capture | CaptureFailure], site: Site) -> None:
    capture = _ok(batch, "/inner")
    page = _png(capture)
    assert page.size[1] == 900  # the page itself does not scroll...
    feed = _png(capture, "scroller-1")  # ...its feed does, and was scrolled through
    assert feed.size[1] == 3000
    assert _close(feed.getpixel((100, 50)), ORANGE)
    assert _close(feed.getpixel((100, 2900)), CYAN)
    [scroller] = _provenance(capture)["inner_scrollers"]
    assert scroller["container"].endswith("main#feed") and scroller["scroll_height"] == 3000
    assert "Bottom of feed" in capture.text
    assert site.state.mutations == []  # the capture scrolled; it changed nothing in the page


def test_redirects_status_server_and_matches_are_recorded(batch: dict[str, Capture | CaptureFailure]) -> None:
    capture = _ok(batch, "/r1")
    assert capture.final_url.endswith("/post/1") and capture.status == 200
    prov = _provenance(capture)
    assert [(r["status"], r["url"].rsplit("/", 1)[1]) for r in prov["redirects"]] == [(302, "r1"), (301, "r2")]
    assert prov["redirects"][0]["location"] == "/r2"
    assert prov["server"]["ipAddress"] == "127.0.0.1"
    assert prov["tls"] is None  # plain HTTP: nothing to record, and it says so
    assert prov["tls_chain"] == {"error": "not an https page"} and capture.file("tls_chain") is None
    assert prov["clock_sync"]["synchronized"] in (True, False, "unknown") and isinstance(prov["post"], dict)
    assert prov["detected_at"] == "2026-11-21T14:03:11.000Z"
    assert prov["capture_started_at"] <= prov["capture_finished_at"]
    assert prov["browser"]["version"] and "Chrome" in prov["browser"]["user_agent"]
    assert prov["browser"]["viewport"] == {"width": 1280, "height": 900}
    assert prov["matches"][0]["snippet"] == "Hvorfor får René Rosenkilde lov"
    assert prov["site"] == {"id": "testsite", "render": "http"}
    assert prov["software"]["playwright"] and prov["software"]["warcio"]
    crawler_html = capture.file("crawler_html")
    assert crawler_html is not None and crawler_html.data == b"<p>what the crawler got</p>"
    html = capture.file("html")
    assert html is not None and "René Rosenkilde lov" in html.data.decode()
    assert capture.file("pdf") is not None and capture.file("pdf").data.startswith(b"%PDF")  # type: ignore[union-attr]


def test_warc_holds_every_exchange_and_our_artefacts(batch: dict[str, Capture | CaptureFailure]) -> None:
    capture = _ok(batch, "/r1")
    records = _records(capture)
    responses = [(h["WARC-Target-URI"].rsplit("/", 1)[1], http.get_statuscode(), h["WARC-IP-Address"])
                 for t, h, http, _ in records if t == "response"]
    assert ("r1", "302", "127.0.0.1") in responses and ("r2", "301", "127.0.0.1") in responses
    assert ("1", "200", "127.0.0.1") in responses and ("img.svg", "200", "127.0.0.1") in responses
    requests = [h for t, h, _, _ in records if t == "request"]
    assert len(requests) == len(responses) and all(h["WARC-Concurrent-To"] for h in requests)
    resources = {h["WARC-Target-URI"].split(":")[1]: body for t, h, _, body in records if t == "resource"}
    screenshot = capture.file("screenshot")
    assert screenshot is not None and resources["screenshot"] == screenshot.data
    meta = [body for t, _, _, body in records if t == "metadata"]
    assert json.loads(meta[0])["final_url"] == capture.final_url
    # A strict validator's request line (method, target, protocol), and our own records never at
    # a page's URL, so that replay without a timestamp shows the page, not our metadata.
    for t, h, http, _ in records:
        if t == "request":
            line = f"{http.protocol} {http.statusline}".split(" ")  # warcio splits the method off
            assert len(line) == 3 and line[0] == "GET" and line[1].startswith("/") and line[2] == "HTTP/1.1", line
        if t in ("metadata", "resource"):
            assert h["WARC-Target-URI"].startswith("urn:"), h["WARC-Target-URI"]


def test_warcio_check_and_index_accept_the_warc(batch: dict[str, Capture | CaptureFailure], tmp_path: Path) -> None:
    warcio = Path(sys.executable).parent / "warcio"
    for path in ("/tall", "/lazy", "/inner", "/r1", "/gz"):
        item = _ok(batch, path).file("warc")
        assert item is not None
        target = tmp_path / f"{path.strip('/')}.warc.gz"
        target.write_bytes(item.data)
        check = subprocess.run([str(warcio), "check", "-v", str(target)], capture_output=True, text=True)
        assert check.returncode == 0 and "digest pass" in check.stdout and "fail" not in check.stdout
        index = subprocess.run([str(warcio), "index", str(target)], capture_output=True, text=True)
        assert index.returncode == 0 and '"response"' in index.stdout


def test_content_encoding_is_kept_under_its_original_name(batch: dict[str, Capture | CaptureFailure]) -> None:
    capture = _ok(batch, "/gz")
    [(http, body)] = [(http, body) for t, h, http, body in _records(capture)
                      if t == "response" and h["WARC-Target-URI"].endswith("/gz")]
    assert http.get_header("X-Archive-Orig-Content-Encoding") == "gzip"
    assert http.get_header("Content-Encoding") is None
    assert "Karin Juhl" in body.decode() and int(http.get_header("Content-Length")) == len(body)


def test_a_failure_on_one_page_does_not_stop_the_rest(batch: dict[str, Capture | CaptureFailure]) -> None:
    failure = batch["/refused"]
    assert isinstance(failure, CaptureFailure)
    assert "ERR_CONNECTION_REFUSED" in failure.error and failure.url.endswith("/gone")
    assert isinstance(batch["/inner"], Capture) and isinstance(batch["/r1"], Capture)


def test_a_removal_that_no_longer_answers_is_recorded(batch: dict[str, Capture | CaptureFailure]) -> None:
    capture = _ok(batch, "/unreachable-removed")  # for a removal, "no answer" is the evidence
    assert capture.status is None and capture.reason == "removed"
    assert "ERR_CONNECTION_REFUSED" in _provenance(capture)["navigation_error"]
    assert capture.notes[0].startswith("navigation failed: ") and capture.file("screenshot") is not None


def test_cap_is_recorded_when_hit(site: Site) -> None:
    [capture] = capture_pages(_config(max_height=20000, expand_steps=2), [_request(site, "/tall")])
    assert isinstance(capture, Capture)
    image = _png(capture)
    assert image.size == (1280, 20000)
    assert _close(image.getpixel((150, 19950)), GREEN)
    shot = _provenance(capture)["screenshot"]
    assert shot["capped"] is True and shot["max_height"] == 20000 and shot["page_height"] == 40000
    assert capture.notes == ("page is 40000 px tall; screenshot capped at 20000 px",)


def test_edited_then_deleted_page_gives_versions_and_a_gone_state(site: Site, tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    config = _config(expand_steps=2)
    site.state.post = "Hvorfor får René Rosenkilde lov at arbejde her?"
    [first] = capture_pages(config, [_request(site, "/post/1")])
    site.state.post = "Hvorfor får René Rosenkilde lov at arbejde her? Han er en skam."
    [second] = capture_pages(config, [_request(site, "/post/1", "update")])
    site.state.post = None
    [gone] = capture_pages(config, [_request(site, "/post/1", "removed")])
    assert isinstance(first, Capture) and isinstance(second, Capture) and isinstance(gone, Capture)
    assert "Han er en skam" in second.text and "Han er en skam" not in first.text
    assert gone.status == 404 and "Opslaget findes ikke" in gone.text

    stored = [archive.store(c, n) for n, c in enumerate((first, second, gone), start=1)]
    assert archive.manifest(stored[2].manifest_path)["http_status"] == 404
    assert archive.manifest(stored[2].manifest_path)["reason"] == "removed"
    assert stored[0].files["html"]["sha256"] != stored[1].files["html"]["sha256"]
    assert archive.verify([(s.manifest_path, s.manifest_sha256) for s in stored]) == []


def test_a_page_that_never_finishes_loading_is_still_captured(site: Site) -> None:
    [capture] = capture_pages(_config(page_timeout=2, expand_steps=2), [_request(site, "/slow")])
    assert isinstance(capture, Capture), capture
    assert "René Rosenkilde står her" in capture.text
    assert capture.notes == ("the load event did not fire within 2 s; captured as it was",)
    assert capture.file("screenshot") is not None


def test_requests_the_page_makes_pass_the_ssrf_guard(site: Site) -> None:
    """A page whose script calls an internal address (127.0.0.2, not allowed) gets a refusal,
    the internal service never sees the request, and the provenance says what was refused."""
    with SiteServer(host="127.0.0.2") as internal:
        internal.set_page("/secret", "intern hemmelighed", content_type="text/plain",
                          headers={"Access-Control-Allow-Origin": "*"})
        secret = internal.url("/secret")
        leak, refused = capture_pages(_config(), [
            _request(site, f"/leak?to={secret}"),
            CaptureRequest(secret, "testsite", DETECTED, "hit"),
        ])
        seen = internal.paths()
    assert seen == [], "the internal service was reached"
    assert isinstance(leak, Capture), leak
    assert "blokeret" in leak.text and "hemmelighed" not in leak.text
    blocked = _provenance(leak)["network"]["blocked"]
    assert len(blocked) == 1 and blocked[0].startswith(f"refused {secret}: 127.0.0.2 is a")
    assert isinstance(refused, CaptureFailure) and "network.allow_private_hosts" in refused.error


def test_a_capture_that_does_not_show_a_mention_says_which_and_why() -> None:
    """Evidence must show what was found: a name only in hidden HTML, or not on the page at all,
    is missing from the capture, and the capture is marked incomplete with the reason."""
    with SiteServer() as server:
        server.set_page("/hidden", "<p>Opslag om sagen</p><p style='display:none'>René Rosenkilde</p>"
                                   "<p>Karin <span style='text-transform:uppercase'>Juhl</span> svarer ikke</p>")
        matches = ({"person": "rr", "matched": "René Rosenkilde", "field": "text"},
                   {"person": "kj", "matched": "Karin Juhl", "field": "text"},
                   {"person": "ms", "matched": "Mette Sørensen", "field": "title"})
        request = CaptureRequest(server.url("/hidden"), "testsite", DETECTED, "hit", matches=matches)
        [capture] = capture_pages(_config(), [request])
    assert isinstance(capture, Capture), capture
    missing = missing_mentions(request, capture)
    # Karin Juhl is shown (in capitals: compared case-folded); the others are not.
    assert missing == ["'René Rosenkilde' is in the page's HTML but not shown", "'Mette Sørensen' (title) is missing"]
    assert capture.complete and capture.incomplete_reason is None
    marked = mark_incomplete(capture, missing, tried=2)
    assert not marked.complete and marked.incomplete_reason is not None
    assert "captured 2 times" in marked.incomplete_reason and "René Rosenkilde" in marked.incomplete_reason
    assert marked.notes[-1] == f"incomplete: {marked.incomplete_reason}"
    removal = CaptureRequest(request.url, "testsite", DETECTED, "removed", matches=matches)
    assert missing_mentions(removal, capture) == []  # a removal shows the page as it is now
