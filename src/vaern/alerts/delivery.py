"""Delivery: send what the outbox holds, retry what failed, never lose an alert.

`deliver` sends every due alert: queued, not waiting for a retry, and either its crawl run has
finished or it has waited `alerts.group_wait` (so one e-mail per recipient per run lists all
that run's hits). Each alert is first *claimed* (a lease recorded in its row), then composed
and handed to SMTP, then marked sent in its own transaction.

Guarantee: at least once. An alert is marked sent only after the SMTP server accepted it, so
a crash (even SIGKILL) between the two re-sends it; the same Message-ID lets mail clients see
it is the same message. A lease held by a dead process on this host is taken over at once;
any other lease expires after a few SMTP timeouts. Temporary failures are retried with
exponential backoff (`alerts.retry_initial` doubling up to `alerts.retry_max`) until
`alerts.give_up_after`; permanent ones (5xx) are given up after `alerts.max_attempts` tries.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, Engine, and_, bindparam, exists, not_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from vaern import ids
from vaern.alerts.compose import Composer, Evidence, load_evidence
from vaern.alerts.dispatch import hits_of
from vaern.alerts.smtp import SendFailure, SmtpTransport
from vaern.clock import utcnow
from vaern.config import Config
from vaern.storage.archive import Archive
from vaern.storage.authors import earlier_hits
from vaern.storage.stamping import archive_for
from vaern.storage.tables import AlertRow, CrawlRunRow, HitRow

log = logging.getLogger(__name__)

BATCH = 50


@dataclass(frozen=True)
class DeliveryReport:
    """What one `deliver` pass did: accepted by SMTP, put back for a retry, given up."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(self.sent + other.sent, self.retrying + other.retrying, self.failed + other.failed)


def backoff(config: Config, attempts: int) -> timedelta:
    """Wait before try number `attempts + 1`: retry_initial, doubling, at most retry_max."""
    first, most = config.alerts.retry_initial, config.alerts.retry_max
    wait: timedelta = first * (2 ** max(0, min(attempts - 1, 30)))
    return wait if wait < most else most


def lease(config: Config) -> timedelta:
    """How long a claim holds: enough to connect, compose and send one batch."""
    return timedelta(seconds=max(120.0, 4 * config.smtp.timeout))


def this_dispatcher() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _dead_claimers(session: Session) -> list[str]:
    """Claims held by processes on this host that no longer exist (killed mid-send)."""
    host = socket.gethostname()
    dead = []
    for claimer in session.scalars(
        select(AlertRow.claimed_by).where(AlertRow.status == "queued", AlertRow.claimed_by.is_not(None)).distinct()
    ):
        if claimer is None:
            continue
        name, _, pid = claimer.rpartition(":")
        if name != host or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            dead.append(claimer)
        except PermissionError:
            pass  # alive, someone else's
    return dead


def _due(now: datetime, group_wait: timedelta, dead: list[str], retry_now: bool = False) -> ColumnElement[bool]:
    finished = exists().where(CrawlRunRow.id == AlertRow.run_id, CrawlRunRow.finished_at.is_not(None))
    known = exists().where(CrawlRunRow.id == AlertRow.run_id)
    conds: list[ColumnElement[bool]] = [AlertRow.next_attempt_at.is_(None), AlertRow.next_attempt_at <= now]
    if retry_now:  # `vaern send`: a retry need not wait its pause out; a claimed alert still waits
        conds.append(AlertRow.claimed_by.is_(None))
    if dead:
        conds.append(AlertRow.claimed_by.in_(dead))
    return and_(
        AlertRow.status == "queued",
        or_(*conds),
        or_(AlertRow.run_id.is_(None), finished, not_(known), AlertRow.created_at <= now - group_wait),
    )


