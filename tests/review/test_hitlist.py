"""The hit list's queries on SQLite and PostgreSQL: paging, counts per status, search (which takes
another path through the database than the filters) and a leader's scope, against expectations
worked out in Python from the same seeded rows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from vaern import clock
from vaern.config import Config
from vaern.review.access import Viewer
from vaern.review.hitlist import Filters, HitList, list_hits
from vaern.review.people import PeopleIndex as Directory
from vaern.storage.db import make_engine, migrate, session_factory, transaction
from vaern.storage.tables import HitRow, PageRow

STATUSES = ["new", "new", "confirmed", "dismissed", "new", "removed", "confirmed"]
# None: a hit from before assessments, sorted with "none" (last) when the list goes by severity.
SEVERITY = ["low", "critical", None, "medium", "high", "none", "critical", "low"]
RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "none": 4, None: 4}
ANALYST = Viewer(1, "analytiker", "analyst")
LENE = Viewer(2, "lene", "leader", ("boern",))


def _seed(config: Config) -> list[dict[str, Any]]:
    """23 hits, one a page, an hour apart: rr and ms (unit boern) and kj (unit job) in turn."""
    now = clock.utcnow().replace(microsecond=0)
    people = [("rr", "boern"), ("ms", "boern"), ("kj", "job")]
    hits = []
    engine = make_engine(config.database)
    migrate(engine)
    with transaction(session_factory(engine)) as db:
        for i in range(23):
            person, unit = people[i % 3]
            site = "byforum" if i % 2 else "hadeside"
            page = PageRow(site_id=site, url=f"http://{site}.test/traad/{i}", first_fetched_at=now,
                           last_fetched_at=now, status="ok", title="Æblekagen brænder" if i % 5 == 0 else f"Tråd {i}")
            db.add(page)
            db.flush()
            excerpt = f"… {'HEMMELIG ALLÉ' if i % 4 == 0 else 'en skandale'} i sag {i} …"
            hit = HitRow(person_id=person, unit_id=unit, page_id=page.id, site_id=site, url=page.url,
                         status=STATUSES[i % len(STATUSES)], confidence="high", score=97.0, variant="full_name",
                         matched_text=[], why=[], excerpt=excerpt, categories=[],
                         first_seen=now - timedelta(hours=i), last_seen=now, severity=SEVERITY[i % len(SEVERITY)])
            db.add(hit)
            db.flush()
            hits.append({"id": hit.id, "unit": unit, "person": person, "site": site, "status": hit.status,
                         "severity": hit.severity,
                         "text": f"{page.url} {page.title} {excerpt}", "age": i})
    engine.dispose()
    return hits  # newest first


@pytest.fixture
def listing(
    db_url: str, make_config: Callable[..., Config]
) -> Iterator[tuple[Callable[..., HitList], list[dict[str, Any]]]]:
    config = make_config(
        database=db_url,
        review={"page_size": 5},
        sites=[{"id": "hadeside", "name": "Hadeside", "start_urls": ["http://127.0.0.1:9/"]},
               {"id": "byforum", "name": "Byforum Ålborg", "start_urls": ["http://127.0.0.1:9/forum"]}],
    )
    hits = _seed(config)
    engine = make_engine(config.database)
    factory = session_factory(engine)
    people = Directory.of(config)

    def run(viewer: Viewer = ANALYST, **params: str) -> HitList:
        with factory() as db:
            return list_hits(db, config, viewer, people, Filters.from_query(params))

    yield run, hits
    engine.dispose()


def _expect(hits: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool], status: str = "",
            page: int = 1) -> tuple[list[int], dict[str, int], int]:
    chosen = [h for h in hits if keep(h)]
    counts = Counter(h["status"] for h in chosen)
    listed = [h["id"] for h in chosen if not status or h["status"] == status]
    pages = max(1, -(-len(listed) // 5))
    page = min(page, pages)
    per_status = {s: counts.get(s, 0) for s in ("new", "confirmed", "dismissed", "removed")}
    return listed[(page - 1) * 5 : page * 5], per_status, len(listed)


def _check(result: HitList, expected: tuple[list[int], dict[str, int], int]) -> None:
    ids, counts, total = expected
    assert [r.id for r in result.rows] == ids
    assert result.counts == counts
    assert result.total == total
    assert result.pages == max(1, -(-total // 5))


@pytest.mark.postgres
def test_pages_counts_and_status_newest_first(listing: tuple[Callable[..., HitList], list[dict[str, Any]]]) -> None:
    run, hits = listing
    every: Callable[[dict[str, Any]], bool] = lambda h: True  # noqa: E731
    _check(run(), _expect(hits, every))
    _check(run(page="3"), _expect(hits, every, page=3))
    last = run(page="99")  # past the end: the last page, not an empty one
    assert last.page == 5 and [r.id for r in last.rows] == [h["id"] for h in hits[20:]]
    _check(run(status="new", page="2"), _expect(hits, every, "new", page=2))
    _check(run(status="removed", page="7"), _expect(hits, every, "removed", page=7))
    row = run().rows[0]
    assert (row.person_name, row.site_name, row.title) == ("René Rosenkilde", "Hadeside", "Æblekagen brænder")


@pytest.mark.postgres
def test_search_pages_and_counts_like_the_filters(
    listing: tuple[Callable[..., HitList], list[dict[str, Any]]],
) -> None:
    run, hits = listing
    skandale: Callable[[dict[str, Any]], bool] = lambda h: "skandale" in h["text"]  # noqa: E731
    _check(run(q="SKANDALE"), _expect(hits, skandale))
    _check(run(q="skandale", page="2"), _expect(hits, skandale, page=2))
    _check(run(q="skandale", status="new", page="2"), _expect(hits, skandale, "new", page=2))
    _check(run(q="skandale", page="50"), _expect(hits, skandale, page=50))
    # A rare word: found wherever it is, the counts still per status.
    _check(run(q="traad/17"), _expect(hits, lambda h: h["text"].startswith("http://byforum.test/traad/17 ")))
    _check(run(q="nothing like it"), _expect(hits, lambda h: False))


@pytest.mark.postgres
def test_search_reads_names_sites_addresses_titles_and_excerpts(
    listing: tuple[Callable[..., HitList], list[dict[str, Any]]],
) -> None:
    run, hits = listing

    def found(**params: str) -> set[int]:
        result = run(**params)
        return {r.id for p in range(1, result.pages + 1) for r in run(**params, page=str(p)).rows}

    def ids(keep: Callable[[dict[str, Any]], bool]) -> set[int]:
        return {h["id"] for h in hits if keep(h)}

    assert found(q="mette sorensen") == ids(lambda h: h["person"] == "ms")  # the name, without accents
    assert found(q="ålborg") == ids(lambda h: h["site"] == "byforum")  # the site's name
    assert found(q="ÅLBORG") == ids(lambda h: h["site"] == "byforum")
    assert found(q="hadeside.test/traad/1") == ids(lambda h: h["text"].startswith("http://hadeside.test/traad/1"))
    assert found(q="æblekagen") == ids(lambda h: h["age"] % 5 == 0)  # the page's title, in another case
    assert found(q="hemmelig allé") == ids(lambda h: h["age"] % 4 == 0)  # the excerpt, in another case
    assert found(q="Hemmelig\nAllé") == ids(lambda h: h["age"] % 4 == 0)  # a pasted line break is a space
    assert found(q="100%_") == set()


@pytest.mark.postgres
def test_a_leader_searches_and_counts_only_their_units(
    listing: tuple[Callable[..., HitList], list[dict[str, Any]]],
) -> None:
    run, hits = listing
    theirs: Callable[[dict[str, Any]], bool] = lambda h: h["unit"] == "boern"  # noqa: E731
    _check(run(LENE), _expect(hits, theirs))
    _check(run(LENE, q="skandale", page="2"), _expect(hits, lambda h: theirs(h) and "skandale" in h["text"], page=2))
    _check(run(LENE, q="karin"), _expect(hits, lambda h: False))  # a person of the other unit
    _check(run(LENE, q="ålborg", status="new"),
           _expect(hits, lambda h: theirs(h) and h["site"] == "byforum", "new"))
    nobody = Viewer(3, "ny", "leader", ())
    _check(run(nobody), _expect(hits, lambda h: False))
    _check(run(nobody, q="skandale"), _expect(hits, lambda h: False))


@pytest.mark.postgres
def test_the_list_filters_and_sorts_by_severity(listing: tuple[Callable[..., HitList], list[dict[str, Any]]]) -> None:
    run, hits = listing
    _check(run(severity="critical"), _expect(hits, lambda h: h["severity"] == "critical"))
    assert {r.severity for r in run(severity="critical").rows} == {"critical"}
    # Gravest first, newest first within a severity; paging and counts as ever; search too.
    gravest = sorted(hits, key=lambda h: (RANK[h["severity"]], h["age"]))
    _check(run(sort="severity"), _expect(gravest, lambda h: True))
    _check(run(sort="severity", page="3"), _expect(gravest, lambda h: True, page=3))
    _check(run(sort="severity", q="skandale", status="new"),
           _expect(gravest, lambda h: "skandale" in h["text"], "new"))
    assert run(sort="bogus").filters.sort == ""
