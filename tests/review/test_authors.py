"""The author page: whom an author named, where, when and how badly, as the viewer may see it;
linked from the hit page; analysts link authors across sites (audited), leaders cannot. Through
the app's HTTP interface and in a real Chromium."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.review.conftest import LiveServer, csrf_of, ref
from tests.review.seeding import PASSWORD, World, build_world
from vaern.storage.db import make_engine, session_factory, transaction
from vaern.storage.tables import AuditRow, HitRow

AUTHOR = "/authors?site=hadeside&name=Vred+Borger"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The seeded world, with authors: "Vred Borger" on hadeside wrote about René (Børn og
    Familie, critical) and Karin (Jobcenter); "vredborger77" on the forum wrote about René too."""
    world = build_world(tmp_path_factory.mktemp("authors"))
    engine = make_engine(world.config.database)
    with transaction(session_factory(engine)) as db:
        for name, author, severity in (("a_threat", "Vred Borger", "critical"), ("b_secret", "Vred Borger", "high"),
                                       ("a_xss", "vredborger77", "medium")):
            hit = db.get(HitRow, world.hits[name])
            assert hit is not None
            hit.author, hit.author_source, hit.severity = author, "h-entry", severity
    engine.dispose()
    return world


def _named(html: str) -> list[str]:
    return re.findall(r'<a href="/hits/(h-\d+)">', html)


def test_the_author_page_lists_whom_they_named_as_the_viewer_may_see(
    world: World, client_as: Callable[[str], httpx.Client]
) -> None:
    analyst = client_as("analytiker").get(AUTHOR)
    assert analyst.status_code == 200
    assert _named(analyst.text) == [ref(world.hits["b_secret"]), ref(world.hits["a_threat"])]  # newest first
    assert "René Rosenkilde" in analyst.text and "Karin Jensen" in analyst.text
    assert "kritisk" in analyst.text and "alvorlig" in analyst.text and "Hadeside" in analyst.text
    # A leader sees only their units' people; one with none of them gets the same 404 as nothing.
    assert _named(client_as("lene").get(AUTHOR).text) == [ref(world.hits["a_threat"])]
    assert _named(client_as("jens").get(AUTHOR).text) == [ref(world.hits["b_secret"])]
    assert client_as("jens").get("/authors?site=forum&name=vredborger77").status_code == 404
    assert client_as("analytiker").get("/authors?site=hadeside&name=Nobody").status_code == 404
    # Leaders cannot link authors (the form is not there, and the action is refused).
    assert "/authors/link" not in client_as("lene").get(AUTHOR).text


def test_the_hit_page_links_to_its_author(world: World, client_as: Callable[[str], httpx.Client]) -> None:
    html = client_as("lene").get(f"/hits/{ref(world.hits['a_threat'])}").text
    assert 'href="/authors?site=hadeside&amp;name=Vred+Borger"' in html
    no_author = client_as("lene").get(f"/hits/{ref(world.hits['a_possible'])}").text
    assert "/authors?" not in no_author


def test_linking_is_for_analysts_audited_and_checked(world: World, live: LiveServer,
                                                       client_as: Callable[[str], httpx.Client]) -> None:
    lene = client_as("lene")
    token = csrf_of(lene.get(f"/hits/{ref(world.hits['a_threat'])}").text)
    form = {"csrf": token, "site": "hadeside", "name": "Vred Borger", "other_site": "forum",
            "other_name": "vredborger77"}
    assert lene.post("/authors/link", data=form).status_code == 404
    analyst = client_as("analytiker")
    page = analyst.get(AUTHOR).text
    unknown = analyst.post("/authors/link", data={**form, "csrf": csrf_of(page), "other_name": "ingen"})
    assert unknown.status_code == 303
    assert "Ingen fund har den forfatter" in analyst.get(unknown.headers["location"]).text
    engine = make_engine(world.config.database)
    with session_factory(engine)() as db:
        assert db.scalars(select(AuditRow).where(AuditRow.action == "link_authors")).all() == []
    engine.dispose()


@pytest.fixture
def page(chromium: Any, live: LiveServer) -> Iterator[Any]:
    context = chromium.new_context(base_url=live.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.mark.browser
def test_an_analyst_follows_the_author_and_links_them_to_the_forums_author(
    world: World, page: Any, tmp_path: Path
) -> None:
    page.goto("/login")
    page.fill("#username", "analytiker")
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url("**/hits")
    page.goto(f"/hits/{ref(world.hits['a_threat'])}")
    page.click("a.author")
    page.wait_for_url("**/authors?*")
    assert page.locator("table.authored tbody tr").count() == 2
    page.select_option("#other_site", "forum")
    page.fill("#other_name", "vredborger77")
    page.click("form.author-link button")
    page.wait_for_selector("ul.linked-authors")
    assert page.locator("ul.linked-authors a").inner_text() == "vredborger77"
    assert page.locator("table.authored tbody tr").count() == 3  # the forum post about René joins
    deadline = time.monotonic() + 5
    engine = make_engine(world.config.database)
    while True:
        with session_factory(engine)() as db:
            rows = db.scalars(select(AuditRow).where(AuditRow.action == "link_authors")).all()
        if rows or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    engine.dispose()
    (row,) = rows
    assert row.username == "analytiker"
    assert row.detail["authors"] == [["hadeside", "Vred Borger"], ["forum", "vredborger77"]]
    # The forum's author page shows the link back.
    page.goto("/authors?site=forum&name=vredborger77")
    assert page.locator("ul.linked-authors a").inner_text() == "Vred Borger"
