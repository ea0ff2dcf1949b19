"""Site searches for watched names: which names to search this crawl, and their URLs.

A site's `search_urls` (e.g. `https://forum.example/search?q={query}`) turn each watched name and
alias into a search request. With a long watch list that would be thousands of searches against
one site in one go, so each crawl searches at most `search_budget` names (site config, default
200), continuing next crawl where this one stopped: `plan_searches` takes the cursor stored after
the last crawl and returns this crawl's names and the next cursor. Every name is searched within
ceil(len(names) / budget) crawls.

Pure functions; the caller keeps the cursor (the `sites.search_cursor` column).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import quote

from vaern.config import Config, Site


def search_terms(config: Config) -> list[str]:
    """Every watched name and alias, once each (case- and space-insensitively), in config order."""
    seen: dict[str, str] = {}
    for person in config.people:
        for term in (person.name, *person.aliases):
            term = " ".join(term.split())
            if term:
                seen.setdefault(term.casefold(), term)
    return list(seen.values())


def plan_searches(names: Sequence[str], budget: int, cursor: int) -> tuple[list[str], int]:
    """This crawl's search queries and the cursor for the next crawl.

    Takes `budget` names starting at `cursor`, wrapping around the end of the list. A cursor left
    over from a longer list is reduced modulo the current length.
    """
    count = len(names)
    if count == 0 or budget <= 0:
        return [], 0 if count == 0 else cursor % count
    if budget >= count:
        return list(names), 0
    start = cursor % count
    queries = [names[(start + i) % count] for i in range(budget)]
    return queries, (start + budget) % count


def search_urls(site: Site, queries: Iterable[str]) -> list[str]:
    """Each of the site's search URL templates with each query URL-encoded into `{query}`.

    The query is percent-encoded as UTF-8 with nothing left unescaped (a space is %20), which is
    right both in a query string and in a path segment.
    """
    out: list[str] = []
    for query in queries:
        encoded = quote(query, safe="")
        for template in site.search_urls:
            url = template.replace("{query}", encoded)
            if url not in out:
                out.append(url)
    return out
