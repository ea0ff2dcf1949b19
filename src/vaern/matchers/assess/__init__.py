"""Assessment: who a post means, what it says about them, how bad it is.

    assessor = Assessor(index)                       # once per crawl, beside the name index
    result = assessor.assess(text, posts, mentions)  # mentions: index.find(text)
    result.mentions                                  # the text's mentions plus those found by context
    result.of_person["rr"]                           # categories, severity, passage, private data

The unit read is the post (crawler/posts.py), or the whole text where the page has no posts:
a threat two sentences after the name is about the person the post names. A sentence that
names only someone else is left out of a person's reading. Modules: `context` (mentions by
context), `reading` (categories per sentence, with negation, quotes and questions),
`privatedata` (the items and their masks), `severity` (levels, the police route), `dating`
(the post's stated date). Pure.
"""

from __future__ import annotations

import bisect
import dataclasses
import sys
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from vaern.config import CATEGORIES
from vaern.domain import Mention, Post, WatchedPerson
from vaern.matchers.assess.context import NameParts, in_context, is_pronoun, lone_surnames, name_parts
from vaern.matchers.assess.privatedata import PrivateItem, mask
from vaern.matchers.assess.reading import Sentence, read
from vaern.matchers.assess.severity import category_rank, police_fits, severity_of
from vaern.matchers.classify import sentence_bounds, sentence_spans, sentences_around
from vaern.matchers.names import NameIndex

PASSAGE_CHARS = 300
# Sentences read around the mentions of a text (`_near_mentions`): a threat two or three
# sentences after the name is about the person named.
BEFORE, AFTER = 2, 6


@dataclass(frozen=True)
class PersonAssessment:
    """What a text says about one person."""

    categories: tuple[str, ...]
    severity: str
    passage: str | None  # the gravest sentence about them, private data masked
    passage_category: str | None
    private: tuple[PrivateItem, ...]
    police: bool  # does a report to the police fit?
    passage_at: int | None = None  # where the passage starts in the text read (None: not in the page text)

    def private_rows(self) -> list[dict[str, str]]:
        return [{"kind": i.kind, "masked": i.masked()} for i in self.private]


@dataclass(frozen=True)
class Assessment:
    mentions: tuple[Mention, ...]
    of_person: dict[str, PersonAssessment] = field(default_factory=dict)


