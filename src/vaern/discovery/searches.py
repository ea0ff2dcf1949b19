"""Which names are searched now, within the day's budget, and what their results leave for the inbox.

`run_due(config, session, providers)` (called by `vaern run` every `discovery.check_every`):

1. the budget left today: `discovery.budget_per_day` minus the queries sent since midnight UTC
   (every query counts, failed ones too: the provider counted it);
2. the searches due: each watched person's name on each provider, when it was never searched
   there or last searched `discovery.every` ago; never-searched first, then the longest ago;
3. each due search, while budget is left: the query (`discovery.query` with `{name}`), its
   outcome recorded (`discovery_searches`: ok with the number of results, or the error in words);
4. each result on a host no site watches and no analyst ignored becomes (or refreshes) an inbox
   row, one per URL; a URL decided on before keeps its decision.

At the defaults (100 queries a day, each name once a day per provider) a watch list of up to 100
names on one provider is searched daily; a longer one takes `names / 100` days a round.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vaern import clock
from vaern.config import Config
from vaern.discovery.providers import Provider, ProviderError
from vaern.storage.tables import DiscoveredRow, DiscoverySearchRow, IgnoredHostRow

log = logging.getLogger(__name__)


@dataclass
class DiscoveryReport:
    """What one round did: queries sent, their errors, results kept for the inbox, budget left."""

    queries: int = 0
    errors: list[str] = field(default_factory=list)
    kept: int = 0
    budget_left: int = 0


def watched_hosts(config: Config) -> set[str]:
    return {(urlsplit(u).hostname or "").lower() for s in config.sites for u in s.start_urls}


def used_today(session: Session, now: datetime) -> int:
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return session.scalar(select(func.count()).select_from(DiscoverySearchRow)
                          .where(DiscoverySearchRow.at >= midnight)) or 0


def due(config: Config, session: Session, providers: Sequence[Provider], now: datetime) -> list[tuple[str, Provider]]:
    """(person id, provider) pairs whose search is due, never-searched first, then oldest."""
    last = {
        (person, provider): at
        for person, provider, at in session.execute(
            select(DiscoverySearchRow.person_id, DiscoverySearchRow.provider, func.max(DiscoverySearchRow.at))
            .group_by(DiscoverySearchRow.person_id, DiscoverySearchRow.provider)
        )
    }
    every: timedelta = config.discovery.every
    pairs = [(last.get((p.id, prov.name)), i, p.id, prov) for i, p in enumerate(config.people) for prov in providers]
    ready = [entry for entry in pairs if entry[0] is None or now - entry[0] >= every]
    ready.sort(key=lambda e: (e[0] is not None, e[0] or now, e[1]))
    return [(person, provider) for _at, _i, person, provider in ready]


def run_due(config: Config, session: Session, providers: Sequence[Provider]) -> DiscoveryReport:
    """One round of discovery; see the module docstring. Commits after each query."""
    now = clock.utcnow()
    report = DiscoveryReport()
    left = config.discovery.budget_per_day - used_today(session, now)
    watched = watched_hosts(config)
    ignored = set(session.scalars(select(IgnoredHostRow.host)))
    for person_id, provider in due(config, session, providers, now):
        if left <= 0:
            break
        person = config.person(person_id)
        assert person is not None
        query = config.discovery.query.format(name=person.name)
        left -= 1
        report.queries += 1
        try:
            found = provider.search(query)
        except ProviderError as exc:
            session.add(DiscoverySearchRow(at=clock.utcnow(), provider=provider.name, person_id=person_id,
                                           query=query, status="error", error=str(exc), results=0))
            session.commit()
            report.errors.append(f"{provider.name} {query}: {exc}")
            log.warning("discovery: %s %r: %s", provider.name, query, exc)
            continue
        session.add(DiscoverySearchRow(at=clock.utcnow(), provider=provider.name, person_id=person_id,
                                       query=query, status="ok", error=None, results=len(found)))
        for result in found:
            host = (urlsplit(result.url).hostname or "").lower()
            if host in watched or host in ignored:
                continue
            row = session.scalar(select(DiscoveredRow).where(DiscoveredRow.url == result.url))
            if row is None:
                session.add(DiscoveredRow(url=result.url, host=host, title=result.title, snippet=result.snippet,
                                          provider=provider.name, person_id=person_id, first_found=now,
                                          last_found=now, state="new"))
                session.flush()
                report.kept += 1
            else:
                row.last_found = now
        session.commit()
    report.budget_left = max(0, left)
    return report
