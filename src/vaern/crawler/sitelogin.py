"""A logged-in source: the site's session cookies, kept to the site's own hosts and out of every record.

Controlled by `sites[].session`: a Playwright storage-state file (JSON, as `playwright codegen
--save-storage=FILE` or `vaern login-session` writes it) exported from the browser of the
workplace's dedicated account. `SiteLogin.load(path, hosts)` reads its cookies and keeps only
those whose domain covers one of the site's hosts (the hosts of its start URLs); cookies of other
sites in the same file are dropped.

The rules this module holds for both fetch paths (the Scrapy HTTP path in spider.py, the browser
in browser.py and render.py):

- **Only to the site's hosts.** A session cookie goes only to a request whose host is one of the
  site's hosts, exactly: not to a subdomain, not to a redirect or sub-resource on another host
  (the browser gets the cookies host-only, so Chromium itself keeps them to those hosts).
- **Never in a record.** A header carrying a session cookie (`Cookie`, `Set-Cookie`) is replaced
  by `REDACTED` wherever Værn writes headers down (the WARC, the provenance, the page row), and
  the capture's provenance says what was redacted (`session` in provenance.json).
- **Expiry is seen, not guessed.** `login_wall` says why a response shows that the session no
  longer works: 401/403, a redirect to a login page, or a page with a password field. The crawl
  then stops and marks the site `needs_login`; nothing it would have reported counts as removal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from vaern.config import Site
from vaern.config.sessionfile import SessionCookie, SessionFileError, read_cookies
from vaern.crawler.linkpolicy import trap_reason

__all__ = ["REDACTED", "SessionCookie", "SessionFileError", "SiteLogin", "login_of", "login_wall", "site_hosts"]

# ASCII: header values are Latin-1 on the wire and warcio percent-encodes anything else.
REDACTED = "[redacted by Vaern]"
_COOKIE_HEADERS = ("cookie", "set-cookie")
_PASSWORD_FIELD = re.compile(r"<input[^>]*type\s*=\s*[\"']?password", re.IGNORECASE)


@dataclass(frozen=True)
class SiteLogin:
    """The session cookies of one site, for its hosts only."""

    hosts: tuple[str, ...]
    cookies: tuple[SessionCookie, ...]
    source: str = ""

    @classmethod
    def load(cls, path: Path, hosts: Iterable[str]) -> SiteLogin:
        """Read a storage-state file; raise SessionFileError naming what is wrong."""
        hosts = tuple(dict.fromkeys(h.lower() for h in hosts))
        return cls(hosts, tuple(c for c in read_cookies(path) if any(c.covers(h) for h in hosts)), str(path))

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(c.value for c in self.cookies if c.value)

    def applies_to(self, url: str) -> bool:
        return (urlsplit(url).hostname or "").lower() in self.hosts

    def cookie_header(self, url: str) -> str | None:
        """The `Cookie` value for a request to `url`, or None: not one of the site's hosts."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if host not in self.hosts:
            return None
        path = parts.path or "/"
        sent = [f"{c.name}={c.value}" for c in self.cookies
                if c.covers(host) and path.startswith(c.path) and (parts.scheme == "https" or not c.secure)]
        return "; ".join(sent) or None

    def browser_cookies(self) -> list[dict[str, Any]]:
        """The cookies for Playwright's `context.add_cookies`: host-only, one per site host, so
        Chromium sends them to that host alone (a `domain` cookie would also go to subdomains)."""
        out: list[dict[str, Any]] = []
        for host in self.hosts:
            for c in self.cookies:
                if not c.covers(host):
                    continue
                scheme = "https" if c.secure else "http"
                cookie: dict[str, Any] = {"name": c.name, "value": c.value, "url": f"{scheme}://{host}{c.path}",
                                          "secure": c.secure, "httpOnly": c.http_only}
                if c.expires > 0:
                    cookie["expires"] = c.expires
                out.append(cookie)
        return out

    def carries_secret(self, value: str) -> bool:
        return any(secret in value for secret in self.secrets)

    def redact_pairs(self, headers: Sequence[tuple[str, str]]) -> tuple[list[tuple[str, str]], int]:
        """Headers as they may be written down, and how many were redacted: every `Cookie` and
        `Set-Cookie` (a cookie header of a logged-in site is the session or rides with it), and
        any other header that carries a session cookie's value."""
        out, redacted = [], 0
        for name, value in headers:
            if name.lower() in _COOKIE_HEADERS or self.carries_secret(value):
                out.append((name, REDACTED))
                redacted += 1
            else:
                out.append((name, value))
        return out, redacted

    def redact_mapping(self, headers: Mapping[str, str]) -> dict[str, str]:
        return dict(self.redact_pairs(list(headers.items()))[0])

    def provenance(self, redacted: int) -> dict[str, Any]:
        """What a capture's provenance says about the session (never the cookies themselves)."""
        return {
            "logged_in": True,
            "cookies": sorted({c.name for c in self.cookies}),
            "hosts": list(self.hosts),
            "headers_redacted": redacted,
            "redaction": f"Cookie and Set-Cookie headers, and any header carrying a session cookie's value, "
                         f"were replaced by '{REDACTED}' in the WARC and this provenance",
        }


def login_wall(status: int, url: str, redirected: bool, html: str | bytes | None) -> str | None:
    """Why a response of a logged-in site shows that its session no longer works, or None."""
    if status in (401, 403):
        return f"HTTP {status} at {url}"
    if redirected and trap_reason(url) == "login":
        return f"redirected to the login page {url}"
    if html is not None:
        text = html.decode("utf-8", "replace") if isinstance(html, bytes) else html
        if _PASSWORD_FIELD.search(text):
            return f"a login form at {url}"
    return None


def login_of(site: Site) -> SiteLogin | None:
    """The site's login session, or None for an anonymous site."""
    return SiteLogin.load(site.session, site_hosts(site.start_urls)) if site.session is not None else None


def site_hosts(start_urls: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((urlsplit(u).hostname or "").lower() for u in start_urls if urlsplit(u).hostname))


class SessionCookieMiddleware:
    """Scrapy downloader middleware, after Scrapy's own cookie middleware (700): a request to one
    of a logged-in site's hosts carries the session cookies (beside any the site set during the
    crawl); a request to any other host, a redirect target included, carries none of them."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> SessionCookieMiddleware:
        return cls(crawler)

    def process_request(self, request: Any) -> None:
        login: SiteLogin | None = getattr(self.crawler.spider, "login", None)
        if login is None:
            return
        sent = request.headers.get(b"Cookie")
        others = [part.strip() for part in sent.decode("latin-1").split(";") if part.strip()] if sent else []
        ours = login.cookie_header(request.url)
        if ours is None:
            kept = [part for part in others if not login.carries_secret(part)]
        else:
            names = {c.split("=", 1)[0] for c in ours.split("; ")}
            kept = [ours, *(part for part in others if part.split("=", 1)[0] not in names)]
        if kept:
            request.headers[b"Cookie"] = "; ".join(kept).encode("latin-1", "replace")
        else:
            request.headers.pop(b"Cookie", None)
