"""The outbox as people and scripts see it: `vaern alerts [--json]` (format in CONTRACT.md) and
the outbox lines of `vaern status`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vaern import ids
from vaern.clock import iso
from vaern.storage.tables import AlertHitRow, AlertRow


def alerts_json(session: Session, *, status: str | None = None) -> list[dict[str, Any]]:
    """Every alert, oldest first, as `vaern alerts --json` prints it."""
    stmt = select(AlertRow).order_by(AlertRow.id)
    if status is not None:
        stmt = stmt.where(AlertRow.status == status)
    alerts = list(session.scalars(stmt))
    hits: dict[int, list[str]] = {a.id: [] for a in alerts}
    if alerts:
        rows = session.execute(
            select(AlertHitRow.alert_id, AlertHitRow.hit_id).order_by(AlertHitRow.alert_id, AlertHitRow.hit_id)
        )
        for alert_id, hit_id in rows:
            if alert_id in hits:
                hits[alert_id].append(ids.hit(hit_id))
    return [
        {
            "id": ids.alert(a.id),
            "to": a.recipient,
            "kind": a.kind,
            "hits": hits[a.id],
            "status": a.status,
            "attempts": a.attempts,
            "created_at": iso(a.created_at),
            "sent_at": iso(a.sent_at),
            "last_error": a.last_error,
        }
        for a in alerts
    ]


def alerts_table(entries: list[dict[str, Any]]) -> str:
    """The human form of `vaern alerts`: one line per alert, failures with their reason."""
    if not entries:
        return "The outbox is empty."
    lines = [f"{'id':<10} {'status':<7} {'kind':<9} {'tries':>5}  {'created':<20} {'to':<32} hits"]
    for e in entries:
        lines.append(
            f"{e['id']:<10} {e['status']:<7} {e['kind']:<9} {e['attempts']:>5}  {e['created_at'] or '':<20} "
            f"{e['to']:<32} {', '.join(e['hits'])}"
        )
        if e["last_error"] and e["status"] != "sent":
            lines.append(f"{'':<10} {'':<7} last error: {e['last_error']}")
    counts = outbox_counts_of(entries)
    lines.append(f"{counts['queued']} queued, {counts['sent']} sent, {counts['failed']} failed")
    return "\n".join(lines)


def outbox_counts_of(entries: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"queued": 0, "sent": 0, "failed": 0}
    for e in entries:
        counts[e["status"]] = counts.get(e["status"], 0) + 1
    return counts


def outbox_counts(session: Session) -> dict[str, int]:
    """queued / sent / failed totals, for `vaern status`."""
    counts = {"queued": 0, "sent": 0, "failed": 0}
    for status, n in session.execute(select(AlertRow.status, func.count()).group_by(AlertRow.status)):
        counts[status] = n
    return counts
