"""Crawling `render: browser` and `render: auto` sites: the rendered page is what gets matched.

Controlled by the site's `render`, `expand:` and `post_selector`, and the `browser:` config.

`BrowserSpider` is the HTTP spider (spider.py) with two changes on its fetch path:

- requests the browser must fetch carry `meta["vaern_render"]`; `BrowserDownloadHandler` renders
  them (crawler/render.py: a fresh context per page, bounded expansion) and answers with the
  rendered DOM as an HTML response, so robots.txt, politeness, the SSRF guard (which also sees
  every request the page itself makes), depth, `follow` rules and max_pages work exactly as for
  HTTP, and links are followed from the rendered DOM;
- a rendered page's `Page` carries `rendered=True`, the expansion `actions`, the `posts` with
  their permalinks (crawler/posts.py), whether it was read whole (`ready`: its content stable
  and expanded until nothing more came; only such a read can count a name as gone), and a
  content hash of its text (the rendered HTML differs on every load; the text changes only when
  the page does). Its text is the rendered DOM's (shadow roots included), then its frames'
  (a comment widget), then what a virtualised feed dropped from the DOM while it was expanded;
  its links are all of theirs.
- with an evidence desk (crawler/desk.py, a crawl with evidence capture on), the rendered page
  stays open while the pipeline reads it: if the pipeline owes evidence for it, the capture is
  taken from that very page; otherwise it is closed once the pipeline is done.

`render: auto` fetches over HTTP first and decides per page with `needs_browser`: an empty
shell, a `<noscript>` or a near-empty page is fetched again in the browser; where the HTML
cannot tell ("probe"), the first such page of a crawl is rendered once and the two compared
(`compare_renderings`). Once a page needed the browser the site's decision is "browser" and
every later request goes straight to the browser. The decision is reported back
(`BrowserSpider.render_decision`) so the next crawl starts on the right path; a remembered
"http" skips the probe (clear shells are still caught); a remembered "browser" is revisited: the
first content page is probed again and the comparison decides anew.

Only content pages judge (`judges`): a page reached through a redirect (a search URL that sends
anonymous users to log in), a login or sign-up page (by its URL or a password field) and search
results are read over HTTP and decide nothing; a 125-character login form with scripts would
otherwise switch a whole forum to the browser.

Why our own download handler rather than scrapy-playwright: a page's lifetime must be one fresh
context that is always closed, with expansion and a hard time bound between navigation and
reading the DOM, in one function (render.py) that the benchmark and evidence capture can use
as well. scrapy-playwright keys contexts by name and leaves closing them to the spider's
callbacks and errbacks (`playwright_include_page`), runs page methods only before the response
is built, and owns the browser launch, which would bypass the session that marks Chromium so a
killed crawl's browser can be found and reaped (browser.py). The handler is ~60 lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.http import Headers, HtmlResponse, Response

from vaern.crawler.browser import BrowserSession
from vaern.crawler.expand import ExpandLimits
from vaern.crawler.extract import Extracted, extract_html, extract_tree
from vaern.crawler.fingerprint import fingerprint
from vaern.crawler.htmltree import parse_html
from vaern.crawler.linkpolicy import trap_reason
from vaern.crawler.netguard import NetGuard
from vaern.crawler.posts import bylines
from vaern.crawler.readiness import ReadyLimits
from vaern.crawler.render import Rendered, compare_renderings, load, needs_browser
from vaern.crawler.spider import FETCH, Fetch, SiteSpider, _ImageRound
from vaern.domain import Page

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

RENDER = "vaern_render"  # request.meta: fetch this request in the browser
RENDERED = "vaern_rendered"  # request.meta, set by the handler: the Rendered result
PROBE = "vaern_probe"  # request.meta: the HTTP page's text, to compare with its rendering
PROBE_HASH = "vaern_probe_hash"  # request.meta: the HTTP page's content hash (fingerprint.py)
HANDLER = "vaern.crawler.browserspider.BrowserDownloadHandler"

# Response headers that describe the bytes on the wire, not the rendered DOM we hand on.
_PASSWORD_FIELD = re.compile(rb"<input[^>]*type\s*=\s*[\"']?password", re.IGNORECASE)
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding", "content-type"})


class BrowserSpider(SiteSpider):
    """The site spider for `render: browser` and `render: auto`; see the module docstring."""

    def __init__(self, *, render_decision: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mode = self.site.render
        self.remembered = render_decision if render_decision in ("http", "browser") else None
        # A remembered "browser" is a reason to look again, not a verdict: the first content page
        # is fetched over HTTP and compared with its rendering (the site may have changed, or a
        # login page fooled an earlier crawl).
        self.decision: str | None = (
            "browser" if self.mode == "browser" else "http" if self.remembered == "http" else None
        )
        self.decision_reason = "render: browser" if self.mode == "browser" else "remembered from the last crawl"
        self._probed = False

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """Our download handler for http(s), merged into the base settings' handlers."""
        super().update_settings(settings)
        handlers = dict(settings.getdict("DOWNLOAD_HANDLERS"))
        handlers.update({"http": HANDLER, "https": HANDLER})
        settings.set("DOWNLOAD_HANDLERS", handlers, priority="spider")

    @property
    def render_decision(self) -> str | None:
        """What `sites.render_decision` should hold after this crawl (auto sites; else None)."""
        return self.decision if self.mode == "auto" else None

    def _decide(self, decision: str, reason: str) -> None:
        if self.decision != "browser":  # "browser" is final for this crawl
            if decision != self.decision:
                self.logger.info("site %s: fetching with %s from now on (%s)", self.site.id, decision, reason)
            self.decision, self.decision_reason = decision, reason

    # -- the fetch path ------------------------------------------------------------------------

    def make_request(self, url: str, fetch: Fetch) -> Request:
        request = super().make_request(url, fetch)
        if self.decision == "browser":
            request.meta[RENDER] = True
        return request

    def parse(self, response: Response) -> Iterator[Request]:
        try:
            if self.mode == "auto" and RENDERED not in response.meta and not self.stopping:
                again = self._auto(response)
                if again is not None:
                    self.seen.add(response.url)
                    yield again
                    return
            yield from super().parse(response)
        finally:
            if RENDERED in response.meta and self.evidence_desk is not None and response.url not in self._reading:
                # The pipeline is done with the page: the desk keeps it only if evidence is owed.
                # (A page whose images are being read goes to the pipeline once they are.)
                self.evidence_desk.release(response.url)

    def _page_with_images(self, state: _ImageRound) -> Iterator[Request]:
        try:
            yield from super()._page_with_images(state)
        finally:
            if state.page.rendered and self.evidence_desk is not None:
                self.evidence_desk.release(state.page.url)

    def _auto(self, response: Response) -> Request | None:
        """An HTTP response of an auto site: the page again in the browser, or None to use it."""
        if not (200 <= response.status < 300) or not isinstance(response, HtmlResponse):
            return None
        fetch: Fetch = response.meta[FETCH]
        if self.decision == "browser":  # decided after this request was queued
            return self._rerender(response, fetch)
        if not self.judges(response):
            return None  # read over HTTP; it decides nothing
        verdict = needs_browser(response.body)
        if verdict.verdict == "browser":
            self._decide("browser", f"{response.url}: {verdict.reason}")
            return self._rerender(response, fetch)
        revisit = self.remembered == "browser"
        if (verdict.verdict == "probe" and self.remembered is None or revisit) and not self._probed:
            self._probed = True
            http = extract_tree(parse_html(response.text), response.url)
            again = self._rerender(response, fetch, probe=http.text)
            # Should HTTP win, the next crawl reads this page over HTTP: its hash must be that one.
            again.meta[PROBE_HASH] = fingerprint(http.title, http.text, http.links, response.url, self.normalise)
            return again
        if self.decision is None:
            self._decide("http", f"{response.url}: {verdict.reason}")
        return None

    def judges(self, response: Response) -> bool:
        """May this response decide the site's render mode? Not a page reached by a redirect (a
        search or a member page sending us to log in), not a login or sign-up page, not a search
        result: they say nothing about how the site's content pages are built."""
        fetch: Fetch = response.meta[FETCH]
        if fetch.kind == "search" or response.meta.get("redirect_urls"):
            return False
        if trap_reason(response.url) in ("login", "register", "logout"):
            return False
        return not _PASSWORD_FIELD.search(response.body)

    def _rerender(self, response: Response, fetch: Fetch, probe: str | None = None) -> Request:
        meta: dict[str, Any] = {FETCH: fetch, RENDER: True}
        if probe is not None:
            meta[PROBE] = probe
        return Request(
            response.url,
            callback=self.parse,
            errback=self.errback,
            meta=meta,
            priority=-fetch.depth,
            dont_filter=True,
        )

    def redirect_status(self, response: Response) -> int:
        rendered: Rendered | None = response.meta.get(RENDERED)
        if rendered is None:
            return super().redirect_status(response)
        # HTTP redirects before the document, else a script moved the page on (no status of its own).
        return rendered.redirects[0][1] if rendered.redirects else rendered.status

    def page_from_response(self, response: Response, fetch: Fetch) -> tuple[Page, Extracted] | None:
        made = super().page_from_response(response, fetch)
        rendered: Rendered | None = response.meta.get(RENDERED)
        if made is None or rendered is None:
            return made
        page, extracted = made
        http_hash = None
        if PROBE in response.meta:
            verdict = compare_renderings(response.meta[PROBE], extracted.text)
            self._decide(verdict.verdict, f"{page.url}: {verdict.reason}")
            if verdict.verdict == "http":
                http_hash = response.meta.get(PROBE_HASH)
        actions = tuple(str(a) for a in rendered.actions)
        posts, lines = bylines(
            rendered.html,
            page.url,
            page.text,
            lambda fragment: extract_html(fragment, page.url).text,
            selector=self.site.post_selector,
            author_selector=self.site.author_selector,
        )
        # What the page showed beyond its own DOM: its frames, and what a virtualised feed
        # dropped while it was expanded. After the page's own text, so its posts keep their offsets.
        framed = [extract_html(frame.html, frame.url) for frame in rendered.frames]
        text = "\n\n".join([page.text, *(f.text for f in framed if f.text), *(d.text for d in rendered.dropped)])
        links = dict.fromkeys([*extracted.links, *rendered.links, *(link for f in framed for link in f.links)])
        extracted = replace(extracted, text=text, links=tuple(links))
        page = replace(
            page,
            text=text,
            rendered=True,
            actions=actions,
            posts=posts,
            bylines=lines,
            ready=rendered.ready,
            unready=rendered.unready,
            # The rendered HTML differs on every load (ids, timers); the title and text only when
            # the page does.
            content_hash=http_hash or fingerprint(page.title, text, extracted.links, page.url, self.normalise),
            etag=None,
            last_modified=None,
        )
        return page, extracted


