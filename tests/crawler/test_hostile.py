"""A hostile site against the browser path: every way a page can make Chromium connect somewhere
internal (redirect hops in every address spelling, subresources, fetch, forms, WebSockets,
EventSource, workers, prefetch, script navigation), oversized and bomb pages, self-navigating
pages. The "internal" service is a recording server on 127.0.0.2, which the guard refuses; each
test asserts it received nothing, and that nothing of it was read, captured or printed.

Crawl rendering, evidence capture and PDF printing each face the vectors that reach them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vaern.config import Browser, Config
from vaern.crawler.browser import BrowserSession
from vaern.crawler.capture import Capture, CaptureFailure, CaptureRequest, capture_pages
from vaern.crawler.expand import ExpandLimits
from vaern.crawler.render import Rendered, RenderError, render
from vaern.testing.browsing import BrowserThread
from vaern.testing.siteserver import SiteServer

pytestmark = pytest.mark.browser

SECRET = "INTERN HEMMELIGHED"
# A page that takes memory before it has even loaded (1 GB, touched so it is really held), then
# goes on taking more: it is past any ceiling below that however slow the machine is.
HOG = """<p>Hukommelse</p><script>
    const keep = [];
    for (let i = 0; i < 20; i++) keep.push(new Uint8Array(5e7).fill(1));
    function grow() { keep.push(new Uint8Array(5e7).fill(1)); setTimeout(grow, 20); }
    grow();</script>"""


@pytest.fixture(scope="module")
def internal() -> Iterator[SiteServer]:
    with SiteServer(host="127.0.0.2") as server:
        for path in ("/secret", "/img", "/frame", "/fetch", "/post", "/es", "/worker", "/prefetch", "/beacon"):
            server.set_page(path, f"<p>{SECRET}</p>", headers={"Access-Control-Allow-Origin": "*"})
        yield server


@pytest.fixture(scope="module")
def hostile() -> Iterator[SiteServer]:
    with SiteServer() as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserThread]:
    bt = BrowserThread(Browser(timeout=10, load_timeout=5, page_timeout=60))
    yield bt
    bt.close()


@pytest.fixture(autouse=True)
def fresh_recorder(internal: SiteServer) -> Iterator[None]:
    internal.clear()
    yield
    time.sleep(0.3)  # anything still on its way would arrive now
    assert internal.requests == [], f"the internal service was reached: {internal.paths()}"


def do_render(browser: BrowserThread, url: str) -> Rendered:
    async def go(session: BrowserSession) -> Rendered:
        return await render(session, url, ExpandLimits(max_seconds=20, step_timeout=10))

    return browser.run(go)


def inward(internal: SiteServer, host: str, path: str = "/secret") -> str:
    return f"http://{host}:{internal.port}{path}"


# -- navigation and its redirect hops ---------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307])
@pytest.mark.parametrize("host", ["127.0.0.2", "2130706434", "0x7f000002", "0177.0.0.2", "[::ffff:127.0.0.2]"])
def test_a_redirect_inward_is_refused_in_every_spelling(
    browser: BrowserThread, hostile: SiteServer, internal: SiteServer, status: int, host: str
) -> None:
    url = hostile.url(f"/_/redirect?status={status}&to={inward(internal, host)}")
    with pytest.raises(RenderError, match="blocked: refused http://.*(loopback|not globally)"):
        do_render(browser, url)


def test_a_script_navigation_inward_is_recorded_as_blocked_not_stored(
    browser: BrowserThread, hostile: SiteServer, internal: SiteServer
) -> None:
    hostile.set_page("/jsredirect", f'<p>Vent</p><script>location.href = "{inward(internal, "127.0.0.2")}"</script>')
    with pytest.raises(RenderError, match="blocked"):
        do_render(browser, hostile.url("/jsredirect"))


def test_an_auto_submitted_form_posting_through_a_307_is_refused(
    browser: BrowserThread, hostile: SiteServer, internal: SiteServer
) -> None:
    to = inward(internal, "127.0.0.2", "/post")
    hostile.set_page("/form", (
        f'<form id=f method=post action="/_/redirect?status=307&to={to}"><input name=a value=b></form>'
        "<script>document.getElementById('f').submit()</script>"
    ))
    with pytest.raises(RenderError, match="blocked"):
        do_render(browser, hostile.url("/form"))


# -- everything else a page can open ----------------------------------------------------------


def test_subresources_fetch_websockets_workers_and_prefetch_are_refused(
    browser: BrowserThread, hostile: SiteServer, internal: SiteServer
) -> None:
    port = internal.port
    via = "/_/redirect?to=" + inward(internal, "127.0.0.2", "{}")
    hostile.set_page("/everything", f"""
        <p>Rene side</p>
        <img src="{via.format('/img')}">
        <iframe src="{via.format('/frame')}"></iframe>
        <link rel="prefetch" href="http://127.0.0.2:{port}/prefetch">
        <div id="out"></div>
        <script>
          const out = document.getElementById('out');
          fetch('{via.format('/fetch')}').then(r => r.text()).then(t => out.textContent += t).catch(() => 0);
          fetch('http://127.0.0.2:{port}/fetch').then(r => r.text()).then(t => out.textContent += t).catch(() => 0);
          try {{ const ws = new WebSocket('ws://127.0.0.2:{port}/ws');
                 ws.onmessage = (m) => out.textContent += m.data; }} catch (e) {{}}
          try {{ new WebSocket('wss://127.0.0.2:{port}/wss'); }} catch (e) {{}}
          try {{ new EventSource('http://127.0.0.2:{port}/es'); }} catch (e) {{}}
          try {{ navigator.sendBeacon('http://127.0.0.2:{port}/beacon', 'x'); }} catch (e) {{}}
          const src = "fetch('http://127.0.0.2:{port}/worker').catch(() => 0)";
          try {{ new Worker(URL.createObjectURL(new Blob([src]))); }} catch (e) {{}}
        </script>""")
    rendered = do_render(browser, hostile.url("/everything"))
    assert "Rene side" in rendered.html and SECRET not in rendered.html
    blocked = " ".join(rendered.blocked)
    for path in ("/img", "/frame", "/fetch", "/es", "/prefetch"):
        assert f"127.0.0.2:{port}{path}" in blocked, (path, rendered.blocked)
    assert f"127.0.0.2:{port}/" in blocked  # the WebSocket tunnels (CONNECT) were refused too
    kinds = [a for a in rendered.actions if a.kind == "blocked"]
    assert [a.target for a in kinds] == list(rendered.blocked)
    assert all("loopback address" in a.detail for a in kinds if "127.0.0.2" in a.target)


# -- bounded pages ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/_/huge?mb=50", "/_/huge?mb=50&chunked=1", "/_/gzip-bomb?mb=60"])
def test_oversized_and_bomb_pages_are_cut_and_recorded_as_too_large(
    browser: BrowserThread, hostile: SiteServer, path: str
) -> None:
    with pytest.raises(RenderError, match=r"too large: the page is larger than 5 MB"):
        do_render(browser, hostile.url(path))
    # The session goes on: the next page renders as usual.
    hostile.set_page("/after", "<p>Næste side</p>")
    assert "Næste side" in do_render(browser, hostile.url("/after")).html


def test_a_page_past_the_memory_ceiling_fails_and_the_session_goes_on(hostile: SiteServer) -> None:
    bt = BrowserThread(Browser(timeout=10, load_timeout=5, page_timeout=60, max_memory_mb=700))
    try:
        hostile.set_page("/hog", HOG)
        with pytest.raises(RenderError, match=r"past 700 MB of memory \(browser.max_memory_mb"):
            do_render(bt, hostile.url("/hog"))
        hostile.set_page("/calm-render", "<p>Karin Kjær</p>")
        assert "Karin Kjær" in do_render(bt, hostile.url("/calm-render")).html
    finally:
        bt.close()


# -- pages that navigate themselves ----------------------------------------------------------


@pytest.mark.parametrize("after_ms", [0, 300, 2000])
def test_a_page_that_reloads_itself_is_read_once_it_settles(
    browser: BrowserThread, hostile: SiteServer, after_ms: int
) -> None:
    hostile.set_page(f"/reload{after_ms}", (
        "<p>René Rosenkilde er nævnt her</p><script>"
        f"if (!sessionStorage.getItem('done')) {{ sessionStorage.setItem('done', '1');"
        f" setTimeout(() => location.reload(), {after_ms}); }}</script>"
    ))
    rendered = do_render(browser, hostile.url(f"/reload{after_ms}"))
    assert "René Rosenkilde er nævnt her" in rendered.html
    assert not rendered.final_url.startswith("chrome-error")


def test_a_page_that_reloads_itself_for_ever_is_read_as_it_stands(
    browser: BrowserThread, hostile: SiteServer
) -> None:
    hostile.set_page("/reloading", "<p>Karin Kjær</p><script>setTimeout(() => location.reload(), 300)</script>")
    rendered = do_render(browser, hostile.url("/reloading"))
    assert "Karin Kjær" in rendered.html


# -- evidence capture and printing ------------------------------------------------------------

DETECTED = datetime(2026, 11, 21, 14, 3, 11, tzinfo=UTC)


def _config() -> Config:
    return Config.model_validate({
        "organisation": "Testby Kommune", "network": {"allow_private_hosts": ["127.0.0.1"]},
        "evidence": {"settle_seconds": 0.5, "page_timeout": 10},
    })


def test_capture_of_a_page_that_sends_browsers_inward_is_refused_not_archived(
    hostile: SiteServer, internal: SiteServer
) -> None:
    """The page shows a crawler a post naming someone and answers Chromium with a redirect to
    an internal address: nothing internal may become evidence."""
    cloaked = hostile.url(f"/_/cloak?say=Ren%C3%A9+Rosenkilde&to={inward(internal, '127.0.0.2')}")
    js_nav = "/jsnav"
    to = inward(internal, "127.0.0.2")
    hostile.set_page(js_nav, f'<p>René</p><script>setTimeout(() => location.href = "{to}", 100)</script>')
    results = capture_pages(_config(), [
        CaptureRequest(cloaked, "hostile", DETECTED, "hit"),
        CaptureRequest(hostile.url("/_/redirect?status=307&to=" + inward(internal, "0x7f000002")), "hostile", DETECTED),
        CaptureRequest(hostile.url(js_nav), "hostile", DETECTED),
    ])
    assert all(isinstance(r, CaptureFailure) for r in results), results
    assert all("blocked" in r.error for r in results if isinstance(r, CaptureFailure)), results


def test_a_capture_past_the_memory_ceiling_fails_and_the_batch_goes_on(hostile: SiteServer) -> None:
    hostile.set_page("/hog2", HOG)
    hostile.set_page("/calm", "<p>René Rosenkilde</p>")
    config = _config().model_copy(update={"browser": Browser(max_memory_mb=700)})
    hog, calm = capture_pages(config, [CaptureRequest(hostile.url(p), "hostile", DETECTED) for p in ("/hog2", "/calm")])
    assert isinstance(hog, CaptureFailure) and "past 700 MB of memory" in hog.error, hog
    assert isinstance(calm, Capture) and "René Rosenkilde" in calm.text, calm


def test_capture_records_refused_subrequests_and_keeps_the_page(hostile: SiteServer, internal: SiteServer) -> None:
    hostile.set_page("/sub", (
        f'<p>René Rosenkilde</p><img src="/_/redirect?to={inward(internal, "127.0.0.2", "/img")}">'
        f"<script>try {{ new WebSocket('ws://127.0.0.2:{internal.port}/ws') }} catch (e) {{}}</script>"
    ))
    [capture] = capture_pages(_config(), [CaptureRequest(hostile.url("/sub"), "hostile", DETECTED)])
    assert isinstance(capture, Capture), capture
    assert "René Rosenkilde" in capture.text and SECRET not in capture.text
    provenance = capture.file("provenance")
    assert provenance is not None
    blocked = json.loads(provenance.data)["network"]["blocked"]
    assert any(f"127.0.0.2:{internal.port}/img" in n for n in blocked), blocked


def test_the_report_printer_reaches_nothing(tmp_path: Path, internal: SiteServer) -> None:
    from vaern.crawler.pdf import print_pdf as _print_pdf

    port = internal.port
    html = tmp_path / "report.html"
    html.write_text(f"""<html><body><p>Rapport</p>
        <img src="http://127.0.0.2:{port}/img"><iframe src="http://127.0.0.2:{port}/frame"></iframe>
        <script>fetch('http://127.0.0.2:{port}/fetch').catch(() => 0);
                try {{ new WebSocket('ws://127.0.0.2:{port}/ws') }} catch (e) {{}}</script>
        </body></html>""", encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    _print_pdf(_config(), html, pdf)
    assert pdf.read_bytes().startswith(b"%PDF")


# -- the whole crawl --------------------------------------------------------------------------


def test_a_browser_crawl_of_the_hostile_site_stores_nothing_internal(
    hostile: SiteServer, internal: SiteServer
) -> None:
    """A `render: browser` crawl follows links to every inward trick: each such page fails with
    the guard's reason, none is stored as a page, and the crawl goes on to the honest page."""
    from vaern.config import Network, Site
    from vaern.testing.crawling import run_crawl

    hops = [f"/_/redirect?status={s}&to={inward(internal, h)}" for s, h in ((301, "2130706434"), (307, "0x7f000002"))]
    hostile.set_page("/js-inward", f'<p>Vent</p><script>location.href = "{inward(internal, "127.0.0.2")}"</script>')
    hostile.set_page("/honest", "<p>René Rosenkilde svarer aldrig</p>")
    links = "".join(f'<a href="{h}">x</a>' for h in [*hops, "/js-inward", "/_/huge?mb=50", "/honest"])
    hostile.set_page("/start", f"<p>Forside</p>{links}")
    site = Site(id="hostile", start_urls=[hostile.url("/start")], render="browser", robots="ignore", delay=0,
                autothrottle=False, follow={"max_depth": 1})
    config = Config(organisation="Testby", network=Network(allow_private_hosts=["127.0.0.1"]), sites=[site])
    outcome = run_crawl(config, site, timeout=240)
    assert outcome.error is None, outcome.error
    texts = "\n".join(p.text for p in outcome.pages)
    assert SECRET not in texts and "René Rosenkilde svarer aldrig" in texts
    assert not any("127.0.0.2" in p.url or p.url.startswith("chrome-error") for p in outcome.pages)
    reasons = {f.url: f.reason for f in outcome.failed}
    assert sum("blocked: refused http://127.0.0.2" in r for r in reasons.values()) == 3, reasons
    assert any("too large" in r for r in reasons.values()), reasons
