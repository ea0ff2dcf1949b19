"""`vaern run`'s scheduler with short intervals and stand-in crawl processes: schedules honoured,
one crawl per site at a time, a global limit, coalescing after downtime with the job store in the
database, a crawl past its timeout killed with its browser, SIGTERM handled gracefully."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from sqlalchemy import select

from tests.scheduler_helpers.service import FAKE_CRAWL, fake_runner
from vaern import clock
from vaern.clock import clock_at
from vaern.config import Config
from vaern.scheduler import LogfmtFormatter, Service
from vaern.storage.db import make_engine, migrate, session_factory
from vaern.storage.queries import next_runs
from vaern.storage.tables import CrawlRunRow

SERVICE = Path(__file__).parent / "scheduler_helpers" / "service.py"


def _site(site_id: str, schedule: str) -> dict[str, Any]:
    return {"id": site_id, "name": site_id.upper(), "start_urls": [f"https://{site_id}.example/"], "schedule": schedule}


def _events(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]


def _spans(log: Path) -> list[tuple[str, float, float]]:
    """(site, start, end) of every finished stand-in crawl."""
    starts = {e["run"]: e for e in _events(log) if e["event"] == "start"}
    return sorted((e["site"], starts[e["run"]]["t"], e["t"]) for e in _events(log) if e["event"] in ("end", "term"))


def _max_overlap(spans: list[tuple[str, float, float]]) -> int:
    edges = sorted([(s, 1) for _, s, _ in spans] + [(e, -1) for _, _, e in spans], key=lambda x: (x[0], x[1]))
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


class Harness:
    def __init__(self, config: Config, log: Path) -> None:
        self.config = config
        self.log = log
        self.engine = make_engine(config.database)
        migrate(self.engine)
        self.sessions = session_factory(self.engine)
        self.services: list[Service] = []

    def service(self, seconds: float | dict[str, float], flags: list[str] | None = None, **kw: Any) -> Service:
        per_site = seconds if isinstance(seconds, dict) else {}

        def runner(config: Config, site_id: str, run_id: int) -> subprocess.Popen[bytes]:
            wait = per_site.get(site_id, 0.1) if per_site else float(seconds)  # type: ignore[arg-type]
            return fake_runner(config.database, str(self.log), wait, flags or [])(config, site_id, run_id)

        service = Service(self.config, self.engine, self.sessions, runner=runner, **kw)
        self.services.append(service)
        return service

    def close(self) -> None:
        for service in self.services:
            if service.scheduler is not None:
                service.stop()
        self.engine.dispose()


@pytest.fixture
def harness(make_config: Callable[..., Config], tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(**overrides: Any) -> Harness:
        overrides.setdefault("smtp", {"host": "127.0.0.1", "port": 9, "sender": "Værn <vaern@testby.example>"})
        h = Harness(make_config(**overrides), tmp_path / "crawls.jsonl")
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


def _runs(h: Harness) -> list[CrawlRunRow]:
    with h.sessions() as session:
        return list(session.scalars(select(CrawlRunRow).order_by(CrawlRunRow.id)))


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _sleeper(config: Config, site_id: str, run_id: int, seconds: float) -> subprocess.Popen[bytes]:
    """A crawl child that only takes time (`sleep`): starts in milliseconds even on a busy machine."""
    return subprocess.Popen(["sleep", str(seconds)], start_new_session=True)


def _finished(h: Harness, site: str) -> list[CrawlRunRow]:
    return [r for r in _runs(h) if r.site_id == site and r.finished_at is not None]


def test_each_site_on_its_schedule_never_twice_at_once(harness: Callable[..., Harness]) -> None:
    h = harness(sites=[_site("a", "1s"), _site("b", "2s")], crawl={"max_parallel_sites": 2})
    service = h.service(0)
    service.runner = lambda c, site, run: _sleeper(c, site, run, 1.6 if site == "a" else 0.1)
    service.start()
    _wait(lambda: len(_finished(h, "a")) >= 3 and len(_finished(h, "b")) >= 3, 60, "three runs of each site")
    service.stop()
    a, b = _finished(h, "a"), _finished(h, "b")
    # `a` is due every second but each crawl takes 1.6 s: back to back, never two at once.
    assert all(later.started_at >= earlier.finished_at for earlier, later in zip(a, a[1:], strict=False))  # type: ignore[operator]
    # `b` keeps its own 2 s rhythm meanwhile, never more often.
    gaps = [(later.started_at - earlier.started_at).total_seconds() for earlier, later in zip(b, b[1:], strict=False)]
    assert all(gap >= 1.5 for gap in gaps), gaps  # (fire times wobble a little on a busy machine)


def test_at_most_max_parallel_sites_crawls_at_once(harness: Callable[..., Harness]) -> None:
    h = harness(sites=[_site(s, "1s") for s in ("a", "b", "c")], crawl={"max_parallel_sites": 1})
    service = h.service(0)
    service.runner = lambda c, site, run: _sleeper(c, site, run, 0.4)
    service.start()
    _wait(lambda: all(_finished(h, s) for s in ("a", "b", "c")), 60, "a run of every site")
    service.stop()
    spans = [(r.site_id, r.started_at.timestamp(), r.finished_at.timestamp()) for r in _runs(h) if r.finished_at]
    assert _max_overlap(spans) == 1


def test_a_site_due_during_downtime_runs_once_after_restart_and_the_schedule_is_kept(
    harness: Callable[..., Harness], caplog: pytest.LogCaptureFixture, db_url: str
) -> None:
    """On SQLite and on PostgreSQL: the job store lives in the service's own database."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    caplog.set_level(logging.INFO, logger="vaern.service")
    h = harness(sites=[_site("a", "1m")], database=db_url)
    first = h.service(0)
    first.runner = lambda c, site, run: _sleeper(c, site, run, 0.05)
    first.start()
    _wait(lambda: len(_finished(h, "a")) == 1, 30, "the first crawl")
    first.stop()
    # The service was down for an hour: sixty one-minute slots were missed.
    tz = ZoneInfo(h.config.timezone)
    store = SQLAlchemyJobStore(engine=h.engine, tablename="apscheduler_jobs")
    job = store.lookup_job("crawl:a")
    # Half a slot off the minute, so the next regular slot (with its jitter of up to 6 s) is
    # about 30 s away and cannot fall into the wait below.
    job.next_run_time = clock.now().astimezone(tz) - timedelta(minutes=59, seconds=30)
    store.update_job(job)
    before = next_runs(h.engine)
    assert set(before) == {"crawl:a", "feeds:a", "digest", "retention"}

    caplog.clear()
    second = h.service(0)
    second.runner = lambda c, site, run: _sleeper(c, site, run, 0.05)
    second.start()
    _wait(lambda: len(_finished(h, "a")) >= 2, 30, "the missed crawl")
    # Every missed slot has been dealt with once the job's next run is ahead and its executor runs
    # no instance of it: a backlog, had it not been coalesced, would be running in that instance.
    crawls = second.scheduler._lookup_executor("crawls")  # type: ignore[union-attr]
    _wait(lambda: (next_runs(h.engine)["crawl:a"] or datetime.min) > clock.utcnow()
          and not crawls._instances.get("crawl:a"), 60, "the missed slots to be dealt with")
    assert len(_runs(h)) == 2
    assert "event=schedule.kept job=crawl:a" in caplog.text
    assert "event=schedule.kept job=digest" in caplog.text
    now = next_runs(h.engine)
    assert now["digest"] == before["digest"] and now["retention"] == before["retention"]
    # The next crawl is one interval on, not another catch-up.
    assert now["crawl:a"] is not None
    ahead = (now["crawl:a"] - clock.utcnow()).total_seconds()
    assert 0 < ahead <= 60 + 6  # one interval plus its jitter (a tenth of it)
    second.stop()


