"""What the database records about the evidence, checked as verify and the review app check it:
the file map against the manifests, the owed timestamps as a retry queue that people can see."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import select

from tests.review.conftest import LiveServer, sign_in
from vaern import clock
from vaern.app import open_services
from vaern.cli import main
from vaern.config import Config
from vaern.review.auth import add_account
from vaern.review.webapp import create_app
from vaern.storage.archive import record_snapshot
from vaern.storage.db import transaction
from vaern.storage.queries import hit_json
from vaern.storage.stamping import archive_for, retry_pending
from vaern.storage.tables import HitRow, PageRow, SnapshotRow, TimestampRow
from vaern.testing.smtpsink import SmtpSink
from vaern.testing.tsa import LocalTsa

from .conftest import make_capture

PASSWORD = "correct horse battery staple"


def _seed(config: Config, snapshots: int = 2) -> int:
    """A hit with `snapshots` snapshots filed as the pipeline files them; returns the hit's id."""
    services = open_services(config)
    archive = archive_for(config)
    now = clock.utcnow()
    with transaction(services.sessions) as session:
        page = PageRow(site_id="testsite", url="http://127.0.0.1:1/post/1", first_fetched_at=now, last_fetched_at=now)
        session.add(page)
        session.flush()
        hit = HitRow(person_id="rr", unit_id="boern", page_id=page.id, site_id="testsite", url=page.url,
                     confidence="high", score=97.5, variant="exact", matched_text=["René Rosenkilde"],
                     excerpt="René Rosenkilde", categories=[], first_seen=now, last_seen=now)
        session.add(hit)
        session.flush()
        for n in range(snapshots):
            record_snapshot(session, archive, make_capture(screenshot=b"\x89PNG shot %d" % n), page.id)
        return hit.id


def test_the_file_map_is_verified_and_the_apps_badge_follows_it(make_config: Callable[..., Config]) -> None:
    config = make_config()
    hit_id = _seed(config)
    runner = CliRunner()
    assert runner.invoke(main, ["-c", str(config.source), "verify"]).exit_code == 0
    add_account(config, "anna", "admin", [], PASSWORD)

    def badges() -> list[str]:
        with LiveServer(create_app(config)) as live:
            page = sign_in(live.url, "anna", PASSWORD).get(f"/hits/h-{hit_id:06d}").text
        return [part.split('"')[0] for part in page.split('data-verified="')[1:]]

    assert badges() == ["yes", "yes"]
    # An insider edits the database so that s-000001 shows s-000002's screenshot.
    services = open_services(config)
    with transaction(services.sessions) as session:
        one, two = session.get(SnapshotRow, 1), session.get(SnapshotRow, 2)
        assert one is not None and two is not None
        one.files = {**one.files, "screenshot": two.files["screenshot"]}
    bad = runner.invoke(main, ["-c", str(config.source), "verify"])
    assert bad.exit_code == 1
    assert (f"snapshots/s-000001/manifest.json: the database points its screenshot at "
            f"{two.files['screenshot']['path']}") in bad.output
    assert "1 problem(s)" in bad.output
    assert badges() == ["yes", "no"]  # newest first: s-000002 still holds, s-000001 gets no badge
    with LiveServer(create_app(config)) as live:
        page = sign_in(live.url, "anna", PASSWORD).get(f"/hits/h-{hit_id:06d}").text
    assert "✓ verificeret" in page and page.count("✓ verificeret") == 1
    assert "not the file the manifest names" in page


