"""Discovery against a fake provider on 127.0.0.1 serving recorded JSON: both providers read
their results; 401/403, 429, empty results, malformed JSON, JSON of another shape and an
unreachable provider each become a recorded error in words, never a crash; the daily budget
holds; results on watched or ignored hosts never reach the inbox; nothing is crawled.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from vaern.clock import clock_at
from vaern.config.schema import DiscoveryProvider
from vaern.discovery.inbox import decide, waiting
from vaern.discovery.providers import BraveProvider, ProviderError, SearxngProvider, providers_of
from vaern.discovery.searches import run_due
from vaern.storage.db import make_engine, migrate, session_factory
from vaern.storage.tables import DiscoveredRow, DiscoverySearchRow, PageRow, SnapshotRow
from vaern.testing.searchprovider import FakeSearch
from vaern.testing.siteserver import SiteServer

RENE = '"René Rosenkilde"'
METTE = '"Mette Sørensen"'
KARIN = '"Karin Juhl"'


@pytest.fixture
def fake() -> Iterator[FakeSearch]:
    with SiteServer() as server:
        yield FakeSearch(server, addresses={"site": "http://hadeblog.test", "site2": "https://hadeside.test",
                                            "watched": "http://forum.watched.test"})


def _brave(fake: FakeSearch, key: str = "test-key") -> BraveProvider:
    return BraveProvider(DiscoveryProvider(kind="brave", base_url=fake.server.base_url, api_key=key))


def _searxng(fake: FakeSearch) -> SearxngProvider:
    return SearxngProvider(DiscoveryProvider(kind="searxng", base_url=fake.server.base_url))


def test_both_providers_read_their_recorded_answers(fake: FakeSearch) -> None:
    brave = _brave(fake).search(RENE)
    assert [r.url for r in brave] == ["http://hadeblog.test/blog/sagsbehandleren", "https://hadeside.test/indlaeg/17",
                                      "http://hadeblog.test/andet-opslag",
                                      "http://forum.watched.test/thread/9"]  # javascript: is no result
    assert brave[0].title == "Sagsbehandleren der ødelægger familier"
    assert brave[0].snippet.startswith("René Rosenkilde fra Børn og Familie")
    searx = _searxng(fake).search(RENE)
    assert [r.url for r in searx] == ["http://hadeblog.test/blog/sagsbehandleren", "https://hadeside.test/indlaeg/17"]
    assert fake.queries == [(RENE, "brave"), (RENE, "searxng")]


@pytest.mark.parametrize(("mode", "words"), [
    ("403", "refused the query (HTTP 403)"),
    ("429", "rate limiting us (HTTP 429, retry after 3600 s)"),
    ("malformed", "did not answer with JSON"),
    ("wrong-shape", "JSON that is not an object"),
])
def test_each_failure_is_an_error_in_words(fake: FakeSearch, mode: str, words: str) -> None:
    fake.script(RENE, mode)
    for provider in (_brave(fake), _searxng(fake)):
        with pytest.raises(ProviderError) as caught:
            provider.search(RENE)
        assert words in str(caught.value), (provider.name, str(caught.value))


def test_empty_answers_a_wrong_key_and_an_unreachable_provider(fake: FakeSearch) -> None:
    fake.script(METTE, "empty")
    assert _brave(fake).search(METTE) == []
    assert _searxng(fake).search(METTE) == []  # no results, unresponsive engines
    with pytest.raises(ProviderError, match=r"HTTP 401\): check discovery.providers\[\].api_key"):
        _brave(fake, key="wrong").search(RENE)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    down = SearxngProvider(DiscoveryProvider(kind="searxng", base_url=f"http://127.0.0.1:{port}"))
    with pytest.raises(ProviderError, match="is unreachable"):
        down.search(RENE)


def _world(make_config: Any, fake: FakeSearch, db_url: str, budget: int) -> tuple[Any, Any]:
    config = make_config(
        database=db_url,
        sites=[{"id": "forum", "start_urls": ["http://forum.watched.test/"]}],
        discovery={"budget_per_day": budget, "providers": [
            {"kind": "brave", "base_url": fake.server.base_url, "api_key": "test-key"},
            {"kind": "searxng", "base_url": fake.server.base_url},
        ]},
    )
    engine = make_engine(config.database)
    migrate(engine)
    return config, session_factory(engine)


def test_the_budget_holds_errors_are_recorded_and_only_unwatched_hosts_wait(
    make_config: Any, fake: FakeSearch, db_url: str
) -> None:
    config, sessions = _world(make_config, fake, db_url, budget=4)
    providers = providers_of(config.discovery.providers)
    fake.script(METTE, "429")
    day = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    with clock_at(day), sessions() as session:
        first = run_due(config, session, providers)
        again = run_due(config, session, providers)
    # Three people, two providers: six searches due, four allowed today; then nothing.
    assert (first.queries, again.queries, first.budget_left) == (4, 0, 0)
    assert len(fake.queries) == 4
    with sessions() as session:
        rows = session.scalars(select(DiscoverySearchRow).order_by(DiscoverySearchRow.id)).all()
        assert [(r.person_id, r.provider, r.status) for r in rows] == [
            ("rr", "brave", "ok"), ("rr", "searxng", "ok"), ("ms", "brave", "error"), ("ms", "searxng", "error")]
        assert "rate limiting us" in (rows[2].error or "")
        found = waiting(session, config)
        # The watched forum's page is not in the inbox; one row per URL, whichever provider found it.
        assert sorted(r.url for r in found) == ["http://hadeblog.test/andet-opslag",
                                                "http://hadeblog.test/blog/sagsbehandleren",
                                                "https://hadeside.test/indlaeg/17"]
        ignored = next(r for r in found if r.host == "hadeside.test")
        decide(session, ignored, "ignored", "analytiker")
        session.commit()

    # The next day: Karin (never searched) first; an ignored host's results stay out, for good.
    with clock_at(day + timedelta(days=1, hours=1)), sessions() as session:
        third = run_due(config, session, providers)
        assert third.queries == 4
        assert sorted(r.url for r in waiting(session, config)) == ["http://hadeblog.test/andet-opslag",
                                                                   "http://hadeblog.test/blog/sagsbehandleren"]
        assert session.scalar(select(DiscoveredRow).where(DiscoveredRow.host == "hadeside.test")).state == "ignored"
        people = [r.person_id for r in session.scalars(select(DiscoverySearchRow).order_by(DiscoverySearchRow.id))]
        assert people[4:6] == ["kj", "kj"]
        # Nothing was crawled or captured: discovery only lists.
        assert session.scalars(select(PageRow)).all() == [] and session.scalars(select(SnapshotRow)).all() == []


def test_every_failure_is_recorded_with_its_query_and_the_round_goes_on(
    make_config: Any, fake: FakeSearch, db_url: str
) -> None:
    config, sessions = _world(make_config, fake, db_url, budget=100)
    searxng = [p for p in providers_of(config.discovery.providers) if p.name == "searxng"]
    fake.script(RENE, "403")
    fake.script(METTE, "malformed")
    fake.script(KARIN, "empty")
    with clock_at(datetime(2026, 12, 7, 9, 0, tzinfo=UTC)), sessions() as session:
        report = run_due(config, session, searxng)
        rows = session.scalars(select(DiscoverySearchRow).order_by(DiscoverySearchRow.id)).all()
        assert (report.queries, len(report.errors), report.kept) == (3, 2, 0)
        assert [(r.person_id, r.status, r.results) for r in rows] == [("rr", "error", 0), ("ms", "error", 0),
                                                                       ("kj", "ok", 0)]
        assert "refused the query (HTTP 403): enable JSON on the instance" in (rows[0].error or "")
        assert "did not answer with JSON" in (rows[1].error or "")
        assert waiting(session, config) == []
