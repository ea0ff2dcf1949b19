"""Logged-in sources, end to end with `vaern crawl`: a members-only forum behind a login form.

The session file's cookie lets Værn read the members' posts over HTTP and in Chromium (the
evidence is complete, so the browser was logged in too); the cookie value is found in no stored
artefact (archive files, WARC records decompressed, database, the command's output, the export
bundle); the other loopback host gets no session cookie (a redirect, a picture, a link). An expired
session marks the site `needs_login`, tells the admins once, and removes nothing. Both run on
SQLite and on PostgreSQL (`db_url`).
"""

from __future__ import annotations

import email
import email.policy
import gzip
import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from vaern.testing.membersite import MembersForum
from vaern.testing.siteserver import SiteServer
from vaern.testing.smtpsink import SmtpSink

REDACTED = b"[redacted by Vaern]"


def _vaern(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vaern", "-c", str(config), *args],
                          capture_output=True, text=True, timeout=300)


def _mails(directory: Path) -> list[Message]:
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted(directory.glob("*.eml"))]


def _readable(name: str, data: bytes) -> Iterator[bytes]:
    """A stored file's bytes, and those inside it: a gzip (WARC) decompressed, a zip's members."""
    yield data
    if data[:2] == b"\x1f\x8b":
        yield from _readable(name + "|gunzip", gzip.GzipFile(fileobj=io.BytesIO(data)).read())
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for member in zf.namelist():
                yield from _readable(f"{name}|{member}", zf.read(member))


@pytest.fixture
def forum(tmp_path: Path) -> Iterator[tuple[MembersForum, SiteServer, SiteServer]]:
    with SiteServer() as server, SiteServer(host="127.0.0.2") as elsewhere:
        yield MembersForum(server, elsewhere=elsewhere), server, elsewhere


def _config(make_config: Any, server: SiteServer, state: Path, smtp_port: int, render: str, db_url: str) -> Any:
    return make_config(
        database=db_url,
        smtp={"host": "127.0.0.1", "port": smtp_port, "sender": "Værn <vaern@testby.example>"},
        network={"allow_private_hosts": ["127.0.0.1", "127.0.0.2"]},
        alerts={"admins": ["it@testby.example"]},
        sites=[{"id": "forum", "name": "Testby Forum", "start_urls": [server.url("/")], "delay": 0,
                "autothrottle": False, "render": render, "session": str(state)}],
    )


