"""`vaern capture URL [--person ID]`: one page secured now, through the evidence path of a crawl.

Against a local site: a page naming a watched person gets a hit and a complete snapshot that
`vaern verify` accepts; a page naming nobody is a case record; `--person` attaches a hit for a
page the matcher does not see the person on; a bad URL, a refused address and an unreachable
host are each a clear error.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vaern.testing.siteserver import SiteServer


def _vaern(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vaern", "-c", str(config), *args],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def site() -> Iterator[SiteServer]:
    with SiteServer() as server:
        server.set_page("/opslag", "<!doctype html><meta charset=utf-8><title>Opslag</title>"
                                   "<p>Mette Sørensen fra Børn og Familie er en klam løgner.</p>")
        server.set_page("/billede", "<!doctype html><meta charset=utf-8><title>Billede</title>"
                                    "<p>Se hvem der sidder her i dag.</p>")
        yield server


def test_a_page_naming_a_watched_person_is_secured_with_a_hit(make_config: Any, site: SiteServer) -> None:
    config = make_config()
    secured = _vaern(config.source, "capture", site.url("/opslag"), "--json")
    assert secured.returncode == 0, secured.stderr
    out = json.loads(secured.stdout)
    assert out["complete"] is True and out["site"] == "_capture"
    assert out["people"] == ["ms"] and out["hits"] == ["h-000001"]
    assert {"screenshot", "html", "warc", "provenance"} <= set(out["files"])
    hits = json.loads(_vaern(config.source, "hits", "--json").stdout)
    assert [(h["id"], h["person"], h["url"], h["status"]) for h in hits] == [
        ("h-000001", "ms", site.url("/opslag"), "new")]
    assert hits[0]["snapshots"][0]["id"] == out["snapshot"] and hits[0]["evidence_owed"] is False
    assert "Mette Sørensen" in hits[0]["excerpt"]
    verified = _vaern(config.source, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    bundle = Path(config.archive).parent / "bundle.zip"
    exported = _vaern(config.source, "export", "h-000001", "-o", str(bundle))
    assert exported.returncode == 0 and bundle.stat().st_size > 0, exported.stderr

    # The human form says what it secured.
    again = _vaern(config.source, "capture", site.url("/opslag"))
    assert again.returncode == 0, again.stderr
    assert "secured " + site.url("/opslag") in again.stdout and "s-000002 (complete)" in again.stdout
    assert "hits: h-000001" in again.stdout  # the same hit, a second snapshot


def test_a_page_naming_nobody_is_a_case_record_and_person_attaches_a_hit(make_config: Any, site: SiteServer) -> None:
    config = make_config()
    plain = _vaern(config.source, "capture", site.url("/billede"))
    assert plain.returncode == 0, plain.stderr
    assert "no watched person named; filed as case record 1" in plain.stdout
    assert json.loads(_vaern(config.source, "hits", "--json").stdout) == []

    named = json.loads(_vaern(config.source, "capture", site.url("/billede"), "--person", "kj", "--json").stdout)
    assert named["people"] == [] and named["hits"] == ["h-000001"]
    hits = json.loads(_vaern(config.source, "hits", "--json").stdout)
    assert [(h["person"], h["unit"]) for h in hits] == [("kj", "job")]


def test_bad_url_refused_address_and_unreachable_host_are_clear_errors(make_config: Any, site: SiteServer) -> None:
    config = make_config(network={"allow_private_hosts": ["127.0.0.1"]})
    bad = _vaern(config.source, "capture", "forum.example/post/1")
    assert bad.returncode == 2 and "is not an http(s) URL" in bad.stderr, bad.stderr
    refused = _vaern(config.source, "capture", "http://127.0.0.3:9/admin")
    assert refused.returncode == 1 and "refused by the SSRF guard" in refused.stderr, refused.stderr
    nobody = _vaern(config.source, "capture", site.url("/opslag"), "--person", "zz")
    assert nobody.returncode == 2 and "unknown person 'zz'" in nobody.stderr
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    down = _vaern(config.source, "capture", f"http://127.0.0.1:{port}/weg")
    assert down.returncode == 1 and "unreachable or not capturable" in down.stderr, down.stderr
    assert json.loads(_vaern(config.source, "hits", "--json").stdout) == []
