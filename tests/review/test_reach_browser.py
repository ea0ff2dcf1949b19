"""The "Fundet andre steder" inbox and "Sikr denne side" in a real Chromium, against a fake search
provider on 127.0.0.1 (recorded Brave JSON) and local sites: an analyst ignores one page (its
host stays out, also after the next search), secures one (a hit with complete evidence), and
watches the site of a third (a site entry in the added-sites file, read by the next load of the
config); then secures a pasted URL with the form. A leader gets a 404 for both pages; a form
without its CSRF token is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.review.conftest import LiveServer, csrf_of, sign_in
from tests.review.seeding import PASSWORD
from vaern.clock import clock_at
from vaern.config import load_config
from vaern.discovery.inbox import waiting
from vaern.discovery.providers import providers_of
from vaern.discovery.searches import run_due
from vaern.review.auth import add_user
from vaern.review.webapp import create_app
from vaern.storage.db import make_engine, migrate, session_factory, transaction
from vaern.storage.tables import AuditRow, DiscoveredRow, HitRow, OneOffCaptureRow, SnapshotRow
from vaern.testing.searchprovider import FakeSearch
from vaern.testing.siteserver import SiteServer

pytestmark = pytest.mark.browser

BLOG = "<!doctype html><meta charset=utf-8><title>{t}</title><article><p>{p}</p></article>"


@pytest.fixture
def world(make_config: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    with SiteServer() as blog, SiteServer(host="127.0.0.2") as other, SiteServer() as provider:
        blog.set_page("/blog/sagsbehandleren",
                      BLOG.format(t="Sagsbehandleren", p="René Rosenkilde burde fyres, han er en løgner."))
        blog.set_page("/andet-opslag", BLOG.format(t="Andet", p="Også René Rosenkilde her."))
        blog.set_page("/indsat", BLOG.format(t="Indsat", p="Karin Juhl på jobcentret er en idiot."))
        fake = FakeSearch(provider, addresses={"site": blog.base_url, "site2": other.base_url,
                                               "watched": "http://forum.watched.test"})
        config = make_config(
            network={"allow_private_hosts": ["127.0.0.1", "127.0.0.2"]},
            sites=[{"id": "forum", "start_urls": ["http://forum.watched.test/"]}],
            discovery={"providers": [{"kind": "brave", "base_url": provider.base_url, "api_key": "test-key"}]},
        )
        engine = make_engine(config.database)
        migrate(engine)
        sessions = session_factory(engine)
        with transaction(sessions) as db:
            add_user(db, config, "analytiker", "analyst", [], PASSWORD)
            add_user(db, config, "lene", "leader", ["boern"], PASSWORD)
        with clock_at(datetime(2026, 12, 7, 9, 0, tzinfo=UTC)), sessions() as db:
            run_due(config, db, providers_of(config.discovery.providers))
        with LiveServer(create_app(config)) as live:
            yield {"config": config, "sessions": sessions, "live": live, "blog": blog, "other": other, "fake": fake}
        engine.dispose()


def test_the_inbox_flow_and_the_capture_form_in_a_browser(chromium: Any, world: dict[str, Any]) -> None:
    config, sessions, live, blog, other = (world[k] for k in ("config", "sessions", "live", "blog", "other"))
    context = chromium.new_context(base_url=live.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(120_000)  # securing a page starts Værn's own Chromium
    try:
        page.goto("/login")
        page.fill("#username", "analytiker")
        page.fill("#password", PASSWORD)
        page.press("#password", "Enter")
        page.wait_for_url("**/hits")
        page.click("text=Fundet andre steder")
        page.wait_for_url("**/discovered")
        rows = page.locator("tr[data-discovered]")
        assert rows.count() == 3  # the watched forum's page is not there
        assert "René Rosenkilde" in page.locator("main").inner_text()

        def row(url: str) -> Any:
            return page.locator("tr[data-discovered]", has_text=url)

        # Ignore: the page and its host.
        row(other.url("/indlaeg/17")).get_by_role("button", name="Ignorér").click()
        page.wait_for_url("**/discovered?done=ignore")
        assert page.locator("#done").inner_text() == "Siden og dens sted ignoreres fremover."
        assert rows.count() == 2 and row(other.url("/indlaeg/17")).count() == 0

        # Secure once: the one-off capture, with a hit for the person it names.
        row(blog.url("/blog/sagsbehandleren")).get_by_role("button", name="Sikr siden én gang").click()
        page.wait_for_url("**/discovered?done=secure")
        assert rows.count() == 1

        # Watch: the site becomes a site entry in the added-sites file.
        row(blog.url("/andet-opslag")).get_by_role("button", name="Overvåg stedet").click()
        page.wait_for_url("**/discovered?done=watch")
        assert page.locator("#empty").is_visible()

        # Secure this page: a pasted URL, then the hit it made.
        page.click("text=Sikr denne side")
        page.wait_for_url("**/capture")
        page.fill("#url", blog.url("/indsat"))
        page.get_by_role("button", name="Sikr siden nu").click()
        page.wait_for_url("**/hits/h-*")
        assert "Karin Juhl" in page.locator("main").inner_text()
    finally:
        context.close()

    with sessions() as db:
        states = {r.url: r.state for r in db.scalars(select(DiscoveredRow))}
        assert states == {other.url("/indlaeg/17"): "ignored", blog.url("/blog/sagsbehandleren"): "secured",
                          blog.url("/andet-opslag"): "watched"}
        hits = {h.person_id: h for h in db.scalars(select(HitRow))}
        assert sorted(hits) == ["kj", "rr"] and hits["rr"].url == blog.url("/blog/sagsbehandleren")
        snapshots = db.scalars(select(SnapshotRow)).all()
        assert len(snapshots) == 2 and all(s.complete for s in snapshots)
        assert sorted(r.via for r in db.scalars(select(OneOffCaptureRow))) == ["discovery", "review"]
        actions = [a.action for a in db.scalars(select(AuditRow).order_by(AuditRow.id))]
        for action in ("discovery_ignore", "capture", "discovery_secure", "discovery_watch"):
            assert action in actions, actions
    # The added site is in the config from its next load, with the page as a start URL.
    reloaded = load_config(config.source)
    added = [s for s in reloaded.sites if s.id != "forum"]
    assert [(s.id, s.start_urls) for s in added] == [("127-0-0-1", [blog.url("/"), blog.url("/andet-opslag")])]
    # Ignoring is remembered: the next day's search brings the ignored host back to no one.
    with clock_at(datetime(2026, 12, 8, 10, 0, tzinfo=UTC)), sessions() as db:
        assert run_due(config, db, providers_of(config.discovery.providers)).queries > 0
        assert [r.url for r in waiting(db, config)] == []


def test_leaders_get_a_404_and_a_form_without_its_token_is_refused(world: dict[str, Any]) -> None:
    live = world["live"]
    leader = sign_in(live.url, "lene")
    assert leader.get("/discovered").status_code == 404
    assert leader.get("/capture").status_code == 404
    analyst = sign_in(live.url, "analytiker")
    assert analyst.get("/discovered").status_code == 200
    refused = analyst.post("/capture", data={"url": world["blog"].url("/indsat")})
    assert refused.status_code in (400, 403), refused.status_code
    form = analyst.get("/capture").text
    bad = analyst.post("/capture", data={"url": "forum.example/t/1", "csrf": csrf_of(form)})
    assert bad.status_code == 400 and "is not an http(s) URL" in bad.text
    with world["sessions"]() as db:
        assert db.scalars(select(OneOffCaptureRow)).all() == []
    for client in (leader, analyst):
        client.close()
