"""The list's filters, search, counts and a leader's scope give the same answers on SQLite and
PostgreSQL (JSON columns are searched as text; LIKE and case differ between the two)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.review.conftest import LiveServer, ref, sign_in
from tests.review.seeding import build_world
from vaern.review.webapp import create_app


@pytest.mark.postgres
def test_list_queries_agree_on_both_databases(db_url: str, tmp_path: Path) -> None:
    world = build_world(tmp_path, database=db_url)
    app = create_app(world.config)
    with LiveServer(app) as server:
        analyst, lene = sign_in(server.url, "analytiker"), sign_in(server.url, "lene")

        def rows(client: object, **params: str) -> set[str]:
            html = client.get("/hits", params=params).text  # type: ignore[attr-defined]
            return set(re.findall(r'<tr data-hit="(h-\d+)"', html))

        def refs(*names: str) -> set[str]:
            return {ref(world.hits[n]) for n in names}

        assert rows(analyst, category="insult") == refs("a_xss", "b_other")
        assert rows(analyst, q="SØREN") == refs("a_possible")
        assert rows(analyst, q="hemmelig allé") == refs("b_secret")
        assert rows(analyst, q="50%") == set()
        assert rows(lene) == refs("a_threat", "a_xss", "a_possible")
        assert rows(lene, q="Karin") == set()
        html = analyst.get("/hits", params={"unit": "jobcenter"}).text
        assert 'data-status="new">2<' in html
        assert lene.get(f"/hits/{ref(world.hits['b_secret'])}").status_code == 404
        assert "Jobcenter" in analyst.get("/overview").text
        analyst.close()
        lene.close()
    app.state.engine.dispose()
