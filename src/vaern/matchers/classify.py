"""What kind of harassment surrounds a mention: categories of the sentence that holds it.

Categories (CONTRACT.md): `threat`, `private_info` (an address, a phone number, a CPR number, an
e-mail, health/family/private-life details), `insult`, `accusation` (of crimes or misconduct),
`criticism` (lawful opinion). A sentence may get several, or none.

Words and patterns are Danish lexicons shipped as package data (`data/categories.da.txt`);
`matching.categories` in the config adds words per category. Phone numbers, CPR numbers,
e-mail and street addresses are recognised by pattern here. Precision matters more than recall
(a wrong `threat` scares a leader): patterns are narrow, and `criticism` — the lawful tier — is
not given to a sentence that already is a threat, an insult or an accusation.

Pure: lexicons are compiled once by `build_classifier`; classifying does no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vaern.config import CATEGORIES, Matching
from vaern.matchers.lexicon import read_data
from vaern.matchers.normalise import fold

_DANISH = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "é": "e"})

# Sentence ends: ! ? … and a blank line always; a full stop before white space unless it ends
# an initial ("R. Rosenkilde"), a common abbreviation, or a number before a lower-case word
# ("d. 3. marts").
_END = re.compile(r"[!?…]+[\"'»”)]*(?=\s|$)|\.[\"'»”)]*(?=\s|$)|\n[ \t]*\n")
_ABBREVIATIONS = frozenset(
    "bl.a f.eks ca nr kl hr dr fru frk mht jf evt inkl ang dvs mv osv pga ifm tlf vedr st sct".split()
)

_PHONE = re.compile(r"(?<![\d,.])(?:\+45[ \-]?)?(?:\d{2}[ \-]?){3}\d{2}(?![\d,])")
_CPR = re.compile(r"(?<!\d)([0-3]\d)([01]\d)\d{2}[ \-]?\d{4}(?!\d)")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_STREET = re.compile(
    r"\b[A-ZÆØÅ][a-zæøåé]*(?:vej|gade|allé|alle|stræde|stien|vænget|vænge|plads|torv|parken|bakken|toften|"
    r"haven|boulevard|kvarter|engen|løkken|højen|marken|vangen|stykket)\s+\d{1,4}\s?[A-Za-z]?\b"
)
_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"\w+")
_STEM = 3  # word beginnings ("idiot*") are looked up by their first letters
_POSTCODE = re.compile(r"\b[1-9]\d{3}\s+[A-ZÆØÅ][a-zæøå]+")


def _pattern_fold(pattern: str) -> str:
    """Fold a lexicon pattern the way texts are folded, leaving regex syntax alone."""
    return pattern.translate(_DANISH)


@dataclass(frozen=True)
class Classifier:
    """Compiled lexicons: whole words and word beginnings by hash, phrases by one regex each."""

    words: Mapping[str, frozenset[str]]  # folded word -> categories
    # The first letters of a word beginning -> (the word beginning, its categories)
    prefixes: Mapping[str, tuple[tuple[str, frozenset[str]], ...]]
    phrases: re.Pattern[str]  # every category's phrases, each category a named group

    def categories(self, text: str, bounds: tuple[int, int], spans: Sequence[tuple[int, int, bool]]) -> tuple[str, ...]:
        """Categories of text[bounds[0]:bounds[1]], with every mention span in it masked.

        `spans` are (start, end, possessive) of the mentions in the text.
        """
        start, end = bounds
        pieces: list[str] = []
        pos = start
        for s, e, possessive in sorted(spans):
            if e <= start or s >= end or s < pos:
                continue
            pieces.append(text[pos:s])
            # The name becomes a neutral word, so that a name like "Storm" or "Have" is no
            # lexicon word, and patterns can say "navn"; a possessive keeps its -s.
            pieces.append(" navns " if possessive else " navn ")
            pos = e
        pieces.append(text[pos:end])
        return self.classify("".join(pieces))

    def classify(self, sentence: str) -> tuple[str, ...]:
        """Categories of one sentence (names already masked, or none there)."""
        found: set[str] = set()
        folded = fold(sentence)
        words = self.words
        prefixes = self.prefixes
        for word in _WORD.findall(folded):
            hit = words.get(word)
            if hit is not None:
                found |= hit
            for stem, categories in prefixes.get(word[:_STEM], ()):
                if word.startswith(stem):
                    found |= categories
        # One pass over the sentence for every category's phrases.
        for m in self.phrases.finditer(folded):
            found.add(str(m.lastgroup))
        if "private_info" not in found and _private_data(sentence):
            found.add("private_info")
        if found & {"threat", "insult", "accusation"}:
            found.discard("criticism")
        return tuple(c for c in CATEGORIES if c in found)


def _private_data(sentence: str) -> bool:
    """A phone number, CPR number, e-mail address or street address in the sentence."""
    if "@" in sentence and _EMAIL.search(sentence):
        return True
    if not _DIGIT.search(sentence):
        return False  # every other kind has digits
    if _STREET.search(sentence):
        return True
    for m in _CPR.finditer(sentence):
        if 1 <= int(m.group(1)) <= 31 and 1 <= int(m.group(2)) <= 12:
            return True
    if _PHONE.search(sentence):
        return True
    return bool(_POSTCODE.search(sentence) and re.search(r"\bbor\b", sentence))


def sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence of text around [start, end): boundaries inside the span itself are ignored."""
    window = max(0, start - 400)
    left = window
    for m in reversed(list(_END.finditer(text, window, start))):
        if _is_end(text, m):
            left = m.end()
            break
    else:
        left = 0 if window == 0 else _after_space(text, window)
    right = min(len(text), end + 400)
    for m in _END.finditer(text, end, right):
        if _is_end(text, m):
            right = m.end()
            break
    while left < start and text[left].isspace():
        left += 1
    return left, right


