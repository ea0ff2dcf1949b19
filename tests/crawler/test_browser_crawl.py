"""Crawling the JavaScript fixture site: HTTP misses the names, render: browser and auto find them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from vaern.config import Config, Network, Site
from vaern.crawler.run import KnownPage
from vaern.domain import Page, post_for
from vaern.testing.crawling import CrawlOutcome, run_crawl
from vaern.testing.jssite import GROUP_COMMENT_NAMES, GROUP_POST_NAMES, LEAKED, PLANTED, JsSite
from vaern.testing.processes import own_browser_markers

pytestmark = pytest.mark.browser

# Pages linked from the fixture's front page, and the names only their JavaScript shows.
JS_PAGES = ("/group/", "/feed/", "/more/", "/comments/", "/inner/")
JS_NAMES = [name for path in JS_PAGES for name in PLANTED[path]]


@pytest.fixture(scope="module")
def site() -> Iterator[JsSite]:
    with JsSite(delay=0.2) as s:
        yield s


def crawl(
    site: JsSite,
    render: str,
    start: str = "/",
    *,
    known: dict[str, KnownPage] | None = None,
    render_decision: str | None = None,
    **options: Any,
) -> CrawlOutcome:
    settings: dict[str, Any] = {
        "delay": 0, "autothrottle": False, "concurrency": 2, "timeout": 5,
        "follow": {"max_depth": 2}, "expand": {"max_seconds": 120},  # a busy machine is no failure
        **options,
    }
    site_model = Site(id="js", start_urls=[site.url(start)], render=render, **settings)
    config = Config(
        organisation="Testby", network=Network(allow_private_hosts=["127.0.0.1"]), sites=[site_model]
    )
    outcome = run_crawl(config, site_model, known, timeout=240, render_decision=render_decision)
    assert outcome.error is None, outcome.error
    assert outcome.unexpected_warnings == []
    return outcome


def all_text(outcome: CrawlOutcome) -> str:
    return "\n".join(p.text for p in outcome.pages)


def by_url(outcome: CrawlOutcome) -> dict[str, Page]:
    return {p.url: p for p in outcome.pages}


@pytest.fixture(scope="module")
def browser_crawl(site: JsSite) -> tuple[CrawlOutcome, set[str], set[str]]:
    """One render: browser crawl of the whole site, and the browser markers before and after."""
    before = own_browser_markers()
    outcome = crawl(site, "browser")
    after = own_browser_markers()
    return outcome, before, after


@pytest.fixture(scope="module")
def auto_crawl(site: JsSite) -> tuple[CrawlOutcome, list[str]]:
    """One render: auto crawl of the whole site, and the requests the site saw meanwhile."""
    start = len(site.requests)
    outcome = crawl(site, "auto")
    return outcome, site.requests[start:]


def test_http_only_misses_every_javascript_name(site: JsSite) -> None:
    outcome = crawl(site, "http")
    text = all_text(outcome)
    assert [n for n in JS_NAMES if n in text] == []
    assert PLANTED["/plain/"][0] in text, "the crawl itself works: the plain page's name is found"
    assert not any(p.rendered for p in outcome.pages)
    assert outcome.stats is not None and outcome.stats.render_decision is None


def test_render_browser_finds_every_name(browser_crawl: tuple[CrawlOutcome, set[str], set[str]]) -> None:
    outcome, _before, _after = browser_crawl
    assert [n for n in JS_NAMES if n not in all_text(outcome)] == []
    assert all(p.rendered for p in outcome.pages)
    assert outcome.stats is not None and outcome.stats.failed == 0


def test_links_are_followed_from_the_rendered_dom(
    site: JsSite, browser_crawl: tuple[CrawlOutcome, set[str], set[str]]
) -> None:
    pages = by_url(browser_crawl[0])
    # The post pages are linked only from the rendered group page, and are app shells themselves.
    for n in range(1, 10):
        assert site.url(f"/group/post/{n}") in pages
    assert GROUP_POST_NAMES[2] in pages[site.url("/group/post/2")].text
    assert GROUP_COMMENT_NAMES[4] in pages[site.url("/group/post/4")].text


def test_rendered_pages_carry_their_actions(
    site: JsSite, browser_crawl: tuple[CrawlOutcome, set[str], set[str]]
) -> None:
    pages = by_url(browser_crawl[0])
    feed, more = pages[site.url("/feed/")], pages[site.url("/more/")]
    assert sum(" scroll window:" in a for a in feed.actions) >= 3
    assert sum(" click vis flere:" in a for a in more.actions) == 3
    assert feed.actions[-1].endswith("stop: nothing more to show")
    assert feed.etag is None and len(feed.content_hash) == 64


def test_a_mention_in_a_rendered_post_points_at_its_permalink(
    site: JsSite, browser_crawl: tuple[CrawlOutcome, set[str], set[str]]
) -> None:
    group = by_url(browser_crawl[0])[site.url("/group/")]
    for number, name in GROUP_POST_NAMES.items():
        post = post_for(group.posts, group.text.index(name))
        assert post is not None and post.permalink == site.url(f"/group/post/{number}")
    for number, name in GROUP_COMMENT_NAMES.items():
        post = post_for(group.posts, group.text.index(name))
        assert post is not None
        assert post.permalink == site.url(f"/group/post/{number}#c-{number}-1"), "a comment's own anchor"
    assert post_for(group.posts, group.text.index("Borgere i Eksempel Kommune")) is None


def test_sub_requests_pass_the_ssrf_guard(
    site: JsSite, browser_crawl: tuple[CrawlOutcome, set[str], set[str]]
) -> None:
    leak = by_url(browser_crawl[0])[site.url("/leak/")]
    elsewhere = f"http://127.0.0.2:{site.port}/api/leak"
    assert "blokeret" in leak.text and LEAKED not in leak.text
    assert any(f" blocked {elsewhere}: " in a for a in leak.actions)
    assert "/api/leak" not in site.requests


def test_the_crawl_leaves_no_chromium(browser_crawl: tuple[CrawlOutcome, set[str], set[str]]) -> None:
    _outcome, before, after = browser_crawl
    assert after <= before, f"Chromium left running by the crawl: {after - before}"


def test_an_unchanged_rendered_page_is_reported_unchanged(
    site: JsSite, browser_crawl: tuple[CrawlOutcome, set[str], set[str]]
) -> None:
    # Only /more/ is known: every known URL the crawl does not reach is re-checked too.
    known = {url: page for url, page in browser_crawl[0].known().items() if url == site.url("/more/")}
    again = crawl(site, "browser", start="/more/", follow={"max_depth": 0}, known=known)
    assert again.pages == [] and again.unchanged == [site.url("/more/")]


def test_render_auto_finds_every_name(site: JsSite, auto_crawl: tuple[CrawlOutcome, list[str]]) -> None:
    outcome, requests = auto_crawl
    assert [n for n in JS_NAMES if n not in all_text(outcome)] == []
    assert outcome.stats is not None and outcome.stats.render_decision == "browser"
    pages = by_url(outcome)
    assert not pages[site.url("/")].rendered, "the front page has no scripts: HTTP was enough"
    assert pages[site.url("/group/")].rendered
    assert requests.count("/group/") == 2, "fetched over HTTP, then in the browser"


def test_render_auto_looks_again_at_a_remembered_browser_decision_and_keeps_it(site: JsSite) -> None:
    start = len(site.requests)
    again = crawl(site, "auto", start="/group/", follow={"max_depth": 0}, render_decision="browser")
    assert [n for n in PLANTED["/group/"] if n not in all_text(again)] == []
    assert site.requests[start:].count("/group/") == 2, "over HTTP once more, then in the browser"
    assert again.stats is not None and again.stats.render_decision == "browser"


def test_render_auto_goes_back_to_http_when_the_browser_no_longer_adds_anything(site: JsSite) -> None:
    outcome = crawl(site, "auto", start="/plain/", follow={"max_depth": 0}, render_decision="browser")
    assert [n for n in PLANTED.get("/plain/", ()) if n not in all_text(outcome)] == []
    assert outcome.stats is not None and outcome.stats.render_decision == "http"


def test_render_auto_on_a_page_without_scripts_stays_on_http(site: JsSite) -> None:
    outcome = crawl(site, "auto", start="/plain/", follow={"max_depth": 0})
    assert [p.rendered for p in outcome.pages] == [False]
    assert outcome.stats is not None and outcome.stats.render_decision == "http"


def test_render_auto_remembering_http_still_catches_an_app_shell(site: JsSite) -> None:
    outcome = crawl(site, "auto", start="/feed/", follow={"max_depth": 0}, render_decision="http")
    (feed,) = outcome.pages
    assert feed.rendered and PLANTED["/feed/"][0] in feed.text
    assert outcome.stats is not None and outcome.stats.render_decision == "browser"
