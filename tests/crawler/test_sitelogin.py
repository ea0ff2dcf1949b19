"""A site's login session: its cookies go to the site's own hosts only, and are redacted from
every header Værn writes down; what counts as an expired session."""

from __future__ import annotations

import json
from pathlib import Path

from vaern.crawler.sitelogin import REDACTED, SiteLogin, login_wall


def _login(tmp_path: Path, *cookies: dict[str, object], hosts: tuple[str, ...] = ("forum.example",)) -> SiteLogin:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"cookies": list(cookies), "origins": []}), encoding="utf-8")
    return SiteLogin.load(path, hosts)


SID = {"name": "sid", "value": "s3cret-value", "domain": ".forum.example", "path": "/"}


def test_cookies_go_to_the_sites_hosts_only(tmp_path: Path) -> None:
    login = _login(tmp_path, SID,
                   {"name": "pref", "value": "dark", "domain": "forum.example", "path": "/members"},
                   {"name": "tok", "value": "https-only", "domain": "forum.example", "secure": True},
                   {"name": "other", "value": "not-ours", "domain": "social.example"})
    assert [c.name for c in login.cookies] == ["sid", "pref", "tok"]  # another site's cookie is dropped
    assert login.cookie_header("http://forum.example/t/1") == "sid=s3cret-value"
    assert login.cookie_header("https://forum.example/members/x") == "sid=s3cret-value; pref=dark; tok=https-only"
    # Not a subdomain (a domain cookie would go there in a browser), not another host, not another port's host.
    assert login.cookie_header("http://cdn.forum.example/a.png") is None
    assert login.cookie_header("http://forum.example.evil.test/") is None
    assert login.cookie_header("http://127.0.0.2/") is None
    # For Chromium: host-only (a `url`, no `domain`), one per site host.
    browser = login.browser_cookies()
    assert {c["url"] for c in browser} == {"http://forum.example/", "http://forum.example/members",
                                           "https://forum.example/"}
    assert not any("domain" in c for c in browser)


def test_headers_carrying_the_session_are_redacted(tmp_path: Path) -> None:
    login = _login(tmp_path, SID)
    headers = [("Cookie", "sid=s3cret-value; theme=x"), ("Set-Cookie", "consent=1"),
               ("X-Debug", "session s3cret-value seen"), ("Accept", "text/html")]
    redacted, count = login.redact_pairs(headers)
    assert redacted == [("Cookie", REDACTED), ("Set-Cookie", REDACTED), ("X-Debug", REDACTED),
                        ("Accept", "text/html")]
    assert count == 3
    assert login.redact_mapping({"set-cookie": "sid=new"}) == {"set-cookie": REDACTED}
    told = login.provenance(count)
    assert told["cookies"] == ["sid"] and told["headers_redacted"] == 3 and "s3cret" not in json.dumps(told)


def test_what_an_expired_session_looks_like() -> None:
    assert login_wall(401, "https://forum.example/t/1", False, None) == "HTTP 401 at https://forum.example/t/1"
    assert login_wall(403, "https://forum.example/t/1", False, b"") == "HTTP 403 at https://forum.example/t/1"
    assert login_wall(200, "https://forum.example/login?next=/t/1", True, b"<p>hi</p>") == (
        "redirected to the login page https://forum.example/login?next=/t/1")
    assert login_wall(200, "https://forum.example/t/1", False, b"<form><input type='password'></form>") == (
        "a login form at https://forum.example/t/1")
    # A member's page, a page reached by a redirect that is not a login, a 404: not expiry.
    assert login_wall(200, "https://forum.example/t/1", False, "<p>René</p>".encode()) is None
    assert login_wall(200, "https://forum.example/t/2", True, b"<p>moved</p>") is None
    assert login_wall(404, "https://forum.example/t/9", False, None) is None
