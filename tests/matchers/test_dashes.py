"""A spaced dash is punctuation, not a hyphen: a name never goes on through it.

"Skandalen – René Rosenkilde lyver" and "René Rosenkilde - Hvorfor lyver han?" gave no mention:
the dash was read as the hyphen of a double name ("Hansen-Jens Storm", "J. Krogh-Ravn"), so the
capitalised word across it made the name someone else's.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.matchers.test_properties import INDEX, texts
from vaern.domain import WatchedPerson
from vaern.matchers import NameIndex, build_index
from vaern.matchers.verify import separator

DASHES = ["-", "\u2013", "\u2014", "\u2212"]


@pytest.fixture(scope="module")
def index() -> NameIndex:
    return build_index([WatchedPerson("rr", "René Rosenkilde"), WatchedPerson("mhp", "Mette Huus Pedersen")])


@pytest.mark.parametrize("dash", DASHES)
@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("Skandalen {} René Rosenkilde lyver", "René Rosenkilde"),
        ("SKANDALE {} René Rosenkilde lyver", "René Rosenkilde"),
        ("Sandheden om René {} René Rosenkilde er en løgner", "René Rosenkilde"),
        ("René Rosenkilde {} Hvorfor lyver han?", "René Rosenkilde"),
        ("Sandheden\n{} René Rosenkilde lyver", "René Rosenkilde"),
        ("Skandalen {} Rosenkilde, René lyver", "Rosenkilde, René"),
        ("Rosenkilde, René {} Hvorfor?", "Rosenkilde, René"),
    ],
)
def test_a_name_beside_a_spaced_dash_is_found(index: NameIndex, text: str, matched: str, dash: str) -> None:
    found = index.find(text.format(dash))
    assert [(m.person, m.matched, m.confidence) for m in found] == [("rr", matched, "high")]


@pytest.mark.parametrize(
    "text",
    [
        "Hansen-René Rosenkilde lyver",
        "René Rosenkilde-Hvorfor lyver",
        "Hansen\u2013René Rosenkilde",
        "René Rosenkilde-\nHansen",
    ],
)
def test_a_hyphen_still_makes_the_name_someone_elses(index: NameIndex, text: str) -> None:
    assert index.find(text) == []


def test_parts_written_across_a_spaced_dash_still_join(index: NameIndex) -> None:
    (m,) = index.find("Mette Huus - Pedersen lyver")
    assert (m.person, m.matched) == ("mhp", "Mette Huus - Pedersen")


@pytest.mark.parametrize(
    ("gap", "expected"),
    [("-", "hyphen"), ("\u2013", "hyphen"), ("-\n", "hyphen"), (" - ", "dash"), (" \u2013 ", "dash"), ("\n- ", "dash")],
)
def test_separator_tells_a_hyphen_from_a_dash(gap: str, expected: str) -> None:
    assert separator(gap) == expected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts(), st.sampled_from(DASHES), st.sampled_from(["Skandalen", "Hvorfor", "Lars", "Nørrebro", "KOMMUNEN"]))
def test_a_word_and_a_spaced_dash_beside_a_mention_keep_it(text: str, dash: str, word: str) -> None:
    for m in INDEX.find(text):
        before, after = f"{word} {dash} ", f" {dash} {word}"
        changed = text[: m.start] + before + text[m.start : m.end] + after + text[m.end :]
        start = m.start + len(before)
        found = INDEX.find(changed)
        assert any(f.person == m.person and f.start < start + len(m.matched) and start < f.end for f in found), m
