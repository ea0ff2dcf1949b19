"""Pages written the many ways real sites are (vaern.testing.zoo): `vaern crawl` of each with
`render: browser` finds every planted name, and each hit's evidence — the text and DOM captured
with the screenshot — shows every mention."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vaern.testing.jssite import JsSite
from vaern.testing.zoo import ZOO_PEOPLE, ZOO_PLANTED

pytestmark = pytest.mark.browser


def _vaern(config: Any, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "vaern", "-c", str(config.source), *args], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[JsSite, list[dict[str, Any]], Path]]:
    """One crawl of every zoo page (their own start URLs, nothing followed): the hits and the archive."""
    from tests.conftest import base_config
    from vaern.config import load_config

    root = tmp_path_factory.mktemp("zoo")
    with JsSite() as site:
        data = base_config(root)
        data["people"] = [{**p, "unit": "boern"} for p in ZOO_PEOPLE]
        data["sites"] = [{"id": "zoo", "start_urls": [site.url(path) for path in ZOO_PLANTED], "render": "browser",
                          "delay": 0, "autothrottle": False, "robots": "ignore", "follow": {"max_depth": 0}}]
        import yaml

        (root / "vaern.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        config = load_config(root / "vaern.yaml")
        _vaern(config, "crawl", "--no-alerts")
        hits = json.loads(_vaern(config, "hits", "--json").stdout)
        yield site, hits, Path(config.archive)


def _evidence(archive: Path, snapshot: dict[str, Any]) -> tuple[str, str]:
    """The text captured with the screenshot, and every captured DOM (page, frames, posts)."""
    text = (archive / snapshot["files"]["text"]["path"]).read_text()
    doms = [(archive / entry["path"]).read_text() for kind, entry in snapshot["files"].items()
            if kind == "dom" or kind.startswith(("frame-", "post-")) and entry["path"].endswith(".html")]
    return text, "\n".join(doms)


@pytest.mark.parametrize("path", list(ZOO_PLANTED))
def test_every_planted_name_is_found_and_its_evidence_shows_it(
    zoo: tuple[JsSite, list[dict[str, Any]], Path], path: str
) -> None:
    site, hits, archive = zoo
    url = site.url(path)
    on_page = {h["person_name"]: h for h in hits if h["url"] == url}
    assert sorted(on_page) == sorted(ZOO_PLANTED[path]), f"{path}: found {sorted(on_page)}"
    for name, hit in on_page.items():
        assert hit["evidence_owed"] is False, (name, hit["snapshots"])
        snapshot = hit["snapshots"][-1]
        assert snapshot["complete"] is True, snapshot["incomplete_reason"]
        text, dom = _evidence(archive, snapshot)
        assert name in text, f"{path}: {name} not in the captured text"
        assert name in dom, f"{path}: {name} not in the captured DOM"


def _provenance(archive: Path, snapshot: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((archive / snapshot["files"]["provenance"]["path"]).read_text())
    return data


@pytest.mark.parametrize(("path", "restored"), [("/zoo/timers/", False), ("/zoo/virtual/", True),
                                                ("/zoo/infinite/", False)])
def test_each_post_holding_a_mention_is_shot_on_its_own_with_its_permalink(
    zoo: tuple[JsSite, list[dict[str, Any]], Path], path: str, restored: bool
) -> None:
    from PIL import Image

    site, hits, archive = zoo
    for hit in (h for h in hits if h["url"] == site.url(path)):
        snapshot = hit["snapshots"][-1]
        posts = [p for p in _provenance(archive, snapshot)["posts"] if hit["person_name"] in " ".join(p["matched"])]
        assert len(posts) == 1, _provenance(archive, snapshot)["posts"]
        [post] = posts
        assert post["permalink"] and "/zoo/posts/" in post["permalink"]
        if not restored:
            assert post["restored_from_scroll_position"] is None
        shot = snapshot["files"][f"post-{post['number']}"]
        with Image.open(archive / shot["path"]) as image:
            assert image.size[0] > 100 and image.size[1] > 30
        dom = (archive / snapshot["files"][f"post-{post['number']}-dom"]["path"]).read_text()
        assert hit["person_name"] in dom and dom.startswith("<article")
    if restored:  # the first planted post of the virtual list was long gone from the DOM: brought back
        name = ZOO_PLANTED[path][0]
        first = next(h for h in hits if h["url"] == site.url(path) and h["person_name"] == name)
        [post] = [p for p in _provenance(archive, first["snapshots"][-1])["posts"] if name in " ".join(p["matched"])]
        assert post["restored_from_scroll_position"] is not None
