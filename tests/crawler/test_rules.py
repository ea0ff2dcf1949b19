"""Follow rules, limits, robots, politeness and failure handling, each on a small real crawl."""

from __future__ import annotations

import pytest

from tests.crawler.conftest import crawl_config
from vaern.crawler.settings import build_settings
from vaern.testing.crawling import run_crawl
from vaern.testing.siteserver import SiteServer


def chain_site(server: SiteServer, pages: int) -> None:
    """/ links /p/1 … /p/N directly (all at depth 1)."""
    links = "".join(f'<a href="/p/{i}">{i}</a> ' for i in range(1, pages + 1))
    server.set_page("/", f"<html><body>{links}</body></html>")
    for i in range(1, pages + 1):
        server.set_page(f"/p/{i}", f"<p>side {i}</p>")


def test_max_pages_stops_the_crawl(site_server: SiteServer) -> None:
    chain_site(site_server, 30)
    config, site = crawl_config([site_server.url("/")], robots="ignore", concurrency=1, follow={"max_pages": 5})
    outcome = run_crawl(config, site)
    assert outcome.error is None, outcome.error
    assert outcome.stats is not None and outcome.stats.finish_reason == "max_pages"
    assert len(outcome.pages) == 5
    # Nothing is sent once the limit is reached (Scrapy alone would drain its download queue).
    assert len(site_server.paths()) <= 6


def test_max_depth_zero_fetches_only_the_start_urls(site_server: SiteServer) -> None:
    chain_site(site_server, 3)
    config, site = crawl_config([site_server.url("/")], robots="ignore", follow={"max_depth": 0})
    outcome = run_crawl(config, site)
    assert [p.url for p in outcome.pages] == [site_server.url("/")]
    assert site_server.paths() == ["/"]


def test_allow_rules_replace_the_same_host_default(site_server: SiteServer) -> None:
    config, site = crawl_config([site_server.url("/")], robots="ignore", follow={"allow": [r"/forum/"]})
    outcome = run_crawl(config, site)
    assert outcome.error is None, outcome.error
    fetched = {p.url.removeprefix(site_server.base_url) for p in outcome.pages}
    assert fetched == {"/", "/forum/", "/forum/thread-1.html", "/forum/thread-2.html"}


def test_robots_ignore_fetches_what_robots_txt_forbids(site_server: SiteServer) -> None:
    config, site = crawl_config([site_server.url("/")], robots="ignore", follow={"max_depth": 1})
    outcome = run_crawl(config, site)
    assert site_server.url("/private/secret.html") in {p.url for p in outcome.pages}
    assert site_server.count("/robots.txt") == 0


def test_a_start_url_refused_by_robots_txt_is_reported(site_server: SiteServer) -> None:
    config, site = crawl_config([site_server.url("/private/secret.html")])
    outcome = run_crawl(config, site)
    assert [(f.url, f.reason) for f in outcome.failed] == [
        (site_server.url("/private/secret.html"), "refused by the site's robots.txt (robots: obey)")
    ]
    assert site_server.paths() == ["/robots.txt"]


def test_a_start_url_that_redirects_to_another_host_makes_that_host_part_of_the_site(site_server: SiteServer) -> None:
    site_server.set_page("/home", '<a href="/next">videre</a>')
    site_server.set_page("/next", "<p>fulgt</p>")
    start = f"http://localhost:{site_server.port}/_/redirect?to={site_server.url('/home')}"
    config, site = crawl_config([start], allow_private=("127.0.0.1", "localhost"), robots="ignore")
    outcome = run_crawl(config, site)
    assert outcome.error is None, outcome.error
    assert {p.url for p in outcome.pages} == {site_server.url("/home"), site_server.url("/next")}


def test_download_delay_spaces_requests_to_one_site(site_server: SiteServer) -> None:
    chain_site(site_server, 3)
    config, site = crawl_config([site_server.url("/")], robots="ignore", concurrency=1, delay=0.4)
    outcome = run_crawl(config, site)
    assert len(outcome.pages) == 4
    times = [r.at for r in site_server.requests]
    # DOWNLOAD_DELAY 0.4 with ±50 % jitter: never closer than 0.2 s.
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= 0.19