class Assessor:
    """The name index's people and lexicon, ready to read texts."""

    def __init__(self, index: NameIndex) -> None:
        self.index = index
        self.classifier = index.classifier
        self.people: dict[str, WatchedPerson] = {p.id: p for p in index.people}
        self.parts: NameParts = name_parts(index.people)

    def read(self, text: str, posts: Sequence[Post] = ()) -> Assessment:
        """The name index's mentions in `text` and their assessment, as `assess(text, posts,
        index.find(text))` gives them, with the text's words cut once for both."""
        # The chunks holding a part of a watched name are all the matcher needs, and all that
        # can hold a surname written alone.
        named = self.index.vocab.named_chunks(set(text.split()))
        return self.assess(text, posts, self.index.find(text, named), named.keys())

    def rows(self, text: str, result: Assessment) -> list[dict[str, object]]:
        """The mentions of a text's assessment as `vaern match` prints them: each with how it
        was found (`text` or `context`) and the categories of the sentence holding it (a
        context mention's own sentence, not its anchor's)."""
        marks = [(m.start, m.end, m.variant == "possessive") for m in result.mentions if not is_pronoun(m)]
        rows: list[dict[str, object]] = []
        for m in result.mentions:
            categories = m.categories
            if m.found == "context":
                categories = self.classifier.categories(text, sentence_bounds(text, m.start, m.end), marks)
            rows.append({**m.as_row(), "score": round(m.score, 1), "categories": list(categories), "found": m.found})
        return rows

    def assess(
        self, text: str, posts: Sequence[Post], mentions: Sequence[Mention], chunks: AbstractSet[str] | None = None
    ) -> Assessment:
        """`mentions`: index.find(text); `chunks`: the text's distinct whitespace-separated
        chunks, or only those holding a part of a watched name, where the caller has them."""
        # A surname written alone is looked for in the posts naming nobody in full, and only
        # where the text holds some watched person's surname at all (most texts hold none):
        # those surnames are worked out at the first such post.
        def surnames_here() -> dict[str, tuple[str, ...]]:
            return self.parts.surnames_among(set(text.split()) if chunks is None else chunks)

        surnames: dict[str, tuple[str, ...]] | None = None
        if not mentions:
            # Nobody named in full, so only a surname written alone can be found.
            surnames = surnames_here()
            if not surnames:
                return Assessment(())
        units = _units(text, posts)
        sentences: dict[tuple[int, int], list[Sentence]] = {}
        cut: dict[tuple[int, int], list[tuple[int, int]]] = {}

        def spans_of(unit: tuple[int, int]) -> list[tuple[int, int]]:
            """The unit's sentences in reach of its mentions (`BEFORE`, `AFTER`); all of them
            where it has none."""
            if unit not in cut:
                lo, hi = unit
                inside = [m.start for m in mentions if lo <= m.start < hi]
                cut[unit] = (
                    sentences_around(text, lo, hi, min(inside), max(inside), BEFORE, AFTER)
                    if inside else sentence_spans(text, lo, hi)
                )
            return cut[unit]

        def read_unit(unit: tuple[int, int], spans: Sequence[Mention]) -> list[Sentence]:
            if unit not in sentences:
                # Pronouns stay as they are: the lexicon's phrases read "hun", "hans" themselves.
                marks = [(m.start, m.end, m.variant == "possessive") for m in spans if not is_pronoun(m)]
                near = _near_mentions(spans_of(unit), spans)
                lo, hi = (near[0][0], near[-1][1]) if near else unit
                sentences[unit] = read(self.classifier, text, lo, hi, marks, near)
            return sentences[unit]

        everything: list[Mention] = list(mentions)
        for unit in units:
            has_mention = any(unit[0] <= m.start < unit[1] for m in everything)
            added = (
                in_context(text, unit[0], unit[1], everything, self.parts, self.people, spans_of(unit), chunks)
                if has_mention else []
            )
            if not has_mention and surnames is None:
                surnames = surnames_here()
            if not has_mention and surnames:
                # Read only if a surname is written there alone (most texts name nobody), and
                # only the sentence it is in.
                read_at: dict[int, tuple[str, ...]] = {}  # lone_surnames asks twice of a sentence

                def at(
                    offset: int, unit: tuple[int, int] = unit, done: dict[int, tuple[str, ...]] = read_at
                ) -> tuple[str, ...]:
                    if offset not in done:
                        done[offset] = read_sentence_at(offset, unit)
                    return done[offset]

                def read_sentence_at(offset: int, unit: tuple[int, int]) -> tuple[str, ...]:
                    # The sentence around the offset, cut as the whole unit would be cut.
                    begin, end = sentence_bounds(text, offset, offset)
                    holding = [
                        (a, b) for a, b in sentence_spans(text, max(begin, unit[0]), min(end, unit[1]))
                        if a <= offset < b
                    ]
                    if not holding:
                        return ()
                    [sentence] = read(self.classifier, text, holding[0][0], holding[0][1], (), holding)
                    return sentence.categories

                added = lone_surnames(text, unit[0], unit[1], everything, self.parts, at, surnames)
            everything.extend(added)
        everything.sort(key=lambda m: (m.start, m.end, m.person))

        by_person: dict[str, list[Mention]] = {}
        for m in everything:
            by_person.setdefault(m.person, []).append(m)
        of_person: dict[str, PersonAssessment] = {}
        about: dict[tuple[int, int], list[tuple[Sentence, set[str]]]] = {}
        for pid, own in by_person.items():
            chosen: list[Sentence] = []
            for unit in {_unit_of(units, m.start) for m in own}:
                if unit not in about:
                    in_unit = [m for m in everything if unit[0] <= m.start < unit[1]]
                    read_there = read_unit(unit, in_unit)
                    # Whom a sentence is about matters only where some sentence says something.
                    said = any(s.categories or s.private for s in read_there)
                    about[unit] = _subjects(read_there, in_unit) if said else []
                chosen += [s for s, subjects in about[unit] if pid in subjects]
            of_person[pid] = _judge(text, chosen, own)
        return Assessment(tuple(everything), of_person)


def _near_mentions(cut: list[tuple[int, int]], mentions: Sequence[Mention]) -> list[tuple[int, int]]:
    """The sentences worth reading for the people a text names: from `BEFORE` sentences before
    the first that mentions someone to `AFTER` sentences after the last such one, where a
    harmful sentence may still be about them. A post is short and read whole this way; a long
    page without posts is not read to its far ends."""
    if not mentions or not cut:
        return cut
    first = min(m.start for m in mentions)
    last = max(m.start for m in mentions)
    holding = [i for i in {_holding(cut, first), _holding(cut, last)} if i is not None]
    if not holding:
        return cut
    return cut[max(0, min(holding) - BEFORE) : max(holding) + AFTER + 1]


