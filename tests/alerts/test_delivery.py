"""Delivery against a real aiosmtpd: outages, retries with backoff, permanent failures, group wait,
TLS and AUTH, and never sending the same alert twice."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.alerts.alert_factories import add_hit, add_run, later
from vaern.alerts.delivery import DeliveryReport, deliver
from vaern.alerts.dispatch import enqueue
from vaern.alerts.report import alerts_json, alerts_table
from vaern.config import Config
from vaern.storage.tables import AlertRow
from vaern.testing.smtpsink import SmtpSink, self_signed_tls


def _queue_run(sessions: sessionmaker[Session], config: Config, *, finished: bool = True) -> list[int]:
    with sessions() as s, s.begin():
        run = add_run(s, finished=finished)
        hits = [add_hit(s, config, p, run_id=run.id, categories=["threat"]) for p in ("rr", "sm", "kj", "nn")]
        return [a.id for a in enqueue(s, config, hits, "new_hit", run.id)]


def _rows(sessions: sessionmaker[Session]) -> list[AlertRow]:
    with sessions() as s:
        return list(s.scalars(select(AlertRow).order_by(AlertRow.id)))


def test_smtp_down_queues_then_everything_is_delivered_once(
    config: Config, sessions: sessionmaker[Session], sink: SmtpSink
) -> None:
    ids = _queue_run(sessions, config)
    assert len(ids) == 4  # lene, amr, jens, central (fallback)
    sink.stop()
    t0 = later(1)
    assert deliver(config, sessions, t0) == DeliveryReport(sent=0, retrying=4, failed=0)
    rows = _rows(sessions)
    assert {r.status for r in rows} == {"queued"}
    assert all(r.attempts == 1 and r.next_attempt_at == t0 + timedelta(seconds=30) for r in rows)
    assert all("connection refused" in (r.last_error or "") for r in rows)

    sink.start()
    assert deliver(config, sessions, t0 + timedelta(seconds=10)) == DeliveryReport()  # still backing off
    assert deliver(config, sessions, t0 + timedelta(seconds=31)) == DeliveryReport(sent=4)
    assert deliver(config, sessions, t0 + timedelta(hours=5)) == DeliveryReport()

    received = sink.messages
    assert Counter(r.rcpt_tos for r in received) == {
        ("lene.leder@kommune.example",): 1,
        ("amr@kommune.example",): 1,
        ("jens@kommune.example",): 1,
        ("central@kommune.example",): 1,
    }
    rows = _rows(sessions)
    assert {r.status for r in rows} == {"sent"}
    assert sorted(m.message["Message-ID"] for m in received) == sorted(r.message_id for r in rows)
    assert all(r.last_error is None and r.sent_at == t0 + timedelta(seconds=31) for r in rows)


def test_a_temporary_refusal_backs_off_exponentially_and_keeps_the_message_id(
    make_config: Callable[..., Config], sessions: sessionmaker[Session], sink: SmtpSink
) -> None:
    config = make_config(alerts={"retry_initial": "30s", "retry_max": "2m"})
    with sessions() as s, s.begin():
        [alert] = enqueue(s, config, [add_hit(s, config, "kj")], "new_hit", None)
    sink.reply_with("451 4.3.0 mailbox busy, try later")
    t = later(1)
    waits = []
    for _ in range(4):
        assert deliver(config, sessions, t) == DeliveryReport(retrying=1)
        [row] = _rows(sessions)
        assert row.next_attempt_at is not None
        waits.append(row.next_attempt_at - t)
        t = row.next_attempt_at
    assert waits == [
        timedelta(seconds=30),
        timedelta(seconds=60),
        timedelta(seconds=120),
        timedelta(seconds=120),
    ]
    assert row.last_error == "451 4.3.0 mailbox busy, try later" and row.status == "queued"
    sink.reply_with(None)
    assert deliver(config, sessions, t) == DeliveryReport(sent=1)
    ids = {m.message["Message-ID"] for m in sink.rejected + sink.messages}
    assert ids == {alert.message_id}
    assert len(sink.rejected) == 4 and len(sink.messages) == 1


def test_a_permanent_refusal_fails_after_max_attempts_and_says_why(
    make_config: Callable[..., Config], sessions: sessionmaker[Session], sink: SmtpSink
) -> None:
    config = make_config(alerts={"max_attempts": 2})
    with sessions() as s, s.begin():
        enqueue(s, config, [add_hit(s, config, "kj")], "new_hit", None)
    sink.reply_with("550 5.7.1 message rejected by policy")
    t = later(1)
    assert deliver(config, sessions, t) == DeliveryReport(retrying=1)
    assert deliver(config, sessions, t + timedelta(minutes=1)) == DeliveryReport(failed=1)
    assert deliver(config, sessions, t + timedelta(days=1)) == DeliveryReport()
    with sessions() as s:
        [entry] = alerts_json(s)
    assert entry["status"] == "failed" and entry["attempts"] == 2
    assert entry["last_error"] == "550 5.7.1 message rejected by policy (permanent, gave up after 2 tries)"
    assert "last error: 550 5.7.1" in alerts_table([entry])
    assert sink.messages == []


def test_a_timeout_is_temporary(
    make_config: Callable[..., Config], sessions: sessionmaker[Session], sink: SmtpSink
) -> None:
    config = make_config(smtp={"timeout": 0.5})
    with sessions() as s, s.begin():
        enqueue(s, config, [add_hit(s, config, "kj")], "new_hit", None)
    sink.delay(2.0)
    assert deliver(config, sessions, later(1)) == DeliveryReport(retrying=1)
    [row] = _rows(sessions)
    assert row.status == "queued" and "timed out" in (row.last_error or "")
    sink.delay(0)
    assert deliver(config, sessions, later(2)) == DeliveryReport(sent=1)


def test_a_temporary_failure_is_given_up_after_give_up_after(
    make_config: Callable[..., Config], sessions: sessionmaker[Session], sink: SmtpSink
) -> None:
    config = make_config(alerts={"give_up_after": "1d"})
    with sessions() as s, s.begin():
        enqueue(s, config, [add_hit(s, config, "kj")], "new_hit", None)
    sink.stop()
    [row] = _rows(sessions)
    assert deliver(config, sessions, row.created_at + timedelta(hours=1)) == DeliveryReport(retrying=1)
    assert deliver(config, sessions, row.created_at + timedelta(days=2)) == DeliveryReport(failed=1)
    [row] = _rows(sessions)
    assert row.status == "failed" and "still failing after 1d" in (row.last_error or "")


def test_a_running_crawls_alerts_wait_for_it_to_finish_or_for_group_wait(
    config: Config, sessions: sessionmaker[Session], sink: SmtpSink
) -> None:
    with sessions() as s, s.begin():
        run = add_run(s, finished=False)
        [alert, *_] = enqueue(s, config, [add_hit(s, config, "kj", run_id=run.id)], "new_hit", run.id)
        created = alert.created_at
    assert deliver(config, sessions, created + timedelta(minutes=1)) == DeliveryReport()
    # Still in the same run, a second page's hit joins the same e-mail.
    with sessions() as s, s.begin():
        enqueue(s, config, [add_hit(s, config, "kj", run_id=run.id)], "new_hit", run.id)
    assert deliver(config, sessions, created + timedelta(minutes=6)) == DeliveryReport(sent=1)
    [message] = sink.messages
    assert message.data.count(b"/hits/h-") >= 2

    # A run that finishes is sent at once.
    with sessions() as s, s.begin():
        run2 = add_run(s, finished=False)
        enqueue(s, config, [add_hit(s, config, "kj", run_id=run2.id)], "new_hit", run2.id)
    assert deliver(config, sessions) == DeliveryReport()
    with sessions() as s, s.begin():
        s.get(type(run2), run2.id).finished_at = later()  # type: ignore[union-attr]
    assert deliver(config, sessions) == DeliveryReport(sent=1)


def test_starttls_and_login_work_and_the_password_is_never_logged(
    make_config: Callable[..., Config],
    sessions: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    context, cert = self_signed_tls(tmp_path / "tls")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    secret = "hemmeligt-Kodeord-42"
    with SmtpSink(credentials=("vaern", secret), starttls_context=context) as tls_sink:
        smtp = {"host": tls_sink.host, "port": tls_sink.port, "starttls": True, "username": "vaern"}
        good = make_config(smtp={**smtp, "password": secret})
        bad = make_config(smtp={**smtp, "password": secret + "-wrong"})
        with sessions() as s, s.begin():
            enqueue(s, good, [add_hit(s, good, "kj")], "new_hit", None)
        caplog.set_level(logging.DEBUG)
        assert deliver(bad, sessions, later(1)) == DeliveryReport(retrying=1)
        [row] = _rows(sessions)
        assert (row.last_error or "").startswith("login refused: 535")
        assert deliver(good, sessions, later(2)) == DeliveryReport(sent=1)
        [message] = tls_sink.messages
        assert message.login == "vaern"
    assert secret not in caplog.text
    assert secret not in repr(good) and secret not in str(good.model_dump())
    assert all(secret not in (r.last_error or "") for r in _rows(sessions))


def test_implicit_tls_on_a_smtps_port(
    make_config: Callable[..., Config],
    sessions: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    context, cert = self_signed_tls(tmp_path / "tls")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    with SmtpSink(implicit_tls_context=context) as tls_sink:
        config = make_config(smtp={"host": tls_sink.host, "port": tls_sink.port, "ssl": True})
        with sessions() as s, s.begin():
            enqueue(s, config, [add_hit(s, config, "kj")], "new_hit", None)
        assert deliver(config, sessions, later(1)) == DeliveryReport(sent=1)
        assert len(tls_sink.messages) == 1


def test_an_untrusted_certificate_is_refused(
    make_config: Callable[..., Config], sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    context, _ = self_signed_tls(tmp_path / "tls")
    with SmtpSink(starttls_context=context) as tls_sink:
        config = make_config(smtp={"host": tls_sink.host, "port": tls_sink.port, "starttls": True})
        with sessions() as s, s.begin():
            enqueue(s, config, [add_hit(s, config, "kj")], "new_hit", None)
        assert deliver(config, sessions, later(1)) == DeliveryReport(retrying=1)
        assert tls_sink.messages == []
        [row] = _rows(sessions)
        assert "TLS failed" in (row.last_error or "")
