"""What the leader reads: links, deadline, next steps, thumbnail, both languages; header safety;
and the HTML part as Chromium renders it."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from sqlalchemy.orm import Session, sessionmaker

from tests.alerts.alert_factories import add_hit, add_run
from vaern.alerts.compose import Composer, load_evidence
from vaern.alerts.delivery import DeliveryReport, deliver
from vaern.alerts.dispatch import enqueue, hits_of
from vaern.config import Config
from vaern.storage.tables import AlertRow, HitRow, SnapshotRow
from vaern.testing.smtpsink import SmtpSink

NOW = datetime(2026, 11, 21, 14, 0)
POST = (
    "Hadeside – Indlæg af Vred Borger, 12. november 2026 kl. 14:03\n"
    "Hvorfor får René Rosenkilde lov at fjerne børn? Jeg ved hvor hun bor.\n"
)


def _snapshot(session: Session, config: Config, hit: HitRow, *, text: str = POST) -> None:
    """An evidence snapshot as the capture step stores it: a tall full-page PNG and the page text."""
    folder = Path(config.archive) / "snapshots" / f"s-{hit.id:06d}"
    folder.mkdir(parents=True)
    shot = Image.new("RGB", (1280, 9000), "white")
    draw = ImageDraw.Draw(shot)
    draw.rectangle((0, 0, 1280, 160), fill=(180, 20, 20))
    draw.rectangle((40, 220, 900, 600), fill=(30, 60, 160))
    shot.save(folder / "screenshot.png")
    (folder / "text.txt").write_text(text, encoding="utf-8")
    files = {
        kind: {
            "path": f"snapshots/s-{hit.id:06d}/{name}",
            "sha256": hashlib.sha256((folder / name).read_bytes()).hexdigest(),
        }
        for kind, name in (("screenshot", "screenshot.png"), ("text", "text.txt"))
    }
    session.add(
        SnapshotRow(
            page_id=hit.page_id,
            captured_at=hit.first_seen,
            reason="hit",
            manifest_path=f"snapshots/s-{hit.id:06d}/manifest.json",
            manifest_sha256="0" * 64,
            files=files,
        )
    )
    session.flush()


def _compose(
    sessions: sessionmaker[Session], config: Config, alert_id: int, now: datetime = NOW
) -> EmailMessage:
    with sessions() as s:
        alert = s.get(AlertRow, alert_id)
        assert alert is not None
        hits = hits_of(s, [alert_id])[alert_id]
        evidence = load_evidence(s, config, hits)
        return Composer(config).compose(alert, hits, evidence, now)


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    # Parts travel with CRLF line ends (RFC 5322); compare as text.
    return text.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")


def _one_threat(
    sessions: sessionmaker[Session], config: Config, *, snapshot: bool = True, **kw: object
) -> tuple[int, int]:
    with sessions() as s, s.begin():
        run = add_run(s)
        hit = add_hit(
            s,
            config,
            "rr",
            run_id=run.id,
            categories=["threat"],
            excerpt="… Hvorfor får René Rosenkilde lov at fjerne børn? Jeg ved hvor hun bor …",
            first_seen=datetime(2026, 11, 21, 13, 3, 11),
            **kw,  # type: ignore[arg-type]
        )
        if snapshot:
            _snapshot(s, config, hit)
        [alert, *_] = enqueue(s, config, [hit], "new_hit", run.id)
        return alert.id, hit.id


def test_danish_alert_says_who_where_when_what_to_do_and_by_when(
    config: Config, sessions: sessionmaker[Session]
) -> None:
    alert_id, hit_id = _one_threat(sessions, config)
    message = _compose(sessions, config, alert_id)
    text, html = _parts(message)
    ref = f"h-{hit_id:06d}"

    assert message["Subject"] == "Værn: René Rosenkilde nævnt på Hadeside (trussel)"
    assert message["To"] == "Lene Leder <lene.leder@kommune.example>"
    assert message["From"] == "Værn <vaern@kommune.example>"
    assert message["Message-ID"].startswith(f"<vaern.a-{alert_id:06d}.") and message["Message-ID"].endswith(
        "@kommune.example>"
    )
    assert "Kære Lene Leder" in text
    assert "René Rosenkilde (fagchef) – Børn og Familie" in text
    assert "Hvor: Hadeside – https://hadeside.example/post/" in text
    assert "Først set: 21. november 2026 kl. 14:03" in text
    assert "Art: trussel" in text
    assert "**René Rosenkilde**" in text
    assert f"Åbn fundet i Værn: http://127.0.0.1:8000/hits/{ref}" in text
    # The post's own date, 12 Nov 14:03 local, is earlier than first seen: 72 h from it.
    assert "Frist for politianmeldelse: søndag 15. november 2026 kl. 14:03 – Fristen er overskredet." in text
    assert "72 timer efter opslagets tidspunkt, som siden angiver: 12. november 2026 kl. 14:03." in text
    assert "Trussel: overvej at anmelde opslaget til politiet." in text
    assert "Tal med medarbejderen og tilbyd støtte." in text
    assert "Datatilsynet" not in text  # only the steps for this hit's categories

    assert f'href="http://127.0.0.1:8000/hits/{ref}"' in html
    assert '<mark style="background:#fde68a;font-weight:bold;">René Rosenkilde</mark>' in html
    cid = re.search(r'src="cid:([^"]+)"', html)
    assert cid is not None
    [image] = [p for p in message.walk() if p.get_content_type() == "image/jpeg"]
    assert image["Content-ID"] == f"<{cid.group(1)}>"
    thumb = Image.open(io.BytesIO(image.get_content()))
    assert thumb.format == "JPEG" and thumb.width == 480
    assert thumb.getpixel((10, 5))[0] > 150  # the red band at the top of the page


def test_english_alert(make_config: Callable[..., Config], sessions: sessionmaker[Session]) -> None:
    config = make_config(language="en")
    alert_id, hit_id = _one_threat(sessions, config)
    message = _compose(sessions, config, alert_id, now=datetime(2026, 11, 13, 9, 0))
    text, html = _parts(message)
    assert message["Subject"] == "Værn: René Rosenkilde named on Hadeside (threat)"
    assert "Dear Lene Leder" in text
    assert "First seen: 21 November 2026, 14:03" in text
    assert "Deadline for a police report: Sunday 15 November 2026, 14:03\n" in text
    assert "72 hours from the time the page gives for the post: 12 November 2026, 14:03." in text
    assert "Threat: consider reporting the post to the police." in text
    assert f"Open the hit in Værn: http://127.0.0.1:8000/hits/h-{hit_id:06d}" in text
    assert '<html lang="en">' in html


def test_without_a_date_on_the_page_the_deadline_counts_from_first_seen_and_says_so(
    config: Config, sessions: sessionmaker[Session]
) -> None:
    alert_id, _ = _one_threat(sessions, config, snapshot=False)
    with sessions() as s, s.begin():
        hit = s.get(HitRow, 1)
        assert hit is not None
        hit.excerpt = "… René Rosenkilde er en skam …"
    text, _ = _parts(_compose(sessions, config, alert_id))
    assert "Frist for politianmeldelse: tirsdag 24. november 2026 kl. 14:03\n" in text
    assert (
        "Siden viser ingen dato for opslaget, så fristen regnes fra det tidspunkt, Værn første gang så det "
        "(21. november 2026 kl. 14:03). Opslaget kan være ældre." in text
    )
    assert "cid:" not in _parts(_compose(sessions, config, alert_id))[1]  # no snapshot, no thumbnail


STEPS = {
    "threat": (
        "Trussel: overvej at anmelde opslaget til politiet",
        "Threat: consider reporting the post to the police",
    ),
    "private_info": ("Private oplysninger: klag til Datatilsynet", "Private data: complain to Datatilsynet"),
    "accusation": (
        "Beskyldning om en forbrydelse: overvej en politianmeldelse for ærekrænkelse",
        "Accusation of a crime: consider a police report for defamation",
    ),
    "insult": (
        "Grov fornærmelse: bed forfatteren eller platformen om at fjerne opslaget",
        "Gross insult: ask the author or the platform to take the post down",
    ),
    "criticism": (
        "Kritik er som regel lovlig og skal tåles",
        "Criticism is usually lawful and must be tolerated",
    ),
}


@pytest.mark.parametrize("language", ["da", "en"])
@pytest.mark.parametrize("category", sorted(STEPS))
def test_each_category_gets_its_next_step(
    make_config: Callable[..., Config], sessions: sessionmaker[Session], category: str, language: str
) -> None:
    config = make_config(language=language)
    with sessions() as s, s.begin():
        [alert, *_] = enqueue(s, config, [add_hit(s, config, "kj", categories=[category])], "new_hit", None)
    text, html = _parts(_compose(sessions, config, alert.id))
    wanted = STEPS[category][0 if language == "da" else 1]
    assert wanted in text and wanted in html
    others = [STEPS[c][0 if language == "da" else 1] for c in STEPS if c != category]
    assert not any(o in text for o in others)


def test_several_hits_in_one_email_and_the_other_kinds(
    config: Config, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s, s.begin():
        run = add_run(s)
        hits = [add_hit(s, config, p, run_id=run.id) for p in ("rr", "sm")]
        [alert, *_] = enqueue(s, config, hits, "new_hit", run.id)
        removed = enqueue(s, config, hits[:1], "removed", add_run(s).id)
        hits[0].removed_at = datetime(2026, 11, 22, 8, 0)
        maybe = add_hit(s, config, "kj", confidence="possible")
        from vaern.alerts.dispatch import queue_digest

        [digest] = queue_digest(s, config)
    message = _compose(sessions, config, alert.id)
    text, _ = _parts(message)
    assert message["Subject"] == "Værn: 2 nye fund om René Rosenkilde, Sofie Mikkelsen"
    assert text.count("Åbn fundet i Værn: http://127.0.0.1:8000/hits/h-") == 2
    gone = _compose(sessions, config, removed[0].id)
    assert gone["Subject"] == "Værn: siden om René Rosenkilde på Hadeside er fjernet"
    assert "Fjernet: 22. november 2026 kl. 09:00" in _parts(gone)[0]
    listing = _compose(sessions, config, digest.id)
    assert listing["Subject"] == "Værn: dagens oversigt – 1 mulige fund"
    assert listing["To"] == "analytiker@kommune.example"
    digest_text = _parts(listing)[0]
    assert f"/hits/h-{maybe.id:06d}" in digest_text and "mulig – bør tjekkes (score 80.0)" in digest_text


def test_cr_lf_in_names_and_titles_cannot_add_headers_or_recipients(
    make_config: Callable[..., Config], sessions: sessionmaker[Session], sink: SmtpSink
) -> None:
    evil = "Hadeside\r\nBcc: victim@evil.example\r\nX-Injected: yes"
    config = make_config(
        sites=[{"id": "hadeside", "name": evil, "start_urls": ["https://hadeside.example/"]}],
        units=[
            {
                "id": "job",
                "name": "Jobcenter",
                "leader": {"name": "Jens\r\nCc: also@evil.example", "email": "jens@kommune.example"},
            }
        ],
        people=[{"id": "kj", "name": "Karsten Juul", "unit": "job"}],
    )
    with sessions() as s, s.begin():
        hit = add_hit(
            s,
            config,
            "kj",
            title="Titel\nBcc: title@evil.example",
            excerpt="<script>alert(1)</script> Karsten Juul",
        )
        enqueue(s, config, [hit], "new_hit", None)
    assert deliver(config, sessions) == DeliveryReport(sent=1)
    [received] = sink.messages
    assert received.rcpt_tos == ("jens@kommune.example",)
    message = received.message
    assert message["Bcc"] is None and message["Cc"] is None and message["X-Injected"] is None
    assert (
        message["Subject"] == "Værn: Karsten Juul nævnt på Hadeside Bcc: victim@evil.example X-Injected: yes"
    )
    raw_headers = received.data.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in raw_headers and b"\r\nCc:" not in raw_headers
    _, html = _parts(message)
    assert "<script>" not in html and "&lt;script&gt;" in html


@pytest.mark.browser
def test_the_html_part_renders_in_chromium(
    config: Config, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    from vaern.crawler.browser import launch_options

    alert_id, _ = _one_threat(sessions, config)
    message = _compose(sessions, config, alert_id)
    _, html = _parts(message)
    # Mail clients resolve cid: from the message; for the browser inline them as data: URIs.
    for part in message.walk():
        if part.get_content_type() == "image/jpeg":
            cid = str(part["Content-ID"]).strip("<>")
            data = base64.b64encode(part.get_content()).decode()
            html = html.replace(f"cid:{cid}", f"data:image/jpeg;base64,{data}")
    with sync_playwright() as p:
        browser = p.chromium.launch(**launch_options(config.browser))
        try:
            page = browser.new_page(viewport={"width": 800, "height": 1200})
            page.set_content(html)
            page.wait_for_load_state("load")
            assert page.evaluate("document.images.length === 1 && document.images[0].naturalWidth === 480")
            png = page.screenshot(full_page=True)
        finally:
            browser.close()
    shot = Image.open(io.BytesIO(png)).convert("RGB")
    colours = shot.getcolors(maxcolors=1 << 20) or []
    background = max(colours)[1]
    painted = sum(n for n, c in colours if c != background)
    assert len(colours) > 50  # text, the banner, the thumbnail: not a blank page
    assert painted / (shot.width * shot.height) > 0.2


def test_a_relative_date_counts_from_when_the_page_was_fetched(
    config: Config, sessions: sessionmaker[Session]
) -> None:
    alert_id, _ = _one_threat(sessions, config, snapshot=False)
    with sessions() as s, s.begin():
        hit = s.get(HitRow, 1)
        assert hit is not None
        hit.excerpt = "Skrevet i går kl. 10:15 – René Rosenkilde er en skam"
    text, _ = _parts(_compose(sessions, config, alert_id))
    assert "Frist for politianmeldelse: mandag 23. november 2026 kl. 10:15\n" in text
    assert (
        "72 timer efter opslagets tidspunkt, 20. november 2026 kl. 10:15 (siden skrev »i går kl. 10:15«, "
        "da Værn hentede den)." in text
    )


@pytest.fixture
def database_url(tmp_path: Path, migrated_sqlite: Path) -> str:
    """The e-mail's content does not depend on the database: SQLite only."""
    import shutil

    target = tmp_path / "vaern.db"
    shutil.copyfile(migrated_sqlite, target)
    return f"sqlite:///{target}"
