"""Word knowledge the name matcher needs: how common a word is in Danish, and job titles.

Danish surnames are ordinary words ("Skov", "Have", "Storm") and many first names are too
("Bo", "Tage"); a typo of a name is almost never a real word. wordfreq's Danish frequencies
(shipped inside that package, read once when the index is built) give both answers as a Zipf
value: 7 for "og", 6 for "have", 4-5 for common names, 0 for "Rosenkilde" or "Gusav".

Titles come from `data/titles.da.txt` (package data) plus `matching.titles` in the config.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from vaern.matchers.normalise import fold


@lru_cache(maxsize=1)
def load_zipf() -> Mapping[str, float]:
    """Zipf frequency of each Danish word wordfreq knows, keyed by the case-folded word.

    Read once per process (on the first index built) and shared, read-only, by every index.
    wordfreq's list is read straight from its data file: importing wordfreq itself (ftfy,
    langcodes, its tokenizers) and its float-per-word dictionary took longer than every other
    step of starting a crawl process together.
    """
    buckets = _read_wordfreq_buckets("da")
    # Bucket i holds the words at -i centibels: a frequency of 10 ** (-i / 100), Zipf 9 - i / 100.
    return MappingProxyType({w: round(9.0 - i / 100, 2) for i, words in enumerate(buckets) for w in words})


def _read_wordfreq_buckets(lang: str) -> list[list[str]]:
    """wordfreq's word list for `lang` in its own "cBpack" format (gzipped msgpack: a header,
    then one list of words per centibel of frequency); its "large" list where it ships one."""
    import gzip
    from importlib.util import find_spec

    import msgpack  # wordfreq's own dependency

    spec = find_spec("wordfreq")  # finds the package without importing it
    assert spec is not None and spec.submodule_search_locations, "wordfreq is not installed"
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    path = next(p for p in (data / f"large_{lang}.msgpack.gz", data / f"small_{lang}.msgpack.gz") if p.exists())
    with gzip.open(path, "rb") as file:
        pack: list[Any] = msgpack.load(file, raw=False)
    if pack[0] != {"format": "cB", "version": 1}:
        raise ValueError(f"{path}: unknown wordfreq format {pack[0]!r}")
    return pack[1:]


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


def load_title_synonyms(extra: Iterable[str] = ()) -> dict[str, frozenset[str]]:
    """Folded title -> the folded titles that name the same kind of job (itself included), from
    `data/title_synonyms.da.txt`; `extra` are more groups, comma-separated."""
    groups: dict[str, set[str]] = {}
    for line in [*read_data("title_synonyms.da.txt"), *extra]:
        group = {fold(w).replace(" ", "") for w in line.split(",") if w.strip()}
        for word in group:
            groups.setdefault(word, set()).update(group)
    return {word: frozenset(group) for word, group in groups.items()}


def zipf_of(zipf: Mapping[str, float], raw: str) -> float:
    """How common `raw` is as a Danish word (0 when wordfreq has never seen it)."""
    return zipf.get(raw.casefold(), 0.0)
