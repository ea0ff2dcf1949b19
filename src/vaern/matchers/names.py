"""Name index and matcher, first version: whole-word, case- and accent-insensitive.

Finds each registered name and alias as whole words. The deep matcher (variants, typos,
confidence from name frequency) replaces this behind the same interface.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from vaern.config import Matching
from vaern.domain import Mention, WatchedPerson


def _fold(text: str) -> str:
    """Lower-case and strip accents, keeping one output char per input char (offsets stay valid)."""
    out = []
    for ch in text:
        decomposed = unicodedata.normalize("NFD", ch.lower())
        base = "".join(c for c in decomposed if not unicodedata.combining(c))
        out.append(base[:1] if base else ch)
    return "".join(out)


def _key(form: str) -> str:
    return re.sub(r"\s+", " ", _fold(form)).strip()


@dataclass
class NameIndex:
    """Every registered name and alias, compiled into one whole-word pattern over folded text."""

    people: tuple[WatchedPerson, ...]
    _pattern: re.Pattern[str]
    _owners: dict[str, list[tuple[str, str]]]

    def find(self, text: str) -> list[Mention]:
        mentions: list[Mention] = []
        for m in self._pattern.finditer(_fold(text)):
            original = text[m.start() : m.end()]
            for person_id, registered in self._owners[_key(m.group(0))]:
                mentions.append(
                    Mention(
                        person=person_id,
                        start=m.start(),
                        end=m.end(),
                        matched=original,
                        score=100.0,
                        confidence="high",
                        variant="exact" if original == registered else "folded",
                        compared=(original, registered),
                    )
                )
        return mentions


def build_index(people: Sequence[WatchedPerson], settings: Matching | None = None) -> NameIndex:
    """The index for these people; this first version has no thresholds to take from `settings`."""
    owners: dict[str, list[tuple[str, str]]] = {}
    for person in people:
        for form in (person.name, *person.aliases):
            if key := _key(form):
                owners.setdefault(key, []).append((person.id, form))
    if owners:
        # A space inside a name may be any run of whitespace in the text (a line break, say).
        alternatives = "|".join(
            r"\s+".join(re.escape(part) for part in k.split(" ")) for k in sorted(owners, key=len, reverse=True)
        )
        pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")
    else:
        pattern = re.compile(r"(?!x)x")
    return NameIndex(tuple(people), pattern, owners)
