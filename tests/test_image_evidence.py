"""A name read in an image is evidence like a name in the text: the image's bytes, as the crawl
fetched and read them, are archived in the hit's snapshot (manifest and blob), the mention is
marked as found in an image, and OCR runs on the HTTP and the browser path alike."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.crawler.test_ocr import letter
from vaern.testing.siteserver import SiteServer

pytestmark = pytest.mark.browser

PEOPLE = [{"id": "rr", "name": "René Rosenkilde", "unit": "boern"}]


def vaern(config: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vaern", "-c", str(config.source), *args],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("render", ["http", "browser"])
def test_an_image_naming_the_person_is_archived_with_the_hit(make_config: Any, tmp_path: Path, render: str) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(
        "<!doctype html><meta charset=utf-8><title>Brevet</title><article><p>Se hvad kommunen skrev til os.</p>"
        '<img src="brev.png" width="900" height="160"></article>', encoding="utf-8",
    )
    image = letter(["Afgørelse om tilskud", "Sagsbehandler René Rosenkilde"])
    (site / "brev.png").write_bytes(image)
    with SiteServer(site) as server:
        config = make_config(
            people=PEOPLE,
            sites=[{"id": "gruppe", "start_urls": [server.url("/")], "render": render, "delay": 0,
                    "autothrottle": False, "robots": "ignore", "follow": {"max_depth": 0}}],
        )
        done = vaern(config, "crawl", "--no-alerts")
        assert done.returncode == 0, done.stdout + done.stderr
    listed = vaern(config, "hits", "--json")
    assert listed.returncode == 0, listed.stderr
    [hit] = json.loads(listed.stdout)
    assert hit["person"] == "rr"
    assert [m["found"] for m in hit["mentions"]] == ["image"]
    [snapshot] = hit["snapshots"]
    assert snapshot["complete"] is True, snapshot.get("incomplete_reason")
    archive = Path(config.archive)
    manifest = json.loads((archive / snapshot["manifest"]).read_text())
    entry = manifest["files"]["image-1"]
    assert entry["sha256"] == hashlib.sha256(image).hexdigest()
    assert (archive / entry["path"]).read_bytes() == image  # the blob is the image as read
    assert snapshot["files"]["image-1"]["sha256"] == entry["sha256"]
    provenance = json.loads((archive / manifest["files"]["provenance"]["path"]).read_text())
    [recorded] = provenance["images"]
    assert recorded["url"] == server.url("/brev.png") and recorded["file"] == "image-1.png"
    assert "Rosenkilde" in recorded["text_read"]
    assert [m["field"] for m in provenance["matches"]] == ["image"]