@pytest.mark.parametrize("render", ["http", "browser"])
def test_a_members_only_forum_is_read_with_the_session_and_the_cookie_is_stored_nowhere(
    make_config: Any, forum: tuple[MembersForum, SiteServer, SiteServer], tmp_path: Path, render: str, db_url: str
) -> None:
    members, server, elsewhere = forum
    state = tmp_path / "forum-state.json"
    cookie = members.storage_state(state)
    with SmtpSink(eml_dir=tmp_path / "mail") as mailbox:
        config = _config(make_config, server, state, mailbox.port, render, db_url)
        crawled = _vaern(config.source, "crawl")
        assert crawled.returncode == 0, crawled.stdout + crawled.stderr
        hits = json.loads(_vaern(config.source, "hits", "--json").stdout)
        exported = _vaern(config.source, "export", "h-000001", "-o", str(tmp_path / "bundle.zip"))
        status = _vaern(config.source, "status", "--json")
    assert exported.returncode == 0, exported.stderr

    # Read as a member: the members' thread was matched and its evidence shows the post.
    assert [(h["person"], h["url"]) for h in hits] == [("rr", server.url("/thread/1"))]
    assert hits[0]["snapshots"] and hits[0]["snapshots"][0]["complete"] is True, hits[0]
    assert not any(r.route == "/login" for r in server.requests), server.paths()
    # The session went to the forum's host, and never to the other one.
    assert any(cookie in r.headers.get("Cookie", "") for r in server.requests)
    assert elsewhere.requests, "the redirect and the picture reached the other host"
    for request in elsewhere.requests:
        assert cookie not in json.dumps(request.headers), request
        assert "forum_sid" not in request.headers.get("Cookie", "")
    # The other site's cookie in the same export was never sent anywhere.
    assert not any("not-for-this-forum" in r.headers.get("Cookie", "") for r in server.requests)

    # Every stored artefact, inside its compressions: the value appears in none of them.
    artefacts: dict[str, bytes] = {f"archive/{p.relative_to(config.archive)}": p.read_bytes()
                                   for p in Path(config.archive).rglob("*") if p.is_file()}
    if config.database.startswith("sqlite:///"):  # the files themselves, free pages included
        database = Path(config.database.removeprefix("sqlite:///"))
        for extra in (database, database.with_name(database.name + "-wal")):
            if extra.exists():
                artefacts[extra.name] = extra.read_bytes()
    artefacts["database dump"] = _dump(config.database)
    artefacts["bundle.zip"] = (tmp_path / "bundle.zip").read_bytes()
    artefacts["crawl output"] = (crawled.stdout + crawled.stderr).encode()
    artefacts["status"] = status.stdout.encode()
    artefacts.update({f"mail {p.name}": p.read_bytes() for p in (tmp_path / "mail").glob("*.eml")})
    seen = 0
    for name, data in artefacts.items():
        for part in _readable(name, data):
            seen += 1
            assert cookie.encode() not in part, f"the session cookie is stored in {name}"
    assert seen > len(artefacts), "the WARC and the bundle were looked into"

    # The redaction is there and says so: the WARC's request headers, the provenance.
    files = hits[0]["snapshots"][0]["files"]
    warc = Path(config.archive) / files["warc"]["path"]
    records = gzip.GzipFile(fileobj=io.BytesIO(warc.read_bytes())).read()
    assert b"Cookie: " + REDACTED in records or b"cookie: " + REDACTED in records
    provenance = json.loads((Path(config.archive) / files["provenance"]["path"]).read_text(encoding="utf-8"))
    assert provenance["session"]["logged_in"] is True
    assert provenance["session"]["cookies"] == ["forum_sid"]
    assert provenance["session"]["headers_redacted"] >= 1


@pytest.mark.parametrize("render", ["http", "browser"])
def test_an_expired_session_marks_the_site_needs_login_tells_the_admins_once_and_removes_nothing(
    make_config: Any, forum: tuple[MembersForum, SiteServer, SiteServer], tmp_path: Path, render: str, db_url: str
) -> None:
    members, server, _elsewhere = forum
    state = tmp_path / "forum-state.json"
    members.storage_state(state)
    mail = tmp_path / "mail"
    with SmtpSink(eml_dir=mail) as mailbox:
        config = _config(make_config, server, state, mailbox.port, render, db_url)
        first = _vaern(config.source, "crawl")
        assert first.returncode == 0, first.stdout + first.stderr
        leaders_told = len(_mails(mail))
        assert leaders_told >= 1

        members.expire()
        second = _vaern(config.source, "crawl")
        third = _vaern(config.source, "crawl")
        status = json.loads(_vaern(config.source, "status", "--json").stdout)
        shown = _vaern(config.source, "status").stdout
        hits = json.loads(_vaern(config.source, "hits", "--json").stdout)
        told = [m for m in _mails(mail)[leaders_told:]]

        # Expired: the crawl says why (exit 1), the site is marked, the hit stays.
        assert second.returncode == 1 and "needs login" in second.stderr, second.stdout + second.stderr
        site = status["sites"][0]
        assert site["needs_login"] is not None
        assert "redirected to the login page" in site["needs_login"]["reason"]
        assert "needs_login since" in shown
        assert [h["status"] for h in hits] == ["new"] and hits[0]["removed_at"] is None
        # The admins once, not every run; nobody else.
        assert [m["To"] for m in told] == ["it@testby.example"], [m["Subject"] for m in told]
        assert told[0]["Subject"] == "Værn: Testby Forum kræver nyt login"
        assert third.returncode == 1
        assert "Kræver nyt login siden" in _sites_page(config)

        # A new session: the next crawl gets in again and the mark goes.
        members.storage_state(state)
        fourth = _vaern(config.source, "crawl")
        assert fourth.returncode == 0, fourth.stdout + fourth.stderr
        status = json.loads(_vaern(config.source, "status", "--json").stdout)
        assert status["sites"][0]["needs_login"] is None
        hits = json.loads(_vaern(config.source, "hits", "--json").stdout)
        assert [h["status"] for h in hits] == ["new"]


