"""Why URLs could not be fetched, kept per crawl run (table `crawl_failures`).

The crawler reports every failure (error status, timeout, size limit, redirect loop, refused by
robots.txt or by the SSRF guard, a name that does not resolve) through the pipeline, which
records it here: one row per (run, URL) with the latest reason and how often it failed, at most
`MAX_PER_RUN` URLs per run (the rest are still counted in the run's `pages_failed`).
`vaern status`, `vaern status --json` and the review app's overview show them.

A site whose start URLs all failed has nothing to crawl from: `start_urls_failed` says so, and
the run is marked failed with the reasons (app.run_crawl).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vaern.clock import utcnow
from vaern.domain import FetchFailure
from vaern.storage.tables import CrawlFailureRow, CrawlRunRow

MAX_PER_RUN = 100  # URLs with their reasons kept per run
SHOWN = 5  # failures `vaern status` prints per site


def record_failure(session: Session, run_id: int, failure: FetchFailure, *, start_url: bool) -> None:
    """Keep why `failure.url` failed in this run (the latest reason; a count of times)."""
    row = session.scalar(
        select(CrawlFailureRow).where(CrawlFailureRow.run_id == run_id, CrawlFailureRow.url == failure.url[:2000])
    )
    if row is not None:
        row.reason, row.http_status, row.at = failure.reason, failure.status, utcnow()
        row.times += 1
        row.start_url = row.start_url or start_url
        return
    kept = session.scalar(select(func.count()).select_from(CrawlFailureRow).where(CrawlFailureRow.run_id == run_id))
    if (kept or 0) >= MAX_PER_RUN and not start_url:
        return
    session.add(
        CrawlFailureRow(
            run_id=run_id, site_id=failure.site_id, url=failure.url[:2000], start_url=start_url,
            reason=failure.reason, http_status=failure.status, times=1, at=utcnow(),
        )
    )


def run_failures(session: Session, run_id: int, limit: int | None = None) -> list[CrawlFailureRow]:
    """The failures kept for a run, start URLs first, then in the order they happened."""
    query = (
        select(CrawlFailureRow)
        .where(CrawlFailureRow.run_id == run_id)
        .order_by(CrawlFailureRow.start_url.desc(), CrawlFailureRow.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def failure_json(row: CrawlFailureRow) -> dict[str, Any]:
    return {"url": row.url, "reason": row.reason, "http_status": row.http_status, "times": row.times,
            "start_url": row.start_url}


def start_urls_failed(session: Session, run_id: int, start_urls: Sequence[str]) -> str | None:
    """When every start URL of the site failed in this run, the run's error: each URL and why."""
    if not start_urls:
        return None
    failed = {
        row.url: row.reason
        for row in session.scalars(
            select(CrawlFailureRow).where(CrawlFailureRow.run_id == run_id, CrawlFailureRow.start_url.is_(True))
        )
    }
    if not all(url in failed for url in start_urls):
        return None
    reasons = "; ".join(f"{url}: {failed[url]}" for url in start_urls)
    what = "the start URL" if len(start_urls) == 1 else f"all {len(start_urls)} start URLs"
    return f"{what} could not be fetched: {reasons}"


def outcome(run: CrawlRunRow) -> str:
    """The word an operator sees for a finished run: its status, except that a run that went
    through but could not fetch some URLs is `partial`, never a plain `ok` beside failures."""
    if run.status == "ok" and run.pages_failed:
        return "partial"
    return run.status
