"""Wiring: builds the services from the config and runs the steps of a crawl in order.

`run_crawl` is the recipe for one crawl of one site; `runner.py` decides where it runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING

from sqlalchemy import Engine, make_url, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from vaern.clock import utcnow
from vaern.config import Config
from vaern.domain import WatchedPerson
from vaern.errors import DatabaseUnavailable
from vaern.storage.db import make_engine, migrate, session_factory, transaction
from vaern.storage.queries import sync_reference_data
from vaern.storage.tables import CrawlRunRow, HitRow, PageRow, SiteRow

if TYPE_CHECKING:
    from vaern.matchers import NameIndex
    from vaern.pipeline import PagePipeline

log = logging.getLogger("vaern.app")


@dataclass
class Services:
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]


def open_services(config: Config) -> Services:
    """Connect to the database, apply migrations and mirror the config into it."""
    try:
        services = connect(config)  # creates a SQLite file's folder
        migrate(services.engine)  # the first statement: a server down, a file that cannot be opened
    except (OperationalError, OSError) as exc:
        where = make_url(config.database).render_as_string(hide_password=True)
        cause = exc.orig if isinstance(exc, OperationalError) else exc
        reason = str(cause).strip().splitlines()[0]
        raise DatabaseUnavailable(f"cannot open the database {where} (`database` in the config): {reason}") from exc
    with transaction(services.sessions) as session:
        sync_reference_data(session, config)
    return services


def connect(config: Config) -> Services:
    """Only connect: for a crawl child, whose parent has already opened the services (migrations
    and reference data are done; repeating them would cost every crawl a second or more)."""
    engine = make_engine(config.database)
    return Services(config, engine, session_factory(engine))


def watched_people(config: Config) -> list[WatchedPerson]:
    return [WatchedPerson(p.id, p.name, tuple(p.aliases), p.title) for p in config.people]


def new_run(services: Services, site_id: str) -> int:
    with transaction(services.sessions) as session:
        run = CrawlRunRow(site_id=site_id, started_at=utcnow(), status="queued")
        session.add(run)
        session.flush()
        return run.id


@dataclass
class PreparedCrawl:
    """What a crawl process can do before it knows its run: load the crawler, build the index."""

    index: NameIndex


def prepare_crawl(config: Config) -> PreparedCrawl:
    # Imported here, not at the top: the parent (`vaern crawl`, `vaern run`) never matches or
    # crawls, and every command would pay for loading the matcher and Scrapy.
    import vaern.crawler.run  # noqa: F401  (loading Scrapy is most of a crawl process's start)
    from vaern.matchers import build_index

    index = build_index(watched_people(config), config.matching)
    log.debug("crawler loaded, name index built for %d people", len(config.people))
    return PreparedCrawl(index)


def run_crawl(config: Config, site_id: str, run_id: int, prepared: PreparedCrawl | None = None) -> None:
    """One crawl of one site, in this process (`prepared` if `prepare_crawl` ran already). The steps:

    1. mark the run started and read what earlier crawls learned (ETags, hashes, search cursor,
       whether a `render: auto` site needed the browser);
    2. build the name index once (in `prepare_crawl`);
    3. crawl: every page flows through the pipeline (match, hits, alert rows), one transaction each;
    4. secure evidence for every page that got a new, changed or removed hit;
    5. mark the run finished, with its counts — the alert dispatcher waits for this — and
       remember what a `render: auto` site needed.
    """
    prepared = prepared or prepare_crawl(config)
    from vaern.crawler.run import KnownPage, crawl_site
    from vaern.crawler.search import plan_searches
    from vaern.pipeline import PagePipeline

    services = connect(config)  # the parent opened them (new_run) before starting this crawl
    site = config.site(site_id)
    sessions = services.sessions

    # 1.
    with transaction(sessions) as session:
        run = session.get(CrawlRunRow, run_id)
        assert run is not None, f"no crawl run {run_id}"
        run.status, run.started_at = "running", utcnow()
        pages = session.scalars(select(PageRow).where(PageRow.site_id == site_id, PageRow.status == "ok")).all()
        with_open_hits = set(
            session.scalars(
                select(HitRow.page_id).where(HitRow.site_id == site_id, HitRow.status != "removed").distinct()
            )
        )
        known = {
            p.url: KnownPage(
                p.url, p.etag, p.last_modified, p.content_hash,
                checked_at=p.last_fetched_at.replace(tzinfo=UTC), open_hit=p.id in with_open_hits,
            )
            for p in pages
        }
        site_row = session.get(SiteRow, site_id)
        cursor = site_row.search_cursor if site_row else 0
        remembered = site_row.render_decision if site_row else None  # render: auto
        names = [form for p in config.people for form in (p.name, *p.aliases)]
        queries, next_cursor = plan_searches(names, site.search_budget, cursor) if site.search_urls else ([], cursor)
        if site_row:
            site_row.search_cursor = next_cursor

    # 2.
    pipeline = PagePipeline(config, site, sessions, prepared.index, run_id, queue_alerts=_alert_queue(config))

    # 3.
    status, error, decision = "ok", None, None
    try:
        stats = crawl_site(config, site, pipeline, known, queries, render_decision=remembered)
        decision = stats.render_decision
        if stats.finish_reason == "shutdown":  # a signal stopped it (the service, or crawl.timeout)
            status, error = "stopped", "stopped before the end; the pages it reached are saved"
    except Exception as exc:  # the run row must say what happened; the parent reports it
        log.exception("crawl of %s failed", site_id)
        status, error = "failed", f"{type(exc).__name__}: {exc}"

    # 4.
    if config.evidence.capture and pipeline.evidence:
        secure_evidence(services, pipeline)

    # 5.
    with transaction(sessions) as session:
        run = session.get(CrawlRunRow, run_id)
        assert run is not None
        run.status, run.error, run.finished_at = status, error, utcnow()
        site_row = session.get(SiteRow, site_id)
        if site_row is not None and decision is not None:
            site_row.render_decision = decision  # the next crawl of this auto site starts there
    services.engine.dispose()
    log.debug("run %d of site %s finished: %s", run_id, site_id, status)


def _alert_queue(config: Config):  # type: ignore[no-untyped-def]
    """The outbox writer, called inside each page's transaction."""
    from vaern.alerts.outbox import enqueue

    def queue(session: Session, hits, kind: str, run_id: int) -> None:  # type: ignore[no-untyped-def]
        enqueue(session, config, hits, kind, run_id)

    return queue


