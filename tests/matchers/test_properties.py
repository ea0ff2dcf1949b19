"""Properties of the matcher on generated texts: offsets, and unrelated text changes nothing."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaern.domain import WatchedPerson
from vaern.matchers import NameIndex, build_index
from vaern.matchers.names import _word_before

PEOPLE = [
    WatchedPerson("rr", "René Rosenkilde"),
    WatchedPerson("sk", "Søren Kjærgaard"),
    WatchedPerson("mhp", "Mette Huus Pedersen"),
    WatchedPerson("ms", "Mette Skov"),
    WatchedPerson("jh", "Jens Hansen", title="sagsbehandler"),
    WatchedPerson("bh", "Birthe Holm", aliases=("Bibbe Holm",)),
]
INDEX: NameIndex = build_index(PEOPLE)

NAMES = [
    "René Rosenkilde",
    "RENE ROSENKILDE",
    "Rosenkilde, René",
    "R. Rosenkilde",
    "René Rosenkildes",
    "Søren Kjærgaard",
    "Soeren Kjaergaard",
    "Mette Huus-Pedersen",
    "Mette Pedersen",
    "mette skov",
    "Jens Hansen",
    "sagsbehandler Hansen",
    "Bibbe Holm",
    "René Bo Rosenkilde",
    "Rene Rosenkile",
]
# Words that are no part of any watched name.
WORDS = [
    "og",
    "i",
    "det",
    "kommunen",
    "sagen",
    "har",
    "lyver",
    "truer",
    "ringede",
    "mødet",
    "blev",
    "flyttet",
    "torsdag",
    "idiot",
    "Borgmesteren",
    "Hvorfor",
    "Vi",
    "Jeg",
    "skændsel",
    "bor",
    "på",
    "Skolevej",
    "12",
    "du",
    "ved",
    "hvor",
    "Lars",
    "Kim",
    "Nørrebro",
    "æble",
    "øl",
]
PUNCT = [" ", " ", " ", ", ", ". ", "\n", "! ", "? ", " - "]


@st.composite
def texts(draw: st.DrawFn) -> str:
    pieces = []
    for _ in range(draw(st.integers(1, 25))):
        pieces.append(draw(st.sampled_from(WORDS + NAMES if draw(st.booleans()) else WORDS)))
        pieces.append(draw(st.sampled_from(PUNCT)))
    return "".join(pieces)


unrelated = st.lists(st.sampled_from(WORDS), min_size=1, max_size=30).map(" ".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts())
def test_offsets_map_to_the_original_text(text: str) -> None:
    mentions = INDEX.find(text)
    for m in mentions:
        assert 0 <= m.start < m.end <= len(text)
        assert text[m.start : m.end] == m.matched == m.compared[0]
        assert m.confidence in ("high", "possible")
    assert [m.start for m in mentions] == sorted(m.start for m in mentions)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts(), unrelated, unrelated)
def test_adding_unrelated_text_never_removes_a_mention(text: str, before: str, after: str) -> None:
    base = INDEX.find(text)
    prefix = before + ".\n\n"
    more = INDEX.find(prefix + text + "\n\n" + after + ".")
    shifted = {
        (m.person, m.start + len(prefix), m.end + len(prefix), m.variant, m.confidence, m.categories) for m in base
    }
    found = {(m.person, m.start, m.end, m.variant, m.confidence, m.categories) for m in more}
    assert shifted <= found


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts())
def test_matching_is_deterministic(text: str) -> None:
    fresh = build_index(PEOPLE)
    assert fresh.find(text) == INDEX.find(text) == INDEX.find(text)


# The word before a hit is found by a backwards scan; this regex, searched in the same stretch,
# is what the scan must find.
BEFORE = re.compile(r"(\w+)\.?[ \t\u00a0,\-\u2010\u2011\u2013]*\n?[ \t\u00a0]*\Z")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=" \t\u00a0\n.,-\u2013_aZ1ø'", max_size=30), st.integers(0, 30), st.integers(0, 30))
def test_the_word_before_a_hit_is_what_the_regex_finds(text: str, a: int, b: int) -> None:
    lo, end = sorted((min(a, len(text)), min(b, len(text))))
    m = BEFORE.search(text, lo, end)
    assert _word_before(text, lo, end) == (m.group(1) if m else "")
