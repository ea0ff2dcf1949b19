"""A second crawl of a site the database knows: conditional GET, content hash, removals."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from tests.crawler.conftest import crawl_config
from vaern import clock
from vaern.crawler.run import KnownPage
from vaern.testing.crawling import CrawlOutcome, run_crawl
from vaern.testing.siteserver import SiteServer

Crawls = tuple[CrawlOutcome, CrawlOutcome, list[str]]  # first crawl, second crawl, paths the second requested


def page(title: str, *links: str, text: str = "") -> str:
    anchors = "".join(f'<li><a href="{link}">{link}</a></li>' for link in links)
    return f"<html><head><title>{title}</title></head><body><p>{text or title}</p><ul>{anchors}</ul></body></html>"


@pytest.fixture(scope="module")
def site() -> Iterator[SiteServer]:
    with SiteServer() as server:
        server.set_page("/", page("Forside", "/a", "/b", "/no-validators"))
        server.set_page("/a", page("A", "/a/deep"))
        server.set_page("/a/deep", page("Dyb", "/removed"))
        server.set_page("/b", page("B"))
        server.set_page("/no-validators", page("Uden ETag"), validators=False)
        server.set_page("/removed", page("Snart slettet"))
        server.set_page("/orphan", page("Forældreløs"))  # known from before; nothing links here now
        yield server


@pytest.fixture(scope="module")
def crawls(site: SiteServer) -> Crawls:
    config, site_config = crawl_config([site.url("/")], robots="ignore")
    first = run_crawl(config, site_config)
    assert first.error is None, first.error
    known = first.known()
    known[site.url("/orphan")] = KnownPage(site.url("/orphan"), None, None, "0" * 64)

    # Between the crawls: B is edited, /removed is deleted, /no-validators is served again unchanged.
    site.set_page("/b", page("B", "/b/new", text="B er ændret og nævner René Rosenkilde"))
    site.set_page("/b/new", page("Ny side"))
    site.remove_page("/removed")
    site.clear()
    second = run_crawl(config, site_config, known)
    assert second.error is None, second.error
    return first, second, site.paths()


def test_the_first_crawl_reports_every_page_with_its_validators(crawls: Crawls, site: SiteServer) -> None:
    first, _, _ = crawls
    paths = ("/", "/a", "/a/deep", "/b", "/no-validators", "/removed")
    assert {p.url for p in first.pages} == {site.url(p) for p in paths}
    assert first.page(site.url("/a")).etag is not None
    assert first.page(site.url("/no-validators")).etag is None


def test_unchanged_pages_answer_304_to_a_conditional_get(crawls: Crawls, site: SiteServer) -> None:
    _, second, _ = crawls
    requests = {r.path: r for r in site.requests}
    assert requests["/a"].headers.get("If-None-Match", "").startswith('"')
    assert requests["/a"].headers.get("If-Modified-Since")
    for path in ("/a", "/a/deep"):
        assert site.url(path) in second.unchanged


def test_start_pages_are_fetched_in_full_and_unchanged_by_their_hash(
    crawls: Crawls, site: SiteServer
) -> None:
    _, second, _ = crawls
    assert "If-None-Match" not in {r.path: r for r in site.requests}["/"].headers
    assert site.url("/") in second.unchanged


def test_a_page_without_validators_is_unchanged_by_its_content_hash(crawls: Crawls, site: SiteServer) -> None:
    _, second, _ = crawls
    assert "If-None-Match" not in {r.path: r for r in site.requests}["/no-validators"].headers
    assert site.url("/no-validators") in second.unchanged
    assert site.url("/no-validators") not in {p.url for p in second.pages}


def test_a_changed_page_is_reported_and_its_new_links_followed(crawls: Crawls, site: SiteServer) -> None:
    _, second, _ = crawls
    assert "René Rosenkilde" in second.page(site.url("/b")).text
    assert second.page(site.url("/b/new")).depth == 2


def test_known_pages_nothing_links_to_are_rechecked_so_removals_are_noticed(
    crawls: Crawls, site: SiteServer
) -> None:
    _, second, _ = crawls
    # /a answered 304, so the links below it are unknown this time: known URLs are re-checked.
    assert (site.url("/removed"), 404) in second.gone
    # An orphan known from before with another hash: fetched and reported as a page.
    assert second.page(site.url("/orphan")).title == "Forældreløs"


def test_the_second_crawl_requests_each_url_once_and_reports_each_once(crawls: Crawls) -> None:
    _, second, paths = crawls
    assert len(paths) == len(set(paths)), paths
    reported = [p.url for p in second.pages] + second.unchanged + [u for u, _ in second.gone]
    assert len(reported) == len(set(reported))
    assert second.stats is not None
    assert (second.stats.fetched, second.stats.unchanged, second.stats.gone) == (3, 4, 1)
    assert second.unexpected_warnings == []


def test_known_pages_not_reached_wait_for_recheck_after_unless_someone_is_named_there() -> None:
    """Checked within `follow.recheck_after` and no open hit: not requested again. An open hit,
    or a last check older than that: re-checked, so a deletion is still noticed at once."""
    with SiteServer() as server:
        server.set_page("/", page("Forside", "/a"))
        server.set_page("/a", page("A", "/a/quiet", "/a/named", "/a/stale"))
        for path in ("/a/quiet", "/a/named", "/a/stale"):
            server.set_page(path, page(path))
        config, site_config = crawl_config([server.url("/")], robots="ignore", follow={"recheck_after": "6h"})
        first = run_crawl(config, site_config)
        assert first.error is None, first.error
        now = clock.now()
        known = {
            url: replace(k, checked_at=now, open_hit=url.endswith("/a/named")) for url, k in first.known().items()
        }
        stale = server.url("/a/stale")
        known[stale] = replace(known[stale], checked_at=now - timedelta(hours=7))
        server.remove_page("/a/named")  # deleted between the crawls
        server.clear()
        second = run_crawl(config, site_config, known)
    assert second.error is None, second.error
    # /a answered 304, so nothing led to the three below it this time.
    assert sorted(server.paths()) == ["/", "/a", "/a/named", "/a/stale"]
    assert second.gone == [(server.url("/a/named"), 404)]
    assert server.url("/a/stale") in second.unchanged


def test_a_known_page_that_redirects_to_another_page_is_gone_but_not_one_that_only_moved_its_slash() -> None:
    """A redirect to another page removes the page (the pipeline removes its hits); the same
    page under a trailing slash or a slug is not another page. A redirect to a page this crawl
    has read already counts too (Scrapy never hands such a response to the spider)."""
    with SiteServer() as server:
        server.set_page("/", page("Forside", "/elsewhere"))
        server.set_page("/elsewhere", page("Andet sted"))
        server.set_page("/post/1", "", status=301, headers={"Location": "/"}, validators=False)
        server.set_page("/post/2", "", status=302, headers={"Location": "/elsewhere-2"}, validators=False)
        server.set_page("/elsewhere-2", page("Et tredje sted"))
        server.set_page("/post/3", "", status=301, headers={"Location": "/post/3/sagen-om-rene"}, validators=False)
        server.set_page("/post/3/sagen-om-rene", page("Opslag 3"))
        config, site_config = crawl_config([server.url("/")], robots="ignore")
        known = {server.url(f"/post/{n}"): KnownPage(server.url(f"/post/{n}"), None, None, "0" * 64, depth=1)
                 for n in (1, 2, 3)}
        outcome = run_crawl(config, site_config, known)
    assert outcome.error is None, outcome.error
    assert sorted(outcome.gone) == [(server.url("/post/1"), 301), (server.url("/post/2"), 302)]
    assert server.url("/post/3/sagen-om-rene") in {p.url for p in outcome.pages}
