"""Sign-in, sessions, CSRF, throttling, the audit log, and `vaern user add`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select

from tests.review.conftest import LiveServer, csrf_of, ref, sign_in
from tests.review.seeding import PASSWORD, World, make_config
from vaern.review.auth import AccountError, add_user
from vaern.review.webapp import create_app
from vaern.storage.db import make_engine, migrate, session_factory, transaction
from vaern.storage.tables import AuditRow, LoginSessionRow, UserRow


def _audit(world: World) -> list[AuditRow]:
    engine = make_engine(world.config.database)
    try:
        with session_factory(engine)() as db:
            return list(db.scalars(select(AuditRow).order_by(AuditRow.id)))
    finally:
        engine.dispose()


def test_healthz_and_anonymous_visitors_are_sent_to_sign_in(live: LiveServer, world: World) -> None:
    with httpx.Client(base_url=live.url) as c:
        health = c.get("/healthz")
        assert (health.status_code, health.text) == (200, "ok")
        to_login = c.get(f"/hits/{ref(world.hits['a_threat'])}", follow_redirects=False)
        assert to_login.status_code == 303
        assert to_login.headers["location"] == f"/login?next=%2Fhits%2F{ref(world.hits['a_threat'])}"
        api = c.get("/api/hits", follow_redirects=False)
        assert api.status_code == 401 and api.json() == {"error": "sign in first"}


def test_sign_in_sets_a_strict_cookie_and_sign_out_ends_the_session(live: LiveServer, world: World) -> None:
    with httpx.Client(base_url=live.url, follow_redirects=False, timeout=120) as c:
        form = c.get("/login")
        assert 'name="username"' in form.text and 'name="password"' in form.text
        ok = c.post("/login", data={"username": "lene", "password": PASSWORD, "csrf": csrf_of(form.text),
                                    "next": f"/hits/{ref(world.hits['a_threat'])}"})
        assert ok.status_code == 303 and ok.headers["location"] == f"/hits/{ref(world.hits['a_threat'])}"
        cookie = next(v for v in ok.headers.get_list("set-cookie") if v.startswith("vaern_session="))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
        token = c.cookies["vaern_session"]
        page = c.get("/hits")
        assert page.status_code == 200
        out = c.post("/logout", data={"csrf": csrf_of(page.text)})
        assert out.status_code == 303
    # The old cookie no longer signs anyone in.
    with httpx.Client(base_url=live.url, follow_redirects=False, cookies={"vaern_session": token}) as stale:
        assert stale.get("/hits").status_code == 303


def test_cookies_are_secure_when_served_over_https(world: World) -> None:
    config = world.config.model_copy(update={"review_url": "https://vaern.kommune.example"})
    with LiveServer(create_app(config)) as server, httpx.Client(base_url=server.url, follow_redirects=False) as c:
        form = c.get("/login")
        assert "Secure" in form.headers["set-cookie"]
        assert form.headers["strict-transport-security"].startswith("max-age=")


def test_next_never_leads_off_the_site(live: LiveServer) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        with httpx.Client(base_url=live.url, follow_redirects=False, timeout=120) as c:
            form = c.get("/login")
            r = c.post("/login", data={"username": "admin", "password": PASSWORD, "csrf": csrf_of(form.text),
                                       "next": target})
            assert r.headers["location"] == "/hits"


def test_posts_without_the_right_csrf_token_are_refused(
    live: LiveServer, world: World, client_as: Callable[[str], httpx.Client]
) -> None:
    analyst = client_as("analytiker")
    hit = ref(world.hits["a_possible"])
    good = csrf_of(analyst.get(f"/hits/{hit}").text)
    for data in ({"status": "confirmed"}, {"status": "confirmed", "csrf": ""},
                 {"status": "confirmed", "csrf": "x" * 43}):
        refused = analyst.post(f"/hits/{hit}/decision", data=data)
        assert refused.status_code == 403
    assert analyst.get(f"/api/hits/{hit}").json()["status"] == "new"
    # Another user's token does not work either.
    other = csrf_of(client_as("admin").get(f"/hits/{hit}").text)
    assert analyst.post(f"/hits/{hit}/notes", data={"text": "x", "csrf": other}).status_code == 403
    assert analyst.post(f"/hits/{hit}/notes", data={"text": "x", "csrf": good}).status_code == 303
    # Sign-in itself needs the token from the form (its cookie), so no other site can sign you in.
    with httpx.Client(base_url=live.url, follow_redirects=False, timeout=120) as c:
        r = c.post("/login", data={"username": "admin", "password": PASSWORD})
        assert r.status_code == 403
        c.get("/login")
        r = c.post("/login", data={"username": "admin", "password": PASSWORD, "csrf": "forged"})
        assert r.status_code == 403 and "vaern_session" not in c.cookies


def test_sign_in_is_throttled_after_repeated_failures(live: LiveServer, world: World) -> None:
    limit = world.config.review.login_max_failures
    with httpx.Client(base_url=live.url, follow_redirects=False, timeout=120) as c:
        token = csrf_of(c.get("/login").text)
        for _ in range(limit):
            wrong = c.post("/login", data={"username": "jens", "password": "wrong password", "csrf": token})
            assert wrong.status_code == 401
        # Now even the right password is refused, with a plain message and no session.
        blocked = c.post("/login", data={"username": "jens", "password": PASSWORD, "csrf": token})
        assert blocked.status_code == 429 and "vaern_session" not in c.cookies
        assert "For mange mislykkede login" in blocked.text
    actions = [(a.action, a.username) for a in _audit(world)]
    assert actions.count(("login_failed", "jens")) == limit
    assert ("login_throttled", "jens") in actions
    # Another account is not locked by it.
    sign_in(live.url, "admin").close()


def test_the_audit_log_records_views_exports_and_changes_and_only_admins_read_it(
    world: World, client_as: Callable[[str], httpx.Client]
) -> None:
    analyst = client_as("analytiker")
    hit = ref(world.hits["a_xss"])
    page = analyst.get(f"/hits/{hit}")
    shot = page.text.split('src="/hits/')[1].split('"')[0]
    assert analyst.get(f"/hits/{shot}").status_code == 200
    analyst.post(f"/hits/{hit}/notes", data={"text": "Talt med medarbejderen", "csrf": csrf_of(page.text)})
    analyst.get(f"/hits/{hit}/export")
    entries = [(a.username, a.action, a.hit_id) for a in _audit(world)]
    hit_id = world.hits["a_xss"]
    for action in ("view_hit", "view_screenshot", "note", "export"):
        assert ("analytiker", action, hit_id) in entries, action
    log = client_as("admin").get("/admin/audit", params={"hit": hit})
    assert log.status_code == 200
    assert "view_hit" in log.text and "analytiker" in log.text and "export" in log.text


def test_user_add_checks_role_units_and_password(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    engine = make_engine(config.database)
    migrate(engine)
    factory = session_factory(engine)
    cases = [
        (("eve", "root", [], PASSWORD), "role must be one of"),
        (("eve", "leader", [], PASSWORD), "a leader needs at least one --unit"),
        (("eve", "leader", ["nowhere"], PASSWORD), "unknown unit(s) nowhere"),
        (("eve", "analyst", [], "short"), "at least 8 characters"),
        (("e ve", "analyst", [], PASSWORD), "not a usable user name"),
    ]
    for args, message in cases:
        with pytest.raises(AccountError, match=message.replace("(", r"\(").replace(")", r"\)")):
            with transaction(factory) as db:
                add_user(db, config, *args)
    with transaction(factory) as db:
        user = add_user(db, config, "eve", "leader", ["jobcenter"], PASSWORD)
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    with pytest.raises(AccountError, match="already exists"):
        with transaction(factory) as db:
            add_user(db, config, "eve", "analyst", [], PASSWORD)
    engine.dispose()


def test_vaern_user_add_command(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from vaern.cli import main

    config_file = tmp_path / "vaern.yaml"
    data = make_config(tmp_path).model_dump(mode="json", exclude={"source"})
    data["database"] = "sqlite:///vaern.db"  # relative to the config file, as users write it
    data["archive"] = "archive"
    config_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    def vaern(*args: str, stdin: str | None = None) -> Any:
        return CliRunner().invoke(main, ["-c", str(config_file), *args], input=stdin, env={"NEW_PW": PASSWORD})

    ok = vaern("user", "add", "lise", "--role", "leader", "--unit", "jobcenter", "--password-env", "NEW_PW")
    assert ok.exit_code == 0, ok.output
    assert "lise" in ok.stdout
    prompted = vaern("user", "add", "otto", "--role", "analyst", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert prompted.exit_code == 0, prompted.output
    bad = vaern("user", "add", "lise2", "--role", "leader", "--unit", "mars", "--password-env", "NEW_PW")
    assert bad.exit_code == 2 and "unknown unit(s) mars" in bad.stderr
    unset = vaern("user", "add", "lise3", "--role", "analyst", "--password-env", "NOT_SET_ANYWHERE")
    assert unset.exit_code == 2 and "NOT_SET_ANYWHERE" in unset.stderr
    engine = make_engine(f"sqlite:///{tmp_path / 'vaern.db'}")
    with session_factory(engine)() as db:
        users = {u.username: u for u in db.scalars(select(UserRow))}
        assert set(users) == {"lise", "otto"}
        assert users["lise"].role == "leader" and users["lise"].units == ["jobcenter"]
        assert users["otto"].role == "analyst" and users["otto"].units == []
        assert db.scalar(select(LoginSessionRow)) is None
    engine.dispose()
