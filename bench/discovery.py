"""Discovery: queries per day at the default budget, and how often each name is searched.

For watch lists of 30, 100 and 250 people and one or two providers, three simulated days of
`vaern run`'s discovery job (every `discovery.check_every`, default 15 min) against the fake
provider on 127.0.0.1 (vaern.testing.searchprovider, recorded Brave and SearXNG JSON). The
clock is Værn's own (vaern.clock), moved on between rounds, so the figures do not depend on this
machine's speed. Printed per case: queries per day (each of the three days), the default budget
beside it, and the days one round over every name takes on every provider.

    .venv/bin/python bench/discovery.py
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from sqlalchemy import func, select

from vaern.clock import clock_at
from vaern.config import load_config
from vaern.discovery.providers import providers_of
from vaern.discovery.searches import run_due
from vaern.storage.db import make_engine, migrate, session_factory
from vaern.storage.tables import DiscoverySearchRow
from vaern.testing.searchprovider import FakeSearch
from vaern.testing.siteserver import SiteServer

START = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)


def case(folder: Path, fake: FakeSearch, people: int, kinds: list[str]) -> tuple[list[int], int, float]:
    providers = [{"kind": "brave", "base_url": fake.server.base_url, "api_key": "test-key"} if k == "brave"
                 else {"kind": "searxng", "base_url": fake.server.base_url} for k in kinds]
    data = {"organisation": "Bench", "database": f"sqlite:///{folder / 'vaern.db'}",
            "people": [{"id": f"p{i}", "name": f"Person Nummer{i} Efternavn"} for i in range(people)],
            "discovery": {"providers": providers}}
    (folder / "vaern.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    config = load_config(folder / "vaern.yaml")
    engine = make_engine(config.database)
    migrate(engine)
    sessions = session_factory(engine)
    step = config.discovery.check_every
    moment = START
    while moment < START + timedelta(days=3):
        with clock_at(moment), sessions() as session:
            run_due(config, session, providers_of(config.discovery.providers))
        moment += step
    with sessions() as session:
        per_day = [session.scalar(select(func.count()).select_from(DiscoverySearchRow).where(
            DiscoverySearchRow.at >= (START + timedelta(days=d)).replace(tzinfo=None),
            DiscoverySearchRow.at < (START + timedelta(days=d + 1)).replace(tzinfo=None))) or 0 for d in range(3)]
    engine.dispose()
    pairs = people * len(kinds)
    return per_day, config.discovery.budget_per_day, pairs / min(pairs, config.discovery.budget_per_day)


def main() -> None:
    print("discovery at the default budget (3 simulated days, the job every 15 min)")
    print(f"{'names':>6} {'providers':<16} {'queries/day (day 1, 2, 3)':<28} {'budget':>6} {'days per round':>15}")
    with SiteServer() as server:
        fake = FakeSearch(server, addresses={"site": "http://a.test", "site2": "http://b.test",
                                             "watched": "http://c.test"})
        for people, kinds in ((30, ["brave"]), (100, ["brave"]), (250, ["brave"]), (30, ["brave", "searxng"]),
                              (250, ["brave", "searxng"])):
            with tempfile.TemporaryDirectory() as folder:
                per_day, budget, days = case(Path(folder), fake, people, kinds)
            print(f"{people:>6} {'+'.join(kinds):<16} {', '.join(map(str, per_day)):<28} {budget:>6} {days:>15.1f}")


if __name__ == "__main__":
    main()
