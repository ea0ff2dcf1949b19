"""Alert delivery speed: Værn's outbox and dispatcher vs raw smtplib, same messages, same run.

1,000 new `high` hits across 50 units (four people each), queued the way the pipeline queues
them (one transaction per page, `dispatch.enqueue`), then delivered by `delivery.deliver` to a
local aiosmtpd sink. Two shapes:

- per run: 20 crawl runs, each naming one person per unit -> 1,000 e-mails (one per leader per run);
- one run: all 1,000 hits in one crawl run -> 50 e-mails listing 20 hits each.

The sink runs in a process of its own (as a mail server would) and keeps every message as an
.eml file. The baseline is raw `smtplib`: one connection, `sendmail` of exactly the bytes
Værn's e-mails had (read back from those files), to the same sink. Printed: e-mails per second for both, their ratio
(target >= 0.5), and the end-to-end seconds from the first hit written to the last e-mail
accepted by SMTP. `--screenshots` adds a full-page screenshot per page, so every e-mail carries
a thumbnail (Pillow work the baseline does not do).

    .venv/bin/python bench/alerts.py [--screenshots]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import smtplib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from sqlalchemy import select

from vaern.alerts.delivery import deliver
from vaern.alerts.dispatch import enqueue
from vaern.config import Config
from vaern.storage.db import make_engine, migrate, session_factory
from vaern.storage.tables import AlertRow, CrawlRunRow, HitRow, PageRow, SnapshotRow


@dataclass(frozen=True)
class Sink:
    host: str
    port: int
    eml_dir: Path

    def messages(self) -> list[bytes]:
        return [p.read_bytes() for p in sorted(self.eml_dir.glob("*.eml"))]


@contextlib.contextmanager
def sink_process(eml_dir: Path) -> Iterator[Sink]:
    """`python -m vaern.testing.smtpsink` in its own process."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "vaern.testing.smtpsink", "--eml-dir", str(eml_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        yield Sink("127.0.0.1", int(line.split()[1]), eml_dir)
    finally:
        proc.terminate()
        proc.wait(10)


UNITS = 50
PER_UNIT = 4
HITS = 1000


def make_config(root: Path, database: str, sink: Sink) -> Config:
    units = [
        {
            "id": f"u{u:02d}",
            "name": f"Enhed {u}",
            "leader": {"name": f"Leder {u}", "email": f"leder{u}@kommune.example"},
        }
        for u in range(UNITS)
    ]
    people = [
        {"id": f"p{u:02d}{i}", "name": f"Medarbejder Nummer{u:02d}{i}", "unit": f"u{u:02d}"}
        for u in range(UNITS)
        for i in range(PER_UNIT)
    ]
    config = Config.model_validate(
        {
            "organisation": "Bench Kommune",
            "database": database,
            "smtp": {"host": sink.host, "port": sink.port, "sender": "Værn <vaern@kommune.example>"},
            "units": units,
            "people": people,
            "sites": [{"id": "site", "name": "Hadeside", "start_urls": ["https://hadeside.example/"]}],
        }
    )
    return config.model_copy(update={"archive": root / "archive"})


