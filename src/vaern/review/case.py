"""Decisions and the case of a hit: confirm / dismiss / reopen, the guidance checklist, notes.

Each change is written together with its audit entry by the caller's transaction. Dismissing a hit
as "not this person" can silence further alerts for that person on that URL or that whole site;
the silence itself is the alerts package's (`vaern.alerts.silence`), so the review app
keeps no second list of silences.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from vaern import alerts
from vaern.clock import utcnow
from vaern.storage.tables import CaseStepRow, DecisionRow, HitRow, NoteRow

# The steps the guidance asks for, in the order they usually happen.
STEPS = (
    "leader_informed",
    "employee_supported",
    "police_report",
    "datatilsynet",
    "takedown_author",
    "takedown_platform",
    "work_injury",
    "closed",
)
DISMISS_REASONS = ("not_this_person", "lawful", "duplicate", "other")
SILENCE_SCOPES = ("url", "site")
MAX_NOTE = 10_000


class CaseError(ValueError):
    """A decision or case change that cannot be made as asked; `key` and `values` are the words
    shown to the user (vaern.words, `case.*`)."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


def decide(
    db: Session, hit: HitRow, status: str, by: str, reason: str = "", comment: str = "", silence: str = ""
) -> DecisionRow:
    """Set a hit's status (confirmed, dismissed, or new to reopen) and record why."""
    if status not in ("confirmed", "dismissed", "new"):
        raise CaseError("case.unknown_decision")
    if status == "dismissed" and reason not in DISMISS_REASONS:
        raise CaseError("case.reason_needed")
    if hit.status == "removed" and status == "new":
        raise CaseError("case.removed_stays")
    comment = comment.strip()[:MAX_NOTE]
    scope = silence if status == "dismissed" and reason == "not_this_person" and silence in SILENCE_SCOPES else None
    row = DecisionRow(
        hit_id=hit.id,
        at=utcnow(),
        username=by,
        status=status,
        reason=reason if status == "dismissed" else None,
        comment=comment,
        silence=scope,
    )
    db.add(row)
    # A removed page keeps "removed": that is a fact about the page, not a judgement; the
    # decision is still recorded and shown.
    if hit.status != "removed":
        hit.status = status
    if scope:
        alerts.silence(
            db,
            hit.person_id,
            url=hit.url if scope == "url" else None,
            site_id=hit.site_id if scope == "site" else None,
            by=by,
            reason=comment or "not this person",
            hit_id=hit.id,
        )
    return row


def decisions(db: Session, hit_id: int) -> list[DecisionRow]:
    query = select(DecisionRow).where(DecisionRow.hit_id == hit_id).order_by(DecisionRow.at, DecisionRow.id)
    return list(db.scalars(query))


def steps(db: Session, hit_id: int) -> dict[str, CaseStepRow]:
    return {s.step: s for s in db.scalars(select(CaseStepRow).where(CaseStepRow.hit_id == hit_id))}


def update_steps(
    db: Session, hit: HitRow, wanted: dict[str, date | None], by: str
) -> list[tuple[str, str, date | None]]:
    """Make the checklist match `wanted` (step -> date done, or None for not done).

    Returns what changed as (step, "done" | "changed" | "undone", date) for the audit log. A step
    keeps who recorded it unless its date changes.
    """
    current = steps(db, hit.id)
    changes: list[tuple[str, str, date | None]] = []
    today = utcnow().date()
    for step in STEPS:
        when = wanted.get(step)
        row = current.get(step)
        if when is not None and when > today:
            raise CaseError("case.step_in_future")
        if when is None and row is not None:
            db.delete(row)
            changes.append((step, "undone", None))
        elif when is not None and row is None:
            db.add(CaseStepRow(hit_id=hit.id, step=step, done_on=when, username=by, recorded_at=utcnow()))
            changes.append((step, "done", when))
        elif when is not None and row is not None and row.done_on != when:
            row.done_on, row.username, row.recorded_at = when, by, utcnow()
            changes.append((step, "changed", when))
    return changes


def notes(db: Session, hit_id: int) -> list[NoteRow]:
    return list(db.scalars(select(NoteRow).where(NoteRow.hit_id == hit_id).order_by(NoteRow.at, NoteRow.id)))


def add_note(db: Session, hit: HitRow, text: str, by: str) -> NoteRow:
    text = text.strip()
    if not text:
        raise CaseError("case.note_empty")
    if len(text) > MAX_NOTE:
        raise CaseError("case.note_too_long", n=MAX_NOTE)
    row = NoteRow(hit_id=hit.id, at=utcnow(), username=by, text=text)
    db.add(row)
    return row
