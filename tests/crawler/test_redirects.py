"""Redirects in a real crawl: a meta refresh or a 3xx to anything but an http(s) URL is not followed.

A browser ignores `<meta http-equiv="refresh" content="0;url=javascript:void(0)">` (or mailto:,
tel:, data:, …) and shows the page, so the crawl must read that page as it is; it used to fail
it ("Missing scheme") and the names on it were never matched.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.crawler.conftest import crawl_config
from vaern.crawler.redirects import followable
from vaern.testing.crawling import CrawlOutcome, run_crawl
from vaern.testing.siteserver import SiteServer

POST = "<p>René Rosenkilde lyver i sin journal.</p>"
# Targets no browser navigates to: the page stays where it is.
IGNORED = {
    "/js": "0;url=javascript:void(0)",
    "/js-quoted": "0; URL='javascript:alert(1)'",
    "/js-upper": "0;URL=JAVASCRIPT:history.back()",
    "/mailto": "0;url=mailto:redaktion@example.dk",
    "/tel": "1;url=tel:+4512345678",
    "/data": "0;url=data:text/html,<p>andet</p>",
    "/ftp": "0;url=ftp://93.184.216.34/fil",
    "/about": "0;url=about:blank",
    "/odd-scheme": "0;url=x-intern-app:åbn",
    "/broken-ipv6": "0;url=http://[::1/",
}


def refresh_page(content: str) -> str:
    return f"""<html><head><meta http-equiv="refresh" content="{content}"><title>Opslag</title></head>
    <body>{POST}</body></html>"""


@pytest.fixture(scope="module")
def server() -> Iterator[SiteServer]:
    with SiteServer() as server:
        for path, content in IGNORED.items():
            server.set_page(path, refresh_page(content))
        server.set_page("/follow", refresh_page("0;url=/target"))
        server.set_page("/target", "<html><body><p>Her er målet.</p></body></html>")
        # After a delay: the page shows until then.
        server.set_page("/delay-home", refresh_page("10;url=/"))
        server.set_page("/delay-new", refresh_page("2.5; URL='/later'"))
        server.set_page("/later", "<html><body><p>Senere.</p></body></html>")
        links = [
            *IGNORED,
            "/follow",
            "/delay-home",
            "/delay-new",
            "/_/redirect?to=javascript:void(0)",
            "/_/redirect?to=mailto:x@example.dk",
        ]
        server.set_page("/", "".join(f'<a href="{path}">{path}</a> ' for path in links))
        yield server


@pytest.fixture(scope="module")
def crawl(server: SiteServer) -> CrawlOutcome:
    config, site = crawl_config([server.url("/")], follow={"max_depth": 2, "max_pages": 50})
    outcome = run_crawl(config, site)
    assert outcome.error is None, outcome.error
    return outcome


@pytest.mark.parametrize("path", sorted(IGNORED))
def test_a_refresh_to_a_target_no_browser_follows_leaves_the_page_read_as_it_is(
    crawl: CrawlOutcome, server: SiteServer, path: str
) -> None:
    assert server.url(path) not in {f.url for f in crawl.failed}
    page = crawl.page(server.url(path))
    assert page.status == 200 and "René Rosenkilde lyver i sin journal." in page.text


def test_a_refresh_to_an_http_page_is_still_followed(crawl: CrawlOutcome, server: SiteServer) -> None:
    assert "Her er målet." in crawl.page(server.url("/target")).text
    assert server.url("/follow") not in crawl.urls


@pytest.mark.parametrize("path", ["/delay-home", "/delay-new"])
def test_a_page_that_refreshes_after_a_delay_is_read_as_a_browser_shows_it_until_then(
    crawl: CrawlOutcome, server: SiteServer, path: str
) -> None:
    # Redirected at once, a post refreshing to the front page (already fetched) was never read.
    assert "René Rosenkilde lyver i sin journal." in crawl.page(server.url(path)).text


def test_the_target_of_a_refresh_after_a_delay_is_followed_as_a_link(crawl: CrawlOutcome, server: SiteServer) -> None:
    assert "Senere." in crawl.page(server.url("/later")).text
    assert crawl.page(server.url("/later")).depth == 2


def test_a_3xx_to_a_target_no_browser_follows_is_a_redirect_without_a_usable_location(
    crawl: CrawlOutcome, server: SiteServer
) -> None:
    for target in ("javascript:void(0)", "mailto:x@example.dk"):
        failure = crawl.failure(server.url(f"/_/redirect?to={target}"))
        assert (failure.status, failure.reason) == (302, "redirect without a usable Location")


def test_the_crawl_has_no_unexpected_warnings(crawl: CrawlOutcome) -> None:
    assert crawl.unexpected_warnings == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.dk/x", True),
        ("HTTPS://example.dk", True),
        ("javascript:void(0)", False),
        ("mailto:a@example.dk", False),
        ("data:text/html,hi", False),
        ("ftp://example.dk/", False),
        ("http:///sti", False),
        ("http://[::1/", False),
    ],
)
def test_followable(url: str, expected: bool) -> None:
    assert followable(url) is expected
