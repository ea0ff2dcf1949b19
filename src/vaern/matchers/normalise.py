"""Text and name normalisation for matching: one fold for both sides, offsets kept.

Harassers write "Rene", "RENÉ", "Soeren", "Sorensen", "Vestergård" for names HR registered as
"René", "Søren", "Sørensen", "Vestergaard". Two levels meet those spellings:

- `fold` (of a whole text or one token): Unicode NFKC, case folding, accents stripped (é→e),
  Danish letters written out (æ→ae, ø→oe, å→aa, also ä/ö/ü), soft hyphens and zero-width
  characters dropped, hyphens/dashes and every run of whitespace (line breaks included) as one
  space. `fold_text` also returns, for every folded character, where it came from, so a span
  found in the folded text maps back to the exact characters of the original.
- `skeleton` (of one folded token): aa/ae/oe collapsed to a/a/o, so that æ/ae/a, ø/oe/o and
  å/aa/a all meet: "Nørgård", "Noergaard", "Norgaard" and "Nørgaard" share "norgard".

Nothing here is configurable; the matcher (names.py, `Matching` in config.py) decides what to do
with the folded forms.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Written out rather than stripped: Danish readers treat "oe" as "ø", and names kept the old
# spellings after the 1948 reform ("Aagaard" and "Ågård" are the same name).
_LETTERS = {
    "æ": "ae",
    "ø": "oe",
    "å": "aa",
    "ä": "ae",
    "ö": "oe",
    "ü": "ue",
    "ǿ": "oe",
    "ß": "ss",
    "đ": "d",
    "ð": "d",
    "ł": "l",
    "ı": "i",
    "þ": "th",
    "œ": "oe",
    "ĳ": "ij",
}
# Characters that vanish: soft hyphen and zero-width marks split nothing in a rendered name.
_INVISIBLE = frozenset("\u00ad\u200b\u200c\u200d\u2060\ufeff")
# Hyphens and dashes join double surnames ("Huus-Pedersen"); folded they are just a space.
_DASHES = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d")
_SKELETON = re.compile(r"aa|ae|oe")
_SKELETON_MAP = {"aa": "a", "ae": "a", "oe": "o"}


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    """The folded form of one original character: '' (dropped), ' ' (a separator) or letters."""
    if ch in _INVISIBLE:
        return ""
    if ch in _DASHES or ch.isspace():
        return " "
    out = []
    for c in unicodedata.normalize("NFKC", ch).casefold():
        if c in _LETTERS:
            out.append(_LETTERS[c])
            continue
        for d in unicodedata.normalize("NFD", c):
            if unicodedata.combining(d):
                continue
            out.append(_LETTERS.get(d, d))
    return "".join(out)


@dataclass(frozen=True)
class Folded:
    """A folded text and, for each of its characters, the offset of the original character.

    `origin` has one entry more than `text`: the original length, so that an end offset maps too.
    """

    text: str
    origin: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of the folded text to the original text."""
        if end <= start:
            return self.origin[start], self.origin[start]
        # The end maps to just past the original character that produced the last folded one.
        return self.origin[start], self.origin[end - 1] + 1


def fold_text(text: str) -> Folded:
    """Fold a whole text (see module doc) and keep where each folded character came from.

    Whitespace runs become one space and a leading/trailing space is dropped, so the result is
    a fixed point: `fold_text(fold_text(t).text).text == fold_text(t).text`.
    """
    out: list[str] = []
    origin: list[int] = []
    pending_space = -1  # original offset of a separator not yet written
    for i, ch in enumerate(text):
        if ch.isascii() and ch.isalnum():
            # The common case, kept cheap: ASCII letters and digits only need lower-casing.
            piece = ch.lower()
        else:
            # A combining mark after its base letter belongs to that letter: it folds to nothing.
            piece = _fold_char(ch)
        if not piece:
            continue
        if piece == " ":
            if pending_space < 0:
                pending_space = i
            continue
        if pending_space >= 0:
            if out:
                out.append(" ")
                origin.append(pending_space)
            pending_space = -1
        for c in piece:
            out.append(c)
            origin.append(i)
    origin.append(len(text))
    return Folded("".join(out), tuple(origin))


def _fast_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {ord(c): None for c in _INVISIBLE}
    table.update({ord(c): " " for c in _DASHES})
    table[0xA0] = " "
    # Every Latin-1 and Latin Extended-A letter whose fold is ASCII, computed the slow way.
    for code in range(0xC0, 0x180):
        ch = chr(code).casefold()
        if len(ch) == 1 and not ch.isascii():
            folded = _fold_char(ch)
            if folded.isascii() and folded.isalpha():
                table[ord(ch)] = folded
    return table


_FAST = _fast_table()
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def fold(text: str) -> str:
    """The folded form of a text or token (see module doc), without the offset map.

    Same result as `fold_text(text).text`; the common case (Danish and other Latin text) takes a
    C-speed path: case folding, one translation table, whitespace collapsed.
    """
    quick = text.casefold()
    if not quick.isascii():
        # Danish letters first (as `_FAST` folds them); any other non-ASCII character through
        # the table one by one.
        quick = spell_out_danish(quick)
        if not quick.isascii():
            quick = _NON_ASCII.sub(_fast_char, quick)
        if not quick.isascii():
            return fold_text(text).text
    return spaced(quick)


def spaced(folded_letters: str) -> str:
    """The last step of `fold`: hyphens made spaces, white space collapsed to one space."""
    return " ".join(folded_letters.replace("-", " ").split())


def spell_out_danish(lowered: str) -> str:
    """Lower-case text with æ, ø, å and é spelled as `fold` spells them, by plain replacement
    (C speed)."""
    return lowered.replace("æ", "ae").replace("ø", "oe").replace("å", "aa").replace("é", "e")


def _fast_char(m: re.Match[str]) -> str:
    code = ord(m.group())
    if code in _FAST:
        return _FAST[code] or ""
    return m.group()


def skeleton(folded: str) -> str:
    """Collapse the spelling pairs that Danish writes both ways: aa→a, ae→a, oe→o.

    Takes an already folded token. Both sides of every comparison go through it, so
    "Kjær"/"Kjaer"/"Kjar" and "Møller"/"Moeller"/"Moller" meet.
    """
    return _SKELETON.sub(lambda m: _SKELETON_MAP[m.group(0)], folded)


def token_key(raw: str) -> tuple[str, str]:
    """(folded, skeleton) of one token as it is written in a text or a name."""
    folded = fold(raw).replace(" ", "")
    return folded, skeleton(folded)
