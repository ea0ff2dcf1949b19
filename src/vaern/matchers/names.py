"""The name index and matcher: every watched name, however it is written, in one pass over a text.

    index = build_index(people, config.matching)    # once per crawl
    mentions = index.find(text)                     # pure: no I/O, deterministic

How it decides (see shared research note "matching"): whole-name similarity scores cannot tell
"Jens Hansson" from "Jens Hansen", so names are compared part by part.

1. Build: every name and alias becomes a *form* of structured parts (given name, middle names,
   surname; hyphen groups remembered). Parts are keyed by their folded skeleton (normalise.py),
   with SymSpell-style one-letter deletes for typo look-ups, an initial-letter index, and the
   surname sequences that a job title may precede.
2. Scan: one pass over the text's tokens with hash look-ups finds tokens that are exactly (after
   folding) a part of some watched name. A lone part is never a mention.
3. Verify around each hit: a mention needs the given name (exact, misspelt, an initial, or an
   alias) and the surname of the *same* form, in order, with only inserted middle names,
   hyphens, one line break, or a "." after an initial between them; or "Surname, Given"; or a
   job title before the surname. Misspellings are checked with an edit budget that grows with the
   part's length (none up to 3 letters) and are refused when the text word is itself a common
   word or a watched name part ("Jessen" is not a typo of "Jensen").
4. Grade: the score starts at 100 and loses points per departure from the registered form. The
   `high` tier is for whole-name forms; weak evidence (title + surname, an initial with a common
   surname, a typo in a short name, a lower-case name made of common words, a nickname alone) is
   `possible`. Thresholds: `matching.high_score` and `matching.possible_score`.

Each mention carries the variant that explains it, the reasons (`why`), the exact strings
compared, and the categories of its sentence (classify.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz.distance import OSA

from vaern.config import Matching
from vaern.domain import Mention, WatchedPerson
from vaern.matchers.classify import Classifier, build_classifier, sentence_bounds
from vaern.matchers.lexicon import Titles, load_titles, load_zipf
from vaern.matchers.normalise import fold, skeleton

# A token: letters and digits, with combining marks, soft hyphens and zero-width characters kept
# inside (they fold away), and an apostrophe between letters ("O'Brien", "Rosenkilde's").
TOKEN = re.compile(r"[^\W_](?:[^\W_]|[\u0300-\u036f\u00ad\u200b-\u200d\u2060]|['\u2019](?=[^\W_]))*")
_INNER = frozenset("\u00ad\u200b\u200c\u200d\u2060")
_APOSTROPHES = str.maketrans("", "", "'\u2019")
_DASH = re.compile(r"^[-\u2010\u2011\u2012\u2013\u2014\u2212]$")
_MAX_SPAN = 6  # tokens from a given name to its surname: given + 2 middles + 2 inserted + surname
_MARGIN = 64  # characters around a hit in which its partners are looked for
_CACHE_LIMIT = 300_000  # distinct token strings remembered between calls

# Variant labels, most telling first: a mention gets the first that applies.
VARIANTS = (
    "title_surname",
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


def _budget(length: int) -> int:
    """Edits allowed in a name part of this many letters: none for short parts (Holm/Helm)."""
    if length <= 3:
        return 0
    if length <= 8:
        return 1
    return 2


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


@dataclass(frozen=True)
class Part:
    raw: str
    folded: str
    skel: str
    group: int  # parts joined by hyphens share a group ("Krogh-Lassen")
    initial: bool  # registered as an initial ("R." in an alias)


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

    @property
    def given(self) -> Part:
        return self.parts[0]

    @property
    def surname(self) -> Part:
        return self.parts[-1]

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


def _parse(text: str) -> tuple[tuple[Part, ...], tuple[str, ...]]:
    parts: list[Part] = []
    joiners: list[str] = []
    for group, chunk in enumerate(text.split()):
        pieces = [p for p in re.split(r"[-\u2010\u2011\u2013]", chunk) if p.strip(".")]
        for j, piece in enumerate(pieces):
            raw = piece.strip(".")
            folded = fold(raw).replace(" ", "").translate(_APOSTROPHES)
            if not folded:
                continue
            if parts:
                joiners.append("-" if j > 0 else " ")
            parts.append(Part(raw, folded, skeleton(folded), group, len(folded) == 1))
    return tuple(parts), tuple(joiners)


@dataclass(eq=False)
class Tok:
    """What the index knows about one token string (cached between calls)."""

    raw: str
    folded: str
    skel: str
    shape: str  # "cap" | "upper" | "lower" | "other"
    zipf: float
    given: frozenset[int]  # forms whose given name this token is (exact skeleton)
    rest: dict[int, tuple[int, ...]]  # form -> indexes of its other parts equal to this token
    poss: dict[int, tuple[int, ...]]  # the same, for the token read as a possessive (-s)
    nick: tuple[int, ...]  # single-part forms (nicknames) equal to this token
    known: bool  # some watched name has this part: not a misspelling
    title: bool
    fuzzy_given: frozenset[int] | None = None  # computed on demand
    fuzzy_rest: dict[int, tuple[int, ...]] | None = None

    @property
    def hit(self) -> bool:
        return bool(self.given or self.rest or self.poss or self.nick)


@dataclass(frozen=True)
class _T:
    """A token at a place in the text."""

    start: int
    end: int
    tok: Tok


@dataclass
class _Cand:
    form: Form
    start: int
    end: int
    score: float
    variants: set[str]
    why: list[str]
    possible: bool
    fuzzy: int = 0


@dataclass
class NameIndex:
    """Watched people compiled for matching. Build with `build_index`; `find` is pure."""

    people: tuple[WatchedPerson, ...]
    settings: Matching
    forms: list[Form]
    by_skel: dict[str, list[tuple[int, int]]]
    deletes: dict[str, set[str]]
    initials: dict[str, frozenset[int]]
    surnames: dict[tuple[str, ...], list[int]]
    spellings: dict[str, frozenset[str]]  # skeleton -> the folded spellings registered for it
    zipf: dict[str, float]
    titles: Titles
    classifier: Classifier
    _cache: dict[str, Tok] = field(default_factory=dict)

    # -- token knowledge -----------------------------------------------------------------

    def tok(self, raw: str) -> Tok:
        t = self._cache.get(raw)
        if t is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            t = self._cache[raw] = self._learn(raw)
        return t

    def _learn(self, raw: str) -> Tok:
        folded = fold(raw).replace(" ", "").translate(_APOSTROPHES)
        skel = skeleton(folded)
        letters = [c for c in raw if c.isalpha()]
        if len(letters) > 1 and all(c.isupper() for c in letters):
            shape = "upper"
        elif letters and letters[0].isupper():
            shape = "cap"
        elif letters and all(c.islower() for c in letters):
            shape = "lower"
        else:
            shape = "other"
        given: set[int] = set()
        rest: dict[int, list[int]] = {}
        nick: list[int] = []
        for form_id, idx in self.by_skel.get(skel, ()):
            form = self.forms[form_id]
            if len(form.parts) == 1:
                nick.append(form_id)
            elif idx == 0:
                given.add(form_id)
            else:
                rest.setdefault(form_id, []).append(idx)
        poss: dict[int, list[int]] = {}
        if len(skel) > 2 and skel.endswith("s"):
            for form_id, idx in self.by_skel.get(skel[:-1], ()):
                if idx > 0 and idx == len(self.forms[form_id].parts) - 1:
                    poss.setdefault(form_id, []).append(idx)
        clean = "".join(c for c in raw if c not in _INNER)
        return Tok(
            raw=raw,
            folded=folded,
            skel=skel,
            shape=shape,
            zipf=self.zipf.get(clean.casefold(), 0.0),
            given=frozenset(given),
            rest={k: tuple(v) for k, v in rest.items()},
            poss={k: tuple(v) for k, v in poss.items()},
            nick=tuple(nick),
            known=skel in self.by_skel,
            title=self.titles.is_title(folded),
        )

    def _typo_ok(self, t: Tok) -> bool:
        """May this token be a misspelt name part? Not if it is a real word or a watched part."""
        return (
            self.settings.typos
            and t.shape in ("cap", "upper")
            and not t.known
            and len(t.skel) >= 3
            and t.zipf < self.settings.typo_max_zipf
        )

    def _fuzzy(self, t: Tok) -> tuple[frozenset[int], dict[int, tuple[int, ...]]]:
        """Forms with a part within its edit budget of this token: (given-name forms, other parts)."""
        if t.fuzzy_given is not None and t.fuzzy_rest is not None:
            return t.fuzzy_given, t.fuzzy_rest
        given: set[int] = set()
        rest: dict[int, list[int]] = {}
        if self._typo_ok(t):
            near: set[str] = set()
            for key in {t.skel, t.folded, *_deletes(t.skel), *_deletes(t.folded)}:
                near |= self.deletes.get(key, set())
            for skel in sorted(near):
                budget = _budget(len(skel))
                if len(skel) < 4 or budget == 0 or skel == t.skel:
                    continue
                if self._distance(t, skel, budget) > budget:
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

    def _distance(self, t: Tok, skel: str, budget: int) -> int:
        """Edits between a token and a registered part, on the skeleton or the folded spelling:
        the skeleton hides "Møller"/"Moller", the folded form keeps a typo like "Sabioe" from
        turning into "Sabio" (oe→o)."""
        best = OSA.distance(t.skel, skel, score_cutoff=budget)
        for folded in self.spellings.get(skel, ()):
            best = min(best, OSA.distance(t.folded, folded, score_cutoff=budget))
        return best

    # -- scanning ------------------------------------------------------------------------

    def _hits(self, text: str) -> list[_T]:
        """Every token of the text that is exactly (folded) a part of some watched name."""
        out: list[_T] = []
        cache = self._cache
        for m in TOKEN.finditer(text):
            raw = m.group()
            t = cache.get(raw)
            if t is None:
                t = self.tok(raw)
            if t.given or t.rest or t.poss or t.nick:
                out.append(_T(m.start(), m.end(), t))
        return out

    def _region(self, text: str, start: int, end: int) -> list[_T]:
        """The tokens of text[start:end], widened so that no token is cut."""
        while start > 0 and (text[start - 1].isalnum() or text[start - 1] in _INNER):
            start -= 1
        while end < len(text) and (text[end].isalnum() or text[end] in _INNER):
            end += 1
        return [_T(m.start(), m.end(), self.tok(m.group())) for m in TOKEN.finditer(text, start, end)]

    def find(self, text: str) -> list[Mention]:
        """All mentions of watched people in `text`, in text order; see the module doc."""
        hits = self._hits(text)
        if not hits:
            return []
        cands: list[_Cand] = []
        titled: list[tuple[_Cand, str]] = []
        # Group hits that lie close together; each group is verified on its own stretch of text.
        group: list[_T] = [hits[0]]
        for h in [*hits[1:], None]:
            if h is not None and h.start - group[-1].end <= _MARGIN:
                group.append(h)
                continue
            if len(group) > 1 or group[0].tok.shape in ("cap", "upper"):
                toks = self._region(text, group[0].start - _MARGIN, group[-1].end + _MARGIN)
                self._verify(text, toks, cands, titled)
            if h is not None:
                group = [h]
        cands.extend(self._resolve_titles(titled, cands))
        return self._mentions(text, self._prune(cands))

    # -- verification --------------------------------------------------------------------

    def _seps(self, text: str, toks: list[_T]) -> list[str]:
        """How each token is joined to the next: space, newline, hyphen, dot, comma or '' (not)."""
        out = []
        for a, b in zip(toks, toks[1:], strict=False):
            gap = text[a.end : b.start]
            stripped = gap.strip()
            newlines = gap.count("\n")
            if newlines > 1:
                out.append("")
            elif not stripped:
                out.append("newline" if newlines else ("space" if gap else ""))
            elif _DASH.match(stripped):
                out.append("hyphen")
            elif stripped == "." and gap[0] == ".":
                out.append("dot")
            elif stripped == "," and gap[0] == "," and gap != ",":
                out.append("comma")
            else:
                out.append("")
        out.append("")
        return out

    def _verify(self, text: str, toks: list[_T], cands: list[_Cand], titled: list[tuple[_Cand, str]]) -> None:
        seps = self._seps(text, toks)
        n = len(toks)
        pairs: set[tuple[int, int]] = set()  # (form, index of its given name) to try given-first
        firsts: set[tuple[int, int]] = set()  # (form, index of its surname) to try "Surname, Given"
        for j in range(n):
            t = toks[j].tok
            rest = set(t.rest) | set(t.poss)
            if rest:
                for i in range(j - 1, max(-1, j - _MAX_SPAN), -1):
                    if seps[i] not in ("space", "newline", "hyphen", "dot"):
                        break
                    ti = toks[i].tok
                    forms = set(ti.given)
                    if len(ti.folded) == 1 and ti.shape == "cap" and seps[i] == "dot":
                        forms |= self.initials.get(ti.folded, frozenset())
                    elif not ti.given and self._typo_ok(ti):
                        forms |= self._fuzzy(ti)[0]
                    for f in forms & rest:
                        pairs.add((f, i))
                for f in t.rest:
                    if self.forms[f].parts[-1].skel == t.skel:
                        firsts.add((f, j))
            if t.given:
                # Partners of a given name that are misspelt surnames or middle names.
                for k in range(j + 1, min(n, j + _MAX_SPAN)):
                    if seps[k - 1] not in ("space", "newline", "hyphen"):
                        break
                    tk = toks[k].tok
                    if tk.rest or tk.poss or not self._typo_ok(tk):
                        continue
                    for f in t.given & set(self._fuzzy(tk)[1]):
                        pairs.add((f, j))
            if t.nick and t.shape in ("cap", "upper") and t.zipf < self.settings.typo_max_zipf + 0.5:
                for f in t.nick:
                    cands.append(
                        _Cand(
                            self.forms[f],
                            toks[j].start,
                            toks[j].end,
                            80.0,
                            {"nickname"},
                            [f"nickname {self.forms[f].text!r}"],
                            True,
                        )
                    )
            if t.title and j + 1 < n and seps[j] in ("space", "dot"):
                self._title(text, toks, seps, j, titled)
        for f, i in sorted(pairs):
            c = self._given_first(text, toks, seps, self.forms[f], i)
            if c is not None:
                cands.append(c)
        for f, j in sorted(firsts):
            c = self._surname_first(text, toks, seps, self.forms[f], j)
            if c is not None:
                cands.append(c)

    def _match_part(self, part: Part, t: Tok, final: bool) -> tuple[str, int] | None:
        """How a text token matches one registered part: (kind, edits) or None."""
        if t.skel == part.skel:
            return ("exact" if t.raw == part.raw else "folded"), 0
        if final and t.skel == part.skel + "s":
            return "possessive", 0
        if len(part.skel) >= 4 and self._typo_ok(t):
            budget = _budget(len(part.skel))
            d = self._distance(t, part.skel, budget)
            if 0 < d <= budget:
                return "typo", d
        return None

    def _match_given(self, part: Part, t: Tok, sep_after: str) -> tuple[str, int] | None:
        if len(t.folded) == 1:
            if t.shape == "cap" and sep_after == "dot" and t.folded == part.folded[0]:
                return "initial", 0
            return None
        if part.initial:
            return None
        return self._match_part(part, t, final=False)

    def _given_first(self, text: str, toks: list[_T], seps: list[str], form: Form, a: int) -> _Cand | None:
        parts = form.parts
        gm = self._match_given(parts[0], toks[a].tok, seps[a])
        if gm is None:
            return None
        matched: list[tuple[int, int, str, int]] = [(a, 0, gm[0], gm[1])]
        inserted: list[int] = []
        nxt = 1
        for b in range(a + 1, min(len(toks), a + 1 + _MAX_SPAN)):
            sep = seps[b - 1]
            if sep not in ("space", "newline", "hyphen") and not (
                sep == "dot" and len(toks[b - 1].tok.folded) == 1
            ):
                return None
            t = toks[b].tok
            hit = None
            for k in range(nxt, len(parts)):  # exact parts first, so a typo never steals a part
                if t.skel == parts[k].skel or (k == len(parts) - 1 and t.skel == parts[k].skel + "s"):
                    hit = k, self._match_part(parts[k], t, final=k == len(parts) - 1)
                    break
            if hit is None:
                for k in range(nxt, len(parts)):
                    m = self._match_part(parts[k], t, final=k == len(parts) - 1)
                    if m is not None:
                        hit = k, m
                        break
            if (
                hit is not None
                and hit[1] is not None
                and (hit[1][0] != "possessive" or hit[0] == len(parts) - 1)
            ):
                k, (kind, edits) = hit[0], hit[1]
                matched.append((b, k, kind, edits))
                nxt = k + 1
                if k == len(parts) - 1:
                    return self._grade(text, toks, seps, form, matched, inserted, order="given_first")
                continue
            if self._insertable(t, toks[a].tok) and len(inserted) < self.settings.max_inserted:
                inserted.append(b)
                continue
            return None
        return None

    def _insertable(self, t: Tok, given: Tok) -> bool:
        """May this token stand between a given name and a surname as an unregistered middle name?"""
        if len(t.folded) == 1:
            return t.shape == "cap"  # a middle initial; its dot is checked by the caller
        if t.title or t.zipf >= 5.3 and not t.known:
            return False
        if given.shape == "upper":
            return t.shape == "upper"
        return t.shape == "cap" or (given.shape == "lower" and t.shape == "lower" and t.known)

    def _surname_first(self, text: str, toks: list[_T], seps: list[str], form: Form, b: int) -> _Cand | None:
        """ "Rosenkilde, René": the surname block ends at b, a comma, then the given name."""
        parts = form.parts
        if seps[b] != "comma" or b + 1 >= len(toks):
            return None
        gm = self._match_given(parts[0], toks[b + 1].tok, seps[b + 1])
        if gm is None or gm[0] == "initial":
            return None
        # A capitalised word right after the given name makes this a list of names, not one name.
        if (
            b + 2 < len(toks)
            and seps[b + 1] in ("space", "hyphen")
            and toks[b + 2].tok.shape in ("cap", "upper")
        ):
            return None
        matched: list[tuple[int, int, str, int]] = [
            (b, len(parts) - 1, "exact" if toks[b].tok.raw == parts[-1].raw else "folded", 0)
        ]
        k = len(parts) - 2
        a = b
        while a - 1 >= 0 and seps[a - 1] in ("space", "hyphen") and k >= 1:
            t = toks[a - 1].tok
            found = next((kk for kk in range(k, 0, -1) if parts[kk].skel == t.skel), None)
            if found is None:
                break
            a -= 1
            matched.append((a, found, "exact" if t.raw == parts[found].raw else "folded", 0))
            k = found - 1
        if a > 0 and seps[a - 1] in ("space", "newline", "hyphen"):
            before = toks[a - 1].tok
            # "Kent Storm, Jens" is Kent Storm and a Jens; "Hvis Storm, Jens" is Jens Storm.
            if before.shape in ("cap", "upper") and not before.title and (before.known or before.zipf < 4.0):
                return None
        matched.sort()
        matched.append((b + 1, 0, gm[0], gm[1]))
        return self._grade(text, toks, seps, form, matched, [], order="surname_first")

    def _grade(
        self,
        text: str,
        toks: list[_T],
        seps: list[str],
        form: Form,
        matched: list[tuple[int, int, str, int]],
        inserted: list[int],
        order: str,
    ) -> _Cand | None:
        """Score a verified alignment, name its variant, and decide its tier (or refuse it)."""
        s = self.settings
        kinds = [kind for _, _, kind, _ in matched]
        typos = [(ti, k, e) for ti, k, kind, e in matched if kind == "typo"]
        if len(typos) > 1:
            return None  # two misspelt parts: no exact anchor left
        idxs = sorted(ti for ti, _, _, _ in matched)
        first, last = min(idxs[0], *(inserted or [idxs[0]])), idxs[-1]
        span = toks[first : last + 1]
        exact_parts = sum(1 for k in kinds if k in ("exact", "folded", "possessive"))
        variants: set[str] = set()
        why: list[str] = []
        score = 100.0
        possible = False
        if form.alias:
            variants.add("alias")
            why.append(f"alias {form.text!r}")
            score -= 2
        # Case: a name is written all capitalised, all upper case, or all lower case.
        shapes = {t.tok.shape for t in span if len(t.tok.folded) > 1}
        name_toks = [toks[ti].tok for ti, _, _, _ in matched]
        if shapes == {"lower"}:
            if typos or "initial" in kinds or exact_parts < 2:
                return None
            common = [t for t in name_toks if t.zipf >= s.common_word_zipf]
            if len(common) == len(name_toks) and min(t.zipf for t in name_toks) >= 5.5:
                return None  # "tage have": ordinary words, not Tage Have
            if common:
                possible = True
                why.append("lower case, and " + ", ".join(t.raw for t in common) + " is a common word")
        elif "lower" in shapes:
            lowers = [t for t in name_toks if t.shape == "lower"]
            if any(t.zipf >= s.typo_max_zipf for t in lowers) or typos:
                return None  # "Mette skov": a capitalised first name before an ordinary word
            score -= 5
            why.append("mixed case")
        for ti, k, kind, edits in matched:
            part = form.parts[k]
            t = toks[ti].tok
            if kind == "folded":
                variants.add("folded")
            elif kind == "possessive":
                variants.add("possessive")
                why.append(f"possessive {t.raw!r}")
                score -= 1
            elif kind == "typo":
                variants.add("typo")
                why.append(f"misspelt {t.raw!r} for {part.raw!r} ({edits} edit{'s' if edits > 1 else ''})")
                score -= 6 * edits
                if len(part.skel) <= 4:
                    possible = True
            elif kind == "initial":
                variants.add("initial")
                why.append(f"initial {t.raw}. for {part.raw!r}")
                score -= 8
                surname_toks = [toks[x].tok for x, kk, _, _ in matched if kk > 0]
                rare = len(surname_toks) > 1 or all(x.zipf < s.common_surname_zipf for x in surname_toks)
                sharing = {
                    self.forms[f].person
                    for f in self.initials.get(t.folded, frozenset())
                    if self.forms[f].surname.skel == form.surname.skel
                }
                if not rare:
                    possible = True
                    why.append("common surname")
                if len(sharing) > 1:
                    possible = True
                    why.append(f"{len(sharing)} watched people share this initial and surname")
        if order == "surname_first":
            variants.add("surname_first")
            why.append("surname first")
            score -= 2
        if inserted:
            variants.add("middle_inserted")
            why.append("unregistered middle name " + " ".join(repr(toks[i].tok.raw) for i in inserted))
            score -= 3 * len(inserted)
        used = {k for _, k, _, _ in matched}
        for k in range(1, len(form.parts)):
            group = [kk for kk, p in enumerate(form.parts) if p.group == form.parts[k].group]
            if len(group) > 1 and k not in used and any(kk in used for kk in group):
                return None  # a hyphenated surname is one name: "Ron Jespersen" is not Ron Sørensen-Jespersen
        for i in inserted:
            if (i > 0 and seps[i - 1] == "hyphen") or seps[i] == "hyphen":
                return None  # "Tove Schultz-Dahl" is another double surname, not Tove Dahl
        dropped = [form.parts[k].raw for k in range(1, len(form.parts) - 1) if k not in used]
        if dropped:
            variants.add("middle_dropped")
            why.append("without " + " ".join(repr(d) for d in dropped))
            score -= 2
        by_tok = sorted((ti, k) for ti, k, _, _ in matched)
        for (t1, k1), (t2, k2) in zip(by_tok, by_tok[1:], strict=False):
            if t2 == t1 + 1 and k2 == k1 + 1 and order == "given_first":
                registered = form.joiners[k1]
                written = "-" if seps[t1] == "hyphen" else " "
                if registered != written:
                    variants.add("hyphenation")
            if seps[t1] == "newline" and t2 == t1 + 1:
                why.append("line break inside the name")
        if "hyphenation" in variants:
            why.append("hyphenation differs")
            score -= 1
        if not variants:
            variants.add("exact")
        if score < s.possible_score:
            return None
        return _Cand(form, span[0].start, span[-1].end, score, variants, why, possible, len(typos))

    def _title(
        self, text: str, toks: list[_T], seps: list[str], j: int, titled: list[tuple[_Cand, str]]
    ) -> None:
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
        for key, possessive in options:
            for f in self.surnames.get(key, ()):
                form = self.forms[f]
                why = [f"job title {toks[j].tok.raw!r} before the surname"]
                if possessive:
                    why.append("possessive")
                c = _Cand(form, toks[chain[0]].start, toks[chain[-1]].end, 78.0, {"title_surname"}, why, True)
                c.start = toks[j].start
                titled.append((c, toks[j].tok.folded))

    def _resolve_titles(self, titled: list[tuple[_Cand, str]], cands: list[_Cand]) -> list[_Cand]:
        """A title + surname names one person only when the surname is unambiguous, the text
        names that person fully elsewhere, or the person has that job title."""
        named = {c.form.person for c in cands}
        by_span: dict[tuple[int, int], list[tuple[_Cand, str]]] = {}
        for c, title in titled:
            by_span.setdefault((c.start, c.end), []).append((c, title))
        out: list[_Cand] = []
        for group in by_span.values():
            people = {c.form.person for c, _ in group}
            if len(people) == 1:
                out.extend(c for c, _ in group)
                continue
            chosen = [c for c, _ in group if c.form.person in named]
            if not chosen:
                chosen = [c for c, title in group if c.form.title and c.form.title == title]
            for c in chosen:
                c.why.append("surname shared by several watched people; chosen from context")
            out.extend(chosen)
        return out

    # -- results -------------------------------------------------------------------------

    def _prune(self, cands: list[_Cand]) -> list[_Cand]:
        """One mention per person and place; drop a name that sits inside a longer, better one."""
        best: dict[tuple[str, int, int], _Cand] = {}
        for c in cands:
            key = (c.form.person, c.start, c.end)
            old = best.get(key)
            if old is None or (c.score, -c.form.id) > (old.score, -old.form.id):
                best[key] = c
        items = sorted(best.values(), key=lambda c: (c.start, -c.end, -c.score, c.form.person))
        kept: list[_Cand] = []
        for c in items:
            inside = False
            for o in items:
                if o is c:
                    continue
                covers = o.start <= c.start and c.end <= o.end and (o.end - o.start) > (c.end - c.start)
                same_person_overlap = (
                    o.form.person == c.form.person
                    and o.start < c.end
                    and c.start < o.end
                    and (o.score, o.end - o.start) > (c.score, c.end - c.start)
                )
                if (covers and o.score >= c.score) or same_person_overlap:
                    inside = True
                    break
            if not inside:
                kept.append(c)
        return kept

    def _mentions(self, text: str, cands: Iterable[_Cand]) -> list[Mention]:
        s = self.settings
        cands = sorted(cands, key=lambda c: (c.start, c.end, c.form.person))
        spans = [(c.start, c.end, "possessive" in c.variants) for c in cands]
        sentence_cats: dict[tuple[int, int], tuple[str, ...]] = {}
        out: list[Mention] = []
        for c in cands:
            bounds = sentence_bounds(text, c.start, c.end)
            if bounds not in sentence_cats:
                sentence_cats[bounds] = self.classifier.categories(text, bounds, spans)
            variant = next(v for v in VARIANTS if v in c.variants)
            high = c.score >= s.high_score and not c.possible
            matched = text[c.start : c.end]
            out.append(
                Mention(
                    person=c.form.person,
                    start=c.start,
                    end=c.end,
                    matched=matched,
                    score=round(c.score, 1),
                    confidence="high" if high else "possible",
                    variant=variant,
                    compared=(matched, c.form.text),
                    categories=sentence_cats[bounds],
                    why=tuple(c.why),
                )
            )
        return out


def build_index(people: Sequence[WatchedPerson], settings: Matching | None = None) -> NameIndex:
    """Compile the watched people (names and aliases) into a `NameIndex`."""
    settings = settings or Matching()
    forms: list[Form] = []
    for person in people:
        title = fold(person.title).replace(" ", "") if person.title else ""
        for text, alias in ((person.name, False), *((a, True) for a in person.aliases)):
            parts, joiners = _parse(text)
            if not parts or (len(parts) == 1 and parts[0].initial):
                continue
            forms.append(Form(len(forms), person.id, text, alias, parts, joiners, title))
    by_skel: dict[str, list[tuple[int, int]]] = {}
    initials: dict[str, set[int]] = {}
    surnames: dict[tuple[str, ...], list[int]] = {}
    for form in forms:
        for i, part in enumerate(form.parts):
            if not part.initial:
                by_skel.setdefault(part.skel, []).append((form.id, i))
        if len(form.parts) > 1:
            initials.setdefault(form.given.folded[0], set()).add(form.id)
            for seq in form.surname_forms():
                surnames.setdefault(seq, []).append(form.id)
    spellings: dict[str, set[str]] = {}
    for form in forms:
        for part in form.parts:
            if not part.initial:
                spellings.setdefault(part.skel, set()).add(part.folded)
    deletes: dict[str, set[str]] = {}
    for skel, folded_forms in spellings.items():
        if len(skel) >= 4:
            for spelling in {skel, *folded_forms}:
                for key in (spelling, *_deletes(spelling)):
                    deletes.setdefault(key, set()).add(skel)
    return NameIndex(
        people=tuple(people),
        settings=settings,
        forms=forms,
        by_skel=by_skel,
        deletes=deletes,
        initials={k: frozenset(v) for k, v in initials.items()},
        surnames=surnames,
        spellings={k: frozenset(v) for k, v in spellings.items()},
        zipf=load_zipf(),
        titles=load_titles(settings.titles),
        classifier=build_classifier(settings),
    )


__all__ = ["VARIANTS", "NameIndex", "build_index"]
