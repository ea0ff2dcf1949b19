"""The cheaper ways of reading give the same results as the plain ones: the matcher and the
assessment sharing a text's words (`Assessor.read`), the lexicon's phrases tried only where
their required words are (`Classifier.required`), the sentences around the mentions cut without
cutting the whole text, and sentences with no lexicon word left unclassified, on the
assessment's dev set."""

from __future__ import annotations

import dataclasses
import json
import random
import re
from pathlib import Path

import pytest

from vaern.domain import WatchedPerson
from vaern.matchers import build_index
from vaern.matchers.assess import Assessor, privatedata
from vaern.matchers.assess.context import _pronouns, _word_char
from vaern.matchers.assess.reading import categories, read
from vaern.matchers.classify import (
    _END,
    Classifier,
    _ends_on,
    _is_end,
    _lower_danish,
    build_classifier,
    mask_names,
    sentence_bounds,
    sentence_spans,
    sentences_around,
)
from vaern.matchers.normalise import fold, spaced

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
    """Each phrase is looked up by its rarest word (or word beginning) and tried only where its
    required words are: the categories are those of trying every phrase on every sentence."""
    gated = build_classifier()
    every_phrase = dataclasses.replace(
        gated, required=(), anywhere=tuple(range(len(gated.phrases))), phrase_words={}, phrase_starts={},
        start_lengths=(), seen={}, plain=set(),
    )
    sentences = [t[a:b] for t in texts for a, b in sentence_spans(t)]
    sentences += [s.upper() for s in sentences[:500]] + [s.replace("a", "-") for s in sentences[:500]]
    categorised = 0
    for sentence in sentences:
        assert gated.classify(sentence) == every_phrase.classify(sentence), sentence
        categorised += bool(gated.classify(sentence))
    assert categorised > 200


def _around_by_bounds(text: str, first: int, last: int, before: int, after: int) -> list[tuple[int, int]]:
    """The plain way to `sentences_around` a whole text: each step finds a whole sentence
    (`sentence_bounds`), both of its sides."""
    start = sentence_bounds(text, first, first)[0]
    for _ in range(before):
        if start <= 0:
            break
        start = sentence_bounds(text, start - 1, start - 1)[0]
    stop = sentence_bounds(text, last, last)[1]
    ends = [m.end() for m in _END.finditer(text, stop) if _is_end(text, m)]
    stop = ends[after - 1] if len(ends) >= after else len(text)
    return sentence_spans(text, start, max(stop, last + 1))


def test_sentences_around_the_mentions_are_cut_as_by_whole_sentences(texts: list[str]) -> None:
    """`sentences_around` looks for one side of a sentence at a time; it cuts what finding each
    sentence whole cuts."""
    index = build_index(PEOPLE)
    windows = 0
    for text in texts:
        # Around each mention, around the first and last together, and around every sentence.
        starts = [m.start for m in index.find(text)]
        pairs = {(a, a) for a, _ in sentence_spans(text)} | {(s, s) for s in starts}
        if starts:
            pairs.add((starts[0], starts[-1]))
        for first, last in pairs:
            expected = _around_by_bounds(text, first, last, 2, 6)
            assert sentences_around(text, 0, len(text), first, last, 2, 6) == expected, (text, first, last)
            windows += 1
    assert windows > 1000


