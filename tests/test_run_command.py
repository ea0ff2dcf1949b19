"""`vaern run` end to end: the embedded demo site, a local SMTP sink, the real crawl child with
evidence capture; then `vaern status` and `vaern alerts --json` on what it did."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from sqlalchemy import select

from vaern.alerts.routing import scope
from vaern.config import load_config
from vaern.demo.run import PEOPLE, UNITS, demo_site
from vaern.storage.db import make_engine, migrate, session_factory
from vaern.storage.tables import AlertHitRow, AlertRow, CrawlRunRow, HitRow
from vaern.testing.smtpsink import SmtpSink


def _vaern(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaern", "-c", str(config), *args], capture_output=True, text=True, timeout=120
    )


def test_vaern_run_crawls_on_schedule_and_delivers_to_the_right_leaders(tmp_path: Path) -> None:
    with demo_site() as site_url, SmtpSink() as sink:
        path = tmp_path / "vaern.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "organisation": "Egeby Kommune",
                    "database": "sqlite:///vaern.db",
                    "archive": "archive",
                    "smtp": {"host": sink.host, "port": sink.port, "sender": "Værn <vaern@egeby.example>"},
                    "network": {"allow_private_hosts": ["127.0.0.1"]},
                    "units": UNITS,
                    "people": PEOPLE,
                    "sites": [
                        {
                            "id": "sandheden",
                            "start_urls": [site_url + "/"],
                            "schedule": "1h",
                            "delay": 0,
                            "autothrottle": False,
                        }
                    ],
                    "alerts": {"dispatch_every": "1s", "analysts": ["analyse@egeby.example"]},
                },
                allow_unicode=True,
            ),
            encoding="utf-8",
        )
        config = load_config(path)
        engine = make_engine(config.database)
        migrate(engine)
        sessions = session_factory(engine)
        log = tmp_path / "run.log"
        with log.open("wb") as err:
            service = subprocess.Popen([sys.executable, "-m", "vaern", "-c", str(path), "run"], stderr=err)
        try:
            deadline = time.monotonic() + 240
            while True:
                assert service.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                with sessions() as s:
                    runs = list(s.scalars(select(CrawlRunRow)))
                    alerts = list(s.scalars(select(AlertRow)))
                if runs and runs[0].finished_at and alerts and all(a.status == "sent" for a in alerts):
                    break
                time.sleep(0.5)
            service.send_signal(signal.SIGTERM)
            assert service.wait(60) == 0, log.read_text()
        finally:
            if service.poll() is None:
                service.kill()
        messages = sink.messages

    [run] = runs
    assert run.status == "ok" and run.hits_new > 0
    assert len(messages) == len(alerts)
    with sessions() as s:
        for message in messages:
            [to] = message.rcpt_tos
            alert_id = int(message.message["X-Vaern-Alert"].removeprefix("a-"))
            people = set(
                s.scalars(
                    select(HitRow.person_id)
                    .join(AlertHitRow, AlertHitRow.hit_id == HitRow.id)
                    .where(AlertHitRow.alert_id == alert_id)
                )
            )
            units = {p["unit"] for p in PEOPLE if p["id"] in people}
            assert units <= scope(config, to), (to, units)
    engine.dispose()
    leaders = {u["leader"]["email"] for u in UNITS}
    assert {m.rcpt_tos[0] for m in messages} & leaders
    # The evidence was captured in the same run, before the e-mails went: they carry thumbnails.
    assert any(part.get_content_type() == "image/jpeg" for m in messages for part in m.message.walk())
    lines = log.read_text(encoding="utf-8").splitlines()
    assert any(f"event=crawl.finished site=sandheden run={run.id} status=ok" in line for line in lines)
    assert any("event=alert.sent" in line for line in lines)

    status = _vaern(path, "status")
    assert status.returncode == 0, status.stderr
    assert "sandheden  (every 1h)" in status.stdout
    assert "new hits" in status.stdout and ", ok: " in status.stdout
    assert "next crawl: 20" in status.stdout
    assert f"Outbox: 0 queued, {len(messages)} sent, 0 failed" in status.stdout

    listed = _vaern(path, "alerts", "--json")
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert len(entries) == len(messages)
    assert all(e["status"] == "sent" and e["id"].startswith("a-") and e["hits"] for e in entries)
