"""Evidence is taken while the crawl goes on, from the page the matcher read: `vaern crawl`
against a JavaScript site and a plain HTTP site, counting what each server was asked for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vaern.testing.jssite import GROUP_POST_NAMES, JsSite
from vaern.testing.siteserver import SiteServer

pytestmark = pytest.mark.browser

PEOPLE = [
    {"id": "ak", "name": "Annelise Vestergaard Krogh", "unit": "boern"},
    {"id": "rr", "name": "René Rosenkilde", "unit": "boern"},
]


def vaern(config: Any, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vaern", "-c", str(config.source), *args],
                          capture_output=True, text=True, timeout=timeout)


def hits(config: Any) -> list[dict[str, Any]]:
    listed = vaern(config, "hits", "--json")
    assert listed.returncode == 0, listed.stderr
    data: list[dict[str, Any]] = json.loads(listed.stdout)
    return data


def provenance(config: Any, snapshot: dict[str, Any]) -> dict[str, Any]:
    manifest = json.loads((Path(config.archive) / snapshot["manifest"]).read_text())
    data: dict[str, Any] = json.loads((Path(config.archive) / manifest["files"]["provenance"]["path"]).read_text())
    return data


def test_a_rendered_page_with_a_hit_is_loaded_once_and_its_evidence_is_that_load(
    make_config: Any, tmp_path: Path
) -> None:
    with JsSite(delay=0.3) as site:
        config = make_config(
            people=PEOPLE,
            sites=[{"id": "gruppe", "start_urls": [site.url("/group/post/2")], "render": "browser", "delay": 0,
                    "autothrottle": False, "robots": "ignore", "follow": {"max_depth": 0}}],
        )
        result = vaern(config, "crawl", "--no-alerts")
        assert result.returncode == 0, result.stdout + result.stderr
        requested = list(site.requests)
    assert requested.count("/group/post/2") == 1, requested  # no second load for the evidence
    assert requested.count("/api/post?id=2") == 1, requested
    [hit] = hits(config)
    assert hit["person"] == "ak" and GROUP_POST_NAMES[2] == "Annelise Vestergaard Krogh"
    [snapshot] = hit["snapshots"]
    text = (Path(config.archive) / snapshot["files"]["text"]["path"]).read_text()
    assert "Annelise Vestergaard Krogh" in text
    prov = provenance(config, snapshot)
    assert prov["collector"]["same_load_as_crawl"] is True
    assert prov["readiness"]["ready"] is True
    # The capture began after the hit was detected and before the crawl ended.
    assert prov["detected_at"] <= prov["capture_started_at"]


def test_an_http_page_with_a_hit_is_loaded_once_in_the_browser(make_config: Any, tmp_path: Path) -> None:
    with SiteServer() as server:
        server.set_page("/", '<a href="/post">opslag</a>')
        server.set_page("/post", "<p>Hvorfor får René Rosenkilde lov at blive?</p>")
        config = make_config(
            sites=[{"id": "blog", "start_urls": [server.url("/")], "delay": 0, "autothrottle": False,
                    "robots": "ignore"}],
        )
        result = vaern(config, "crawl", "--no-alerts")
        assert result.returncode == 0, result.stdout + result.stderr
        post = [r for r in server.requests if r.route == "/post"]
    # One fetch by the crawler, one load by the browser for the evidence: never more.
    assert len(post) == 2, [(r.method, r.headers.get("User-Agent")) for r in post]
    assert sum("Chrome" in r.headers.get("User-Agent", "") for r in post) == 1
    [hit] = hits(config)
    [snapshot] = hit["snapshots"]
    prov = provenance(config, snapshot)
    assert prov["collector"]["same_load_as_crawl"] is False and prov["readiness"]["ready"] is True
