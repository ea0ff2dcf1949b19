"""Word knowledge the name matcher needs: how common a word is in Danish, and job titles.

Danish surnames are ordinary words ("Skov", "Have", "Storm") and many first names are too
("Bo", "Tage"); a typo of a name is almost never a real word. wordfreq's Danish frequencies
(shipped inside that package, read once when the index is built) give both answers as a Zipf
value: 7 for "og", 6 for "have", 4-5 for common names, 0 for "Rosenkilde" or "Gusav".

Titles come from `data/titles.da.txt` (package data) plus `matching.titles` in the config.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from types import MappingProxyType

from vaern.matchers.normalise import fold


@lru_cache(maxsize=1)
def load_zipf() -> Mapping[str, float]:
    """Zipf frequency of each Danish word wordfreq knows, keyed by the case-folded word.

    Read once per process (on the first index built) and shared, read-only, by every index."""
    import wordfreq  # imported here: loading its data is build-time work, not import-time work

    return MappingProxyType(
        {w: round(math.log10(f) + 9.0, 2) for w, f in wordfreq.get_frequency_dict("da").items() if f > 0}
    )


def read_data(name: str) -> list[str]:
    """The non-comment, non-blank lines of a package data file under matchers/data/."""
    text = resources.files("vaern.matchers").joinpath("data", name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@dataclass(frozen=True)
class Titles:
    """Folded job titles and title suffixes; `is_title` answers for a folded token."""

    words: frozenset[str]
    suffixes: tuple[str, ...]

    def is_title(self, folded: str) -> bool:
        if folded in self.words:
            return True
        if not folded.endswith(self.suffixes):
            return False
        return any(folded.endswith(s) and len(folded) > len(s) + 2 for s in self.suffixes)


def load_titles(extra: Iterable[str] = ()) -> Titles:
    words: set[str] = set()
    suffixes: list[str] = []
    for line in [*read_data("titles.da.txt"), *extra]:
        if line.startswith("-"):
            suffixes.append(fold(line[1:]).replace(" ", ""))
        elif folded := fold(line).replace(" ", "").rstrip("."):
            words.add(folded)
    return Titles(frozenset(words), tuple(sorted(set(suffixes))))


def zipf_of(zipf: Mapping[str, float], raw: str) -> float:
    """How common `raw` is as a Danish word (0 when wordfreq has never seen it)."""
    return zipf.get(raw.casefold(), 0.0)
