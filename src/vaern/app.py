"""The recipes: what the commands do, step by step, built from the stages and nothing else.

- `open_services`: the database a command works on (migrated, the config mirrored into it).
- `crawl_pass`: `vaern crawl` in the parent — crawl processes for the sites, then delivery.
- `run_crawl`: one crawl of one site in its child process — pages through the pipeline, then
  evidence (`prepare_crawl` loads the crawler before the run is known).
- `evidence_bundle`: `vaern export` and the review app's export — the bundle and its printed PDF.

`cli`, `review` and `scheduler` call these; the stages (crawler, matchers, alerts, storage) never
import this module. `supervisor.py` starts and watches the crawl processes `crawl_pass` asks for.
Heavy imports (SQLAlchemy, Scrapy, the matcher) are made where they are needed: `vaern crawl`
starts its crawl processes before it loads the database layer.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vaern.config import Config
from vaern.domain import WatchedPerson
from vaern.errors import DatabaseUnavailable

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from vaern.alerts import DeliveryReport
    from vaern.config import Site
    from vaern.crawler.desk import EvidenceDesk
    from vaern.domain import Capture, CaptureFailure, CaptureRequest
    from vaern.matchers import NameIndex
    from vaern.pipeline import AlertQueue, PagePipeline
    from vaern.storage.archive import Archive
    from vaern.storage.tables import CrawlRunRow, HitRow

log = logging.getLogger("vaern.app")


@dataclass
class Services:
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]


def open_services(config: Config) -> Services:
    """Connect to the database, apply migrations and mirror the config into it."""
    from sqlalchemy.exc import DBAPIError

    from vaern.storage.db import migrate, transaction
    from vaern.storage.queries import sync_reference_data

    try:
        services = connect(config)  # creates a SQLite file's folder
        migrate(services.engine)  # the first statement: a server down, a file that cannot be opened
    except (DBAPIError, OSError) as exc:
        raise DatabaseUnavailable(database_problem(config.database, exc, "cannot open")) from exc
    try:
        with transaction(services.sessions) as session:
            sync_reference_data(session, config)
    except DBAPIError as exc:  # a read-only database, say
        services.engine.dispose()
        raise DatabaseUnavailable(database_problem(config.database, exc, "cannot write to")) from exc
    return services


def database_problem(database: str, exc: BaseException, what: str = "cannot use") -> str:
    """One line for an operator: which database (without its password), and what it said."""
    from sqlalchemy import make_url
    from sqlalchemy.exc import DBAPIError

    try:
        where = make_url(database).render_as_string(hide_password=True)
    except Exception:  # not a URL (the config was not read): say what the error says
        where = ""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    reason = lines[0] if lines else type(cause).__name__
    return f"{what} the database {where} (`database` in the config): {reason}".replace("database  (", "database (")


def connect(config: Config) -> Services:
    """Only connect: for a crawl child, whose parent has already opened the services (migrations
    and reference data are done; repeating them would cost every crawl a second or more)."""
    from vaern.storage.db import make_engine, session_factory

    engine = make_engine(config.database)
    return Services(config, engine, session_factory(engine))


def watched_people(config: Config) -> list[WatchedPerson]:
    return [WatchedPerson(p.id, p.name, tuple(p.aliases), p.title) for p in config.people]


@dataclass(frozen=True)
class CrawlPass:
    """How a crawl pass went: each site's finished run, and what delivery did (None: not sent).

    `interrupted` names the signal that stopped the crawls (they ended their runs, what they
    reached is saved); `sending_interrupted` says a second one stopped the e-mails, which stay
    queued. `failures` holds, per run, the first failed URLs with their reasons, and `outbox` the
    outbox's counts after delivery, both read before the database is let go."""

    runs: list[CrawlRunRow]
    delivery: DeliveryReport | None
    interrupted: str | None = None
    sending_interrupted: bool = False
    failures: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    outbox: dict[str, int] = field(default_factory=dict)
    timestamps_owed: list[str] = field(default_factory=list)


