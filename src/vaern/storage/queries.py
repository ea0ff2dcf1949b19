"""Reads and writes the pipeline, the crawl recipe and the commands share. The only place that
knows the row shapes of hits, pages and runs well enough to turn them into the JSON of CONTRACT.md.

A crawl run's row is the parent's (`new_run`); the crawl child marks it running and finished
(`start_run`, `finish_run`) and reads what earlier crawls of the site learned (`known_pages`,
`site_memory`), and leaves what this one learned (`remember`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session

from vaern import ids
from vaern.clock import iso, utcnow
from vaern.config import Config
from vaern.storage.tables import (
    AlertHitRow,
    AlertRow,
    CrawlRunRow,
    HitMoveRow,
    HitRow,
    PageRow,
    PersonRow,
    SchedulerJobRow,
    SiteRow,
    SnapshotRow,
    UnitRow,
)


def sync_reference_data(session: Session, config: Config) -> None:
    """Mirror the config's units, people and sites into the database (the config is the truth).

    People and sites no longer in the config are kept but marked inactive: their hits stay.
    """
    for unit in config.units:
        session.merge(
            UnitRow(
                id=unit.id,
                name=unit.name,
                leader_name=unit.leader.name,
                leader_email=unit.leader.email,
                notify=[c.model_dump() for c in unit.notify],
            )
        )
    current = {p.id for p in config.people}
    _move_hits(session, config)
    for person in config.people:
        session.merge(
            PersonRow(
                id=person.id, name=person.name, aliases=list(person.aliases), unit_id=person.unit,
                title=person.title, active=True,
            )
        )
    for row in session.scalars(select(PersonRow).where(PersonRow.active.is_(True))):
        if row.id not in current:
            row.active = False
    sites = {s.id for s in config.sites}
    for site in config.sites:
        site_row = session.get(SiteRow, site.id)
        settings = site.model_dump(mode="json")
        if site_row is None:
            session.add(SiteRow(id=site.id, name=site.label, settings=settings, active=True))
        else:
            site_row.name, site_row.settings, site_row.active = site.label, settings, True
    for srow in session.scalars(select(SiteRow).where(SiteRow.active.is_(True))):
        if srow.id not in sites:
            srow.active = False


def _move_hits(session: Session, config: Config) -> None:
    """A person whose unit changed in the config: their hits become the new unit's (review app
    access follows the person's current unit, as alerts do), and the old unit keeps a copy of
    what it was told up to now (HitMoveRow), which is all it sees of the hit from now on."""
    units = {p.id: p.unit for p in config.people}
    before = dict(session.execute(select(PersonRow.id, PersonRow.unit_id).where(PersonRow.id.in_(list(units)))).all())
    moved = {pid: (old, units[pid]) for pid, old in before.items() if old != units[pid]}
    if not moved:
        return
    now = utcnow()
    for hit in session.scalars(select(HitRow).where(HitRow.person_id.in_(list(moved)))):
        old, new = moved[hit.person_id]
        if hit.unit_id != old:
            continue
        session.add(HitMoveRow(
            hit_id=hit.id, from_unit=old, to_unit=new, moved_at=now, status=hit.status, excerpt=hit.excerpt,
            matched_text=list(hit.matched_text or []), categories=list(hit.categories or []),
            last_seen=hit.last_seen,
        ))
        hit.unit_id = new


def snapshot_json(snap: SnapshotRow, stamps: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": ids.snapshot(snap.id),
        "captured_at": iso(snap.captured_at),
        "manifest": snap.manifest_path,
        "manifest_sha256": snap.manifest_sha256,
        "files": snap.files,
        # Whether the capture shows every mention the matcher reported; if not, why not.
        "complete": bool(snap.complete),
        "incomplete_reason": None if snap.complete else snap.incomplete_reason,
    }
    if stamps is not None:
        # Trusted timestamps over the manifest: `ok` with the TSA's time, or `pending` (owed, retried).
        out["timestamps"] = stamps
        out["timestamp_pending"] = any(s["status"] == "pending" for s in stamps)
    return out


def hit_json(session: Session, hit: HitRow, people: dict[str, str] | None = None) -> dict[str, Any]:
    """One hit exactly as `vaern hits --json` prints it (CONTRACT.md)."""
    person_name = (people or {}).get(hit.person_id)
    if person_name is None:
        person = session.get(PersonRow, hit.person_id)
        person_name = person.name if person else hit.person_id
    snaps = list(session.scalars(
        select(SnapshotRow).where(SnapshotRow.page_id == hit.page_id).order_by(SnapshotRow.captured_at, SnapshotRow.id)
    ))
    from vaern.storage.stamping import snapshot_stamps

    stamps = snapshot_stamps(session, [s.id for s in snaps])
    alerts = session.execute(
        select(AlertRow)
        .join(AlertHitRow, AlertHitRow.alert_id == AlertRow.id)
        .where(AlertHitRow.hit_id == hit.id)
        .order_by(AlertRow.id)
    ).scalars()
    return {
        "id": ids.hit(hit.id),
        "person": hit.person_id,
        "person_name": person_name,
        "unit": hit.unit_id,
        "site": hit.site_id,
        "url": hit.url,
        "status": hit.status,
        "confidence": hit.confidence,
        "score": round(hit.score, 1),
        "matched_text": list(hit.matched_text),
        "excerpt": hit.excerpt,
        "categories": list(hit.categories),
        "severity": hit.severity or "none",
        "passage": hit.passage,
        "author": hit.author,  # who wrote the post, where the page says (null: it does not)
        "mentions": [
            {"text": str(w.get("compared", [""])[0]) if isinstance(w.get("compared"), list) else "",
             "found": w.get("found", "text"), "confidence": w.get("confidence")}
            for w in hit.why or [] if isinstance(w, dict)
        ],
        "first_seen": iso(hit.first_seen),
        "last_seen": iso(hit.last_seen),
        "removed_at": iso(hit.removed_at),
        "also_shown_on": list(hit.shown_on or []),
        "snapshots": [snapshot_json(s, stamps.get(s.id, [])) for s in snaps],
        # True while no complete snapshot settles what the hit owes (pipeline.py, app.py).
        "evidence_owed": bool(hit.evidence_owed),
        "alerts": [
            {"to": a.recipient, "kind": a.kind, "status": a.status, "sent_at": iso(a.sent_at)} for a in alerts
        ],
    }


def find_hits(
    session: Session,
    *,
    person: str | None = None,
    site: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
) -> Sequence[HitRow]:
    """Every hit matching the filters, newest first, unscoped (`vaern hits`; the review app's
    list, which applies the viewer's scope and pages, is `review.hitlist.list_hits`)."""
    query = select(HitRow).order_by(HitRow.first_seen.desc(), HitRow.id.desc())
    if person:
        query = query.where(HitRow.person_id == person)
    if site:
        query = query.where(HitRow.site_id == site)
    if status:
        query = query.where(HitRow.status == status)
    if since:
        query = query.where(HitRow.last_seen >= since)
    return session.scalars(query).all()


def people_names(session: Session) -> dict[str, str]:
    return {p.id: p.name for p in session.scalars(select(PersonRow))}


def page_by_url(session: Session, site_id: str, url: str) -> PageRow | None:
    return session.scalars(select(PageRow).where(PageRow.site_id == site_id, PageRow.url == url)).first()


def hits_on_page(session: Session, page_id: int) -> list[HitRow]:
    return list(session.scalars(select(HitRow).where(HitRow.page_id == page_id)))


def new_run(session: Session, site_id: str, kind: str = "full") -> int:
    """Queue a crawl run of `site_id` (`kind`: "full", or "feed": a poll of its feeds); return its id."""
    run = CrawlRunRow(site_id=site_id, started_at=utcnow(), status="queued", kind=kind)
    session.add(run)
    session.flush()
    return run.id


def run_kind(session: Session, run_id: int) -> str:
    """"full" (the site's scheduled crawl) or "feed" (a poll of its feeds; app.py)."""
    run = session.get(CrawlRunRow, run_id)
    assert run is not None, f"no crawl run {run_id}"
    return run.kind or "full"


def start_run(session: Session, run_id: int) -> None:
    """Mark a queued run running: its crawl has begun."""
    run = session.get(CrawlRunRow, run_id)
    assert run is not None, f"no crawl run {run_id}"
    run.status, run.started_at = "running", utcnow()


def finish_run(session: Session, run_id: int, status: str, error: str | None, notes: str | None = None) -> None:
    """Mark a run finished with how it went (and what it noticed); the alert dispatcher waits for this."""
    run = session.get(CrawlRunRow, run_id)
    assert run is not None, f"no crawl run {run_id}"
    run.status, run.error, run.finished_at = status, error, utcnow()
    if notes:
        run.notes = notes


def known_pages(session: Session, site_id: str) -> list[tuple[PageRow, bool]]:
    """The site's pages fetched ok before, each with whether a hit on it is still open (not removed)."""
    pages = session.scalars(select(PageRow).where(PageRow.site_id == site_id, PageRow.status == "ok")).all()
    with_open_hits = set(
        session.scalars(
            select(HitRow.page_id).where(HitRow.site_id == site_id, HitRow.status != "removed").distinct()
        )
    )
    return [(page, page.id in with_open_hits) for page in pages]


def site_memory(session: Session, site_id: str) -> tuple[int, str | None]:
    """What earlier crawls of the site left: where the name searches stopped, and what a
    `render: auto` site needed ("http" or "browser"; None before its first crawl)."""
    site = session.get(SiteRow, site_id)
    return (site.search_cursor, site.render_decision) if site is not None else (0, None)


def remember(
    session: Session, site_id: str, *, search_cursor: int | None = None, render_decision: str | None = None
) -> None:
    """Leave for the next crawl of the site where its searches stopped, and what it needed."""
    site = session.get(SiteRow, site_id)
    if site is None:
        return
    if search_cursor is not None:
        site.search_cursor = search_cursor
    if render_decision is not None:
        site.render_decision = render_decision


def record_login(session: Session, site_id: str, lost: str | None) -> None:
    """After a crawl of a logged-in site: `lost` says why its session no longer works (the site
    then needs a new login; the first lapse is kept with its time), None that the crawl got in."""
    site = session.get(SiteRow, site_id)
    if site is None:
        return
    if lost is None:
        site.needs_login = site.needs_login_since = site.needs_login_told_at = None
    elif site.needs_login is None:
        site.needs_login, site.needs_login_since = lost, utcnow()


def next_runs(engine: Engine) -> dict[str, datetime | None]:
    """job id -> its next run (naive UTC), read from the job store of `vaern run` (APScheduler's
    table, which migrations create); `vaern status` reads it without loading a scheduler."""
    if not inspect(engine).has_table(SchedulerJobRow.__tablename__):
        return {}
    with engine.connect() as conn:
        rows = conn.execute(select(SchedulerJobRow.id, SchedulerJobRow.next_run_time))
        return {
            job_id: None if ts is None else datetime.fromtimestamp(ts, UTC).replace(tzinfo=None) for job_id, ts in rows
        }


def latest_runs(session: Session, run_ids: Sequence[int]) -> list[CrawlRunRow]:
    return list(session.scalars(select(CrawlRunRow).where(CrawlRunRow.id.in_(run_ids)).order_by(CrawlRunRow.id)))
