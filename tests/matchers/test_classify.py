"""Sentence categories: one row per kind of harassment, and sentences that must get none."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from vaern.config import Matching
from vaern.matchers import build_classifier
from vaern.matchers.classify import _ABBREVIATIONS, Classifier, _beginnings, _keys, sentence_bounds


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return build_classifier()


ROWS = [
    ("Jeg ved hvor navn bor, og vi ses.", ("threat",)),
    ("Navn skal passe godt på, når hun cykler hjem.", ("threat",)),
    ("Nogen burde slå navn ihjel.", ("threat",)),
    ("Hvis navn ikke trækker sagen, så sker der noget.", ("threat",)),
    ("Vi holder øje med navn hver dag.", ("threat",)),
    ("Navn er en klaphat.", ("insult",)),
    ("Sikke en idiot navn er.", ("insult",)),
    ("Navn er totalt inkompetent.", ("insult",)),
    ("Navn har forfalsket min journal.", ("accusation",)),
    ("Navn stjæler fra kassen, og det er kriminelt.", ("accusation",)),
    ("Navn tog imod penge under bordet.", ("accusation",)),
    ("Sagsbehandlingen har taget alt for lang tid.", ("criticism",)),
    ("Navn svarer aldrig på mails, det er uprofessionelt.", ("criticism",)),
    ("Det er en skandale, at navn stadig er ansat.", ("criticism",)),
    ("Navn er sygemeldt med depression.", ("private_info",)),
    ("Ring til navn på 22 33 44 55.", ("private_info",)),
    ("Ring til navn på +45 22334455.", ("private_info",)),
    ("Navns CPR er 010190-1234.", ("private_info",)),
    ("Skriv til navn@kommune.dk og sig din mening.", ("private_info",)),
    ("Navn bor på Egevænget 12, 4000 Roskilde.", ("private_info",)),
    ("Her er et billede af navn med hendes kæreste.", ("private_info",)),
    ("Navn er en idiot, og han lyver.", ("insult", "accusation")),
    # Lawful criticism is not also given to a sentence that is worse.
    ("Navn er en idiot og svarer aldrig.", ("insult",)),
    # Neutral: nothing.
    ("Mødet med navn blev flyttet til torsdag.", ()),
    ("Navn fra Børn og Familie holdt et oplæg.", ()),
    ("Navn fra Handicap og Psykiatri svarede hurtigt.", ()),
    ("Vi skal passe på miljøet, sagde navn.", ()),
    ("Mine børn er glade for navn.", ()),
    ("Navn blev født i 1975 og har 2 børn i skole.", ()),
    ("Ring på 1813, sagde navn.", ()),
    ("Han tabte 20 kilo, sagde navn d. 3. marts.", ()),
]


@pytest.mark.parametrize(("sentence", "expected"), ROWS)
def test_category(classifier: Classifier, sentence: str, expected: tuple[str, ...]) -> None:
    assert classifier.classify(sentence) == expected


def test_words_from_the_config() -> None:
    extra = build_classifier(Matching(categories={"insult": ["fladpande*", "dum i låget"]}))
    assert extra.classify("Navn er en fladpande.") == ("insult",)
    assert extra.classify("Navn er dum i låget.") == ("insult",)
    assert build_classifier().classify("Navn er en fladpande.") == ()


def test_unknown_category_in_the_config_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown category 'trussel'"):
        Matching(categories={"trussel": ["x"]})


def test_too_short_word_beginning_in_the_config_is_refused() -> None:
    with pytest.raises(ValueError, match="needs at least 3 letters"):
        Matching(categories={"insult": ["fj*"]})


def test_the_name_is_masked_so_a_name_is_no_lexicon_word(classifier: Classifier) -> None:
    text = "Mødet med Kim Idiot blev flyttet."
    assert classifier.categories(text, (0, len(text)), [(10, 19, False)]) == ()
    assert classifier.categories(text, (0, len(text)), []) == ("insult",)


@pytest.mark.parametrize(
    ("text", "name", "sentence"),
    [
        ("Først noget. René Rosenkilde lyver! Så noget andet.", "René Rosenkilde", "René Rosenkilde lyver!"),
        ("Spørg R. Rosenkilde om det. Tak.", "R. Rosenkilde", "Spørg R. Rosenkilde om det."),
        ("Det sker bl.a. hos René. Ja.", "René", "Det sker bl.a. hos René."),
        ("Linje et\n\nRené er her\n\nLinje tre", "René", "René er her"),
        ("Han kom d. 3. marts til René. Ja.", "René", "Han kom d. 3. marts til René."),
        ("slut. sagsbehandler Holm lyver. Ja.", "Holm", "sagsbehandler Holm lyver."),
    ],
)
def test_sentence_bounds(text: str, name: str, sentence: str) -> None:
    start = text.index(name)
    a, b = sentence_bounds(text, start, start + len(name))
    assert text[a:b].strip() == sentence


@pytest.mark.parametrize(
    ("pattern", "beginnings"),
    [
        ("ikke i orden", {("ikke", True)}),
        ("(kommer|går) efter (dig|ham)", {("kommer", True), ("går", True)}),
        ("kugle(n)? i panden", {("kugle", False)}),
        ("falske? dokumenter", {("falsk", False)}),
        ("(tæsk|bank)(e|er)? op", {("tæsk", False), ("bank", False)}),
        ("ringe|dårlig service", {("ringe", True), ("dårlig", True)}),
        ("dum\\ i\\ låget", {("dum", True)}),
        ("(nu )?pas på", None),
        ("\\w+ og sur", None),
        ("[a-z]+ bor", None),
    ],
)
def test_the_letters_a_phrase_starts_with(pattern: str, beginnings: set[tuple[str, bool]] | None) -> None:
    assert _beginnings(pattern) == beginnings


@pytest.mark.parametrize(
    ("pattern", "keys"),
    [
        ("ikke i orden", {("orden", True)}),
        ("\\w+ og sur", {("sur", True)}),
        ("(virker|er) (totalt )?(ligeglad|fraværende)", {("ligeglad", True), ("fraværende", True)}),
        ("ødelægge[r]? (\\w+ ){0,2}(liv|karriere)", {("ødelægge", False)}),
        ("syg(e)? (med|af)", {("syg", False)}),
        ("billeder af (hende|navn)", {("billeder", True)}),
        ("navns mand", {("mand", True)}),
        ("\\w+ (af|på) \\w+", {("af", True), ("på", True)}),
        ("\\w+ x|\\w+ y", None),
        ("(\\w+ )?\\w+", None),
    ],
)
def test_what_a_phrase_is_looked_up_by(pattern: str, keys: set[tuple[str, bool]] | None) -> None:
    assert _keys(pattern) == keys


# Pieces that come close to the lexicon's phrases, every way a phrase is looked up: by its whole
# first word, by the beginning of its first word, by a word inside it, and ordinary words.
PIECES = [
    "vi ved hvor navn bor",
    "jeg ved hvor du",
    "navn skal nok passe godt på",
    "pas på",
    "kuglen i panden",
    "kugle for",
    "ødelægger hendes liv",
    "ødelægge",
    "falske dokumenter",
    "falsk",
    "tævet gul og blå",
    "tæsker ham op",
    "stikker dig ned",
    "syge af",
    "fyre navn",
    "sur og gnaven",
    "gnaven og sur",
    "og sur",
    "tog imod penge",
    "ikke i orden",
    "alt for lang tid",
    "hendes mand",
    "dum som en dør",
    "burde fyres",
    "virker totalt ligeglad",
    "er fraværende",
    "syge med",
    "billeder af navn",
    "hendes nye mand",
    "navns kone",
    "det får hun at mærke",
    "har ikke styr på",
    "pas nu godt på du",
    "skal nok passe på",
    "og",
    "i",
    "det",
    "navn",
    "sagen",
    "hver dag",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=8))
def test_phrases_skipped_for_a_sentence_could_not_occur_in_it(pieces: list[str]) -> None:
    everything = build_classifier()
    # The same lexicon, trying every phrase on every sentence.
    brute = replace(
        everything,
        phrase_words={},
        phrase_starts={},
        start_lengths=(),
        anywhere=tuple(range(len(everything.phrases))),
        seen={},
        plain=set(),
    )
    sentence = " ".join(pieces) + "."
    assert everything.classify(sentence) == brute.classify(sentence)


# Sentence ends as first written: simple and slow (every branch tried at every position, the
# whole 400 characters searched). `sentence_bounds` must find the same sentences faster.
SLOW_END = re.compile(r"[!?…]+[\"'»”)]*(?=\s|$)|\.[\"'»”)]*(?=\s|$)|\n[ \t]*\n")


def slow_is_end(text: str, m: re.Match[str]) -> bool:
    if not m.group().startswith("."):
        return True
    before = re.search(r"([\w.]+)$", text[max(0, m.start() - 12) : m.start()])
    if before is None:
        return True
    word = before.group(1).lower()
    if (len(word) == 1 and word.isalpha()) or word in _ABBREVIATIONS:
        return False
    after = text[m.end() : m.end() + 40].lstrip()
    return not (word.isdigit() and after[:1].islower())


def slow_sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    window = max(0, start - 400)
    left = window
    for m in reversed(list(SLOW_END.finditer(text, window, start))):
        if slow_is_end(text, m):
            left = m.end()
            break
    else:
        space = text.find(" ", window)
        left = 0 if window == 0 else (window if space < 0 else space + 1)
    right = min(len(text), end + 400)
    for m in SLOW_END.finditer(text, end, right):
        if slow_is_end(text, m):
            right = m.end()
            break
    while left < start and text[left].isspace():
        left += 1
    return left, right


@example(["ord", " ", "R", "\n", ".", " ", "ord"], 9)  # an initial, then a line break before its dot
@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["ord", "R", "f.eks", "hr", "3", "12", " ", "  ", ".", "!", "?!", "…", "»", "\n", "\n\n", ", ", "x" * 90]
        ),
        max_size=40,
    ),
    st.integers(0, 2000),
)
def test_sentence_bounds_as_first_written(pieces: list[str], at: int) -> None:
    text = "".join(pieces)
    start = min(at, len(text))
    end = min(start + 3, len(text))
    assert sentence_bounds(text, start, end) == slow_sentence_bounds(text, start, end)