def test_the_daily_jobs_run_at_their_time_of_day_on_the_clock(
    harness: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    caplog.set_level(logging.INFO, logger="vaern.service")
    h = harness(timezone="Europe/Copenhagen", alerts={"digest_at": "07:30"})
    service = h.service(0)
    # Two seconds before the digest on the clock, whatever the time of day really is.
    with clock_at(datetime(2026, 11, 21, 7, 29, 58, tzinfo=ZoneInfo("Europe/Copenhagen"))):
        service.start()
        assert next_runs(h.engine)["digest"] == datetime(2026, 11, 21, 6, 30)  # 07:30 in Copenhagen, UTC
        _wait(lambda: "event=digest.queued" in caplog.text, 15, "the digest")
        service.stop()
    assert next_runs(h.engine)["digest"] == datetime(2026, 11, 22, 6, 30)


def test_a_changed_schedule_replaces_the_stored_job(
    harness: Callable[..., Harness], make_config: Callable[..., Config]
) -> None:
    h = harness(sites=[_site("a", "1h"), _site("gone", "1h")])
    service = h.service(0.1)
    service.start()
    service.stop()
    h.config = make_config(sites=[_site("a", "2h")], smtp={"host": "127.0.0.1", "port": 9})
    again = h.service(0.1)
    again.start()
    assert again.scheduler is not None
    job = again.scheduler.get_job("crawl:a")
    assert job is not None and job.name.startswith("crawl a: 2h")
    assert again.scheduler.get_job("crawl:gone") is None
    again.stop()


def test_a_crawl_past_its_timeout_is_killed_with_its_browser(harness: Callable[..., Harness]) -> None:
    h = harness(sites=[_site("a", "1h")], crawl={"timeout": "3s"})
    service = h.service(600, flags=["--ignore-term", "--browser"], kill_grace=0.5)
    began = time.monotonic()
    outcome = service.crawl("a")
    took = time.monotonic() - began
    assert outcome.status == "killed"
    assert 3.0 <= took < 10
    events = _events(h.log)
    crawler = next(e["pid"] for e in events if e["event"] == "start")
    browser = next(e["browser_pid"] for e in events if e["event"] == "browser")
    deadline = time.monotonic() + 5
    while not (_gone(crawler) and _gone(browser)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(crawler) and _gone(browser)
    with h.sessions() as s:
        run = s.get(CrawlRunRow, outcome.run_id)
    assert run is not None and run.status == "killed" and run.finished_at is not None
    assert run.error == "killed after it exceeded crawl.timeout (3s)"


def test_a_crawl_stopped_for_its_timeout_stays_killed_though_it_marked_itself(
    harness: Callable[..., Harness],
) -> None:
    # It honours SIGTERM and records itself as stopped in its grace period: the timeout still stands.
    h = harness(sites=[_site("a", "1h")], crawl={"timeout": "2s"})
    service = h.service(600, kill_grace=5)
    outcome = service.crawl("a")
    assert outcome.status == "killed"
    assert "term" in [e["event"] for e in _events(h.log)], "the crawl saw the SIGTERM and marked its run"
    with h.sessions() as s:
        run = s.get(CrawlRunRow, outcome.run_id)
    assert run is not None and run.status == "killed" and run.error == "killed after it exceeded crawl.timeout (2s)"


def test_a_crawl_that_fails_is_recorded(harness: Callable[..., Harness]) -> None:
    h = harness(sites=[_site("a", "1h")])
    service = h.service(0.1)

    def broken(config: Config, site_id: str, run_id: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"], start_new_session=True)

    service.runner = broken
    outcome = service.crawl("a")
    with h.sessions() as s:
        run = s.get(CrawlRunRow, outcome.run_id)
    assert outcome.status == "failed"
    assert run is not None and run.status == "failed" and run.error == "the crawl process exited with code 3"


def test_sigterm_lets_the_running_crawl_finish_its_page_and_exits_cleanly(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    config = make_config(sites=[_site("a", "1h")], smtp={"host": "127.0.0.1", "port": 9})
    log = tmp_path / "crawls.jsonl"
    errors = tmp_path / "service.log"
    with errors.open("wb") as err:
        proc = subprocess.Popen([sys.executable, str(SERVICE), str(config.source), str(log), "60"], stderr=err)
        try:
            deadline = time.monotonic() + 30
            while not any(e["event"] == "start" for e in _events(log)):
                assert time.monotonic() < deadline, errors.read_text()
                assert proc.poll() is None, errors.read_text()
                time.sleep(0.1)
            crawler = next(e["pid"] for e in _events(log) if e["event"] == "start")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    assert [e["event"] for e in _events(log)] == ["start", "term"]  # it finished its page; no new crawl began
    assert _gone(crawler)
    engine = make_engine(config.database)
    with session_factory(engine)() as s:
        [run] = s.scalars(select(CrawlRunRow)).all()
    engine.dispose()
    assert run.finished_at is not None and run.error == "stopped after the current page (SIGTERM)"
    lines = errors.read_text(encoding="utf-8").splitlines()
    assert any("event=service.signal signal=SIGTERM" in line for line in lines)
    assert any("event=crawl.finished site=a run=1 status=stopped" in line for line in lines)
    assert lines[-1].endswith("event=service.stopped")
    assert all(line.startswith("ts=") and " level=" in line for line in lines)


def test_log_lines_are_one_event_each() -> None:
    record = logging.LogRecord("vaern.service", logging.INFO, __file__, 1, "event=x site=%s", ("a",), None)
    assert LogfmtFormatter().format(record).endswith(" level=info logger=vaern.service event=x site=a")
    prose = logging.LogRecord("apscheduler", logging.WARNING, __file__, 1, 'said "hi"\nthere', None, None)
    assert LogfmtFormatter().format(prose).endswith('msg="said \\"hi\\"\\nthere"')


def test_stand_in_crawl_exists() -> None:
    assert FAKE_CRAWL.is_file() and os.access(sys.executable, os.X_OK)


def test_discovery_runs_in_the_service_within_its_budget(harness: Callable[..., Harness]) -> None:
    """`vaern run` asks the providers on its own schedule (here every second), and stops at the
    day's budget; nothing it finds is crawled."""
    from vaern.storage.tables import DiscoverySearchRow
    from vaern.testing.searchprovider import FakeSearch
    from vaern.testing.siteserver import SiteServer

    with SiteServer() as server:
        fake = FakeSearch(server, addresses={"site": "http://a.test", "site2": "http://b.test",
                                             "watched": "http://c.test"})
        h = harness(discovery={"budget_per_day": 2, "check_every": "1s", "providers": [
            {"kind": "searxng", "base_url": server.base_url}]})
        service = h.service(0)
        service.start()
        assert service.scheduler is not None and service.scheduler.get_job("discovery") is not None

        def searched() -> int:
            with h.sessions() as s:
                return len(s.scalars(select(DiscoverySearchRow)).all())

        _wait(lambda: searched() >= 2, 20, "two discovery queries")
        time.sleep(2.5)  # two more rounds of the job: the budget is spent
        service.stop()
    assert searched() == 2 and len(fake.queries) == 2
    assert _runs(h) == []
