"""The outbox: grouping per recipient and run, never the same hit twice, silences, reminders, digests."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.alerts.alert_factories import add_hit, add_run, later
from vaern.alerts.dispatch import enqueue, is_silenced, queue_digest, queue_reminders, silence
from vaern.alerts.report import alerts_json
from vaern.clock import clock_at
from vaern.config import Config
from vaern.storage.tables import AlertHitRow, AlertRow, SilenceRow


def _by_recipient(session: Session) -> dict[tuple[str, str], list[int]]:
    out: dict[tuple[str, str], list[int]] = {}
    for alert in session.scalars(select(AlertRow).order_by(AlertRow.id)):
        hits = list(session.scalars(select(AlertHitRow.hit_id).where(AlertHitRow.alert_id == alert.id)))
        out.setdefault((alert.recipient, alert.kind), []).extend(sorted(hits))
    return out


def test_one_alert_per_recipient_per_run_listing_that_recipients_hits(
    config: Config, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s, s.begin():
        run = add_run(s)
        rr = add_hit(s, config, "rr", run_id=run.id)
        sm = add_hit(s, config, "sm", run_id=run.id)
        kj = add_hit(s, config, "kj", run_id=run.id)
        # The pipeline queues page by page in the same run: later pages join the same e-mail.
        enqueue(s, config, [rr, kj], "new_hit", run.id)
        enqueue(s, config, [sm], "new_hit", run.id)
        got = _by_recipient(s)
    assert got == {
        ("lene.leder@kommune.example", "new_hit"): [rr.id, sm.id],
        ("amr@kommune.example", "new_hit"): [rr.id, sm.id],
        ("jens@kommune.example", "new_hit"): [kj.id],
    }


def test_the_same_hit_is_never_queued_twice_for_the_same_recipient_and_kind(
    config: Config, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s, s.begin():
        run1, run2 = add_run(s), add_run(s)
        rr = add_hit(s, config, "rr")
        enqueue(s, config, [rr], "new_hit", run1.id)
        enqueue(s, config, [rr], "new_hit", run1.id)
        enqueue(s, config, [rr], "new_hit", run2.id)
        enqueue(s, config, [rr], "removed", run2.id)
        enqueue(s, config, [rr], "removed", None)
        counts = dict(
            s.execute(
                select(AlertHitRow.kind, func.count())
                .where(AlertHitRow.recipient == "lene.leder@kommune.example")
                .group_by(AlertHitRow.kind)
            ).all()
        )
    assert counts == {"new_hit": 1, "removed": 1}


def test_a_page_that_changes_again_is_news_again_but_once_per_run(
    config: Config, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s, s.begin():
        run1, run2, run3 = add_run(s), add_run(s), add_run(s)
        rr = add_hit(s, config, "rr")
        enqueue(s, config, [rr], "new_hit", run1.id)
        enqueue(s, config, [rr], "update", run2.id)
        enqueue(s, config, [rr], "update", run2.id)
        enqueue(s, config, [rr], "update", run3.id)
        updates = s.scalar(
            select(func.count())
            .select_from(AlertHitRow)
            .where(AlertHitRow.kind == "update", AlertHitRow.recipient == "lene.leder@kommune.example")
        )
    assert updates == 2


def test_possible_hits_go_to_nobody_at_once_and_to_the_analysts_digest(
    config: Config, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s, s.begin():
        run = add_run(s)
        maybe = add_hit(s, config, "rr", confidence="possible")
        assert enqueue(s, config, [maybe], "new_hit", run.id) == []
        digest = queue_digest(s, config)
        again = queue_digest(s, config)
        got = _by_recipient(s)
    assert [a.kind for a in digest] == ["digest"]
    assert again == []
    assert got == {("analytiker@kommune.example", "digest"): [maybe.id]}


def test_someone_never_told_of_a_hit_gets_its_update_as_new_and_no_removal_notice(
    config: Config, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s, s.begin():
        run = add_run(s)
        rr = add_hit(s, config, "rr")
        # The hit was `possible` when found (analysts only); it is now `high`.
        enqueue(s, config, [rr], "update", run.id)
        other = add_hit(s, config, "sm")
        enqueue(s, config, [other], "removed", run.id)
        got = _by_recipient(s)
    assert got == {
        ("lene.leder@kommune.example", "new_hit"): [rr.id],
        ("amr@kommune.example", "new_hit"): [rr.id],
    }


def test_people_without_a_unit_go_to_the_fallback_address(
    config: Config, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s, s.begin():
        nn = add_hit(s, config, "nn")
        enqueue(s, config, [nn], "new_hit", None)
        assert _by_recipient(s) == {("central@kommune.example", "new_hit"): [nn.id]}


def test_a_silence_stops_alerts_for_that_person_and_url_and_keeps_who_and_why(
    config: Config, sessions: sessionmaker[Session]
) -> None:
    url = "https://hadeside.example/post/namesake"
    with sessions() as s, s.begin():
        run = add_run(s)
        first = add_hit(s, config, "rr", url=url)
        enqueue(s, config, [first], "new_hit", run.id)  # queued, not yet sent
        row = silence(s, "rr", url=url, by="analytiker", reason="en anden René Rosenkilde", hit_id=first.id)
        # A new hit on the same page for the same person, and one on another page.
        other_page = add_hit(s, config, "rr")
        enqueue(s, config, [first, other_page], "update", add_run(s).id)
        got = _by_recipient(s)
        stored = s.get(SilenceRow, row.id)
    assert stored is not None and (stored.created_by, stored.reason) == (
        "analytiker",
        "en anden René Rosenkilde",
    )
    # The queued alert lost the silenced hit (and, empty, was dropped); the other page still alerts.
    assert got == {
        ("lene.leder@kommune.example", "new_hit"): [other_page.id],
        ("amr@kommune.example", "new_hit"): [other_page.id],
    }


def test_a_site_wide_silence_covers_every_page_of_the_site_for_that_person_only(
    config: Config, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s, s.begin():
        silence(s, "rr", site_id="forum", by="analytiker", reason="navnebror på forummet")
        assert is_silenced(s, "rr", "https://forum.example/t/1", "forum")
        assert not is_silenced(s, "rr", "https://hadeside.example/1", "hadeside")
        assert not is_silenced(s, "sm", "https://forum.example/t/1", "forum")
        hits = [add_hit(s, config, "rr", site_id="forum"), add_hit(s, config, "sm", site_id="forum")]
        enqueue(s, config, hits, "new_hit", None)
        assert {k for k in _by_recipient(s)} == {
            ("lene.leder@kommune.example", "new_hit"),
            ("amr@kommune.example", "new_hit"),
        }
        assert all(v == [hits[1].id] for v in _by_recipient(s).values())


def test_a_silence_needs_a_target_and_a_reason(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        with pytest.raises(ValueError, match="URL or a site"):
            silence(s, "rr", by="x", reason="y")
        with pytest.raises(ValueError, match="who set it and why"):
            silence(s, "rr", url="https://x.example/", by="x", reason=" ")


def test_reminder_once_for_an_unhandled_high_hit_the_leader_was_told_about(
    config: Config, sessions: sessionmaker[Session]
) -> None:
    found = later(0)
    with sessions() as s, s.begin():
        handled = add_hit(s, config, "sm", first_seen=found)
        waiting = add_hit(s, config, "rr", first_seen=found)
        untold = add_hit(s, config, "kj", first_seen=found)
        for alert in enqueue(s, config, [handled, waiting], "new_hit", None):
            alert.status = "sent"
        handled.status = "confirmed"
        assert untold.id  # never told (no sent new_hit): no reminder either
        assert queue_reminders(s, config, now=found + timedelta(hours=23)) == []
        first = queue_reminders(s, config, now=found + timedelta(hours=25))
        second = queue_reminders(s, config, now=found + timedelta(hours=49))
        got = _by_recipient(s)
    assert [(a.recipient, a.kind) for a in first] == [("lene.leder@kommune.example", "reminder")]
    assert second == []
    assert got[("lene.leder@kommune.example", "reminder")] == [waiting.id]
    assert ("amr@kommune.example", "reminder") not in got  # the reminder is for the leader


def test_alerts_json_matches_the_contract(config: Config, sessions: sessionmaker[Session]) -> None:
    with sessions() as s, s.begin():
        kj = add_hit(s, config, "kj")
        [alert] = enqueue(s, config, [kj], "new_hit", None)
    with sessions() as s:
        entries = alerts_json(s)
    assert entries == [
        {
            "id": f"a-{alert.id:06d}",
            "to": "jens@kommune.example",
            "kind": "new_hit",
            "hits": [f"h-{kj.id:06d}"],
            "status": "queued",
            "attempts": 0,
            "created_at": entries[0]["created_at"],
            "sent_at": None,
            "last_error": None,
        }
    ]
    assert entries[0]["created_at"].endswith("Z")


def test_reminders_fall_due_by_the_clock(config: Config, sessions: sessionmaker[Session]) -> None:
    """`vaern run` asks for reminders without giving a time: the clock decides what is due."""
    found = later(0)
    with sessions() as s, s.begin():
        waiting = add_hit(s, config, "rr", first_seen=found)
        for alert in enqueue(s, config, [waiting], "new_hit", None):
            alert.status = "sent"
        with clock_at(found + timedelta(hours=1)):
            assert queue_reminders(s, config) == []
        with clock_at(found + timedelta(hours=25)):
            [reminder] = queue_reminders(s, config)
    assert (reminder.recipient, reminder.kind) == ("lene.leder@kommune.example", "reminder")
