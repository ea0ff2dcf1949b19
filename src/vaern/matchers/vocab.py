"""The watch list as the matcher sees it: structured name forms and what each token is.

A person's name and each alias become a `Form` of `Part`s (given name, middle names, surname;
hyphen groups remembered). The `Vocabulary` keys every part by its folded skeleton
(normalise.py), with SymSpell-style one-letter deletes for typo look-ups, an initial-letter
index, and the surname sequences a job title may precede. `Vocabulary.tok(raw)` tells, for a
token string of a text, which parts it is (cached: a text repeats its words, a crawl its pages).

Settings used: `matching.typos` and `matching.typo_max_zipf` (config.py, `Matching`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from rapidfuzz.distance import OSA

from vaern.config import Matching
from vaern.domain import WatchedPerson
from vaern.matchers.lexicon import Titles, load_titles, load_zipf, read_data
from vaern.matchers.normalise import fold, skeleton

# Letters and digits with combining marks, soft hyphens and zero-width characters kept inside
# (they fold away); an apostrophe joins two such runs ("O'Brien", "Rosenkilde's").
_WORD = r"(?:[^\W_]|[\u0300-\u036f\u00ad\u200b-\u200d\u2060])+"
TOKEN = re.compile(_WORD + r"(?:['\u2019]" + _WORD + r")*")
# The same tokens for a text without those rare characters, twice as fast.
PLAIN_TOKEN = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
RARE = re.compile(r"[\u0300-\u036f\u00ad\u200b-\u200d\u2060]")
INNER = frozenset("\u00ad\u200b\u200c\u200d\u2060")
_APOSTROPHES = str.maketrans("", "", "'\u2019")
_CACHE_LIMIT = 300_000  # distinct token strings remembered between calls


def is_token_char(ch: str) -> bool:
    return ch.isalnum() or ch in INNER or "\u0300" <= ch <= "\u036f"


def budget(length: int) -> int:
    """Edits allowed in a name part of this many letters: none up to 3 letters, one up to 8,
    two beyond (a typo in a 4-letter part is only ever 'possible'; see verify.py)."""
    if length <= 3:
        return 0
    if length <= 8:
        return 1
    return 2


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def token_form(raw: str) -> str:
    """The folded form of a token: folded, without spaces or apostrophes."""
    return fold(raw).replace(" ", "").translate(_APOSTROPHES)


@dataclass(frozen=True)
class Part:
    raw: str
    folded: str
    skel: str
    group: int  # parts joined by hyphens share a group ("Krogh-Lassen")
    initial: bool  # registered as an initial ("R." in an alias)
    letter: str  # the skeleton of its first letter: "o" for "Øjvind", "Olaf" and "Oe"
    possessive: str  # the skeleton written with a possessive -s ("rosenkildes")


@dataclass(frozen=True)
class Form:
    """One way a person is registered: the name or one alias, as structured parts."""

    id: int
    person: str
    text: str
    alias: bool
    parts: tuple[Part, ...]
    joiners: tuple[str, ...]  # between parts[i] and parts[i+1]: " " or "-"
    title: str  # the person's folded job title, or ""
    # (skeleton, as written) of every part after the given name: what aligning the rest of a
    # name to a text depends on, so forms alike here align alike after an initial.
    tail: tuple[tuple[str, str], ...] = ()

    def surname_forms(self) -> list[tuple[str, ...]]:
        """Skeleton sequences naming the person by surname alone: the last hyphen group, and the
        last group with the middle names right before it ("Bech Brandt", "Schultz Christensen")."""
        if len(self.parts) < 2:
            return []
        last_group = self.parts[-1].group
        start = next(i for i, p in enumerate(self.parts) if p.group == last_group)
        out = []
        for s in range(start, 0, -1):
            if self.parts[s].initial:
                break
            out.append(tuple(p.skel for p in self.parts[s:]))
        return out


def parse_name(text: str) -> tuple[tuple[Part, ...], tuple[str, ...]]:
    """Split a registered name into parts; hyphenated pieces share a group."""
    parts: list[Part] = []
    joiners: list[str] = []
    for group, chunk in enumerate(text.split()):
        pieces = [p for p in re.split(r"[-\u2010\u2011\u2013]", chunk) if p.strip(".")]
        for j, piece in enumerate(pieces):
            raw = piece.strip(".")
            folded = token_form(raw)
            if not folded:
                continue
            if parts:
                joiners.append("-" if j > 0 else " ")
            letter = skeleton(token_form(raw[0]))
            skel = skeleton(folded)
            parts.append(Part(raw, folded, skel, group, len(raw) == 1, letter, skel + "s"))
    return tuple(parts), tuple(joiners)


@dataclass(eq=False, slots=True)
class Tok:
    """What the vocabulary knows about one token string."""

    raw: str
    folded: str
    skel: str
    shape: str  # "cap" | "upper" | "lower" | "other"
    zipf: float  # how common it is as a Danish word
    given: frozenset[int]  # forms whose given name this token is (exact skeleton)
    rest: dict[int, tuple[int, ...]]  # form -> indexes of its other parts equal to this token
    poss: dict[int, tuple[int, ...]]  # the same for its surname, the token read as a possessive
    nick: tuple[int, ...]  # one-part forms (nicknames) equal to this token
    forms: frozenset[int]  # all of the above: empty for a token that is no watched part
    restset: frozenset[int]  # forms in `rest` or `poss`
    keys: tuple[str, ...]  # the skeletons it stands for: itself, and its stem if a possessive
    # Skeletons of the other parts of the names it is part of: two hits near each other are
    # worth a closer look only if one is in the other's `partners`.
    partners: frozenset[str]
    # For the lower-case test (see `Vocabulary.paired`): the surnames of the names it is the
    # given name of, and the given names of the names it is the surname of.
    surnames: frozenset[str]
    givens: frozenset[str]
    known: bool  # some watched name has this part
    everyday: bool  # written in lower case and common as a Danish word ("hans", "tage", "skov")
    given_name: bool  # a real given name (data/given_names.txt)
    title: bool  # a job title or form of address
    initial: str  # for a single capital letter, its skeleton ("o" for "Ø"); else ""
    fuzzy_given: frozenset[int] | None = None  # computed on demand
    fuzzy_rest: dict[int, tuple[int, ...]] | None = None


def _shape(raw: str) -> str:
    """cap ("Hansen", "R"), upper ("HANSEN"), lower ("hansen") or other ("hAnsen", "1a")."""
    if raw.islower():
        return "lower" if raw[:1].isalpha() else "other"
    if raw.isupper():
        return "upper" if sum(c.isalpha() for c in raw) > 1 else ("cap" if raw[:1].isalpha() else "other")
    return "cap" if raw[:1].isupper() else "other"


@dataclass(frozen=True, slots=True)
class _Parts:
    given: frozenset[int]
    rest: dict[int, tuple[int, ...]]
    poss: dict[int, tuple[int, ...]]
    nick: tuple[int, ...]
    forms: frozenset[int]
    restset: frozenset[int]
    keys: tuple[str, ...]
    partners: frozenset[str]
    surnames: frozenset[str]
    givens: frozenset[str]
    known: bool


_NO_PARTS = _Parts(frozenset(), {}, {}, (), frozenset(), frozenset(), (), frozenset(), frozenset(), frozenset(), False)
_DROP_INNER = str.maketrans("", "", "".join(INNER))


@dataclass
class Vocabulary:
    """Every watched name part, keyed for exact, possessive, initial and typo look-ups."""

    settings: Matching
    forms: list[Form]
    by_skel: dict[str, list[tuple[int, int]]]
    spellings: dict[str, frozenset[str]]  # skeleton -> the folded spellings registered for it
    deletes: dict[str, set[str]]  # one-letter deletes of every spelling -> skeletons
    initials: dict[str, frozenset[int]]  # first letter of a given name -> forms
    initial_people: dict[tuple[str, str], frozenset[str]]  # (initial, surname skeleton) -> people
    surnames: dict[tuple[str, ...], list[int]]  # surname sequence -> forms (for titles)
    zipf: Mapping[str, float]
    given_names: frozenset[str]
    titles: Titles
    cache: dict[str, Tok] = field(default_factory=dict)
    skel_info: dict[str, _Parts] = field(default_factory=dict)
    # Two ordinary lower-case words make a lower-case mention only as a (given name, surname)
    # pair of some form.
    surnames_of: dict[str, frozenset[str]] = field(default_factory=dict)  # given name -> its surnames
    givens_of: dict[str, frozenset[str]] = field(default_factory=dict)  # surname -> its given names
    # Every part -> the other parts of the forms it is in.
    partners: dict[str, frozenset[str]] = field(default_factory=dict)
    # Whitespace-separated chunks of text already learnt: those that hold no watched part, and
    # the watched parts in each of the others. One C-level set difference with the first leaves
    # of a text's distinct chunks only the new ones and those with watched parts.
    plain: set[str] = field(default_factory=set)
    hit_chunks: dict[str, tuple[Tok, ...]] = field(default_factory=dict)

    def tok(self, raw: str) -> Tok:
        t = self.cache.get(raw)
        if t is None:
            t = self.cache[raw] = self._learn(raw)
        return t

    def hit_kinds(self, chunks: AbstractSet[str] | Mapping[str, tuple[Tok, ...]]) -> list[Tok]:
        """The watched parts among a text's distinct whitespace-separated chunks, or in those of
        them holding some, as `named_chunks` gives them.

        Tokens never span white space, so a chunk's tokens are those of the text there.
        """
        named = chunks if isinstance(chunks, Mapping) else self.named_chunks(chunks)
        kinds: set[Tok] = set()  # one record per token string (`tok` remembers them)
        for found in named.values():
            kinds.update(found)
        return list(kinds)

    def named_chunks(self, chunks: AbstractSet[str]) -> dict[str, tuple[Tok, ...]]:
        """Those of a text's distinct whitespace-separated chunks that hold a watched part, and
        the parts each holds. Given only these, `hit_kinds` and the matcher find what they find
        given all of the text's chunks."""
        if len(self.cache) + len(self.plain) + len(self.hit_chunks) >= _CACHE_LIMIT:
            # Forget between texts, never during one, so that a text's tokens stay known.
            self.cache.clear()
            self.skel_info.clear()
            self.plain.clear()
            self.hit_chunks.clear()
        out: dict[str, tuple[Tok, ...]] = {}
        for chunk in chunks - self.plain:
            found = self.hit_chunks.get(chunk)
            if found is None:
                pattern = TOKEN if RARE.search(chunk) else PLAIN_TOKEN
                # Most words are no name part: find that out from the skeleton alone, and leave
                # the full token record to be made if a region around a hit ever needs it.
                found = tuple(self.tok(raw) for raw in pattern.findall(chunk) if self._may_hit(raw))
                if not found:
                    self.plain.add(chunk)
                    continue
                self.hit_chunks[chunk] = found
            out[chunk] = found
        return out

    def _may_hit(self, raw: str) -> bool:
        t = self.cache.get(raw)
        if t is not None:
            return bool(t.forms)
        skel = skeleton(token_form(raw))
        info = self.skel_info.get(skel)
        if info is None:
            info = self.skel_info[skel] = self._parts_of(skel)
        return bool(info.forms)

    def paired(self, kinds: list[Tok]) -> list[Tok]:
        """`kinds` without the everyday lower-case words that no other lower-case hit of the text
        pairs with into a watched (given name, surname): "hans" and "tage" alone name nobody."""
        keys: set[str] = set()
        givens: set[str] = set()
        for t in kinds:
            if t.shape == "lower":
                keys.update(t.keys)
                if t.given:
                    givens.add(t.skel)
        return [
            t for t in kinds if not t.everyday or not t.surnames.isdisjoint(keys) or not t.givens.isdisjoint(givens)
        ]

    def _learn(self, raw: str) -> Tok:
        folded = token_form(raw)
        skel = skeleton(folded)
        info = self.skel_info.get(skel)
        if info is None:
            info = self.skel_info[skel] = self._parts_of(skel)
        shape = _shape(raw)
        zipf = self.zipf.get(raw.translate(_DROP_INNER).casefold(), 0.0)
        return Tok(
            raw=raw,
            folded=folded,
            skel=skel,
            shape=shape,
            zipf=zipf,
            given=info.given,
            rest=info.rest,
            poss=info.poss,
            nick=info.nick,
            forms=info.forms,
            restset=info.restset,
            keys=info.keys,
            partners=info.partners,
            surnames=info.surnames,
            givens=info.givens,
            known=info.known,
            everyday=shape == "lower" and zipf >= self.settings.typo_max_zipf,
            given_name=folded in self.given_names,
            title=self.titles.is_title(folded),
            initial=skel if len(raw) == 1 and raw.isalpha() and raw.isupper() else "",
        )

    def _parts_of(self, skel: str) -> _Parts:
        """Which parts of which forms a token with this skeleton is (shared by its spellings)."""
        entries = self.by_skel.get(skel, ())
        stem = self.by_skel.get(skel[:-1], ()) if len(skel) > 2 and skel.endswith("s") else ()
        if not entries and not stem:
            return _NO_PARTS
        given: set[int] = set()
        rest: dict[int, list[int]] = {}
        nick: list[int] = []
        for form_id, idx in entries:
            if len(self.forms[form_id].parts) == 1:
                nick.append(form_id)
            elif idx == 0:
                given.add(form_id)
            else:
                rest.setdefault(form_id, []).append(idx)
        poss: dict[int, list[int]] = {}
        for form_id, idx in stem:
            if idx > 0 and idx == len(self.forms[form_id].parts) - 1:
                poss.setdefault(form_id, []).append(idx)
        keys = (skel, skel[:-1]) if poss else (skel,)
        none: frozenset[str] = frozenset()
        return _Parts(
            given=frozenset(given),
            rest={k: tuple(v) for k, v in rest.items()},
            poss={k: tuple(v) for k, v in poss.items()},
            nick=tuple(nick),
            forms=frozenset(given | set(rest) | set(poss) | set(nick)),
            restset=frozenset(set(rest) | set(poss)),
            keys=keys,
            partners=none.union(*(self.partners.get(k, none) for k in keys)),
            surnames=self.surnames_of.get(skel, none) if given else none,
            givens=none.union(*(self.givens_of.get(k, none) for k in keys)),
            known=bool(entries),
        )

    def typo_ok(self, t: Tok) -> bool:
        """May this token be a misspelt name part? Not if it is a real word or name."""
        return (
            self.settings.typos
            and t.shape in ("cap", "upper")
            and not t.known
            and not t.given_name
            and len(t.skel) >= 3
            and t.zipf < self.settings.typo_max_zipf
        )

    def distance(self, t: Tok, skel: str, limit: int) -> int:
        """Edits between a token and a registered part, on the skeleton or the folded spelling:
        the skeleton hides "Møller"/"Moller", the folded form keeps a typo like "Sabioe" from
        turning into "Sabio" (oe→o)."""
        best = OSA.distance(t.skel, skel, score_cutoff=limit)
        for folded in self.spellings.get(skel, ()):
            best = min(best, OSA.distance(t.folded, folded, score_cutoff=limit))
        return best

    def fuzzy(self, t: Tok) -> tuple[frozenset[int], dict[int, tuple[int, ...]]]:
        """Forms with a part within its edit budget of this token: (given-name forms, others)."""
        if t.fuzzy_given is not None and t.fuzzy_rest is not None:
            return t.fuzzy_given, t.fuzzy_rest
        given: set[int] = set()
        rest: dict[int, list[int]] = {}
        if self.typo_ok(t):
            near: set[str] = set()
            for key in {t.skel, t.folded, *_deletes(t.skel), *_deletes(t.folded)}:
                near |= self.deletes.get(key, set())
            for skel in sorted(near):
                limit = budget(len(skel))
                if limit == 0 or skel == t.skel or self.distance(t, skel, limit) > limit:
                    continue
                for form_id, idx in self.by_skel[skel]:
                    if len(self.forms[form_id].parts) == 1:
                        continue
                    if idx == 0:
                        given.add(form_id)
                    else:
                        rest.setdefault(form_id, []).append(idx)
        t.fuzzy_given = frozenset(given)
        t.fuzzy_rest = {k: tuple(v) for k, v in rest.items()}
        return t.fuzzy_given, t.fuzzy_rest


