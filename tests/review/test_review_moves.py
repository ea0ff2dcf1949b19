"""A person moves to another unit: access follows the person's current unit for everything after
the move (the new leader's e-mail link works, updates are theirs); the old unit keeps what it was
told before the move, read-only, and sees nothing written after it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from tests.review.conftest import LiveServer, csrf_of, sign_in
from tests.review.seeding import build_world, make_config
from vaern import ids
from vaern.alerts.routing import scope
from vaern.app import open_services
from vaern.config import Config
from vaern.review.webapp import create_app
from vaern.storage.db import transaction
from vaern.storage.tables import HitMoveRow, HitRow

OLD_TEXT = "hvorfor får Rene Rosenkilde lov at fortsætte?"
NEW_TEXT = "NY TEKST efter flytningen: Rene Rosenkilde er nu i jobcentret"


@dataclass
class Moved:
    config: Config
    ref: str
    live: LiveServer


@pytest.fixture(scope="module")
def moved(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moved]:
    root = tmp_path_factory.mktemp("moves")
    world = build_world(root)
    open_services(world.config).engine.dispose()  # the service has run with René in Børn og Familie
    people = [
        {"id": "rr", "name": "René Rosenkilde", "unit": "jobcenter"},  # moved from boern-familie
        {"id": "sm", "name": "Søren Møller", "unit": "boern-familie"},
        {"id": "kj", "name": "Karin Jensen", "unit": "jobcenter"},
        {"id": "pl", "name": "Peter Lund", "unit": "jobcenter"},
    ]
    config = make_config(root, people=people)
    services = open_services(config)  # the config is read: René's hits move with him
    hit_id = world.hits["a_threat"]
    with transaction(services.sessions) as db:
        [move] = db.scalars(select(HitMoveRow).where(HitMoveRow.hit_id == hit_id)).all()
        assert (move.from_unit, move.to_unit) == ("boern-familie", "jobcenter")
        hit = db.get(HitRow, hit_id)
        assert hit is not None and hit.unit_id == "jobcenter"
        hit.excerpt = NEW_TEXT  # the page changed after the move
    services.engine.dispose()
    with LiveServer(create_app(config)) as live:
        yield Moved(config, ids.hit(hit_id), live)


def test_alerts_and_access_follow_the_current_unit(moved: Moved) -> None:
    assert "jobcenter" in scope(moved.config, "jens@kommune.example")
    jens = sign_in(moved.live.url, "jens")
    page = jens.get(f"/hits/{moved.ref}")
    assert page.status_code == 200  # the new leader's e-mail link leads to the hit
    assert "NY TEKST efter flytningen" in page.text
    assert moved.ref in jens.get("/hits").text


def test_the_old_unit_keeps_what_it_was_told_and_nothing_after(moved: Moved) -> None:
    lene = sign_in(moved.live.url, "lene")
    page = lene.get(f"/hits/{moved.ref}")
    assert page.status_code == 200
    assert "data-moved" in page.text and "Personen skiftede til en anden enhed" in page.text
    assert OLD_TEXT in page.text.replace("<mark>", "").replace("</mark>", "")
    assert "NY TEKST" not in page.text
    assert moved.ref not in lene.get("/hits").text  # no longer in the old unit's list
    # Nothing after the move: not its evidence files, not its JSON, and no actions on it.
    assert lene.get(f"/api/hits/{moved.ref}").status_code == 404
    form = lene.get("/hits")
    response = lene.post(f"/hits/{moved.ref}/decision", data={"csrf": csrf_of(form.text), "status": "confirmed"})
    assert response.status_code == 404
    assert lene.get(f"/hits/{moved.ref}/thumbnail.jpg").status_code == 404


def test_someone_in_neither_unit_still_sees_nothing(moved: Moved) -> None:
    with httpx.Client(base_url=moved.live.url) as anonymous:
        assert anonymous.get(f"/hits/{moved.ref}").status_code == 303
