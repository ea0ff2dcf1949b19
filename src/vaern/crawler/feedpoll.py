"""Polling a site's feeds: fetch each one conditionally through the SSRF guard, read what it lists
(crawler/feeds.py), and find the feeds of a site that has none configured.

Used by a feed run (app.py `run_crawl`, a run of kind "feed"): what is new there is then crawled
through the normal pipeline, like any crawled page. The database side (validators remembered
across polls, entries already seen) is storage/feeds.py.

- `fetch(url, guard, ...)`: one GET with If-None-Match / If-Modified-Since from the last poll;
  every hop (redirects included, at most `MAX_REDIRECTS`) is judged by the guard and the
  connection goes to the very address it judged; the body is read up to `MAX_FEED_BYTES`.
- `poll(...)`: each feed it is given (app.py leaves out sitemaps polled in the last 30 minutes,
  storage/feeds.py `due`) in turn; a feed that fails (refused, unreachable, an error status,
  malformed, too large) is a failure of that feed, with its reason; the others go on. A sitemap
  index's sitemaps, and the comment feeds a post feed names (`wfw:commentRss`, where the site has
  no comment feed of its own), are polled too, up to `MAX_FEEDS` in all.
- `detect(...)`: `<link rel=alternate>` in the start pages, robots.txt `Sitemap:` lines, and
  the usual places (`/feed/`, `/comments/feed/`, `/sitemap.xml`), each kept only if it reads as
  a feed; with `robots: obey`, feeds robots.txt disallows are left out.

A logged-in site (`sites[].session`, crawler/sitelogin.py) is polled as it is crawled: each hop
to one of the site's hosts carries its session cookies, a hop to any other host (a feed elsewhere,
a redirect away) none; nothing here writes a header down. A login wall on a poll (401/403, a
redirect to a login page, a login form) raises `LoginWall`: the poll stops there and the feed run
marks the site `needs_login` as a crawl does, and counts nothing as removed.

Controlled by `sites[].feeds` (urls, every, detect, max_new), `sites[].robots`, `sites[].timeout`,
`sites[].user_agent`, `sites[].session` and `network.allow_private_hosts`.
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

from vaern.config import Config, Site
from vaern.crawler.feeds import (
    MAX_FEED_BYTES,
    FeedEntry,
    FeedError,
    feeds_in_html,
    parse_feed,
    site_root,
    sitemaps_in_robots,
    usual_places,
)
from vaern.crawler.netguard import NetGuard
from vaern.crawler.settings import user_agent
from vaern.crawler.sitelogin import SiteLogin, login_wall
from vaern.errors import BlockedAddress

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
MAX_FEEDS = 25  # feeds polled per site, detected ones and their children included


class LoginWall(FeedError):
    """A logged-in site's poll met its login wall: the session no longer works (the message says how)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    status: int  # 200 or 304
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FeedState:
    """A feed as the last poll left it: its validators for the next conditional GET."""

    url: str
    origin: str = "config"  # config | detected
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FeedOutcome:
    """What one poll of one feed learned: its entries (none when not modified), its new
    validators, or why it failed."""

    url: str
    origin: str
    status: int | None = None
    kind: str | None = None  # what it turned out to be (rss | atom | rdf | sitemap | sitemapindex)
    etag: str | None = None
    last_modified: str | None = None
    entries: tuple[FeedEntry, ...] = ()
    error: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass
