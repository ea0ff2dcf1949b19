"""Routing: who hears about whom. The property test generates organisations with shared and
overlapping addresses and checks every e-mail of every kind: a recipient only ever hears about
people in the units they lead or are notified for (the fallback address: people without a unit;
analysts: the digest)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import StaticPool

from tests.alerts.alert_factories import add_hit, add_run
from vaern.alerts.compose import Composer, load_evidence
from vaern.alerts.dispatch import enqueue, hits_of, queue_digest, queue_reminders
from vaern.alerts.routing import recipients
from vaern.config import Config
from vaern.storage.tables import AlertRow, Base

POOL = [
    "a@kommune.example",
    "b@kommune.example",
    "c@kommune.example",
    "D@kommune.example",
    "d@kommune.example",
]
NAMES = [
    "Anna Aastrup",
    "Bent Bøgh",
    "Carla Crone",
    "Dennis Dyhr",
    "Eva Enevoldsen",
    "Frode Fjord",
    "Gitte Grøn",
    "Hans Hviid",
]


@st.composite
def organisations(draw: st.DrawFn) -> dict[str, Any]:
    n_units = draw(st.integers(1, 4))
    units = [
        {
            "id": f"u{i}",
            "name": f"Enhed {i}",
            "leader": {"name": f"Leder {i}", "email": draw(st.sampled_from(POOL))},
            "notify": [{"name": "N", "email": e} for e in draw(st.lists(st.sampled_from(POOL), max_size=2))],
        }
        for i in range(n_units)
    ]
    n_people = draw(st.integers(1, len(NAMES)))
    people = [
        {"id": f"p{i}", "name": NAMES[i], "unit": draw(st.sampled_from([None, *[u["id"] for u in units]]))}
        for i in range(n_people)
    ]
    return {
        "organisation": "Prøve Kommune",
        "units": units,
        "people": [{k: v for k, v in p.items() if v is not None} for p in people],
        "sites": [{"id": "s", "name": "Siden", "start_urls": ["https://s.example/"]}],
        "alerts": {
            "fallback": draw(st.sampled_from([None, *POOL])),
            "analysts": draw(st.lists(st.sampled_from(POOL), max_size=2, unique=True)),
        },
    }


def allowed(config: Config, address: str, person_id: str, kind: str) -> bool:
    """The rule, written out independently of routing.py."""
    key = address.lower()
    if kind == "digest":
        return key in {a.lower() for a in config.alerts.analysts}
    person = next(p for p in config.people if p.id == person_id)
    mine = {
        u.id
        for u in config.units
        if u.leader.email.lower() == key or any(c.email.lower() == key for c in u.notify)
    }
    if person.unit is None:
        return bool(config.alerts.fallback) and config.alerts.fallback.lower() == key  # type: ignore[union-attr]
    return person.unit in mine


def check_every_email(organisation: dict[str, Any], hits: list[tuple[int, str]]) -> set[str]:
    """Queue every kind of alert for `hits`, compose each e-mail, check who it names; return the kinds."""
    config = Config.model_validate(organisation)
    engine = create_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    found = datetime(2026, 11, 1, 12, 0)
    with sessions() as s, s.begin():
        run1, run2, run3 = add_run(s), add_run(s), add_run(s)
        rows = [
            add_hit(
                s,
                config,
                config.people[i % len(config.people)].id,
                confidence=c,
                first_seen=found,
                site_id="s",
            )
            for i, c in hits
        ]
        enqueue(s, config, rows, "new_hit", run1.id)
        for alert in s.scalars(select(AlertRow)):
            alert.status = "sent"
        enqueue(s, config, rows[::2], "update", run2.id)
        enqueue(s, config, rows[1::2], "removed", run3.id)
        queue_reminders(s, config, now=found + timedelta(days=2))
        queue_digest(s, config)

    composer = Composer(config)
    kinds = set()
    with sessions() as s:
        alerts = list(s.scalars(select(AlertRow)))
        contents = hits_of(s, [a.id for a in alerts])
        for alert in alerts:
            kinds.add(alert.kind)
            listed = contents[alert.id]
            assert listed, "an alert without hits"
            for hit in listed:
                assert allowed(config, alert.recipient, hit.person_id, alert.kind), (
                    alert.kind,
                    alert.recipient,
                )
            message = composer.compose(alert, listed, load_evidence(s, config, listed), found)
            body = str(message["Subject"]) + "".join(
                part.get_content() for part in message.walk() if part.get_content_maintype() == "text"
            )
            named = {p.id for p in config.people if p.name in body}
            assert named == {h.person_id for h in listed}
            assert all(allowed(config, alert.recipient, pid, alert.kind) for pid in named)
    engine.dispose()
    return kinds


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    organisation=organisations(),
    hits=st.lists(
        st.tuples(st.integers(0, 7), st.sampled_from(["high", "possible"])), min_size=1, max_size=8
    ),
)
def test_no_email_of_any_kind_names_someone_outside_the_recipients_units(
    organisation: dict[str, Any], hits: list[tuple[int, str]]
) -> None:
    check_every_email(organisation, hits)


def test_the_check_covers_every_kind_of_email() -> None:
    shared = "a@kommune.example"
    organisation = {
        "organisation": "Prøve Kommune",
        "units": [
            {"id": "u0", "name": "Enhed 0", "leader": {"name": "L0", "email": shared}},
            {
                "id": "u1",
                "name": "Enhed 1",
                "leader": {"name": "L1", "email": "b@kommune.example"},
                "notify": [{"name": "N", "email": "A@kommune.example"}],  # the same mailbox as u0's leader
            },
            {"id": "u2", "name": "Enhed 2", "leader": {"name": "L2", "email": "c@kommune.example"}},
        ],
        "people": [
            {"id": "p0", "name": NAMES[0], "unit": "u0"},
            {"id": "p1", "name": NAMES[1], "unit": "u1"},
            {"id": "p2", "name": NAMES[2], "unit": "u2"},
            {"id": "p3", "name": NAMES[3]},
        ],
        "sites": [{"id": "s", "name": "Siden", "start_urls": ["https://s.example/"]}],
        "alerts": {"fallback": "d@kommune.example", "analysts": ["c@kommune.example"]},
    }
    hits = [(0, "high"), (1, "high"), (2, "high"), (3, "high"), (2, "possible"), (0, "possible")]
    assert check_every_email(organisation, hits) == {"new_hit", "update", "removed", "reminder", "digest"}


def test_recipients_per_kind(make_config: Any) -> None:
    config: Config = make_config()
    assert [r.email for r in recipients(config, "rr", "new_hit", "high")] == [
        "lene.leder@kommune.example",
        "amr@kommune.example",
    ]
    assert [r.email for r in recipients(config, "rr", "reminder", "high")] == ["lene.leder@kommune.example"]
    assert recipients(config, "rr", "new_hit", "possible") == []
    assert [r.email for r in recipients(config, "rr", "digest", "possible")] == ["analytiker@kommune.example"]
    assert [r.email for r in recipients(config, "nn", "update", "high")] == ["central@kommune.example"]
    assert recipients(config, "gone", "new_hit", "high") == []
