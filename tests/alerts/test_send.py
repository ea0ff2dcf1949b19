"""`vaern send` delivers the queued alerts now, retries included; `vaern crawl` delivers the
retries that are due as well as its own alerts; both print counts that match `vaern alerts`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from tests.alerts.alert_factories import CLOCK, add_hit, add_run
from tests.alerts.conftest import BASE_CONFIG
from vaern.alerts import enqueue
from vaern.cli import main
from vaern.config import load_config
from vaern.testing.smtpsink import SmtpSink


def _config_file(tmp_path: Path, database_url: str, sink: SmtpSink, **extra: Any) -> Path:
    data = {
        **BASE_CONFIG,
        "database": database_url,
        "archive": str(tmp_path / "archive"),
        "smtp": {"host": sink.host, "port": sink.port, "timeout": 3, "sender": "Værn <vaern@kommune.example>"},
        "alerts": {**BASE_CONFIG["alerts"], "retry_initial": "30m"},
        **extra,
    }
    path = tmp_path / "vaern.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _cli(path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["-c", str(path), *args])
    return result.exit_code, result.output


def _outbox(path: Path) -> dict[str, int]:
    code, out = _cli(path, "alerts", "--json")
    assert code == 0, out
    counts = {"queued": 0, "sent": 0, "failed": 0}
    for entry in json.loads(out):
        counts[entry["status"]] += 1
    return counts


def test_send_delivers_queued_alerts_and_retries_now(
    tmp_path: Path, database_url: str, sink: SmtpSink, sessions: sessionmaker[Session]
) -> None:
    path = _config_file(tmp_path, database_url, sink)
    config = load_config(path)
    with sessions() as s, s.begin():
        run = add_run(s)
        enqueue(s, config, [add_hit(s, config, "kj")], "new_hit", run.id)
        waiting = enqueue(s, config, [add_hit(s, config, "rr", site_id="forum")], "new_hit", None)
        for alert in waiting:  # tried once and put back: the next try is 25 minutes away
            alert.attempts, alert.last_error = 1, "421 try later"
            alert.next_attempt_at = CLOCK + timedelta(minutes=25)
    queued_before = _outbox(path)["queued"]
    assert queued_before == 2 + 1  # René's unit: its leader and its notify list

    code, out = _cli(path, "send")
    assert code == 0, out
    assert len(sink.messages) == queued_before
    box = _outbox(path)
    assert box == {"queued": 0, "sent": queued_before, "failed": 0}
    assert f"E-mails: {queued_before} sent, 0 waiting for retry, 0 failed." in out
    assert f"Outbox: 0 queued, {queued_before} sent, 0 failed." in out

    code, out = _cli(path, "send")  # nothing left: nothing sent twice
    assert code == 0 and "E-mails: 0 sent" in out and len(sink.messages) == queued_before


def test_send_says_what_could_not_be_sent_and_exits_1(
    tmp_path: Path, database_url: str, sink: SmtpSink, sessions: sessionmaker[Session]
) -> None:
    path = _config_file(tmp_path, database_url, sink)
    config = load_config(path)
    with sessions() as s, s.begin():
        enqueue(s, config, [add_hit(s, config, "kj")], "new_hit", add_run(s).id)
    sink.reply_with("451 4.3.0 try again later")
    code, out = _cli(path, "send")
    assert code == 1
    assert "E-mails: 0 sent, 1 waiting for retry, 0 failed." in out
    assert "Outbox: 1 queued, 0 sent, 0 failed." in out
    assert _outbox(path) == {"queued": 1, "sent": 0, "failed": 0}


def test_crawl_delivers_the_retries_that_are_due(
    tmp_path: Path, database_url: str, sink: SmtpSink, sessions: sessionmaker[Session]
) -> None:
    path = _config_file(tmp_path, database_url, sink, sites=[])
    config = load_config(path)
    with sessions() as s, s.begin():
        [due] = enqueue(s, config, [add_hit(s, config, "kj")], "new_hit", add_run(s).id)
        due.attempts, due.last_error, due.next_attempt_at = 1, "421 try later", CLOCK - timedelta(minutes=1)
        [later] = enqueue(s, config, [add_hit(s, config, "nn")], "new_hit", add_run(s).id)
        later.attempts, later.last_error, later.next_attempt_at = 1, "421 try later", CLOCK + timedelta(hours=1)
    code, out = _cli(path, "crawl")
    assert code == 0, out
    assert [list(m.rcpt_tos) for m in sink.messages] == [["jens@kommune.example"]]
    assert "E-mails: 1 sent, 0 waiting for retry, 0 failed." in out
    assert "Outbox: 1 queued, 1 sent, 0 failed." in out
    assert _outbox(path) == {"queued": 1, "sent": 1, "failed": 0}
