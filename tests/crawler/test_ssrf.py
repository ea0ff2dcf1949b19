"""The SSRF guard inside a real crawl: a page on 127.0.0.1 links and redirects to 127.0.0.2.

127.0.0.2 is a second local listener that records every request. With only 127.0.0.1 allowed it
must receive nothing at all — not the link, not the redirect target, not even a robots.txt.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.crawler.conftest import crawl_config
from vaern.testing.crawling import CrawlOutcome, run_crawl
from vaern.testing.siteserver import SiteServer


@pytest.fixture
def servers() -> Iterator[tuple[SiteServer, SiteServer]]:
    with SiteServer(host="127.0.0.2") as internal, SiteServer() as public:
        internal.set_page("/admin", "<p>intern</p>")
        internal.set_page("/metadata", "<p>hemmelig</p>")
        public.set_page(
            "/",
            f"""<html><body>
            <a href="{internal.url('/admin')}">link til intern vært</a>
            <a href="/_/redirect?to={internal.url('/metadata')}">omdirigering til intern vært</a>
            <a href="/ok">en almindelig side</a>
            </body></html>""",
        )
        public.set_page("/ok", "<p>offentlig</p>")
        yield public, internal


def crawl(public: SiteServer, internal: SiteServer, allow: tuple[str, ...]) -> CrawlOutcome:
    config, site = crawl_config(
        [public.url("/"), internal.url("/admin")],
        allow_private=allow,
        # Follow both hosts, so only the guard stands between the crawl and 127.0.0.2.
        follow={"allow": [r"^http://127\.0\.0\.[12]:"]},
    )
    outcome = run_crawl(config, site)
    assert outcome.error is None, outcome.error
    return outcome


def test_with_only_127_0_0_1_allowed_127_0_0_2_receives_nothing(servers: tuple[SiteServer, SiteServer]) -> None:
    public, internal = servers
    outcome = crawl(public, internal, ("127.0.0.1",))
    assert internal.requests == []
    # The crawl itself went on: the public pages were fetched.
    assert {p.url for p in outcome.pages} == {public.url("/"), public.url("/ok")}
    # The start URL, the link and the redirect were each refused and reported, and counted as blocked.
    refused = {f.url: f.reason for f in outcome.failed}
    assert set(refused) == {internal.url("/admin"), public.url(f"/_/redirect?to={internal.url('/metadata')}")}
    assert all("127.0.0.2 is a loopback address not in network.allow_private_hosts" in r for r in refused.values())
    assert internal.url("/metadata") in refused[public.url(f"/_/redirect?to={internal.url('/metadata')}")]
    assert outcome.stats is not None and (outcome.stats.blocked, outcome.stats.failed) == (2, 0)
    assert outcome.unexpected_warnings == []


def test_listing_127_0_0_2_lets_the_same_crawl_reach_it(servers: tuple[SiteServer, SiteServer]) -> None:
    public, internal = servers
    outcome = crawl(public, internal, ("127.0.0.1", "127.0.0.2"))
    assert sorted(internal.paths()) == ["/admin", "/metadata", "/robots.txt"]
    assert internal.url("/metadata") in {p.url for p in outcome.pages}
    assert outcome.stats is not None and outcome.stats.blocked == 0