def test_a_down_tsa_is_queued_retried_shown_and_made_good(make_config: Callable[..., Config],
                                                          flaky_tsa: LocalTsa) -> None:
    start = datetime.now(UTC).replace(microsecond=0)
    clock.set_clock(start)
    try:
        config = make_config(evidence={"tsa_urls": [flaky_tsa.url], "tsa_ca_files": [str(flaky_tsa.ca_file)],
                                       "tsa_timeout": 2})
        flaky_tsa.down = True
        hit_id = _seed(config, snapshots=1)
        services = open_services(config)
        runner = CliRunner()
        with services.sessions() as session:
            [row] = session.scalars(select(TimestampRow)).all()
            assert (row.status, row.subject, row.snapshot_id, row.attempts) == ("pending", "manifest", 1, 1)
            assert "503" in (row.last_error or "")
            hit = session.get(HitRow, hit_id)
            assert hit is not None
            [snap] = hit_json(session, hit)["snapshots"]
        assert snap["timestamp_pending"] is True and snap["timestamps"][0]["status"] == "pending"
        status = runner.invoke(main, ["-c", str(config.source), "status"])
        assert "Timestamps: 1 owed since" in status.output and "503" in status.output
        as_json = json.loads(runner.invoke(main, ["-c", str(config.source), "status", "--json"]).output)
        assert as_json["timestamps"]["pending"] == 1
        hits = json.loads(runner.invoke(main, ["-c", str(config.source), "hits", "--json"]).output)
        assert hits[0]["snapshots"][0]["timestamp_pending"] is True

        # Not due yet: nothing asked. Due and still down: asked, and the wait doubles.
        with services.sessions() as session:
            assert retry_pending(config, session).obtained == 0
            [row] = session.scalars(select(TimestampRow)).all()
            assert row.attempts == 1  # not asked again before its time
        clock.set_clock(start + timedelta(minutes=2))
        with services.sessions() as session:
            result = retry_pending(config, session)
            assert (result.obtained, result.still_pending) == (0, 1)
            [row] = session.scalars(select(TimestampRow)).all()
            assert row.attempts == 2 and row.next_attempt_at is not None
            assert row.next_attempt_at - clock.utcnow() > timedelta(seconds=110)
        add_account(config, "anna", "admin", [], PASSWORD)
        with LiveServer(create_app(config)) as live:
            page = sign_in(live.url, "anna", PASSWORD).get(f"/hits/h-{hit_id:06d}").text
        assert 'data-timestamp="pending"' in page and "tidsstempel afventer" in page

        # Back up: the token is obtained, written, recorded, and the next manifest names it.
        flaky_tsa.down = False
        clock.set_clock(start + timedelta(minutes=7))
        with services.sessions() as session:
            assert retry_pending(config, session).obtained == 1
            [row] = session.scalars(select(TimestampRow)).all()
            assert row.status == "ok" and row.token_path and (config.archive / row.token_path).exists()
            token_path = row.token_path
        archive = archive_for(config)
        later = archive.store(make_capture(html=b"<p>later</p>"), 2)
        assert token_path in [t["path"] for t in archive.manifest(later.manifest_path)["tokens"]["entries"]]
        ok = runner.invoke(main, ["-c", str(config.source), "verify"])
        assert ok.exit_code == 0, ok.output
        assert "timestamps: 2 anchored to a configured root, 0 not anchored" in ok.output
        assert "tokens from" not in ok.output
        status = runner.invoke(main, ["-c", str(config.source), "status"])
        assert "Timestamps: none owed" in status.output
    finally:
        clock.set_clock(None)


def test_crawl_says_when_a_tsa_did_not_answer(make_config: Callable[..., Config], flaky_tsa: LocalTsa) -> None:
    from vaern.storage.stamping import after_crawl

    config = make_config(evidence={"tsa_urls": [flaky_tsa.url], "tsa_timeout": 2})
    flaky_tsa.down = True
    _seed(config, snapshots=1)
    with open_services(config).sessions() as session:
        [line] = after_crawl(config, session)
    assert line.startswith("2 trusted timestamp(s) owed since") and "503" in line  # the manifest and the head


def test_admins_are_told_once_when_no_tsa_answers_for_hours(make_config: Callable[..., Config],
                                                           flaky_tsa: LocalTsa) -> None:
    from vaern.alerts.tsanotice import notify_tsa_silence

    start = datetime.now(UTC).replace(microsecond=0)
    with SmtpSink() as sink, clock.clock_at(start):
        config = make_config(
            smtp={"host": sink.host, "port": sink.port, "sender": "Værn <vaern@testby.example>"},
            alerts={"fallback": "it@testby.example"},
            evidence={"tsa_urls": [flaky_tsa.url], "tsa_timeout": 2, "tsa_alert_after": "6h"},
        )
        flaky_tsa.down = True
        _seed(config, snapshots=1)
        services = open_services(config)
        with services.sessions() as session:
            assert notify_tsa_silence(config, session) is False  # not silent long enough yet
        clock.set_clock(start + timedelta(hours=6, minutes=1))
        with services.sessions() as session:
            assert notify_tsa_silence(config, session) is True
            assert notify_tsa_silence(config, session) is False  # once per outage
        [message] = sink.wait_for(1)
        assert message.rcpt_tos == ("it@testby.example",)
        assert "no timestamp authority has answered for 6.0 hours" in str(message.message["Subject"])
        assert flaky_tsa.url in message.message.get_content()