class BrowserDownloadHandler(HTTP11DownloadHandler):
    """Download handler: requests marked `vaern_render` are rendered in Chromium, others go over HTTP.

    One BrowserSession per crawl process, started on the first rendered request and closed with
    the handler; every request the page makes passes the SSRF guard first.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._session: BrowserSession | None = None
        self._guard = NetGuard(crawler.settings.getlist("NETGUARD_ALLOW_PRIVATE_HOSTS"))

    async def download_request(self, request: Request) -> Response:
        if not request.meta.get(RENDER):
            return await super().download_request(request)
        spider = self.crawler.spider
        assert isinstance(spider, SiteSpider), "the browser handler serves Værn's site spiders"
        config, site = spider.config, spider.site
        desk = spider.evidence_desk
        if desk is not None:
            session = desk.session()  # one browser for the crawl and its evidence
            await desk.room()
        else:
            if self._session is None:
                self._session = BrowserSession(config.browser, guard=self._guard, max_response_mb=site.max_response_mb,
                                               login=spider.login)
            session = self._session
        agent = request.headers.get(b"User-Agent")
        step = config.browser.timeout
        loaded = await load(
            session,
            request.url,
            ExpandLimits.from_settings(site.expand, step_timeout=step),
            user_agent=agent.decode("latin-1") if agent else None,
            ready=ReadyLimits(site.ready.max_seconds, site.ready.quiet_ms, tuple(site.ready.placeholders), step),
        )
        rendered = loaded.rendered
        assert rendered is not None
        if desk is not None:
            desk.hold(rendered.final_url, loaded)  # the pipeline may owe evidence of this very page
        else:
            await loaded.close()
        request.meta[RENDERED] = rendered
        headers = Headers()
        for name, value in rendered.headers.items():
            if name.lower() not in _WIRE_HEADERS:
                headers[name] = value.split("\n")  # Playwright joins repeated headers with newlines
        headers["Content-Type"] = "text/html; charset=utf-8"
        return HtmlResponse(
            url=rendered.final_url,
            status=rendered.status,
            headers=headers,
            body=rendered.html.encode("utf-8"),
            encoding="utf-8",
            request=request,
            flags=["rendered"],
        )

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if self._session is not None:
                await self._session.close()
