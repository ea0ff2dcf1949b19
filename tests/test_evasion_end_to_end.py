"""Ways a page hid a name from the crawl, each through `vaern crawl` against the fixture site server.

One crawl of a site whose pages use the tricks, then `vaern hits --json`: every named person's hit
is recorded for the page that names them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import base_config
from vaern.testing.siteserver import SiteServer

POST = "<p>{name} er en løgner, og det ved alle på kontoret.</p>"


def page(body: str, *, head: str = "", title: str = "Opslag") -> str:
    head = f"<meta charset=utf-8>{head}<title>{title}</title>"
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"


def refresh(target: str, delay: int = 0) -> str:
    return f"<meta http-equiv=refresh content='{delay};url={target}'>"


PAGES = {
    # A refresh no browser follows: the page is shown as it is.
    "/refresh-javascript.html": page(POST.format(name="René Rosenkilde"), head=refresh("javascript:void(0)")),
    "/refresh-mailto.html": page(POST.format(name="Mette Sørensen"), head=refresh("mailto:redaktion@example.dk")),
    # A refresh after a delay: the page shows until then (here to the front page, fetched already).
    "/refresh-later.html": page(POST.format(name="Karin Juhl"), head=refresh("/", delay=10)),
    # Thousands of nested or unclosed tags before the post.
    "/deep-b.html": page("<b>" * 2100 + POST.format(name="Karin Juhl")),
    "/deep-mixed.html": page("<div><span><font><table><tr><td>" * 2000 + POST.format(name="René Rosenkilde")),
    # A title ending in the given name, a body opening with the full name.
    "/title-and-body.html": page("<p>René Rosenkilde er en løgner</p>", title="Sandheden om René"),
    # The name only in the title.
    "/title-only.html": page("<p>Hun svarer aldrig.</p>", title="Mette Sørensen og jobcentret"),
    # A part of the name written again just before it.
    "/repeated-part.html": page("<p>Karin Karin Juhl svarer aldrig på mails.</p>"),
    "/repeated-across-lines.html": page("<h1>Sandheden om René</h1><p>René Rosenkilde er en løgner</p>"),
    # A spaced dash between a heading word and the name.
    "/dash.html": page("<p>SKANDALE \u2013 Karin Juhl svarer aldrig på mails.</p>"),
}


@pytest.fixture(scope="module")
def hits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[tuple[str, str], dict[str, Any]]]:
    tmp_path = tmp_path_factory.mktemp("evasion")
    with SiteServer() as server:
        for path, html in PAGES.items():
            server.set_page(path, html)
        server.set_page("/", page("".join(f'<a href="{path}">{path}</a> ' for path in PAGES)))
        data = base_config(tmp_path)
        data["sites"] = [{"id": "hade", "start_urls": [server.url("/")], "delay": 0, "autothrottle": False}]
        data["evidence"] = {"capture": False}
        config = tmp_path / "vaern.yaml"
        config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        crawl = _vaern(config, "crawl", "--no-alerts")
        assert crawl.returncode == 0, crawl.stderr + crawl.stdout
        listed = _vaern(config, "hits", "--json")
        assert listed.returncode == 0, listed.stderr
        yield {(h["person"], h["url"].removeprefix(server.base_url)): h for h in json.loads(listed.stdout)}


def _vaern(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaern", "-c", str(config), *args], capture_output=True, text=True, timeout=240
    )


@pytest.mark.parametrize(
    ("person", "path"),
    [("rr", "/refresh-javascript.html"), ("ms", "/refresh-mailto.html"), ("kj", "/refresh-later.html")],
)
def test_a_page_with_a_refresh_no_browser_follows_at_once_is_read(
    hits: dict[tuple[str, str], dict[str, Any]], person: str, path: str
) -> None:
    hit = hits[(person, path)]
    assert hit["confidence"] == "high" and "er en løgner" in hit["excerpt"]


@pytest.mark.parametrize(("person", "path"), [("kj", "/deep-b.html"), ("rr", "/deep-mixed.html")])
def test_a_post_after_thousands_of_nested_tags_is_read(
    hits: dict[tuple[str, str], dict[str, Any]], person: str, path: str
) -> None:
    hit = hits[(person, path)]
    assert hit["confidence"] == "high" and "er en løgner, og det ved alle" in hit["excerpt"]


def test_a_title_is_matched_apart_from_the_body(hits: dict[tuple[str, str], dict[str, Any]]) -> None:
    hit = hits[("rr", "/title-and-body.html")]
    assert hit["confidence"] == "high" and hit["matched_text"] == ["René Rosenkilde"]
    assert hit["excerpt"] == "René Rosenkilde er en løgner"  # the body's own words, no title in front
    assert hits[("ms", "/title-only.html")]["excerpt"] == "Mette Sørensen og jobcentret"


@pytest.mark.parametrize(("person", "path"), [("kj", "/repeated-part.html"), ("rr", "/repeated-across-lines.html")])
def test_a_name_part_written_again_before_the_name_does_not_hide_it(
    hits: dict[tuple[str, str], dict[str, Any]], person: str, path: str
) -> None:
    hit = hits[(person, path)]
    assert hit["confidence"] == "high" and hit["matched_text"] in (["Karin Juhl"], ["René Rosenkilde"])


def test_a_spaced_dash_before_the_name_does_not_hide_it(hits: dict[tuple[str, str], dict[str, Any]]) -> None:
    assert hits[("kj", "/dash.html")]["matched_text"] == ["Karin Juhl"]


def test_nothing_else_is_found(hits: dict[tuple[str, str], dict[str, Any]]) -> None:
    assert sorted(hits) == sorted(
        [
            ("rr", "/refresh-javascript.html"),
            ("ms", "/refresh-mailto.html"),
            ("kj", "/refresh-later.html"),
            ("kj", "/deep-b.html"),
            ("rr", "/deep-mixed.html"),
            ("rr", "/title-and-body.html"),
            ("ms", "/title-only.html"),
            ("kj", "/repeated-part.html"),
            ("rr", "/repeated-across-lines.html"),
            ("kj", "/dash.html"),
        ]
    )