def test_a_failing_sink_stops_the_crawl_and_its_error_comes_back(site_server: SiteServer) -> None:
    chain_site(site_server, 20)
    config, site = crawl_config([site_server.url("/")], robots="ignore", concurrency=1)
    outcome = run_crawl(config, site, fail_on_page=2)
    assert outcome.error is not None and outcome.error.startswith("RuntimeError: sink refused page 2")
    assert len(outcome.pages) == 1
    assert len(site_server.paths()) < 21


def test_site_config_becomes_scrapy_settings() -> None:
    config, site = crawl_config(
        ["http://127.0.0.1:1/"],
        concurrency=3,
        delay=2.5,
        autothrottle=True,
        timeout=12,
        max_response_mb=0.5,
        robots="obey",
        retries=4,
        user_agent="Testbot/1",
    )
    settings = build_settings(config, site)
    assert settings["CONCURRENT_REQUESTS_PER_DOMAIN"] == 3
    assert settings["DOWNLOAD_DELAY"] == 2.5
    assert settings["AUTOTHROTTLE_ENABLED"] is True
    assert settings["AUTOTHROTTLE_START_DELAY"] == 2.5
    assert settings["DOWNLOAD_TIMEOUT"] == 12
    assert settings["DOWNLOAD_MAXSIZE"] == 512 * 1024
    assert settings["ROBOTSTXT_OBEY"] is True
    assert settings["RETRY_TIMES"] == 4
    assert settings["USER_AGENT"] == "Testbot/1"
    assert settings["NETGUARD_ALLOW_PRIVATE_HOSTS"] == ["127.0.0.1"]
    assert all(settings["DOWNLOAD_HANDLERS"][scheme] is None for scheme in ("file", "ftp", "s3", "data"))
    assert settings["TELNETCONSOLE_ENABLED"] is False and settings["REMOTE_CONTROL_ENABLED"] is False
    from scrapy.settings import Settings

    merged = Settings(settings).getwithbase("EXTENSIONS")
    loaded = {name for name, order in merged.items() if order is not None}
    assert "scrapy.extensions.remote_control.RemoteControl" not in loaded
    assert "scrapy.extensions.telnet.TelnetConsole" not in loaded
    assert "scrapy.extensions.throttle.AutoThrottle" in loaded  # what politeness needs stays


@pytest.mark.parametrize("robots", ["obey", "ignore"])
def test_politeness_off_for_loopback_benchmarks(robots: str) -> None:
    config, site = crawl_config(["http://127.0.0.1:1/"], robots=robots, delay=0, autothrottle=False, concurrency=16)
    settings = build_settings(config, site)
    politeness = (settings["DOWNLOAD_DELAY"], settings["AUTOTHROTTLE_ENABLED"], settings["DOWNLOAD_DELAY_JITTER"])
    assert politeness == (0, False, 0.0)
    assert settings["ROBOTSTXT_OBEY"] is (robots == "obey")


def test_search_pages_are_used_for_links_and_never_reported() -> None:
    with SiteServer() as site_server:
        check_search(site_server)


def check_search(site_server: SiteServer) -> None:
    site_server.set_page("/", "<p>Forsiden linker ingen steder hen.</p>")
    site_server.set_page("/indlaeg/7", "<p>Her står der noget om René Rosenkilde.</p>")
    site_server.set_page("/indlaeg/8", "<p>Og her om Mette Sørensen.</p>")
    site_server.set_page("/indlaeg/9", "<p>Ingen af dem.</p>")
    config, site = crawl_config(
        [site_server.url("/")],
        robots="ignore",
        search_urls=[site_server.url("/_/search?q={query}")],
        follow={"max_depth": 1},
    )
    outcome = run_crawl(config, site, search_queries=["René Rosenkilde", "Mette Sørensen"])
    assert outcome.error is None, outcome.error
    assert "/_/search?q=Ren%C3%A9%20Rosenkilde" in site_server.paths()
    assert "/_/search?q=Mette%20S%C3%B8rensen" in site_server.paths()
    reported = {p.url.removeprefix(site_server.base_url): p.depth for p in outcome.pages}
    assert reported == {"/": 0, "/indlaeg/7": 1, "/indlaeg/8": 1}
