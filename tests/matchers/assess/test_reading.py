"""Categories of a sentence with negation, quotes of others and questions read right."""

from __future__ import annotations

import pytest

from vaern.matchers import Classifier, build_classifier
from vaern.matchers.assess.reading import categories, read


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return build_classifier()


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Hun er en idiot.", ("insult",)),
        ("Hun er ikke en idiot.", ()),
        ("Hun er ikke en idiot, men sagen tager alt for lang tid.", ("criticism",)),
        ("Jeg siger ikke at hun er en svindler.", ()),
        ("Du skal ikke føle dig sikker.", ("threat",)),  # the phrase needs its negation
        ('En anden skrev: "Hun er en svindler", men det passer ikke.', ()),
        ("Er det rigtigt at hun har snydt med tallene?", ("criticism",)),
        ("Hvorfor lyver hun hele tiden?", ("accusation",)),
        ("Del opslaget, så alle ved hvem hun er.", ("incitement",)),
        ("Hun var faktisk rigtig sød og hjælpsom.", ()),
    ],
)
def test_sentence(classifier: Classifier, sentence: str, expected: tuple[str, ...]) -> None:
    assert categories(classifier, sentence) == expected


def test_read_gives_private_data_and_a_threat_for_we_know_where_you_live(classifier: Classifier) -> None:
    text = "Hun er sød. Vi ved hvor hun bor: Æblevej 3."
    sentences = read(classifier, text, 0, len(text))
    assert [s.categories for s in sentences] == [(), ("threat", "private_info")]
    assert [i.kind for i in sentences[1].private] == ["whereabouts", "address"]
