"""Queue mode end to end for feeds: `vaern worker` (queue: postgres) runs queued feed jobs.

A full crawl and a first feed run (the baseline) go through the queue; then a comment naming a
watched person is published on the fixture blog, one feed job is queued, the worker runs it in
its child process, the hit is written with its alert, and `vaern send` (as the control node's
dispatcher does) delivers it to the person's leader. The feed run is recorded as the worker's,
naming its job.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from vaern.config import Config
from vaern.crawlqueue import QueueClient, ensure_schema, setup_lock
from vaern.storage.db import make_engine, migrate, session_factory
from vaern.storage.tables import CrawlRunRow, HitRow
from vaern.testing.blog import FixtureBlog
from vaern.testing.postgres import create_database
from vaern.testing.siteserver import SiteServer
from vaern.testing.smtpsink import SmtpSink

pytestmark = pytest.mark.postgres

_numbers = itertools.count(1)
POSTS = [("skandalen", "Skandalen i kommunen", "Bo Blogger", "Sagsbehandlingen i kommunen er en skandale.")]


@pytest.fixture
def blog() -> Iterator[FixtureBlog]:
    with SiteServer() as server:
        yield FixtureBlog(server, POSTS)


def _finished_runs(config: Config) -> list[CrawlRunRow]:
    engine = make_engine(config.database)
    try:
        with session_factory(engine)() as session:
            runs = list(session.scalars(select(CrawlRunRow).where(CrawlRunRow.finished_at.is_not(None))
                                        .order_by(CrawlRunRow.id)))
            session.expunge_all()
            return runs
    finally:
        engine.dispose()


def _wait_for(config: Config, count: int, worker: subprocess.Popen[bytes], log: Path) -> list[CrawlRunRow]:
    """The finished runs, once there are `count` of them (the worker must stay up meanwhile)."""
    deadline = time.monotonic() + 180  # a bound against a hang, not a measure
    while len(runs := _finished_runs(config)) < count:
        assert worker.poll() is None, f"the worker exited with {worker.returncode}\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no run {count} in time\n{log.read_text()[-3000:]}"
        time.sleep(0.3)
    return runs


def test_a_worker_runs_a_queued_feed_job_and_the_new_comment_reaches_the_leader(
    make_config: Callable[..., Config], pg_server: str, blog: FixtureBlog, tmp_path: Path
) -> None:
    with SmtpSink() as mailbox:
        config = make_config(
            database=create_database(pg_server, f"feedqueue_{os.getpid()}_{next(_numbers)}"),
            queue="postgres",
            sites=[{"id": "blog", "start_urls": [blog.url("/")], "delay": 0, "autothrottle": False}],
            smtp={"host": "127.0.0.1", "port": mailbox.port, "sender": "Værn <vaern@testby.example>"},
            evidence={"capture": False},
        )
        assert config.source is not None
        with setup_lock(config):
            engine = make_engine(config.database)
            migrate(engine)
            engine.dispose()
            ensure_schema(config)
        log = tmp_path / "worker.log"
        with log.open("ab") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "vaern", "-c", str(config.source), "worker", "--concurrency", "1"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        client = QueueClient(config)
        try:
            assert client.defer_crawl("blog") is not None
            full = _wait_for(config, 1, worker, log)[-1]
            assert client.defer_crawl("blog", kind="feed") is not None
            baseline = _wait_for(config, 2, worker, log)[-1]
            assert (full.kind, full.status, baseline.kind, baseline.status) == ("full", "ok", "feed", "ok")
            assert baseline.hits_new == 0  # what the feeds listed was known from the full crawl

            blog.add_comment("skandalen", "Vred Borger", "René Rosenkilde er en løgner og burde fyres i dag.")
            job = client.defer_crawl("blog", kind="feed")
            assert job is not None
            run = _wait_for(config, 3, worker, log)[-1]
        finally:
            client.close()
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(60)
        assert (run.kind, run.status, run.hits_new, run.job_id) == ("feed", "ok", 1, job), run.error
        assert run.worker and "worker" not in (run.error or "")

        engine = make_engine(config.database)
        with session_factory(engine)() as session:
            (hit,) = session.scalars(select(HitRow)).all()
            assert (hit.person_id, hit.url, hit.first_run_id, hit.author) == (
                "rr", blog.url("/skandalen/"), run.id, "Vred Borger")
        engine.dispose()

        sent = subprocess.run([sys.executable, "-m", "vaern", "-c", str(config.source), "send"],
                              capture_output=True, text=True, timeout=120)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        mails = mailbox.wait_for(2)  # one e-mail per recipient
        assert sorted(r for m in mails for r in m.rcpt_tos) == ["amr@testby.example", "lene@testby.example"]
        body = next(m for m in mails if "lene@testby.example" in m.rcpt_tos).message.get_body(("plain",))
        assert body is not None and "René Rosenkilde" in body.get_content()
