"""The page pipeline: one hit per (person, page), updated when seen again, removed when gone."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select

from vaern import clock
from vaern.app import open_services, watched_people
from vaern.domain import FetchFailure, Page, Post
from vaern.matchers import build_index
from vaern.pipeline import PagePipeline, excerpt
from vaern.storage.db import transaction
from vaern.storage.queries import new_run
from vaern.storage.tables import CrawlRunRow, HitRow


def _page(url: str, text: str, status: int = 200) -> Page:
    return Page(site_id="blog", url=url, status=status, fetched_at=clock.now(), body=text.encode(), text=text,
                content_hash=str(hash(text)))


def _pipeline(make_config: Any, db_url: str) -> tuple[PagePipeline, Any, list[tuple[str, list[int]]]]:
    config = make_config(database=db_url, sites=[{"id": "blog", "start_urls": ["http://127.0.0.1:1/"]}])
    services = open_services(config)
    queued: list[tuple[str, list[int]]] = []

    def queue(session: Any, hits: Any, kind: str, run_id: int) -> None:
        queued.append((kind, [h.id for h in hits]))

    with transaction(services.sessions) as session:
        run_id = new_run(session, "blog")
    index = build_index(watched_people(config))
    return PagePipeline(config, config.site("blog"), services.sessions, index, run_id, queue), services, queued


def test_a_page_naming_two_people_gives_two_hits_and_queues_them(make_config: Any, db_url: str) -> None:
    pipeline, services, queued = _pipeline(make_config, db_url)
    pipeline.page(_page("http://x/1", "Hvorfor får Rene Rosenkilde og Karin Juhl lov til det?"))
    with services.sessions() as s:
        hits = {h.person_id: h for h in s.scalars(select(HitRow))}
        run = s.scalars(select(CrawlRunRow)).one()
    assert set(hits) == {"rr", "kj"}
    assert hits["rr"].unit_id == "boern" and hits["kj"].unit_id == "job"
    assert hits["rr"].matched_text == ["Rene Rosenkilde"]
    assert "Rene Rosenkilde" in hits["rr"].excerpt
    assert [kind for kind, _ in queued] == ["new_hit"]
    assert sorted(queued[0][1]) == sorted([hits["rr"].id, hits["kj"].id])
    assert (run.pages_fetched, run.hits_new) == (1, 2)
    assert [e.reason for e in pipeline.evidence] == ["hit"]
    services.engine.dispose()


def test_seen_again_updates_last_seen_and_queues_nothing_new(make_config: Any, db_url: str) -> None:
    pipeline, services, queued = _pipeline(make_config, db_url)
    text = "Karin Juhl har igen glemt at ringe."
    pipeline.page(_page("http://x/1", text))
    pipeline.unchanged("http://x/1")
    pipeline.page(_page("http://x/1", text + " Sidebaren skiftede."))
    with services.sessions() as s:
        hits = s.scalars(select(HitRow)).all()
    assert len(hits) == 1
    assert hits[0].last_seen >= hits[0].first_seen
    assert [kind for kind, _ in queued] == ["new_hit"]
    services.engine.dispose()


def test_page_that_stops_naming_or_disappears_removes_the_hit(make_config: Any, db_url: str) -> None:
    pipeline, services, queued = _pipeline(make_config, db_url)
    pipeline.page(_page("http://x/1", "Karin Juhl og Mette Sørensen"))
    pipeline.page(_page("http://x/1", "Mette Sørensen alene nu"))
    pipeline.gone("http://x/1", 410)
    pipeline.failed(FetchFailure("blog", "http://x/2", "timeout"))
    with services.sessions() as s:
        hits = {h.person_id: h for h in s.scalars(select(HitRow))}
        run = s.scalars(select(CrawlRunRow)).one()
    assert hits["kj"].status == "removed" and hits["ms"].status == "removed"
    assert hits["kj"].removed_at is not None
    # Mette's sentence changed (an update), Karin's name went (removed), then the page went (removed).
    assert [kind for kind, _ in queued] == ["new_hit", "update", "removed", "removed"]
    assert run.pages_failed == 1
    assert [e.reason for e in pipeline.evidence] == ["hit", "update", "removed"]
    services.engine.dispose()


def test_the_title_is_matched_as_a_field_of_its_own(make_config: Any, db_url: str) -> None:
    pipeline, services, _ = _pipeline(make_config, db_url)
    page = _page("http://x/1", "René Rosenkilde er en løgner.")
    pipeline.page(replace(page, title="Sandheden om Karin Juhl"))
    with services.sessions() as s:
        hits = {h.person_id: h for h in s.scalars(select(HitRow))}
    # Each mention says which field it is in; its offsets and excerpt are that field's.
    assert [(w["field"], w["start"], w["end"]) for w in hits["kj"].why] == [("title", 13, 23)]
    assert hits["kj"].excerpt == "Sandheden om Karin Juhl"
    assert [(w["field"], w["start"], w["end"]) for w in hits["rr"].why] == [("text", 0, 15)]
    assert hits["rr"].excerpt == "René Rosenkilde er en løgner."
    (need,) = pipeline.evidence
    assert [(m["person"], m["field"], m["snippet"]) for m in need.matches] == [
        ("kj", "title", "Sandheden om Karin Juhl"),
        ("rr", "text", "René Rosenkilde er en løgner."),
    ]
    services.engine.dispose()


def test_a_mention_in_a_post_records_the_post(make_config: Any, db_url: str) -> None:
    """A rendered page's posts (crawler/posts.py) are not computed for nothing: each mention in
    one says which post it is, in the hit's `why` and in what the evidence records."""
    pipeline, services, _ = _pipeline(make_config, db_url)
    text = "Gruppen. Karin Juhl svarer aldrig. En kommentar om René Rosenkilde."
    posts = (Post(9, len(text), "http://x/1/post/1", 0), Post(35, len(text), None, 1))
    pipeline.page(replace(_page("http://x/1", text), posts=posts))
    with services.sessions() as s:
        hits = {h.person_id: h for h in s.scalars(select(HitRow))}
    assert [(w["post"], w["post_index"]) for w in hits["kj"].why] == [("http://x/1/post/1", 0)]
    assert [(w["post"], w["post_index"]) for w in hits["rr"].why] == [(None, 1)]  # the innermost: a comment
    (need,) = pipeline.evidence
    assert [(m["person"], m["post"]) for m in need.matches] == [("kj", "http://x/1/post/1"), ("rr", None)]
    # A page without posts records none.
    pipeline.page(_page("http://x/2", "Karin Juhl igen."))
    with services.sessions() as s:
        plain = s.scalars(select(HitRow).where(HitRow.url == "http://x/2")).one()
    assert "post" not in plain.why[0]
    services.engine.dispose()


def test_a_title_and_a_text_are_never_read_as_one(make_config: Any, db_url: str) -> None:
    pipeline, services, _ = _pipeline(make_config, db_url)
    # A title ending in a given name, a text opening with another person's surname: no one.
    page = _page("http://x/1", "Juhl-sagen er lukket, skriver kommunen.")
    pipeline.page(replace(page, title="Et brev fra Karin"))
    with services.sessions() as s:
        assert s.scalars(select(HitRow)).all() == []
    services.engine.dispose()


def test_excerpt_is_one_line_cut_at_words() -> None:
    text = "ord " * 60 + "Karin\nJuhl" + " mere" * 60
    index = build_index(watched_people_from([("kj", "Karin Juhl")]))
    (m,) = index.find(text)
    cut = excerpt(text, m)
    assert cut.startswith("… ord") and cut.endswith("mere …")
    assert "Karin Juhl" in cut and "\n" not in cut


def watched_people_from(pairs: list[tuple[str, str]]) -> list[Any]:
    from vaern.domain import WatchedPerson

    return [WatchedPerson(pid, name) for pid, name in pairs]
