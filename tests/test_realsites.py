"""Real site software, end to end: `vaern crawl` twice over a WordPress-like blog and a Spirit-like
forum (testing/realsites.py), then `vaern hits --json` and the run rows.

- every planted name is one hit, on the page of the post or comment that names the person, with
  one snapshot; the listing pages that showed the post's excerpt are its `also_shown_on`;
- an unchanged second crawl matches at most 5 % of the pages again;
- login, register, reply, print, share and feed links cost (almost) no requests;
- the forum, `render: auto`, stays on HTTP although its search URL redirects to a login page.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import base_config
from vaern.config import load_config
from vaern.storage.db import make_engine
from vaern.storage.queries import site_memory
from vaern.storage.tables import CrawlRunRow
from vaern.testing.realsites import Planted, blog_posts, forum_topics, mount_blog, mount_forum
from vaern.testing.siteserver import SiteServer

PEOPLE = {
    "sbf": "Signe Brix Frølund",
    "rr": "René Rosenkilde",
    "ma": "Mette Aaskov",
    "kj": "Karin Juhl",
}
ID_OF = {name: pid for pid, name in PEOPLE.items()}
TRAP_WORDS = ("login", "register", "replytocom", "print=", "share=", "feed", "publish", "logout")


@dataclass
class Outcome:
    blog: SiteServer
    forum: SiteServer
    planted: dict[str, list[Planted]]
    hits: list[dict[str, Any]]
    runs: dict[str, list[CrawlRunRow]]  # per site, oldest first
    decision: str | None
    first_requests: dict[str, list[str]]


def _vaern(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaern", "-c", str(config), *args], capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    tmp_path = tmp_path_factory.mktemp("realsites")
    posts, blog_planted = blog_posts(list(PEOPLE.values()))
    topics, forum_planted = forum_topics(list(PEOPLE.values()))
    with SiteServer() as blog, SiteServer() as forum:
        mount_blog(blog, posts)
        mount_forum(forum, topics)
        data = base_config(tmp_path)
        data["people"] = [{"id": pid, "name": name, "unit": "boern"} for pid, name in PEOPLE.items()]
        polite = {"delay": 0, "autothrottle": False, "robots": "ignore", "concurrency": 4}
        data["sites"] = [
            {"id": "blog", "start_urls": [blog.url("/")], **polite},
            {"id": "forum", "start_urls": [forum.url("/")], "render": "auto",
             "search_urls": [forum.url("/search/?q={query}")], **polite},
        ]
        config = tmp_path / "vaern.yaml"
        config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        first = _vaern(config, "crawl", "--no-alerts")
        assert first.returncode == 0, first.stderr + first.stdout
        first_requests = {"blog": blog.paths(), "forum": forum.paths()}
        second = _vaern(config, "crawl", "--no-alerts")
        assert second.returncode == 0, second.stderr + second.stdout
        listed = _vaern(config, "hits", "--json")
        assert listed.returncode == 0, listed.stderr
        loaded = load_config(config)
        engine = make_engine(loaded.database)
        with Session(engine) as session:
            rows = session.scalars(select(CrawlRunRow).order_by(CrawlRunRow.id)).all()
            runs = {s: [r for r in rows if r.site_id == s] for s in ("blog", "forum")}
            _, decision = site_memory(session, "forum")
            session.expunge_all()
        engine.dispose()
        yield Outcome(
            blog, forum, {"blog": blog_planted, "forum": forum_planted}, json.loads(listed.stdout), runs, decision,
            first_requests,
        )


@pytest.mark.parametrize("site", ["blog", "forum"])
def test_each_planted_name_is_one_hit_on_its_post(outcome: Outcome, site: str) -> None:
    server = outcome.blog if site == "blog" else outcome.forum
    got = sorted((h["person"], h["url"].removeprefix(server.base_url)) for h in outcome.hits if h["site"] == site)
    want = sorted((ID_OF[p.person], p.path) for p in outcome.planted[site])
    assert got == want


@pytest.mark.parametrize("site", ["blog", "forum"])
def test_each_hit_has_one_snapshot(outcome: Outcome, site: str) -> None:
    hits = [h for h in outcome.hits if h["site"] == site]
    assert hits and [len(h["snapshots"]) for h in hits] == [1] * len(hits)


def test_the_listings_that_showed_a_post_are_kept_as_also_shown_on(outcome: Outcome) -> None:
    post = next(h for h in outcome.hits if h["site"] == "blog" and h["person"] == "rr")
    shown = {u.removeprefix(outcome.blog.base_url) for u in post["also_shown_on"]}
    assert "/tag/sag-2/" in shown and "/category/borgere/" in shown
    topic = next(h for h in outcome.hits if h["site"] == "forum" and h["person"] == "sbf")
    assert "/" in {u.removeprefix(outcome.forum.base_url) for u in topic["also_shown_on"]}


@pytest.mark.parametrize("site", ["blog", "forum"])
def test_an_unchanged_recrawl_matches_at_most_five_percent_again(outcome: Outcome, site: str) -> None:
    first, second = outcome.runs[site][-2:]
    assert first.pages_fetched >= 10
    assert second.pages_fetched <= 0.05 * (second.pages_fetched + second.pages_unchanged)
    assert second.hits_new == 0


@pytest.mark.parametrize("site", ["blog", "forum"])
def test_trap_links_cost_no_requests(outcome: Outcome, site: str) -> None:
    # The bare /feed/ is read once (a social site's /feed/ is content); it is no page (RSS), so
    # its body is not even downloaded.
    trapped = [p for p in outcome.first_requests[site] if any(w in p for w in TRAP_WORDS) and p != "/feed/"]
    # The forum's search URL is requested (once per watched name) and redirects to log in: those
    # are the only ones.
    allowed = len(PEOPLE) * 2 if site == "forum" else 0
    assert len(trapped) <= allowed, trapped
    assert outcome.runs[site][0].pages_failed == 0
    assert "links refused as traps" in (outcome.runs[site][0].notes or ""), "the run says what it refused"


def test_render_auto_stays_on_http_when_the_search_redirects_to_a_login_page(outcome: Outcome) -> None:
    assert outcome.decision == "http"
    assert any(p.startswith("/search/") for p in outcome.first_requests["forum"])
