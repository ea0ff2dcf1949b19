"""Danish post dates near a mention, and the 72-hour police deadline built on them."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta

import pytest

from vaern.alerts import postdate
from vaern.alerts.postdate import find_posted_at, parse_post_time, police_deadline

TZ = "Europe/Copenhagen"
FETCHED = datetime(2026, 11, 21, 13, 0)  # 14:00 in Copenhagen (CET, UTC+1)


DATES = [
    ("Skrevet 12. november 2026 kl. 14:03", datetime(2026, 11, 12, 13, 3)),
    ("12. nov. 2026 kl 9.15", datetime(2026, 11, 12, 8, 15)),
    ("12. november 2026, 14:03", datetime(2026, 11, 12, 13, 3)),
    ("3. maj 2026 kl. 10:00", datetime(2026, 5, 3, 8, 0)),  # summer time, UTC+2
    ("12.11.2026 14:03", datetime(2026, 11, 12, 13, 3)),
    ("12/11-2026", datetime(2026, 11, 11, 23, 0)),
    ("2026-11-12T14:03", datetime(2026, 11, 12, 13, 3)),
    ("i går kl. 10:15", datetime(2026, 11, 20, 9, 15)),
    ("igår", datetime(2026, 11, 19, 23, 0)),
    ("i dag kl. 08:00", datetime(2026, 11, 21, 7, 0)),
    ("i forgårs", datetime(2026, 11, 18, 23, 0)),
    ("3 timer siden", datetime(2026, 11, 21, 10, 0)),
    ("for 2 dage siden", datetime(2026, 11, 19, 13, 0)),
    ("en time siden", datetime(2026, 11, 21, 12, 0)),
    ("postet 5 minutter siden", datetime(2026, 11, 21, 12, 55)),
    ("23. december", datetime(2025, 12, 22, 23, 0)),  # no year: the last such day before the fetch
    ("yesterday at 10:15", datetime(2026, 11, 20, 9, 15)),
]


@pytest.mark.parametrize(("text", "utc"), DATES)
def test_danish_dates_are_read_in_the_config_timezone(text: str, utc: datetime) -> None:
    found = parse_post_time(text, FETCHED, TZ)
    assert found is not None
    assert found.when == utc


@pytest.mark.parametrize(
    "text",
    ["version 3.4.1", "ring 12 34 56 78", "31. februar 2026", "om 3 timer", "1. januar 2027 kl. 10:00"],
)
def test_things_that_are_not_a_past_date_are_ignored(text: str) -> None:
    assert parse_post_time(text, FETCHED, TZ) is None


def test_the_date_above_the_mention_wins_over_a_later_reply() -> None:
    text = (
        "Indlæg af Hans, 10. november 2026 kl. 09:00\n"
        "Svar fra Per, 12. november 2026 kl. 14:03\n"
        "René Rosenkilde burde skamme sig.\n"
        "Svar fra Ole, 13. november 2026 kl. 08:00"
    )
    at = text.index("René")
    found = find_posted_at(text, at, at + 15, FETCHED, TZ)
    assert found is not None
    assert found.text == "12. november 2026 kl. 14:03"
    assert found.when == datetime(2026, 11, 12, 13, 3)


def test_a_date_after_the_mention_is_used_when_none_precedes_it() -> None:
    text = "René Rosenkilde er en skam — skrevet 3 timer siden"
    found = find_posted_at(text, 0, 15, FETCHED, TZ)
    assert found is not None and found.relative
    assert found.when == FETCHED - timedelta(hours=3)


def test_deadline_counts_from_the_post_date_when_it_is_earlier_than_first_seen() -> None:
    posted = parse_post_time("12. november 2026 kl. 14:03", FETCHED, TZ)
    deadline = police_deadline(FETCHED, posted)
    assert deadline.basis == "posted"
    assert deadline.due == datetime(2026, 11, 15, 13, 3)


def test_deadline_counts_from_first_seen_without_a_date() -> None:
    deadline = police_deadline(FETCHED, None)
    assert deadline.basis == "first_seen"
    assert deadline.due == FETCHED + timedelta(hours=72)


def test_the_cheap_hints_never_skip_a_date(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each pattern is run only where its hint finds something; with every hint matching
    everything, the same dates are found in the same texts."""
    rng = random.Random(21)
    pieces = [
        "12.", "12", " ", "november", "NOV.", "2026", "-11-", "T14:03", "kl.", " 9.15", "/11-", "i går", "I DAG",
        "igår", "forgårs", "3 timer siden", "for en uge SIDEN", "two days ago", "yesterday", "Today", "hvorfor",
        "får", "dage", "\n", ",", "æøå", "1", "0",
    ]  # fmt: skip
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 12))) for _ in range(1500)]
    texts += [text for text, _ in DATES]
    tz = postdate.ZoneInfo(TZ)
    hinted = [postdate._candidates(text, FETCHED, tz) for text in texts]
    everything = re.compile("")
    for name in ("_ISO_HINT", "_NAMED_HINT", "_NUMERIC_HINT", "_DAY_WORD_HINT", "_AGO_HINT"):
        monkeypatch.setattr(postdate, name, everything)
    assert [postdate._candidates(text, FETCHED, tz) for text in texts] == hinted
    assert sum(bool(found) for found in hinted) > 300  # the texts do hold dates


def test_a_stated_date_on_the_post_wins_over_relative_words_in_its_body() -> None:
    text = (
        "Skrevet 20. november 2026 kl. 10:00\n"
        "I går ringede jeg igen. René Rosenkilde svarede ikke."
    )
    at = text.index("René")
    found = find_posted_at(text, at, at + 15, FETCHED, TZ)
    assert found is not None and not found.relative
    assert found.text == "20. november 2026 kl. 10:00"


def test_a_date_the_markup_states_wins_and_says_its_source() -> None:
    first_seen = datetime(2026, 11, 21, 13, 0)
    stated = datetime(2026, 11, 20, 9, 0)
    relative = find_posted_at("i går René Rosenkilde", 6, 21, first_seen, TZ)
    deadline = police_deadline(first_seen, relative, stated, "json-ld")
    assert (deadline.basis, deadline.since, deadline.source) == ("stated", stated, "json-ld")
    assert deadline.due == stated + timedelta(hours=72)
