"""`vaern status`: per site the last crawl and the next one, the hits still owed evidence, and
the state of the outbox.

Reads the database only (crawl runs, the scheduler's job store, the alerts), so it works
whether or not `vaern run` is running, and loads no scheduler. Times are shown in the config's `timezone`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from vaern import ids
from vaern.alerts import outbox_counts
from vaern.clock import iso
from vaern.config import Config
from vaern.storage.failures import SHOWN, failure_json, outcome, run_failures
from vaern.storage.queries import next_runs
from vaern.storage.stamping import timestamp_state
from vaern.storage.tables import AlertRow, CrawlRunRow, HitRow, SiteRow, SnapshotRow

FAILED_SHOWN = 10
OWED_SHOWN = 20


def collect(config: Config, engine: Engine, sessions: sessionmaker[Session]) -> dict[str, Any]:
    """Everything `vaern status` shows, as plain data (also what `--json` prints)."""
    scheduled = next_runs(engine)
    sites: list[dict[str, Any]] = []
    with sessions() as session:
        for site in config.sites:
            last = session.scalar(
                select(CrawlRunRow)
                .where(CrawlRunRow.site_id == site.id, CrawlRunRow.finished_at.is_not(None),
                       CrawlRunRow.kind == "full")
                .order_by(CrawlRunRow.id.desc())
                .limit(1)
            )
            # Feed runs come every few minutes: shown apart, so they never hide the full crawl.
            last_feed = session.scalar(
                select(CrawlRunRow)
                .where(CrawlRunRow.site_id == site.id, CrawlRunRow.finished_at.is_not(None),
                       CrawlRunRow.kind == "feed")
                .order_by(CrawlRunRow.id.desc())
                .limit(1)
            )
            running = session.scalar(
                select(func.count())
                .select_from(CrawlRunRow)
                .where(CrawlRunRow.site_id == site.id, CrawlRunRow.finished_at.is_(None))
            )
            row = session.get(SiteRow, site.id)
            sites.append(
                {
                    "site": site.id,
                    "schedule": site.schedule,
                    "running": bool(running),
                    # A logged-in site whose session stopped working: why, and since when.
                    "logged_in": site.session is not None,
                    "needs_login": None if row is None or row.needs_login is None else {
                        "reason": row.needs_login, "since": iso(row.needs_login_since),
                        "admins_told_at": iso(row.needs_login_told_at),
                    },
                    "last_crawl": None
                    if last is None
                    else {
                        "run": last.id,
                        "started_at": iso(last.started_at),
                        "finished_at": iso(last.finished_at),
                        "seconds": round((last.finished_at - last.started_at).total_seconds(), 1)
                        if last.finished_at
                        else None,
                        "status": last.status,
                        "outcome": outcome(last),
                        "pages_fetched": last.pages_fetched,
                        "pages_unchanged": last.pages_unchanged,
                        "pages_failed": last.pages_failed,
                        "hits_new": last.hits_new,
                        "hits_seen": last.hits_seen,
                        "error": last.error,
                        "notes": last.notes,
                        "dead_links": last.dead_links,
                        "failures": [failure_json(f) for f in run_failures(session, last.id)],
                    },
                    "next_crawl": iso(scheduled.get(f"crawl:{site.id}")),
                    "last_feed_run": None if last_feed is None else {
                        "run": last_feed.id, "finished_at": iso(last_feed.finished_at), "status": last_feed.status,
                        "hits_new": last_feed.hits_new, "notes": last_feed.notes,
                    },
                    "next_feed_run": iso(scheduled.get(f"feeds:{site.id}")),
                }
            )
        counts = outbox_counts(session)
        failed = list(
            session.scalars(
                select(AlertRow).where(AlertRow.status == "failed").order_by(AlertRow.id.desc()).limit(FAILED_SHOWN)
            )
        )
        oldest_queued = session.scalar(select(func.min(AlertRow.created_at)).where(AlertRow.status == "queued"))
        owed = _evidence_owed(session)
        stamps = timestamp_state(session, config)
    return {
        "timestamps": stamps,
        "sites": sites,
        "outbox": {
            **counts,
            "oldest_queued": iso(oldest_queued),
            "failed_alerts": [
                {"id": ids.alert(a.id), "to": a.recipient, "kind": a.kind, "last_error": a.last_error}
                for a in failed
            ],
        },
        "digest_next": iso(scheduled.get("digest")),
        "scheduler": bool(scheduled),
        "evidence_owed": owed,
    }


def _evidence_owed(session: Session) -> dict[str, Any]:
    """The hits that still owe evidence (no complete snapshot settles them yet), newest first."""
    count = session.scalar(select(func.count()).select_from(HitRow).where(HitRow.evidence_owed.is_(True))) or 0
    rows = session.scalars(
        select(HitRow).where(HitRow.evidence_owed.is_(True)).order_by(HitRow.first_seen.desc(), HitRow.id.desc())
        .limit(OWED_SHOWN)
    ).all()
    shown = []
    for hit in rows:
        newest = session.scalar(
            select(SnapshotRow).where(SnapshotRow.page_id == hit.page_id)
            .order_by(SnapshotRow.captured_at.desc(), SnapshotRow.id.desc()).limit(1)
        )
        why = hit.evidence_error
        if why is None and newest is not None and not newest.complete:
            why = newest.incomplete_reason
        shown.append({"hit": ids.hit(hit.id), "person": hit.person_id, "site": hit.site_id, "url": hit.url,
                      "for": hit.evidence_reason, "attempts": hit.evidence_attempts,
                      "since": iso(hit.last_seen), "why": why})
    return {"count": count, "hits": shown}


def render(config: Config, data: dict[str, Any]) -> str:
    """The human form: one block per site, then the outbox."""
    tz = ZoneInfo(config.timezone)

    def local(text: str | None) -> str:
        if text is None:
            return "-"
        moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(tz)
        return moment.strftime("%Y-%m-%d %H:%M")

    lines: list[str] = []
    if not data["sites"]:
        lines.append("No sites in the config.")
    for site in data["sites"]:
        last = site["last_crawl"]
        lines.append(f"{site['site']}  (every {site['schedule']}){'  — crawling now' if site['running'] else ''}")
        if site.get("needs_login"):
            lapse = site["needs_login"]
            lines.append(f"  needs_login since {local(lapse['since'])}: {lapse['reason']} "
                         "(export a new session file: README, Logged-in sources)")
        if last is None:
            lines.append("  last crawl: never")
        else:
            lines.append(
                f"  last crawl: {local(last['started_at'])}, {last['seconds']}s, {last['outcome']}: "
                f"{last['pages_fetched']} pages fetched, {last['pages_unchanged']} unchanged, "
                f"{last['pages_failed']} failed; {last['hits_new']} new hits, {last['hits_seen']} seen again"
            )
            if last["error"]:
                lines.append(f"  error: {last['error']}")
            if last["dead_links"]:
                lines.append(f"  dead links: {last['dead_links']} (404/410 for URLs never read before)")
            if last["notes"]:
                lines.append(f"  note: {last['notes']}")
            failures = last["failures"]
            for failure in failures[:SHOWN]:
                lines.append(f"  failed {failure['url']}: {failure['reason']}"
                             + (f" ({failure['times']} times)" if failure["times"] > 1 else ""))
            more = last["pages_failed"] - min(len(failures), SHOWN)
            if failures and more > 0:
                lines.append(f"  … and {more} more (`vaern status --json` lists the reasons kept)")
        lines.append(
            f"  next crawl: {local(site['next_crawl'])}"
            if site["next_crawl"]
            else "  next crawl: not scheduled (`vaern run` has not run yet)"
        )
    owed = data["evidence_owed"]
    lines.append("")
    if owed["count"]:
        lines.append(f"Evidence owed: {owed['count']} hit(s) have no complete evidence yet; the next crawl of "
                     "their site tries again. Secure these pages by hand if they matter now:")
        for entry in owed["hits"]:
            tried = f", tried {entry['attempts']}x" if entry["attempts"] else ""
            lines.append(f"  {entry['hit']} {entry['person']} ({entry['for'] or 'hit'}{tried}) {entry['url']}")
            if entry["why"]:
                lines.append(f"    {entry['why']}")
        if owed["count"] > len(owed["hits"]):
            lines.append(f"  … and {owed['count'] - len(owed['hits'])} more (vaern hits --json: evidence_owed)")
    else:
        lines.append("Evidence owed: none.")
    box = data["outbox"]
    lines.append("")
    lines.append(
        f"Outbox: {box['queued']} queued, {box['sent']} sent, {box['failed']} failed"
        + (f" (oldest queued since {local(box['oldest_queued'])})" if box["oldest_queued"] else "")
    )
    for failed in box["failed_alerts"]:
        lines.append(f"  failed {failed['id']} {failed['kind']} to {failed['to']}: {failed['last_error']}")
    if data["digest_next"]:
        lines.append(f"Next digest: {local(data['digest_next'])}")
    stamps = data["timestamps"]
    if not stamps["tsa_configured"]:
        lines.append("Timestamps: no TSA configured (evidence.tsa_urls): nothing independent proves capture times")
    elif stamps["pending"]:
        lines.append(
            f"Timestamps: {stamps['pending']} owed since {local(stamps['oldest_pending'])} (retried); "
            f"last error: {stamps['last_error']}; last obtained: {local(stamps['last_obtained'])}"
        )
    else:
        lines.append(f"Timestamps: none owed; last obtained {local(stamps['last_obtained'])}")
    if stamps["head_stamped"]:
        lines.append(f"Chain head last stamped: {local(stamps['head_stamped']['at'])}")
    return "\n".join(lines)

