"""The name index and matcher: every watched name, however it is written, in one pass over a text.

    index = build_index(people, config.matching)    # once per crawl
    mentions = index.find(text)                     # pure: no I/O, deterministic

How it decides (see the shared research note on matching): whole-name similarity scores cannot
tell "Jens Hansson" from "Jens Hansen", so names are compared part by part.

1. Build (vocab.py): every name and alias becomes a form of structured parts, keyed by folded
   skeleton (normalise.py), with one-letter deletes for typos and an initial-letter index.
2. Scan: hash look-ups find the tokens that are exactly (after folding) a part of some watched
   name. A lone part is never a mention, so a hit is looked at more closely only when another
   part of the same form is near with no ordinary lower-case word between them, or when it is
   capitalised and has a capitalised word, an initial or a job title beside it. An everyday
   word ("hans", "tage") is part of a name only in an all lower-case one, so it is looked for
   only when a lower-case partner is in the text, and paired only with such a partner.
3. Verify (verify.py): around those hits, align the tokens with each candidate form — given
   name, middle names, surname, with the variants people write — and grade the alignment.
   Misspellings get an edit budget that grows with the part's length and are refused when the
   text word is itself a common word or a real given name ("Jessen" is no typo of "Jensen").
4. Settle: weak evidence (a title or an initial with a surname several people share) goes to
   the person the text names elsewhere (`matching.max_shared`); a name inside a longer one
   ("Marie Steffensen" in "Kirstin Marie Steffensen") is dropped.
5. Categorise (classify.py) the sentence of each mention.

Tiers: `high` (alert at once) needs `matching.high_score` and a whole-name form; title +
surname, an initial with a common or shared surname, a typo in a short name, a lower-case name
made of common words and a lone nickname are `possible`; below `matching.possible_score`
nothing is reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from vaern.config import Matching
from vaern.domain import Mention, WatchedPerson
from vaern.matchers.classify import Classifier, build_classifier, sentence_bounds
from vaern.matchers.settle import prune, resolve
from vaern.matchers.verify import VARIANTS, Cand, Spot, Verifier, separator
from vaern.matchers.vocab import PLAIN_TOKEN, RARE, TOKEN, Tok, Vocabulary, build_vocabulary, is_token_char

_PAIR_GAP = 64  # characters between two parts of one name (room for two inserted middle names)
_MARGIN = 40  # characters around a hit in which its partners are looked for
# When a long text has many distinct hit words, one tokenising pass beats a search per word.
_FIND_BUDGET = 4_000_000
# What follows a hit: is the next word capitalised? (`_word_before` finds the word before it.)
_AFTER = re.compile(r"[ \t\u00a0]*(?:\r?\n)?[ \t\u00a0]*(?:[-\u2010\u2011\u2013][ \t\u00a0\n]*|[.,][ \t\u00a0]*)?(\w)")


@dataclass
class NameIndex:
    """Watched people compiled for matching. Build with `build_index`; `find` is pure."""

    people: tuple[WatchedPerson, ...]
    settings: Matching
    vocab: Vocabulary
    classifier: Classifier

    def find(self, text: str, chunks: AbstractSet[str] | Mapping[str, tuple[Tok, ...]] | None = None) -> list[Mention]:
        """All mentions of watched people in `text`, in text order; see the module doc.
        `chunks`: the text's distinct whitespace-separated chunks, or those holding a watched
        part with the parts each holds (`vocab.named_chunks`), where the caller has them already
        (the assessment reads them too)."""
        spots = self.hits(text, chunks)
        if not spots:
            return []
        verifier = Verifier(self.vocab, self.settings)
        for start, end in self._windows(text, spots):
            verifier.region(*self._region(text, start, end))
        verifier.initials()
        if not verifier.cands:
            return []
        return self._mentions(text, prune(resolve(verifier.cands, self.settings.max_shared)))

    # -- scanning --------------------------------------------------------------------------

    def hits(self, text: str, chunks: AbstractSet[str] | Mapping[str, tuple[Tok, ...]] | None = None) -> list[Spot]:
        """Every token of the text that is exactly (folded) a part of some watched name."""
        kinds = self.vocab.hit_kinds(set(text.split()) if chunks is None else chunks)
        if not kinds:
            return []
        # An ordinary lower-case word ("hans", "bo", "tage") can only be part of an all
        # lower-case name, so it is looked for only when its partner is in the text too.
        kinds = self.vocab.paired(kinds)
        if not kinds:
            return []
        if len(kinds) * len(text) > _FIND_BUDGET:
            return self.hits_by_pass(text)
        out: list[Spot] = []
        find = text.find
        size = len(text)
        for t in kinds:
            raw = t.raw
            n = len(raw)
            pos = find(raw)
            while pos >= 0:
                end = pos + n
                # Most places have a space on both sides: a whole token, without a call.
                spaced = (pos == 0 or text[pos - 1] == " ") and (end == size or text[end] == " ")
                if spaced or _token_at(text, pos, n):
                    out.append(Spot(pos, end, t))
                pos = find(raw, end)
        out.sort(key=_start)
        return out

    def hits_by_pass(self, text: str) -> list[Spot]:
        """The same as `hits`, in one tokenising pass (for long texts with many distinct hits)."""
        tok = self.vocab.tok
        cache = self.vocab.cache
        out: list[Spot] = []
        for m in TOKEN.finditer(text):
            raw = m.group()
            t = cache.get(raw) or tok(raw)
            if t.forms:
                out.append(Spot(m.start(), m.end(), t))
        return out

    def _windows(self, text: str, spots: list[Spot]) -> list[tuple[int, int]]:
        """Stretches of text worth verifying: around hits that could be part of a mention."""
        n = len(spots)
        need = [False] * n
        for i, h in enumerate(spots):
            partners = h.tok.partners
            k = i + 1
            while k < n and spots[k].start - h.end <= _PAIR_GAP:
                other = spots[k].tok
                # An everyday word ("hans", "tage") is part of a name only in an all lower-case one.
                if (
                    not partners.isdisjoint(other.keys)
                    and (not h.tok.everyday or other.shape == "lower")
                    and (not other.everyday or h.tok.shape == "lower")
                    and self._joinable(text, h.end, spots[k].start)
                ):
                    need[i] = need[k] = True
                k += 1
            if not need[i] and h.tok.shape in ("cap", "upper"):
                need[i] = bool(h.tok.nick) or self._capital_neighbour(text, h)
        windows: list[tuple[int, int]] = []
        for i in range(n):
            if need[i]:
                start, end = max(0, spots[i].start - _MARGIN), spots[i].end + _MARGIN
                if windows and start <= windows[-1][1]:
                    windows[-1] = (windows[-1][0], end)
                else:
                    windows.append((start, end))
        return windows

    def _joinable(self, text: str, start: int, end: int) -> bool:
        """May text[start:end], between two hits, lie inside one name? Not if it holds an
        ordinary lower-case word: no name goes on through one ("hans over larsen")."""
        if end - start <= 1:
            return True
        tok = self.vocab.tok
        cache = self.vocab.cache
        for raw in TOKEN.findall(text, start, end):
            t = cache.get(raw) or tok(raw)
            if t.shape == "lower" and not t.forms:
                return False
        return True

    def _capital_neighbour(self, text: str, h: Spot) -> bool:
        """A capitalised word, an initial or a job title right before or after a capitalised hit."""
        # Most hits are followed by one space and a word: that word's first letter, without a regex.
        nxt = text[h.end + 1 : h.end + 2] if text[h.end : h.end + 1] == " " else ""
        if nxt.isalnum():
            if nxt.isupper():
                return True
        else:
            after = _AFTER.match(text, h.end)
            if after is not None and after.group(1).isupper():
                return True
        word = _word_before(text, max(0, h.start - 40), h.start)
        return bool(word) and (word[:1].isupper() or self.vocab.tok(word).title)

    def _region(self, text: str, start: int, end: int) -> tuple[list[Spot], list[str]]:
        """The tokens of text[start:end], widened so that no token is cut, and the separator
        after each (see verify.separator)."""
        while start > 0 and is_token_char(text[start - 1]):
            start -= 1
        while end < len(text) and is_token_char(text[end]):
            end += 1
        # The plain pattern is twice as fast, and cuts the same tokens where there are no
        # combining marks, soft hyphens or zero widths.
        pattern = TOKEN if RARE.search(text, start, end) else PLAIN_TOKEN
        tok = self.vocab.tok
        cache = self.vocab.cache
        toks: list[Spot] = []
        seps: list[str] = []
        at = -1
        for raw in pattern.findall(text, start, end):
            # Nothing between two tokens can begin a token, so the next occurrence of this
            # token's string is the token itself: cheaper than a match object per token.
            last = at
            at = text.find(raw, start if last < 0 else last)
            if last >= 0:
                seps.append("space" if at == last + 1 and text[last] == " " else separator(text[last:at]))
            toks.append(Spot(at, at + len(raw), cache.get(raw) or tok(raw)))
            at += len(raw)
        seps.append("")
        return toks, seps

    # -- results ---------------------------------------------------------------------------

    def _mentions(self, text: str, cands: list[Cand]) -> list[Mention]:
        s = self.settings
        cands = sorted(cands, key=lambda c: (c.start, c.end, c.form.person))
        spans = [(c.start, c.end, "possessive" in c.variants) for c in cands]
        sentence_cats: dict[tuple[int, int], tuple[str, ...]] = {}
        out: list[Mention] = []
        for c in cands:
            bounds = sentence_bounds(text, c.start, c.end)
            if bounds not in sentence_cats:
                sentence_cats[bounds] = self.classifier.categories(text, bounds, spans)
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
                    variant=_variant(c.variants),
                    compared=(matched, c.form.text),
                    categories=sentence_cats[bounds],
                    why=tuple(c.why),
                )
            )
        return out


def _word_before(text: str, lo: int, end: int) -> str:
    r"""The word that text[lo:end] ends with, past the separators a name allows after a word: an
    optional full stop, then spaces, commas and dashes, then at most one line break and spaces.
    What `(\w+)\.?[ \t\u00a0,\-\u2010\u2011\u2013]*\n?[ \t\u00a0]*\Z` searched in text[lo:end]
    finds, without trying the regex at every position."""
    i = end
    while i > lo and text[i - 1] in " \t\u00a0":
        i -= 1
    if i > lo and text[i - 1] == "\n":
        i -= 1
    while i > lo and text[i - 1] in " \t\u00a0,-\u2010\u2011\u2013":
        i -= 1
    if i > lo and text[i - 1] == ".":
        i -= 1
    j = i
    while j > lo and (text[j - 1].isalnum() or text[j - 1] == "_"):
        j -= 1
    return text[j:i]


def _variant(variants: set[str]) -> str:
    """The most telling of a mention's variants (see verify.VARIANTS)."""
    if len(variants) == 1:
        for v in variants:
            return v
    return next(v for v in VARIANTS if v in variants)


def _start(spot: Spot) -> int:
    return spot.start


def _token_at(text: str, pos: int, length: int) -> bool:
    """Is text[pos:pos+length] (a token string) a whole token, as `TOKEN.finditer` cuts it?"""
    if pos > 0:
        prev = text[pos - 1]
        if is_token_char(prev) or (prev in "'\u2019" and pos > 1 and is_token_char(text[pos - 2])):
            return False
    end = pos + length
    if end < len(text):
        nxt = text[end]
        if is_token_char(nxt) or (nxt in "'\u2019" and end + 1 < len(text) and is_token_char(text[end + 1])):
            return False
    return True


def build_index(people: Sequence[WatchedPerson], settings: Matching | None = None) -> NameIndex:
    """Compile the watched people (names and aliases) into a `NameIndex`."""
    settings = settings or Matching()
    return NameIndex(
        people=tuple(people),
        settings=settings,
        vocab=build_vocabulary(people, settings),
        classifier=build_classifier(settings),
    )


__all__ = ["VARIANTS", "NameIndex", "build_index"]