def crawl_pass(
    config: Config,
    site_ids: Sequence[str],
    *,
    send_alerts: bool,
    on_progress: Callable[[list[CrawlRunRow]], None] | None = None,
) -> CrawlPass:
    """`vaern crawl` (and the demo): one pass over `site_ids` now, then the alerts it queued.

    1. start the first crawl processes at once: they load the crawler while this process opens
       the database;
    2. open the database (migrating it, mirroring the config);
    3. crawl, each site in a child process, at most `crawl.max_parallel_sites` at a time, telling
       `on_progress` the runs as they go; an interruption (Ctrl-C, or SIGTERM raised as
       KeyboardInterrupt) is passed on to the crawls, which end their runs (supervisor.py);
    4. deliver every due alert, this pass's and earlier retries, unless `send_alerts` is False
       (`vaern run` sends them); a second interruption leaves what is not sent queued;
    5. ask again for trusted timestamps that are owed and due, stamp the chain's head if due, and
       say what is still owed (storage/stamping.py).
    """
    from vaern.supervisor import kill_crawl, prestart_crawls

    # 1.
    prestarted = prestart_crawls(config, site_ids)  # before the database: they load meanwhile
    # 2.
    try:
        from vaern.supervisor import CrawlInterrupted, Supervisor

        services = open_services(config)
    except BaseException:
        for process in prestarted.values():
            kill_crawl(process, grace=0)
        raise
    try:
        # 3.
        interrupted = None
        runs: list[CrawlRunRow] = []
        if site_ids:
            try:
                runs = Supervisor(config, services.sessions).crawl_all(site_ids, on_progress, prestarted)
            except CrawlInterrupted as stop:
                runs, interrupted = stop.runs, stop.signal_name
        # 4.
        delivery, sending_interrupted = None, False
        if send_alerts:
            from vaern.alerts import deliver

            try:
                delivery = deliver(config, services.sessions)
                from vaern.alerts import notify_needs_login

                with services.sessions() as session:
                    notify_needs_login(config, session)  # once per lapse (alerts/loginnotice.py)
            except KeyboardInterrupt:
                sending_interrupted = True
        # 5.
        from vaern.storage.stamping import after_crawl

        with services.sessions() as session:
            owed = after_crawl(config, session)
        return CrawlPass(
            runs, delivery, interrupted, sending_interrupted, _failures(services, runs), _outbox(services), owed
        )
    finally:
        services.engine.dispose()


def _failures(services: Services, runs: list[CrawlRunRow]) -> dict[int, list[tuple[str, str]]]:
    from vaern.storage.failures import SHOWN, run_failures

    with services.sessions() as session:
        return {
            r.id: [(f.url, f.reason) for f in run_failures(session, r.id, limit=SHOWN)]
            for r in runs
            if r.pages_failed
        }


