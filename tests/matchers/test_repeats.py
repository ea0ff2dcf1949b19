"""A part of a name written again just before the name never hides the name.

"Sandheden om René\\nRené Rosenkilde er en løgner" (a heading ending in the given name, then the
post) and "Karin Karin Kjær" gave no mention at all: the repeated given name was read as an
unregistered middle name, and that longer reading and the right one dropped each other.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.matchers.test_properties import INDEX, PEOPLE, texts
from vaern.domain import WatchedPerson
from vaern.matchers import build_index

SEPARATORS = [" ", "\n", "\n\n", ", ", ". ", ": ", "! ", " - ", " \u2013 "]
PARTS = {p.id: sorted({w for n in (p.name, *p.aliases) for w in re.split(r"[ -]", n)}) for p in PEOPLE}


@pytest.mark.parametrize(
    ("text", "person", "matched"),
    [
        ("Sandheden om René\nRené Rosenkilde er en løgner", "rr", "René Rosenkilde"),
        ("Karin Karin Kjær", "kk", "Karin Kjær"),
        ("Karin Karin Karin Karin Karin Karin Karin Kjær lyver", "kk", "Karin Kjær"),
        ("Om René: René Rosenkilde", "rr", "René Rosenkilde"),
        ("RENÉ René Rosenkilde", "rr", "René Rosenkilde"),
        ("rené rené rosenkilde truer os", "rr", "rené rosenkilde"),
        ("Rene René Rosenkilde", "rr", "René Rosenkilde"),
        ("Hvorfor René\nRené Rosenkildes sag?", "rr", "René Rosenkildes"),
        ("Rosenkilde René Rosenkilde", "rr", "René Rosenkilde"),
        ("Rosenkilde Rosenkilde, René", "rr", "Rosenkilde, René"),
        ("Kjær\nKarin Kjær", "kk", "Karin Kjær"),
    ],
)
def test_a_repeated_part_before_the_name_leaves_the_full_name(text: str, person: str, matched: str) -> None:
    index = build_index([WatchedPerson("rr", "René Rosenkilde"), WatchedPerson("kk", "Karin Kjær")])
    assert [(m.person, m.matched, m.confidence) for m in index.find(text)] == [(person, matched, "high")]


def test_a_repeat_that_makes_a_longer_reading_for_another_person_hides_no_one() -> None:
    index = build_index([WatchedPerson("kms", "Karin Marie Steffensen"), WatchedPerson("ms", "Marie Steffensen")])
    # Read from the first Karin or the first Marie, the repeat was an inserted middle name, and
    # each of those readings covered the other person's right one.
    assert [(m.person, m.matched) for m in index.find("Karin Marie Karin Marie Steffensen")] == [
        ("kms", "Karin Marie Steffensen")
    ]


def test_two_readings_of_one_person_never_drop_each_other() -> None:
    index = build_index([WatchedPerson("kk", "Karin Kjær", aliases=("Sofie Kjær",))])
    # "Karin [Sofie] Kjær" (the name with an inserted middle name) covers the alias "Sofie Kjær",
    # which scores higher: one of them stays.
    assert [(m.person, m.matched) for m in index.find("Karin Sofie Kjær er en løgner")] == [("kk", "Sofie Kjær")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts(), st.data())
def test_any_part_of_a_name_written_just_before_it_keeps_the_mention(text: str, data: st.DataObject) -> None:
    for m in INDEX.find(text):
        part = data.draw(st.sampled_from(PARTS[m.person]))
        sep = data.draw(st.sampled_from(SEPARATORS))
        shift = len(part) + len(sep)
        found = INDEX.find(text[: m.start] + part + sep + text[m.start :])
        assert any(f.person == m.person and f.start < m.end + shift and m.start + shift < f.end for f in found), (
            part + sep,
            m,
        )
