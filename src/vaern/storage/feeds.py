"""What Værn remembers of a site's feeds between polls: each feed's validators (ETag,
Last-Modified) for the next conditional GET, how its last poll went, and every entry already
seen, so an entry is crawled once (crawler/feedpoll.py polls; app.py `run_crawl` ties them).

A feed comes from the config (`sites[].feeds.urls`, origin "config") or was detected on the site
(origin "detected"). Entries are keyed by the SHA-256 of their feed key (id, or link and date).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from vaern.clock import utcnow
from vaern.storage.tables import FeedEntryRow, FeedRow


@dataclass(frozen=True)
class PolledFeed:
    """One feed's poll as the feed poller reported it (validators, or the reason it failed)."""

    url: str
    origin: str
    kind: str | None
    status: int | None
    etag: str | None
    last_modified: str | None
    error: str | None


def feeds_of(session: Session, site_id: str, configured: Sequence[str]) -> list[FeedRow]:
    """The site's feeds to poll: the configured ones (rows made for new ones, dropped ones
    forgotten) and those detected (or reached from a sitemap index or a post feed)."""
    rows = {r.url: r for r in session.scalars(
        select(FeedRow).where(FeedRow.site_id == site_id, FeedRow.origin != SEARCHED).order_by(FeedRow.id))}
    for url, row in list(rows.items()):
        if row.origin == "config" and url not in configured:
            session.delete(row)
            del rows[url]
    for url in configured:
        if url not in rows:
            rows[url] = FeedRow(site_id=site_id, url=url, origin="config")
            session.add(rows[url])
    session.flush()
    return list(rows.values())


# Sitemaps list every page and change slowly: polled at most this often, feeds every poll.
SITEMAP_EVERY = timedelta(minutes=30)
SITEMAPS = ("sitemap", "sitemapindex")


def due(rows: Sequence[FeedRow]) -> list[FeedRow]:
    """The feeds to poll now: every feed; a sitemap once `SITEMAP_EVERY` has passed since its last poll."""
    since = utcnow() - SITEMAP_EVERY
    return [r for r in rows if r.kind not in SITEMAPS or r.polled_at is None or r.polled_at <= since]


# A site where detection found nothing: one marker row, so it is looked for again only after
# DETECT_AGAIN, not on every poll.
SEARCHED = "searched"
DETECT_AGAIN = timedelta(days=1)


def detection_due(session: Session, site_id: str) -> bool:
    last = session.scalar(select(FeedRow.polled_at).where(FeedRow.site_id == site_id, FeedRow.origin == SEARCHED))
    return last is None or last < utcnow() - DETECT_AGAIN


def worth_polling(session: Session, site_id: str, configured: bool) -> bool:
    """Has the site feeds to poll (configured, or detected), or is it time to look for them? A
    site where detection found nothing starts no feed run until it is looked at again."""
    if configured:
        return True
    found = session.scalar(select(FeedRow.id).where(FeedRow.site_id == site_id, FeedRow.origin != SEARCHED).limit(1))
    return found is not None or detection_due(session, site_id)


def remember_detected(session: Session, site_id: str, urls: Sequence[str]) -> None:
    """The feeds detection found, or (none) when it looked, so that it waits before it looks again."""
    rows = {r.url: r for r in session.scalars(select(FeedRow).where(FeedRow.site_id == site_id))}
    for url in urls:
        if url not in rows:
            rows[url] = FeedRow(site_id=site_id, url=url, origin="detected")
            session.add(rows[url])
    marker = next((r for r in rows.values() if r.origin == SEARCHED), None)
    if not urls:
        if marker is None:
            marker = FeedRow(site_id=site_id, url="", origin=SEARCHED)
            session.add(marker)
        marker.polled_at = utcnow()
    elif marker is not None:
        session.delete(marker)
    session.flush()


def record_polls(session: Session, site_id: str, polled: Iterable[PolledFeed]) -> set[str]:
    """Store each feed's new validators, or its failure; return the URLs polled before this poll
    succeeded for the first time (their entries are a baseline)."""
    now = utcnow()
    rows = {r.url: r for r in session.scalars(select(FeedRow).where(FeedRow.site_id == site_id))}
    first: set[str] = set()
    for p in polled:
        row = rows.get(p.url)
        if row is None:
            row = rows[p.url] = FeedRow(site_id=site_id, url=p.url, origin=p.origin)
            session.add(row)
        if p.error is not None:
            row.error, row.failures, row.status = p.error[:2000], (row.failures or 0) + 1, p.status
            continue
        if row.polled_at is None:
            first.add(p.url)
        row.polled_at, row.status, row.error, row.failures = now, p.status, None, 0
        row.kind = p.kind or row.kind
        row.etag, row.last_modified = (p.etag or None), (p.last_modified or None)
    session.flush()
    return first


def entry_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def take_new(
    session: Session, site_id: str, entries: Iterable[tuple[str, str, bool]], run_id: int, known_pages: set[str],
    limit: int,
) -> list[str]:
    """The pages of entries not seen before, to crawl now (at most `limit`; the rest wait for the
    next poll). Each (key, url, baseline) is marked seen; a baseline entry (its feed's first poll)
    whose page is known already is seen without a crawl: the full crawl has read it."""
    seen = set(session.scalars(select(FeedEntryRow.key_sha256).where(FeedEntryRow.site_id == site_id)))
    now = utcnow()
    crawl: list[str] = []
    for key, url, baseline in entries:
        digest = entry_key(key)
        if digest in seen:
            continue
        quiet = baseline and url in known_pages
        if not quiet and url not in crawl and len(crawl) >= limit:
            continue  # not marked: the next poll takes it
        seen.add(digest)
        session.add(FeedEntryRow(site_id=site_id, key_sha256=digest, url=url[:2000], seen_at=now,
                                 run_id=None if quiet else run_id))
        if not quiet and url not in crawl:
            crawl.append(url)
    session.flush()
    return crawl
