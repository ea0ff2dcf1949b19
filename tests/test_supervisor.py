"""The crawl supervisor's runs: a queued job's attempt names its job and worker, and a retried
job's earlier attempt, left open by a worker that died, is closed as abandoned. (Processes,
timeouts and stops: tests/test_scheduler.py and tests/test_crawl_interrupt.py.)"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from vaern.config import Config
from vaern.storage.db import make_engine, migrate, session_factory
from vaern.storage.tables import CrawlRunRow
from vaern.supervisor import Supervisor, open_run


def test_a_retried_job_closes_its_earlier_attempt_as_abandoned(make_config: Callable[..., Config], db_url: str) -> None:
    config = make_config(database=db_url, sites=[{"id": "a", "start_urls": ["https://a.example/"]}])
    engine = make_engine(config.database)
    migrate(engine)
    sessions = session_factory(engine)
    try:
        first = open_run(sessions, "a", job_id=7, worker="w1")
        other = open_run(sessions, "a", job_id=8, worker="w2")  # another job: not touched
        local = open_run(sessions, "a")  # a crawl on this machine: no job
        second = open_run(sessions, "a", job_id=7, worker="w2")
        with sessions() as session:
            runs = {r.id: r for r in session.query(CrawlRunRow)}
        assert runs[first].status == "abandoned" and runs[first].finished_at is not None
        assert runs[first].error == f"its worker (w1) stopped during the crawl; run {second} crawls the site again"
        assert (runs[second].job_id, runs[second].worker, runs[second].finished_at) == (7, "w2", None)
        assert runs[other].finished_at is None and runs[local].finished_at is None
        assert runs[local].job_id is None and runs[local].worker is None
    finally:
        engine.dispose()


def test_a_queued_crawl_runs_through_the_supervisor_as_a_local_one(
    make_config: Callable[..., Config], tmp_path: object
) -> None:
    config = make_config(sites=[{"id": "a", "start_urls": ["https://a.example/"]}])
    engine = make_engine(config.database)
    migrate(engine)
    sessions = session_factory(engine)
    try:
        supervisor = Supervisor(
            config, sessions, start=lambda c, s, r: subprocess.Popen(["sh", "-c", "exit 4"], start_new_session=True)
        )
        outcome = supervisor.crawl("a", job_id=3, worker="w9")
        assert outcome.status == "failed" and outcome.exit_code == 4
        with sessions() as session:
            run = session.get(CrawlRunRow, outcome.run_id)
        assert run is not None and (run.status, run.job_id, run.worker) == ("failed", 3, "w9")
        assert run.error == "the crawl process exited with code 4"
    finally:
        engine.dispose()
