"""render(): status, final URL, links from the rendered DOM, the request guard, failures; and the
`render: auto` decision."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator

import pytest

from vaern.config import Browser
from vaern.crawler.browser import BrowserSession
from vaern.crawler.expand import ExpandLimits
from vaern.crawler.render import Rendered, RenderError, compare_renderings, needs_browser, render
from vaern.testing.browsing import BrowserThread
from vaern.testing.jssite import JsSite


@pytest.fixture(scope="module")
def site() -> Iterator[JsSite]:
    with JsSite(delay=0.2) as s:
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserThread]:
    bt = BrowserThread(Browser(timeout=30, load_timeout=2, page_timeout=120))
    yield bt
    bt.close()


def do_render(browser: BrowserThread, url: str, **kwargs: object) -> Rendered:
    async def go(session: BrowserSession) -> Rendered:
        limits = ExpandLimits(max_seconds=60, step_timeout=30)
        return await render(session, url, limits, **kwargs)  # type: ignore[arg-type]

    return browser.run(go)


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode("utf-8"))


@pytest.mark.browser
def test_links_come_from_the_rendered_dom(browser: BrowserThread, site: JsSite) -> None:
    rendered = do_render(browser, site.url("/group/"))
    posts = [link for link in rendered.links if "/group/post/" in link and "comment=" not in link]
    assert posts == [site.url(f"/group/post/{n}") for n in range(1, 10)]
    assert site.url("/group/about") in rendered.links
    assert all("#" not in link for link in rendered.links)
    assert "/group/post/" not in http_get(site.url("/group/")), "without JavaScript there are no post links"
    assert rendered.status == 200 and rendered.title.startswith("Borgere i Eksempel Kommune")
    assert rendered.headers["content-type"].startswith("text/html")
    assert rendered.cut_off is None and rendered.seconds > 0


@pytest.mark.browser
def test_redirect_gives_the_final_url(browser: BrowserThread, site: JsSite) -> None:
    rendered = do_render(browser, site.url("/redirect/"))
    assert rendered.url == site.url("/redirect/")
    assert rendered.final_url == site.url("/plain/")
    assert rendered.status == 200


@pytest.mark.browser
def test_error_status_is_reported_not_raised(browser: BrowserThread, site: JsSite) -> None:
    rendered = do_render(browser, site.url("/no/such/page"))
    assert rendered.status == 404


@pytest.mark.browser
def test_refused_connection_raises(browser: BrowserThread) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RenderError, match="no connection: .* refused the connection"):
        do_render(browser, f"http://127.0.0.1:{port}/")


@pytest.mark.browser
def test_the_guard_sees_every_request(browser: BrowserThread, site: JsSite) -> None:
    """/leak/'s script calls the fixture's API on 127.0.0.2, which the guard refuses: the page is
    read without it, and the refusal is in its record, in time order with the other actions."""
    rendered = do_render(browser, site.url("/leak/"))
    assert rendered.blocked and all("127.0.0.2" in u and "/api/" in u for u in rendered.blocked if "127.0.0" in u)
    assert any("/api/leak" in u for u in rendered.blocked)
    refused = [a for a in rendered.actions if a.kind == "blocked"]
    assert [a.target for a in refused] == list(rendered.blocked)
    assert [a.at for a in rendered.actions] == sorted(a.at for a in rendered.actions)


@pytest.mark.browser
def test_the_context_opened_ahead_is_the_one_the_next_page_uses(site: JsSite) -> None:
    """A crawl renders page after page with its own user agent: each page's context was opened
    ahead, while the page before waited on the network, for that same kind of page — none is
    opened only to be thrown away."""
    opened: list[tuple[object, ...]] = []

    async def go(session: BrowserSession) -> list[str]:
        real = session._open

        async def counting(key: tuple[object, ...]) -> object:
            opened.append(key)
            return await real(key)  # type: ignore[arg-type]

        session._open = counting  # type: ignore[method-assign,assignment]
        limits = ExpandLimits(max_seconds=30, step_timeout=30)
        return [(await render(session, site.url(path), limits, user_agent="Vaern-test/1", headers={"X-T": "1"})).url
                for path in ("/plain/", "/more/", "/plain/", "/toggle/")]

    thread = BrowserThread(Browser(timeout=30, load_timeout=2, page_timeout=120))
    try:
        assert len(thread.run(go)) == 4
    finally:
        thread.close()
    # The first page's own context, then one opened ahead for each page after it (and for one more).
    assert len(opened) <= 5, opened
    assert all(key[0] == "Vaern-test/1" for key in opened), opened


@pytest.mark.browser
def test_page_timeout_ends_a_render(site: JsSite) -> None:
    bt = BrowserThread(Browser(timeout=10, load_timeout=30, page_timeout=2))
    try:
        with pytest.raises(RenderError, match=r"no result within 2 s \(browser.page_timeout\)"):
            do_render(bt, site.url("/endless/"))
    finally:
        bt.close()


# -- render: auto ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "verdict", "why"),
    [
        ("<html><body><p>" + "Tekst. " * 50 + "</p></body></html>", "http", "no scripts"),
        ("", "http", "empty response"),
        (
            "<html><body><noscript>Du skal slå JavaScript til</noscript><script src=a.js></script>"
            + "<p>" + "Tekst. " * 60 + "</p></body></html>",
            "browser",
            "<noscript> says: Du skal slå JavaScript til",
        ),
        ("<html><body><div id=root></div><script src=a.js></script></body></html>", "browser", "app shell: #root"),
        (
            "<html><body><app-root></app-root><script src=a.js></script></body></html>",
            "browser",
            "app shell: <app-root>",
        ),
        (
            "<html><body><h1>Nyheder</h1><div id=feed aria-busy=true></div><script>x()</script>"
            + "<p>" + "Tekst. " * 60 + "</p></body></html>",
            "browser",
            "app shell: #feed",
        ),
        ("<html><body><p>Kort.</p><script>x()</script></body></html>", "browser", "only 5 characters"),
        (
            "<html><body><p>" + "Tekst. " * 60 + "</p><script>track()</script></body></html>",
            "probe",
            "419 characters of visible text, and scripts",
        ),
    ],
)
def test_needs_browser(html: str, verdict: str, why: str) -> None:
    decision = needs_browser(html)
    assert decision.verdict == verdict
    assert decision.reason.startswith(why)
    assert decision.browser is (verdict == "browser")


def test_needs_browser_on_the_fixture_pages(site: JsSite) -> None:
    verdicts = {path: needs_browser(http_get(site.url(path))).verdict for path in (
        "/group/", "/group/post/3", "/feed/", "/more/", "/inner/", "/comments/", "/plain/",
    )}
    assert verdicts == {
        "/group/": "probe",  # a real header and rules text; only rendering tells
        "/group/post/3": "browser",  # #root app shell
        "/feed/": "browser",  # aria-busy
        "/more/": "browser",
        "/inner/": "browser",
        "/comments/": "probe",
        "/plain/": "http",
    }


def test_compare_renderings() -> None:
    base = "Borgere i Eksempel Kommune. " * 20
    assert compare_renderings(base, base).verdict == "http"
    assert compare_renderings(base, base + " ord" * 19).verdict == "http"
    decision = compare_renderings(base, base + " Annelise skriver igen om sagen" * 5)
    assert decision.verdict == "browser" and "25 words" in decision.reason
    # Posts that repeat the same words still count: multiplicity, not distinct words.
    assert compare_renderings("Hej", "Hej " + "samme ord igen " * 10).verdict == "browser"


def test_auto_sees_text_past_any_nesting_depth() -> None:
    """Text after thousands of unclosed tags is still text: such a page is not an empty shell."""
    text = "Tekst om René Rosenkilde. " * 20
    page = "<html><body>" + "<b>" * 3000 + f"<p>{text}</p><script>1</script></body></html>"
    assert needs_browser(page).verdict == "probe"
