"""Mentions found by context: later references to a person a post has already named in full.

Once a post (or a page without posts) names a watched person by a whole-name mention (the
anchor), later in the same post these count as mentions of that person too, marked
`found="context"`:

- the surname alone, or the given name alone, capitalised or in capitals ("Rosenkilde",
  "RENÉ"), where no other person anchored in the post shares it;
- a personal pronoun (han, hun, ham, hende, hans, hendes) after a mention, given to the person
  mentioned last before it whom it fits (by the given name's gender, `given_name_gender.txt`);
  where the post names several people, only within `PRONOUN_REACH` sentences.

A surname alone with no anchor in the post (`lone_surnames`) is `possible`, unless exactly one
watched person has that surname and the sentence around it is harassing (a threat, an insult,
an accusation, incitement or private data): then it is `high`, and the reason says so. It is
not read at all where the post writes the surname after another given name ("Jens Dahl"), a
person nobody watches: the post is about someone else. Pure.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from vaern.domain import Mention, WatchedPerson
from vaern.matchers.classify import sentence_spans
from vaern.matchers.lexicon import read_data
from vaern.matchers.normalise import fold

PRONOUN_REACH = 3  # sentences after a mention in which a pronoun still refers to that person
_PRONOUNS = frozenset(("han", "hun", "ham", "hende", "hans", "hendes"))
_PRONOUN_GENDER = {"han": "m", "ham": "m", "hans": "m", "hun": "f", "hende": "f", "hendes": "f"}


@functools.cache
def _genders() -> dict[str, str]:
    """Folded given name -> "m" or "f" (package data; names given to both are not in it)."""
    out: dict[str, str] = {}
    for line in read_data("given_name_gender.txt"):
        name, _, gender = line.rpartition(" ")
        out[name] = gender
    return out


@functools.lru_cache(maxsize=65536)  # asked for every pronoun and every mention before it
def gender_of(person: WatchedPerson | None) -> str | None:
    """"m", "f" or None (not known) for a watched person, by their first given name."""
    if person is None:
        return None
    words = _WORD.findall(person.name)
    if not words:
        return None
    first = fold(re.split(r"[-]", words[0])[0])
    return _genders().get(first)
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_REFERENCE = re.compile(
    r"(?<![\w'’-])(?:[A-ZÆØÅÉÜÖÄ][\w'’-]*|han|hun|ham|hende|hans|hendes)(?![\w'’-])"
)
_CAPITALISED = re.compile(r"(?<![\w'’-])[A-ZÆØÅÉÜÖÄ][\w'’-]*")
# A pronoun in any case, a whole word as `_word_char` has words; starting with its first letter
# lets the regex engine skip to each "h", and the look-behind after it checks the letter before.
_PRONOUN_WORD = re.compile(
    r"[Hh](?<![\w'’-][Hh])(?:[Ee][Nn][Dd][Ee][Ss]|[Ee][Nn][Dd][Ee]|[Aa][Nn][Ss]|[Aa][Nn]|[Aa][Mm]|[Uu][Nn])(?![\w'’-])"
)
_HARASSING = frozenset(("threat", "insult", "accusation", "incitement", "private_info"))


@dataclass(frozen=True)
class NameParts:
    """The folded given names and surnames of the watched people, and who has each."""

    given: dict[str, tuple[str, ...]]
    surname: dict[str, tuple[str, ...]]
    # A word as written -> who has it as surname (remembered: texts repeat their words).
    seen: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)
    # Chunks of text (between white space) known to hold no capitalised word that is a watched
    # surname, and those known to hold some (-> those words): a text's chunks are sorted out
    # against them with one set operation at C speed.
    plain: set[str] = field(default_factory=set, compare=False, repr=False)
    folds: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    holding: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)
    capitals: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict, compare=False, repr=False)

    def folded(self, word: str) -> str:
        """fold(word), remembered (in `seen`'s company: texts repeat their words)."""
        found = self.folds.get(word)
        if found is None:
            if len(self.folds) > 200_000:
                self.folds.clear()
            found = self.folds[word] = fold(word)
        return found

    def capitalised(self, chunk: str) -> tuple[tuple[str, str], ...]:
        """The capitalised words of a chunk of text that are no pronoun, each with its folded
        form (remembered: texts repeat their words)."""
        found = self.capitals.get(chunk)
        if found is None:
            if len(self.capitals) > 200_000:
                self.capitals.clear()
            found = self.capitals[chunk] = tuple(
                (w, self.folded(w)) for w in _CAPITALISED.findall(chunk) if w.lower() not in _PRONOUNS
            )
        return found

    def surname_of(self, word: str) -> tuple[str, ...]:
        found = self.seen.get(word)
        if found is None:
            if len(self.seen) > 200_000:
                self.seen.clear()
            found = self.seen[word] = self.surname.get(fold(word), ())
        return found

    def surnames_among(self, chunks: AbstractSet[str]) -> dict[str, tuple[str, ...]]:
        """The distinct capitalised words in `chunks` (a text's whitespace-separated chunks) that
        are some watched person's surname, and who has each. The same words `_CAPITALISED` finds
        in the text: no such word spans white space, and a chunk starts after white space."""
        if len(self.plain) + len(self.holding) > 200_000:
            self.plain.clear()
            self.holding.clear()
        known: dict[str, tuple[str, ...]] = {}
        for chunk in chunks - self.plain:
            words = self.holding.get(chunk)
            if words is None:
                words = tuple(w for w in _CAPITALISED.findall(chunk) if self.surname_of(w))
                if not words:
                    self.plain.add(chunk)
                    continue
                self.holding[chunk] = words
            for word in words:
                known[word] = self.surname_of(word)
        return known


@functools.lru_cache(maxsize=65536)  # asked for each person anchored in each post
def _own_parts(person: WatchedPerson | None) -> tuple[str, ...]:
    """The folded given name and surname parts a watched person may be referred to by alone."""
    if person is None:
        return ()
    words = _WORD.findall(person.name)
    if len(words) < 2:
        return ()
    return (fold(words[0]), *(fold(part) for part in re.split(r"[-]", words[-1]) if len(part) >= 3))


def name_parts(people: Sequence[WatchedPerson]) -> NameParts:
    given: dict[str, list[str]] = {}
    surname: dict[str, list[str]] = {}
    for p in people:
        own = _own_parts(p)
        if not own:
            continue
        given.setdefault(own[0], []).append(p.id)
        for part in own[1:]:
            surname.setdefault(part, []).append(p.id)
    return NameParts(
        given={k: tuple(dict.fromkeys(v)) for k, v in given.items()},
        surname={k: tuple(dict.fromkeys(v)) for k, v in surname.items()},
    )


def _capitalised(word: str) -> bool:
    return word[:1].isupper()


def _covered(taken: Sequence[tuple[int, int]], start: int, end: int) -> bool:
    """Does [start, end) overlap one of `taken` (sorted by start)?"""
    i = bisect.bisect_left(taken, (end, -1))
    for s, e in taken[max(0, i - 8) : i]:  # a plain loop: asked of every pronoun and name part
        if s < end and start < e:
            return True
    return False


def in_context(
    text: str, lo: int, hi: int, mentions: Sequence[Mention], parts: NameParts, people: dict[str, WatchedPerson],
    sentences: list[tuple[int, int]] | None = None, chunks: AbstractSet[str] | None = None,
) -> list[Mention]:
    """The context mentions of text[lo:hi] (one post), given its mentions found as text.
    `chunks`: the text's whitespace-separated chunks, or only those holding a part of a watched
    name (every given name or surname written alone is in one), where the caller has them."""
    anchors = [m for m in mentions if lo <= m.start < hi and m.found == "text"]
    if not anchors:
        return []
    anchored = {m.person for m in anchors}
    first_anchor = min(m.start for m in anchors)
    taken = sorted((m.start, m.end) for m in mentions)
    # Which anchored person each given name and surname may stand for.
    owners: dict[str, set[str]] = {}
    for pid in anchored:
        for key in _own_parts(people.get(pid)):
            owners.setdefault(key, set()).add(pid)
    # Each person's strongest whole-name mention lends its confidence; references count only
    # after the person's first whole-name mention in the post.
    best: dict[str, Mention] = {}
    first: dict[str, int] = {}
    for a in sorted(anchors, key=lambda m: (m.confidence != "high", -m.score, m.start)):
        best.setdefault(a.person, a)
        first[a.person] = min(first.get(a.person, a.start), a.start)
    sentences = sentence_spans(text, lo, hi) if sentences is None else sentences
    found: list[Mention] = []
    pronouns: list[tuple[int, int, str]] = []
    # Later references are looked for as far as the text is read (assess: the sentences cut).
    reach = min(hi, sentences[-1][1]) if sentences else hi
    # Only capitalised words (a name written alone is capitalised, or in capitals) and pronouns.
    references: list[tuple[int, int, str]] = []
    if chunks is None:
        for m in _REFERENCE.finditer(text, first_anchor, reach):
            word = m.group()
            if word.lower() in _PRONOUNS:
                pronouns.append((m.start(), m.end(), word))
            else:
                references.append((m.start(), m.end(), word))
    else:
        # The same words, looked for where they can be: the anchored people's name parts among
        # the chunks given, and the pronouns (as `_REFERENCE` has them: lower case, or capitalised).
        wanted: dict[str, tuple[str, ...]] = {
            w: () for chunk in chunks for w, key in parts.capitalised(chunk) if key in owners
        }
        references = [(s, e, w) for s, e, w, _ in _places(text, first_anchor, reach, wanted)]
        pronouns = _pronouns(text, first_anchor, reach)
    for start, end, word in references:
        key = parts.folded(word)
        who = owners.get(key)
        if who is None or len(who) != 1 or _covered(taken, start, end):
            continue
        pid = next(iter(who))
        anchor = best[pid]
        if start < first[pid]:
            continue
        kind = "surname" if key in parts.surname and pid in parts.surname[key] else "given name"
        found.append(_context_mention(anchor, start, end, word, f"{kind} alone after the full name"))
    # Pronouns: to the person mentioned last (a pronoun itself counts), within PRONOUN_REACH
    # sentences of that mention where the post names several people; anywhere after the name
    # where it names one.
    everyone = sorted([*anchors, *found], key=lambda x: x.start)
    names_one = len({x.person for x in mentions if lo <= x.start < hi}) == 1
    genders = {pid: gender_of(people.get(pid)) for pid in anchored} if pronouns else {}
    starts = [s for s, _ in sentences] if pronouns and not names_one else []
    for start, end, said in pronouns:
        if _covered(taken, start, end):
            continue  # part of a name ("Hans Jensen")
        gender = _PRONOUN_GENDER[said.lower()]
        # The last person mentioned whom the pronoun fits ("han" never refers to a Mette).
        last = next((x for x in reversed(everyone) if x.end <= start and genders[x.person] in (None, gender)), None)
        if last is None:
            continue
        if not names_one and _sentences_between(starts, last.end, start) > PRONOUN_REACH:
            continue
        pronoun_anchor = best.get(last.person)
        if pronoun_anchor is None:
            continue
        pronoun = _context_mention(pronoun_anchor, start, end, said, "pronoun after the full name")
        found.append(pronoun)
        everyone.append(pronoun)
    return sorted(found, key=lambda x: x.start)


def _sentences_between(starts: list[int], a: int, b: int) -> int:
    """How many of the sentences starting at `starts` (in order) start after offset `a`, up to `b`."""
    return bisect.bisect_right(starts, b) - bisect.bisect_right(starts, a)


def _context_mention(anchor: Mention, start: int, end: int, matched: str, why: str) -> Mention:
    # The anchor with every field of Mention written out: a window holds many pronouns, and
    # dataclasses.replace costs about three times as much.
    return Mention(
        person=anchor.person, start=start, end=end, matched=matched, score=anchor.score,
        confidence=anchor.confidence, variant="context", compared=(matched, anchor.matched),
        categories=anchor.categories, why=(f"{why} '{anchor.matched}'",), found="context",
    )


def is_pronoun(mention: Mention) -> bool:
    return mention.found == "context" and fold(mention.matched) in _PRONOUNS


def lone_surnames(
    text: str, lo: int, hi: int, mentions: Sequence[Mention], parts: NameParts,
    sentence_categories: Callable[[int], tuple[str, ...]], known: dict[str, tuple[str, ...]] | None = None,
) -> list[Mention]:
    """Surnames written alone in text[lo:hi] (a post naming nobody in full): in capitals, or
    capitalised inside a sentence (Danish writes common nouns in lower case, so a capital there
    marks a name); at the start of a sentence only where the sentence harasses.
    `sentence_categories(offset)` gives the categories of the sentence at an offset; `known`:
    `parts.surnames_among` the whole text's chunks, where the caller has it (only the words of
    the stretch are found in the stretch)."""
    if any(lo <= m.start < hi for m in mentions):
        return []
    # Cheap first: the distinct capitalised words of the stretch that are some watched person's
    # surname at all (each looked up once); only then where they are.
    if known is None:
        known = parts.surnames_among(set(text[lo:hi].split()))
    if not known:
        return []
    spotted = _places(text, lo, hi, known)
    if not spotted:
        return []
    candidates: list[tuple[int, int, str, tuple[str, ...]]] = []
    for start, end, word, who in spotted:
        at_start = _starts_sentence(text, lo, start)
        before = _word_before(text, lo, start)
        if before and _capitalised(before) and fold(before) not in _PRONOUNS and not at_start:
            return []  # "Jens Dahl": a whole name of someone nobody here watches
        caps = word.isupper() and len(word) >= 3
        if not caps and at_start and not set(sentence_categories(start)) & _HARASSING:
            # Capitalised perhaps only because a sentence starts there ("Skov er smuk"): only a
            # sentence that harasses is taken to be about a person ("Skov er en idiot").
            continue
        candidates.append((start, end, word, who))
    found: list[Mention] = []
    for start, end, word, who in candidates:
        if len(who) > 3:
            continue  # a surname many watched people share says nothing about which one
        harassing = bool(set(sentence_categories(start)) & _HARASSING)
        for pid in who:
            high = len(who) == 1 and harassing
            reason = (
                "surname alone, no full name in the post; one watched person has it and the text around it is harassing"
                if high else "surname alone, no full name in the post"
            )
            found.append(Mention(
                person=pid, start=start, end=end, matched=word, score=80.0 if high else 60.0,
                confidence="high" if high else "possible", variant="surname_alone",
                compared=(word, word), found="context", why=(reason,),
            ))
    return found


def _places(
    text: str, lo: int, hi: int, words: dict[str, tuple[str, ...]]
) -> list[tuple[int, int, str, tuple[str, ...]]]:
    """Where in text[lo:hi] `_CAPITALISED` finds each of `words` whole: (start, end, word, its
    value), in text order. A search per word, not the pattern tried at every position."""
    out: list[tuple[int, int, str, tuple[str, ...]]] = []
    for word, who in words.items():
        at = text.find(word, lo, hi)
        while at >= 0:
            end = at + len(word)
            if (at == 0 or not _word_char(text[at - 1])) and (end >= hi or not _word_char(text[end])):
                out.append((at, end, word, who))
            at = text.find(word, end, hi)
    return sorted(out)


def _pronouns(text: str, lo: int, hi: int) -> list[tuple[int, int, str]]:
    """The pronouns in text[lo:hi] as `_REFERENCE` finds them: whole words, in lower case or
    capitalised ("han", "Han", "HAN"): (start, end, as written)."""
    out: list[tuple[int, int, str]] = []
    for m in _PRONOUN_WORD.finditer(text, lo, hi):
        said = m.group()
        if said[0].isupper() or said in _PRONOUNS:
            out.append((m.start(), m.end(), said))
    return out


def _word_char(c: str) -> bool:
    """Does `c` go on a word `_CAPITALISED` finds (a letter, digit, _, ' or -)?"""
    return c.isalnum() or c in "_'’-"


def _starts_sentence(text: str, lo: int, at: int) -> bool:
    """Is text[at] the first letter of a sentence: nothing but white space, quotes or a dash
    since the last end of sentence (or the start of the stretch)?"""
    i = at
    while i > lo and text[i - 1] in " \t\r\"'»«“”-–(":
        i -= 1
    return i == lo or text[i - 1] in ".!?…:\n"


def _word_before(text: str, lo: int, at: int) -> str:
    i = at
    while i > lo and text[i - 1] in " \t":
        i -= 1
    j = i
    while j > lo and (text[j - 1].isalnum() or text[j - 1] in "-'’"):
        j -= 1
    return text[j:i]
