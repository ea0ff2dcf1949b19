"""Dispatch: grouping and dedup. Alert rows (the outbox) written in the same transaction as the
hits they are about.

`enqueue` groups a batch of hits into one alert per (recipient, crawl run, kind), skips what a
recipient was already told (never the same hit twice in the same kind) and what is silenced.
`queue_reminders` and `queue_digest` add the time-driven kinds; `silence` records a dismissal
("not this person") so that (person, URL) — or (person, site) — is never alerted again.
Nothing here sends: `delivery.deliver` does, later, from these rows. Routing is `routing.py`;
the settings are `alerts.*` in the config.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from email.utils import parseaddr

from sqlalchemy import ColumnElement, delete, exists, or_, select
from sqlalchemy.orm import Session

from vaern import ids
from vaern.alerts.routing import DIGEST, NEW_HIT, REMINDER, REMOVED, UPDATE, Recipient, recipients
from vaern.clock import utcnow
from vaern.config import Config
from vaern.storage.tables import AlertHitRow, AlertRow, HitRow, SilenceRow

# Reminders look back this far past `remind_after`, so a long-forgotten hit is not dug up
# again if its bookkeeping has been pruned by retention.
REMINDER_WINDOW = timedelta(days=30)


def message_id(config: Config, alert: AlertRow) -> str:
    """A Message-ID fixed when the alert is queued, so every retry carries the same one and a
    mail client can recognise a resend after a crash as the same message."""
    domain = parseaddr(config.smtp.sender)[1].rpartition("@")[2] or "vaern.localhost"
    token = hashlib.sha256(
        f"{alert.id}|{alert.recipient}|{alert.kind}|{alert.run_id}|{alert.created_at.isoformat()}".encode()
    ).hexdigest()[:20]
    return f"<vaern.{ids.alert(alert.id)}.{token}@{domain}>"


def _round(kind: str, run_id: int | None) -> int:
    # A page can change again and again; each change that names the person anew is news.
    return (run_id or 0) if kind == UPDATE else 0


def enqueue(session: Session, config: Config, hits: Sequence[HitRow], kind: str, run_id: int | None) -> list[AlertRow]:
    """Queue alerts of `kind` about `hits`, in the caller's transaction; returns the alerts touched.

    One alert per (recipient, run, kind); a recipient who was never told of a hit gets an
    `update` about it as a `new_hit` (it is news to them), and no `removed` notice at all.
    """
    if not hits:
        return []
    session.flush()  # the hits need their ids
    now = utcnow()
    silenced = _active_silences(session, {h.person_id for h in hits}, now)
    live = [h for h in hits if not _matches(silenced, h)]
    if kind in (NEW_HIT, UPDATE):
        # `alerts.policy`: a high hit whose severity is not told at once waits for the digest
        # (queue_digest) or for nobody; a possible hit goes to the digest as always.
        live = [h for h in live if h.confidence != "high" or config.alerts.action(h.severity) == "immediate"]

    # recipient key -> (recipient, kind, [hits]) ; a kind can turn into new_hit per recipient
    groups: dict[tuple[str, str], tuple[Recipient, list[HitRow]]] = {}
    for hit in live:
        for rcpt in recipients(config, hit.person_id, kind, hit.confidence):
            actual = kind
            if kind in (UPDATE, REMOVED) and not _was_told(session, hit.id, rcpt.key, NEW_HIT):
                if kind == REMOVED:
                    continue
                actual = NEW_HIT
            groups.setdefault((rcpt.key, actual), (rcpt, []))[1].append(hit)

    touched: list[AlertRow] = []
    for (key, actual), (rcpt, group) in groups.items():
        rnd = _round(actual, run_id)
        already = set(
            session.scalars(
                select(AlertHitRow.hit_id).where(
                    AlertHitRow.recipient == key,
                    AlertHitRow.kind == actual,
                    AlertHitRow.round == rnd,
                    AlertHitRow.hit_id.in_([h.id for h in group]),
                )
            )
        )
        fresh: list[HitRow] = []
        for h in group:
            if h.id not in already:
                already.add(h.id)
                fresh.append(h)
        if not fresh:
            continue
        alert = _open_alert(session, key, actual, run_id)
        if alert is None:
            alert = AlertRow(
                recipient=rcpt.email,
                recipient_name=rcpt.name,
                kind=actual,
                run_id=run_id,
                status="queued",
                attempts=0,
                created_at=now,
            )
            session.add(alert)
            session.flush()
            alert.message_id = message_id(config, alert)
        for h in fresh:
            session.add(AlertHitRow(alert_id=alert.id, hit_id=h.id, recipient=key, kind=actual, round=rnd))
        touched.append(alert)
    session.flush()
    return touched


def _was_told(session: Session, hit_id: int, key: str, kind: str) -> bool:
    return (
        session.scalar(
            select(AlertHitRow.id)
            .where(AlertHitRow.hit_id == hit_id, AlertHitRow.recipient == key, AlertHitRow.kind == kind)
            .limit(1)
        )
        is not None
    )


def _open_alert(session: Session, key: str, kind: str, run_id: int | None) -> AlertRow | None:
    """A queued alert for the same (recipient, run, kind) that no dispatcher has picked up yet.

    Locked (FOR UPDATE on PostgreSQL) so a dispatcher claiming it waits for this transaction
    and then composes the e-mail with every hit in it; once claimed it is never appended to.
    """
    run_cond = AlertRow.run_id.is_(None) if run_id is None else AlertRow.run_id == run_id
    stmt = (
        select(AlertRow)
        .where(
            AlertRow.status == "queued",
            AlertRow.kind == kind,
            run_cond,
            AlertRow.attempts == 0,
            AlertRow.claimed_by.is_(None),
            AlertRow.next_attempt_at.is_(None),
        )
        .order_by(AlertRow.id)
        .with_for_update()
    )
    for alert in session.scalars(stmt):
        if alert.recipient.lower() == key:
            return alert
    return None


# ---------------------------------------------------------------------------------------------
# Silences


def silence(
    session: Session,
    person_id: str,
    url: str | None = None,
    site_id: str | None = None,
    *,
    by: str,
    reason: str,
    hit_id: int | None = None,
    expires_at: datetime | None = None,
) -> SilenceRow:
    """Never alert about `person_id` on `url` (or anywhere on `site_id`) again; who and why are kept.

    Called when a hit is dismissed as "not this person". Alerts still waiting in the outbox
    (not being sent right now) lose the silenced hits; an alert left empty is dropped.
    """
    if url is None and site_id is None:
        raise ValueError("a silence needs a URL or a site")
    if not by.strip() or not reason.strip():
        raise ValueError("a silence records who set it and why")
    row = SilenceRow(
        person_id=person_id,
        url=url,
        site_id=site_id,
        hit_id=hit_id,
        created_by=by,
        reason=reason,
        created_at=utcnow(),
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()

    where: list[ColumnElement[bool]] = []
    if url is not None:
        where.append(HitRow.url == url)
    if site_id is not None:
        where.append(HitRow.site_id == site_id)
    matching_hits = select(HitRow.id).where(HitRow.person_id == person_id, or_(*where))
    # Queued alerts not being sent right now; their text is composed when they are sent.
    unsent = select(AlertRow.id).where(AlertRow.status == "queued", AlertRow.claimed_by.is_(None))
    session.execute(delete(AlertHitRow).where(AlertHitRow.hit_id.in_(matching_hits), AlertHitRow.alert_id.in_(unsent)))
    session.execute(
        delete(AlertRow).where(
            AlertRow.id.in_(unsent),
            ~exists().where(AlertHitRow.alert_id == AlertRow.id),
        )
    )
    return row


def is_silenced(session: Session, person_id: str, url: str, site_id: str, now: datetime | None = None) -> bool:
    """Whether alerts about `person_id` on `url` (a page of `site_id`) are silenced."""
    silences = _active_silences(session, {person_id}, now or utcnow())
    return any(_covers(s, person_id, url, site_id) for s in silences)


def _active_silences(session: Session, person_ids: set[str], now: datetime) -> list[SilenceRow]:
    if not person_ids:
        return []
    stmt = select(SilenceRow).where(
        SilenceRow.person_id.in_(sorted(person_ids)),
        or_(SilenceRow.expires_at.is_(None), SilenceRow.expires_at > now),
    )
    return list(session.scalars(stmt))


def _covers(s: SilenceRow, person_id: str, url: str, site_id: str) -> bool:
    return s.person_id == person_id and (s.url == url or (s.site_id is not None and s.site_id == site_id))


def _matches(silences: list[SilenceRow], hit: HitRow) -> bool:
    return any(_covers(s, hit.person_id, hit.url, hit.site_id) for s in silences)


# ---------------------------------------------------------------------------------------------
# Time-driven kinds


def queue_reminders(session: Session, config: Config, now: datetime | None = None) -> list[AlertRow]:
    """Once per hit: remind the leader of a `high` hit still neither confirmed nor dismissed
    `alerts.remind_after` after it was found, if they were told of it in the first place."""
    now = now or utcnow()
    after = config.alerts.remind_after
    told = exists().where(
        AlertHitRow.hit_id == HitRow.id,
        AlertHitRow.kind == NEW_HIT,
        AlertRow.id == AlertHitRow.alert_id,
        AlertRow.status == "sent",
    )
    stmt = select(HitRow).where(
        HitRow.confidence == "high",
        HitRow.status == "new",
        HitRow.removed_at.is_(None),
        HitRow.first_seen <= now - after,
        HitRow.first_seen > now - after - REMINDER_WINDOW,
        told,
    )
    return enqueue(session, config, list(session.scalars(stmt.order_by(HitRow.id))), REMINDER, None)


def queue_digest(session: Session, config: Config, now: datetime | None = None) -> list[AlertRow]:
    """The analysts' digest: every `possible` hit still new that no digest has listed yet, and
    every `high` one whose severity `alerts.policy` sends to the digest."""
    if not config.alerts.analysts:
        return []
    to_digest = [s for s, action in config.alerts.policy.items() if action == "digest"]
    stmt = select(HitRow).where(
        or_(HitRow.confidence == "possible", (HitRow.confidence == "high") & HitRow.severity.in_(to_digest)),
        HitRow.status == "new",
        HitRow.removed_at.is_(None),
        ~exists().where(AlertHitRow.hit_id == HitRow.id, AlertHitRow.kind == DIGEST),
    )
    return enqueue(session, config, list(session.scalars(stmt.order_by(HitRow.id))), DIGEST, None)


def hits_of(session: Session, alert_ids: Iterable[int]) -> dict[int, list[HitRow]]:
    """alert id -> its hits (in hit order)."""
    wanted = list(alert_ids)
    out: dict[int, list[HitRow]] = {i: [] for i in wanted}
    if not wanted:
        return out
    rows = session.execute(
        select(AlertHitRow.alert_id, HitRow)
        .join(HitRow, HitRow.id == AlertHitRow.hit_id)
        .where(AlertHitRow.alert_id.in_(wanted))
        .order_by(HitRow.id)
    )
    for alert_id, hit in rows:
        out[alert_id].append(hit)
    return out


__all__ = [
    "enqueue",
    "hits_of",
    "is_silenced",
    "message_id",
    "queue_digest",
    "queue_reminders",
    "silence",
]
