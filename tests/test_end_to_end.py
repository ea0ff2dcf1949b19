"""From config to the leader's inbox: `vaern crawl` against a local site and a local SMTP server.

The right leaders get one e-mail each about their own people only, and a second crawl of the
unchanged site sends nothing.
"""

from __future__ import annotations

import email
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from vaern.testing.siteserver import SiteServer
from vaern.testing.smtpsink import SmtpSink

PAGES = {
    "index.html": '<a href="/a.html">a</a> <a href="/b.html">b</a> <a href="/c.html">c</a>',
    # Harsh enough for the leader to be told at once (alerts.policy: insults and worse).
    "a.html": "<p>Hvorfor får <b>René</b> Rosenkilde lov at behandle folk sådan? Han er en løgner.</p>",
    "b.html": "<p>Karin Juhl på jobcentret er en klam idiot.</p>",
    "c.html": "<p>Her står ingen navne, kun vejret.</p>",
}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "site"
    root.mkdir()
    for name, body in PAGES.items():
        (root / name).write_text(f"<!doctype html><meta charset=utf-8><title>{name}</title>{body}", encoding="utf-8")
    with SiteServer(root) as server:
        yield server.base_url


def _crawl(config_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaern", "-c", str(config_path), "crawl"], capture_output=True, text=True, timeout=240
    )


def _mails(directory: Path) -> list[Message]:
    return [email.message_from_bytes(p.read_bytes()) for p in sorted(directory.glob("*.eml"))]


def _body(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text/plain part")


def test_crawl_to_inbox_then_nothing_twice(make_config: Any, site: str, tmp_path: Path, db_url: str) -> None:
    with SmtpSink(eml_dir=tmp_path / "mail") as mailbox:
        config = make_config(
            database=db_url,
            smtp={"host": "127.0.0.1", "port": mailbox.port, "sender": "Værn <vaern@testby.example>"},
            sites=[{"id": "blog", "start_urls": [site + "/index.html"], "delay": 0, "autothrottle": False}],
            evidence={"capture": False},
        )
        first = _crawl(config.source)
        assert first.returncode == 0, first.stderr + first.stdout
        mails = _mails(tmp_path / "mail")
        by_recipient = {m["To"]: m for m in mails}
        # Børn og Familie's leader and its notify list hear about René; the Jobcenter's leader about Karin.
        assert sorted(by_recipient) == sorted(
            ["Lene Leder <lene@testby.example>", "Arne AMR <amr@testby.example>", "Jens Chef <jens@testby.example>"]
        ), [m["To"] for m in mails]
        assert len(mails) == 3
        lene = _body(by_recipient["Lene Leder <lene@testby.example>"])
        jens = _body(by_recipient["Jens Chef <jens@testby.example>"])
        assert "René Rosenkilde" in lene and "Karin Juhl" not in lene
        assert "Karin Juhl" in jens and "René Rosenkilde" not in jens
        assert f"{site}/a.html" in lene
        assert "2 new hits" in first.stdout or "3 sent" in first.stdout

        second = _crawl(config.source)
        assert second.returncode == 0, second.stderr + second.stdout
        assert len(_mails(tmp_path / "mail")) == 3
        assert "0 sent" in second.stdout


def test_a_page_that_sends_the_evidence_browser_inward_gets_no_internal_evidence(
    make_config: Any, tmp_path: Path, db_url: str
) -> None:
    """The page shows Scrapy a post naming René and answers Chromium with a redirect to an
    internal service (127.0.0.2). The hit is found and the leader told, but nothing internal is
    fetched, archived or e-mailed: the capture is refused and said to be missing."""
    mail = tmp_path / "mail"
    with SiteServer(host="127.0.0.2") as internal, SiteServer() as hostile, SmtpSink(eml_dir=mail) as mailbox:
        internal.set_page("/admin", "<p>INTERN HEMMELIGHED</p>")
        cloak = f"/_/cloak?say=Ren%C3%A9+Rosenkilde+er+en+idiot&to=http://127.0.0.2:{internal.port}/admin"
        hostile.set_page("/", f'<a href="{cloak}">opslag</a>')
        config = make_config(
            database=db_url,
            smtp={"host": "127.0.0.1", "port": mailbox.port, "sender": "Værn <vaern@testby.example>"},
            sites=[{"id": "blog", "start_urls": [hostile.url("/")], "delay": 0, "autothrottle": False,
                    "robots": "ignore"}],
        )
        result = _crawl(config.source)
        assert internal.requests == [], internal.paths()
    assert "1 new hits [ok]" in result.stderr, result.stdout + result.stderr
    assert "evidence capture" in result.stderr and "blocked: refused http://127.0.0.2" in result.stderr
    mails = _mails(tmp_path / "mail")
    assert mails, result.stdout + result.stderr
    for message in mails:
        for part in message.walk():
            payload = part.get_payload(decode=True)
            assert not (isinstance(payload, bytes) and b"HEMMELIGHED" in payload)
        assert not any(p.get_content_maintype() == "image" for p in message.walk()), "no thumbnail of anything"
    archived = [p for p in Path(config.archive).rglob("*") if p.is_file()]
    assert not any(b"HEMMELIGHED" in p.read_bytes() for p in archived)
    bundle = tmp_path / "bundle.zip"
    exported = subprocess.run([sys.executable, "-m", "vaern", "-c", str(config.source), "export", "h-000001",
                               "-o", str(bundle)], capture_output=True, text=True, timeout=240)
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(bundle) as zf:
        assert not any(b"HEMMELIGHED" in zf.read(name) for name in zf.namelist())
        assert any(name.endswith(".pdf") for name in zf.namelist())  # the printed report