def _outbox(services: Services) -> dict[str, int]:
    from vaern.alerts import outbox_counts

    with services.sessions() as session:
        return dict(outbox_counts(session))


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
       whether a `render: auto` site needed the browser) and what evidence they still owe; a
       feed run (kind "feed") polls the site's feeds (`poll_feeds`) and crawls only their new
       entries, as its start pages, following no links (none new: the run ends here);
    2. build the name index once (in `prepare_crawl`);
    3. crawl: evidence still owed is captured first; every page flows through the pipeline
       (match, hits, alert rows, evidence owed), one transaction each, listing pages last, once
       the posts they show are read (`PagePipeline.finish`); as soon as a page's
       transaction commits with a new, changed or removed hit, its
       evidence is captured (crawler/desk.py), while the crawl goes on — for a rendered page from
       the very page the matcher read — and filed; the crawl ends when that is done;
    4. evidence the crawl could not file (its capture never ran, or filing failed) is tried
       once more now; whatever is still owed after that waits for the next crawl;
    5. mark the run finished, with its counts — the alert dispatcher waits for this — and
       remember what a `render: auto` site needed.
    """
    prepared = prepared or prepare_crawl(config)
    from vaern.crawler.run import KnownPage, crawl_site
    from vaern.crawler.search import plan_searches
    from vaern.pipeline import PagePipeline
    from vaern.storage.db import transaction
    from vaern.storage.failures import start_urls_failed
    from vaern.storage.queries import (
        finish_run,
        known_pages,
        record_login,
        remember,
        run_kind,
        site_memory,
        start_run,
    )

    services = connect(config)  # the parent opened them (new_run) before starting this crawl
    site = config.site(site_id)
    sessions = services.sessions

    # 1.
    with transaction(sessions) as session:
        start_run(session, run_id)
        kind = run_kind(session, run_id)
        known = {
            p.url: KnownPage(
                p.url, p.etag, p.last_modified, p.content_hash,
                checked_at=p.last_fetched_at.replace(tzinfo=UTC), open_hit=open_hit,
            )
            for p, open_hit in known_pages(session, site_id)
        }
        cursor, remembered = site_memory(session, site_id)
        names = [form for p in config.people for form in (p.name, *p.aliases)]
        searches, next_cursor = plan_searches(names, site.search_budget, cursor) if site.search_urls else ([], cursor)
        if kind == "full":  # a feed run searches nothing: the cursor stays for the full crawl
            remember(session, site_id, search_cursor=next_cursor)
    feed_notes = None
    if kind == "feed":
        entries, feed_notes, feed_login_lost = poll_feeds(config, site, sessions, run_id, set(known))
        if feed_login_lost is not None:  # as a crawl's login wall: the site needs a login, nothing removed
            with transaction(sessions) as session:
                finish_run(session, run_id, "failed", f"needs login: {feed_login_lost} (export a new session: "
                           "README, Logged-in sources)", feed_notes)
                record_login(session, site_id, feed_login_lost)
            services.engine.dispose()
            return
        if not entries:
            with transaction(sessions) as session:
                finish_run(session, run_id, "ok", None, feed_notes)
            services.engine.dispose()
            return
        # Only the new entries, as start pages: no links followed, nothing else re-checked.
        site = site.model_copy(update={
            "start_urls": entries, "search_urls": [], "follow": site.follow.model_copy(update={"max_depth": 0}),
        })
        known = {url: page for url, page in known.items() if url in entries}
        searches = []

    # 2.
    pipeline = PagePipeline(config, site, sessions, prepared.index, run_id, queue_alerts=_alert_queue(config))
    desk = evidence_desk(services, pipeline) if config.evidence.capture else None
    debts = evidence_debts(services, site) if desk is not None else []
    for need in debts:
        assert desk is not None
        desk.owe_at_start(need, need)

    # 3.
    status, error, decision, notes, login_lost, got_in = "ok", None, None, None, None, False
    try:
        try:
            stats = crawl_site(config, site, pipeline, known, searches, render_decision=remembered, evidence=desk)
        finally:
            # Listing pages, held until the posts they show were read. The desk has closed with
            # the crawl: what they owe is captured below, with whatever else it could not file.
            pipeline.on_evidence = None
            pipeline.finish()
        decision, notes, login_lost = stats.render_decision, stats.notes(), stats.needs_login
        got_in = login_lost is None and stats.fetched + stats.unchanged > 0
        if login_lost is not None:
            status, error = "failed", f"needs login: {login_lost} (export a new session: README, Logged-in sources)"
        elif stats.finish_reason == "shutdown":  # a signal stopped it (the service, or crawl.timeout)
            status, error = "stopped", "stopped before the end; the pages it reached are saved"
    except Exception as exc:  # the run row must say what happened; the parent reports it
        log.exception("crawl of %s failed", site_id)
        status, error = "failed", f"{type(exc).__name__}: {exc}"

    # 4.
    if desk is not None:
        unfiled = [need for need in [*debts, *pipeline.evidence] if id(need) not in desk.filed]
        if unfiled:
            secure_evidence(services, site, unfiled)

    # 5.
    with transaction(sessions) as session:
        nothing_to_start_from = start_urls_failed(session, run_id, site.start_urls)
        if nothing_to_start_from and status == "ok":
            status, error = "failed", nothing_to_start_from
        finish_run(session, run_id, status, error, "; ".join(n for n in (feed_notes, notes) if n) or None)
        remember(session, site_id, render_decision=decision)  # the next crawl of an auto site starts there
        if site.session is not None and (login_lost is not None or got_in):
            # Lost, or pages read as a member: a crawl that reached nothing says nothing either way.
            record_login(session, site_id, login_lost)
    services.engine.dispose()
    log.debug("run %d of site %s finished: %s", run_id, site_id, status)


def poll_feeds(
    config: Config, site: Site, sessions: sessionmaker[Session], run_id: int, known_pages: set[str]
) -> tuple[list[str], str, str | None]:
    """A feed run's poll: the site's feeds (configured; else detected, looked for again daily
    while none are found; sitemaps at most every 30 minutes), each fetched conditionally through
    the SSRF guard, with a logged-in site's session cookies to its own hosts; their validators
    and failures remembered; the pages of entries not seen before returned (on the site's own
    hosts, at most `feeds.max_new`), with a note for the run, and why the session no longer
    works where a login wall stopped the poll (then nothing is taken as new)."""
    from urllib.parse import urldefrag, urlsplit

    from vaern.crawler.feedpoll import FeedState, LoginWall, PollResult, detect, poll
    from vaern.crawler.netguard import NetGuard
    from vaern.crawler.sitelogin import login_of
    from vaern.storage.db import transaction
    from vaern.storage.feeds import (
        PolledFeed,
        detection_due,
        due,
        feeds_of,
        record_polls,
        remember_detected,
        take_new,
    )

    guard = NetGuard(config.network.allow_private_hosts)
    with transaction(sessions) as session:
        rows = feeds_of(session, site.id, list(site.feeds.urls))
        states = [FeedState(r.url, r.origin, r.etag, r.last_modified) for r in due(rows)]
        look = not rows and site.feeds.detect and detection_due(session, site.id)
    login = login_of(site)
    detection = PollResult()
    if look:
        try:
            found = detect(config, site, guard, detection, login)
        except LoginWall as wall:
            return [], f"feeds: not detected, {detection.requests} requests; needs login", wall.reason
        with transaction(sessions) as session:
            remember_detected(session, site.id, found)
        states = [FeedState(url, "detected") for url in found]
    result = poll(config, site, states, guard, login)
    if result.login_lost is not None:
        # Nothing of this poll is remembered (validators, entries, failures): a wall is no fault of
        # the feeds, and what they list is read by the first poll that gets in again.
        return [], f"feeds: the login wall stopped the poll after {result.requests} requests", result.login_lost
    hosts = {urlsplit(u).hostname for u in site.start_urls}
    with transaction(sessions) as session:
        first = record_polls(session, site.id, [
            PolledFeed(o.url, o.origin, o.kind, o.status, o.etag, o.last_modified, o.error) for o in result.outcomes
        ])
        # The page of each entry (a comment's link is its post's page with an anchor).
        entries = [(e.key, urldefrag(e.url).url, o.url in first) for o in result.outcomes for e in o.entries
                   if urlsplit(e.url).hostname in hosts]
        new = take_new(session, site.id, entries, run_id, known_pages, site.feeds.max_new)
    failed = [o for o in result.outcomes if o.error]
    note = (f"feeds: {len(result.outcomes)} polled ({sum(o.not_modified for o in result.outcomes)} not modified, "
            f"{len(failed)} failed), {len(new)} new entries, {result.requests + detection.requests} requests")
    if failed:
        note += "; " + "; ".join(o.error or "" for o in failed[:3])
    return new, note, None


def _alert_queue(config: Config) -> AlertQueue:
    """The outbox writer, called inside each page's transaction."""
    from vaern.alerts import enqueue

    def queue(session: Session, hits: Sequence[HitRow], kind: str, run_id: int) -> None:
        enqueue(session, config, hits, kind, run_id)

    return queue


