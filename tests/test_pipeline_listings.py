"""One hit per post: a listing's excerpt goes to its post's hit (`PagePipeline.finish`); a
first-seen 404 is a dead link, not a failure."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select

from tests.test_pipeline import _page, _pipeline
from vaern.domain import Excerpt, Page
from vaern.storage.tables import CrawlRunRow, HitRow

POST = "http://x/2026/11/post/"
TEASER = "Karin Juhl har igen afvist vores klage, og det er ikke første gang."


def _listing(url: str, *lines: str, target: str = POST, kind: str = "teaser") -> Page:
    text = "\n".join(["Borgerbloggen", *lines, "Seneste indlæg"])
    at = text.index(lines[0])
    return replace(_page(url, text), excerpts=(Excerpt(at, at + len(lines[0]), target, kind),))


def _hits(services: Any) -> list[HitRow]:
    with services.sessions() as s:
        return list(s.scalars(select(HitRow).order_by(HitRow.id)))


def test_a_listing_read_before_its_post_gives_the_post_the_hit(make_config: Any, db_url: str) -> None:
    pipeline, services, queued = _pipeline(make_config, db_url)
    pipeline.page(_listing("http://x/", TEASER))
    pipeline.page(_listing("http://x/tag/klage/", TEASER))
    assert _hits(services) == [], "held until the crawl is done"
    pipeline.page(_page(POST, f"Endnu en sag\n{TEASER}\nMere tekst om sagen."))
    pipeline.finish()
    [hit] = _hits(services)
    assert (hit.person_id, hit.url) == ("kj", POST)
    assert hit.shown_on == ["http://x/", "http://x/tag/klage/"]
    assert [kind for kind, _ in queued] == ["new_hit"]
    assert [e.url for e in pipeline.evidence] == [POST]
    with services.sessions() as s:
        assert s.scalars(select(CrawlRunRow)).one().pages_fetched == 3
    services.engine.dispose()


def test_a_listing_whose_post_does_not_name_the_person_keeps_its_own_hit(make_config: Any, db_url: str) -> None:
    pipeline, services, _ = _pipeline(make_config, db_url)
    pipeline.page(_listing("http://x/", TEASER))
    pipeline.page(_page(POST, "Indlægget blev redigeret, og navnet er væk."))
    pipeline.finish()
    [hit] = _hits(services)
    assert (hit.person_id, hit.url, hit.shown_on) == ("kj", "http://x/", [])
    services.engine.dispose()


def test_a_comment_linking_to_a_post_that_names_the_same_person_is_its_own_hit(
    make_config: Any, db_url: str
) -> None:
    pipeline, services, _ = _pipeline(make_config, db_url)
    comment = "Spørg bare Karin Juhl, hun ved godt hvad der foregår."
    pipeline.page(_listing(f"{POST}comment-page-1/", comment))
    pipeline.page(_page(POST, TEASER))
    pipeline.finish()
    assert sorted(h.url for h in _hits(services)) == [POST, f"{POST}comment-page-1/"]
    services.engine.dispose()


def test_a_link_whose_text_is_only_the_name_is_no_title(make_config: Any, db_url: str) -> None:
    pipeline, services, _ = _pipeline(make_config, db_url)
    pipeline.page(_listing("http://x/om/", "Karin Juhl", target=POST, kind="link"))
    pipeline.page(_page(POST, TEASER))
    pipeline.finish()
    assert sorted(h.url for h in _hits(services)) == [POST, "http://x/om/"]
    services.engine.dispose()


def test_a_first_seen_404_is_a_dead_link(make_config: Any, db_url: str) -> None:
    pipeline, services, _ = _pipeline(make_config, db_url)
    pipeline.gone("http://x/never-was", 404)
    with services.sessions() as s:
        run = s.scalars(select(CrawlRunRow)).one()
    assert (run.dead_links, run.pages_failed, run.pages_fetched) == (1, 0, 0)
    services.engine.dispose()
