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

Then, in the same process, evidence write throughput side by side: the same synthetic snapshots
(a screenshot, the HTML, the text and a WARC of incompressible bytes, new for every snapshot) stored
by the archive in the local directory, in the S3 stand-in (moto's server on 127.0.0.1), and in the
S3 stand-in with the chain lock in PostgreSQL, as workers on many machines store them. Printed:
snapshots per second, MB per second, milliseconds per snapshot. The stand-in is a Python server
on the same two cores; a real MinIO on its own machine answers faster, over a real network slower.

    .venv/bin/python bench/scale.py [--sites 12] [--pages 25] [--snapshots 40] [--evidence-only]
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

from vaern.domain import Capture, CapturedFile
from vaern.storage.archive import Archive, sha256_hex
from vaern.storage.blobstore import FolderStore, S3Store
from vaern.storage.chainlock import PostgresChainLock
from vaern.storage.db import make_engine, session_factory
from vaern.storage.tables import CrawlRunRow
from vaern.testing.postgres import create_database, throwaway_cluster
from vaern.testing.s3 import ACCESS_KEY, SECRET_KEY, s3_stand_in
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


SNAPSHOT_FILES = (("screenshot", "screenshot.png", "image/png", 900_000), ("html", "page.html", "text/html", 120_000),
                  ("text", "text.txt", "text/plain", 8_000), ("warc", "capture.warc.gz", "application/warc", 400_000))


def synthetic_captures(count: int) -> list[Capture]:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    captures = []
    for n in range(count):
        files = []
        for kind, name, media, size in SNAPSHOT_FILES:
            data = os.urandom(size)  # new bytes each time: no snapshot shares a blob with another
            files.append(CapturedFile(kind, name, media, data, sha256_hex(data)))
        captures.append(Capture(url=f"http://127.0.0.1:9/post/{n}", site_id="bench", reason="hit", detected_at=now,
                                started_at=now, finished_at=now + timedelta(seconds=1), final_url=None, status=200,
                                title="Bench", files=tuple(files)))
    return captures


def evidence_writes(server_url: str, count: int) -> list[tuple[str, float, float]]:
    """(store, seconds, megabytes) for storing `count` snapshots in each store."""
    captures = synthetic_captures(count)
    megabytes = sum(len(f.data) for c in captures for f in c.files) / 1e6
    database = create_database(server_url, f"evidence_{os.getpid()}")
    results = []
    with s3_stand_in("bench-evidence") as s3:
        def s3_store(prefix: str) -> S3Store:
            return S3Store(bucket=s3.bucket, prefix=prefix, endpoint_url=s3.endpoint_url,
                           access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY)

        locked = s3_store("locked")
        archives = [
            ("local directory", Archive(FolderStore(Path(tempfile.mkdtemp(prefix="vaern-evidence-"))))),
            ("S3 stand-in", Archive(s3_store("plain"))),
            ("S3 stand-in, PostgreSQL chain lock",
             Archive(locked, chain_lock=PostgresChainLock(database, locked.where))),
        ]
        for name, archive in archives:
            archive.store(synthetic_captures(1)[0], 999_999)  # connections opened, not timed
            began = time.perf_counter()
            for n, capture in enumerate(captures, 1):
                archive.store(capture, n)
            results.append((name, time.perf_counter() - began, megabytes))
            assert archive.verify() == [], name
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sites", type=int, default=12)
    parser.add_argument("--pages", type=int, default=25)
    parser.add_argument("--snapshots", type=int, default=40)
    parser.add_argument("--evidence-only", action="store_true", help="only the evidence write throughput")
    args = parser.parse_args()
    with throwaway_cluster() as server_url, SiteServer(record=False) as server:
        writes = evidence_writes(server_url, args.snapshots)
        serve(server, args.sites, args.pages)
        results = {} if args.evidence_only else {
            w: one_round(server_url, server, w, args.sites, args.pages, w) for w in (1, 2, 3)}
    size = sum(size for *_, size in SNAPSHOT_FILES) / 1e6
    print(f"evidence writes: {args.snapshots} snapshots of {size:.1f} MB (4 files each), {os.cpu_count()} cores")
    print("store                                snapshots/s    MB/s  ms/snapshot")
    for name, seconds, megabytes in writes:
        print(f"{name:<36} {args.snapshots / seconds:>12.1f}  {megabytes / seconds:>6.1f}  "
              f"{seconds / args.snapshots * 1000:>11.0f}")
    if not results:
        return
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