def secure_evidence(services: Services, pipeline: PagePipeline) -> None:
    """Capture every page that needs it (one browser for the batch) and file each in the archive.

    Each snapshot row and its archive entry are written in one transaction. A page that cannot
    be captured is logged and the rest go on.
    """
    from vaern.crawler.capture import CaptureRequest, capture_pages
    from vaern.domain import CaptureFailure
    from vaern.schedules import parse_interval
    from vaern.storage.archive import record_snapshot
    from vaern.storage.stamping import archive_for

    config, site = services.config, pipeline.site
    needs = pipeline.evidence
    requests = [
        CaptureRequest(
            url=need.url, site_id=site.id, detected_at=need.detected_at, reason=need.reason,
            raw_html=need.raw_html, raw_status=need.raw_status, matches=tuple(need.matches),
            site_settings=site.model_dump(mode="json"),
        )
        for need in needs
    ]
    archive = archive_for(config)
    retry_after = parse_interval(config.evidence.tsa_retry_initial)
    for need, result in zip(needs, capture_pages(config, requests), strict=True):
        if isinstance(result, CaptureFailure):
            log.warning("evidence capture of %s failed: %s", result.url, result.error)
            continue
        with transaction(services.sessions) as session:
            record_snapshot(session, archive, result, need.page_id, retry_after)
