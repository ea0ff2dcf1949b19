"""The overview's last crawl per site: failures shown with their reasons, never a green ok beside them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import httpx

from tests.review.seeding import World
from vaern.clock import utcnow
from vaern.domain import FetchFailure
from vaern.storage.db import make_engine, session_factory, transaction
from vaern.storage.failures import record_failure
from vaern.storage.tables import CrawlRunRow, HitRow


def test_a_crawl_with_failed_urls_shows_them_and_is_not_ok(
    world: World, client_as: Callable[[str], httpx.Client]
) -> None:
    engine = make_engine(world.config.database)
    with transaction(session_factory(engine)) as db:
        run = CrawlRunRow(site_id="hadeside", started_at=utcnow() - timedelta(minutes=5), finished_at=utcnow(),
                          status="ok", pages_fetched=9, pages_failed=2)
        db.add(run)
        db.flush()
        record_failure(db, run.id, FetchFailure("hadeside", "http://hadeside.test/slow", "timed out after 30 s"),
                       start_url=False)
        record_failure(db, run.id, FetchFailure("hadeside", "http://hadeside.test/big",
                                                "response larger than max_response_mb (5 MB)"), start_url=False)
    engine.dispose()
    page = client_as("admin").get("/overview").text
    [row] = [r for r in re.findall(r"<tr>.*?</tr>", page, re.S) if "hadeside" in r.lower() or "Hadeside" in r]
    assert 'class="crawl cr-partial"' in row and "cr-ok" not in row
    assert "http://hadeside.test/slow: timed out after 30 s" in row
    assert "response larger than max_response_mb (5 MB)" in row


def test_new_hits_per_site_count_only_the_leaders_units(
    world: World, client_as: Callable[[str], httpx.Client]
) -> None:
    engine = make_engine(world.config.database)
    with transaction(session_factory(engine)) as db:
        run = CrawlRunRow(site_id="forum", started_at=utcnow() - timedelta(minutes=3), finished_at=utcnow(),
                          status="ok", pages_fetched=3, hits_new=3)
        db.add(run)
        db.flush()
        for name in ("a_xss", "a_possible", "b_other"):  # two in Børn og Familie, one in the Jobcenter
            hit = db.get(HitRow, world.hits[name])
            assert hit is not None and hit.site_id == "forum"
            hit.first_run_id = run.id
    engine.dispose()

    def new_hits(user: str) -> str:
        page = client_as(user).get("/overview").text
        [row] = [r for r in re.findall(r"<tr>.*?</tr>", page, re.S) if "Byforum" in r]
        return re.findall(r"<td>(.*?)</td>", row, re.S)[-1]

    assert new_hits("admin") == "3"
    assert new_hits("lene") == "2"
    assert new_hits("jens") == "1"
