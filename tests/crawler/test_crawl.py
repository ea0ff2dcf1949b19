"""One crawl of the fixture site, checked behaviour by behaviour.

The crawl runs once for the module (in a child process, as every crawl does) against a server
serving tests/site plus the behaviour paths; each test checks one thing it should have done.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC

import pytest

from tests.crawler.conftest import SITE_DIR, crawl_config
from vaern.crawler import ocr
from vaern.crawler.extract import extract_html
from vaern.crawler.fingerprint import fingerprint
from vaern.testing.crawling import CrawlOutcome, run_crawl
from vaern.testing.siteserver import DANISH, SiteServer


@pytest.fixture(scope="module")
def server() -> Iterator[SiteServer]:
    with SiteServer(SITE_DIR) as server:
        server.set_page(
            "/dynamic.html",
            f"""<html><head><title>Porte</title></head><body>
            <a href="http://localhost:{server.port}/offsite-by-name">samme server, andet værtsnavn</a>
            </body></html>""",
        )
        yield server


@pytest.fixture(scope="module")
def crawl(server: SiteServer) -> CrawlOutcome:
    config, site = crawl_config(
        [server.url("/")],
        timeout=2,
        retries=1,
        max_response_mb=1,
        follow={"max_depth": 3, "max_pages": 200, "deny": [r"/denied/"]},
    )
    outcome = run_crawl(config, site)
    assert outcome.error is None, outcome.error
    return outcome


def test_the_crawl_finishes_without_unexpected_warnings(crawl: CrawlOutcome) -> None:
    assert crawl.stats is not None and crawl.stats.finish_reason == "finished"
    assert crawl.unexpected_warnings == []


def test_pages_carry_url_status_time_body_hash_headers_and_depth(crawl: CrawlOutcome, server: SiteServer) -> None:
    page = crawl.page(server.url("/blog/post-1.html"))
    body = (SITE_DIR / "blog" / "post-1.html").read_bytes()
    assert page.site_id == "t" and page.status == 200
    assert page.fetched_at.tzinfo is UTC
    assert page.body == body
    # The hash is of what the page says and links to (crawler/fingerprint.py), not of its bytes.
    assert page.content_hash == fingerprint(page.title, page.text, extract_html(body, page.url).links, page.url)
    assert page.title == "Om sagsbehandlingen"
    assert page.encoding == "utf-8"
    assert page.etag and page.etag == page.headers["etag"]
    assert page.last_modified and page.depth == 1
    assert crawl.page(server.url("/")).depth == 0
    assert crawl.page(server.url("/forum/thread-1.html")).depth == 2


def test_text_keeps_inline_names_together_and_includes_alt_and_title_text(
    crawl: CrawlOutcome, server: SiteServer
) -> None:
    text = crawl.page(server.url("/blog/post-1.html")).text.split("\n")
    assert "Hvorfor får René Rosenkilde lov at sidde med vores sag?" in text
    assert "Billedet taler for sig selv: Lene Leder ved skrivebordet" in text
    assert "Tråden om Arne Arbejdsmiljø" in text
    assert text[-3:-1] == ["René", "Rosenkilde"] or ("René" in text and "Rosenkilde" in text)
    joined = "\n".join(text)
    assert "Skabelon" not in joined and "Hans Hansen" not in joined


def test_scripts_do_not_reach_the_text(crawl: CrawlOutcome, server: SiteServer) -> None:
    assert "tracking" not in crawl.page(server.url("/")).text
    assert "René" not in crawl.page(server.url("/")).text


def test_links_are_followed_to_max_depth_and_no_further(crawl: CrawlOutcome, server: SiteServer) -> None:
    assert server.url("/forum/thread-2.html") in crawl.urls  # depth 3
    assert server.url("/forum/thread-3.html") not in crawl.urls  # depth 4
    assert server.count("/forum/thread-3.html") == 0


def test_a_calendar_trap_ends_at_max_depth(crawl: CrawlOutcome, server: SiteServer) -> None:
    months = sorted(int(p.url.rsplit("/", 1)[1]) for p in crawl.pages if "/_/calendar/" in p.url)
    # /_/calendar/1 is at depth 1; each month links both ways, so depth 3 reaches -1 … 3.
    assert months == [-1, 0, 1, 2, 3]
    assert sum(1 for r in server.requests if r.route.startswith("/_/calendar/")) == 5


def test_each_url_is_requested_once(crawl: CrawlOutcome, server: SiteServer) -> None:
    pages = [r.path for r in server.requests if r.route.endswith(".html") or r.route in ("/", "/forum/")]
    assert len(pages) == len(set(pages)), pages


def test_deny_rules_and_other_hosts_are_not_followed(crawl: CrawlOutcome, server: SiteServer) -> None:
    assert server.count("/denied/page.html") == 0
    assert server.count("/offsite-by-name") == 0  # localhost is another host than 127.0.0.1
    assert all(not u.startswith("http://localhost") for u in crawl.urls)


def test_robots_txt_is_fetched_and_obeyed(crawl: CrawlOutcome, server: SiteServer) -> None:
    assert server.paths()[0] == "/robots.txt"
    assert server.count("/private/secret.html") == 0
    # A refused link is policy, not a failure.
    assert server.url("/private/secret.html") not in crawl.urls


def test_404_and_410_are_reported_gone(crawl: CrawlOutcome, server: SiteServer) -> None:
    assert sorted(crawl.gone) == [(server.url("/_/status/404"), 404), (server.url("/_/status/410"), 410)]


def test_a_500_is_retried_then_reported_failed_and_the_crawl_goes_on(crawl: CrawlOutcome, server: SiteServer) -> None:
    failure = crawl.failure(server.url("/_/status/500"))
    assert (failure.status, failure.reason) == (500, "HTTP 500")
    assert server.count("/_/status/500") == 2  # retries: 1
    assert server.url("/forum/thread-2.html") in crawl.urls


def test_a_timeout_is_retried_then_reported_failed(crawl: CrawlOutcome, server: SiteServer) -> None:
    failure = crawl.failure(server.url("/_/slow?seconds=5"))
    assert failure.reason == "timed out after 2 s" and failure.status is None
    assert server.count("/_/slow") == 2


def test_a_redirect_loop_is_reported_failed(crawl: CrawlOutcome, server: SiteServer) -> None:
    a, b = server.url("/_/redirect-loop/a"), server.url("/_/redirect-loop/b")
    assert crawl.failure(a).reason == f"redirect loop ({a} -> {b} -> {a})"
    # Caught when the chain comes back to itself, not after REDIRECT_MAX_TIMES hops.
    assert (server.count("/_/redirect-loop/a"), server.count("/_/redirect-loop/b")) == (1, 1)


def test_a_redirect_reports_the_final_url_once(crawl: CrawlOutcome, server: SiteServer) -> None:
    target = server.url("/blog/post-2.html")
    assert [p.url for p in crawl.pages].count(target) == 1
    assert server.url("/_/redirect?to=/blog/post-2.html") not in crawl.urls


def test_responses_over_the_size_limit_are_abandoned_with_or_without_content_length(
    crawl: CrawlOutcome, server: SiteServer
) -> None:
    for path in ("/_/huge?mb=2", "/_/huge?mb=2&chunked=1"):
        assert crawl.failure(server.url(path)).reason == "response larger than max_response_mb (1 MB)"


@pytest.mark.parametrize("path", ["/_/cp1252", "/_/cp1252?meta=1", "/_/cp1252?header=1"])
def test_windows_1252_danish_decodes_right(crawl: CrawlOutcome, server: SiteServer, path: str) -> None:
    page = crawl.page(server.url(path))
    assert page.encoding == "cp1252"
    assert page.title.startswith("Ærgerligt (") and page.text == DANISH


def test_a_byte_order_mark_beats_the_header(crawl: CrawlOutcome, server: SiteServer) -> None:
    page = crawl.page(server.url("/_/bom?header=iso-8859-1"))
    assert page.encoding == "utf-8"
    assert (page.title, page.text) == ("BOM", DANISH)


def test_plain_text_is_a_page(crawl: CrawlOutcome, server: SiteServer) -> None:
    assert crawl.page(server.url("/_/text")).text == DANISH


def test_non_html_is_skipped_not_reported_and_links_to_files_not_followed(
    crawl: CrawlOutcome, server: SiteServer
) -> None:
    assert server.count("/_/download") == 1  # no extension: fetched, body abandoned at the headers
    assert server.url("/_/download") not in crawl.urls
    assert crawl.stats is not None and crawl.stats.skipped == 1
    # A .png is never followed as a page; an <img> of a page is fetched once, to read its text,
    # where Tesseract is installed (ocr.enabled by default).
    assert server.count("/_/image.png") == (1 if ocr.reads_images(None) else 0)
    assert server.url("/_/image.png") not in crawl.urls


def test_stats_count_what_the_sink_heard(crawl: CrawlOutcome) -> None:
    stats = crawl.stats
    assert stats is not None
    assert stats.fetched == len(crawl.pages)
    assert stats.unchanged == len(crawl.unchanged) == 0
    assert stats.gone == len(crawl.gone) == 2
    assert stats.failed == len(crawl.failed) == 5  # 500, timeout, loop, 2 × too big
    assert stats.blocked == 0


def test_cookies_need_no_public_suffix_list_from_the_internet() -> None:
    """The cookie middleware's domain splitter uses tldextract's bundled snapshot: no URL to fetch,
    no cache to fill, and it still knows where a Danish domain's registrable part ends."""
    from scrapy.downloadermiddlewares import cookies

    from vaern.crawler.run import _offline_public_suffixes

    _offline_public_suffixes()
    splitter = cookies._split_domain
    assert splitter.suffix_list_urls == () and splitter.fallback_to_snapshot
    assert splitter("forum.kommune.dk").top_domain_under_public_suffix == "kommune.dk"
