"""An alert says when the post's author has named the organisation's staff before, and how often,
counting only what the recipient may know of (their units); authors are per site unless an
analyst linked them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from tests.alerts.alert_factories import FOUND, add_hit, add_run
from vaern.alerts import deliver, enqueue
from vaern.config import Config
from vaern.storage.authors import link_authors
from vaern.testing.smtpsink import SmtpSink


def _bodies(sink: SmtpSink) -> dict[str, str]:
    out = {}
    for received in sink.messages:
        part = received.message.get_body(("plain",))
        assert part is not None
        out[str(received.message["To"]).split("<")[-1].rstrip(">")] = part.get_content()
    return out


def test_the_leader_is_told_how_often_the_author_named_their_staff_before(
    make_config: Callable[..., Config], sessions: sessionmaker[Session], sink: SmtpSink
) -> None:
    config = make_config()
    with sessions() as s, s.begin():
        run = add_run(s)
        # Earlier posts by "Vred Borger" on hadeside: two about Lene's unit (two people), one about Jens's.
        for person, days in (("rr", 9), ("sm", 5), ("kj", 3)):
            earlier = add_hit(s, config, person, first_seen=FOUND - timedelta(days=days))
            earlier.author = "Vred Borger"
        dismissed = add_hit(s, config, "rr", first_seen=FOUND - timedelta(days=2))
        dismissed.author, dismissed.status = "Vred Borger", "dismissed"  # not theirs: an analyst said so
        other_site = add_hit(s, config, "rr", site_id="forum", first_seen=FOUND - timedelta(days=1))
        other_site.author = "Vred Borger"  # the same name elsewhere is not the same author
        new_rr = add_hit(s, config, "rr", categories=["threat"])
        new_rr.author = "Vred Borger"
        new_kj = add_hit(s, config, "kj", categories=["threat"])
        new_kj.author = "Vred Borger"
        first_timer = add_hit(s, config, "sm", categories=["threat"])
        first_timer.author = "Ny Skribent"
        s.flush()
        enqueue(s, config, [new_rr, new_kj, first_timer], "new_hit", run.id)
    deliver(config, sessions)
    bodies = _bodies(sink)
    lene = bodies["lene.leder@kommune.example"]
    assert "Forfatter: Vred Borger" in lene
    # rr's hit: earlier hits in her unit are rr (9 days) and sm (5 days): two, about two people.
    assert "Vred Borger har nævnt organisationens ansatte 2 gange før, om 2 personer" in lene
    assert "Forfatter: Ny Skribent" in lene and "Ny Skribent har nævnt" not in lene
    jens = bodies["jens@kommune.example"]
    # kj's hit: Jens may only hear of his unit: the one earlier kj hit (3 days back).
    assert "Vred Borger har nævnt organisationens ansatte én gang før" in jens
    assert "2 gange" not in jens and "3 gange" not in jens


def test_an_analysts_link_makes_another_sites_author_the_same_person(
    make_config: Callable[..., Config], sessions: sessionmaker[Session], sink: SmtpSink
) -> None:
    config = make_config()
    with sessions() as s, s.begin():
        run = add_run(s)
        elsewhere = add_hit(s, config, "sm", site_id="forum", first_seen=FOUND - timedelta(days=4))
        elsewhere.author = "vredborger77"
        new = add_hit(s, config, "rr", categories=["threat"])
        new.author = "Vred Borger"
        s.flush()
        link_authors(s, ("hadeside", "Vred Borger"), ("forum", "vredborger77"), "analytiker", FOUND)
        enqueue(s, config, [new], "new_hit", run.id)
    deliver(config, sessions)
    lene = _bodies(sink)["lene.leder@kommune.example"]
    assert "Vred Borger har nævnt organisationens ansatte én gang før" in lene
