"""`vaern status` and `vaern alerts [--json]` on a database with crawl runs, a schedule and an outbox."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.alerts.alert_factories import CLOCK, add_hit, add_run
from vaern.alerts.dispatch import enqueue
from vaern.cli import main
from vaern.clock import clock_at, utcnow
from vaern.config import Config
from vaern.scheduler import Service
from vaern.storage.db import make_engine, migrate, session_factory
from vaern.storage.tables import AlertHitRow


@pytest.fixture(autouse=True)
def factories_day() -> Iterator[None]:
    """The hits and runs come from the alert tests' factories, dated 21 November 2026; so is the clock."""
    with clock_at(CLOCK):
        yield


def _cli(config: Config, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["-c", str(config.source), *args])
    return result.exit_code, result.output


def test_status_before_anything_ran(make_config: Callable[..., Config]) -> None:
    config = make_config(sites=[{"id": "blog", "start_urls": ["https://blog.example/"], "schedule": "30m"}])
    code, out = _cli(config, "status")
    assert code == 0, out
    assert out.splitlines()[:3] == [
        "blog  (every 30m)",
        "  last crawl: never",
        "  next crawl: not scheduled (`vaern run` has not run yet)",
    ]
    assert "Outbox: 0 queued, 0 sent, 0 failed" in out


def test_status_shows_the_last_crawl_the_next_one_and_the_outbox(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    config = make_config(
        sites=[{"id": "blog", "start_urls": ["https://blog.example/"], "schedule": "30m"}],
        smtp={"host": "127.0.0.1", "port": 9, "sender": "Værn <vaern@testby.example>"},
    )
    engine = make_engine(config.database)
    migrate(engine)
    sessions = session_factory(engine)
    service = Service(
        config, engine, sessions, runner=lambda c, s, r: subprocess.Popen(["true"], start_new_session=True)
    )
    service.start()  # stores the schedule (and runs the new site's first crawl at once)
    service.stop()
    with sessions() as s, s.begin():
        run = add_run(s, "blog")
        run.started_at = utcnow() - timedelta(seconds=75)
        run.finished_at = utcnow()
        run.pages_fetched, run.pages_unchanged, run.pages_failed, run.hits_new, run.hits_seen = 40, 12, 2, 3, 5
        alert = enqueue(s, config, [add_hit(s, config, "kj", site_id="blog")], "new_hit", run.id)[0]
        alert.status, alert.last_error = "failed", "550 5.1.1 no such mailbox (permanent, gave up after 3 tries)"
        enqueue(s, config, [add_hit(s, config, "rr", site_id="blog")], "new_hit", run.id)
    engine.dispose()

    code, out = _cli(config, "status")
    assert code == 0, out
    assert "  last crawl: " in out
    assert "75.0s, partial: 40 pages fetched, 12 unchanged, 2 failed; 3 new hits, 5 seen again" in out
    assert "  next crawl: 20" in out
    assert "Outbox: 2 queued, 0 sent, 1 failed" in out
    assert f"  failed a-{alert.id:06d} new_hit to jens@testby.example: 550 5.1.1 no such mailbox" in out

    code, out = _cli(config, "status", "--json")
    data = json.loads(out)
    assert data["sites"][0]["last_crawl"]["pages_fetched"] == 40
    assert data["sites"][0]["next_crawl"].endswith("Z")
    assert data["outbox"]["failed"] == 1


def test_vaern_alerts_lists_the_outbox(make_config: Callable[..., Config]) -> None:
    config = make_config()
    engine = make_engine(config.database)
    migrate(engine)
    with session_factory(engine)() as s, s.begin():
        [alert] = enqueue(s, config, [add_hit(s, config, "kj")], "new_hit", None)
        hit_id = s.scalars(select(AlertHitRow.hit_id)).one()
    engine.dispose()
    code, out = _cli(config, "alerts", "--json")
    assert code == 0, out
    [entry] = json.loads(out)
    assert entry["id"] == f"a-{alert.id:06d}" and entry["to"] == "jens@testby.example"
    assert entry["hits"] == [f"h-{hit_id:06d}"] and entry["status"] == "queued" and entry["attempts"] == 0
    assert set(entry) == {"id", "to", "kind", "hits", "status", "attempts", "created_at", "sent_at", "last_error"}
    code, out = _cli(config, "alerts")
    assert code == 0 and f"a-{alert.id:06d}" in out and "1 queued, 0 sent, 0 failed" in out
