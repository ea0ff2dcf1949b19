"""Traps in a real crawl: an endless calendar stops at its family budget, nested login links and
canonical twins cost nothing, and the run says what it refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.crawler.conftest import crawl_config
from vaern.testing.crawling import run_crawl
from vaern.testing.siteserver import SiteServer


def page(title: str, body: str, head: str = "") -> str:
    return f"<html><head><title>{title}</title>{head}</head><body>{body}</body></html>"


@pytest.fixture(scope="module")
def server() -> Iterator[SiteServer]:
    with SiteServer() as server:
        server.set_page(
            "/",
            page("Forside", '<a href="/_/calendar/1">Kalender</a> <a href="/user/login/?next=/">Log ind</a>'
                 ' <a href="/post/7/">Indlæg</a> <a href="/post/7/?utm_source=x">Samme</a>'
                 ' <a href="/post/8/">Kopi</a>'),
        )
        server.set_page("/post/7/", page("Indlæg 7", "<p>Karin Juhl svarer aldrig.</p>"))
        # A page that names its canonical twin, which says the same.
        server.set_page(
            "/post/8/",
            page("Indlæg 7", "<p>Karin Juhl svarer aldrig.</p>", head='<link rel="canonical" href="/post/7/">'),
        )
        yield server


def test_an_endless_calendar_stops_at_its_family_budget(server: SiteServer) -> None:
    config, site = crawl_config([server.url("/")], robots="ignore", follow={"max_depth": 60, "max_per_family": 5})
    outcome = run_crawl(config, site)
    assert outcome.error is None, outcome.error
    calendar = [p for p in server.paths() if p.startswith("/_/calendar/")]
    assert 3 <= len(calendar) <= 5
    assert not any(p.startswith("/user/login/") for p in server.paths())
    assert outcome.stats is not None and outcome.stats.trapped >= 2
    # One page for /post/7/, its utm twin and its canonical twin /post/8/.
    assert [p.url for p in outcome.pages if "Karin Juhl" in p.text] == [server.url("/post/7/")]
    assert outcome.stats.duplicates == 1