def _holding(cut: list[tuple[int, int]], offset: int) -> int | None:
    """The index of the sentence of `cut` (in order, apart) that holds `offset`, if one does."""
    i = bisect.bisect_right(cut, (offset, _FAR)) - 1
    return i if i >= 0 and cut[i][0] <= offset < cut[i][1] else None


_FAR = sys.maxsize


def _subjects(sentences: list[Sentence], mentions: list[Mention]) -> list[tuple[Sentence, set[str]]]:
    """Whom each sentence is about: the people it mentions; a sentence that mentions nobody is
    about whoever the sentence before it was about (at the start: whoever is mentioned first)."""
    named = [{m.person for m in mentions if s.start <= m.start < s.end} for s in sentences]
    first = next((n for n in named if n), set())
    out: list[tuple[Sentence, set[str]]] = []
    current = first
    for sentence, people in zip(sentences, named, strict=True):
        if people:
            current = people
        out.append((sentence, current))
    return out


_NOTHING_SAID = PersonAssessment(
    categories=(), severity=severity_of(()), passage=None, passage_category=None, private=(),
    police=police_fits(()), passage_at=None,
)


def _judge(text: str, chosen: list[Sentence], own: list[Mention]) -> PersonAssessment:
    if not chosen:
        return _NOTHING_SAID
    cats = {c for s in chosen for c in s.categories}
    if cats & {"threat", "insult", "accusation", "incitement"}:
        cats.discard("criticism")
    categories = tuple(c for c in CATEGORIES if c in cats)
    private = tuple(i for s in chosen for i in s.private)
    passage: str | None = None
    passage_category: str | None = None
    graded = [s for s in chosen if s.categories]
    if graded:
        def key(s: Sentence) -> tuple[int, bool, int]:
            named = any(s.start <= m.start < s.end for m in own)
            return min(category_rank(c) for c in s.categories), not named, s.start

        best = min(graded, key=key)
        passage_category = min(best.categories, key=category_rank)
        body = text[best.start : best.end]
        local = [type(i)(i.kind, i.start - best.start, i.end - best.start, i.text) for i in best.private]
        passage = " ".join(mask(body, local).split())
        if len(passage) > PASSAGE_CHARS:
            passage = passage[: PASSAGE_CHARS - 1] + "…"
    return PersonAssessment(
        categories=categories,
        severity=severity_of(categories),
        passage=passage,
        passage_category=passage_category,
        private=private,
        police=police_fits(categories, (i.kind for i in private)),
        passage_at=best.start if graded else None,
    )


def merge(a: PersonAssessment, b: PersonAssessment) -> PersonAssessment:
    """Two readings of one person (a page's title and its text): the union of their categories,
    the gravest passage."""
    cats = set(a.categories) | set(b.categories)
    if cats & {"threat", "insult", "accusation", "incitement"}:
        cats.discard("criticism")
    categories = tuple(c for c in CATEGORIES if c in cats)
    private = a.private + b.private
    ranked = [x for x in (a, b) if x.passage_category is not None]
    best = min(ranked, key=lambda x: category_rank(x.passage_category or "")) if ranked else a
    return PersonAssessment(
        categories=categories, severity=severity_of(categories), passage=best.passage,
        passage_category=best.passage_category, private=private,
        police=police_fits(categories, (i.kind for i in private)), passage_at=best.passage_at if best is b else None,
    )


def with_private(a: PersonAssessment, items: Sequence[PrivateItem]) -> PersonAssessment:
    """A reading with more private data published about the person (a photo beside the name)."""
    if not items:
        return a
    categories = tuple(c for c in CATEGORIES if c in {*a.categories, "private_info"})
    private = a.private + tuple(items)
    return dataclasses.replace(
        a, categories=categories, severity=severity_of(categories), private=private,
        police=police_fits(categories, (i.kind for i in private)),
    )


def _units(text: str, posts: Sequence[Post]) -> list[tuple[int, int]]:
    """The posts of a text (innermost first when nested), or the whole text."""
    if not posts:
        return [(0, len(text))]
    spans = sorted({(p.start, p.end) for p in posts}, key=lambda s: s[1] - s[0])
    return spans


def _unit_of(units: list[tuple[int, int]], offset: int) -> tuple[int, int]:
    holding = [u for u in units if u[0] <= offset < u[1]]
    if holding:
        return min(holding, key=lambda u: u[1] - u[0])
    # Text outside every post (a page header): read it as one stretch of its own.
    before = max((u[1] for u in units if u[1] <= offset), default=0)
    after = min((u[0] for u in units if u[0] > offset), default=len(units) and max(u[1] for u in units))
    return (before, max(after, offset + 1))


__all__ = ["Assessment", "Assessor", "PersonAssessment", "merge", "with_private"]