def build_vocabulary(people: Sequence[WatchedPerson], settings: Matching) -> Vocabulary:
    forms: list[Form] = []
    for person in people:
        title = token_form(person.title) if person.title else ""
        for text, alias in ((person.name, False), *((a, True) for a in person.aliases)):
            parts, joiners = parse_name(text)
            if not parts or (len(parts) == 1 and parts[0].initial):
                continue
            tail = tuple((p.skel, p.raw) for p in parts[1:])
            forms.append(Form(len(forms), person.id, text, alias, parts, joiners, title, tail))
    by_skel: dict[str, list[tuple[int, int]]] = {}
    spellings: dict[str, set[str]] = {}
    initials: dict[str, set[int]] = {}
    initial_people: dict[tuple[str, str], set[str]] = {}
    surnames: dict[tuple[str, ...], list[int]] = {}
    for form in forms:
        for i, part in enumerate(form.parts):
            if not part.initial:
                by_skel.setdefault(part.skel, []).append((form.id, i))
                spellings.setdefault(part.skel, set()).add(part.folded)
        if len(form.parts) > 1:
            letter = form.parts[0].letter
            initials.setdefault(letter, set()).add(form.id)
            initial_people.setdefault((letter, form.parts[-1].skel), set()).add(form.person)
            for seq in form.surname_forms():
                surnames.setdefault(seq, []).append(form.id)
    surnames_of: dict[str, set[str]] = {}
    givens_of: dict[str, set[str]] = {}
    partners: dict[str, set[str]] = {}
    for f in forms:
        if len(f.parts) > 1:
            surnames_of.setdefault(f.parts[0].skel, set()).add(f.parts[-1].skel)
            givens_of.setdefault(f.parts[-1].skel, set()).add(f.parts[0].skel)
        for i, a in enumerate(f.parts):
            for b in f.parts[i + 1 :]:
                if not a.initial and not b.initial:
                    partners.setdefault(a.skel, set()).add(b.skel)
                    partners.setdefault(b.skel, set()).add(a.skel)
    deletes: dict[str, set[str]] = {}
    for skel, folded_forms in spellings.items():
        if len(skel) >= 4:
            for spelling in {skel, *folded_forms}:
                for key in (spelling, *_deletes(spelling)):
                    deletes.setdefault(key, set()).add(skel)
    return Vocabulary(
        settings=settings,
        forms=forms,
        by_skel=by_skel,
        spellings={k: frozenset(v) for k, v in spellings.items()},
        deletes=deletes,
        initials={k: frozenset(v) for k, v in initials.items()},
        initial_people={k: frozenset(v) for k, v in initial_people.items()},
        surnames=surnames,
        zipf=load_zipf(),
        given_names=frozenset(read_data("given_names.txt")),
        titles=load_titles(settings.titles),
        surnames_of={k: frozenset(v) for k, v in surnames_of.items()},
        givens_of={k: frozenset(v) for k, v in givens_of.items()},
        partners={k: frozenset(v) for k, v in partners.items()},
    )
