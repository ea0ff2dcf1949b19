"""`vaern run` killed with SIGKILL while it is sending, then started again: every alert is
delivered at least once, none is lost, and only the one in flight at the kill may arrive twice,
with the same Message-ID."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import yaml
from sqlalchemy import select

from tests.alerts.alert_factories import add_hit, add_run
from vaern.alerts.delivery import lease
from vaern.alerts.dispatch import enqueue
from vaern.config import load_config
from vaern.storage.db import make_engine, migrate, session_factory
from vaern.storage.tables import AlertRow
from vaern.testing.smtpsink import SmtpSink

SERVICE = Path(__file__).parents[1] / "scheduler_helpers" / "service.py"


def _start(config_path: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:
        return subprocess.Popen([sys.executable, str(SERVICE), str(config_path), str(log) + ".crawls", "0"], stderr=err)


def test_sigkill_during_dispatch_loses_nothing(tmp_path: Path, sink: SmtpSink) -> None:
    path = tmp_path / "vaern.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "organisation": "Testby Kommune",
                "database": f"sqlite:///{tmp_path / 'vaern.db'}",
                "smtp": {"host": sink.host, "port": sink.port, "sender": "Værn <vaern@testby.example>", "timeout": 5},
                "units": [
                    {"id": f"u{i}", "name": f"Enhed {i}", "leader": {"name": f"L{i}", "email": f"l{i}@testby.example"}}
                    for i in range(12)
                ],
                "people": [{"id": f"p{i}", "name": f"Person Nummer{i}", "unit": f"u{i}"} for i in range(12)],
                "alerts": {"dispatch_every": "1s"},
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    config = load_config(path)
    engine = make_engine(config.database)
    migrate(engine)
    sessions = session_factory(engine)
    with sessions() as s, s.begin():
        run = add_run(s)
        hits = [add_hit(s, config, f"p{i}", run_id=run.id) for i in range(12)]
        alerts = enqueue(s, config, hits, "new_hit", run.id)
        expected = {a.message_id for a in alerts}
    assert len(expected) == 12

    sink.delay(0.4)  # each message takes a while: the kill lands mid-dispatch
    log = tmp_path / "service.log"
    first = _start(path, log)
    try:
        sink.wait_for(3, timeout=60)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    with sessions() as s:
        rows = list(s.scalars(select(AlertRow)))
    sent_before = sum(r.status == "sent" for r in rows)
    assert sent_before < 12, "the kill should land while sending"
    assert any(r.claimed_by is not None for r in rows if r.status == "queued")  # it died holding a claim

    restarted = time.monotonic()
    second = _start(path, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            with sessions() as s:
                if all(r.status == "sent" for r in s.scalars(select(AlertRow))):
                    took = time.monotonic() - restarted
                    break
            assert time.monotonic() < deadline, log.read_text()
            assert second.poll() is None, log.read_text()
            time.sleep(0.2)
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0
    finally:
        if second.poll() is None:
            second.kill()
    engine.dispose()

    received = Counter(m.message["Message-ID"] for m in sink.messages)
    assert set(received) == expected  # every alert delivered
    # Only the message in flight at the kill may arrive twice: over one SMTP connection (the
    # default) each accepted message is recorded before the next one is handed over.
    assert config.alerts.connections == 1
    assert sum(received.values()) - len(expected) <= 1
    # The claims of the killed process were taken over at once, not after their lease ran out.
    assert took < lease(config).total_seconds()
