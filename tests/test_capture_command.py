"""`vaern capture URL [--person ID]`: one page secured now, through the evidence path of a crawl.

Against a local site: a page naming a watched person gets a hit and a complete snapshot that
`vaern verify` accepts; a page naming nobody is a case record; `--person` attaches a hit for a
page the matcher does not see the person on; a bad URL, a refused address and an unreachable
host are each a clear error (the filing tests run on SQLite and PostgreSQL). A captured hit is
read as a crawled one (severity, categories, the passage, the police deadline, the author) and
told as one is: `alerts.policy` decides, the person's leader gets the e-mail at once where it
says so, and the output says who is told.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vaern.testing.siteserver import SiteServer
from vaern.testing.smtpsink import SmtpSink


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
        server.set_page("/trussel", "<!doctype html><meta charset=utf-8><title>Sandheden</title>"
                                    "<meta name=author content='Vred Borger'>"
                                    "<article><time datetime='2026-01-05T10:00:00Z'>5. januar 2026</time>"
                                    "<p>René Rosenkilde fra kommunen er en svindler. Han skal have tæsk. "
                                    "Vi ved hvor han bor: Æblevej 3.</p></article>")
        yield server


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def test_a_page_naming_a_watched_person_is_secured_with_a_hit(
    make_config: Any, site: SiteServer, smtp: SmtpSink
) -> None:
    config = make_config(smtp={"host": "127.0.0.1", "port": smtp.port, "sender": "Værn <vaern@testby.example>"})
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
    with zipfile.ZipFile(bundle) as zf:  # the page does not say who wrote it: no author, no row
        assert json.loads(zf.read("export.json"))["author"] is None
        assert "<th>Forfatter</th>" not in zf.read("report.html").decode("utf-8")

    # The human form says what it secured.
    again = _vaern(config.source, "capture", site.url("/opslag"))
    assert again.returncode == 0, again.stderr
    assert "secured " + site.url("/opslag") in again.stdout and "s-000002 (complete)" in again.stdout
    assert "hits: h-000001" in again.stdout  # the same hit, a second snapshot


def test_a_page_naming_nobody_is_a_case_record_and_person_attaches_a_hit(
    make_config: Any, site: SiteServer, db_url: str
) -> None:
    config = make_config(database=db_url)
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


def test_a_critical_captured_hit_is_read_as_a_crawled_one_and_its_leader_told_at_once(
    make_config: Any, site: SiteServer, smtp: SmtpSink, db_url: str
) -> None:
    config = make_config(database=db_url,
                         smtp={"host": "127.0.0.1", "port": smtp.port, "sender": "Værn <vaern@testby.example>"})
    secured = _vaern(config.source, "capture", site.url("/trussel"))
    assert secured.returncode == 0, secured.stderr
    out = secured.stdout
    assert "h-000001 rr: severity critical (threat, private_info, accusation)" in out, out
    assert "police deadline 2026-01-08T10:00:00Z (stated)" in out and "alerts.policy: immediate" in out
    assert "told of the new hits at once: amr@testby.example, lene@testby.example" in out
    assert "E-mails: 1 sent" in out or "E-mails: 2 sent" in out, out
    to = sorted(r for m in smtp.wait_for(1) for r in m.rcpt_tos)
    assert to == ["amr@testby.example", "lene@testby.example"]

    hit = json.loads(_vaern(config.source, "hits", "--json").stdout)[0]
    assert (hit["severity"], hit["categories"]) == ("critical", ["threat", "private_info", "accusation"])
    assert hit["passage"]["category"] == "threat" and "tæsk" in hit["passage"]["text"]
    assert hit["author"] == "Vred Borger"
    assert sorted((a["to"], a["kind"], a["status"]) for a in hit["alerts"]) == [
        ("amr@testby.example", "new_hit", "sent"), ("lene@testby.example", "new_hit", "sent")]

    # The evidence bundle names the author, as the page marked it up.
    bundle = Path(config.archive).parent / "bundle.zip"
    exported = _vaern(config.source, "export", "h-000001", "-o", str(bundle))
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(bundle) as zf:
        report = zf.read("report.html").decode("utf-8")
        assert json.loads(zf.read("export.json"))["author"] == {"name": "Vred Borger", "source": "meta"}
    assert "<th>Forfatter</th><td>Vred Borger (læst fra sidens markering meta)</td>" in report

    # A second capture of the same page is one more snapshot of the same hit: nobody is told again.
    again = _vaern(config.source, "capture", site.url("/trussel"))
    assert again.returncode == 0 and "nobody is e-mailed at once" in again.stdout, again.stdout + again.stderr
    assert len(smtp.messages) == len(smtp.wait_for(1))


def test_a_captured_hit_the_policy_tells_nobody_is_queued_for_nobody(make_config: Any, site: SiteServer) -> None:
    # No SMTP server listens on the config's port: had anything been queued, sending would fail.
    config = make_config(alerts={"policy": {"critical": "none"}})
    secured = json.loads(_vaern(config.source, "capture", site.url("/trussel"), "--json").stdout)
    assert secured["told"] == [] and [(r["severity"], r["policy"]) for r in secured["read"]] == [("critical", "none")]
    named = json.loads(_vaern(config.source, "capture", site.url("/billede"), "--person", "kj", "--json").stdout)
    assert [(r["person"], r["severity"], r["categories"], r["policy"]) for r in named["read"]] == [
        ("kj", "none", [], "none")]
    assert json.loads(_vaern(config.source, "alerts", "--json").stdout) == []

    # --no-alerts: a hit the policy tells at once is queued for its leader, and nothing is sent.
    queued = _vaern(config.source, "capture", site.url("/opslag"), "--no-alerts")
    assert queued.returncode == 0, queued.stdout + queued.stderr
    assert "told of the new hits at once: amr@testby.example, lene@testby.example" in queued.stdout
    assert "Alerts queued, not sent (--no-alerts)" in queued.stdout
    outbox = json.loads(_vaern(config.source, "alerts", "--json").stdout)
    assert sorted((a["to"], a["kind"], a["status"]) for a in outbox) == [
        ("amr@testby.example", "new_hit", "queued"), ("lene@testby.example", "new_hit", "queued")]