def evidence_bundle(config: Config, session: Session, hit_id: str | int, out_path: Path, **who: Any) -> Path:
    """The evidence bundle of one hit (storage/export.py), its report printed to PDF by Chromium.
    `who`: export_bundle's `exported_by`, `via` and `record_audit`."""
    from vaern.crawler.pdf import print_pdf
    from vaern.storage.export import export_bundle

    return export_bundle(config, session, hit_id, out_path, print_pdf=functools.partial(print_pdf, config), **who)


def evidence_desk(services: Services, pipeline: PagePipeline) -> EvidenceDesk:
    """The crawl's evidence desk, wired to the pipeline: each need it reports after a commit is
    captured at once; each result is filed in the archive and the database."""
    from vaern.crawler.desk import EvidenceDesk
    from vaern.storage.stamping import archive_for

    config, site = services.config, pipeline.site
    archive = archive_for(config)

    def store(need: CaptureRequest, result: Capture | CaptureFailure) -> None:
        file_evidence(services, archive, need, result)

    desk = EvidenceDesk(config, site, store)
    pipeline.on_evidence = lambda need: desk.owe(need, need)
    return desk


def file_evidence(
    services: Services, archive: Archive, need: CaptureRequest, result: Capture | CaptureFailure
) -> None:
    """A capture's snapshot row, its archive entry and what it settles, in one transaction.

    A complete capture settles the debts of the hits it covers (their mentions were all in it;
    for a removal, the page as it is now); an incomplete one or a failure leaves them owed, with
    the reason and one more attempt counted. If filing fails (a full disk), the transaction rolls
    back and the debts stay as they were, for the next crawl."""
    from vaern.domain import CaptureFailure
    from vaern.storage.archive import record_snapshot
    from vaern.storage.db import transaction

    assert need.page_id is not None, "the pipeline files every capture under its page"
    if isinstance(result, CaptureFailure):
        log.warning("evidence capture of %s failed: %s", result.url, result.error)
    with transaction(services.sessions) as session:
        owed = _owed_hits(session, need)
        if isinstance(result, CaptureFailure):
            for hit in owed:
                hit.evidence_attempts += 1
                hit.evidence_error = f"capture failed: {result.error}"
            return
        record_snapshot(session, archive, result, need.page_id, services.config.evidence.tsa_retry_initial)
        for hit in owed:
            hit.evidence_attempts += 1
            if result.complete:
                hit.evidence_owed, hit.evidence_error = False, None
            else:
                hit.evidence_error = result.incomplete_reason


