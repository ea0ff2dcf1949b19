"""`vaern run` with a site's feeds polled every 2 s: after the first full crawl and the feeds'
baseline, a new comment naming a watched person reaches the leader's inbox through a feed run
(not the full crawl, scheduled hours away), well within the feed interval + 60 s."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import yaml
from sqlalchemy import select

from vaern.config import load_config
from vaern.storage.db import make_engine, migrate, session_factory
from vaern.storage.tables import CrawlRunRow, HitRow
from vaern.testing.blog import FixtureBlog
from vaern.testing.siteserver import SiteServer
from vaern.testing.smtpsink import SmtpSink

INTERVAL = 2


def test_a_new_comment_reaches_the_leader_through_the_feeds(tmp_path: Path) -> None:
    with SiteServer() as server, SmtpSink() as sink:
        blog = FixtureBlog(server, [("skandalen", "Skandalen i kommunen", "Bo Blogger", "Sagerne hober sig op.")])
        path = tmp_path / "vaern.yaml"
        path.write_text(yaml.safe_dump({
            "organisation": "Testby Kommune", "database": "sqlite:///vaern.db", "archive": "archive",
            "smtp": {"host": sink.host, "port": sink.port, "sender": "Værn <vaern@testby.example>"},
            "network": {"allow_private_hosts": ["127.0.0.1"]},
            "units": [{"id": "boern", "name": "Børn og Familie",
                       "leader": {"name": "Lene Leder", "email": "lene@testby.example"}}],
            "people": [{"id": "rr", "name": "René Rosenkilde", "unit": "boern"}],
            "sites": [{"id": "blog", "start_urls": [blog.url("/")], "schedule": "6h", "delay": 0,
                       "autothrottle": False, "feeds": {"every": f"{INTERVAL}s"}}],
            "alerts": {"dispatch_every": "1s"}, "evidence": {"capture": False},
        }, allow_unicode=True), encoding="utf-8")
        config = load_config(path)
        engine = make_engine(config.database)
        migrate(engine)
        sessions = session_factory(engine)

        def finished(kind: str) -> list[CrawlRunRow]:
            with sessions() as s:
                return list(s.scalars(select(CrawlRunRow).where(CrawlRunRow.kind == kind,
                                                                CrawlRunRow.finished_at.is_not(None))))

        def wait(check: object, seconds: float, what: str) -> None:
            deadline = time.monotonic() + seconds
            while not check():  # type: ignore[operator]
                assert service.poll() is None, log.read_text()
                assert time.monotonic() < deadline, f"{what}\n{log.read_text()}"
                time.sleep(0.2)

        log = tmp_path / "run.log"
        with log.open("wb") as err:
            service = subprocess.Popen([sys.executable, "-m", "vaern", "-c", str(path), "run"], stderr=err,
                                       cwd=tmp_path)
        try:
            wait(lambda: finished("full"), 120, "the first full crawl")
            baseline = len(finished("feed"))
            wait(lambda: len(finished("feed")) > baseline, 60, "the feeds' baseline")
            published = time.monotonic()
            blog.add_comment("skandalen", "Vred Borger", "René Rosenkilde er en løgner og en klam idiot.")
            wait(lambda: sink.messages, INTERVAL + 60, "the leader's e-mail")
            latency = time.monotonic() - published
        finally:
            service.terminate()
            service.wait(60)
        (mail,) = sink.messages
        assert mail.message["To"] == "Lene Leder <lene@testby.example>"
        body = mail.message.get_body(("plain",))
        assert body is not None and "Forfatter: Vred Borger" in body.get_content()
        assert latency <= INTERVAL + 60
        with sessions() as s:
            hit = s.scalars(select(HitRow)).one()
            run = s.get(CrawlRunRow, hit.first_run_id)
            assert run is not None and run.kind == "feed"  # found by a feed run, not the full crawl
        assert len(finished("full")) == 1
        engine.dispose()
