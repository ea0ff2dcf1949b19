"""Rows for the alert tests: crawl runs and hits on pages, as the pipeline would write them."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from vaern.config import Config
from vaern.storage.tables import CrawlRunRow, HitRow, PageRow

# The afternoon the alert tests play on: hits found at FOUND, crawl runs at RUN_AT, and the code's
# clock (set in conftest.py, for the test and the processes it starts) showing CLOCK, so that
# reminders, group waits, retries and leases see the times they would see that day.
FOUND = datetime(2026, 11, 21, 13, 3, 11)
RUN_AT = datetime(2026, 11, 21, 14, 0)
CLOCK = datetime(2026, 11, 21, 14, 5)

_urls = itertools.count(1)


def add_run(session: Session, site_id: str = "hadeside", *, finished: bool = True) -> CrawlRunRow:
    run = CrawlRunRow(site_id=site_id, started_at=RUN_AT, finished_at=RUN_AT if finished else None, status="ok")
    session.add(run)
    session.flush()
    return run


def add_hit(
    session: Session,
    config: Config,
    person_id: str,
    *,
    site_id: str = "hadeside",
    url: str | None = None,
    confidence: str = "high",
    categories: list[str] | None = None,
    excerpt: str | None = None,
    first_seen: datetime | None = None,
    title: str | None = None,
    run_id: int | None = None,
) -> HitRow:
    person = config.person(person_id)
    assert person is not None
    url = url or f"https://{site_id}.example/post/{next(_urls)}"
    seen = first_seen or FOUND
    page = session.query(PageRow).filter_by(site_id=site_id, url=url).one_or_none()
    if page is None:
        page = PageRow(
            site_id=site_id, url=url, first_fetched_at=seen, last_fetched_at=seen, status="ok", title=title
        )
        session.add(page)
        session.flush()
    hit = HitRow(
        person_id=person_id,
        unit_id=person.unit,
        page_id=page.id,
        site_id=site_id,
        url=url,
        status="new",
        confidence=confidence,
        score=97.5 if confidence == "high" else 80.0,
        variant="exact",
        matched_text=[person.name],
        why=[],
        excerpt=excerpt if excerpt is not None else f"… hvorfor får {person.name} lov at blive …",
        categories=categories or [],
        first_seen=seen,
        last_seen=seen,
        first_run_id=run_id,
    )
    session.add(hit)
    session.flush()
    return hit


def later(hours: float = 0, **kw: float) -> datetime:
    return RUN_AT + timedelta(hours=hours, **kw)