class PollResult:
    outcomes: list[FeedOutcome] = field(default_factory=list)
    requests: int = 0  # HTTP requests made, redirects included
    login_lost: str | None = None  # a logged-in site's login wall stopped the poll: why


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to the address the guard judged, whatever the name resolves to now."""

    def __init__(self, host: str, port: int | None, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int | None, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def fetch(
    url: str,
    guard: NetGuard,
    *,
    agent: str,
    timeout: float = 30.0,
    etag: str | None = None,
    last_modified: str | None = None,
    counter: PollResult | None = None,
    login: SiteLogin | None = None,
) -> Fetched:
    """GET `url` conditionally; FeedError (with the reason) for anything but 200 or 304;
    LoginWall where `login` (the site's session, sent to its hosts only) no longer gets in."""
    redirected = False
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            address = guard.connect_address_blocking(url)
        except BlockedAddress as exc:
            raise FeedError(str(exc)) from None
        parts = urlsplit(url)
        kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
        conn = kind(parts.hostname or "", parts.port, str(address), timeout)
        headers = {"User-Agent": agent, "Accept": "application/rss+xml, application/atom+xml, application/xml, "
                   "text/xml;q=0.9, */*;q=0.5", "Accept-Encoding": "identity"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        cookie = login.cookie_header(url) if login is not None else None
        if cookie:
            headers["Cookie"] = cookie
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if counter is not None:
            counter.requests += 1
        try:
            conn.request("GET", target, headers=headers)
            response = conn.getresponse()
            body = response.read(MAX_FEED_BYTES + 1)
        except (OSError, http.client.HTTPException) as exc:
            raise FeedError(f"{url}: {type(exc).__name__}: {str(exc).strip() or 'no answer'}") from None
        finally:
            conn.close()
        if response.status in (301, 302, 303, 307, 308):
            location = response.getheader("Location")
            if not location:
                raise FeedError(f"{url}: HTTP {response.status} without a Location")
            url, redirected = urljoin(url, location), True
            if login is not None and login.applies_to(url) and (wall := login_wall(200, url, True, None)):
                raise LoginWall(wall)
            continue
        if login is not None and login.applies_to(url):
            wall = login_wall(response.status, url, redirected, body if response.status == 200 else None)
            if wall is not None:
                raise LoginWall(wall)
        if response.status == 304:
            return Fetched(url, 304, etag=response.getheader("ETag") or etag,
                           last_modified=response.getheader("Last-Modified") or last_modified)
        if response.status != 200:
            raise FeedError(f"{url}: HTTP {response.status}")
        if len(body) > MAX_FEED_BYTES:
            raise FeedError(f"{url}: larger than {MAX_FEED_BYTES >> 20} MB")
        return Fetched(url, 200, body, response.getheader("ETag"), response.getheader("Last-Modified"))
    raise FeedError(f"{url}: more than {MAX_REDIRECTS} redirects")


def poll(
    config: Config, site: Site, states: list[FeedState], guard: NetGuard, login: SiteLogin | None = None
) -> PollResult:
    """Poll every feed in `states` (and the sitemaps and comment feeds they lead to); a login
    wall ends the poll (`login_lost`), the feeds not reached keep their state for the next."""
    result = PollResult()
    agent = user_agent(config, site)
    queue = list(states)
    known = {s.url for s in states}
    has_comment_feed = any(_is_comment_feed(s.url) for s in states)
    while queue:
        state = queue.pop(0)
        try:
            got = fetch(state.url, guard, agent=agent, timeout=site.timeout, etag=state.etag,
                        last_modified=state.last_modified, counter=result, login=login)
            if got.status == 304:
                result.outcomes.append(FeedOutcome(state.url, state.origin, 304, etag=got.etag,
                                                   last_modified=got.last_modified))
                continue
            parsed = parse_feed(got.body, got.url)
        except LoginWall as wall:
            log.warning("feed %s of site %s: the session no longer works: %s", state.url, site.id, wall.reason)
            result.login_lost = wall.reason
            break
        except FeedError as exc:
            log.warning("feed %s of site %s failed: %s", state.url, site.id, exc)
            result.outcomes.append(FeedOutcome(state.url, state.origin, error=str(exc)))
            continue
        result.outcomes.append(FeedOutcome(state.url, state.origin, 200, parsed.kind, got.etag, got.last_modified,
                                           parsed.entries))
        more = parsed.feeds if parsed.kind != "rss" or not has_comment_feed else ()
        for child in more:
            if child not in known and len(known) < MAX_FEEDS:
                known.add(child)
                queue.append(FeedState(child, "detected"))
    return result


def _is_comment_feed(url: str) -> bool:
    return urlsplit(url).path.rstrip("/").endswith("comments/feed")


def detect(
    config: Config, site: Site, guard: NetGuard, counter: PollResult | None = None, login: SiteLogin | None = None
) -> list[str]:
    """The feeds and sitemaps of `site`, found on its start pages, in robots.txt and in the usual
    places; each kept only if it reads as a feed or sitemap. LoginWall where a start page shows
    that the session no longer works."""
    agent = user_agent(config, site)
    candidates: list[str] = []
    roots = list(dict.fromkeys(site_root(u) for u in site.start_urls))
    robots: dict[str, RobotFileParser] = {}
    for root in roots:
        try:
            got = fetch(urljoin(root, "robots.txt"), guard, agent=agent, timeout=site.timeout, counter=counter,
                        login=login)
            text = got.body.decode("utf-8", "replace")
        except LoginWall:
            text = ""  # robots.txt behind the wall: the start pages say whether the session works
        except FeedError:
            text = ""
        parser = RobotFileParser()
        parser.parse(text.splitlines())
        robots[root] = parser
        candidates += sitemaps_in_robots(text, root)
    for start in site.start_urls:
        try:
            candidates += feeds_in_html(
                fetch(start, guard, agent=agent, timeout=site.timeout, counter=counter, login=login).body, start)
        except LoginWall:
            raise
        except FeedError as exc:
            log.info("feed detection: start page %s unreadable: %s", start, exc)
    for start in site.start_urls:
        candidates += usual_places(start)
    found: list[str] = []
    for url in dict.fromkeys(candidates):
        if len(found) >= MAX_FEEDS:
            break
        rules = robots.get(site_root(url))
        if site.robots == "obey" and rules is not None and not rules.can_fetch(agent, url):
            continue
        try:
            parse_feed(fetch(url, guard, agent=agent, timeout=site.timeout, counter=counter, login=login).body, url)
        except FeedError:  # a login wall here too: not a feed a member reads, so not kept
            continue
        found.append(url)
    return found
