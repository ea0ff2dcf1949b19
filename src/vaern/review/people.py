"""The watched people and the sites as the review app shows and searches them, indexed once.

Built from the config by `create_app` (`PeopleIndex.of(config)`): names by id for every page,
the list's person choices, and the search keys of the hit list's search box.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from vaern.config import Config


def search_key(text: str) -> str:
    """Case- and accent-insensitive form for search (Ø/ø and é/e compare equal; æ stays æ, unlike
    the matcher's `normalise.fold`, which spells it ae)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("ø", "o")


@dataclass(frozen=True)
class PeopleIndex:
    """The watched people (and the sites) as the app shows and searches them; built once from the config."""

    names: dict[str, str]  # id -> name
    units: dict[str, str | None]  # id -> unit id
    by_name: list[tuple[str, str, str | None]]  # (id, name, unit), sorted by name
    keys: list[tuple[str, str]]  # (id, folded "name id") for search
    site_keys: list[tuple[str, str]] = field(default_factory=list)  # (site id, folded "label id")

    @classmethod
    def of(cls, config: Config) -> PeopleIndex:
        people = config.people
        return cls(
            names={p.id: p.name for p in people},
            units={p.id: p.unit for p in people},
            by_name=sorted(((p.id, p.name, p.unit) for p in people), key=lambda p: (p[1], p[0])),
            keys=[(p.id, f"{search_key(p.name)} {p.id.lower()}") for p in people],
            site_keys=[(s.id, f"{search_key(s.label)} {s.id.lower()}") for s in config.sites],
        )

    def matching(self, q: str) -> list[str]:
        """Ids of the people whose name (or id) holds `q`, ignoring case and accents."""
        folded = search_key(q)
        return [pid for pid, key in self.keys if folded in key]

    def matching_sites(self, q: str) -> list[str]:
        """Ids of the sites whose name (or id) holds `q`, ignoring case and accents."""
        folded = search_key(q)
        return [sid for sid, key in self.site_keys if folded in key]
