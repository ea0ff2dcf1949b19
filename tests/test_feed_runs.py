"""Feed runs end to end: `vaern crawl` reads the fixture blog; a feed run then detects its feeds
and takes their entries as a baseline; a new comment naming a person is crawled by the next feed
run through the normal pipeline (a hit with its author, an alert queued); entries seen are not
crawled again, and unchanged feeds answer 304. A broken feed is a recorded failure of that feed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from vaern.app import crawl_pass, open_services
from vaern.config import Config
from vaern.storage.tables import AlertHitRow, CrawlRunRow, FeedEntryRow, FeedRow, HitRow
from vaern.supervisor import Supervisor
from vaern.testing.blog import FixtureBlog
from vaern.testing.siteserver import SiteServer

POSTS = [("skandalen", "Skandalen i kommunen", "Bo Blogger", "Sagsbehandlingen i kommunen er en skandale."),
         ("ventetid", "Intet svar", "Bo Blogger", "Ingen svarer på mails fra borgerne.")]


@pytest.fixture
def blog() -> Iterator[FixtureBlog]:
    with SiteServer() as server:
        blog = FixtureBlog(server, POSTS)
        blog.add_comment("ventetid", "Stille Sofie", "Jeg venter også stadig på svar.")
        yield blog


def _config(make_config: Callable[..., Config], blog: FixtureBlog, db_url: str, **site: Any) -> Config:
    return make_config(
        database=db_url,
        sites=[{"id": "blog", "start_urls": [blog.url("/")], "delay": 0, "autothrottle": False, **site}],
        evidence={"capture": False},
    )


def _feed_run(config: Config) -> CrawlRunRow:
    services = open_services(config)
    try:
        outcome = Supervisor(config, services.sessions).crawl("blog", kind="feed")
        assert outcome.status == "ok", outcome
        with services.sessions() as session:
            run = session.get(CrawlRunRow, outcome.run_id)
            assert run is not None
            session.expunge(run)
            return run
    finally:
        services.engine.dispose()


def _gets(blog: FixtureBlog) -> list[str]:
    return [r.route for r in blog.server.requests if r.method == "GET"]


def test_a_new_comment_is_crawled_by_the_next_feed_run_and_nothing_twice(
    make_config: Callable[..., Config], blog: FixtureBlog, db_url: str
) -> None:
    config = _config(make_config, blog, db_url)
    full = crawl_pass(config, ["blog"], send_alerts=False)
    assert [r.status for r in full.runs] == ["ok"]

    # First feed run: the feeds are found; what they list is known already (the baseline).
    blog.server.clear()
    first = _feed_run(config)
    assert first.kind == "feed" and first.hits_new == 0
    assert "feeds: 4 polled (0 not modified, 0 failed), 0 new entries" in (first.notes or "")
    assert "/skandalen/" not in _gets(blog) and "/ventetid/" not in _gets(blog)

    # A comment naming René: the next feed run reads the post page through the pipeline.
    blog.add_comment("skandalen", "Vred Borger", "René Rosenkilde er en løgner og burde fyres i dag.")
    blog.server.clear()
    second = _feed_run(config)
    assert second.hits_new == 1 and second.pages_fetched == 1
    assert _gets(blog).count("/skandalen/") == 1 and "/ventetid/" not in _gets(blog)
    feed_requests = [r for r in blog.server.requests if r.route.endswith(("feed/", ".xml"))]
    assert feed_requests and all("If-None-Match" in r.headers for r in feed_requests)
    services = open_services(config)
    with services.sessions() as session:
        (hit,) = session.scalars(select(HitRow)).all()
        assert (hit.person_id, hit.url, hit.first_run_id) == ("rr", blog.url("/skandalen/"), second.id)
        assert (hit.author, hit.author_source) == ("Vred Borger", "h-entry")
        told = session.scalars(select(AlertHitRow.recipient).where(AlertHitRow.hit_id == hit.id)).all()
        assert "lene@testby.example" in told
        feeds = {f.url: f for f in session.scalars(select(FeedRow).where(FeedRow.origin != "searched"))}
        assert set(feeds) == {blog.url(p) for p in ("/sitemap.xml", "/sitemap-posts.xml", "/feed/", "/comments/feed/")}
        assert all(f.etag and f.last_modified and f.error is None for f in feeds.values())
        assert {f.url: f.kind for f in feeds.values()} == {
            blog.url("/sitemap.xml"): "sitemapindex", blog.url("/sitemap-posts.xml"): "sitemap",
            blog.url("/feed/"): "rss", blog.url("/comments/feed/"): "rss"}
        crawled = session.scalars(select(FeedEntryRow.url).where(FeedEntryRow.run_id == second.id)).all()
        assert crawled == [blog.url("/skandalen/")] * len(crawled) and crawled
    services.engine.dispose()

    # Nothing new: every feed answers 304 and no page is fetched; the sitemaps (polled minutes
    # ago) wait for their half hour.
    blog.server.clear()
    third = _feed_run(config)
    assert third.pages_fetched == 0 and third.hits_new == 0
    assert "feeds: 2 polled (2 not modified, 0 failed), 0 new entries, 2 requests" in (third.notes or "")
    assert sorted(r.route for r in blog.server.requests) == ["/comments/feed/", "/feed/"]


def test_a_broken_or_refused_feed_is_recorded_and_the_others_go_on(
    make_config: Callable[..., Config], blog: FixtureBlog, tmp_path: Any
) -> None:
    blog.server.set_page("/broken.xml", "<rss><channel><item><link>", content_type="application/rss+xml")
    db_url = f"sqlite:///{tmp_path / 'feeds.db'}"
    config = _config(make_config, blog, db_url, feeds={
        "urls": [blog.url("/broken.xml"), "http://127.0.0.2:9/feed/", blog.url("/comments/feed/")], "every": "5s",
    })
    blog.add_comment("skandalen", "Vred Borger", "Karin Juhl er en klam idiot.")
    run = _feed_run(config)  # no full crawl before: the comment's page is not known, so it is crawled
    assert run.hits_new == 1
    assert "feeds: 3 polled (0 not modified, 2 failed), 2 new entries" in (run.notes or "")
    services = open_services(config)
    with services.sessions() as session:
        feeds = {f.url: f for f in session.scalars(select(FeedRow))}
    services.engine.dispose()
    assert feeds[blog.url("/broken.xml")].failures == 1
    assert "not well-formed XML" in (feeds[blog.url("/broken.xml")].error or "")
    assert "127.0.0.2 is a loopback address not in network.allow_private_hosts" in (
        feeds["http://127.0.0.2:9/feed/"].error or "")
    assert feeds[blog.url("/comments/feed/")].error is None
    assert not any(r.route == "/" for r in blog.server.requests)  # configured feeds: nothing detected
