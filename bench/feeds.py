"""Feeds for speed: how soon the leader hears of a new comment, and what polling feeds costs.

The fixture blog (vaern/testing/blog.py: 30 posts, each with two harmless comments, post and
comment feeds, a sitemap index) is watched by `vaern run` in a process of its own, with its
feeds polled every `--interval` seconds, evidence capture on (a real Chromium), and the alert
dispatcher looking every second. After the first full crawl and a feed run that takes the
feeds' entries as the baseline, `--comments` comments naming a watched person are published
one at a time; for each, the time from publishing to the leader's e-mail arriving at a local
aiosmtpd sink is measured. Printed: the interval, each latency and the median, against the
target (median <= interval + 60 s).

Then the cost: requests per hour to the blog. Measured here: the requests of one idle feed
poll (every feed answering 304; sitemaps are polled only every 30 min) and of one full crawl
of the unchanged blog (conditional GETs). Compared: the site crawled fully every 15 min (4 full
crawls an hour) against the site with feeds at the default interval (2 min: 30 polls an hour),
its sitemaps every 30 min, and a full crawl every 6 h as backstop.

    .venv/bin/python bench/feeds.py [--interval 5] [--comments 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from sqlalchemy import select

from vaern.config import load_config
from vaern.storage.db import make_engine, migrate, session_factory
from vaern.storage.feeds import SITEMAP_EVERY, SITEMAPS
from vaern.storage.tables import CrawlRunRow, FeedRow
from vaern.testing.blog import FixtureBlog
from vaern.testing.siteserver import SiteServer
from vaern.testing.smtpsink import SmtpSink

POSTS = [(f"indlaeg-{n}", f"Indlæg nummer {n} om kommunen", "Bo Blogger",
          f"Indlæg {n}: borgerne skriver om sagsbehandlingen og ventetiderne i kommunen.") for n in range(1, 31)]
HARSH = "René Rosenkilde er en løgner og en klam idiot, kommentar {n}."


def _config(root: Path, blog: FixtureBlog, sink: SmtpSink, interval: int) -> Path:
    path = root / "vaern.yaml"
    path.write_text(yaml.safe_dump({
        "organisation": "Testby Kommune",
        "database": "sqlite:///vaern.db",
        "archive": "archive",
        "smtp": {"host": sink.host, "port": sink.port, "sender": "Værn <vaern@testby.example>"},
        "network": {"allow_private_hosts": ["127.0.0.1"]},
        "units": [{"id": "boern", "name": "Børn og Familie",
                   "leader": {"name": "Lene Leder", "email": "lene@testby.example"}}],
        "people": [{"id": "rr", "name": "René Rosenkilde", "unit": "boern"}],
        "sites": [{"id": "blog", "start_urls": [blog.url("/")], "schedule": "6h", "delay": 0,
                   "autothrottle": False, "feeds": {"every": f"{interval}s"}}],
        "alerts": {"dispatch_every": "1s"},
    }, allow_unicode=True), encoding="utf-8")
    return path


def _runs(sessions, kind: str) -> list[CrawlRunRow]:  # type: ignore[no-untyped-def]
    with sessions() as s:
        return list(s.scalars(select(CrawlRunRow).where(CrawlRunRow.kind == kind, CrawlRunRow.finished_at.is_not(None))
                              .order_by(CrawlRunRow.id)))


def _wait(check, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--interval", type=int, default=5, help="feed poll interval in seconds")
    parser.add_argument("--comments", type=int, default=5, help="comments to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, SiteServer() as server, SmtpSink() as sink:
        root = Path(tmp)
        blog = FixtureBlog(server, POSTS)
        for slug, *_ in POSTS:
            blog.add_comment(slug, "Stille Sofie", "Jeg venter også stadig på svar.")
            blog.add_comment(slug, "Glad Gert", "Tak for et godt indlæg.")
        path = _config(root, blog, sink, args.interval)
        config = load_config(path)
        engine = make_engine(config.database)
        migrate(engine)
        sessions = session_factory(engine)
        log = root / "run.log"
        with log.open("wb") as err:
            service = subprocess.Popen([sys.executable, "-m", "vaern", "-c", str(path), "run"], stderr=err, cwd=root)
        try:
            _wait(lambda: len(_runs(sessions, "full")) >= 1, 300, "the first full crawl")
            full_requests = len(server.requests)
            done = len(_runs(sessions, "feed"))
            _wait(lambda: len(_runs(sessions, "feed")) >= done + 1, 120, "the baseline feed run")
            # An idle poll: every feed answers 304.
            done = len(_runs(sessions, "feed"))
            _wait(lambda: len(_runs(sessions, "feed")) >= done + 1, 120, "a feed run")
            server.clear()
            done = len(_runs(sessions, "feed"))
            _wait(lambda: len(_runs(sessions, "feed")) >= done + 2, 120, "two idle feed runs")
            idle = _runs(sessions, "feed")[-2:]
            idle_requests = len(server.requests) / 2
            idle_notes = idle[-1].notes
            with sessions() as s:
                sitemaps = len(s.scalars(select(FeedRow).where(FeedRow.kind.in_(SITEMAPS))).all())

            latencies = []
            for n in range(1, args.comments + 1):
                before = len(sink.messages)
                text = HARSH.format(n=n)
                slug = POSTS[(n * 7) % len(POSTS)][0]
                published = time.monotonic()
                blog.add_comment(slug, f"Vred Borger {n}", text)
                _wait(lambda n=n, before=before: any(f"Vred Borger {n}" in _text(m.message)  # type: ignore[misc]
                                                     for m in sink.messages[before:]),
                      args.interval + 180, f"the e-mail of comment {n}")
                latencies.append(time.monotonic() - published)
                print(f"comment {n}: e-mail after {latencies[-1]:.1f} s")
                time.sleep(1)
        finally:
            service.terminate()
            try:
                service.wait(60)
            except subprocess.TimeoutExpired:
                service.kill()
            engine.dispose()

        # A full crawl of the unchanged blog, as a 15-minute schedule would make it: conditional GETs.
        server.clear()
        subprocess.run([sys.executable, "-m", "vaern", "-c", str(path), "crawl", "--no-alerts"], cwd=root,
                       capture_output=True, check=True, timeout=600)
        recrawl_requests = len(server.requests)

    median = statistics.median(latencies)
    print()
    print(f"feed interval: {args.interval} s; e-mail latency over {len(latencies)} comments: "
          f"median {median:.1f} s (min {min(latencies):.1f}, max {max(latencies):.1f}); "
          f"target median <= interval + 60 s = {args.interval + 60} s: "
          f"{'met' if median <= args.interval + 60 else 'NOT met'}")
    print(f"first full crawl: {full_requests} requests; "
          f"a full crawl of the unchanged blog: {recrawl_requests} requests")
    print(f"an idle feed poll: {idle_requests:.0f} requests ({idle_notes})")
    full_hour = 4 * recrawl_requests
    sitemap_hour = sitemaps * 3600 / SITEMAP_EVERY.total_seconds()
    feeds_hour = 30 * idle_requests + sitemap_hour + recrawl_requests / 6
    print(f"requests per hour, crawled fully every 15 min: {full_hour:.0f} (4 x {recrawl_requests})")
    print(f"requests per hour, feeds every 2 min + sitemaps every {SITEMAP_EVERY} + a full crawl every 6 h: "
          f"{feeds_hour:.0f} (30 x {idle_requests:.0f} + {sitemap_hour:.0f} + {recrawl_requests} / 6): "
          f"{100 * (1 - feeds_hour / full_hour):.0f}% fewer, and a new post or comment is read within 2 min "
          "instead of up to 15")
    return 0


def _text(message) -> str:  # type: ignore[no-untyped-def]
    part = message.get_body(("plain",))
    return part.get_content() if part is not None else ""


if __name__ == "__main__":
    sys.exit(main())
