"""A members-only fixture forum: routes of a `SiteServer` behind a login form and a session cookie.

Anyone without a valid session is sent to `/login?next=…` (a form with a password field); a POST
there with the right password sets the `forum_sid` cookie (a fresh random value) and goes back.
Members see the front page (a list of threads), the threads, whose posts name a watched person, and
`/feed/`, an RSS feed of the threads; `add_thread(title, text)` publishes one more. The thread page
also loads a picture from, and links to, the `elsewhere` server (another loopback host), so a test
can prove that session cookies never go there.

A session is valid until `expire()` (what an expiring cookie does to a dedicated account), or until
it is older than `lifetime` seconds when one is given. `storage_state(path)` writes a Playwright
storage-state file holding a fresh session, as `playwright codegen --save-storage` would after
logging in; `sessions` are the values handed out, for tests that grep for them.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
from pathlib import Path
from urllib.parse import quote

from vaern.testing.siteserver import Exchange, SiteServer

COOKIE = "forum_sid"
PASSWORD = "medlem-1234"

THREADS = {
    "1": ("Sagsbehandlere i Testby", "René Rosenkilde er en løgner og en idiot, han har ødelagt min familie."),
    "2": ("Vejret i weekenden", "Det bliver regn igen. Ingen navne her."),
}


class MembersForum:
    """Mount on a `SiteServer`: `MembersForum(server, elsewhere=other_server)`."""

    def __init__(
        self, server: SiteServer, *, elsewhere: SiteServer | None = None, lifetime: float | None = None
    ) -> None:
        self.server = server
        self.elsewhere = elsewhere
        self.lifetime = lifetime
        self._valid: dict[str, float] = {}  # session value -> when it was handed out
        self._lock = threading.Lock()
        self.sessions: list[str] = []
        self.threads = dict(THREADS)
        server.route("/", self._front)
        server.route("/feed/", self._feed)
        server.route("/login", self._login)
        server.route("/thread/", self._thread, prefix=True)
        server.route("/ud", self._out)
        if elsewhere is not None:
            elsewhere.set_page("/andet", "<!doctype html><title>Andet sted</title><p>En anden side.</p>")
        server.route("/robots.txt", lambda ex: ex.send(200, "User-agent: *\nAllow: /\n", "text/plain"))

    def add_thread(self, title: str, text: str) -> str:
        """Publish a thread (the front page and the feed list it at once); its URL."""
        with self._lock:
            number = str(len(self.threads) + 1)
            self.threads[number] = (title, text)
        return self.server.url(f"/thread/{number}")

    # -- sessions ------------------------------------------------------------------------------

    def new_session(self) -> str:
        value = secrets.token_urlsafe(24)
        with self._lock:
            self._valid[value] = time.monotonic()
            self.sessions.append(value)
        return value

    def expire(self) -> None:
        """Every session handed out so far stops working (the account's cookie expired)."""
        with self._lock:
            self._valid.clear()

    def storage_state(self, path: Path) -> str:
        """Write a Playwright storage-state file with a fresh session; returns its cookie value."""
        value = self.new_session()
        state = {
            "cookies": [
                {"name": COOKIE, "value": value, "domain": self.server.host, "path": "/", "expires": -1,
                 "httpOnly": True, "secure": False, "sameSite": "Lax"},
                # A cookie of another site in the same export: it must never be used.
                {"name": "other_site", "value": "not-for-this-forum", "domain": "social.example", "path": "/",
                 "expires": -1, "httpOnly": False, "secure": True, "sameSite": "None"},
            ],
            "origins": [],
        }
        path.write_text(json.dumps(state, indent=2), encoding="utf-8")
        return value

    def _member(self, ex: Exchange) -> bool:
        cookies = dict(
            part.strip().split("=", 1) for part in ex.headers.get("Cookie", "").split(";") if "=" in part
        )
        value = cookies.get(COOKIE)
        with self._lock:
            since = self._valid.get(value or "")
        return since is not None and (self.lifetime is None or time.monotonic() - since < self.lifetime)

    # -- pages ---------------------------------------------------------------------------------

    def _page(self, title: str, body: str) -> str:
        head = f"<!doctype html><html lang=da><head><meta charset=utf-8><title>{html.escape(title)}</title></head>"
        nav = "<header><a href='/'>Testby Forum</a> · <a href='/login'>Log ind</a></header>"
        return f"{head}<body>{nav}{body}</body></html>"

    def _to_login(self, ex: Exchange) -> None:
        ex.redirect(f"/login?next={quote(ex.path)}")

    def _front(self, ex: Exchange) -> None:
        if not self._member(ex):
            self._to_login(ex)
            return
        items = "".join(f"<li><a href='/thread/{n}'>{html.escape(t)}</a></li>"
                        for n, (t, _b) in list(self.threads.items()))
        out = "<p><a href='/ud'>Et link ud af forummet</a></p>" if self.elsewhere is not None else ""
        ex.send(200, self._page("Testby Forum", f"<h1>Tråde for medlemmer</h1><ul>{items}</ul>{out}"))

    def _out(self, ex: Exchange) -> None:
        """A link that leaves the forum by a redirect to the other host."""
        assert self.elsewhere is not None
        ex.redirect(self.elsewhere.url("/andet"))

    def _thread(self, ex: Exchange) -> None:
        number = ex.route.rsplit("/", 1)[-1]
        if number not in self.threads:
            ex.send(404, self._page("Ikke fundet", "<p>Ingen sådan tråd.</p>"))
            return
        if not self._member(ex):
            self._to_login(ex)
            return
        title, text = self.threads[number]
        extra = ""
        if self.elsewhere is not None:
            extra = (f"<p><img src='{self.elsewhere.url('/_/image.png')}' alt='billede'> "
                     f"<a href='{self.elsewhere.url('/andet')}'>Mere et andet sted</a></p>")
        ex.send(200, self._page(title, f"<article class='post'><h1>{html.escape(title)}</h1>"
                                       f"<p>{html.escape(text)}</p></article>{extra}"))

    def _feed(self, ex: Exchange) -> None:
        """RSS 2.0 of the threads, newest first: members only, like the threads."""
        if not self._member(ex):
            self._to_login(ex)
            return
        items = "".join(
            f"<item><title>{html.escape(t)}</title><link>{self.server.url(f'/thread/{n}')}</link>"
            f"<guid>{self.server.url(f'/thread/{n}')}</guid></item>"
            for n, (t, _b) in reversed(list(self.threads.items()))
        )
        ex.send(200, f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Testby Forum"
                     f"</title><link>{self.server.url('/')}</link>{items}</channel></rss>", "application/rss+xml")

    def _login(self, ex: Exchange) -> None:
        if ex.method == "POST":
            form = dict(part.split("=", 1) for part in ex.body.decode().split("&") if "=" in part)
            if form.get("password") == PASSWORD:
                value = self.new_session()
                ex.send(303, "", headers={"Location": "/", "Set-Cookie": f"{COOKIE}={value}; Path=/; HttpOnly"})
                return
        ex.send(200, self._page("Log ind", "<form method=post action='/login'><input name=username>"
                                          "<input type=password name=password><button>Log ind</button></form>"))
