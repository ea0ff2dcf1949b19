"""The cheaper ways of reading give the same results as the plain ones: the matcher and the
assessment sharing a text's words (`Assessor.read`), and the lexicon's phrases tried only where
their required words are (`Classifier.required`), on the assessment's dev set."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from vaern.domain import WatchedPerson
from vaern.matchers import build_index
from vaern.matchers.assess import Assessor
from vaern.matchers.classify import build_classifier, sentence_spans

DEV = Path(__file__).resolve().parents[3] / "bench" / "data" / "assess_dev.jsonl"
PEOPLE = [
    WatchedPerson("rr", "René Rosenkilde"), WatchedPerson("tv", "Thomas Vestergaard"),
    WatchedPerson("md", "Mette Dahl"), WatchedPerson("ls", "Lise Søndergaard"),
    WatchedPerson("kb", "Kasper Bech"), WatchedPerson("bt", "Bo Thygesen"),
]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= 300
    return [row["text"] for row in rows]


def test_reading_with_shared_words_gives_what_matching_then_assessing_gives(texts: list[str]) -> None:
    index = build_index(PEOPLE)
    assessor = Assessor(index)
    contexts = 0
    for text in texts:
        shared = assessor.read(text)
        assert shared == Assessor(index).assess(text, (), index.find(text)), text
        contexts += sum(m.found == "context" for m in shared.mentions)
    assert contexts > 100  # the dev set exercises the context mentions


def test_phrases_tried_only_where_their_words_are_give_the_same_categories(texts: list[str]) -> None:
    gated = build_classifier()
    every_phrase = dataclasses.replace(gated, required=(), seen={}, plain=set())
    sentences = [t[a:b] for t in texts for a, b in sentence_spans(t)]
    sentences += [s.upper() for s in sentences[:500]] + [s.replace("a", "-") for s in sentences[:500]]
    categorised = 0
    for sentence in sentences:
        assert gated.classify(sentence) == every_phrase.classify(sentence), sentence
        categorised += bool(gated.classify(sentence))
    assert categorised > 200
