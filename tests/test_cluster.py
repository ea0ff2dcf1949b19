"""Many machines on one: `queue: postgres` with a control node (`vaern run`) and three workers
(`vaern worker`) as separate processes, sharing a throwaway PostgreSQL and an S3 stand-in (moto's
server) for the evidence, over ten local sites, one of them slow. Every site is crawled once in
its slot, the work is spread, nothing is e-mailed twice; every hit's evidence is in the bucket and
verifies, the chain unbroken; a worker SIGKILLed mid-crawl has its site crawled again by another
(its run closed as abandoned, no alert twice, no evidence lost); a control node SIGKILLed and
restarted queues nothing twice.

What this does not prove: machines apart (one loopback, one clock), PostgreSQL failing over, a
real MinIO or AWS (moto speaks their protocol, conditional puts included, but is not them), or a
network partition between a worker and the database or the bucket.
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
from typing import IO, Any

import pytest
from sqlalchemy import Engine, select, text

from vaern.config import Config
from vaern.storage.archive import expected_manifests, snapshot_file_maps
from vaern.storage.blobstore import S3Store
from vaern.storage.db import make_engine, session_factory
from vaern.storage.stamping import archive_for
from vaern.storage.tables import AlertHitRow, AlertRow, CrawlRunRow, HitRow, SnapshotRow
from vaern.testing.postgres import create_database
from vaern.testing.s3 import SECRET_KEY, S3StandIn
from vaern.testing.siteserver import SiteServer
from vaern.testing.smtpsink import SmtpSink

pytestmark = pytest.mark.postgres

_numbers = itertools.count(1)
SITES = [f"s{n}" for n in range(9)] + ["slow"]
SLOW_PAGES = 3
SLOW_SECONDS = 4


@pytest.fixture
def sites() -> Iterator[SiteServer]:
    with SiteServer() as server:
        for site in SITES[:-1]:
            server.set_page(f"/{site}/", f'<!doctype html><p>Hvorfor får René Rosenkilde lov på {site}?</p>'
                                         f'<a href="/{site}/more">mere</a>')
            server.set_page(f"/{site}/more", f"<!doctype html><p>Intet om nogen her ({site}).</p>")
        links = "".join(f'<a href="/_/slow?seconds={SLOW_SECONDS}&n={n}">langsom {n}</a>' for n in range(SLOW_PAGES))
        server.set_page("/slow/", f"<!doctype html><p>Hvorfor får René Rosenkilde lov på slow?</p>{links}")
        yield server


class Cluster:
    """The processes of one cluster, each logging to a file of its own."""

    def __init__(self, config: Config, tmp_path: Path) -> None:
        assert config.source is not None
        self.config = config
        self.logs = tmp_path / "logs"
        self.logs.mkdir()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._files: list[IO[bytes]] = []
        self.engine: Engine = make_engine(config.database)
        self.sessions = session_factory(self.engine)

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        self._files.append(log)
        process = subprocess.Popen(
            [sys.executable, "-m", "vaern", "-c", str(self.config.source), *args],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def all_logs(self) -> str:
        return "\n".join(f"== {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.logs.iterdir()))

    def runs(self) -> list[CrawlRunRow]:
        with self.sessions() as session:
            return list(session.scalars(select(CrawlRunRow).order_by(CrawlRunRow.id)))

    def jobs(self) -> list[tuple[int, str, str, int]]:
        with self.engine.connect() as conn:
            if conn.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar() is None:
                return []  # the control node has not created the queue yet
            rows = conn.execute(text(
                "SELECT id, args->>'site_id', status::text, attempts FROM procrastinate_jobs ORDER BY id"
            ))
            return [(r[0], r[1], r[2], r[3]) for r in rows]

    def wait(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            for name, process in self.processes.items():
                if process.poll() is not None and process.returncode not in (0, -signal.SIGKILL):
                    raise AssertionError(f"{name} exited with {process.returncode}\n{self.all_logs()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}\n{self.all_logs()}")
            time.sleep(0.2)

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for log in self._files:
            log.close()
        self.engine.dispose()


@pytest.fixture
def cluster(
    make_config: Callable[..., Config], pg_server: str, sites: SiteServer, tmp_path: Path, s3_bucket: S3StandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Cluster, SmtpSink]]:
    # The bucket's secret as an operator gives it: ${VAR} in the config, the value in the environment
    # the control node and the workers inherit.
    monkeypatch.setenv("VAERN_TEST_S3_SECRET", SECRET_KEY)
    with SmtpSink() as mailbox:
        site_configs: list[dict[str, Any]] = [
            {"id": s, "start_urls": [sites.url(f"/{s}/")], "schedule": "1h", "delay": 0, "autothrottle": False,
             "follow": {"allow": [f"/{s}/", "/_/slow"] if s == "slow" else [f"/{s}/"]}}
            for s in SITES
        ]
        config = make_config(
            database=create_database(pg_server, f"cluster_{os.getpid()}_{next(_numbers)}"),
            queue="postgres",
            sites=site_configs,
            smtp={"host": "127.0.0.1", "port": mailbox.port, "sender": "Værn <vaern@testby.example>"},
            # Every hit told at once, whatever its severity: this test is about the queue.
            alerts={"dispatch_every": "1s", "policy": {"low": "immediate", "none": "immediate"}},
            evidence={"store": s3_bucket.store_config(prefix="cluster/", secret="${VAERN_TEST_S3_SECRET}")},
            crawl={"max_parallel_sites": 2},
        )
        made = Cluster(config, tmp_path)
        try:
            yield made, mailbox
        finally:
            made.close()


def _sent_twice(cluster: Cluster) -> list[tuple[str, int, str]]:
    """(recipient, hit, kind) told more than once."""
    with cluster.sessions() as session:
        rows = session.execute(
            select(AlertRow.recipient, AlertHitRow.hit_id, AlertRow.kind)
            .join(AlertHitRow, AlertHitRow.alert_id == AlertRow.id)
        ).all()
    seen: dict[tuple[str, int, str], int] = {}
    for row in rows:
        key = (row[0], row[1], row[2])
        seen[key] = seen.get(key, 0) + 1
    return [key for key, count in seen.items() if count > 1]


def test_a_control_node_and_three_workers_crawl_every_site_once_and_survive_kills(
    cluster: tuple[Cluster, SmtpSink], sites: SiteServer
) -> None:
    c, mailbox = cluster
    # The control node comes up first (it creates the schema); the workers then join.
    c.start("control", "run")
    c.wait(lambda: len(c.jobs()) == len(SITES), 60, "the control node to queue every site")
    for n in range(1, 4):
        c.start(f"w{n}", "worker", "--concurrency", "2", "--name", f"w{n}")

    # The slow site is being crawled: SIGKILL the worker that has it, mid-crawl.
    def slow_running() -> CrawlRunRow | None:
        return next((r for r in c.runs() if r.site_id == "slow" and r.status == "running"), None)

    c.wait(lambda: slow_running() is not None and sites.count("/_/slow") > 0, 90, "the slow site's crawl")
    victim_run = slow_running()
    assert victim_run is not None and victim_run.worker is not None
    victim = victim_run.worker
    os.killpg(c.processes[victim].pid, signal.SIGKILL)
    c.processes[victim].wait()

    def settled() -> bool:
        runs, jobs = c.runs(), c.jobs()
        crawled = all(any(r.site_id == s and r.status == "ok" for r in runs) for s in SITES)
        return crawled and {status for _, _, status, _ in jobs} == {"succeeded"}

    c.wait(settled, 300, "every site crawled, the slow one again by another worker")
    runs = c.runs()
    # Once per slot: one job per site. A job runs again only if its worker died with it (at least
    # once): the slow site's first attempt is closed as abandoned; a quick site the dead worker had
    # just finished, but not yet marked done in the queue, may run once more, harmlessly.
    for site in SITES:
        mine = [r for r in runs if r.site_id == site]
        shown = [(r.status, r.worker, r.job_id, r.error) for r in mine]
        assert len({r.job_id for r in mine}) == 1 and mine[-1].status == "ok", shown
        assert all(r.worker == victim for r in mine[:-1]), shown
        if site == "slow":
            assert [r.status for r in mine] == ["abandoned", "ok"], shown
            assert mine[1].worker != victim
            assert f"run {mine[1].id} crawls the site again" in (mine[0].error or "")
        else:
            assert len(mine) == 1 or mine[0].status in ("ok", "abandoned"), shown
    # Spread over the workers.
    assert len({r.worker for r in runs if r.status == "ok"}) >= 2, [(r.site_id, r.worker) for r in runs]
    # The crawl process of the killed worker went with it: no crawl of the slow site is left over.
    jobs = c.jobs()
    assert len(jobs) == len(SITES) and {status for _, _, status, _ in jobs} == {"succeeded"}, jobs
    assert [attempts for _, site, _, attempts in jobs if site == "slow"] == [2]
    assert all(attempts == len([r for r in runs if r.job_id == job]) for job, _, _, attempts in jobs), jobs

    _evidence_is_all_in_the_bucket(c, c.logs.parent)

    # Everyone is told of every hit once: ten pages name René, his leader and the unit's notify list hear.
    c.wait(lambda: _all_sent(c) and len(mailbox.messages) >= 1, 60, "the alerts to be sent")
    assert _sent_twice(c) == []
    with c.sessions() as session:
        told = session.execute(
            select(AlertRow.recipient, AlertHitRow.hit_id).join(AlertHitRow, AlertHitRow.alert_id == AlertRow.id)
        ).all()
        sent = session.scalars(select(AlertRow).where(AlertRow.status == "sent")).all()
    assert {r for r, _ in told} == {"lene@testby.example", "amr@testby.example"}
    assert len({h for _, h in told}) == len(SITES)
    assert len(mailbox.messages) == len(sent)

    # SIGKILL the control node and start it again: nothing is queued, crawled or sent twice.
    before_mail = len(mailbox.messages)
    os.killpg(c.processes["control"].pid, signal.SIGKILL)
    c.processes["control"].wait()
    c.start("control-again", "run")
    c.wait(lambda: "event=service.started" in c.log("control-again"), 60, "the control node's restart")
    c.wait(lambda: "event=schedule.kept job=crawl:slow" in c.log("control-again"), 10, "the kept schedule")
    time.sleep(5)  # a few dispatch rounds and stall checks
    assert len(c.jobs()) == len(SITES)
    assert len(c.runs()) == len(runs)
    assert len(mailbox.messages) == before_mail
    assert _sent_twice(c) == []

    # SIGTERM stops a worker cleanly: no job in hand, so it exits at once.
    for name in ("w1", "w2", "w3"):
        if name != victim:
            os.killpg(c.processes[name].pid, signal.SIGTERM)
            assert c.processes[name].wait(30) == 0, c.log(name)
            assert "event=worker.stopped" in c.log(name)


def _all_sent(c: Cluster) -> bool:
    with c.sessions() as session:
        statuses = session.scalars(select(AlertRow.status)).all()
    return bool(statuses) and set(statuses) == {"sent"}


def _evidence_is_all_in_the_bucket(c: Cluster, tmp_path: Path) -> None:
    """Every hit has complete evidence (none lost with the killed worker), every file of it is in
    the bucket and none in a local folder, and verify passes: files, manifests, one unbroken chain."""
    archive = archive_for(c.config)
    assert isinstance(archive.blobs, S3Store)
    with c.sessions() as session:
        hits = session.scalars(select(HitRow)).all()
        snapshots = session.scalars(select(SnapshotRow)).all()
        expected, maps = expected_manifests(session), snapshot_file_maps(session)
    assert len(hits) == len(SITES) and not any(h.evidence_owed for h in hits), [(h.url, h.evidence_reason)
                                                                               for h in hits if h.evidence_owed]
    complete = {s.page_id for s in snapshots if s.complete}
    assert {h.page_id for h in hits} <= complete
    keys = {k for folder in ("blobs", "snapshots") for k in archive.blobs.keys(folder)}
    for snap in snapshots:
        assert snap.manifest_path in keys
        assert {f["path"] for f in snap.files.values()} <= keys
    assert not (tmp_path / "archive").exists()
    report = archive.check(expected, file_maps=maps)
    assert report.problems == [], report.problems
    chain = archive.chain()
    assert [e["sequence"] for e in chain] == list(range(1, len(chain) + 1))
    assert len(chain) >= len(snapshots)
