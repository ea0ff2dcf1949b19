"""Verifying a stretch of text around name-part hits: is a watched person named here, and how?

A mention needs, from the *same* form (name or alias) of a person, in order:

- given-first: the given name (exact, misspelt, an initial followed by ".", or an alias's given
  name), then optional registered middle names and unregistered inserted ones (capitalised, at
  most `matching.max_inserted`), then the surname (exact, possessive "-s", or misspelt), joined
  by spaces, one line break or hyphens (a spaced dash joins parts too, but is punctuation at a
  name's ends: "Skandalen – René Rosenkilde" is René Rosenkilde);
- surname-first: "Rosenkilde, René" (the surname block, a comma, the given name);
- title + surname: "sagsbehandler Rosenkilde" — weak, and resolved against the rest of the text;
  `high` only where exactly one watched person has that surname and the title is theirs or one
  of its synonyms (data/title_synonyms.da.txt: "rådgiver Aaskov" for a watched sagsbehandler);
- all the surnames without the given name: "Brix Frølund" for Signe Brix Frølund (two or more
  surnames, capitalised, not run on from another given name or into another surname); `high`
  where only one watched person has that sequence of surnames.

A name whose surname goes on ("J. Krogh-Ravn", "M. Kristiansen Møller") names someone else,
and a hyphenated surname is one name: neither loses a part.

`grade` turns an alignment into a score (100 minus a cost per departure from the registered
form), a variant label, reasons in words, and whether it can only be `possible`. Settings:
`matching.max_inserted`, `common_word_zipf`, `common_surname_zipf`, `typo_max_zipf`,
`possible_score`, `max_shared` (config.py, `Matching`).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from vaern.config import Matching
from vaern.matchers.lexicon import load_title_synonyms
from vaern.matchers.vocab import Form, Part, Tok, Vocabulary, budget

MAX_SPAN = 6  # tokens from a given name to its surname: given + 2 middles + 2 inserted + surname
_DASH = re.compile(r"[-\u2010\u2011\u2012\u2013\u2014\u2212]")
# Separators a name runs through. A spaced dash ("Skandalen – René Rosenkilde") is punctuation:
# parts written across it still join, but a name never goes on through it into the next word,
# as it does through a hyphen ("Krogh-Ravn"); so the rules that look past a name's ends say "hyphen".
_JOIN = ("space", "newline", "hyphen", "dash")
_OUTWARD = ("space", "newline", "hyphen")
_BACK = (*_JOIN, "dot")  # from a surname back to its given name (which may be an initial)
_LOWER = frozenset(("lower",))

# Variant labels, most telling first: a mention is labelled with the first that applies.
VARIANTS = (
    "title_surname",
    "surnames",
    "nickname",
    "alias",
    "typo",
    "initial",
    "surname_first",
    "middle_inserted",
    "middle_dropped",
    "hyphenation",
    "possessive",
    "folded",
    "exact",
)


class Spot(NamedTuple):
    """A token at a place in the text."""

    start: int
    end: int
    tok: Tok


@dataclass(slots=True)
class Cand:
    """A verified candidate mention, before overlaps and ambiguity are settled."""

    form: Form
    start: int
    end: int
    score: float
    variants: set[str]
    why: list[str]
    possible: bool
    weak: str = ""  # "title" or "initial": evidence shared by several people is resolved later
    title: str = ""  # the folded title word, for "title"
    ambiguous: bool = False


@dataclass(slots=True)
class Match:
    """One text token aligned to one registered part."""

    at: int  # index into the region's tokens
    part: int  # index into form.parts
    kind: str  # exact | folded | possessive | typo | initial
    edits: int = 0


@dataclass
class Verifier:
    vocab: Vocabulary
    settings: Matching
    cands: list[Cand] = field(default_factory=list)
    # Initial + surname candidates, graded after all regions: (tokens, separators, index of the
    # initial, forms); see `initials`.
    deferred: list[tuple[list[Spot], list[str], int, frozenset[int]]] = field(default_factory=list)

    # -- a region --------------------------------------------------------------------------

    def region(self, toks: list[Spot], seps: list[str]) -> None:
        """Find every candidate mention among these consecutive tokens; add to `self.cands`.

        `seps[i]` is the `separator` between toks[i] and toks[i + 1] ('' after the last).
        """
        n = len(toks)
        vocab = self.vocab
        pairs: set[tuple[int, int]] = set()  # (form, index of its given name): try given-first
        initials: dict[int, set[int]] = {}  # the same where the given name is an initial
        firsts: set[tuple[int, int]] = set()  # (form, index of its surname): try "Surname, Given"
        # Only hits and titles start anything; every other token is looked at from them.
        for j in [j for j, spot in enumerate(toks) if spot.tok.forms or spot.tok.title]:
            t = toks[j].tok
            if t.restset:
                rest = t.restset
                for i in range(j - 1, max(-1, j - MAX_SPAN), -1):
                    if seps[i] not in _BACK:
                        break
                    ti = toks[i].tok
                    if ti.shape == "lower" and not ti.forms:
                        break  # an ordinary word: no name goes on through it
                    if ti.initial and seps[i] == "dot":
                        shared = vocab.initials.get(ti.initial, frozenset()) & rest
                        if shared:
                            initials.setdefault(i, set()).update(shared)
                        continue
                    forms = ti.given
                    if not forms and vocab.typo_ok(ti):
                        forms = vocab.fuzzy(ti)[0]
                    if forms:
                        for f in forms & rest:
                            pairs.add((f, i))
                if seps[j] == "comma" and j + 1 < n:
                    # "Rosenkilde, René": only forms whose given name follows the comma.
                    after = toks[j + 1].tok
                    given = after.given or (vocab.fuzzy(after)[0] if vocab.typo_ok(after) else after.given)
                    for f in given & t.rest.keys():
                        if vocab.forms[f].parts[-1].skel == t.skel:
                            firsts.add((f, j))
            if t.given:
                # Partners of a given name that are misspelt surnames or middle names.
                for k in range(j + 1, min(n, j + MAX_SPAN)):
                    if seps[k - 1] not in _JOIN:
                        break
                    tk = toks[k].tok
                    if tk.shape == "lower" and not tk.forms:
                        break
                    if tk.forms or not vocab.typo_ok(tk):
                        continue
                    for f in t.given & vocab.fuzzy(tk)[1].keys():
                        pairs.add((f, j))
            if t.nick and t.shape in ("cap", "upper") and t.zipf < self.settings.typo_max_zipf + 0.5:
                for f in t.nick:
                    form = vocab.forms[f]
                    why = [f"nickname {form.text!r}"]
                    self.cands.append(Cand(form, toks[j].start, toks[j].end, 80.0, {"nickname"}, why, True))
            if t.title and j + 1 < n and seps[j] in ("space", "dot"):
                self._title(toks, seps, j)
            if t.rest and j + 1 < n and seps[j] in ("space", "hyphen") and toks[j + 1].tok.forms:
                for f, at in t.rest.items():
                    if 1 in at and len(vocab.forms[f].parts) >= 3:
                        c = self._surnames(toks, seps, vocab.forms[f], j)
                        if c is not None:
                            self.cands.append(c)
        for f, i in sorted(pairs):
            c = self._given_first(toks, seps, vocab.forms[f], i)
            if c is not None:
                self.cands.append(c)
        for f, j in sorted(firsts):
            c = self._surname_first(toks, seps, vocab.forms[f], j)
            if c is not None:
                self.cands.append(c)
        for i, sharing in sorted(initials.items()):
            self.deferred.append((toks, seps, i, frozenset(sharing)))

    def initials(self) -> None:
        """Grade the initial + surname candidates of every region ("R. Rosenkilde"), once all
        regions are done.

        Several watched people may share an initial and a surname. `settle.resolve` then keeps
        those the text names elsewhere (in full), and if there are none, all of them only while
        they are at most `matching.max_shared`. So those named elsewhere are graded first, and
        once more than that many others are found at one place, the rest there are not graded:
        they could change nothing. (Often many share "J. Jensen"; grading them all is most of
        the work of a text full of names.)
        """
        if not self.deferred:
            return
        named = {c.form.person for c in self.cands if not c.weak}
        limit = self.settings.max_shared
        forms = self.vocab.forms
        for toks, seps, i, candidates in self.deferred:
            others: dict[tuple[int, int], set[str]] = {}  # place -> people found there not named elsewhere
            # After the initial, the alignment depends only on the other parts: forms that share
            # them ("Jens Jensen", "Jette Jensen") are aligned once.
            alignments: dict[tuple[tuple[str, str], ...], tuple[tuple[int, int], list[Match], list[int]] | None] = {}
            for f in sorted(candidates, key=lambda f: (forms[f].person not in named, f)):
                form = forms[f]
                tail = form.tail
                if tail not in alignments:
                    aligned = self._align(toks, seps, form, i)
                    if aligned is None:
                        alignments[tail] = None
                    else:
                        ats = [m.at for m in aligned[0]] + aligned[1]
                        alignments[tail] = ((toks[min(ats)].start, toks[max(ats)].end), *aligned)
                found = alignments[tail]
                if found is None:
                    continue
                span, matched, inserted = found
                place = others.setdefault(span, set())
                if form.person not in named and len(place) > limit:
                    continue
                c = self._grade(toks, seps, form, matched, inserted, surname_first=False)
                if c is not None:
                    self.cands.append(c)
                    if form.person not in named:
                        place.add(form.person)
        self.deferred.clear()

    # -- matching single parts -------------------------------------------------------------

    def _part(self, part: Part, t: Tok, final: bool) -> tuple[str, int] | None:
        """How a text token matches one registered part: (kind, edits) or None."""
        if t.skel == part.skel:
            return ("exact" if t.raw == part.raw else "folded"), 0
        if final and t.skel == part.possessive:
            return "possessive", 0
        if len(part.skel) >= 4 and self.vocab.typo_ok(t):
            limit = budget(len(part.skel))
            d = self.vocab.distance(t, part.skel, limit)
            if 0 < d <= limit:
                return "typo", d
        return None

    def _given(self, part: Part, t: Tok, sep_after: str) -> tuple[str, int] | None:
        if len(t.raw) == 1:
            if t.initial and sep_after == "dot" and t.initial == part.letter:
                return "initial", 0
            return None
        if part.initial:
            return None
        return self._part(part, t, final=False)

    def _insertable(self, t: Tok, given: Tok) -> bool:
        """May this token stand between a given name and a surname as an unregistered middle name?"""
        if len(t.raw) == 1:
            return bool(t.initial)  # a middle initial; its dot is checked by the caller
        if t.title or (t.zipf >= 5.3 and not (t.known or t.given_name)):
            return False
        if given.shape == "upper":
            return t.shape == "upper"
        return t.shape == "cap" or (given.shape == "lower" and t.shape == "lower" and t.known)

    # -- the three forms of a mention ------------------------------------------------------

    def _given_first(self, toks: list[Spot], seps: list[str], form: Form, a: int) -> Cand | None:
        aligned = self._align(toks, seps, form, a)
        if aligned is None:
            return None
        return self._grade(toks, seps, form, *aligned, surname_first=False)

    def _align(self, toks: list[Spot], seps: list[str], form: Form, a: int) -> tuple[list[Match], list[int]] | None:
        """The form's parts matched to the tokens from its given name at `a` on, and the
        unregistered middle names inserted: (matched, inserted), or None."""
        parts = form.parts
        last = len(parts) - 1
        gm = self._given(parts[0], toks[a].tok, seps[a])
        if gm is None:
            return None
        matched = [Match(a, 0, *gm)]
        inserted: list[int] = []
        nxt = 1
        for b in range(a + 1, min(len(toks), a + 1 + MAX_SPAN)):
            sep = seps[b - 1]
            if sep not in _JOIN and not (sep == "dot" and toks[b - 1].tok.initial):
                return None
            t = toks[b].tok
            hit: tuple[int, tuple[str, int]] | None = None
            # Exact parts first, so that a typo never takes a part that is there exactly.
            skel = t.skel
            for k in range(nxt, len(parts)):
                part = parts[k]
                if skel == part.skel:
                    hit = k, ("exact" if t.raw == part.raw else "folded", 0)
                    break
                if k == last and skel == part.possessive:
                    hit = k, ("possessive", 0)
                    break
            if hit is None and self.vocab.typo_ok(t):
                # Only a misspelling is left to find (the loop above took every exact part).
                for k in range(nxt, len(parts)):
                    m = self._part(parts[k], t, final=k == last)
                    if m is not None:
                        hit = k, m
                        break
            if hit is not None:
                k, (kind, edits) = hit
                matched.append(Match(b, k, kind, edits))
                nxt = k + 1
                if k == last:
                    return matched, inserted
                continue
            if skel == parts[0].skel:
                # The given name again ("Sandheden om René\nRené Rosenkilde", "Karin Karin Kjær"):
                # not an unregistered middle name. The name starts at the repeat, and that start
                # is tried too; read from here, the repeat only made a longer, weaker reading
                # that covered the right one.
                return None
            if self._insertable(t, toks[a].tok) and len(inserted) < self.settings.max_inserted:
                inserted.append(b)
                continue
            return None
        return None

    def _surname_first(self, toks: list[Spot], seps: list[str], form: Form, b: int) -> Cand | None:
        """ "Rosenkilde, René": the surname block ends at b, a comma, then the given name."""
        parts = form.parts
        if b + 1 >= len(toks):
            return None
        gm = self._given(parts[0], toks[b + 1].tok, seps[b + 1])
        if gm is None or gm[0] == "initial":
            return None
        # A capitalised word right after the given name makes this a list of names, not one name.
        after = toks[b + 2].tok if b + 2 < len(toks) else None
        if after is not None and seps[b + 1] in ("space", "hyphen") and after.shape in ("cap", "upper"):
            return None
        surname = toks[b].tok
        matched = [Match(b, len(parts) - 1, "exact" if surname.raw == parts[-1].raw else "folded")]
        k = len(parts) - 2
        a = b
        while a - 1 >= 0 and seps[a - 1] in ("space", "hyphen", "dash") and k >= 1:
            t = toks[a - 1].tok
            found = next((kk for kk in range(k, 0, -1) if parts[kk].skel == t.skel), None)
            if found is None:
                break
            a -= 1
            matched.append(Match(a, found, "exact" if t.raw == parts[found].raw else "folded"))
            k = found - 1
        if a > 0 and seps[a - 1] in _OUTWARD:
            before = toks[a - 1].tok
            # "Kent Storm, Jens" is Kent Storm and a Jens; "Hvis Storm, Jens" is Jens Storm; and
            # "Storm Storm, Jens" repeats a part of this name, which names nobody else.
            if (
                before.shape in ("cap", "upper")
                and not before.title
                and (before.known or before.zipf < 4.0)
                and all(before.skel != part.skel for part in parts)
            ):
                return None
        matched.sort(key=lambda m: m.at)
        matched.append(Match(b + 1, 0, *gm))
        return self._grade(toks, seps, form, matched, [], surname_first=True)

    def _title(self, toks: list[Spot], seps: list[str], j: int) -> None:
        """A job title before a surname ("sagsbehandler Rosenkilde"): weak, resolved later."""
        chain: list[int] = []
        for k in range(j + 1, min(len(toks), j + 5)):
            if k > j + 1 and seps[k - 1] not in ("space", "hyphen"):
                break
            if toks[k].tok.shape not in ("cap", "upper"):
                break
            chain.append(k)
        if not chain:
            return
        # The surname must be the whole capitalised run after the title: "fagchef Have" but not
        # "fagchef Have Jensen".
        skels = [toks[k].tok.skel for k in chain]
        options = [(tuple(skels), False)]
        if skels[-1].endswith("s"):
            options.append(((*skels[:-1], skels[-1][:-1]), True))
        title = toks[j].tok
        for key, possessive in options:
            found = self.vocab.surnames.get(key, ())
            people = {self.vocab.forms[f].person for f in found}
            for f in found:
                why = [f"job title {title.raw!r} before the surname"]
                variants = {"title_surname"}
                if possessive:
                    why.append("possessive")
                    variants.add("possessive")
                form = self.vocab.forms[f]
                start, end = toks[j].start, toks[chain[-1]].end
                if len(people) == 1 and same_title(form.title, title.folded):
                    why.append("the only watched person with this surname, and the title is theirs")
                    score, possible = 92.0 - possessive, False
                else:
                    score, possible = 78.0, True
                self.cands.append(Cand(form, start, end, score, variants, why, possible, "title", title.folded))

    def _surnames(self, toks: list[Spot], seps: list[str], form: Form, j: int) -> Cand | None:
        """All of the form's surnames from toks[j] on, without its given name ("Brix Frølund")."""
        parts = form.parts[1:]
        end = j + len(parts) - 1
        if end >= len(toks) or any(p.initial for p in parts):
            return None
        # A middle given name is no surname: "Marie Steffensen" does not name Karin Marie Steffensen.
        if any(self.vocab.tok(p.raw).given_name for p in parts[:-1]):
            return None
        variants = {"surnames"}
        why = ["all the surnames, without the given name"]
        for k, part in enumerate(parts):
            t = toks[j + k].tok
            if k and seps[j + k - 1] not in ("space", "hyphen"):
                return None
            if t.shape not in ("cap", "upper"):
                return None
            if t.skel == part.skel:
                if t.raw != part.raw and "folded" not in variants:
                    variants.add("folded")
                    why.append("folded spelling (case, accents, æ/ø/å)")
            elif k == len(parts) - 1 and t.skel == part.possessive:
                variants.add("possessive")
                why.append(f"possessive {t.raw!r}")
            else:
                return None
        if j > 0 and seps[j - 1] in _OUTWARD:
            before = toks[j - 1].tok
            # "Anne Brix Frølund" is someone else; the person's own given name is the whole name.
            if before.shape in ("cap", "upper") and not before.title and (
                before.known or before.given_name or before.zipf < 4.0
            ):
                return None
        after = end + 1
        if after < len(toks) and seps[end] in _OUTWARD:
            nxt = toks[after].tok
            if nxt.shape in ("cap", "upper") and not nxt.title:
                return None  # the surname goes on: "Brix Frølund Hansen"
        key = tuple(p.skel for p in parts)
        people = {self.vocab.forms[f].person for f in self.vocab.surnames.get(key, ())}
        possible = len(people) > 1
        if possible:
            why.append(f"{len(people)} watched people have these surnames")
        common = [
            toks[j + k].tok.raw for k in range(len(parts)) if toks[j + k].tok.zipf >= self.settings.common_word_zipf
        ]
        if common:
            possible = True
            why.append(", ".join(repr(c) for c in common) + " common words")
        score = 92.0 - ("possessive" in variants) - 2 * ("folded" in variants)
        weak = "initial" if possible else ""  # shared: settled like an initial + surname
        return Cand(form, toks[j].start, toks[end].end, score, variants, why, possible, weak)

    # -- grading ---------------------------------------------------------------------------

    def _grade(
        self,
        toks: list[Spot],
        seps: list[str],
        form: Form,
        matched: list[Match],
        inserted: list[int],
        surname_first: bool,
    ) -> Cand | None:
        """Score a verified alignment, name its variant, and decide its tier (or refuse it)."""
        s = self.settings
        typos = [m for m in matched if m.kind == "typo"]
        if len(typos) > 1:
            return None  # two misspelt parts: no exact anchor left
        used = {m.part for m in matched}
        if "-" in form.joiners:
            for k in range(1, len(form.parts)):
                group = [kk for kk, p in enumerate(form.parts) if p.group == form.parts[k].group]
                if len(group) > 1 and k not in used and any(kk in used for kk in group):
                    return None  # a hyphenated surname is one name: "Ron Jespersen" is not Ron Sørensen-Jespersen
        for i in inserted:
            if (i > 0 and seps[i - 1] in ("hyphen", "dash")) or seps[i] in ("hyphen", "dash"):
                return None  # "Tove Schultz-Dahl" is another double surname, not Tove Dahl
        # Alignments run in text order: the first match starts the name, the last one ends it.
        first, last = matched[0].at, matched[-1].at
        span = toks[first : last + 1]
        after = last + 1
        if after < len(toks) and seps[last] == "hyphen" and toks[after].tok.shape in ("cap", "upper"):
            return None  # "J. Krogh-Ravn" is not J. Krogh: the surname goes on
        if first > 0 and seps[first - 1] == "hyphen" and toks[first - 1].tok.shape in ("cap", "upper"):
            return None  # nor is "Hansen-Jens Storm" Jens Storm
        if not surname_first and after < len(toks) and seps[last] == "space":
            nxt = toks[after].tok
            if (
                nxt.shape == toks[last].tok.shape
                and nxt.shape in ("cap", "upper")
                and (nxt.known or nxt.given_name or nxt.zipf < self.settings.typo_max_zipf)
            ):
                return None  # "M. Kristiansen Møller" is someone whose surname is Møller
        variants: set[str] = set()
        why: list[str] = []
        score = 100.0
        possible = False
        weak = ""
        if form.alias:
            variants.add("alias")
            why.append(f"alias {form.text!r}")
            score -= 2
        # Case: a name is written capitalised, all upper case or all lower case, not mixed.
        shapes = {x.tok.shape for x in span if len(x.tok.folded) > 1}
        if shapes == _LOWER:
            if typos or any(m.kind == "initial" for m in matched) or len(matched) < 2:
                return None
            name_toks = [toks[m.at].tok for m in matched]
            common = [t for t in name_toks if t.zipf >= s.common_word_zipf]
            if len(common) == len(name_toks) and min(t.zipf for t in name_toks) >= 5.5:
                return None  # "tage have": ordinary words, not Tage Have
            if common:
                possible = True
                why.append("lower case, and " + ", ".join(repr(t.raw) for t in common) + " common words")
        elif "lower" in shapes:
            lowers = [toks[m.at].tok for m in matched if toks[m.at].tok.shape == "lower"]
            if any(t.zipf >= s.typo_max_zipf for t in lowers) or typos:
                return None  # "Mette skov": a capitalised first name before an ordinary word
            score -= 5
            why.append("mixed case")
        for m in matched:
            part = form.parts[m.part]
            t = toks[m.at].tok
            if m.kind == "folded":
                if "folded" not in variants:
                    variants.add("folded")
                    why.append("folded spelling (case, accents, æ/ø/å)")
                    score -= 2
            elif m.kind == "possessive":
                variants.add("possessive")
                why.append(f"possessive {t.raw!r}")
                score -= 1
            elif m.kind == "typo":
                variants.add("typo")
                edits = f"{m.edits} edit{'s' if m.edits > 1 else ''}"
                why.append(f"misspelt {t.raw!r} for {part.raw!r} ({edits})")
                score -= 6 * m.edits
                if len(part.skel) <= 4:
                    possible = True
                    why.append("short name")
            elif m.kind == "initial":
                variants.add("initial")
                why.append(f"initial {t.raw}. for {part.raw!r}")
                score -= 8
                weak = "initial"
                surname_toks = [toks[x.at].tok for x in matched if x.part > 0]
                rare = len(surname_toks) > 1 or all(x.zipf < s.common_surname_zipf for x in surname_toks)
                if not rare:
                    possible = True
                    why.append("common surname")
                sharing = self.vocab.initial_people.get((t.initial, form.parts[-1].skel), frozenset())
                if len(sharing) > 1:
                    possible = True
                    why.append(f"{len(sharing)} watched people share this initial and surname")
        if surname_first:
            variants.add("surname_first")
            why.append("surname first")
            score -= 2
        if inserted:
            variants.add("middle_inserted")
            why.append("unregistered middle name " + " ".join(repr(toks[i].tok.raw) for i in inserted))
            score -= 3 * len(inserted)
        dropped = (
            [form.parts[k].raw for k in range(1, len(form.parts) - 1) if k not in used] if len(form.parts) > 2 else []
        )
        if dropped:
            variants.add("middle_dropped")
            why.append("without " + " ".join(repr(d) for d in dropped))
            score -= 2
        for m1, m2 in zip(matched, matched[1:], strict=False):
            if m2.at == m1.at + 1 and m2.part == m1.part + 1 and not surname_first:
                written = "-" if seps[m1.at] in ("hyphen", "dash") else " "
                if form.joiners[m1.part] != written:
                    variants.add("hyphenation")
            if seps[m1.at] == "newline" and m2.at == m1.at + 1:
                why.append("line break inside the name")
        if "hyphenation" in variants:
            why.append("hyphenation differs")
            score -= 1
        if not variants:
            variants.add("exact")
        if score < s.possible_score:
            return None
        return Cand(form, span[0].start, span[-1].end, score, variants, why, possible, weak)


def same_title(recorded: str, written: str) -> bool:
    """Is the folded title `written` the person's `recorded` one, or a common synonym of it?"""
    if not recorded:
        return False
    return recorded == written or written in _synonyms().get(recorded, frozenset())


@functools.lru_cache(maxsize=1)
def _synonyms() -> dict[str, frozenset[str]]:
    return load_title_synonyms()


def separator(gap: str) -> str:
    """How the text between two tokens joins them: space, newline, hyphen (a dash right after the
    first token), dash (a dash after white space), dot, comma or '' (not)."""
    if gap == " ":
        return "space"
    stripped = gap.strip()
    newlines = gap.count("\n")
    if newlines > 1:
        return ""
    if not stripped:
        return "newline" if newlines else ("space" if gap else "")
    if len(stripped) == 1 and _DASH.match(stripped):
        return "hyphen" if gap[0] == stripped else "dash"
    if stripped == "." and gap[0] == ".":
        return "dot"
    if stripped == "," and gap[0] == "," and gap != ",":
        return "comma"
    return ""