def _after_space(text: str, pos: int) -> int:
    """A very long sentence is cut at a word boundary, not inside a word."""
    space = text.find(" ", pos)
    return pos if space < 0 else space + 1


def _is_end(text: str, m: re.Match[str]) -> bool:
    if not m.group().startswith("."):
        return True
    before = re.search(r"([\w.]+)$", text[max(0, m.start() - 12) : m.start()])
    if before is None:
        return True
    word = before.group(1).lower()
    if len(word) == 1 and word.isalpha():
        return False  # an initial
    if word in _ABBREVIATIONS:
        return False
    after = text[m.end() : m.end() + 40].lstrip()
    return not (word.isdigit() and after[:1].islower())


def build_classifier(settings: Matching | None = None) -> Classifier:
    """Compile the shipped lexicon plus the config's extra words."""
    settings = settings or Matching()
    entries: list[tuple[str, str]] = []
    current: str | None = None
    for line in read_data("categories.da.txt"):
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            if current not in CATEGORIES:
                raise ValueError(f"categories.da.txt: unknown category {current!r}")
        elif current is None:
            raise ValueError("categories.da.txt: an entry before the first [category]")
        else:
            entries.append((current, line))
    for category, extra in settings.categories.items():
        for entry in extra:
            entry = entry.strip()
            if " " in entry:
                entries.append(
                    (
                        category,
                        "~ " + re.escape(fold(entry.rstrip("*"))) + (r"\w*" if entry.endswith("*") else ""),
                    )
                )
            elif entry:
                entries.append((category, entry))
    words: dict[str, set[str]] = {}
    prefixes: dict[int, dict[str, set[str]]] = {}
    phrases: dict[str, list[str]] = {}
    for category, entry in entries:
        if entry.startswith("~"):
            phrases.setdefault(category, []).append(_pattern_fold(entry[1:].strip()))
        elif entry.endswith("*"):
            stem = fold(entry[:-1])
            prefixes.setdefault(len(stem), {}).setdefault(stem, set()).add(category)
        else:
            words.setdefault(fold(entry), set()).add(category)
    by_start: dict[str, list[tuple[str, frozenset[str]]]] = {}
    for table in prefixes.values():
        for stem, categories in table.items():
            if len(stem) < _STEM:
                raise ValueError(f"categories: a word beginning needs {_STEM} letters or more: {stem!r}*")
            by_start.setdefault(stem[:_STEM], []).append((stem, frozenset(categories)))
    groups = "|".join(f"(?P<{c}>" + "|".join(f"(?:{p})" for p in ps) + ")" for c, ps in phrases.items())
    return Classifier(
        words={w: frozenset(c) for w, c in words.items()},
        prefixes={k: tuple(v) for k, v in by_start.items()},
        phrases=re.compile(r"(?<!\w)(?:" + (groups or "(?!)") + r")(?!\w)"),
    )
