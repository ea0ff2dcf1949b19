"""`vaern crawl` on a render: browser site: hits from the rendered page, and no Chromium left on
any exit path (a finished crawl, a crawl killed for running too long)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from vaern.config import Config
from vaern.testing.jssite import GROUP_COMMENT_NAMES, GROUP_POST_NAMES, JsSite
from vaern.testing.processes import own_browser_markers

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site() -> Iterator[JsSite]:
    with JsSite(delay=0.2) as s:
        yield s


def vaern(config: Config, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaern", "-c", str(config.source), *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def people() -> list[dict[str, Any]]:
    named = [*GROUP_POST_NAMES.values(), *GROUP_COMMENT_NAMES.values()]
    return [{"id": f"p{i}", "name": name, "unit": "boern"} for i, name in enumerate(named)]


def js_site(site: JsSite, start: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "gruppe", "start_urls": [site.url(start)], "render": "browser", "delay": 0,
        "autothrottle": False, "follow": {"max_depth": 0}, "expand": {"max_seconds": 120}, **extra,
    }


def test_vaern_crawl_finds_the_rendered_names_and_leaves_no_chromium(
    site: JsSite, make_config: Callable[..., Config]
) -> None:
    # Evidence capture has its own tests; its browsers carry the same marker (launch_options).
    config = make_config(people=people(), sites=[js_site(site, "/group/")], evidence={"capture": False})
    before = own_browser_markers()
    result = vaern(config, "crawl", "--no-alerts")
    assert result.returncode == 0, result.stderr
    assert own_browser_markers() <= before, "a Chromium outlived `vaern crawl`"

    hits = json.loads(vaern(config, "hits", "--json").stdout)
    assert sorted(h["person_name"] for h in hits) == sorted(p["name"] for p in people())
    assert all(h["site"] == "gruppe" for h in hits)


def test_a_crawl_killed_for_running_too_long_leaves_no_chromium(
    site: JsSite, make_config: Callable[..., Config]
) -> None:
    config = make_config(
        people=people(),
        sites=[js_site(site, "/stream/")],
        browser={"load_timeout": 120, "page_timeout": 300},
        crawl={"timeout": "30s"},  # long enough to reach the page on a busy machine
        evidence={"capture": False},
    )
    before, start = own_browser_markers(), len(site.requests)
    result = vaern(config, "crawl", "--no-alerts")
    assert result.returncode == 1
    assert "exceeded crawl.timeout" in result.stderr, result.stderr
    assert "/stream/" in site.requests[start:], "the browser was on the page when the crawl was killed"
    assert own_browser_markers() <= before, "the killed crawl's Chromium was not reaped"
