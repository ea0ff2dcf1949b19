"""Export bundles end to end: real captures, a local TSA, the database, unzip, sha256sum -c, openssl."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from playwright.async_api import async_playwright

from vaern import clock
from vaern.app import evidence_bundle as export_bundle
from vaern.app import open_services
from vaern.cli import main
from vaern.config import Config
from vaern.crawler.browser import launch_options
from vaern.crawler.capture import LIMITATIONS, Capture, CaptureRequest, capture_pages
from vaern.domain import CapturedFile
from vaern.storage.archive import Archive, sha256_hex
from vaern.storage.db import transaction
from vaern.storage.export import DIFF_CUT, HitNotFound, parse_hit_id, text_diff
from vaern.storage.tables import HitRow, PageRow, SnapshotRow
from vaern.testing.evidencesite import Site
from vaern.testing.tsa import LocalTsa
from vaern.words import Words as ReportWords
from vaern.words.da import DA as _DA
from vaern.words.en import EN as _EN

# What capture records in English, with its Danish (vaern.words).
LIMITATIONS_DA = {_EN[k]: _DA[k] for k in _EN if k.startswith("capture.limitation.")}

pytestmark = pytest.mark.browser


def _seed(config: Config, site: Site) -> int:
    """A hit on the fixture post with two snapshots (the post was edited in between), as the pipeline files them."""
    now = datetime(2026, 11, 21, 14, 3, 11)
    with clock.clock_at(now):  # the captures follow the hit, seconds after it was found
        services = open_services(config)
        archive = Archive(config.archive, tsa_urls=config.evidence.tsa_urls)
        with transaction(services.sessions) as session:
            page = PageRow(site_id="testsite", url=site.url("/post/1"), first_fetched_at=now, last_fetched_at=now)
            session.add(page)
            session.flush()
            hit = HitRow(person_id="rr", unit_id="boern", page_id=page.id, site_id="testsite", url=page.url,
                         confidence="high", score=97.5, variant="exact", matched_text=["René Rosenkilde"],
                         excerpt="Hvorfor får René Rosenkilde lov at arbejde her?", categories=["criticism"],
                         first_seen=now, last_seen=now)
            session.add(hit)
            session.flush()
            hit_id, page_id = hit.id, page.id
        for reason, text in (("hit", "Hvorfor får René Rosenkilde lov at arbejde her?"),
                             ("update", "Hvorfor får René Rosenkilde lov at arbejde her? Han er en skam.")):
            site.state.post = text
            [capture] = capture_pages(config, [CaptureRequest(site.url("/post/1"), "testsite", clock.now(), reason,
                                                              matches=({"person": "rr", "name": "René Rosenkilde",
                                                                        "matched": "René Rosenkilde",
                                                                        "snippet": text[:40]},))])
            assert isinstance(capture, Capture), capture
            with transaction(services.sessions) as session:  # row first, then the archive, one transaction
                row = SnapshotRow(page_id=page_id, captured_at=capture.started_at.replace(tzinfo=None), reason=reason,
                                  manifest_path="", manifest_sha256="")
                session.add(row)
                session.flush()
                stored = archive.store(capture, row.id)
                row.manifest_path, row.manifest_sha256, row.files = (stored.manifest_path, stored.manifest_sha256,
                                                                     stored.files)
        site.state.post = "Hvorfor får René Rosenkilde lov at arbejde her?"
    return hit_id


@pytest.fixture
def seeded(make_config: Callable[..., Config], site: Site, tsa: LocalTsa) -> tuple[Config, int]:
    config = make_config(evidence={"tsa_urls": [tsa.url], "settle_seconds": 0.3, "expand_steps": 2})
    return config, _seed(config, site)


def test_export_round_trip(seeded: tuple[Config, int], tsa: LocalTsa, tmp_path: Path) -> None:
    config, hit_id = seeded
    services = open_services(config)
    with services.sessions() as session:
        bundle = export_bundle(config, session, f"h-{hit_id:06d}", tmp_path / "out" / "bundle.zip")
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(folder)
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert {"report.html", "report.pdf", "SHA256SUMS", "snapshots/s-000001/manifest.json",
            "snapshots/s-000001/screenshot.png", "snapshots/s-000001/page.html", "snapshots/s-000001/capture.warc.gz",
            "snapshots/s-000002/manifest.json"} <= set(names)

    # 1. sha256sum -c accepts SHA256SUMS, which covers every other file (but the token over it).
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert {"SHA256SUMS.tsr", "SHA256SUMS.pem"} <= set(names)
    assert check.stdout.count(": OK") == len([n for n in names if not n.startswith("SHA256SUMS")])

    # 2. each file matches its manifest; the second manifest chains to the first.
    for sid in ("s-000001", "s-000002"):
        manifest = json.loads((folder / "snapshots" / sid / "manifest.json").read_bytes())
        for item in manifest["files"].values():
            out = subprocess.run(["sha256sum", f"snapshots/{sid}/{item['name']}"], cwd=folder, capture_output=True,
                                 text=True)
            assert out.stdout.split()[0] == item["sha256"]
    first_sha = subprocess.run(["sha256sum", "snapshots/s-000001/manifest.json"], cwd=folder, capture_output=True,
                               text=True).stdout.split()[0]
    assert json.loads((folder / "snapshots/s-000002/manifest.json").read_bytes())["previous"]["sha256"] == first_sha

    # 3. the timestamp token verifies with openssl against the TSA's root.
    [token] = sorted((folder / "snapshots/s-000002/timestamps").glob("*.tsr"))
    ok = subprocess.run(["openssl", "ts", "-verify", "-data", "snapshots/s-000002/manifest.json", "-in", str(token),
                         "-CAfile", str(tsa.ca_file), "-untrusted", str(token.with_suffix(".pem"))],
                        cwd=folder, capture_output=True, text=True)
    assert "Verification: OK" in ok.stdout, ok.stderr

    # 4. the report, in Danish (the default language): both times, hashes, the edit, how to verify,
    #    limitations; nothing from other hosts.
    report = (folder / "report.html").read_text(encoding="utf-8")
    assert '<html lang="da">' in report
    assert "<h1>Bevisrapport: René Rosenkilde nævnt på testsite</h1>" in report
    assert "René Rosenkilde" in report and "Børn og Familie" in report
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", report)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d CE(S)?T \(UTC\+0[12]:00\)", report)
    assert first_sha in report
    assert "+Hvorfor får René Rosenkilde lov at arbejde her? Han er en skam." in report
    for heading in ("<h2>Sammendrag</h2>", "<h2>Øjebliksbillede s-000001 (fundet)</h2>",
                    "<h2>Øjebliksbillede s-000002 (siden ændret)</h2>", "<h3>Skærmbilleder</h3>",
                    "<h3>Betroede tidsstempler (RFC 3161) på manifestet</h3>",
                    "<h3>Ændringer i teksten siden forrige øjebliksbillede</h3>",
                    "<h2>Sådan kontrollerer du pakken uden Værn</h2>", "<h2>Begrænsninger</h2>"):
        assert heading in report, heading
    for row in ("<th>Sikkerhed</th><td>høj (score 97,5)</td>", "<th>Kategorier</th><td>kritik</td>",
                "<th>Status</th><td>ny</td>", "<th>TLS (krypteret forbindelse)</th><td>ingen: almindelig HTTP uden",
                "<th>Sikring startet</th><td>20", "<th>Serverens adresse</th><td>127.0.0.1 port "):
        assert row in report, row
    assert "<li>åbnede siden</li>" in report and "<li>ventede: " in report
    assert "sha256sum -c SHA256SUMS" in report and "openssl ts -verify" in report
    assert "Det beviser ikke, hvad der var ment med indholdet" in report
    for recorded in LIMITATIONS:  # sealed in English in provenance.json; shown in Danish here
        assert recorded not in report and LIMITATIONS_DA[recorded] in report
    assert "citeret fra sikringens" not in report.lower() and "Citeret, som sikringen" not in report
    for english in ("Evidence report", "How to verify", "Limitations", "Capture started", "not recorded"):
        assert english not in report, english
    for ref in re.findall(r'(?:src|href)="([^"]*)"', report):
        assert "://" not in ref and not ref.startswith("//"), ref
        assert ref.startswith("data:image/png;base64,") or (folder / ref).exists(), ref
    assert (folder / "report.pdf").read_bytes().startswith(b"%PDF")
    assert _requests_made_opening(folder / "report.html") == {"file"}

    # 5. the same hit with `language: en`: the same evidence, the report in English.
    english = config.model_copy(update={"language": "en"})
    with services.sessions() as session:
        bundle = export_bundle(english, session, hit_id, tmp_path / "out" / "bundle-en.zip")
    folder = tmp_path / "unzipped-en"
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(folder)
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    report = (folder / "report.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in report
    assert "<h1>Evidence report: René Rosenkilde named on testsite</h1>" in report
    for heading in ("<h2>Summary</h2>", "<h2>Snapshot s-000001 (found)</h2>",
                    "<h2>Snapshot s-000002 (page changed)</h2>", "<h2>How to verify this bundle without Værn</h2>",
                    "<h2>Limitations</h2>"):
        assert heading in report, heading
    for row in ("<th>Confidence</th><td>high (score 97.5)</td>", "<th>Categories</th><td>criticism</td>",
                "<th>Status</th><td>new</td>", "<th>TLS</th><td>none: plain HTTP, not encrypted</td>"):
        assert row in report, row
    assert "does not prove what the server meant" in report and "sha256sum -c SHA256SUMS" in report
    assert all(recorded in report for recorded in LIMITATIONS)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d CE(S)?T \(UTC\+0[12]:00\)", report)
    for danish in ("Bevisrapport", "Sådan kontrollerer", "Begrænsninger", "ikke registreret", "fundet"):
        assert danish not in report, danish


def _requests_made_opening(html: Path) -> set[str]:
    """Open the report in Chromium and return the URL schemes of every request it made."""
    async def run() -> set[str]:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(**launch_options(None))
            page = await browser.new_page()
            seen: set[str] = set()
            page.on("request", lambda r: seen.add(r.url.split(":", 1)[0]))
            await page.goto(html.as_uri(), wait_until="networkidle")
            assert await page.evaluate("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
            await browser.close()
            return seen

    return asyncio.run(run())


def test_cli_verify_and_export(seeded: tuple[Config, int], tmp_path: Path) -> None:
    config, hit_id = seeded
    runner = CliRunner()
    ok = runner.invoke(main, ["-c", str(config.source), "verify"])
    assert ok.exit_code == 0, ok.output
    assert "ok: 2 snapshot(s) in the chain, 2 in the database" in ok.output

    out = tmp_path / "e.zip"
    exported = runner.invoke(main, ["-c", str(config.source), "export", f"h-{hit_id:06d}", "-o", str(out)])
    assert exported.exit_code == 0, exported.output
    assert zipfile.ZipFile(out).testzip() is None

    missing = runner.invoke(main, ["-c", str(config.source), "export", "h-999999"])
    assert missing.exit_code == 1 and "no hit h-999999" in missing.output

    manifest = json.loads((config.archive / "snapshots/s-000001/manifest.json").read_bytes())
    blob = config.archive / manifest["files"]["screenshot"]["path"]
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes() + b"x")
    bad = runner.invoke(main, ["-c", str(config.source), "verify"])
    assert bad.exit_code == 1
    assert f"s-000001: screenshot file {manifest['files']['screenshot']['path']} has changed" in bad.output
    assert "1 problem(s)" in bad.output
    again = ["-c", str(config.source), "export", f"h-{hit_id:06d}", "-o", str(tmp_path / "x.zip")]
    refused = runner.invoke(main, again)
    assert refused.exit_code == 1 and "s-000001: screenshot file" in refused.output
    assert "has changed; run `vaern verify`" in refused.output
    blob.unlink()
    refused = runner.invoke(main, again)
    assert refused.exit_code == 1 and "cannot be read" in refused.output and not (tmp_path / "x.zip").exists()


def test_hit_ids_and_text_diff() -> None:
    assert parse_hit_id("h-000123") == 123 and parse_hit_id("7") == 7
    with pytest.raises(HitNotFound):
        parse_hit_id("x-12")
    diff = text_diff("a\nb\n", "a\nc\n", "old", "new")
    assert "-b" in diff and "+c" in diff
    long = text_diff("", "\n".join(map(str, range(1000))), "old", "new")
    assert len(long) == 401 and long[-1] == "… (difference cut here)"
    cut = ReportWords("da")(DIFF_CUT)
    assert cut == "… (forskellen er afkortet her)"
    assert text_diff("", "\n".join(map(str, range(1000))), "o", "n", cut)[-1] == cut


def _seed_partial(config: Config) -> int:
    """A confirmed hit whose page has three snapshots as older or failed captures leave them: one
    with no provenance, screenshot, times or title (an older manifest); one with a provenance that
    records only a little, an unknown limitation and notes; one whose provenance is not JSON."""
    services = open_services(config)
    archive = Archive(config.archive)
    now = datetime(2026, 7, 2, 9, 30, tzinfo=UTC)
    url = "https://127.0.0.1:9/opslag/7"
    with transaction(services.sessions) as session:
        page = PageRow(site_id="hadeside", url=url, first_fetched_at=now, last_fetched_at=now)
        session.add(page)
        session.flush()
        hit = HitRow(person_id="ms", unit_id="boern", page_id=page.id, site_id="hadeside", url=url,
                     confidence="possible", score=81.25, variant="fuzzy", matched_text=["Mette Sørensen"],
                     excerpt="Mette Sørensen bor på Skovvej 3", categories=["threat", "private_info"],
                     first_seen=now, last_seen=now, status="confirmed", removed_at=now)
        session.add(hit)
        session.flush()
        hit_id, page_id = hit.id, page.id

    def file(kind: str, name: str, media_type: str, data: bytes) -> CapturedFile:
        return CapturedFile(kind, name, media_type, data, sha256_hex(data))

    partial = {"format": "vaern-provenance/1", "tls": {"protocol": "TLS 1.3", "validFrom": 1767225600},
               "server": {"ipAddress": "127.0.0.1"}, "browser": {"version": "120.0"},
               "actions": [{"action": "load", "url": url}, {"action": "wiggle the page"}],
               "limitations": [LIMITATIONS[0], "Captured from a phone."]}
    captures = [
        ("hit", (file("html", "page.html", "text/html", b"<p>Mette S\xc3\xb8rensen</p>"),
                 file("text", "text.txt", "text/plain", "Mette Sørensen bor på Skovvej 3".encode())), ()),
        ("update", (file("text", "text.txt", "text/plain", "Mette Sørensen bor på Skovvej 5".encode()),
                    file("provenance", "provenance.json", "application/json", json.dumps(partial).encode())),
         ("page is 70000 px tall; screenshot capped at 60000 px", "the moon was full")),
        ("removed", (file("provenance", "provenance.json", "application/json", b"{not json"),), ()),
    ]
    for reason, files, notes in captures:
        capture = Capture(url=url, site_id="hadeside", reason=reason, detected_at=now, started_at=now,
                          finished_at=now, final_url=url, status=None if reason == "removed" else 200, files=files,
                          title="Opslag", notes=notes)
        with transaction(services.sessions) as session:
            row = SnapshotRow(page_id=page_id, captured_at=now.replace(tzinfo=None), reason=reason, manifest_path="",
                              manifest_sha256="")
            session.add(row)
            session.flush()
            stored = archive.store(capture, row.id)
            row.manifest_path, row.manifest_sha256 = stored.manifest_path, stored.manifest_sha256
            if reason == "hit":  # as an older manifest: no times, no final URL, no title, no notes
                path = archive.path(stored.manifest_path)
                manifest = json.loads(path.read_bytes())
                for key in ("detected_at", "capture_started_at", "capture_finished_at", "final_url", "title",
                            "notes"):
                    del manifest[key]
                path.chmod(0o644)
                path.write_bytes(json.dumps(manifest).encode())
                row.manifest_sha256 = sha256_hex(path.read_bytes())
    return hit_id


def test_export_of_snapshots_missing_their_records(make_config: Callable[..., Config], tmp_path: Path) -> None:
    config = make_config()
    hit_id = _seed_partial(config)
    services = open_services(config)
    reports = {}
    for language in ("da", "en"):
        with services.sessions() as session:
            bundle = export_bundle(config.model_copy(update={"language": language}), session, hit_id,
                                   tmp_path / f"{language}.zip")
        folder = tmp_path / language
        with zipfile.ZipFile(bundle) as zf:
            zf.extractall(folder)
        check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert (folder / "report.pdf").read_bytes().startswith(b"%PDF")
        reports[language] = (folder / "report.html").read_text(encoding="utf-8")
    da, en = reports["da"], reports["en"]
    first, second, third = (da.split('<section class="snapshot">')[n] for n in (1, 2, 3))

    assert '<html lang="da">' in da
    for row in ("<th>Status</th><td>bekræftet</td>", "<th>Sikkerhed</th><td>mulig (score 81,2)</td>",
                "<th>Kategorier</th><td>trussel, private oplysninger</td>"):
        assert row in da, row
    assert "<h2>Øjebliksbillede s-000001 (fundet)</h2>" in first
    assert "har ingen sikringsoplysninger (provenance.json)" in first
    for label in ("Opdaget", "Sikring startet", "Sikring afsluttet", "Endelig adresse (efter omdirigeringer)",
                  "Sidens titel", "Serverens adresse", "TLS (krypteret forbindelse)", "Browser"):
        assert re.search(rf'<th>{re.escape(label)}</th><td><span class="missing">ikke registreret</span>', first), label
    assert "Der blev ikke taget et skærmbillede af siden." in first
    assert "Der blev ikke indhentet et betroet tidsstempel for dette øjebliksbillede." in first
    assert "Bemærkning" not in first and "<h3>Hvad sikringen gjorde ved siden</h3>" not in first

    assert "<h2>Øjebliksbillede s-000002 (siden ændret)</h2>" in second and "sikringsoplysninger (provenance.json)" \
        not in second.split("<table>")[0]
    assert "<th>Serverens adresse</th><td>127.0.0.1</td>" in second
    assert "<td>TLS 1.3; gyldigt fra 2026-01-01 00:00:00 UTC</td>" in second
    assert "<td>Chromium 120.0<br>" not in second and "<td>Chromium 120.0</td>" in second
    assert "<li>åbnede siden</li>" in second
    assert '<li><q lang="en">wiggle the page</q> (citeret fra sikringens registrering)</li>' in second
    assert "Bemærkning: siden er 70000 px høj; skærmbilledet er afkortet ved 60000 px" in second
    assert 'Bemærkning (citeret fra sikringens registrering): <q lang="en">the moon was full</q>' in second
    assert "+Mette Sørensen bor på Skovvej 5" in second

    assert "<h2>Øjebliksbillede s-000003 (siden fjernet)</h2>" in third
    assert "sikringsoplysninger (provenance.json) kan ikke læses" in third
    assert "<th>HTTP-status</th><td>intet svar</td>" in third

    limits = da.split("<h2>Begrænsninger</h2>")[1]
    assert LIMITATIONS_DA[LIMITATIONS[0]] in limits and LIMITATIONS[0] not in limits
    assert ("Øvrige forbehold, citeret på engelsk, som sikringen registrerede dem (provenance.json):</p>\n"
            '<ul lang="en"><li><q>Captured from a phone.</q></li></ul>') in limits

    assert '<html lang="en">' in en
    for row in ("<th>Status</th><td>confirmed</td>", "<th>Confidence</th><td>possible (score 81.2)</td>",
                "<th>Categories</th><td>threat, private information</td>",
                '<th>Detected</th><td><span class="missing">not recorded</span>',
                "No screenshot was captured for this page.", "No trusted timestamp was obtained for this snapshot.",
                "This snapshot has no provenance record (provenance.json)",
                "Note: page is 70000 px tall; screenshot capped at 60000 px", "Note: the moon was full",
                "<li>Captured from a phone.</li>", "<th>HTTP status</th><td>no answer</td>",
                "<td>TLS 1.3; valid from 2026-01-01 00:00:00 UTC</td>", "<li>wiggle the page</li>"):
        assert row in en, row
    assert "ikke registreret" not in en and "Bemærkning" not in en


def test_export_of_a_hit_without_snapshots(make_config: Callable[..., Config], tmp_path: Path) -> None:
    """A hit whose capture failed altogether still exports; the report says there is no snapshot."""
    config = make_config()
    services = open_services(config)
    now = datetime(2026, 1, 15, 8, 0)
    with transaction(services.sessions) as session:
        page = PageRow(site_id="hadeside", url="http://127.0.0.1:9/x", first_fetched_at=now, last_fetched_at=now)
        session.add(page)
        session.flush()
        hit = HitRow(person_id="kj", unit_id=None, page_id=page.id, site_id="hadeside", url=page.url,
                     confidence="high", score=99.0, variant="exact", matched_text=["Karin Juhl"], excerpt="Karin Juhl",
                     categories=[], first_seen=now, last_seen=now)
        session.add(hit)
        session.flush()
        hit_id = hit.id
    with services.sessions() as session:
        bundle = export_bundle(config, session, hit_id, tmp_path / "b.zip")
    with zipfile.ZipFile(bundle) as zf:
        assert sorted(zf.namelist()) == ["SHA256SUMS", "export.json", "report.html", "report.pdf"]
        report = zf.read("report.html").decode()
    assert "Der blev ikke gemt noget øjebliksbillede af siden (sikringen kan være mislykkedes)." in report
    assert "<th>Kategorier</th><td>ingen</td>" in report and "<th>Øjebliksbilleder</th><td>0</td>" in report
    assert "<th>Først set</th><td>2026-01-15 08:00:00 UTC<br>2026-01-15 09:00:00 CET (UTC+01:00)</td>" in report
    assert "Forbehold, som sikringen selv" not in report and "<h2>Begrænsninger</h2>" in report


def test_every_report_text_has_danish() -> None:
    """The template's texts, and what capture writes into the sealed record, all have Danish."""
    from vaern.crawler import capture, fullpage
    from vaern.storage import export
    from vaern.words import da as i18n
    from vaern.words.da import DA

    ACTIONS_DA = {_EN[k]: _DA[k] for k in _EN if k.startswith("capture.action.")}

    templates = Path(export.__file__).parent / "templates"
    used = set(re.findall(r"""\bt\(\s*"([^"]+)"\s*\)""", (templates / "report.html.j2").read_text()))
    assert len(used) > 40
    assert sorted(u for u in used if u not in DA and u not in i18n.DA) == []
    assert {p.name for p in templates.glob("report_*_da.html.j2")} == {"report_verify_da.html.j2",
                                                                        "report_limitations_da.html.j2"}
    assert {p.name for p in templates.glob("report_*_en.html.j2")} == {"report_verify_en.html.j2",
                                                                        "report_limitations_en.html.j2"}

    words = ReportWords("da")
    assert all(words.limitation(text) == (LIMITATIONS_DA[text], True) for text in LIMITATIONS)
    assert words.limitation("Something else.") == ("Something else.", False)
    # Every note capture can write (its f-strings, each placeholder filled) is rendered in Danish.
    source = Path(capture.__file__).read_text()
    notes = re.findall(r"""notes\.append\(f?"([^"]+)"\)""", source)
    assert len(notes) >= 5
    for note in notes:
        filled = re.sub(r"\{[^}]*\}", "7", note)
        danish, translated = words.note(filled)
        assert translated and danish != filled, note
    actions = set(re.findall(r""""(?:action|then)": "([^"]+)\"""", source + Path(fullpage.__file__).read_text()))
    assert actions and actions <= set(ACTIONS_DA)
    assert ReportWords("en").note("the moon was full") == ("the moon was full", True)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_bundle_replays_in_pywb_and_its_archives_pass_outside_checks(
    seeded: tuple[Config, int], tmp_path: Path
) -> None:
    """A third party's checks: warcio check on each WARC, wacz validate on the WACZ, and pywb
    replaying the page's URL without a timestamp shows the page that named the person."""
    import sys
    import time
    import urllib.request

    config, hit_id = seeded
    services = open_services(config)
    with services.sessions() as session:
        bundle = export_bundle(config, session, hit_id, tmp_path / "b.zip")
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(folder)
    bin_dir = Path(sys.executable).parent
    for warc in sorted(folder.glob("snapshots/*/capture.warc.gz")):
        check = subprocess.run([str(bin_dir / "warcio"), "check", "-v", str(warc)], capture_output=True, text=True)
        assert check.returncode == 0 and "digest pass" in check.stdout and "fail" not in check.stdout, check.stdout
    wacz = folder / "evidence.wacz"
    assert wacz.exists()
    with zipfile.ZipFile(wacz) as zf:
        assert zf.testzip() is None
        pages = [json.loads(line) for line in zf.read("pages/pages.jsonl").splitlines()]
        assert zf.read("archive/s-000001.warc.gz") == (folder / "snapshots/s-000001/capture.warc.gz").read_bytes()
    assert pages[0]["format"] == "json-pages-1.0" and [p["id"] for p in pages[1:]] == ["s-000001", "s-000002"]
    page_url = pages[-1]["url"]
    valid = subprocess.run([str(bin_dir / "wacz"), "validate", "-f", str(wacz)], capture_output=True, text=True)
    assert valid.returncode == 0, valid.stdout + valid.stderr

    root = tmp_path / "pywb"
    root.mkdir()
    subprocess.run([str(bin_dir / "wb-manager"), "init", "evidence"], cwd=root, check=True, capture_output=True)
    subprocess.run([str(bin_dir / "wb-manager"), "add", "--unpack-wacz", "evidence", str(wacz)], cwd=root, check=True,
                   capture_output=True)
    (root / "config.yaml").write_text("framed_replay: false\n")
    port = _free_port()
    server = subprocess.Popen([str(bin_dir / "wayback"), "-p", str(port), "-b", "127.0.0.1"], cwd=root,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        body = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/evidence/{page_url}", timeout=10) as reply:
                    body = reply.read().decode("utf-8", "replace")
                    content_type = reply.headers.get("Content-Type", "")
                break
            except OSError:
                time.sleep(0.5)
        assert "text/html" in content_type, content_type
        assert "René Rosenkilde lov at arbejde her? Han er en skam." in body, body[:500]
        assert '"format": "vaern-provenance/1"' not in body
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_bundle_can_be_checked_by_a_third_party_alone(
    make_config: Callable[..., Config], site: Site, tsa: LocalTsa, tmp_path: Path
) -> None:
    """Only the bundle and the TSA's root: sha256sum -c, openssl ts -verify on every token and on
    SHA256SUMS, the chain slice followed by hand, and a report.html that stands on its own."""
    import getpass
    import hashlib

    from sqlalchemy import select

    from vaern.storage.tables import AuditRow

    config = make_config(evidence={"tsa_urls": [tsa.url], "tsa_ca_files": [str(tsa.ca_file)],
                                   "settle_seconds": 0.3, "expand_steps": 2})
    hit_id = _seed(config, site)
    out = tmp_path / "bundle.zip"
    done = CliRunner().invoke(main, ["-c", str(config.source), "export", f"h-{hit_id:06d}", "-o", str(out)])
    assert done.exit_code == 0, done.output
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(out) as zf:
        zf.extractall(folder)
    root = tmp_path / "root.pem"  # what the investigator fetched from the TSA, nothing else of ours
    root.write_bytes(tsa.ca_file.read_bytes())

    def ts_verify(data: str, token: str, untrusted: str) -> None:
        proc = subprocess.run(["openssl", "ts", "-verify", "-data", data, "-in", token, "-CAfile", str(root),
                               "-untrusted", untrusted], cwd=folder, capture_output=True, text=True)
        assert "Verification: OK" in proc.stdout, (data, token, proc.stderr)

    assert subprocess.run(["unzip", "-tq", str(out)], capture_output=True).returncode == 0
    assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=folder).returncode == 0
    ts_verify("SHA256SUMS", "SHA256SUMS.tsr", "SHA256SUMS.pem")
    for sid in ("s-000001", "s-000002"):
        [token] = sorted((folder / "snapshots" / sid / "timestamps").glob("*.tsr"))
        ts_verify(f"snapshots/{sid}/manifest.json", str(token), str(token.with_suffix(".pem")))

    # The chain slice: entries with their manifests, linked by hash, up to a stamped head.
    lines = [json.loads(line) for line in (folder / "chain/chain.jsonl").read_text().splitlines()]
    assert [e["sequence"] for e in lines] == [1, 2] and [e["snapshot"] for e in lines] == ["s-000001", "s-000002"]
    manifests = sorted((folder / "chain/manifests").glob("*.json"))
    assert [m.name for m in manifests] == ["000001-s-000001.json", "000002-s-000002.json"]
    assert json.loads(manifests[1].read_bytes())["previous"]["sha256"] == \
        hashlib.sha256(manifests[0].read_bytes()).hexdigest()
    assert manifests[1].read_bytes() == (folder / "snapshots/s-000002/manifest.json").read_bytes()
    [head_token] = sorted((folder / "chain/anchors").glob("*.tsr"))
    ts_verify("chain/manifests/000002-s-000002.json", str(head_token), str(head_token.with_suffix(".pem")))

    # Who exported it: in the bundle and in the audit log, for the CLI too.
    info = json.loads((folder / "export.json").read_bytes())
    assert info["exported_by"].startswith(getpass.getuser()) and info["via"] == "vaern export"
    with open_services(config).sessions() as session:
        audit = session.scalars(select(AuditRow).where(AuditRow.action == "export")).all()
    assert [(a.username, a.hit_id, a.detail["via"]) for a in audit] == [(info["exported_by"], hit_id, "vaern export")]

    # The report names the TSA and its root, and needs nothing beside it.
    report = (folder / "report.html").read_text(encoding="utf-8")
    fingerprint = subprocess.run(["openssl", "x509", "-in", str(root), "-noout", "-fingerprint", "-sha256"],
                                 capture_output=True, text=True).stdout.split("=")[1].strip().replace(":", "").lower()
    assert tsa.url in report and "CN=Test TSA" in report and fingerprint in report
    assert "Eksporteret af" in report and info["exported_by"] in report
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "report.html").write_bytes((folder / "report.html").read_bytes())
    assert _requests_made_opening(alone / "report.html") == {"file"}  # every image shows, offline
