"""The daily retention job of `vaern run`: forget what is no longer needed.

Controlled by `retention:` in the config:
- `crawl_runs_days`: finished crawl runs older than this are deleted (the history `vaern status`
  shows).
- `alerts_days`: sent and failed e-mails older than this are deleted from the outbox, but only
  when none of their hits is still `new`: the outbox doubles as the memory of what a recipient
  was told (reminders and digests look at it), and an unhandled hit must not be told again.
- Expired silences are deleted.
- `dismissed_days` (deleting dismissed hits' evidence) belongs to the evidence archive, whose
  append-only chain decides how a snapshot may be retired; it is not done here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Result, delete, exists, select
from sqlalchemy.orm import Session, sessionmaker

from vaern.clock import utcnow
from vaern.config import Config
from vaern.storage.tables import AlertHitRow, AlertRow, CrawlRunRow, HitRow, SilenceRow


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
    return {"crawl_runs": runs, "alerts": alerts, "alert_hits": links, "silences": silences}


def _count(result: Result[Any]) -> int:
    return int(getattr(result, "rowcount", 0))
