"""What kind of harassment surrounds a mention: categories of the sentence that holds it.

Categories (CONTRACT.md): `threat`, `incitement` (calling on others to act against the person),
`private_info` (an address, a phone number, a CPR number, an
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

import bisect
import functools
import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ahocorasick

from vaern.config import CATEGORIES, Matching
from vaern.matchers.lexicon import load_zipf, read_data
from vaern.matchers.normalise import fold, spaced, spell_out_danish

_DANISH = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "é": "e"})

# Sentence ends: ! ? … and a blank line always; a full stop before white space unless it ends
# an initial ("R. Rosenkilde"), a common abbreviation, or a number before a lower-case word
# ("d. 3. marts").
# Written to start with one character class, which lets the regex engine skip ahead to the
# next candidate character instead of trying every branch at every position (3x faster).
_END = re.compile(r"[.!?…\n](?:(?<=\n)[ \t]*\n|(?<=[!?…])[!?…]*[\"'»”)]*(?=\s|$)|(?<=\.)[\"'»”)]*(?=\s|$))")
# What a mention is masked as in its sentence (see `Classifier.categories`).
_MASKS = frozenset(("navn", "navns"))
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
    """Compiled lexicons: whole words and word beginnings by hash, phrases by their first letters."""

    words: Mapping[str, frozenset[str]]  # folded word -> categories
    # The first letters of a word beginning -> (the word beginning, its categories)
    prefixes: Mapping[str, tuple[tuple[str, frozenset[str]], ...]]
    phrases: tuple[tuple[str, re.Pattern[str]], ...]  # (category, one phrase; see _phrase_in)
    # A phrase is tried only for a sentence with a word that every match of it holds (one of a
    # few, the rarest there is, see `_keys`): one cheap look-up per word instead of every phrase
    # at every word of every sentence. Such a word -> the indexes of its phrases in `phrases`;
    # a word beginning ("finde" of "finde[r]?") -> its indexes.
    phrase_words: Mapping[str, tuple[int, ...]]
    phrase_starts: Mapping[str, tuple[int, ...]]
    start_lengths: tuple[int, ...]  # the lengths of the keys in `phrase_starts`
    anywhere: tuple[int, ...]  # phrases with no such word: always tried
    # For each phrase, the strings every match of it holds, as options one of each must be in
    # the folded sentence (`_required`): a phrase found by one common word ("vi", "skal") is
    # still not tried where its other words are missing. Empty: nothing more to check.
    required: tuple[tuple[tuple[str, ...], ...], ...] = ()
    # The lexicon's words (" word "), word beginnings (" stem") and phrase keys in one automaton
    # over text whose words stand between single spaces (`words_each`): each -> (categories,
    # phrase indexes, its length).
    scanner: Any = field(default=None, compare=False, repr=False)
    # What the lexicon says of each chunk of text met so far (see `_look_up`), and the chunks it
    # says nothing of: a sentence's chunks are sorted into both at C speed with one set operation.
    seen: dict[str, tuple[frozenset[str], tuple[int, ...]]] = field(default_factory=dict, compare=False, repr=False)
    plain: set[str] = field(default_factory=set, compare=False, repr=False)

    def categories(self, text: str, bounds: tuple[int, int], spans: Sequence[tuple[int, int, bool]]) -> tuple[str, ...]:
        """Categories of text[bounds[0]:bounds[1]], with every mention span in it masked.

        `spans` are (start, end, possessive) of the mentions in the text.
        """
        return self.classify(mask_names(text, bounds[0], bounds[1], spans))

    def classify(
        self, sentence: str, patterns: bool = True, words: tuple[set[str], set[int]] | None = None
    ) -> tuple[str, ...]:
        """Categories of one sentence (names already masked, or none there). `patterns`: also
        look for phone numbers, CPR numbers, e-mail and street addresses (the assessment has its
        own, finer detector for those: matchers/assess/privatedata.py). `words`: what
        `words_of(sentence)` gives, where the caller has it."""
        found, tried = self.words_of(sentence) if words is None else (set(words[0]), words[1])
        if tried:
            self._add_phrases(sentence, tried, found)
        if patterns and "private_info" not in found and _private_data(sentence):
            found.add("private_info")
        if found & {"threat", "insult", "accusation", "incitement"}:
            found.discard("criticism")
        return tuple(c for c in CATEGORIES if c in found)

    def may_hold(
        self, sentence: str, words: tuple[set[str], set[int]] | None = None, lowered: str | None = None
    ) -> bool:
        """Could the sentence (names masked) get a category from the lexicon: does it hold a
        lexicon word or one of its phrases? Cheaper than `classify` where it does not: it stops
        at the first phrase. `words`: `words_of(sentence)`, and `lowered`:
        `_lower_danish(sentence)`, where the caller has them (`words_each`)."""
        found, tried = self.words_of(sentence) if words is None else words
        if found:
            return True
        hit: set[str] = set()
        if tried:
            self._add_phrases(sentence, tried, hit, first=True, lowered=lowered)
        return bool(hit)

    def _add_phrases(
        self, sentence: str, tried: set[int], found: set[str], first: bool = False, lowered: str | None = None
    ) -> None:
        """Add to `found` the categories of the phrases of `tried` (indexes into `phrases`) that
        are in the sentence, but for categories already there; `first`: stop at the first;
        `lowered`: `_lower_danish(sentence)`, where the caller has it."""
        required = self.required
        if required:
            # A sentence whose letters are ASCII or Danish folds to its lower case with the Danish
            # letters spelled out, hyphens made spaces: the required strings (no spaces or
            # hyphens in them) are in the one where they are in the other, so most phrases are
            # ruled out without folding the sentence.
            lowered = _lower_danish(sentence) if lowered is None else lowered
            if lowered is not None:
                tried = {i for i in tried if _holds(lowered, required[i])}
                if not tried:
                    return
        # Where it was lowered, the folded sentence is the lowered one spaced as `fold` spaces.
        folded = fold(sentence) if lowered is None else spaced(lowered)
        for i in sorted(tried):
            category, pattern = self.phrases[i]
            if category in found:
                continue
            if required and not _holds(folded, required[i]):
                continue
            if _phrase_in(pattern, folded):
                found.add(category)
                if first:
                    return

    def words_of(self, sentence: str) -> tuple[set[str], set[int]]:
        """What the lexicon says of the words of one sentence: the categories its words give,
        and the phrases (indexes into `phrases`) that may be in it. Both empty: `classify` gives
        the sentence no category from the lexicon."""
        found: set[str] = set()
        tried: set[int] = set(self.anywhere)
        seen = self.seen
        # Folding works letter by letter and no word spans white space, so the sentence's words
        # are those of its chunks between white space, each folded once and remembered.
        for chunk in set(sentence.split()) - self.plain:
            lexicon = seen.get(chunk) or self._look_up(chunk)
            found |= lexicon[0]
            tried.update(lexicon[1])
        return found, tried

    def words_each(self, sentences: Sequence[str]) -> tuple[list[tuple[set[str], set[int]]], list[str | None]]:
        """`words_of` of each sentence, found in one pass over them all where their letters are
        ASCII or Danish: the lexicon's words by the `scanner` automaton in the lowered text, its
        words put between single spaces as `_WORD` cuts folded text. One by one otherwise. And
        `_lower_danish` of each sentence, where it was lowered with the others (None: not)."""
        joined = "\x00".join(sentences)
        # A "\x00" in the text itself would cut it wrongly (and no sentences: nothing to join).
        one_each = joined.count("\x00") == len(sentences) - 1
        lowered = _lower_danish(joined) if self.scanner is not None and one_each else None
        if lowered is None:
            return [self.words_of(sentence) for sentence in sentences], [None] * len(sentences)
        ascii_only = lowered
        for kept in _FOLD_KEEPS:  # no word character among them: a space cuts words as they do
            if kept in ascii_only:
                ascii_only = ascii_only.replace(kept, " ")
        words = " " + ascii_only.encode("ascii").translate(_NOT_WORD_TO_SPACE).decode("ascii") + " "
        pieces = lowered.split("\x00")
        # Where each sentence's lowered text ends, its "\x00" after it included.
        ends = list(itertools.accumulate(len(piece) + 1 for piece in pieces))
        out: list[tuple[set[str], set[int]]] = [(set(), set(self.anywhere)) for _ in sentences]
        for last, (categories, phrases, length) in self.scanner.iter(words):
            # The match's first letter is at `last - length + 2` in `words`, one on in `lowered`.
            found, tried = out[bisect.bisect_right(ends, last - length + 1)]
            found |= categories
            tried.update(phrases)
        return out, list(pieces)

    def _look_up(self, chunk: str) -> tuple[frozenset[str], tuple[int, ...]]:
        """What the lexicon says of the words of one chunk of text (between white space): their
        categories (as words or by their beginnings) and the phrases that may hold them.
        Remembered: texts repeat their words."""
        categories: set[str] = set()
        phrases: list[int] = []
        for word in _WORD.findall(fold(chunk)):
            categories |= self.words.get(word, frozenset())
            for stem, more in self.prefixes.get(word[:_STEM], ()):
                if word.startswith(stem):
                    categories |= more
            phrases.extend(self.phrase_words.get(word, ()))
            for n in self.start_lengths:
                phrases.extend(self.phrase_starts.get(word[:n], ()))
        lexicon = (frozenset(categories), tuple(phrases))
        if len(self.seen) + len(self.plain) >= _SEEN_LIMIT:
            self.seen.clear()
            self.plain.clear()
        if categories or phrases:
            self.seen[chunk] = lexicon
        else:
            self.plain.add(chunk)
        return lexicon


_SEEN_LIMIT = 200_000  # distinct folded words remembered
# What `_WORD` finds of folded ASCII text: its lower-case letters, digits and "_" (`words_each`).
_WORD_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789_"
_WORD_LETTERS = re.compile(f"[{_WORD_CHARACTERS}]+")
# ASCII text with every byte but those made a space.
_NOT_WORD_TO_SPACE = bytes(b if chr(b) in _WORD_CHARACTERS else 32 for b in range(256))


def _lower_danish(sentence: str) -> str | None:
    """The sentence in lower case with æ, ø, å and é spelled as `fold` spells them and its dashes
    as hyphens, where that leaves it ASCII but for punctuation `fold` keeps (`_FOLD_KEEPS`):
    `fold` then gives the same letters, and the same text once spaced (`spaced`). None
    otherwise."""
    lowered = sentence.lower()
    if lowered.isascii():
        return lowered
    lowered = spell_out_danish(lowered)
    if lowered.isascii():
        return lowered
    for dash in _DASHES:
        if dash in lowered:
            lowered = lowered.replace(dash, "-")
    rest = lowered
    for kept in _FOLD_KEEPS:
        if kept in rest:
            rest = rest.replace(kept, "")
    return lowered if rest.isascii() else None


# Punctuation of ordinary Danish web text: curly quotes, guillemets, bullets and signs `fold`
# keeps as they are, a no-break space it makes a space, and dashes it makes spaces as it does
# hyphens. Each is checked against `fold` itself.
_DASHES = tuple(dash for dash in "–—" if fold(f"a{dash}b") == spaced("a-b"))
_FOLD_KEEPS = tuple(c for c in "’‘“”„«»•·§€°\u00a0" if fold(f"a{c}b") == spaced(f"a{c}b"))


def _holds(text: str, options: tuple[tuple[str, ...], ...]) -> bool:
    """Does `text` hold a string of each option (a phrase's `required`)? Plain loops: asked of
    most sentences with a phrase key, generator expressions cost twice as much here."""
    for option in options:
        for string in option:
            if string in text:
                break
        else:
            return False
    return True


def _phrase_in(pattern: re.Pattern[str], folded: str) -> bool:
    """Does the phrase occur in the folded sentence, starting at the beginning of a word?

    The patterns carry no look-behind for that: a pattern that starts with its letters lets the
    regex engine jump straight to them, so the word start is checked here instead.
    """
    m = pattern.search(folded)
    while m is not None:
        at = m.start()
        if at == 0 or not (folded[at - 1].isalnum() or folded[at - 1] == "_"):
            return True
        m = pattern.search(folded, at + 1)
    return False


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


def sentence_spans(text: str, lo: int = 0, hi: int | None = None) -> list[tuple[int, int]]:
    """The sentences of text[lo:hi], as (start, end) offsets, cut where `sentence_bounds` cuts
    them; white space around a sentence is left out, empty ones are skipped."""
    hi = len(text) if hi is None else hi
    return _spans_between(text, lo, [m.end() for m in _END.finditer(text, lo, hi) if _is_end(text, m)], hi)


def _spans_between(text: str, lo: int, ends: list[int], hi: int) -> list[tuple[int, int]]:
    """The sentences of text[lo:hi] given where they end (`sentence_spans`)."""
    spans: list[tuple[int, int]] = []
    begin = lo
    for stop in [*ends, hi]:
        s, e = begin, stop
        begin = stop
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            spans.append((s, e))
    return spans


def sentences_around(
    text: str, lo: int, hi: int, first: int, last: int, before: int, after: int
) -> list[tuple[int, int]]:
    """The sentences of text[lo:hi] from `before` sentences before the one holding offset
    `first` to `after` sentences after the one holding offset `last`, cut as `sentence_spans`
    cuts them, without cutting the rest of a long text."""
    # Each step needs one side of a sentence only: its start going back, its end going on.
    start = max(lo, _sentence_start(text, first))
    for _ in range(before):
        if start <= lo:
            break
        start = max(lo, _sentence_start(text, start - 1))
    on = _ends_on(text, start, hi, last, after)
    if on is not None:
        return _spans_between(text, start, *on)
    stop = _sentence_end(text, last)
    found = 0
    for m in _END.finditer(text, stop, hi):
        if found >= after:
            break
        if _is_end(text, m):
            stop = m.end()
            found += 1
    else:
        stop = hi if found < after else stop
    return sentence_spans(text, start, min(hi, max(stop, last + 1)))


def _ends_on(text: str, start: int, hi: int, last: int, after: int) -> tuple[list[int], int] | None:
    """The sentence ends from `start` on, up to `after` ends after the one closing the sentence
    that holds offset `last`, found in one pass, each decided once; and where the sentences
    read stop (the last of those ends, or `hi` where there are fewer). None where the one pass
    might cut otherwise than `_sentence_end` and `sentence_spans` do: a possible end around
    `last` itself, or no end within the 400 characters `_sentence_end` looks at."""
    ends: list[int] = []
    own = -1  # the index in `ends` of the end of the sentence holding `last`
    for m in _END.finditer(text, start, hi):
        begin, stop = m.span()
        if begin < last < stop:
            return None
        if not _is_end(text, m):
            continue
        if own < 0 and begin >= last:
            if stop >= last + 400:
                return None
            own = len(ends)
        ends.append(stop)
        if own >= 0 and len(ends) - 1 - own >= after:
            return ends, ends[-1]
    if own < 0 and hi > last + 400:
        return None
    return ends, hi


def sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence of text around [start, end): boundaries inside the span itself are ignored."""
    return _sentence_start(text, start), _sentence_end(text, end)


def _sentence_start(text: str, start: int) -> int:
    """Where the sentence holding offset `start` begins (see `sentence_bounds`)."""
    left = -1
    # Most sentences are short: the last end before the span is looked for close by first, and
    # only then up to 400 characters back (the last end in the near stretch is the last one).
    for reach in (100, 400):
        window = max(0, start - reach)
        for m in reversed(list(_END.finditer(text, window, start))):
            if _is_end(text, m):
                left = m.end()
                break
        if left >= 0 or window == 0:
            break
    if left < 0:
        left = 0 if window == 0 else _after_space(text, window)
    while left < start and text[left].isspace():
        left += 1
    return left


def _sentence_end(text: str, end: int) -> int:
    """Where the sentence holding offset `end` ends: its first end from there, at most 400
    characters on (see `sentence_bounds`)."""
    right = min(len(text), end + 400)
    for m in _END.finditer(text, end, right):
        if _is_end(text, m):
            return m.end()
    return right


def _after_space(text: str, pos: int) -> int:
    """A very long sentence is cut at a word boundary, not inside a word."""
    space = text.find(" ", pos)
    return pos if space < 0 else space + 1


def _is_end(text: str, m: re.Match[str]) -> bool:
    at = m.start()
    if text[at] != ".":
        return True
    # The word (letters, digits and dots) right before the full stop (or before a line break
    # there), at most 12 characters back.
    lo = at - 12 if at > 12 else 0
    end = at - 1 if at > lo and text[at - 1] == "\n" else at
    if end - lo >= 6 and text[end - 6 : end].isalpha():
        return True  # a word of six letters or more is no initial, abbreviation or number
    i = end
    while i > lo and (text[i - 1].isalnum() or text[i - 1] in "_."):
        i -= 1
    if i == end:
        return True
    word = text[i:end].lower()
    if len(word) == 1 and word.isalpha():
        return False  # an initial
    if word in _ABBREVIATIONS:
        return False
    if not word.isdigit():
        return True
    after = text[m.end() : m.end() + 40].lstrip()
    return not after[:1].islower()


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
    compiled: list[tuple[str, re.Pattern[str]]] = []
    required: list[tuple[tuple[str, ...], ...]] = []
    key_words: dict[str, list[int]] = {}
    starts: dict[str, list[int]] = {}
    anywhere: list[int] = []
    for category, ps in phrases.items():
        for pattern in ps:
            index = len(compiled)
            compiled.append((category, re.compile(r"(?:" + pattern + r")(?!\w)")))
            # The rarest first: most phrases are ruled out by their first check.
            required.append(tuple(sorted(_required(pattern), key=_option_rarity)))
            keys = _keys(pattern)
            if keys is None:
                anywhere.append(index)
            for letters, whole in keys or ():
                if whole:
                    key_words.setdefault(letters, []).append(index)
                else:
                    starts.setdefault(letters, []).append(index)
    return Classifier(
        words={w: frozenset(c) for w, c in words.items()},
        prefixes={k: tuple(v) for k, v in by_start.items()},
        phrases=tuple(compiled),
        phrase_words={k: tuple(sorted(set(v))) for k, v in key_words.items()},
        phrase_starts={k: tuple(sorted(set(v))) for k, v in starts.items()},
        start_lengths=tuple(sorted({len(k) for k in starts}, reverse=True)),
        anywhere=tuple(anywhere),
        required=tuple(required),
        scanner=_scanner(
            [(f" {w} ", frozenset(c), ()) for w, c in words.items()]
            + [(f" {stem}", categories, ()) for entries in by_start.values() for stem, categories in entries]
            + [(f" {w} ", frozenset(), tuple(v)) for w, v in key_words.items()]
            + [(f" {k}", frozenset(), tuple(v)) for k, v in starts.items()]
        ),
    )


def _scanner(entries: list[tuple[str, frozenset[str], tuple[int, ...]]]) -> Any:
    """An Aho-Corasick automaton of the lexicon's words (" word ": whole) and word beginnings
    (" stem": a word starting so), each -> (its categories, its phrase indexes, its length).
    A word `_WORD` could never cut from folded text (a space, a hyphen) is left out, as
    `words_of` never finds it either."""
    merged: dict[str, tuple[frozenset[str], tuple[int, ...]]] = {}
    for key, categories, phrases in entries:
        if not _WORD_LETTERS.fullmatch(key.strip(" ")):
            continue
        before = merged.get(key, (frozenset(), ()))
        merged[key] = (before[0] | categories, before[1] + phrases)
    automaton = ahocorasick.Automaton()
    for key, (categories, phrases) in merged.items():
        automaton.add_word(key, (categories, tuple(sorted(set(phrases))), len(key)))
    automaton.make_automaton()
    return automaton


def _beginnings(pattern: str, after: str = "") -> set[tuple[str, bool]] | None:
    """The literal letters a phrase pattern starts with, one for each way it can start, each with
    whether they are its whole first word; None when that is not plain to see (it starts with
    "\\w", a class, an optional group ...). `after` is what follows `pattern` in the phrase.

    Reads only the few shapes the lexicon uses at the start of a phrase: letters, a group of
    alternatives, top-level alternatives; anything else is None, so the phrase is always tried.
    """
    alternatives = _split_alternatives(pattern)
    if len(alternatives) > 1:
        out: set[tuple[str, bool]] = set()
        for alternative in alternatives:
            found = _beginnings(alternative, after)
            if found is None:
                return None
            out |= found
        return out
    if pattern.startswith("(") and not pattern.startswith("(?"):
        close = _group_end(pattern)
        if close < 0 or pattern[close + 1 : close + 2] in ("?", "*", "{"):
            return None  # an optional group: the phrase may start with what follows it
        return _beginnings(pattern[1:close], pattern[close + 1 :] + after)
    word = _word_start(pattern, after)
    if not word:
        return None
    rest = (pattern + after)[len(word) :]
    return {(word, rest == "" or rest.startswith((" ", "\\ ", "\\s")))}


_LETTERS = re.compile(r"[^\W_]*")


def _keys(pattern: str) -> set[tuple[str, bool]] | None:
    """What to look a phrase up by: words (whole: True) or word beginnings (False), one of which
    every match of it holds; None if there is nothing to look it up by.

    The options are its top-level whole words ("ikke i orden": "orden"), its top-level groups
    of plain alternatives ("(ligeglad|fraværende)": both), its top-level word beginnings
    ("finde" in "finde[r]?") and the ways it starts (`_beginnings`). The best is the rarest in
    Danish text (`_frequency`): "styr", not "ikke", in "har ikke styr på"; never the mask word
    every sentence classified around a mention holds.
    """
    options = [set(keys) for keys in _word_keys(pattern)]
    beginnings = _beginnings(pattern)
    if beginnings is not None:
        options.append(beginnings)
    options = [keys for keys in options if not any(word in _MASKS for word, _ in keys)]
    return min(options, key=_rarity, default=None)


def _required(pattern: str) -> tuple[tuple[str, ...], ...]:
    """Strings every match of a phrase pattern holds, as options (one string of each option is
    in every match): its top-level words and groups of plain alternatives (`_key_words`), and
    its top-level runs of three letters or more ("finde" in "finde[r]?"). Only what is plain to
    see; a pattern with top-level alternatives gives nothing."""
    if len(_split_alternatives(pattern)) > 1:
        return ()
    options = [tuple(sorted(words)) for words in _key_words(pattern)]
    runs: list[str] = []
    run = ""
    depth = 0
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if depth == 0 and c.isalpha():
            run += c
            i += 1
            continue
        if c in "?*{":
            run = run[:-1]  # the letter before a quantifier may be missing
        if len(run) >= 3:
            runs.append(run)
        run = ""
        if c == "\\":
            i += 2
        elif c == "[":
            i = _class_end(pattern, i) + 1
        elif c == "{":
            i = pattern.index("}", i) + 1
        else:
            depth += (c == "(") - (c == ")")
            i += 1
    if len(run) >= 3:
        runs.append(run)
    options += [(r,) for r in runs]
    return tuple(dict.fromkeys(options))


def _rarity(keys: set[tuple[str, bool]]) -> tuple[float, int, list[tuple[str, bool]]]:
    """How often Danish text holds one of `keys` (lower is rarer), then how many there are."""
    return sum(_frequency(letters, whole) for letters, whole in keys), len(keys), sorted(keys)


def _option_rarity(option: tuple[str, ...]) -> tuple[float, int, list[tuple[str, bool]]]:
    """`_rarity` of a required option (strings, each found anywhere in a word)."""
    return _rarity({(x, False) for x in option})


def _frequency(letters: str, whole: bool) -> float:
    """How often a folded word (whole) or a word beginning is met in Danish text: wordfreq's
    frequencies per billion words, summed over the words it covers. A word wordfreq does not
    list counts as the rarest it lists."""
    words, totals = _folded_frequencies()
    lo = bisect.bisect_left(words, letters)
    hi = lo + (lo < len(words) and words[lo] == letters) if whole else bisect.bisect_left(words, letters + "\uffff")
    return totals[hi] - totals[lo] + _UNLISTED


_UNLISTED = 10.0**3  # Zipf 3, wordfreq's lowest listed frequency


@functools.lru_cache(maxsize=1)
def _folded_frequencies() -> tuple[list[str], list[float]]:
    """wordfreq's Danish words folded as texts are, sorted, with running totals of frequency."""
    table: dict[str, float] = {}
    for word, zipf in load_zipf().items():
        folded = fold(word)
        table[folded] = table.get(folded, 0.0) + 10.0**zipf
    words = sorted(table)
    return words, [0.0, *itertools.accumulate(table[w] for w in words)]


def _key_words(pattern: str) -> list[frozenset[str]]:
    """The phrase's top-level whole words, and its top-level groups of plain alternatives, not
    made optional: sets of words, one of which every match holds whole."""
    return [frozenset(w for w, _ in keys) for keys in _word_keys(pattern) if all(whole for _, whole in keys)]


def _word_keys(pattern: str) -> list[frozenset[tuple[str, bool]]]:
    """What `_key_words` gives, and the phrase's top-level word beginnings: letters that start a
    word and go on ("finde" in "finde[r]?", "(sikker|tryg)" in "(sikker|tryg)e?"), as
    (letters, whole) sets one of which every match holds."""
    if len(_split_alternatives(pattern)) > 1:
        return []
    # A word at either end is a whole word too; an optional group of words each followed by a
    # space ("(nok )?", "(\\w+ ){0,2}") leaves a space before what follows it either way.
    text = _OPTIONAL_WORDS.sub("", f" {pattern} ")
    options: list[frozenset[tuple[str, bool]]] = []
    i = 1
    while i < len(text) - 1:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = _class_end(text, i) + 1
            continue
        if c == "(":
            close = i + _group_end(text[i:])
            if close < i:
                return []
            if text[i - 1] == " " and not text.startswith("(?", i):
                alternatives = _split_alternatives(text[i + 1 : close])
                if text[close + 1] == " ":
                    words = [_longest_word(alternative) for alternative in alternatives]
                    if all(words):
                        options.append(frozenset((w, True) for w in words if w))
                elif text[close + 1] not in "?*{":
                    starts = [_word_start(alternative) for alternative in alternatives]
                    if all(starts):
                        options.append(frozenset((w, False) for w in starts))
            i = close + 1
            continue
        letters = _LETTERS.match(text, i)
        assert letters is not None  # the pattern matches the empty string
        if letters.group() and text[i - 1] == " ":
            if text[letters.end()] == " ":
                options.append(frozenset([(letters.group(), True)]))
            elif start := _word_start(text[i:]):
                options.append(frozenset([(start, False)]))
        i = max(i + 1, letters.end())
    return options


def _word_start(pattern: str, after: str = "") -> str:
    """The letters every match of `pattern` starts with ("finde" of "finde[r]?", "falsk" of
    "falske?": the last letter before a quantifier may be missing); empty if none. `after` is
    what follows `pattern` in the phrase."""
    letters = _LETTERS.match(pattern)
    assert letters is not None  # the pattern matches the empty string
    word = letters.group()
    return word[:-1] if (pattern[len(word) :] + after)[:1] in ("?", "*", "{") and word else word


_OPTIONAL_WORDS = re.compile(r"(?<= )\((?:[^()|]* \|)*[^()|]* \)(?:\?|\*|\{0,\d+\})")


def _longest_word(alternative: str) -> str | None:
    """The longest word of a group alternative made of plain words only ("betale for"), or None."""
    words = alternative.split(" ")
    return max(words, key=len) if all(_LETTERS.fullmatch(w) and w for w in words) else None


def _scan(pattern: str) -> Iterator[tuple[int, str, int]]:
    """Each character of `pattern` outside character classes and escapes, with its index and the
    group depth once it is read (so a "(" reports its own group, a ")" the group around it)."""
    depth = 0
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = _class_end(pattern, i)
        else:
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            yield i, c, depth
        i += 1


def _split_alternatives(pattern: str) -> list[str]:
    """`pattern` cut at its top-level "|" (not inside a group, a class or after a backslash)."""
    parts: list[str] = []
    begin = 0
    for i, c, depth in _scan(pattern):
        if c == "|" and depth == 0:
            parts.append(pattern[begin:i])
            begin = i + 1
    parts.append(pattern[begin:])
    return parts


def _group_end(pattern: str) -> int:
    """The index of the ")" closing the group that opens at pattern[0], or -1."""
    return next((i for i, c, depth in _scan(pattern) if c == ")" and depth == 0), -1)


def _class_end(pattern: str, i: int) -> int:
    """The index of the "]" closing the character class that opens at pattern[i]."""
    j = i + 1
    if pattern[j : j + 1] == "^":
        j += 1
    if pattern[j : j + 1] == "]":
        j += 1  # a "]" first in a class is a literal
    while j < len(pattern) and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j


def mask_names(text: str, start: int, end: int, spans: Sequence[tuple[int, int, bool]]) -> str:
    """text[start:end] with every mention span in it (start, end, possessive) masked: the name
    becomes a neutral word, so that a name like "Storm" or "Have" is no lexicon word, and patterns
    can say "navn"; a possessive keeps its -s."""
    pieces: list[str] = []
    pos = start
    for s, e, possessive in sorted(spans):
        if e <= start or s >= end or s < pos:
            continue
        pieces.append(text[pos:s])
        pieces.append(" navns " if possessive else " navn ")
        pos = e
    pieces.append(text[pos:end])
    return "".join(pieces)
