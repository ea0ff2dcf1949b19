"""A hit is removed only when its page is gone: `vaern crawl` of a JavaScript post page whose
content arrives late, or never, removes nothing; a name really gone is removed on the second
whole read, and what the page then shows is archived."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from vaern.testing.jssite import JsSite

pytestmark = pytest.mark.browser


def _vaern(config: Any, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "vaern", "-c", str(config.source), *args], capture_output=True,
                          text=True, timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _hit(config: Any) -> dict[str, Any]:
    [hit] = json.loads(_vaern(config, "hits", "--json").stdout)
    return dict(hit)


def _alert_kinds(config: Any) -> list[str]:
    return [a["kind"] for a in json.loads(_vaern(config, "alerts", "--json").stdout)]


def test_late_content_and_loading_shells_remove_nothing_and_a_real_absence_is_confirmed(make_config: Any) -> None:
    with JsSite() as site:
        config = make_config(
            people=[{"id": "ak", "name": "Annelise Vestergaard Krogh", "unit": "boern"}],
            sites=[{"id": "gruppe", "start_urls": [site.url("/late/")], "render": "browser", "delay": 0,
                    "autothrottle": False, "robots": "ignore", "follow": {"max_depth": 0}}],
            # Every hit told at once, whatever its severity: this test is about removals.
            alerts={"policy": {"low": "immediate", "none": "immediate"}},
        )
        site.late_ms = 200
        _vaern(config, "crawl", "--no-alerts")
        assert _hit(config)["status"] == "new"

        # The recrawl reads the post only after a 2 s timer: waited for, still named.
        site.late_ms = 2000
        _vaern(config, "crawl", "--no-alerts")
        # A loading shell that never loads: not ready, so the name's absence means nothing.
        site.late_ms = None
        _vaern(config, "crawl", "--no-alerts")
        hit = _hit(config)
        assert hit["status"] == "new" and hit["removed_at"] is None, hit
        assert _alert_kinds(config) == ["new_hit", "new_hit"]  # the leader and the notify list; nothing else

        # The post is edited and no longer names her: pending after one whole read ...
        site.late_ms, site.late_text = 200, "Opslaget er redigeret af forfatteren."
        _vaern(config, "crawl", "--no-alerts")
        assert _hit(config)["status"] == "new"
        # ... and removed when the next crawl's whole read confirms it; the page as it is now is archived.
        _vaern(config, "crawl", "--no-alerts")
        hit = _hit(config)
    assert hit["status"] == "removed" and hit["removed_at"] is not None
    assert _alert_kinds(config).count("removed") == 2
    assert hit["evidence_owed"] is False
    reasons = []
    for snapshot in hit["snapshots"]:
        manifest = json.loads((config.archive / snapshot["manifest"]).read_text())
        reasons.append(manifest["reason"])
    assert reasons == ["hit", "removed"], reasons
