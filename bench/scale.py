"""Scale-out: pages per minute with 1, 2 and 3 `vaern worker`s, and the queue's own cost per job.

A throwaway PostgreSQL, a control node (`vaern run`, `queue: postgres`) and N workers as separate
processes, each worker running one crawl at a time (`--concurrency 1`, as one small machine
would). The sites are HTTP sites on a local server that waits 200 ms before every response, so a
crawl waits on the network as on the real web rather than on this machine's cores; each site
crawls one page at a time (`concurrency: 1`, no delay). For each N, a fresh database: the control
node queues every site at once (new sites are due at once), the clock runs from the first run
opened to the last job done.

Printed per N: pages, seconds, pages per minute, the speed-up over one worker (target: 3 workers
>= 2.5x), and per job the queue's own overhead: the time Procrastinate reports the job running
minus the time the crawl supervisor took for the crawl (start of the run to the process reaped,
as the worker logs it), and the gap between a worker's jobs (target: overhead < 50 ms per job).

Not measured here: evidence writes to S3 against the local directory (the S3 archive backend is
not built yet).

    .venv/bin/python bench/scale.py [--sites 12] [--pages 25]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path
from statistics import mean

import yaml
from sqlalchemy import select, text

from vaern.storage.db import make_engine, session_factory
from vaern.storage.tables import CrawlRunRow
from vaern.testing.postgres import create_database, throwaway_cluster
from vaern.testing.siteserver import Exchange, SiteServer

RESPONSE_DELAY = 0.2


def delayed(body: str):  # type: ignore[no-untyped-def]
    def answer(exchange: Exchange) -> None:
        time.sleep(RESPONSE_DELAY)
        exchange.send(200, body)

    return answer


def serve(server: SiteServer, sites: int, pages: int) -> None:
    for s in range(sites):
        links = "".join(f'<a href="/b{s}/p{k}">side {k}</a>' for k in range(pages))
        server.route(f"/b{s}/", delayed(f"<!doctype html><p>Forum {s}</p>{links}"))
        for k in range(pages):
            server.route(f"/b{s}/p{k}", delayed(f"<!doctype html><p>Et indlæg om vejret, nummer {k} på {s}.</p>"))


def write_config(folder: Path, database: str, server: SiteServer, sites: int) -> Path:
    config = {
        "organisation": "Skalering Kommune",
        "database": database,
        "queue": "postgres",
        "archive": str(folder / "archive"),
        "smtp": {"host": "127.0.0.1", "port": 9, "sender": "Værn <vaern@skalering.example>"},
        "network": {"allow_private_hosts": ["127.0.0.1"]},
        "units": [{"id": "u", "name": "Enhed", "leader": {"name": "Lene Leder", "email": "lene@skalering.example"}}],
        "people": [{"id": "rr", "name": "René Rosenkilde", "unit": "u"}],
        "evidence": {"capture": False},
        "sites": [
            {"id": f"b{s}", "start_urls": [server.url(f"/b{s}/")], "schedule": "1d", "concurrency": 1, "delay": 0,
             "autothrottle": False, "robots": "ignore", "follow": {"allow": [f"/b{s}/"]}}
            for s in range(sites)
        ],
    }
    path = folder / "vaern.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def one_round(server_url: str, server: SiteServer, workers: int, sites: int, pages: int, n: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix=f"vaern-scale-{workers}-"))
    database = create_database(server_url, f"scale_{os.getpid()}_{n}")
    config = write_config(folder, database, server, sites)
    engine = make_engine(database)
    sessions = session_factory(engine)
    processes: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> None:
        log = (folder / f"{len(processes)}.log").open("wb")
        processes.append(subprocess.Popen([sys.executable, "-m", "vaern", "-c", str(config), *args],
                                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    def jobs_done() -> int:
        with engine.connect() as conn:
            if conn.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar() is None:
                return -1
            return int(conn.execute(text(
                "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'")).scalar() or 0)

    try:
        start("run")
        while jobs_done() < 0:
            time.sleep(0.2)
        for w in range(workers):
            start("worker", "--concurrency", "1", "--name", f"w{w}")
        deadline = time.monotonic() + 900
        while jobs_done() < sites:
            if time.monotonic() > deadline:
                raise SystemExit(f"the crawls did not finish; logs in {folder}")
            time.sleep(0.2)
        with sessions() as session:
            runs = list(session.scalars(select(CrawlRunRow)))
        with engine.connect() as conn:
            events = conn.execute(text(
                "SELECT job_id, type::text, at FROM procrastinate_events WHERE type IN ('started', 'succeeded')"
            )).all()
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(60)
        engine.dispose()
    began = min(r.started_at for r in runs)
    ended = max(r.finished_at for r in runs if r.finished_at is not None)
    seconds = (ended - began).total_seconds()
    fetched = sum(r.pages_fetched for r in runs)
    at = {(job, kind): when.astimezone(UTC).replace(tzinfo=None) for job, kind, when in events}
    supervised = {}  # run id -> seconds the supervisor spent on it, from the workers' logs
    for log in folder.glob("*.log"):
        for match in re.finditer(r"event=crawl\.finished site=\S+ run=(\d+) status=\S+ seconds=([\d.]+)",
                                 log.read_text(encoding="utf-8", errors="replace")):
            supervised[int(match[1])] = float(match[2])
    overheads, gaps = [], []
    by_worker: dict[str, list[tuple[float, float]]] = {}
    for run in runs:
        assert run.job_id is not None and run.finished_at is not None
        job_start, job_end = at[(run.job_id, "started")], at[(run.job_id, "succeeded")]
        overheads.append((job_end - job_start).total_seconds() - supervised[run.id])
        by_worker.setdefault(run.worker or "", []).append((job_start.timestamp(), job_end.timestamp()))
    for spans in by_worker.values():
        spans.sort()
        gaps += [b[0] - a[1] for a, b in zip(spans, spans[1:], strict=False)]
    return {"pages": fetched, "seconds": seconds, "per_minute": fetched / seconds * 60,
            "overhead_ms": mean(overheads) * 1000, "gap_ms": mean(gaps) * 1000 if gaps else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sites", type=int, default=12)
    parser.add_argument("--pages", type=int, default=25)
    args = parser.parse_args()
    with throwaway_cluster() as server_url, SiteServer(record=False) as server:
        serve(server, args.sites, args.pages)
        results = {w: one_round(server_url, server, w, args.sites, args.pages, w) for w in (1, 2, 3)}
    base = results[1]["per_minute"]
    print(f"{args.sites} sites x {args.pages + 1} pages, {RESPONSE_DELAY * 1000:.0f} ms per response, "
          f"{os.cpu_count()} cores")
    print("workers  pages  seconds  pages/min  speed-up  queue overhead/job  gap between jobs")
    for w, r in results.items():
        print(f"{w:>7}  {r['pages']:>5.0f}  {r['seconds']:>7.1f}  {r['per_minute']:>9.0f}  "
              f"{r['per_minute'] / base:>7.2f}x  {r['overhead_ms']:>15.0f} ms  {r['gap_ms']:>13.0f} ms")
    print("targets: 3 workers >= 2.5x one worker; queue overhead < 50 ms per job")


if __name__ == "__main__":
    main()
