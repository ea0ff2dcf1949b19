"""Review app render times with 10,000 hits: the list (unfiltered, filtered, searched, as a leader)
and the detail page, each over 200 requests to the app served by uvicorn on 127.0.0.1, on SQLite
or (`--postgres`) on a throwaway PostgreSQL cluster.

Prints the median and 95th percentile per page next to the baseline measured in the same run: the
same server answering /healthz (HTTP, routing and the session check, no page). Target: p95 < 300 ms.

    .venv/bin/python bench/review.py [--hits 10000] [--requests 200] [--postgres]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import random
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn
from PIL import Image
from sqlalchemy import insert

from vaern.config import Config
from vaern.review.auth import add_user
from vaern.review.webapp import create_app
from vaern.storage.db import make_engine, migrate, session_factory, transaction
from vaern.storage.tables import HitRow, PageRow, SnapshotRow
from vaern.testing.postgres import create_database, throwaway_cluster

PASSWORD = "bench password 1"
CATEGORIES = ["threat", "private_info", "insult", "accusation", "criticism"]
FIRST = ["Anne", "Bo", "Camilla", "Dorte", "Erik", "Frederik", "Gitte", "Hans", "Ida", "Jens", "Karen", "Lars"]
LAST = ["Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen", "Rasmussen"]


def make_config(root: Path, people: int, units: int, sites: int, database: str = "") -> Config:
    rng = random.Random(1)
    return Config.model_validate({
        "organisation": "Benchmark Kommune",
        "database": database or f"sqlite:///{root / 'vaern.db'}",
        "archive": str(root / "archive"),
        "units": [{"id": f"u{i}", "name": f"Enhed {i}", "leader": {"name": f"Leder {i}", "email": f"l{i}@k.example"}}
                  for i in range(units)],
        "people": [{"id": f"p{i}", "name": f"{rng.choice(FIRST)} {rng.choice(LAST)} {i}", "unit": f"u{i % units}"}
                   for i in range(people)],
        "sites": [{"id": f"site{i}", "name": f"Site {i}", "start_urls": [f"http://127.0.0.1:9/s{i}/"]}
                  for i in range(sites)],
    })


def _file(archive: Path, rel: str, data: bytes) -> dict[str, str]:
    path = archive / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"path": rel, "sha256": hashlib.sha256(data).hexdigest()}


def screenshot(seed: int) -> bytes:
    """A full-page PNG of a realistic size (about 1-2 MB, 1280 x 4000 px)."""
    rng = random.Random(seed)
    image = Image.new("RGB", (1280, 4000), "white")
    pixels = image.load()
    for y in range(0, 4000, 3):
        for x in range(0, 1280, 7):
            if rng.random() < 0.3:
                pixels[x, y] = (rng.randrange(256), 40, 90)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def seed(config: Config, hits: int, detailed: int) -> list[int]:
    """Bulk-insert `hits` hits (one page each); the first `detailed` get two snapshots with files."""
    engine = make_engine(config.database)
    migrate(engine)
    rng = random.Random(2)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    people = config.people
    with engine.begin() as conn:
        conn.execute(insert(PageRow), [
            {"id": i + 1, "site_id": f"site{i % len(config.sites)}", "url": f"http://forum.example/t/{i}",
             "first_fetched_at": now, "last_fetched_at": now, "status": "ok", "title": f"Tråd {i} om kommunen"}
            for i in range(hits)
        ])
        rows = []
        for i in range(hits):
            person = people[rng.randrange(len(people))]
            seen = now - timedelta(minutes=rng.randrange(60 * 24 * 120))
            name = person.name
            rows.append({
                "id": i + 1, "person_id": person.id, "unit_id": person.unit, "page_id": i + 1,
                "site_id": f"site{i % len(config.sites)}", "url": f"http://forum.example/t/{i}",
                "status": rng.choice(["new", "new", "new", "confirmed", "dismissed", "removed"]),
                "confidence": rng.choice(["high", "possible"]), "score": 80 + rng.random() * 20,
                "variant": "full_name", "matched_text": [name],
                "why": [{"variant": "full_name", "compared": [name, name], "score": 97.0}],
                "excerpt": f"… hvorfor får {name} lov at fortsætte? Det er en skandale for kommunen …",
                "categories": rng.sample(CATEGORIES, rng.randrange(3)),
                "first_seen": seen, "last_seen": seen,
            })
        conn.execute(insert(HitRow), rows)
    factory = session_factory(engine)
    with transaction(factory) as db:
        for i in range(detailed):
            for version in range(2):
                snap = SnapshotRow(page_id=i + 1, captured_at=now - timedelta(hours=2 - version), reason="hit",
                                   manifest_path="", manifest_sha256="", files={})
                db.add(snap)
                db.flush()
                base = f"snapshots/s-{snap.id:06d}"
                text = "\n".join(f"Linje {n}: {rows[i]['excerpt']}" for n in range(200 + version * 5))
                files = {
                    "screenshot": _file(config.archive, f"{base}/screenshot.png", screenshot(i * 2 + version)),
                    "html": _file(config.archive, f"{base}/page.html",
                                  f"<html><body><pre>{text}</pre></body></html>".encode()),
                    "text": _file(config.archive, f"{base}/text.txt", text.encode()),
                    "warc": _file(config.archive, f"{base}/capture.warc.gz", os.urandom(300_000)),
                }
                manifest = _file(config.archive, f"{base}/manifest.json", repr(files).encode())
                snap.files, snap.manifest_path, snap.manifest_sha256 = files, manifest["path"], manifest["sha256"]
        add_user(db, config, "analyst", "analyst", [], PASSWORD)
        add_user(db, config, "leader", "leader", ["u3"], PASSWORD)
    engine.dispose()
    return list(range(1, detailed + 1))


class Server:
    def __init__(self, config: Config) -> None:
        self.server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=0,
                                                    log_level="warning", ws="none", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@contextmanager
def database(postgres: bool) -> Iterator[str]:
    """'' for SQLite in the temp dir, or a fresh database on a throwaway PostgreSQL cluster."""
    if not postgres:
        yield ""
        return
    with throwaway_cluster() as server:
        yield create_database(server, "bench_review")


def sign_in(base: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    form = client.get("/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf": token})
    return client


def measure(client: httpx.Client, paths: list[str], n: int) -> tuple[float, float]:
    for path in paths[:3]:
        client.get(path)  # warm: templates compiled, caches filled
    times = []
    for i in range(n):
        start = time.perf_counter()
        response = client.get(paths[i % len(paths)])
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (paths[i % len(paths)], response.status_code)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hits", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL cluster, not SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vaern-bench-review-") as tmp, database(args.postgres) as url:
        config = make_config(Path(tmp), people=2000, units=20, sites=12, database=url)
        started = time.perf_counter()
        detailed = seed(config, args.hits, detailed=20)
        took = time.perf_counter() - started
        engine = "PostgreSQL" if args.postgres else "SQLite"
        print(f"seeded {args.hits:,} hits ({len(detailed)} with 2 snapshots each) on {engine} in {took:.1f} s")
        with Server(config) as base:
            analyst = sign_in(base, "analyst")
            leader = sign_in(base, "leader")
            cases = [
                ("baseline: /healthz", analyst, ["/healthz"]),
                ("list, unfiltered", analyst, ["/hits", "/hits?page=2", "/hits?page=50"]),
                ("list, filtered", analyst, ["/hits?status=new&unit=u3", "/hits?site=site4&category=threat",
                                             "/hits?confidence=possible&since=2026-01-01"]),
                ("list, searched", analyst,
                 ["/hits?q=s%C3%B8rensen", "/hits?q=skandale", "/hits?q=forum.example/t/99"]),
                ("list, as a leader", leader, ["/hits", "/hits?q=jensen"]),
                ("detail (2 snapshots, hashes re-checked)", analyst, [f"/hits/h-{i:06d}" for i in detailed]),
            ]
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"machine: {os.cpu_count()} cores, load average {load} (other work slows the wall times)")
            print(f"\n{'page':<42} {'median ms':>10} {'p95 ms':>8}   "
                  f"({args.requests} requests each; target p95 < 300 ms)")
            for name, client, paths in cases:
                median, p95 = measure(client, paths, args.requests)
                print(f"{name:<42} {median:>10.1f} {p95:>8.1f}")
            analyst.close()
            leader.close()


if __name__ == "__main__":
    main()