def screenshot(root: Path) -> dict[str, Any]:
    """One tall PNG shared by every page (the thumbnail is made per e-mail, as in service)."""
    shot = Image.new("RGB", (1280, 6000), "white")
    draw = ImageDraw.Draw(shot)
    draw.rectangle((0, 0, 1280, 140), fill=(160, 20, 20))
    for y in range(200, 6000, 60):
        draw.rectangle((60, y, 1000, y + 30), fill=(90, 90, 90))
    path = root / "archive" / "blobs" / "shot.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    shot.save(path)
    return {"screenshot": {"path": "blobs/shot.png", "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}}


def queue(config: Config, sessions: Any, runs: int, files: dict[str, Any] | None) -> float:
    """Write the hits as the pipeline does (one page per transaction); return when the first was written."""
    people = [p.id for p in config.people]
    per_run = HITS // runs
    first = time.perf_counter()
    now = datetime.now(UTC).replace(tzinfo=None)
    n = 0
    for r in range(runs):
        with sessions() as s, s.begin():
            run = CrawlRunRow(site_id="site", started_at=now, status="running")
            s.add(run)
            s.flush()
            run_id = run.id
        for i in range(per_run):
            # Spread each run's hits over the units: hit i of the run names someone in unit i % 50.
            person = people[(i % UNITS) * PER_UNIT + (i // UNITS + r) % PER_UNIT]
            with sessions() as s, s.begin():
                page = PageRow(
                    site_id="site",
                    url=f"https://hadeside.example/post/{n}",
                    first_fetched_at=now,
                    last_fetched_at=now,
                    status="ok",
                    title=f"Indlæg {n}",
                )
                s.add(page)
                s.flush()
                if files is not None:
                    s.add(
                        SnapshotRow(
                            page_id=page.id,
                            captured_at=now,
                            manifest_path="m",
                            manifest_sha256="0" * 64,
                            files=files,
                        )
                    )
                name = config.person(person).name  # type: ignore[union-attr]
                hit = HitRow(
                    person_id=person,
                    unit_id=config.person(person).unit,  # type: ignore[union-attr]
                    page_id=page.id,
                    site_id="site",
                    url=page.url,
                    status="new",
                    confidence="high",
                    score=98.0,
                    variant="exact",
                    matched_text=[name],
                    why=[],
                    excerpt=f"… skrevet i går kl. 21:14: hvorfor får {name} lov at fjerne børn? …",
                    categories=["threat"] if n % 3 == 0 else ["insult"],
                    first_seen=now,
                    last_seen=now,
                    first_run_id=run_id,
                )
                s.add(hit)
                s.flush()
                enqueue(s, config, [hit], "new_hit", run_id)
            n += 1
        with sessions() as s, s.begin():
            s.get(CrawlRunRow, run_id).finished_at = now  # type: ignore[union-attr]
    return first


def raw_smtplib(sink: Sink, sender: str, messages: list[tuple[str, bytes]]) -> float:
    start = time.perf_counter()
    with smtplib.SMTP(sink.host, sink.port, timeout=30) as client:
        for recipient, data in messages:
            client.sendmail(sender, [recipient], data)
    return time.perf_counter() - start


def scenario(label: str, runs: int, screenshots: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with sink_process(root / "ours") as sink:
            url = f"sqlite:///{root / 'vaern.db'}"
            engine = make_engine(url)
            migrate(engine)
            sessions = session_factory(engine)
            config = make_config(root, url, sink)
            files = screenshot(root) if screenshots else None

            first = queue(config, sessions, runs, files)
            queued = time.perf_counter()
            report = deliver(config, sessions)
            took = time.perf_counter() - queued
            end_to_end = time.perf_counter() - first
            assert not report.retrying and not report.failed, report
            with sessions() as s:
                recipients = [a.recipient for a in s.scalars(select(AlertRow).order_by(AlertRow.id))]
            engine.dispose()
            time.sleep(0.5)  # the sink writes its last files
            ours_bytes = sink.messages()
        assert len(ours_bytes) == report.sent == len(recipients)
        with sink_process(root / "raw") as raw_sink:
            baseline = raw_smtplib(raw_sink, "vaern@kommune.example", list(zip(recipients, ours_bytes, strict=True)))
            time.sleep(0.5)
            assert len(raw_sink.messages()) == len(ours_bytes)

        n = len(ours_bytes)
        ours, raw = n / took, n / baseline
        size = sum(len(m) for m in ours_bytes) / n / 1024
        print(f"{label}: {HITS} hits, {UNITS} units -> {n} e-mails (avg {size:.1f} KiB)")
        print(f"  Værn deliver():  {took:7.2f} s  {ours:8.1f} e-mails/s   ({config.alerts.connections} connections)")
        print(f"  raw smtplib:     {baseline:7.2f} s  {raw:8.1f} e-mails/s   (same bytes, same kind of sink)")
        print(f"  ratio: {ours / raw:.2f} of raw smtplib (target >= 0.5); {HITS / took:.1f} hits delivered per second")
        print(
            f"  end to end: {end_to_end:.2f} s from the first hit written to the last e-mail accepted "
            f"(queueing {queued - first:.2f} s, delivery {took:.2f} s)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--screenshots", action="store_true", help="also run with a thumbnail in every e-mail")
    args = parser.parse_args()
    scenario("per run (20 runs x 50 units)", 20, screenshots=False)
    scenario("one run (1 run x 50 units)", 1, screenshots=False)
    if args.screenshots:
        scenario("per run, with thumbnails", 20, screenshots=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