def _claim(
    sessions: sessionmaker[Session], config: Config, now: datetime, me: str, limit: int,
    retry_now: bool = False, tried: set[int] | None = None,
) -> list[int]:
    group_wait = config.alerts.group_wait
    with sessions() as session, session.begin():
        dead = _dead_claimers(session)
        due = _due(now, group_wait, dead, retry_now)
        if tried:  # retry_now: an alert put back for a retry in this pass is not tried again in it
            due = and_(due, AlertRow.id.not_in(sorted(tried)))
        candidates = (
            select(AlertRow.id)
            .where(due)
            .order_by(AlertRow.created_at, AlertRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=AlertRow)
            .scalar_subquery()
        )
        # The due conditions are repeated outside the subquery: PostgreSQL re-checks them on a
        # row another dispatcher claimed meanwhile, so each alert is claimed by one dispatcher.
        stmt = (
            update(AlertRow)
            .where(AlertRow.id.in_(candidates), due)
            .values(claimed_by=me, next_attempt_at=now + lease(config))
            .returning(AlertRow.id)
            .execution_options(synchronize_session=False)
        )
        return sorted(session.scalars(stmt))


def _finish(sessions: sessionmaker[Session], alert_id: int, me: str, **values: object) -> None:
    """Record a try's outcome in its own transaction, at once: what is marked sent stays sent."""
    with sessions() as session, session.begin():
        # Core, not ORM-enabled, execution: this runs once per e-mail.
        session.connection().execute(
            update(AlertRow)
            .where(AlertRow.id == alert_id, AlertRow.claimed_by == me)
            .values(claimed_by=None, attempts=AlertRow.attempts + 1, **values)
        )


class _SentLog:
    """Marks accepted e-mails sent, committing in groups: the sender that finds no commit under
    way writes everything accepted so far in one transaction, while the other connections go on
    sending. A crash loses at most the group being written: those e-mails are sent again.

    One database connection is kept for the pass (a session per e-mail cost more than the
    update itself). On SQLite (WAL, synchronous=NORMAL) a commit is in the WAL before `sent`
    returns, so it survives the process being killed; only a power cut could undo the last
    few marks, and then those e-mails are sent again, which at-least-once allows."""

    def __init__(self, sessions: sessionmaker[Session], me: str) -> None:
        self.sessions = sessions
        self.me = me
        self.lock = threading.Condition()
        self.pending: list[dict[str, object]] = []
        self.committing = False
        self.connection: Connection | None = None
        self.statement = (
            update(AlertRow)
            .where(AlertRow.id == bindparam("b_id"), AlertRow.claimed_by == me)
            .values(
                status="sent",
                sent_at=bindparam("b_sent_at"),
                attempts=AlertRow.attempts + 1,
                claimed_by=None,
                last_error=None,
                next_attempt_at=None,
            )
        )

    def sent(self, alert_id: int, at: datetime) -> None:
        with self.lock:
            self.pending.append({"b_id": alert_id, "b_sent_at": at})
            if self.committing:
                return  # the sender writing now will take this one too
            self.committing = True
        while True:
            with self.lock:
                group, self.pending = self.pending, []
                if not group:
                    self.committing = False
                    self.lock.notify_all()
                    return
            try:
                self._write(group)
            except BaseException:
                with self.lock:
                    self.committing = False
                    self.lock.notify_all()
                raise

    def _write(self, group: list[dict[str, object]]) -> None:
        # Only the one sender that set `committing` gets here: the connection is never shared.
        if self.connection is None:
            with self.sessions() as session:
                engine = session.get_bind()
            assert isinstance(engine, Engine)
            self.connection = engine.connect()
        try:
            self.connection.execute(self.statement, group)
            self.connection.commit()
        except BaseException:
            self.close()
            raise

    def wait(self) -> None:
        """Until everything accepted so far is written."""
        with self.lock:
            self.lock.wait_for(lambda: not self.committing and not self.pending)

    def close(self) -> None:
        if self.connection is not None:
            connection, self.connection = self.connection, None
            connection.close()  # rolls back anything not committed