def _owed_hits(session: Session, need: CaptureRequest) -> list[HitRow]:
    """The hits on the need's page whose debt this capture is for: a removal's for removed hits,
    any other's for the hits it checked the mentions of."""
    from sqlalchemy import select

    from vaern.storage.tables import HitRow

    owed = session.scalars(
        select(HitRow).where(HitRow.page_id == need.page_id, HitRow.evidence_owed.is_(True))
    ).all()
    if need.reason == "removed":
        return [h for h in owed if h.evidence_reason == "removed"]
    checked = {str(m.get("person")) for m in need.matches}
    return [h for h in owed if h.evidence_reason != "removed" and h.person_id in checked]


def evidence_debts(services: Services, site: Site) -> list[CaptureRequest]:
    """What earlier crawls of the site still owe (a crawl killed mid-way, a full disk, a capture
    that did not show the mention): one request per page, with the mentions to check."""
    from sqlalchemy import select

    from vaern.domain import CaptureRequest, MatchedName
    from vaern.storage.tables import HitRow, PageRow

    with services.sessions() as session:
        rows = session.execute(
            select(HitRow, PageRow.url).join(PageRow, PageRow.id == HitRow.page_id)
            .where(HitRow.site_id == site.id, HitRow.evidence_owed.is_(True)).order_by(HitRow.first_seen, HitRow.id)
        ).all()
    names = {p.id: p.name for p in services.config.people}
    pages: dict[tuple[int, bool], tuple[str, str, datetime, list[MatchedName]]] = {}
    for hit, url in rows:
        reason = "removed" if hit.evidence_reason == "removed" else hit.evidence_reason or "hit"
        key = (hit.page_id, reason == "removed")
        if key not in pages:
            pages[key] = (url, reason, hit.last_seen.replace(tzinfo=UTC), [])
        if reason == "removed":
            continue
        matches = pages[key][3]
        for why in hit.why or [{}]:
            matched = why.get("matched") if isinstance(why, dict) else None
            field = why.get("field", "text") if isinstance(why, dict) else "text"
            for form in ([matched] if matched else list(hit.matched_text or [])):
                entry = MatchedName(person=hit.person_id, name=names.get(hit.person_id, hit.person_id),
                                    matched=form, snippet="", field=field)
                if entry not in matches:
                    matches.append(entry)
    return [
        CaptureRequest(url=url, site_id=site.id, detected_at=detected, reason=reason, matches=tuple(matches),
                       site_settings=site.model_dump(mode="json"), page_id=page_id)
        for (page_id, _removal), (url, reason, detected, matches) in pages.items()
    ]


def secure_evidence(services: Services, site: Site, needs: Sequence[CaptureRequest]) -> None:
    """Capture pages anew (one browser for the batch) and file each in the archive.

    Each snapshot row and its archive entry are written in one transaction. A page that cannot
    be captured is logged and the rest go on.
    """
    from vaern.crawler.capture import capture_pages
    from vaern.storage.stamping import archive_for

    config = services.config
    archive = archive_for(config)
    for need, result in zip(needs, capture_pages(config, needs), strict=True):
        try:
            file_evidence(services, archive, need, result)
        except Exception as exc:  # a full disk: the debt stays for the next crawl
            log.error("evidence of %s could not be filed: %s: %s", need.url, type(exc).__name__, exc)
