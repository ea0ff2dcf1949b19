"""The assessment of a text: mentions in context, categories per post, severity, passage."""

from __future__ import annotations

import pytest

from vaern.domain import Post, WatchedPerson
from vaern.matchers import NameIndex, build_index
from vaern.matchers.assess import Assessor
from vaern.matchers.assess.severity import police_fits, severity_of

PEOPLE = [
    WatchedPerson("rr", "René Rosenkilde"),
    WatchedPerson("tv", "Thomas Vestergaard"),
    WatchedPerson("md", "Mette Dahl"),
    WatchedPerson("jb", "Jens Bach"),
]


@pytest.fixture(scope="module")
def index() -> NameIndex:
    return build_index(PEOPLE)


def assess(index: NameIndex, text: str, posts: tuple[Post, ...] = ()):  # type: ignore[no-untyped-def]
    return Assessor(index).assess(text, posts, index.find(text))


def test_a_threat_away_from_the_name_counts_for_the_post(index: NameIndex) -> None:
    text = ("Rene Rosenkilde fra kommunen er en svindler. Vi har længe vidst det. Han skal have tæsk. "
            "Vi ved hvor han bor: Æblevej 3.")
    result = assess(index, text)
    rr = result.of_person["rr"]
    assert rr.categories == ("threat", "private_info", "accusation")
    assert rr.severity == "critical"
    assert rr.passage_category == "threat"
    assert rr.police
    assert "Æblevej" not in str(rr.private_rows())
    pronouns = [m for m in result.mentions if m.found == "context"]
    assert [m.matched for m in pronouns] == ["Han", "han"]
    assert all(m.person == "rr" and m.confidence == "high" for m in pronouns)


def test_surname_and_capitals_after_the_full_name_are_mentions_in_context(index: NameIndex) -> None:
    text = "Thomas Vestergaard har min sag. Vi skal nok finde dig, VESTERGAARD. Du skal ikke føle dig sikker."
    result = assess(index, text)
    context = [m for m in result.mentions if m.found == "context"]
    assert [(m.person, m.matched, m.confidence) for m in context] == [("tv", "VESTERGAARD", "high")]
    assert "after the full name" in context[0].why[0]
    assert result.of_person["tv"].severity == "critical"


def test_a_lone_surname_of_one_watched_person_in_a_harassing_text_is_high(index: NameIndex) -> None:
    text = "Jeg har talt med sagsbehandleren. DAHL er et røvhul og en idiot. Hun har stjålet mine papirer."
    result = assess(index, text)
    dahl = [m for m in result.mentions if m.person == "md"]
    assert dahl[0].matched == "DAHL" and dahl[0].confidence == "high"
    assert "harassing" in dahl[0].why[0]
    assert result.of_person["md"].categories == ("insult", "accusation")
    assert result.of_person["md"].passage_category == "accusation"


def test_a_lone_surname_in_a_mild_text_stays_possible(index: NameIndex) -> None:
    result = assess(index, "Jeg fik et brev. Det var Dahl der skrev det.")
    assert [(m.person, m.confidence) for m in result.mentions] == [("md", "possible")]


def test_a_post_about_someone_else_with_the_surname_gives_nothing(index: NameIndex) -> None:
    result = assess(index, "Karen Dahl fra nabokommunen er en idiot. DAHL burde fyres.")
    assert result.mentions == ()


def test_praise_has_no_category_and_no_police(index: NameIndex) -> None:
    rr = assess(index, "René Rosenkilde er en rigtig god fagchef.").of_person["rr"]
    assert (rr.categories, rr.severity, rr.passage, rr.police) == ((), "none", None, False)


def test_each_post_is_read_on_its_own(index: NameIndex) -> None:
    first = "René Rosenkilde er sød. "
    second = "Mette Dahl har stjålet fra kassen. Hun skal have tæsk."
    text = first + second
    posts = (Post(0, len(first)), Post(len(first), len(text)))
    result = assess(index, text, posts)
    assert result.of_person["rr"].severity == "none"
    assert result.of_person["md"].severity == "critical"


def test_a_pronoun_goes_to_the_person_it_fits(index: NameIndex) -> None:
    text = "Mette Dahl har ikke svaret. Og lederen, Jens Bach, dækker over hende. Han burde skamme sig."
    result = assess(index, text)
    pronouns = {m.matched: m.person for m in result.mentions if m.found == "context"}
    assert pronouns == {"hende": "md", "Han": "jb"}
    assert result.of_person["jb"].categories == ("criticism",)


@pytest.mark.parametrize(
    ("categories", "severity"),
    [(("threat",), "critical"), (("private_info",), "critical"), (("accusation",), "high"),
     (("incitement",), "high"), (("insult",), "medium"), (("criticism",), "low"), ((), "none")],
)
def test_severity(categories: tuple[str, ...], severity: str) -> None:
    assert severity_of(categories) == severity


def test_the_police_fit_threats_incitement_defamation_and_harassing_private_data() -> None:
    assert police_fits(["threat"]) and police_fits(["incitement"]) and police_fits(["accusation"])
    assert police_fits(["private_info", "insult"])
    assert police_fits(["private_info"], ["whereabouts"])
    assert not police_fits(["private_info"], ["address"])
    assert not police_fits(["insult"]) and not police_fits(["criticism"]) and not police_fits([])
