"""Builds a review-app world for the tests: a config, a database with hits and real archive files.

Two units (A: boern-familie, B: jobcenter), people in each, two sites, hits with snapshots whose
files are written to the archive with their real SHA-256, alerts, crawl runs and four accounts.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw
from sqlalchemy.orm import Session

from vaern import clock
from vaern.config import Config
from vaern.domain import Capture, CapturedFile
from vaern.review.auth import add_user
from vaern.storage.archive import record_snapshot, sha256_hex
from vaern.storage.db import make_engine, migrate, session_factory, transaction
from vaern.storage.stamping import archive_for
from vaern.storage.tables import AlertHitRow, AlertRow, CrawlRunRow, HitRow, PageRow, SnapshotRow

PASSWORD = "correct horse battery"
# The forum post about Karin Jensen gives its own date, four days back at 09:15 local time.
POSTED_LOCAL = (clock.now().astimezone(ZoneInfo("Europe/Copenhagen")) - timedelta(days=4)).replace(
    hour=9, minute=15, second=0, microsecond=0, tzinfo=None
)
MONTHS = ("januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september", "oktober",
          "november", "december")


def danish_date(moment: datetime) -> str:
    return f"{moment.day}. {MONTHS[moment.month - 1]} {moment.year} kl. {moment:%H:%M}"
XSS_TITLE = '<script>alert("title")</script>"><img src=x onerror=alert(1)>'
XSS_TEXT = 'Hej <script>alert("text")</script> "><img src=x onerror=alert(2)> René Rosenkilde er en skam'


def make_config(root: Path, language: str = "da", database: str | None = None, **extra: Any) -> Config:
    return Config.model_validate(
        {
            "organisation": "Eksempel Kommune",
            "language": language,
            "database": database or f"sqlite:///{root / 'vaern.db'}",
            "archive": str(root / "archive"),
            "units": [
                {"id": "boern-familie", "name": "Børn og Familie",
                 "leader": {"name": "Lene Leder", "email": "lene@kommune.example"}},
                {"id": "jobcenter", "name": "Jobcenter",
                 "leader": {"name": "Jens Jobleder", "email": "jens@kommune.example"}},
            ],
            "people": [
                {"id": "rr", "name": "René Rosenkilde", "unit": "boern-familie"},
                {"id": "sm", "name": "Søren Møller", "unit": "boern-familie"},
                {"id": "kj", "name": "Karin Jensen", "unit": "jobcenter"},
                {"id": "pl", "name": "Peter Lund", "unit": "jobcenter"},
            ],
            "sites": [
                {"id": "hadeside", "name": "Hadeside", "start_urls": ["http://127.0.0.1:9/"]},
                {"id": "forum", "name": "Byforum", "start_urls": ["http://127.0.0.1:9/forum"]},
            ],
            **extra,
        }
    )


def png(width: int, height: int, colour: str, label: str = "") -> bytes:
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 60), fill=colour)
    if label:
        draw.text((20, 80), label, fill="black")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def add_snapshot(
    db: Session, config: Config, page: PageRow, at: datetime, text: str, html: str, colour: str, reason: str = "hit"
) -> SnapshotRow:
    """A snapshot filed as the pipeline files one: the archive stores it (blobs, manifest, chain)."""
    started = at.replace(tzinfo=UTC)
    provenance = {
        "format": "vaern-provenance/1", "url": page.url, "final_url": page.url, "http_status": 200,
        "browser": {"version": "test", "user_agent": "test", "viewport": {"width": 1280, "height": 900}},
        "matches": [], "actions": [], "redirects": [], "limitations": [],
    }
    parts = {
        "screenshot": ("screenshot.png", "image/png", png(1280, 2400, colour, text[:40])),
        "html": ("page.html", "text/html", html.encode()),
        "text": ("text.txt", "text/plain", text.encode()),
        "warc": ("capture.warc.gz", "application/warc", b"WARC/1.1 placeholder record " + text.encode()),
        "provenance": ("provenance.json", "application/json", json.dumps(provenance).encode()),
    }
    capture = Capture(
        url=page.url, site_id=page.site_id, reason=reason, detected_at=started, started_at=started,
        finished_at=started + timedelta(seconds=2), final_url=page.url, status=200, title=page.title or "",
        files=tuple(CapturedFile(kind, name, media, data, sha256_hex(data))
                    for kind, (name, media, data) in parts.items()),
    )
    return record_snapshot(db, archive_for(config), capture, page.id)


@dataclass
class World:
    config: Config
    hits: dict[str, int]  # name -> hit id


def _now() -> datetime:
    return clock.utcnow().replace(microsecond=0)


def build_world(root: Path, language: str = "da", database: str | None = None, **extra: Any) -> World:
    """`extra`: more config, e.g. `evidence={"store": ...}` to keep the evidence in S3."""
    config = make_config(root, language, database, **extra)
    engine = make_engine(config.database)
    migrate(engine)
    factory = session_factory(engine)
    now = _now()
    hits: dict[str, int] = {}
    with transaction(factory) as db:
        def page(site: str, url: str, title: str) -> PageRow:
            row = PageRow(site_id=site, url=url, first_fetched_at=now, last_fetched_at=now, status="ok", title=title)
            db.add(row)
            db.flush()
            return row

        def hit(name: str, person: str, unit: str, pg: PageRow, matched: str, excerpt: str, cats: list[str],
                age_h: float, confidence: str = "high") -> HitRow:
            seen = now - timedelta(hours=age_h)
            row = HitRow(
                person_id=person, unit_id=unit, page_id=pg.id, site_id=pg.site_id, url=pg.url, status="new",
                confidence=confidence, score=97.5 if confidence == "high" else 80.0, variant="full_name",
                matched_text=[matched],
                why=[{"variant": "full_name", "compared": [matched, matched], "score": 97.5, "matched": matched}],
                excerpt=excerpt, categories=cats, first_seen=seen, last_seen=seen,
            )
            db.add(row)
            db.flush()
            hits[name] = row.id
            return row

        p1 = page("hadeside", "http://hadeside.test/post/1", "Skandale i Børn og Familie")
        h1 = hit("a_threat", "rr", "boern-familie", p1, "Rene Rosenkilde",
                 "… hvorfor får Rene Rosenkilde lov at fortsætte? Vi ved hvor han bor …", ["threat"], 5)
        add_snapshot(db, config, p1, h1.first_seen + timedelta(seconds=4),
                     "Skandale\nhvorfor får Rene Rosenkilde lov at fortsætte?\nVi ved hvor han bor\n",
                     "<html><body><h1>Skandale</h1><script>alert('archived')</script></body></html>", "#c0392b")
        add_snapshot(db, config, p1, h1.first_seen + timedelta(hours=3),
                     "Skandale\nhvorfor får Rene Rosenkilde lov at fortsætte?\nHan burde fyres i dag\n",
                     "<html><body><h1>Skandale (ændret)</h1></body></html>", "#8e44ad", reason="update")

        p2 = page("forum", "http://forum.test/thread/7", XSS_TITLE)
        h2 = hit("a_xss", "rr", "boern-familie", p2, "René Rosenkilde", XSS_TEXT, ["insult"], 30)
        add_snapshot(db, config, p2, h2.first_seen + timedelta(seconds=3), XSS_TEXT,
                     f"<html><head><title>{XSS_TITLE}</title></head><body>{XSS_TEXT}"
                     "<script>alert('archived')</script></body></html>", "#2c3e50")

        p3 = page("forum", "http://forum.test/thread/9", "Søren Møller og sagen")
        hit("a_possible", "sm", "boern-familie", p3, "S. Møller", "… sagsbehandler S. Møller svarede aldrig …",
            ["criticism"], 80, confidence="possible")

        p4 = page("hadeside", "http://hadeside.test/post/2", "Jobcenteret svigter")
        h4 = hit("b_secret", "kj", "jobcenter", p4, "Karin Jensen",
                 "… Karin Jensen bor på Hemmelig Allé 12 …", ["private_info"], 2)
        add_snapshot(db, config, p4, h4.first_seen + timedelta(seconds=5),
                     f"Opslået {danish_date(POSTED_LOCAL)}\nKarin Jensen bor på Hemmelig Allé 12",
                     "<html><body>Karin Jensen</body></html>", "#16a085")

        p5 = page("forum", "http://forum.test/thread/11", "Peter Lund")
        hit("b_other", "pl", "jobcenter", p5, "Peter Lund", "… Peter Lund er inkompetent …", ["insult"], 50)

        alert = AlertRow(recipient="lene@kommune.example", recipient_name="Lene Leder", kind="new_hit",
                         status="sent", attempts=1, created_at=now - timedelta(hours=4),
                         sent_at=now - timedelta(hours=4))
        db.add(alert)
        failed = AlertRow(recipient="jens@kommune.example", recipient_name="Jens Jobleder", kind="new_hit",
                          status="failed", attempts=8, created_at=now - timedelta(hours=2),
                          last_error="550 mailbox unavailable")
        db.add(failed)
        db.flush()
        db.add(AlertHitRow(alert_id=alert.id, hit_id=h1.id, recipient=alert.recipient, kind="new_hit"))
        db.add(AlertHitRow(alert_id=failed.id, hit_id=h4.id, recipient=failed.recipient, kind="new_hit"))
        db.add(CrawlRunRow(site_id="hadeside", started_at=now - timedelta(hours=1),
                           finished_at=now - timedelta(minutes=58), status="ok", pages_fetched=12, hits_new=2))
        db.add(CrawlRunRow(site_id="forum", started_at=now - timedelta(hours=1),
                           finished_at=now - timedelta(minutes=50), status="failed", pages_fetched=3,
                           pages_failed=2, error="connection refused"))

        add_user(db, config, "admin", "admin", [], PASSWORD)
        add_user(db, config, "analytiker", "analyst", [], PASSWORD)
        add_user(db, config, "lene", "leader", ["boern-familie"], PASSWORD)
        add_user(db, config, "jens", "leader", ["jobcenter"], PASSWORD)
    engine.dispose()
    return World(config, hits)
