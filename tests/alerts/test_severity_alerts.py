"""Severity in the alerts: `alerts.policy` decides who is told when; the subject starts with the
severity; the gravest passage is quoted with private data masked; the police deadline appears
only where a report fits, and counts from the date the page's markup states for the post."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.alerts.alert_factories import add_hit, add_run
from tests.alerts.test_compose import _compose, _parts, _snapshot
from vaern.alerts.dispatch import enqueue, queue_digest
from vaern.config import Config
from vaern.storage.tables import AlertHitRow, AlertRow, HitRow


def _assessed(hit: HitRow, severity: str, categories: list[str], **fields: object) -> HitRow:
    hit.severity = severity
    hit.categories = categories
    for key, value in fields.items():
        setattr(hit, key, value)
    return hit


def _kinds(session: Session) -> dict[int, set[tuple[str, str]]]:
    out: dict[int, set[tuple[str, str]]] = {}
    for hit_id, recipient, kind in session.execute(
        select(AlertHitRow.hit_id, AlertRow.recipient, AlertHitRow.kind).join(AlertRow)
    ):
        out.setdefault(hit_id, set()).add((recipient, kind))
    return out


def test_the_default_policy_tells_the_leader_of_grave_hits_and_the_analysts_of_low_ones(
    config: Config, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s, s.begin():
        run = add_run(s)
        grave = _assessed(add_hit(s, config, "rr", run_id=run.id), "critical", ["threat"])
        insult = _assessed(add_hit(s, config, "rr", run_id=run.id), "medium", ["insult"])
        low = _assessed(add_hit(s, config, "rr", run_id=run.id), "low", ["criticism"])
        praise = _assessed(add_hit(s, config, "rr", run_id=run.id), "none", [])
        s.flush()
        enqueue(s, config, [grave, insult, low, praise], "new_hit", run.id)
        queue_digest(s, config)
        kinds = _kinds(s)
    leader = ("lene.leder@kommune.example", "new_hit")
    assert leader in kinds[grave.id] and leader in kinds[insult.id]
    assert kinds[low.id] == {("analytiker@kommune.example", "digest")}
    assert praise.id not in kinds


def test_a_policy_can_send_insults_to_the_digest_and_criticism_nowhere(
    make_config: Callable[..., Config], sessions: sessionmaker[Session]
) -> None:
    config = make_config(alerts={"analysts": ["analytiker@kommune.example"],
                                 "policy": {"medium": "digest", "low": "none"}})
    assert config.alerts.policy["critical"] == "immediate"  # the severities not named keep their default
    with sessions() as s, s.begin():
        run = add_run(s)
        insult = _assessed(add_hit(s, config, "rr", run_id=run.id), "medium", ["insult"])
        low = _assessed(add_hit(s, config, "rr", run_id=run.id), "low", ["criticism"])
        legacy = add_hit(s, config, "rr", run_id=run.id)  # from before assessments: told as always
        s.flush()
        enqueue(s, config, [insult, low, legacy], "new_hit", run.id)
        queue_digest(s, config)
        kinds = _kinds(s)
    assert kinds[insult.id] == {("analytiker@kommune.example", "digest")}
    assert low.id not in kinds
    assert ("lene.leder@kommune.example", "new_hit") in kinds[legacy.id]


def test_subject_severity_passage_masked_private_data_and_the_stated_date(
    config: Config, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s, s.begin():
        run = add_run(s)
        hit = add_hit(s, config, "rr", run_id=run.id, excerpt="… René Rosenkilde bor på Lærkevej 14, tlf 23 45 67 89 …")
        _assessed(
            hit, "critical", ["threat", "private_info"],
            passage={"text": "Vi ved hvor han bor: L••••••• ••.", "category": "threat"},
            private_data=[{"kind": "address", "masked": "L••••••• ••"}, {"kind": "phone", "masked": "•• •• •• 89"}],
            posted_at=datetime(2026, 11, 20, 9, 0), posted_source="json-ld",
        )
        _snapshot(s, config, hit, text="René Rosenkilde bor på Lærkevej 14. For 2 timer siden.\n")
        [alert, *_] = enqueue(s, config, [hit], "new_hit", run.id)
        alert_id = alert.id
    message = _compose(sessions, config, alert_id)
    text, html = _parts(message)
    assert message["Subject"].startswith("KRITISK: Værn: René Rosenkilde nævnt på Hadeside")
    assert "Alvor: KRITISK" in text
    assert 'Det alvorligste sted (trussel): "Vi ved hvor han bor: L••••••• ••."' in text
    assert "adresse: L••••••• ••; telefonnummer: •• •• •• 89" in text
    assert "Lærkevej 14" not in text and "23 45 67" not in text and "Lærkevej 14" not in html
    # 20 Nov 09:00 UTC is 10:00 in Copenhagen: the markup's date beats "for 2 timer siden".
    assert "Frist for politianmeldelse: mandag 23. november 2026 kl. 10:00" in text
    assert "ifølge sidens strukturerede data (datePublished)" in text
    assert 'class="passage"' in html


def test_no_police_deadline_for_an_insult_and_none_for_praise(
    config: Config, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s, s.begin():
        run = add_run(s)
        insult = _assessed(add_hit(s, config, "rr", run_id=run.id), "medium", ["insult"],
                           passage={"text": "Han er en idiot.", "category": "insult"})
        [alert, *_] = enqueue(s, config, [insult], "new_hit", run.id)
        alert_id = alert.id
    text, _ = _parts(_compose(sessions, config, alert_id))
    assert "Frist for politianmeldelse" not in text
    assert "ingen frist for politianmeldelse" in text
    assert "Alvor: MIDDEL" in text