def test_sentences_around_cut_in_one_pass_as_step_by_step_at_the_edges() -> None:
    """`sentences_around` finds the ends after its first sentence in one pass, and goes step by
    step where that might cut otherwise: a mention inside a run of punctuation, a sentence with
    no end within 400 characters. Both ways cut what finding each sentence whole cuts, around
    every offset of texts made of such edges."""
    word = "ord "
    short = "En. To! Tre? Fire. Fem. Seks. Syv. Otte. "  # more than `after` ends to come
    texts = [
        # Sentences of 390 to 410 characters between short ones: the 400-character reach.
        *(short + word * (n // 4) + "slut. " + short + word * (n // 4) + ". " + short for n in range(388, 412, 3)),
        # Ends inside ends: abbreviations, initials, numbers, quotes, line breaks.
        "Hun sagde »nej.« Han?! Ja … måske?!? Ca. 12. maj kom f.eks. A. B. Hansen.\n\nNy linje\nog en til! "
        + short * 2,
        "Ingen ende her " + word * 150,
    ]
    one_pass = step_by_step = windows = 0
    for text in texts:
        for last in range(len(text)):
            for first in {last, max(0, last - 120)}:
                expected = _around_by_bounds(text, first, last, 2, 6)
                assert sentences_around(text, 0, len(text), first, last, 2, 6) == expected, (text, first, last)
                windows += 1
            if _ends_on(text, 0, len(text), last, 6) is None:
                step_by_step += 1
            else:
                one_pass += 1
    assert windows > 10_000 and one_pass > 1000 and step_by_step > 100


def test_sentences_skipped_unread_are_those_the_lexicon_gives_nothing(texts: list[str]) -> None:
    """`read` classifies only sentences holding a word the lexicon knows (or private data), with
    the words it looked up once: every sentence has the categories the plain classification of
    it, names masked, gives."""
    index = build_index(PEOPLE)
    classifier = index.classifier
    skipped = categorised = 0
    for text in texts:
        spans = [(m.start, m.end, m.variant == "possessive") for m in index.find(text)]
        for sentence in read(classifier, text, 0, len(text), spans):
            plain = categories(classifier, mask_names(text, sentence.start, sentence.end, spans))
            if sentence.private:
                continue  # private data adds its own categories (test_reading)
            assert sentence.categories == plain, text[sentence.start : sentence.end]
            if classifier.words_of(mask_names(text, sentence.start, sentence.end, spans)) == (set(), set()):
                skipped += 1
            categorised += bool(plain)
    assert skipped > 100 and categorised > 200


def test_stretches_the_lexicon_gives_nothing_are_read_as_their_sentences(
    texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`read` asks of each sentence, with its words found in one pass over the stretch, whether
    it may hold anything the lexicon knows (`may_hold`), and classifies only those that may:
    every stretch of one, three, nine or thirty sentences, names masked, reads as it does with
    every sentence classified."""
    index = build_index(PEOPLE)
    classifier = index.classifier
    stretches = []
    skipped = 0
    for text in texts:
        spans = [(m.start, m.end, m.variant == "possessive") for m in index.find(text)]
        cut = sentence_spans(text)
        for size in (1, 3, 9, 30):
            for i in range(0, len(cut), size):
                stretch = cut[i : i + size]
                lo, hi = stretch[0][0], stretch[-1][1]
                stretches.append((text, lo, hi, spans, stretch))
                skipped += sum(not classifier.may_hold(mask_names(text, s, e, spans)) for s, e in stretch)
    asked = [read(classifier, *args) for args in stretches]
    monkeypatch.setattr(Classifier, "may_hold", lambda self, sentence, words=None, lowered=None: True)
    one_by_one = [read(classifier, *args) for args in stretches]
    assert asked == one_by_one
    graded = sum(any(s.categories for s in sentences) for sentences in one_by_one)
    assert skipped > 300 and graded > 300


def test_a_phrase_that_needs_its_sentence_to_end_is_read_in_a_longer_stretch() -> None:
    """"skal passe på" ends a sentence with no full stop before a blank line; in the stretch the
    next sentence follows it, and the phrase's "$" is not there. Each sentence is asked alone,
    so the threat is still read."""
    index = build_index(PEOPLE)
    text = "René Rosenkilde skal passe på\n\nVi ses til mødet i morgen."
    spans = [(m.start, m.end, m.variant == "possessive") for m in index.find(text)]
    [threat, _] = read(index.classifier, text, 0, len(text), spans, sentence_spans(text))
    assert threat.categories == ("threat",)


def test_private_data_phrases_tried_only_where_their_gates_open_are_all_found(texts: list[str]) -> None:
    """The phrase patterns of private data (whereabouts, family, photo) run only where their
    gate finds what every match holds; without the gates they find the same items."""
    everywhere = tuple((kind, pattern, _Open()) for kind, pattern, _ in privatedata._PHRASES)
    variants = texts + [t.upper() for t in texts] + [t.lower() for t in texts] + [t.replace(" ", "  ") for t in texts]
    gated = [privatedata.find_private(t) for t in variants]
    saved = privatedata._PHRASES
    privatedata._PHRASES = everywhere
    try:
        plain = [privatedata.find_private(t) for t in variants]
    finally:
        privatedata._PHRASES = saved
    assert gated == plain
    phrases = sum(1 for items in plain for i in items if i.kind in ("whereabouts", "family", "photo"))
    assert phrases > 100


class _Open:
    def may_hold(self, lowered: str) -> bool:
        return True


def test_a_digit_is_found_as_the_regex_finds_it(texts: list[str]) -> None:
    """The quick digit test agrees with `\\d` on the dev set, and on digits of other scripts,
    curly quotes and letters outside Windows-1252 (where it asks the regex)."""
    others = [
        "Ring på ٢٣ ٤٥ ٦٧ ٨٩", "Nummer ２３４５６７８９", "“Han” – bor på nr. ３", "ingen tal her ’",
        "ingen tal her 🙂", "Ελληνικά χωρίς αριθμούς", "Ελληνικά 7", "²³ er ikke cifre",
    ]
    cases = texts + [t.replace("0", "").replace("1", "") for t in texts] + others
    quick = [privatedata._has_digit(t) for t in cases]
    assert quick == [privatedata._DIGIT.search(t) is not None for t in cases]
    assert True in quick and False in quick


def test_the_words_of_every_sentence_found_in_one_pass_are_those_found_one_by_one(texts: list[str]) -> None:
    """`words_each` (one automaton pass over a stretch's sentences) gives what `words_of` gives
    each sentence: on the dev set, in capitals, with other white space, and on strings of odd
    pieces (hyphens, apostrophes, foreign letters, a NUL in the text, empty sentences)."""
    classifier = build_classifier()
    cases = []
    for text in texts + [t.upper() for t in texts] + [t.replace(" ", "\u00a0") for t in texts] + _web(texts):
        cases.append([text[a:b] for a, b in sentence_spans(text)])
    rng = random.Random(2)
    pieces = [
        "være", "Være", "idiot", "idioter", "-", "’", " ", "\n", "é", "ü", "ß", "x", "hans", "navn", "navns",
        "_", "2", ".", "æ", "ø", "å", "AA", "e-mail", "finder", "sikker", "\x00", "tryg", "ΑΒΓ",
        "’", "“", "»", "–", "—", "\u00a0", "…", "•", "½", "²", "ẞ", "İ",
    ]
    for _ in range(5000):
        cases.append(["".join(rng.choice(pieces) for _ in range(rng.randint(0, 8))) for _ in range(rng.randint(0, 4))])
    each = [classifier.words_each(sentences) for sentences in cases]
    assert [words for words, _ in each] == [[classifier.words_of(s) for s in sentences] for sentences in cases]
    for sentences, (_, lowered) in zip(cases, each, strict=True):
        assert all(low is None or low == _lower_danish(s) for s, low in zip(sentences, lowered, strict=True))
    assert sum(low is not None for _, lowered in each for low in lowered) > 1000
    each = [words for words, _ in each]
    assert sum(bool(found) or bool(tried) for sentences in each for found, tried in sentences) > 1000


def _pronouns_as_first_written(text: str, lo: int, hi: int) -> list[tuple[int, int, str]]:
    # Every "h" word checked in Python: simple and slow.
    out = []
    for m in re.finditer(r"(?i:h(?:endes|ende|ans|an|am|un))", text[:hi]):
        start, end, said = m.start(), m.end(), m.group()
        if start < lo or (start > 0 and _word_char(text[start - 1])) or (end < hi and _word_char(text[end])):
            continue
        if said[0].isupper() or said in ("han", "hun", "ham", "hende", "hans", "hendes"):
            out.append((start, end, said))
    return out


def test_pronouns_are_found_as_whole_words_in_their_stretch(texts: list[str]) -> None:
    """The pronoun regex checks the letters around a pronoun itself; it finds what checking each
    one in Python finds, at stretch edges too, and in odd cases and words."""
    rng = random.Random(5)
    pieces = ["han", "Hun", "HENDE", "hans", "ham", "hendes", "hE", "x", "-", "’", "'", " ", "_", "é", "2", ".", "h"]
    cases = [(t, 0, len(t)) for t in texts]
    for _ in range(5000):
        t = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        lo = rng.randint(0, len(t))
        cases.append((t, lo, rng.randint(lo, len(t))))
    found = [_pronouns(*case) for case in cases]
    assert found == [_pronouns_as_first_written(*case) for case in cases]
    assert sum(map(len, found)) > 500


def _web(texts: list[str]) -> list[str]:
    """The texts as web pages write them: curly quotes and apostrophes, dashes, ellipses."""
    return [
        t.replace("'", "’").replace(' "', " “").replace('"', "”").replace(" - ", " – ").replace("...", "…")
        for t in texts
    ]


def test_a_lowered_sentence_spaced_is_the_folded_one(texts: list[str]) -> None:
    """Where `_lower_danish` lowers a sentence (ASCII, Danish letters, and the punctuation of web
    text `fold` keeps or spaces), spacing it gives what `fold` gives: the phrase checks read the
    one in place of the other. Elsewhere it gives None."""
    rng = random.Random(4)
    pieces = ["Hun", " ", "ÆØÅ", "é", "’", "“", "–", "—", "\u00a0", "…", "ü", "ß", "-", "Ö", "x", "•", "°", "\n"]
    cases = texts + _web(texts) + [t.upper() for t in _web(texts)]
    cases += ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 10))) for _ in range(5000)]
    lowered = [_lower_danish(t) for t in cases]
    assert all(low is None or spaced(low) == fold(t) for t, low in zip(cases, lowered, strict=True))
    assert sum(low is not None and not low.isascii() for low in lowered) > 300
    assert None in lowered
