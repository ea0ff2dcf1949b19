"""Feeds of a logged-in site: a feed run polls the members-only feed with the site's session, as
the crawl reads its pages. The cookie goes to the forum's host only (not to a feed on another
host, not along a redirect away), is stored in no row; a new thread in the feed is crawled as a
member and becomes a hit. An expired session stops the poll at the login wall: the run fails
saying the site needs a login, the site is marked `needs_login`, and no hit is removed.
On SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from vaern.app import crawl_pass, open_services
from vaern.config import Config
from vaern.storage.tables import CrawlRunRow, FeedRow, HitRow, SiteRow
from vaern.supervisor import Supervisor
from vaern.testing.membersite import COOKIE, MembersForum
from vaern.testing.siteserver import SiteServer

ELSEWHERE_FEED = ("<?xml version='1.0'?><rss version='2.0'><channel><title>Andet sted</title>"
                  "<item><title>Intet</title><link>http://127.0.0.2/andet</link></item></channel></rss>")


@pytest.fixture
def forum() -> Iterator[tuple[MembersForum, SiteServer, SiteServer]]:
    with SiteServer() as server, SiteServer(host="127.0.0.2") as elsewhere:
        elsewhere.set_page("/feed.xml", ELSEWHERE_FEED, content_type="application/rss+xml")
        yield MembersForum(server, elsewhere=elsewhere), server, elsewhere


def _feed_run(config: Config) -> CrawlRunRow:
    services = open_services(config)
    try:
        outcome = Supervisor(config, services.sessions).crawl("forum", kind="feed")
        with services.sessions() as session:
            run = session.get(CrawlRunRow, outcome.run_id)
            assert run is not None
            session.expunge(run)
            return run
    finally:
        services.engine.dispose()


def _rows(config: Config, *columns: Any) -> list[Any]:
    services = open_services(config)
    try:
        with services.sessions() as session:
            return [tuple(r) for r in session.execute(select(*columns)).all()]
    finally:
        services.engine.dispose()


def test_a_members_only_feed_is_polled_with_the_session_and_its_login_wall_marks_needs_login(
    make_config: Callable[..., Config], forum: tuple[MembersForum, SiteServer, SiteServer], tmp_path: Path,
    db_url: str,
) -> None:
    members, server, elsewhere = forum
    state = tmp_path / "forum-state.json"
    cookie = members.storage_state(state)
    config = make_config(
        database=db_url,
        network={"allow_private_hosts": ["127.0.0.1", "127.0.0.2"]},
        evidence={"capture": False},
        sites=[{"id": "forum", "start_urls": [server.url("/")], "delay": 0, "autothrottle": False,
                "session": str(state),
                # The forum's own feed, a feed on another host, and a feed address that redirects away.
                "feeds": {"urls": [server.url("/feed/"), elsewhere.url("/feed.xml"), server.url("/ud")]}}],
    )
    assert [r.status for r in crawl_pass(config, ["forum"], send_alerts=False).runs] == ["ok"]
    baseline = _feed_run(config)
    assert (baseline.status, baseline.hits_new) == ("ok", 0), baseline.error

    # A new thread: the members' feed lists it, and the feed run crawls it as a member.
    url = members.add_thread("Ny tråd", "Karin Juhl er en klam idiot.")
    server.clear()
    run = _feed_run(config)
    assert (run.status, run.hits_new, run.pages_fetched) == ("ok", 1, 1), (run.error, run.notes)
    feed_gets = [r for r in server.requests if r.route == "/feed/"]
    assert feed_gets and all(cookie in r.headers.get("Cookie", "") for r in feed_gets)
    assert not any(r.route == "/login" for r in server.requests)
    assert any(r.route == "/feed.xml" for r in elsewhere.requests), "the other host's feed was polled"
    assert any(r.route == "/andet" for r in elsewhere.requests), "the redirect away was followed"
    for request in elsewhere.requests:
        assert COOKIE not in request.headers.get("Cookie", "") and cookie not in str(request.headers), request
    assert sorted(_rows(config, HitRow.person_id, HitRow.url)) == [("kj", url), ("rr", server.url("/thread/1"))]

    # The session expires: the poll meets the login wall.
    members.expire()
    members.add_thread("Endnu en", "René Rosenkilde igen.")
    server.clear()
    walled = _feed_run(config)
    assert walled.status == "failed" and (walled.error or "").startswith(
        "needs login: redirected to the login page"), walled.error
    assert not any(r.route.startswith("/thread/") for r in server.requests)  # nothing crawled behind the wall
    ((needs_login,),) = _rows(config, SiteRow.needs_login)
    assert needs_login is not None and "login" in needs_login
    assert sorted(_rows(config, HitRow.person_id, HitRow.status, HitRow.removed_at)) == [
        ("kj", "new", None), ("rr", "new", None)]
    # The wall is no fault of the feed: its row keeps what the last member's poll left.
    feed = {u: (e, f) for u, e, f in _rows(config, FeedRow.url, FeedRow.error, FeedRow.failures)}
    assert feed[server.url("/feed/")] == (None, 0)

    # The cookie is in no row that records feeds, runs or sites.
    for columns in ((FeedRow.url, FeedRow.etag, FeedRow.error),
                    (CrawlRunRow.notes, CrawlRunRow.error), (SiteRow.needs_login,)):
        assert cookie not in repr(_rows(config, *columns))
