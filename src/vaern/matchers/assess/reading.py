"""What a post says, sentence by sentence: categories read with negation, quotes and questions.

The lexicon (classify.py) says which categories a sentence's words carry. Read alone, it gets
three things wrong, which are put right here:

- Negation: "Hun er ikke en idiot" carries no insult. A category that is only there thanks to
  the words right after "ikke", "aldrig", "ingen" or "hverken" is dropped — unless the lexicon's
  phrase needs the negation itself ("du skal ikke føle dig sikker" is a threat).
- Quotes of others: what someone else wrote, quoted and attributed ("han skrev: »…«", "kaldte
  hende en »idiot«"), is not the author's own threat or insult; its categories are dropped
  (private data stays: the post publishes it either way).
- Questions: "Er det rigtigt, at hun har snydt?" asks; it does not accuse. An accusation in a
  yes/no question is read as criticism. A "hvorfor"-question ("Hvorfor lyver hun?") still
  accuses, and a threat stays a threat whatever the punctuation.

Each sentence also gets `private_info` where privatedata.py finds an item in it. Pure.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from typing import NamedTuple

from vaern.config import CATEGORIES
from vaern.matchers.assess.privatedata import PrivateItem, find_private
from vaern.matchers.classify import Classifier, mask_names, sentence_spans

# The words a negation governs: up to four, after an optional "at"/"om" ("ikke at hun er en svindler").
_NEGATION = re.compile(
    r"\b(?:ikke|aldrig|ingen|intet|hverken|ik)\b,?((?:\s+(?:at|om))?(?:\s+[\w'’-]+){1,4})", re.IGNORECASE
)
_QUOTE = re.compile(r"[\"“”„»«]([^\"“”„»«]{1,400})[\"“”„»«]|(?<!\w)'([^'\n]{1,200})'(?!\w)")
_REPORTING = re.compile(
    r"\b(?:skrev|skriver|skrevet|sagde|siger|sagt|kaldte|kalder|kaldt|påstod|påstår|påstået|citat|citerer|"
    r"mente|mener|hævdede|hævder|råbte|beskyldte|beskylder|anklagede|kommentar|kommenterede|"
    r"som nogen|ifølge|wrote|said)\b",
    re.IGNORECASE,
)
_YES_NO = re.compile(
    r"(?:^|[:;,]\s)\W*(?:er|var|har|havde|kan|kunne|skal|skulle|vil|ville|må|gør|gjorde|bliver|blev|"
    r"passer|stemmer|hvem|hvad|hvordan|mon|monstro)\b",
    re.IGNORECASE,
)
_GRAVE = frozenset(("threat", "insult", "accusation", "incitement"))
_FIRST_PERSON = re.compile(r"(?:vi|jeg)\b", re.IGNORECASE)


class Sentence(NamedTuple):
    """One sentence of a text: its offsets, its categories and the private data in it. A named
    tuple: a stretch read makes one per sentence, and a frozen dataclass costs three times as much
    to make."""

    start: int
    end: int
    categories: tuple[str, ...]
    private: tuple[PrivateItem, ...] = ()


def read(
    classifier: Classifier, text: str, lo: int, hi: int, spans: Sequence[tuple[int, int, bool]] = (),
    sentences: Sequence[tuple[int, int]] | None = None,
) -> list[Sentence]:
    """The sentences of text[lo:hi] with their categories; `spans` (start, end, possessive) are
    the mentions in the text, masked as the lexicon expects ("navn"); `sentences` are the
    sentences' offsets where the caller has them (`sentence_spans`)."""
    out: list[Sentence] = []
    # Private data is looked for in the whole stretch at once: "Sagsnr. 24 55 18 90" is cut into
    # two sentences, and the second alone would read as a phone number.
    all_items = [PrivateItem(i.kind, i.start + lo, i.end + lo, i.text) for i in find_private(text[lo:hi])]
    cut = sentence_spans(text, lo, hi) if sentences is None else sentences
    pieces = _masked(text, cut, spans)
    # The lexicon's words of every sentence are found in one pass over the stretch.
    each, lowered = classifier.words_each(pieces)
    for (start, end), masked, words, low in zip(cut, pieces, each, lowered, strict=True):
        items = tuple(i for i in all_items if start <= i.start < end) if all_items else ()
        # Most sentences hold no word the lexicon knows, and few of the rest one of its phrases:
        # those are not classified.
        if not items and not words[0] and (not words[1] or not classifier.may_hold(masked, words, low)):
            out.append(Sentence(start, end, ()))
            continue
        found = set(categories(classifier, masked, words))
        if items:
            found.add("private_info")
        if any(i.kind == "whereabouts" and _FIRST_PERSON.match(i.text) for i in items):
            found.add("threat")  # "vi ved hvor han bor": telling someone you know where they live
        if found & _GRAVE:
            found.discard("criticism")
        out.append(Sentence(start, end, tuple(c for c in CATEGORIES if c in found), items))
    return out