def test_login_session_saves_the_sites_cookies_after_a_login_in_the_browser(
    make_config: Any, forum: tuple[MembersForum, SiteServer, SiteServer], tmp_path: Path
) -> None:
    """`vaern login-session`'s export, with the person's login done by a script in the window."""
    from vaern.crawler.loginsession import NoSessionCookies, export_session
    from vaern.testing.membersite import PASSWORD

    members, server, _elsewhere = forum
    config = make_config(sites=[{"id": "forum", "start_urls": [server.url("/")]}])
    site = config.site("forum")

    def log_in(page: Any) -> None:
        page.fill("input[name=username]", "vaern-konto")
        page.fill("input[type=password]", PASSWORD)
        page.click("button")
        page.wait_for_url(server.url("/"))

    path = tmp_path / "saved" / "forum-state.json"
    assert export_session(config, site, path, log_in, headless=True) == ["forum_sid"]
    assert path.stat().st_mode & 0o777 == 0o600
    state = json.loads(path.read_text(encoding="utf-8"))
    assert [c["value"] for c in state["cookies"]] == [members.sessions[-1]]
    # The file is a session the crawler accepts, for this site.
    assert load_config_with_session(make_config, server, path).sites[0].session == path.resolve()

    with pytest.raises(NoSessionCookies, match="log in to the site in the window"):
        export_session(config, site, tmp_path / "none.json", lambda page: None, headless=True)
    assert not (tmp_path / "none.json").exists()


def _dump(database: str) -> bytes:
    """Every row of every table, as text (SQLite or PostgreSQL)."""
    from sqlalchemy import MetaData

    from vaern.storage.db import make_engine

    engine = make_engine(database)
    try:
        tables = MetaData()
        tables.reflect(engine)
        with engine.connect() as conn:
            rows = [f"{table.name}: {tuple(row)!r}" for table in tables.sorted_tables
                    for row in conn.execute(table.select())]
    finally:
        engine.dispose()
    assert any(r.startswith("hits: ") for r in rows), "the dump holds the database's rows"
    return "\n".join(rows).encode()


def load_config_with_session(make_config: Any, server: SiteServer, path: Path) -> Any:
    return make_config(sites=[{"id": "forum", "start_urls": [server.url("/")], "session": str(path)}])


def _sites_page(config: Any) -> str:
    """The review app's sites page as an admin sees it."""
    from tests.review.conftest import LiveServer, sign_in
    from vaern.review.auth import add_user
    from vaern.review.webapp import create_app
    from vaern.storage.db import make_engine, session_factory, transaction

    engine = make_engine(config.database)
    with transaction(session_factory(engine)) as db:
        add_user(db, config, "admin", "admin", [], "correct horse battery")
    engine.dispose()
    with LiveServer(create_app(config)) as live:
        client = sign_in(live.url, "admin", "correct horse battery")
        try:
            return client.get("/admin/sites").text
        finally:
            client.close()


def test_login_session_for_an_unknown_site_is_a_usage_error(make_config: Any) -> None:
    config = make_config(sites=[{"id": "forum", "start_urls": ["https://forum.example/"]}])
    result = _vaern(config.source, "login-session", "nope")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: no site 'nope' in the config (sites: forum)"
