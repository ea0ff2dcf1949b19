"""What is remembered of a site's feeds between polls (storage/feeds.py): configured feeds follow
the config, detection that found nothing waits a day, sitemaps wait half an hour, entries are
taken once, a baseline of known pages is not crawled, and a poll's limit leaves the rest for later."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from vaern.clock import clock_at
from vaern.storage.db import make_engine, migrate, session_factory
from vaern.storage.feeds import (
    PolledFeed,
    detection_due,
    due,
    feeds_of,
    record_polls,
    remember_detected,
    take_new,
    worth_polling,
)

NOON = datetime(2026, 11, 21, 12, 0)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'feeds.db'}")
    migrate(engine)
    with clock_at(NOON), session_factory(engine)() as s:
        yield s
    engine.dispose()


def test_configured_feeds_follow_the_config_and_detected_ones_stay(session: Session) -> None:
    remember_detected(session, "blog", ["https://b.example/sitemap-posts.xml"])
    rows = feeds_of(session, "blog", ["https://b.example/feed/", "https://b.example/comments/feed/"])
    assert [(r.url, r.origin) for r in rows] == [
        ("https://b.example/sitemap-posts.xml", "detected"),
        ("https://b.example/feed/", "config"), ("https://b.example/comments/feed/", "config")]
    rows = feeds_of(session, "blog", ["https://b.example/comments/feed/"])  # one dropped from the config
    assert [r.url for r in rows] == ["https://b.example/sitemap-posts.xml", "https://b.example/comments/feed/"]


def test_detection_that_found_nothing_waits_a_day(session: Session) -> None:
    assert detection_due(session, "blog") and worth_polling(session, "blog", configured=False)
    remember_detected(session, "blog", [])
    assert feeds_of(session, "blog", []) == []
    assert not detection_due(session, "blog") and not worth_polling(session, "blog", configured=False)
    assert worth_polling(session, "blog", configured=True)
    with clock_at(NOON + timedelta(days=1, minutes=1)):
        assert detection_due(session, "blog")


def test_sitemaps_are_due_every_half_hour_feeds_every_poll(session: Session) -> None:
    remember_detected(session, "blog", ["https://b.example/feed/", "https://b.example/sitemap.xml"])
    first = record_polls(session, "blog", [
        PolledFeed("https://b.example/feed/", "detected", "rss", 200, '"a"', None, None),
        PolledFeed("https://b.example/sitemap.xml", "detected", "sitemapindex", 200, None, "Sat, 21 Nov", None),
    ])
    assert first == {"https://b.example/feed/", "https://b.example/sitemap.xml"}
    rows = feeds_of(session, "blog", [])
    assert [r.url for r in due(rows)] == ["https://b.example/feed/"]
    with clock_at(NOON + timedelta(minutes=31)):
        assert len(due(rows)) == 2
    # A failure is counted on the feed and keeps its validators; the next success is not a baseline.
    again = record_polls(session, "blog", [
        PolledFeed("https://b.example/feed/", "detected", None, None, None, None, "https://b.example/feed/: HTTP 500"),
    ])
    (feed,) = [r for r in rows if r.url == "https://b.example/feed/"]
    assert again == set() and feed.failures == 1 and feed.etag == '"a"' and feed.error.endswith("HTTP 500")


def test_entries_are_taken_once_a_known_baseline_is_not_crawled_and_the_limit_leaves_the_rest(
    session: Session,
) -> None:
    known = {"https://b.example/a/"}
    entries = [("guid-1", "https://b.example/a/", True), ("guid-2", "https://b.example/b/", True),
               ("guid-3", "https://b.example/b/", True)]
    assert take_new(session, "blog", entries, 1, known, limit=10) == ["https://b.example/b/"]
    assert take_new(session, "blog", entries, 2, known, limit=10) == []  # seen
    later = [(f"guid-{n}", f"https://b.example/p{n}/", False) for n in range(4, 9)]
    assert take_new(session, "blog", later, 3, known, limit=2) == ["https://b.example/p4/", "https://b.example/p5/"]
    assert take_new(session, "blog", later, 4, known, limit=2) == ["https://b.example/p6/", "https://b.example/p7/"]
    # Not a baseline: a new comment on a known page is crawled.
    assert take_new(session, "blog", [("c-9", "https://b.example/a/", False)], 5, known, 10) == ["https://b.example/a/"]
