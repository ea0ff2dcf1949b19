"""The daily retention job of `vaern run`: forget what is no longer needed.

Controlled by `retention:` in the config:
- `crawl_runs_days`: finished crawl runs older than this are deleted (the history `vaern status`
  shows).
- `alerts_days`: sent and failed e-mails older than this are deleted from the outbox, but only
  when none of their hits is still `new`: the outbox doubles as the memory of what a recipient
  was told (reminders and digests look at it), and an unhandled hit must not be told again.
- Expired silences are deleted.
- `dismissed_days`: the evidence of a page whose hits were all dismissed more than this many days
  ago (the latest dismissal counts; a hit reopened and dismissed again starts over) is deleted:
  the archive retires its snapshots (storage/archive.py `retire`: files deleted, a tombstone
  chained saying what and why, so `vaern verify` still passes and lists it), their rows go, and
  the audit log records it per hit. A page with any hit not dismissed keeps its evidence: it is
  one capture of the page, shared by everyone named there. The hits themselves stay, dismissed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Result, delete, exists, func, select
from sqlalchemy.orm import Session, sessionmaker

from vaern.clock import utcnow
from vaern.config import Config
from vaern.storage.tables import (
    AlertHitRow,
    AlertRow,
    AuditRow,
    CrawlRunRow,
    DecisionRow,
    HitRow,
    SilenceRow,
    SnapshotRow,
)


def apply_retention(
    config: Config, sessions: sessionmaker[Session], now: datetime | None = None
) -> dict[str, int]:
    """Delete what retention allows; returns counts per kind of row."""
    now = now or utcnow()
    r = config.retention
    with sessions() as session, session.begin():
        runs = _count(
            session.execute(
                delete(CrawlRunRow).where(
                    CrawlRunRow.finished_at.is_not(None),
                    CrawlRunRow.finished_at < now - timedelta(days=r.crawl_runs_days),
                )
            )
        )
        unhandled = exists().where(
            AlertHitRow.alert_id == AlertRow.id, HitRow.id == AlertHitRow.hit_id, HitRow.status == "new"
        )
        old = select(AlertRow.id).where(
            AlertRow.status.in_(("sent", "failed")),
            AlertRow.created_at < now - timedelta(days=r.alerts_days),
            ~unhandled,
        )
        ids = list(session.scalars(old))
        links = alerts = 0
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            links += _count(session.execute(delete(AlertHitRow).where(AlertHitRow.alert_id.in_(chunk))))
            alerts += _count(session.execute(delete(AlertRow).where(AlertRow.id.in_(chunk))))
        silences = _count(
            session.execute(
                delete(SilenceRow).where(SilenceRow.expires_at.is_not(None), SilenceRow.expires_at < now)
            )
        )
    snapshots = retire_dismissed(config, sessions, now)
    return {"crawl_runs": runs, "alerts": alerts, "alert_hits": links, "silences": silences,
            "snapshots_deleted": snapshots}


def retire_dismissed(config: Config, sessions: sessionmaker[Session], now: datetime) -> int:
    """Delete the evidence of pages whose hits were all dismissed `dismissed_days` ago; return how
    many snapshots were retired."""
    from vaern.storage.stamping import archive_for

    days = config.retention.dismissed_days
    cutoff = now - timedelta(days=days)
    reason = (f"retention: every hit on the page was dismissed more than {days} days ago "
              "(retention.dismissed_days)")
    archive = archive_for(config)
    retired = 0
    with sessions() as session, session.begin():
        pages_with_evidence = select(SnapshotRow.page_id).distinct()
        hits_by_page: dict[int, list[HitRow]] = {}
        for hit in session.scalars(select(HitRow).where(HitRow.page_id.in_(pages_with_evidence))):
            hits_by_page.setdefault(hit.page_id, []).append(hit)
        dismissed_at = dict(
            session.execute(
                select(DecisionRow.hit_id, func.max(DecisionRow.at))
                .where(DecisionRow.status == "dismissed")
                .group_by(DecisionRow.hit_id)
            ).all()
        )
        for page_id, hits in sorted(hits_by_page.items()):
            if not all(h.status == "dismissed" and (dismissed_at.get(h.id) or h.last_seen) < cutoff for h in hits):
                continue
            snaps = list(session.scalars(select(SnapshotRow).where(SnapshotRow.page_id == page_id)))
            tombs = archive.retire([s.manifest_path for s in snaps if s.manifest_path], reason)
            for snap in snaps:
                session.delete(snap)
            for hit in hits:  # the audit log, as the review app writes it
                session.add(AuditRow(
                    at=now, user_id=None, username="retention", action="evidence_deleted", hit_id=hit.id,
                    detail={"snapshots": [f"s-{s.id:06d}" for s in snaps],
                            "tombstones": [t["manifest"] for t in tombs], "reason": reason},
                ))
            retired += len(snaps)
    return retired


def _count(result: Result[Any]) -> int:
    return int(getattr(result, "rowcount", 0))