def _release(sessions: sessionmaker[Session], alert_ids: list[int], me: str, now: datetime) -> None:
    """Give back claims not tried (shutdown): due again at once, no attempt counted."""
    if not alert_ids:
        return
    with sessions() as session, session.begin():
        session.execute(
            update(AlertRow)
            .where(AlertRow.id.in_(alert_ids), AlertRow.claimed_by == me)
            .values(claimed_by=None, next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )


def _failed(
    sessions: sessionmaker[Session],
    config: Config,
    alert: AlertRow,
    failure: SendFailure,
    me: str,
    now: datetime,
) -> str:
    """Record a failed try; return the alert's new status."""
    attempts = alert.attempts + 1
    give_up = now - config.alerts.give_up_after
    if not failure.temporary and attempts >= config.alerts.max_attempts:
        status, note = "failed", f"{failure.reason} (permanent, gave up after {attempts} tries)"
    elif failure.temporary and alert.created_at <= give_up:
        status, note = "failed", f"{failure.reason} (still failing after {config.alerts.give_up_after})"
    else:
        status, note = "queued", failure.reason
    _finish(
        sessions,
        alert.id,
        me,
        status=status,
        last_error=note,
        next_attempt_at=None if status == "failed" else now + backoff(config, attempts),
    )
    log.log(
        logging.ERROR if status == "failed" else logging.WARNING,
        "event=alert.%s alert=%s kind=%s to=%s attempts=%d error=%r",
        "failed" if status == "failed" else "retry",
        ids.alert(alert.id),
        alert.kind,
        alert.recipient,
        attempts,
        failure.reason,
    )
    return status


class _Pass:
    """One batch's shared state between the sending threads."""

    def __init__(self, alert_ids: list[int]) -> None:
        self.work: queue.SimpleQueue[int] = queue.SimpleQueue()
        for alert_id in alert_ids:
            self.work.put(alert_id)
        self.lock = threading.Lock()
        self.report = DeliveryReport()
        self.down: SendFailure | None = None  # the server cannot be reached: stop sending

    def count(self, status: str) -> None:
        with self.lock:
            self.report += DeliveryReport(sent=status == "sent", retrying=status == "queued", failed=status == "failed")

    def take(self) -> int | None:
        try:
            return self.work.get_nowait()
        except queue.Empty:
            return None

    def left(self) -> list[int]:
        out = []
        while (alert_id := self.take()) is not None:
            out.append(alert_id)
        return out


def deliver(
    config: Config,
    sessions: sessionmaker[Session],
    now: datetime | None = None,
    *,
    stop: threading.Event | None = None,
    batch: int = BATCH,
    retry_now: bool = False,
) -> DeliveryReport:
    """Send every due alert once; returns how many were sent, put back for retry, given up.

    `retry_now` (`vaern send`) also sends the alerts waiting out a retry pause.

    Up to `alerts.connections` SMTP connections send at once; each composes its next e-mail
    while the current one is being sent.
    `now` (naive UTC) fixes the clock for tests; `stop` ends the pass between two messages.
    """
    me = this_dispatcher()
    composer = Composer(config)
    report = DeliveryReport()
    sent_log = _SentLog(sessions, me)
    transports = [SmtpTransport(config.smtp) for _ in range(config.alerts.connections)]
    tried: set[int] = set()
    archive: Archive | None = None  # opened with the first batch: most passes find nothing to send
    try:
        while stop is None or not stop.is_set():
            clock = now or utcnow()
            claimed = _claim(sessions, config, clock, me, batch, retry_now, tried if retry_now else None)
            if not claimed:
                break
            tried.update(claimed)
            with sessions() as session:
                alerts = {a.id: a for a in session.scalars(select(AlertRow).where(AlertRow.id.in_(claimed)))}
                hits = hits_of(session, claimed)
                archive = archive or archive_for(config)
                evidence = load_evidence(session, config, [h for hs in hits.values() for h in hs], archive)
                composer.remember_authors(earlier_hits(session, [h for hs in hits.values() for h in hs]))
                session.expunge_all()
            state = _send_batch(
                config, sessions, composer, transports, sent_log, alerts, hits, evidence, me, clock, stop
            )
            sent_log.wait()
            report += state.report
            if state.down is not None:
                # The server is unreachable: the rest of the batch fails the same way.
                for alert_id in state.left():
                    report += _count(_failed(sessions, config, alerts[alert_id], state.down, me, clock))
                return report
            if stop is not None and stop.is_set():
                _release(sessions, state.left(), me, clock)
                return report
    finally:
        sent_log.close()
        for transport in transports:
            transport.close()
    return report


def _send_batch(
    config: Config,
    sessions: sessionmaker[Session],
    composer: Composer,
    transports: list[SmtpTransport],
    sent_log: _SentLog,
    alerts: dict[int, AlertRow],
    hits: dict[int, list[HitRow]],
    evidence: dict[int, Evidence],
    me: str,
    clock: datetime,
    stop: threading.Event | None,
) -> _Pass:
    """Send a claimed batch over the connections (in parallel threads where there are several);
    return what happened."""
    state = _Pass(sorted(alerts))

    def take() -> _Composed | None:
        alert_id = state.take()
        if alert_id is None:
            return None
        return _compose(composer, alerts[alert_id], hits[alert_id], evidence, clock)

    def sender(transport: SmtpTransport) -> None:
        current = take()
        while current is not None:
            if state.down is not None or (stop is not None and stop.is_set()):
                state.work.put(current.alert.id)  # not tried: back to the batch's leftovers
                return
            # The next e-mail is composed while the server takes this one in: between handing it
            # over and reading the reply. One thread does both, so nothing waits for the other.
            status, failure, upcoming = _deliver_one(config, sessions, transport, sent_log, current, take, me, clock)
            state.count(status)
            if failure is not None and failure.connection:
                state.down = failure
            current = upcoming if upcoming is not None else take()

    used = transports[: len(alerts)]
    if len(used) == 1:
        sender(used[0])
        return state
    threads = [threading.Thread(target=sender, args=(t,), daemon=True) for t in used]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return state


def _count(status: str) -> DeliveryReport:
    return DeliveryReport(sent=status == "sent", retrying=status == "queued", failed=status == "failed")


@dataclass(frozen=True)
class _Composed:
    """An alert with its e-mail as it goes on the wire, or why there is none."""

    alert: AlertRow
    hits: list[HitRow]
    data: bytes | None = None
    failure: SendFailure | None = None


def _compose(
    composer: Composer, alert: AlertRow, hits: list[HitRow], evidence: dict[int, Evidence], clock: datetime
) -> _Composed:
    if not hits:
        return _Composed(alert, hits)
    try:
        return _Composed(alert, hits, composer.message_bytes(alert, hits, evidence, clock))
    except Exception as exc:
        log.exception("event=alert.compose_failed alert=%s", ids.alert(alert.id))
        failure = SendFailure(f"could not compose the e-mail: {type(exc).__name__}", temporary=False)
        return _Composed(alert, hits, failure=failure)


def _deliver_one(
    config: Config,
    sessions: sessionmaker[Session],
    transport: SmtpTransport,
    sent_log: _SentLog,
    current: _Composed,
    take: Callable[[], _Composed | None],
    me: str,
    clock: datetime,
) -> tuple[str, SendFailure | None, _Composed | None]:
    """Send and record one composed alert; returns its new status, the failure if any, and the
    next alert if `take` was called for it while this one was with the server."""
    alert = current.alert
    if not current.hits:
        # Every hit was silenced or deleted since it was queued: nothing to say.
        _finish(sessions, alert.id, me, status="failed", last_error="no hits left to report")
        return "failed", None, None
    if current.data is None:
        assert current.failure is not None
        return _failed(sessions, config, alert, current.failure, me, clock), current.failure, None
    upcoming = None
    try:
        transport.begin(alert.recipient, current.data)
        upcoming = take()
        transport.end()
    except SendFailure as failure:
        return _failed(sessions, config, alert, failure, me, clock), failure, upcoming
    # Recorded before this connection hands over its next message (with several connections,
    # possibly by the sender committing at the moment): a crash sends again only what was in
    # flight on each connection and the group being written.
    sent_log.sent(alert.id, clock)
    log.info(
        "event=alert.sent alert=%s kind=%s to=%s hits=%d run=%s attempts=%d",
        ids.alert(alert.id),
        alert.kind,
        alert.recipient,
        len(current.hits),
        alert.run_id,
        alert.attempts + 1,
    )
    return "sent", None, upcoming
