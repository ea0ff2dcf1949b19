"""The "Fundet andre steder" inbox: found pages waiting for an analyst, and the decisions on them.

A row waits (`new`) until an analyst decides: `watched` (its site became a site entry, through
config/addedsites.py), `secured` (captured once, oneoff.py), or `ignored` (its host too: no
result on that host reaches the inbox again). Pages on hosts a site now watches leave the inbox.
The review app (review/reach.py) shows it and records each decision in the audit log.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from vaern import clock
from vaern.config import Config
from vaern.discovery.searches import watched_hosts
from vaern.storage.tables import DiscoveredRow, DiscoverySearchRow, IgnoredHostRow

STATES = ("new", "watched", "secured", "ignored")


def waiting(session: Session, config: Config) -> list[DiscoveredRow]:
    """What waits for a decision, newest first: not decided, on no watched or ignored host."""
    ignored = set(session.scalars(select(IgnoredHostRow.host)))
    watched = watched_hosts(config)
    rows = session.scalars(select(DiscoveredRow).where(DiscoveredRow.state == "new")
                           .order_by(DiscoveredRow.last_found.desc(), DiscoveredRow.id.desc())).all()
    return [r for r in rows if r.host not in ignored and r.host not in watched]


def recent_errors(session: Session, limit: int = 5) -> list[DiscoverySearchRow]:
    return list(session.scalars(select(DiscoverySearchRow).where(DiscoverySearchRow.status == "error")
                                .order_by(DiscoverySearchRow.id.desc()).limit(limit)))


def decide(session: Session, row: DiscoveredRow, state: str, by: str) -> None:
    """Record an analyst's decision on a found page; ignoring also ignores its host from now on."""
    assert state in STATES[1:], state
    row.state, row.decided_by, row.decided_at = state, by, clock.utcnow()
    if state == "ignored" and session.get(IgnoredHostRow, row.host) is None:
        session.add(IgnoredHostRow(host=row.host, by=by, at=clock.utcnow()))