def _masked(text: str, cut: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int, bool]]) -> list[str]:
    """The sentences of `cut`, each with the mentions starting in it masked (`mask_names`); most
    hold none and are the text as it stands."""
    starts = sorted(s for s, _, _ in spans)
    out: list[str] = []
    for start, end in cut:
        i = bisect.bisect_left(starts, start)
        out.append(mask_names(text, start, end, spans) if i < len(starts) and starts[i] < end else text[start:end])
    return out


def categories(
    classifier: Classifier, sentence: str, words: tuple[set[str], set[int]] | None = None
) -> tuple[str, ...]:
    """The categories of one sentence (mentions already masked), with negation, quotes and
    questions read as the module doc says; `words`: `classifier.words_of(sentence)`, where the
    caller has it."""
    found = set(classifier.classify(sentence, patterns=False, words=words))
    if not found:
        return ()
    if found & _GRAVE:
        found = _without_quoted(classifier, sentence, found)
    if found & _GRAVE:
        found = _without_negated(classifier, sentence, found)
    if "accusation" in found and _is_yes_no_question(sentence):
        found.discard("accusation")
        if not found & _GRAVE:
            found.add("criticism")
    if found & _GRAVE:
        found.discard("criticism")
    return tuple(c for c in CATEGORIES if c in found)


def _without_negated(classifier: Classifier, sentence: str, found: set[str]) -> set[str]:
    for m in _NEGATION.finditer(sentence):
        scope = m.group(1)
        only_scope = set(classifier.classify(scope, patterns=False))
        with_negation = set(classifier.classify(sentence[m.start() : m.end()], patterns=False))
        rest = set(classifier.classify(sentence[: m.start()] + " " + sentence[m.end() :], patterns=False))
        dropped = False
        for category in list(found & _GRAVE):
            if category in rest:
                continue  # said elsewhere in the sentence too
            if category in only_scope and category not in _phrase_needs_negation(with_negation, only_scope):
                found.discard(category)
                dropped = True
        if dropped:
            found |= rest  # what the rest of the sentence says (criticism hidden by the graver word)
    return found


def _phrase_needs_negation(with_negation: set[str], only_scope: set[str]) -> set[str]:
    """Categories a phrase gives only with the negation in it ("ikke føle dig sikker")."""
    return with_negation - only_scope if with_negation != only_scope else set()


def _without_quoted(classifier: Classifier, sentence: str, found: set[str]) -> set[str]:
    quotes = list(_QUOTE.finditer(sentence))
    if not quotes or not _REPORTING.search(sentence):
        return found
    outside = sentence
    for m in reversed(quotes):
        outside = outside[: m.start()] + " " + outside[m.end() :]
    kept = set(classifier.classify(outside, patterns=False))
    return {c for c in found if c not in _GRAVE or c in kept} | kept


def _is_yes_no_question(sentence: str) -> bool:
    stripped = sentence.rstrip(" \"'»”)")
    return stripped.endswith("?") and bool(_YES_NO.search(sentence))
