"""Names as real posts write them: all the surnames without the given name, and a title with a
surname where the title is the person's or a synonym of it (verify.py `_surnames`, `_title`)."""

from __future__ import annotations

import pytest

from vaern.domain import WatchedPerson
from vaern.matchers import NameIndex, build_index
from vaern.matchers.lexicon import load_title_synonyms
from vaern.matchers.verify import same_title

PEOPLE = [
    WatchedPerson("sbf", "Signe Brix Frølund", title="teamleder"),
    WatchedPerson("ma", "Mette Aaskov", title="sagsbehandler"),
    WatchedPerson("jh", "Jens Holm", title="teamleder"),
    WatchedPerson("ts", "Tove Storm", title="fagchef"),
    WatchedPerson("ks", "Kim Storm", title="sagsbehandler"),
    WatchedPerson("kms", "Karin Marie Steffensen"),
    WatchedPerson("pbh", "Peter Bak Holt"),
    WatchedPerson("lbh", "Lise Bak Holt"),
]


@pytest.fixture(scope="module")
def index() -> NameIndex:
    return build_index(PEOPLE)


def found(index: NameIndex, text: str) -> list[tuple[str, str, str, str]]:
    return [(m.person, m.matched, m.confidence, m.variant) for m in index.find(text)]


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("Hvorfor får Brix Frølund lov at blive?", "Brix Frølund"),
        ("Brix Frølunds afgørelse er skandaløs.", "Brix Frølunds"),
        ("Hun hedder Brix Frølund.", "Brix Frølund"),
        ("Spørg BRIX FRØLUND om det.", "BRIX FRØLUND"),
    ],
)
def test_all_surnames_without_the_given_name_are_a_high_mention(index: NameIndex, text: str, matched: str) -> None:
    assert found(index, text) == [("sbf", matched, "high", "surnames")]


def test_surnames_several_people_share_are_only_possible(index: NameIndex) -> None:
    got = found(index, "Bak Holt svarer aldrig.")
    assert sorted(got) == [("lbh", "Bak Holt", "possible", "surnames"), ("pbh", "Bak Holt", "possible", "surnames")]
    why = next(m for m in index.find("Bak Holt svarer aldrig.")).why
    assert "2 watched people have these surnames" in why


@pytest.mark.parametrize(
    "text",
    [
        "Anne Brix Frølund er sød.",  # another person with the same surnames
        "Brix Frølund Hansen er her.",  # the surname goes on
        "Marie Steffensen kom forbi.",  # a middle given name is no surname
        "brix frølund er et sted.",  # lower case: words, not a name
        "Frølund alene er ikke nok.",  # one surname alone is issue 16's context mention
    ],
)
def test_what_is_not_all_the_surnames_of_a_watched_person(index: NameIndex, text: str) -> None:
    assert [m for m in index.find(text) if m.variant == "surnames"] == []


def test_the_full_name_still_wins_over_its_surnames(index: NameIndex) -> None:
    assert found(index, "Signe Brix Frølund er her.") == [("sbf", "Signe Brix Frølund", "high", "exact")]


@pytest.mark.parametrize(
    ("text", "person", "confidence"),
    [
        ("teamleder Holm svarer aldrig", "jh", "high"),  # her own title, the only Holm
        ("afdelingsleder Holm svarer aldrig", "jh", "high"),  # a synonym of it
        ("rådgiver Aaskov svarer aldrig", "ma", "high"),  # a synonym of sagsbehandler
        ("socialrådgiver Aaskovs afgørelse", "ma", "high"),
        ("psykolog Holm svarer aldrig", "jh", "possible"),  # not her kind of job
        ("fagchef Storm svarer aldrig", "ts", "possible"),  # two watched Storms: never high
    ],
)
def test_title_and_surname(index: NameIndex, text: str, person: str, confidence: str) -> None:
    [m] = index.find(text)
    assert (m.person, m.variant, m.confidence) == (person, "title_surname", confidence)


def test_title_synonyms_are_groups() -> None:
    groups = load_title_synonyms()
    assert "raadgiver" in groups["sagsbehandler"] and "chef" in groups["teamleder"]
    assert same_title("teamleder", "teamleder") and not same_title("", "teamleder")
    assert not same_title("teamleder", "psykolog")
