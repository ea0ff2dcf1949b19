"""Timestamps as a record and a queue: every token obtained or owed is a row in `timestamps`.

Controlled by `evidence.tsa_urls`, `tsa_timeout`, `tsa_retry_initial`/`tsa_retry_max` (back-off
of the retry queue), `tsa_alert_after`/`tsa_alert_to` (the admins' e-mail when no TSA answers) and
`anchor_every` (how often the chain's head is stamped while it grows).

- `record_stamps` (archive.py, called by `record_snapshot`): after a snapshot is stored, one
  `ok` row per token and one `pending` row per TSA that did not answer: the debt survives restarts.
- `retry_pending`: asks again for each pending token that is due, doubling the wait each time up
  to `tsa_retry_max`; run by `vaern run` and at the end of `vaern crawl`.
- `anchor_head`: a token over the newest manifest's SHA-256. Each manifest carries the hash of the
  one before it, so one token over the head proves that no manifest up to it was changed since.
- `timestamp_state`: what `vaern status`, the review app and `hits --json` show.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vaern import clock
from vaern.config import Config
from vaern.storage.archive import Archive, token_row
from vaern.storage.tables import TimestampRow

log = logging.getLogger(__name__)


def archive_for(config: Config) -> Archive:
    """The archive the config names: its store (`archive` folder or `evidence.store`), its TSAs, and,
    with a PostgreSQL database, the chain lock shared by every machine (storage/chainlock.py)."""
    from vaern.storage.blobstore import open_store
    from vaern.storage.chainlock import chain_lock_for

    ev = config.evidence
    store = open_store(ev.store, config.archive)
    return Archive(store, tsa_urls=ev.tsa_urls, tsa_timeout=ev.tsa_timeout, tsa_ca_files=ev.tsa_ca_files,
                   chain_lock=chain_lock_for(config.database, store.where))


def _naive(moment: datetime) -> datetime:
    from datetime import UTC

    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return _naive(datetime.fromisoformat(text.replace("Z", "+00:00")))


@dataclass
class RetryResult:
    obtained: int = 0
    still_pending: int = 0
    errors: list[str] = field(default_factory=list)


def retry_pending(config: Config, session: Session, archive: Archive | None = None) -> RetryResult:
    """Ask again for every pending token that is due; back off on failure. Commits per row."""
    archive = archive or archive_for(config)
    ev = config.evidence
    initial, longest = ev.tsa_retry_initial, ev.tsa_retry_max
    result = RetryResult()
    now = _naive(clock.now())
    due = list(session.scalars(
        select(TimestampRow).where(TimestampRow.status == "pending",
                                   (TimestampRow.next_attempt_at.is_(None)) | (TimestampRow.next_attempt_at <= now))
        .order_by(TimestampRow.id)
    ))
    for row in due:
        if row.subject == "manifest":
            stamps, failed = archive.add_timestamps(row.target, row.digest, [row.tsa_url])
        else:
            stamps, failed = archive.stamp_head(row.target, row.digest, [row.tsa_url])
        row.attempts += 1
        if stamps:
            stamp = stamps[0]
            row.status, row.token_path, row.token_sha256 = "ok", stamp["path"], stamp["sha256"]
            row.gen_time, row.next_attempt_at, row.last_error = _parse_time(stamp.get("time")), None, None
            result.obtained += 1
            log.info("timestamp for %s obtained from %s after %d attempts", row.target, row.tsa_url, row.attempts)
        else:
            why = failed[0][1] if failed else "no answer"
            wait = min(longest, initial * (2 ** min(row.attempts - 1, 20)))
            row.last_error, row.next_attempt_at = why, now + wait
            result.errors.append(why)
            log.warning("timestamp for %s from %s failed again (%d attempts): %s", row.target, row.tsa_url,
                        row.attempts, why)
        session.commit()
    result.still_pending = int(session.scalar(
        select(func.count()).select_from(TimestampRow).where(TimestampRow.status == "pending")) or 0)
    return result


def anchor_head(config: Config, session: Session, archive: Archive | None = None, *, force: bool = False,
                commit: bool = True) -> bool:
    """Timestamp the chain's head if it moved since the last head stamp and `anchor_every` has
    passed (or `force`, as at export). A TSA that fails leaves a pending row. True if stamped.
    `commit=False` leaves the rows to the caller's transaction (the review app's export)."""
    archive = archive or archive_for(config)
    if not archive.tsa_urls:
        return False
    head = archive.head()
    if head is None:
        return False
    now = _naive(clock.now())
    last = session.scalar(select(TimestampRow).where(TimestampRow.subject == "head")
                          .order_by(TimestampRow.id.desc()).limit(1))
    if last is not None and last.target == head["manifest"] and last.digest == head["sha256"]:
        return False  # this head is stamped (or owed) already
    if not force and last is not None and now - last.created_at < config.evidence.anchor_every:
        return False
    stamps, failed = archive.stamp_head(head["manifest"], head["sha256"], archive.tsa_urls)
    for stamp in stamps:
        session.add(token_row("head", stamp, None, now))
    retry = config.evidence.tsa_retry_initial
    for url, why in failed:
        log.warning("timestamp of the chain head (entry %s) from %s failed: %s", head["sequence"], url, why)
        session.add(TimestampRow(subject="head", snapshot_id=None, target=head["manifest"], digest=head["sha256"],
                                 tsa_url=url, status="pending", attempts=1, created_at=now,
                                 next_attempt_at=now + retry, last_error=why))
    if commit:
        session.commit()
    else:
        session.flush()
    return bool(stamps)


def recorded_tokens(session: Session) -> list[tuple[str, str]]:
    """(path, SHA-256) of every token the database records, for verify."""
    rows = session.execute(select(TimestampRow.token_path, TimestampRow.token_sha256)
                           .where(TimestampRow.status == "ok", TimestampRow.subject != "export"))
    return [(path, digest) for path, digest in rows if path and digest]


def timestamp_state(session: Session, config: Config) -> dict[str, Any]:
    """Pending tokens and when a TSA last answered: for `vaern status` and the review app."""
    pending = session.scalar(select(func.count()).select_from(TimestampRow).where(TimestampRow.status == "pending"))
    oldest = session.scalar(select(func.min(TimestampRow.created_at)).where(TimestampRow.status == "pending"))
    last_error = session.scalar(select(TimestampRow.last_error).where(TimestampRow.status == "pending")
                                .order_by(TimestampRow.id.desc()).limit(1))
    last_ok = session.scalar(select(func.max(TimestampRow.gen_time)).where(TimestampRow.status == "ok"))
    head = session.scalar(select(TimestampRow).where(TimestampRow.subject == "head", TimestampRow.status == "ok")
                          .order_by(TimestampRow.id.desc()).limit(1))
    return {
        "tsa_configured": bool(config.evidence.tsa_urls),
        "pending": int(pending or 0),
        "oldest_pending": clock.iso(oldest) if oldest else None,
        "last_error": last_error,
        "last_obtained": clock.iso(last_ok) if last_ok else None,
        "head_stamped": {"manifest": head.target, "at": clock.iso(head.gen_time) if head.gen_time else None}
        if head else None,
    }


def snapshot_stamps(session: Session, snapshot_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Per snapshot, its tokens and owed tokens, as `hits --json` shows them."""
    out: dict[int, list[dict[str, Any]]] = {sid: [] for sid in snapshot_ids}
    if not snapshot_ids:
        return out
    for row in session.scalars(select(TimestampRow).where(TimestampRow.snapshot_id.in_(snapshot_ids))
                               .order_by(TimestampRow.id)):
        if row.snapshot_id is None:
            continue
        out.setdefault(row.snapshot_id, []).append({
            "tsa": row.tsa_url, "status": row.status, "path": row.token_path, "sha256": row.token_sha256,
            "time": clock.iso(row.gen_time) if row.gen_time else None,
            "attempts": row.attempts, "last_error": row.last_error if row.status == "pending" else None,
        })
    return out


def tsa_silent_for(session: Session, config: Config) -> timedelta | None:
    """How long no TSA has answered while tokens are owed; None when nothing is owed."""
    oldest = session.scalar(select(func.min(TimestampRow.created_at)).where(TimestampRow.status == "pending"))
    if oldest is None:
        return None
    last_ok = session.scalar(select(func.max(TimestampRow.gen_time)).where(TimestampRow.status == "ok"))
    since = max(oldest, last_ok) if last_ok and last_ok > oldest else oldest
    return _naive(clock.now()) - since


def after_crawl(config: Config, session: Session) -> list[str]:
    """What `vaern crawl` does for the timestamps once its crawls are done: ask again for owed
    tokens that are due, stamp the chain's head if due; return what is still owed, to be said."""
    if not config.evidence.tsa_urls:
        return []
    archive = archive_for(config)
    retry_pending(config, session, archive)
    anchor_head(config, session, archive)
    state = timestamp_state(session, config)
    if not state["pending"]:
        return []
    return [f"{state['pending']} trusted timestamp(s) owed since {state['oldest_pending']}: "
            f"{state['last_error']}; `vaern run` asks again (see `vaern status`)"]
