"""The spider that crawls one site and hands each outcome to a `PageSink`.

One crawl (controlled by the site's config):
1. Start URLs (depth 0) and this crawl's search URLs (`search_urls` with `{query}` filled in; see
   search.py) are requested first. Search result pages are only used to find links: they echo
   the searched name, so they are never reported as pages (they would always "name" the person).
2. Links on fetched pages are made one URL per page (`sites[].normalise`, linkpolicy.py) and
   followed breadth-first when they pass `follow` (allow/deny regexes on absolute URLs; without
   allow rules, the hosts of the start and search URLs), are no trap (built-in deny patterns,
   nested return chains, the per-family budget: linkpolicy.py) and the depth stays within
   `follow.max_depth`.
3. When discovery runs dry, the URLs the database knows from earlier crawls (`known`) that were
   not reached are re-checked at their known depth (or, unknown, with no links followed): those
   with an open hit every crawl (so a deletion, 404/410, is noticed at once), the others once
   their last check is `follow.recheck_after` old. That is how a deleted post or an edited deep
   page is noticed even when nothing links to it any more, without re-requesting a whole
   unchanged site every crawl (a forum's changed threads are reached through its changed lists).
4. The crawl stops after `follow.max_pages` fetches (re-checks included; search pages not).

Each request is conditional when the URL is known (If-None-Match / If-Modified-Since), except
start and search URLs, which are always fetched in full because discovery begins there. A 304, or
a 2xx whose content hash is the known one, is reported as `unchanged` and its page is not matched
again (links of a 2xx are still followed; a 304 has none, which is why step 3 exists). The
content hash is of what the page says and links to, without tokens, nonces, counters and
relative times (fingerprint.py), so page noise is no change.

A page is reported once per crawl (`_settle`): a page saying what a related URL already said this
crawl (`?page=1`, WordPress's newest comment page) is a duplicate, counted, not reported; a page
whose `rel=canonical` names another page of the site waits for it and is a duplicate when it says
the same. Each page carries `excerpts`: the parts that show another page of the site (a listing's
teasers, a topic list's titles, the repeated title on page 2 of a topic), so the pipeline can give
a mention there to the post it belongs to. Outcomes:
- 2xx HTML or plain text, new or changed → `sink.page(Page)`;
- 304 or same content hash → `sink.unchanged(url)`;
- 404/410 → `sink.gone(url, status)`;
- any other status after retries, timeouts, too-big responses, redirect loops, refused by the
  SSRF guard → `sink.failed(FetchFailure)`; none of these ends the crawl;
- 2xx that is not a page (images, PDF, feeds, anything not HTML or text/plain) → skipped, not
  reported: there is no text to match. Its body is not even downloaded (the download stops when
  the headers show the type), and links to such files are not followed in the first place.
- robots.txt refusals are not failures (obeying is the intent); only a refused start URL is
  reported, so an operator sees why a site yields nothing.

The fetch path is pluggable for other render modes (the browser): a subclass overrides
`make_request` (what is requested, with which meta — e.g. to render it in a browser),
`page_from_response` (where a response becomes a `Page`; `rendered=True` there), and Scrapy's
`update_settings` classmethod for its download handlers (merge into DOWNLOAD_HANDLERS: the base
settings switch off file/ftp/s3/data there). `run.spider_class(site)` picks the class by
`site.render`. Everything else (rules, limits, conditional GET, reporting, the SSRF guard) stays.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.exceptions import (
    CloseSpider,
    DontCloseSpider,
    DownloadCancelledError,
    DownloadTimeoutError,
    IgnoreRequest,
    StopDownload,
)
from scrapy.http import HtmlResponse, Response, TextResponse

from vaern import clock
from vaern.config import Config, Site
from vaern.crawler import ocr
from vaern.crawler.extract import Extracted, decide_encoding, extract_html, extract_tree
from vaern.crawler.fingerprint import fingerprint, quiet_text
from vaern.crawler.htmltree import parse_html
from vaern.crawler.linkpolicy import TrapGuard, UrlNormaliser, trap_reason
from vaern.crawler.netguard import BlockedRequest
from vaern.crawler.photos import find_photos
from vaern.crawler.posts import bylines, find_posts
from vaern.crawler.sitelogin import SiteLogin, login_of, login_wall
from vaern.domain import Excerpt, FetchFailure, ImageText, Page, Post

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.python.failure import Failure

    from vaern.crawler.desk import EvidenceDesk

log = logging.getLogger(__name__)

FETCH = "vaern_fetch"  # request.meta key holding the Fetch record
_IMAGES = "vaern_images"  # request.meta key of an image request: the page's _ImageRound
_PAGE_TYPES = ("text/html", "application/xhtml+xml", "text/plain")


@dataclass(frozen=True)
class KnownPage:
    """What the database knows about a URL from earlier crawls.

    `depth` is optional: with it, a re-checked page that changed has its links followed as in a
    normal crawl; without it, a re-check only reports the page itself.
    """

    url: str
    etag: str | None
    last_modified: str | None
    content_hash: str | None
    depth: int | None = None
    checked_at: datetime | None = None  # UTC; None: re-check whenever it is not reached
    open_hit: bool = False  # someone is named there and the hit is not removed: re-check every crawl


@dataclass
class _ImageRound:
    """A page waiting for its images to be read: the addresses left, the texts read so far."""

    page: Page
    urls: list[str]
    texts: list[ImageText]
    budget: ocr.PageBudget
    extracted: Extracted  # the page's links and canonical, for settling it once its images are read


class PageSink(Protocol):
    """Receives each outcome of a crawl; implemented by the pipeline, called inside the crawl process."""

    def page(self, page: Page) -> None: ...

    def unchanged(self, url: str) -> None: ...

    def gone(self, url: str, status: int) -> None: ...

    def failed(self, failure: FetchFailure) -> None: ...


@dataclass(frozen=True)
class Fetch:
    """Why a URL is requested: `kind` is start | search | link | recheck."""

    kind: str
    depth: int


@dataclass
class Counts:
    fetched: int = 0
    unchanged: int = 0
    failed: int = 0
    gone: int = 0
    blocked: int = 0
    skipped: int = 0
    duplicates: int = 0  # pages whose content this crawl had already reported under another URL
    trapped: int = 0  # links refused as traps (linkpolicy.py)


class FollowRules:
    """`follow.allow` / `follow.deny` on absolute URLs; without allow rules, the site's own hosts."""

    def __init__(self, site: Site) -> None:
        self.allow = [re.compile(p) for p in site.follow.allow]
        self.deny = [re.compile(p) for p in site.follow.deny]
        self.hosts = {_host(u) for u in (*site.start_urls, *site.search_urls)}

    def add_host(self, url: str) -> None:
        """A start URL redirected elsewhere (http → https, example.dk → www.example.dk): its site too."""
        if not self.allow:
            self.hosts.add(_host(url))

    def allows(self, url: str) -> bool:
        if any(p.search(url) for p in self.deny):
            return False
        if self.allow:
            return any(p.search(url) for p in self.allow)
        return _host(url) in self.hosts


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").rstrip(".")


class SiteSpider(Spider):
    """Crawls one site; see the module docstring for the rules."""

    name = "vaern"

    def __init__(
        self,
        *,
        config: Config,
        site: Site,
        sink: PageSink,
        known: Mapping[str, KnownPage],
        search_urls: Sequence[str] = (),
        evidence: EvidenceDesk | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=f"vaern-{site.id}", **kwargs)
        # Captures evidence while the crawl goes on (crawler/desk.py); drained as the spider closes.
        self.evidence_desk = evidence
        self.config = config
        self.site = site
        self.sink = sink
        self.known = known
        self.search_urls = list(search_urls)
        self.rules = FollowRules(site)
        self.normalise = UrlNormaliser(site)
        self.traps = TrapGuard(site)
        self.counts = Counts()
        self._content_of: dict[str, str] = {}  # URL reported this crawl -> its content key
        # Known URLs by their content hash: a page already known under another URL stays there.
        self._known_by_hash = {k.content_hash: url for url, k in known.items() if k.content_hash}
        self._url_of: dict[str, str] = {}  # content key -> the first URL reported with it
        # Pages whose rel=canonical names another URL not yet read: they wait for it.
        self._awaiting: dict[str, list[tuple[Page, str]]] = {}
        self.finish_reason = "not started"
        self.sink_error: BaseException | None = None
        self.seen: set[str] = set()  # every URL requested (redirect targets too): nothing is fetched twice
        self._reported: set[str] = set()  # final URLs already handed to the sink
        self._attempts = 0  # fetches counted against max_pages
        self.stopping = False  # max_pages reached or the sink failed: no more requests
        self._rechecked = False
        self._reading: dict[str, _ImageRound] = {}  # pages whose images are being read, by URL
        # A logged-in source (sitelogin.py): its cookies go to the site's own hosts only. Once a
        # response shows the session no longer works, the crawl stops and reports nothing more:
        # a login page is not the page, so nothing may count as removed.
        self.login: SiteLogin | None = login_of(site)
        self.login_lost: str | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SiteSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._on_idle, signal=signals.spider_idle)
        crawler.signals.connect(spider._on_headers, signal=signals.headers_received)
        crawler.signals.connect(spider._on_closed, signal=signals.spider_closed)
        crawler.signals.connect(spider._drain_evidence, signal=signals.spider_closed)
        return spider

    # -- the fetch path (override points) ----------------------------------------------------

    def make_request(self, url: str, fetch: Fetch) -> Request:
        """The Scrapy request for `url`. Conditional headers are added at download time
        (FetchPolicyMiddleware), so redirect targets get theirs too."""
        return Request(
            url,
            callback=self.parse,
            errback=self.errback,
            meta={FETCH: fetch},
            # Breadth-first: nearer pages first. Re-checks come after discovery anyway.
            priority=-fetch.depth,
            # Our own `seen` set deduplicates (FetchPolicyMiddleware for redirects). Scrapy's
            # duplicate filter would swallow a redirect loop without telling the errback (scrapy#1225).
            dont_filter=True,
        )

    def page_from_response(self, response: Response, fetch: Fetch) -> tuple[Page, Extracted] | None:
        """Turn a 2xx response into a Page (and its links); None when it is not a page."""
        content_type = _content_type(response)
        if not isinstance(response, TextResponse):
            return None
        if content_type and not content_type.startswith(_PAGE_TYPES):
            return None
        if not content_type and not isinstance(response, HtmlResponse):
            return None  # no type given and Scrapy did not recognise HTML either
        encoding = decide_encoding(response.headers.get(b"Content-Type"), response.body)
        response = response.replace(encoding=encoding)
        assert isinstance(response, TextResponse)
        if content_type.startswith("text/plain"):
            extracted = Extracted(text=response.text.strip(), title="", links=())
        else:
            # Parsed here, not by response.selector: libxml2 stops at a nesting depth that
            # browsers do not have, and parse_html keeps reading past it.
            extracted = extract_tree(parse_html(response.text), response.url)
        # Header names in lower case (HTTP names are case-insensitive); repeated headers joined by ",".
        headers = {str(k).lower(): str(v) for k, v in response.headers.to_unicode_dict().items()}
        if self.login is not None:
            headers = self.login.redact_mapping(headers)  # a Set-Cookie may carry the session
        page = Page(
            site_id=self.site.id,
            url=response.url,
            status=response.status,
            fetched_at=clock.now(),
            body=response.body,
            text=extracted.text,
            title=extracted.title,
            encoding=encoding,
            headers=headers,
            etag=_header(response, b"ETag"),
            last_modified=_header(response, b"Last-Modified"),
            # What the page says and links to, without its noise (fingerprint.py): a fresh
            # token or avatar host in the bytes is no change.
            content_hash=fingerprint(extracted.title, extracted.text, extracted.links, response.url, self.normalise),
            depth=fetch.depth,
        )
        if not content_type.startswith("text/plain"):
            posts, lines = bylines(response.text, page.url, page.text, lambda f: extract_html(f, page.url).text,
                                   self.site.post_selector, self.site.author_selector)
            page = replace(page, bylines=lines, excerpts=self.excerpts(
                response.text, page.url, page.text, extracted.anchors, extracted.title, posts
            ))
            if b"<img" in response.body:
                photos = find_photos(response.text, page.url, page.text, lambda f: extract_html(f, page.url).text)
                page = replace(page, photos=photos)
        return page, extracted

    def excerpts(
        self, html: str, url: str, text: str, anchors: Sequence[tuple[str, str]] = (), title: str = "",
        posts: Sequence[Post] | None = None,
    ) -> tuple[Excerpt, ...]:
        """The parts of a page that show another page of this site the crawl may read: posts
        (posts.py) whose permalink is another page (a listing's teasers), and the text of links
        (a topic list's titles), and on page 2, 3 … of a topic the title and the headings that
        repeat it (kind "title" stands for the title field). The pipeline decides, once the
        crawl is done, whether a mention there belongs to that page."""
        if not text:
            return ()
        own = self.normalise(url)
        host = _host(url)

        def target_of(link: str) -> str | None:
            target = self.normalise(link)
            return target if target != own and _host(target) == host and self.rules.allows(target) else None

        out: list[Excerpt] = []
        if posts is None:
            posts = find_posts(html, url, text, lambda f: extract_html(f, url).text, selector=self.site.post_selector)
        for post in posts:
            target = target_of(post.permalink) if post.permalink else None
            if target is not None:
                out.append(Excerpt(post.start, post.end, target, "teaser"))
        # Page 2, 3 … of a topic: the title, and headings repeating it, are the first page's.
        first = self.normalise.first_page(url)
        if first is not None and first != own and self.rules.allows(first):
            out.append(Excerpt(0, 0, first, "title"))
            at = 0
            for line in text.split("\n"):
                if len(line) >= 8 and line in title:
                    out.append(Excerpt(at, at + len(line), first, "heading"))
                at += len(line) + 1
        lo = 0
        for link, label in anchors:
            at = text.find(label, lo)
            if at < 0:
                continue
            lo = at + len(label)
            target = target_of(link)
            if target is not None:
                out.append(Excerpt(at, lo, target, "link"))
        return tuple(out)

    # -- crawl -------------------------------------------------------------------------------

    async def start(self) -> Any:
        if self.evidence_desk is not None:
            self.evidence_desk.start()  # what earlier crawls still owe is captured first
        for url in self.site.start_urls:
            request = self._schedule(url, Fetch("start", 0))
            if request is not None:
                yield request
        for url in self.search_urls:
            request = self._schedule(url, Fetch("search", 0))
            if request is not None:
                yield request

    def _schedule(self, url: str, fetch: Fetch) -> Request | None:
        if url in self.seen:
            return None
        self.seen.add(url)
        return self.make_request(url, fetch)

    def parse(self, response: Response) -> Iterator[Request]:
        fetch: Fetch = response.meta[FETCH]
        if self.stopping:
            return
        self.seen.add(response.url)
        if self.login is not None:
            self._check_login(response)
        if fetch.kind == "start" and response.request is not None:
            if _host(response.url) != _host(_origin(response.request)):
                self.rules.add_host(response.url)
        if fetch.kind == "search":
            yield from self._parse_search(response, fetch)
            return
        self._count_attempt()
        status = response.status
        url = response.url
        self._report_moved(response.request, url, self.redirect_status(response))
        if url in self._reported:
            return  # reached again through a redirect; already reported this crawl
        self._reported.add(url)
        if status == 304:
            self._emit(self.sink.unchanged, url)
            self.counts.unchanged += 1
        elif status in (404, 410):
            self._emit(self.sink.gone, url, status)
            self.counts.gone += 1
            self._release(url)
        elif 200 <= status < 300:
            try:
                made = self.page_from_response(response, fetch)
            except Exception as exc:  # hostile or broken markup must not end the crawl
                log.warning("could not read %s", url, exc_info=True)
                self._fail(url, f"could not read the page: {type(exc).__name__}: {exc}", status)
                self._check_budget()
                return
            if made is None:
                self.counts.skipped += 1
                self._stat("vaern/skipped_not_a_page")
                self._release(url)
            else:
                page, extracted = made
                known = self.known.get(url)
                changed = known is None or known.content_hash != page.content_hash
                first_image = self._first_image(page, extracted) if changed else None
                if first_image is None:
                    yield from self._settle(page, extracted)
                else:
                    yield first_image  # the page is settled once its images are read
                yield from self._follow(extracted.links, fetch.depth + 1)
        else:
            reason = "redirect without a usable Location" if 300 <= status < 400 else f"HTTP {status}"
            self._fail(_origin(response.request) if response.request else url, reason, status)
            self._release(url)
        self._check_budget()

    def _check_login(self, response: Response) -> None:
        """Stop the crawl if this response shows the site's session has expired (sitelogin.py)."""
        assert self.login is not None
        redirected = response.request is not None and _origin(response.request) != response.url
        body = response.body if 200 <= response.status < 300 and isinstance(response, TextResponse) else None
        reason = login_wall(response.status, response.url, redirected, body)
        if reason is not None:
            self.lose_login(reason)
            raise CloseSpider("needs_login")

    def lose_login(self, reason: str) -> None:
        """The session no longer works: nothing more is fetched or reported this crawl."""
        if self.login_lost is None:
            self.login_lost = reason
            log.warning("site %s needs a new login session: %s", self.site.id, reason)
        self.stopping = True

    # -- one page, one URL -------------------------------------------------------------------

    def _settle(self, page: Page, extracted: Extracted) -> Iterator[Request]:
        """Report a page once per crawl: not when the same content was reported under a related
        URL (`?page=1`, the newest comment page of a post; see `related`), under the related URL
        an earlier crawl knew the same content by, and under its `rel=canonical` URL when that
        URL says the same; a page whose canonical is not read yet waits for it."""
        key = content_key(page)
        first = self._url_of.get(key)
        if first is not None and first != page.url and related(first, page.url):
            self._duplicate(page.url, first)
            return
        known = self.known.get(page.url)
        if known is None or known.content_hash != page.content_hash:
            twin = self._known_by_hash.get(page.content_hash)
            if twin is not None and twin != page.url and twin not in self._content_of and related(twin, page.url):
                # Known under another URL (two links to one profile): it stays under that one.
                self._duplicate(page.url, twin)
                self.seen.add(twin)
                self._deliver(replace(page, url=twin), key)
                return
        canonical = self._canonical(page.url, extracted.canonical)
        if canonical is not None:
            if canonical in self._content_of:
                if self._content_of[canonical] == key:
                    self._duplicate(page.url, canonical)
                    return
            elif not self.stopping:
                self._awaiting.setdefault(canonical, []).append((page, key))
                request = self._schedule(canonical, Fetch("link", page.depth))
                if request is not None:
                    yield request
                return
        self._deliver(page, key)

    def _deliver(self, page: Page, key: str) -> None:
        self._url_of.setdefault(key, page.url)
        self._content_of[page.url] = key
        self._reported.add(page.url)
        known = self.known.get(page.url)
        if known is not None and known.content_hash == page.content_hash:
            self._emit(self.sink.unchanged, page.url)
            self.counts.unchanged += 1
        else:
            self._emit(self.sink.page, page)
            self.counts.fetched += 1
        self._release(page.url)

    def _release(self, url: str) -> None:
        """`url` has been read (or cannot be): the pages waiting for it as their canonical."""
        for page, key in self._awaiting.pop(url, []):
            if self._content_of.get(url) == key:
                self._duplicate(page.url, url)
            elif page.url not in self._content_of:
                self._deliver(page, key)

    def _release_all(self) -> None:
        for url in list(self._awaiting):
            self._release(url)

    def _duplicate(self, url: str, of: str) -> None:
        self.counts.duplicates += 1
        self._stat("vaern/duplicate_pages")
        log.debug("%s says what %s says; reported once, there", url, of)

    def _canonical(self, url: str, declared: str | None) -> str | None:
        """The page's rel=canonical, when it names another page of this site the crawl may read
        (not the site's front page or a start URL: some themes name those on every page)."""
        if not declared:
            return None
        canonical = self.normalise(declared)
        if canonical == url or _host(canonical) != _host(url) or not self.rules.allows(canonical):
            return None
        if urlsplit(canonical).path in ("", "/") or canonical in self.site.start_urls:
            return None
        if self.traps.refuses(canonical) is not None:
            return None
        return canonical

    # -- text in images (config `ocr`, crawler/ocr.py) -----------------------------------------

    def _first_image(self, page: Page, extracted: Extracted) -> Request | None:
        """The request for the page's first image worth reading, or None (OCR off, no images)."""
        settings = self.config.ocr
        if settings.max_images == 0 or not ocr.reads_images(settings.enabled):
            return None
        urls = ocr.image_urls(page.body, page.url, settings.max_images)
        if not urls:
            return None
        state = _ImageRound(page, urls, [], ocr.PageBudget(self._ocr_settings()), extracted)
        self._reading[page.url] = state
        return self._image_request(state)

    def _ocr_settings(self) -> ocr.OcrSettings:
        o = self.config.ocr
        return ocr.OcrSettings(o.languages, o.max_images, o.seconds_per_image, o.seconds_per_page)

    def _image_request(self, state: _ImageRound) -> Request:
        url = state.urls.pop(0)
        return Request(
            url, callback=self._image_read, errback=self._image_failed, meta={_IMAGES: state},
            dont_filter=True, priority=100,  # before new pages: the page waits for its images
        )

    def _image_read(self, response: Response) -> Iterator[Request]:
        state: _ImageRound = response.meta[_IMAGES]
        body = response.body
        text = ocr.read_image(body, self._ocr_settings(), state.budget.left())
        if text and text.strip():
            kind = (response.headers.get(b"Content-Type") or b"").decode("latin-1").split(";")[0].strip()
            digest = hashlib.sha256(body).hexdigest()
            state.texts.append(ImageText(response.url, text, digest, body, kind or "application/octet-stream"))
        yield from self._next_image(state)

    def _image_failed(self, failure: Failure) -> Iterator[Request]:
        request: Request = failure.request  # type: ignore[attr-defined]
        log.info("OCR: image %s not fetched: %s", request.url, failure.value)
        yield from self._next_image(request.meta[_IMAGES])

    def _next_image(self, state: _ImageRound) -> Iterator[Request]:
        if state.urls and state.budget.left() > 0 and not self.stopping:
            yield self._image_request(state)
        else:
            yield from self._page_with_images(state)

    def _page_with_images(self, state: _ImageRound) -> Iterator[Request]:
        if self._reading.pop(state.page.url, None) is None:
            return  # already handed over
        yield from self._settle(dataclasses.replace(state.page, images=tuple(state.texts)), state.extracted)

    def _parse_search(self, response: Response, fetch: Fetch) -> Iterator[Request]:
        made = self.page_from_response(response, fetch) if 200 <= response.status < 300 else None
        if made is None:
            log.warning("search %s gave HTTP %s, no results used", response.url, response.status)
            return
        yield from self._follow(made[1].links, fetch.depth + 1)

    def _follow(self, links: Sequence[str], depth: int) -> Iterator[Request]:
        if depth > self.site.follow.max_depth or self.stopping:
            return
        for found in links:
            link = self.normalise(found)
            if link in self.seen or not self.rules.allows(link):
                continue
            if self.traps.refuses(link) is not None:
                self.seen.add(link)  # refused once is enough; counted once
                self.counts.trapped += 1
                continue
            request = self._schedule(link, Fetch("link", depth))
            if request is not None:
                yield request

    def errback(self, failure: Failure) -> None:
        request: Request = failure.request  # type: ignore[attr-defined]
        fetch: Fetch = request.meta[FETCH]
        if self.stopping:
            return
        exc = failure.value
        url = _origin(request)
        if isinstance(exc, BlockedRequest):
            self.counts.blocked += 1
            self._report_failure(url, exc.reason, None, count=False)
            if fetch.kind != "search":
                self._count_attempt()
            self._check_budget()
            return
        if isinstance(exc, AlreadyReached):
            # A known page that now redirects to one this crawl has read already: it is gone.
            reasons = request.meta.get("redirect_reasons") or []
            self._report_moved(request, request.url, next((r for r in reasons if isinstance(r, int)), 301))
            self._release(url)
            return
        if isinstance(exc, IgnoreRequest) and "robots.txt" in str(exc):
            if fetch.kind == "start":
                self._fail(url, "refused by the site's robots.txt (robots: obey)", None)
            return
        if isinstance(exc, RedirectLoop) or (isinstance(exc, IgnoreRequest) and "max redirections" in str(exc)):
            chain = [*request.meta.get("redirect_urls", []), request.url]
            reason = "redirect loop" if isinstance(exc, RedirectLoop) else "too many redirects"
            reason = f"{reason} ({' -> '.join(chain[:5])}{' -> …' if len(chain) > 5 else ''})"
        elif isinstance(exc, DownloadTimeoutError):
            reason = f"timed out after {self.site.timeout:g} s"
        elif isinstance(exc, DownloadCancelledError):
            # The HTTP handler cancels a download for one reason while the crawl runs: the body
            # passed DOWNLOAD_MAXSIZE (announced by Content-Length, or counted while streaming).
            reason = f"response larger than max_response_mb ({self.site.max_response_mb:g} MB)"
        else:
            reason = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        if fetch.kind == "search":
            log.warning("search %s failed: %s", url, reason)
            return
        self._count_attempt()
        self._fail(url, reason, None)
        self._release(url)
        self._check_budget()

    # -- bookkeeping -------------------------------------------------------------------------

    def redirect_status(self, response: Response) -> int:
        """The status of the first redirect that led to `response` (301 if the reason is not a
        status, such as a meta refresh)."""
        reasons = response.meta.get("redirect_reasons") or []
        return next((r for r in reasons if isinstance(r, int)), 301)

    def _report_moved(self, request: Request | None, final_url: str, status: int) -> None:
        """A page the database knows that now leads to another page (a redirect, or a script
        that moves the browser on) is gone from its address: reported as `gone` with the
        redirect's status, once. The same page under another scheme, `www.`, port or trailing
        slash is not another page."""
        if request is None:
            return
        origin = _origin(request)
        if origin == final_url or origin in self._reported or origin not in self.known:
            return
        if _same_page(origin, final_url):
            return
        self._reported.add(origin)
        self._emit(self.sink.gone, origin, status)
        self.counts.gone += 1

    def _fail(self, url: str, reason: str, status: int | None) -> None:
        self._report_failure(url, reason, status, count=True)

    def _report_failure(self, url: str, reason: str, status: int | None, *, count: bool) -> None:
        if count:
            self.counts.failed += 1
        self._reported.add(url)
        self._emit(self.sink.failed, FetchFailure(site_id=self.site.id, url=url, reason=reason, status=status))

    def _emit(self, method: Callable[..., None], *args: Any) -> None:
        """Call the sink; a sink that fails (the database is gone, say) ends the crawl."""
        try:
            method(*args)
        except Exception as exc:
            if self.sink_error is None:
                self.sink_error = exc
            self.stopping = True
            raise CloseSpider("sink_error") from exc

    def _count_attempt(self) -> None:
        self._attempts += 1

    def _check_budget(self) -> None:
        if not self.stopping and self._attempts >= self.site.follow.max_pages:
            self.stopping = True
            raise CloseSpider("max_pages")

    def _stat(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)

    def _on_idle(self, **_: Any) -> None:
        """Discovery has run dry: re-check known URLs this crawl did not reach (once)."""
        if self.stopping:
            return
        if self._awaiting:
            self._release_all()
        if self._rechecked:
            return
        self._rechecked = True
        max_depth = self.site.follow.max_depth
        due_before = clock.now() - self.site.follow.recheck_after
        scheduled = not_due = 0
        for url, known in self.known.items():
            if url in self.seen or not self.rules.allows(url):
                continue
            if not known.open_hit and known.checked_at is not None and known.checked_at > due_before:
                not_due += 1
                continue
            depth = max_depth if known.depth is None else min(known.depth, max_depth)
            request = self._schedule(url, Fetch("recheck", depth))
            if request is not None:
                assert self.crawler.engine is not None
                self.crawler.engine.crawl(request)
                scheduled += 1
        if not_due:
            log.info("%d known pages not reached were checked within follow.recheck_after; not re-checked", not_due)
        if scheduled:
            raise DontCloseSpider

    def _on_headers(self, headers: Any, request: Request, **_: Any) -> None:
        """Stop downloading a body that cannot be a page (an image, a PDF): no text to match."""
        if FETCH not in request.meta:
            return
        raw = headers.get(b"Content-Type")
        if not raw:
            return
        content_type = raw.decode("latin-1").split(";", 1)[0].strip().lower()
        if content_type and not content_type.startswith(_PAGE_TYPES):
            raise StopDownload(fail=False)

    def _on_closed(self, reason: str, **_: Any) -> None:
        self.finish_reason = reason
        # A page whose images were still being read when the crawl ended goes to the sink with
        # what was read: the page itself must not be lost.
        for state in list(self._reading.values()):
            try:
                for _request in self._page_with_images(state):
                    pass  # the crawl is over: nothing more is fetched
            except CloseSpider:
                break
        if self.sink_error is None and self._awaiting:
            try:
                self._release_all()
            except CloseSpider:
                pass  # the sink failed; sink_error says so
        if self.traps.suspected or self.counts.trapped:
            log.info(
                "site %s: %d links refused as traps (%s)%s", self.site.id, self.counts.trapped,
                ", ".join(f"{k} {v}" for k, v in sorted(self.traps.refused.items())),
                f"; trap suspected in {', '.join(self.traps.suspected)}" if self.traps.suspected else "",
            )

    async def _drain_evidence(self, **_: Any) -> None:
        """The crawl is over; the evidence still being captured is not: wait for it (Scrapy
        waits for this before it stops the download handlers and the reactor)."""
        if self.evidence_desk is not None:
            await self.evidence_desk.drain()


class RedirectLoop(IgnoreRequest):
    """A redirect leads back to a URL earlier in the same chain."""


class AlreadyReached(IgnoreRequest):
    """A redirect leads to a URL this crawl has already requested; it is handled there."""


class FetchPolicyMiddleware:
    """Downloader middleware for a SiteSpider's requests, redirect targets included:

    - once the crawl is stopping (max_pages, a failed sink), nothing more is sent;
    - a redirect back into its own chain fails at once as a redirect loop (Scrapy's duplicate
      filter would drop it silently, scrapy#1225, and we switch that filter off per request);
    - a redirect to a URL this crawl already requested is dropped (it is fetched once, there), and
      so is a followed link's redirect into a trap (a reply link that sends us to log in);
    - If-None-Match / If-Modified-Since are set from what the crawl knows about the URL, after
      removing any copied from the URL a redirect came from.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FetchPolicyMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        spider = self.crawler.spider
        fetch = request.meta.get(FETCH)
        if not isinstance(spider, SiteSpider) or fetch is None:
            return
        if spider.stopping:
            # Scrapy lets requests already handed to the downloader run on after CloseSpider.
            raise IgnoreRequest("the crawl is stopping")
        chain = request.meta.get("redirect_urls")
        if chain and spider.login is not None and trap_reason(request.url) == "login":
            # A logged-in site sending us to its login page: the session expired. Not a move of
            # the page (that would count as its removal): the crawl stops here.
            spider.lose_login(f"redirected to the login page {request.url}")
            raise IgnoreRequest("the site's login session has expired")
        if chain and request.meta.get("vaern_admitted") != request.url:
            if request.url in chain:
                raise RedirectLoop("redirect loop")
            if request.url in spider.seen:
                raise AlreadyReached("already requested in this crawl")
            if fetch.kind == "link" and trap_reason(request.url, spider.site.follow.builtin_deny) is not None:
                spider.counts.trapped += 1  # a reply or search link that sends us to log in
                raise AlreadyReached("redirected into a trap (linkpolicy.py)")
            spider.seen.add(request.url)
            request.meta["vaern_admitted"] = request.url  # a retry of this request passes again
        request.headers.pop(b"If-None-Match", None)
        request.headers.pop(b"If-Modified-Since", None)
        if fetch.kind in ("start", "search"):
            # Start pages are where discovery begins: a 304 would leave nothing to follow.
            return
        known = spider.known.get(request.url)
        if known is None:
            return
        if known.etag:
            request.headers[b"If-None-Match"] = known.etag.encode("latin-1", "replace")
        if known.last_modified:
            request.headers[b"If-Modified-Since"] = known.last_modified.encode("latin-1", "replace")


def related(a: str, b: str) -> bool:
    """Could two URLs be one page? The same host and path (the query differs), or one path inside
    the other below the root (`/post/` and `/post/comment-page-3/`). Two unrelated pages that
    happen to say the same are two publications, each kept."""
    pa, pb = urlsplit(a), urlsplit(b)
    if pa.netloc != pb.netloc:
        return False
    if pa.path.rstrip("/") == pb.path.rstrip("/"):
        return True
    short, long = sorted((pa.path.rstrip("/"), pb.path.rstrip("/")), key=len)
    return bool(short) and long.startswith(short + "/")


def content_key(page: Page) -> str:
    """What a page says (quiet title and text), to tell one page served under two URLs."""
    return hashlib.sha256(f"{quiet_text(page.title)}\x00{quiet_text(page.text)}".encode()).hexdigest()


def _content_type(response: Response) -> str:
    raw = response.headers.get(b"Content-Type") or b""
    return raw.decode("latin-1").split(";", 1)[0].strip().lower()


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _same_page(origin: str, final: str) -> bool:
    """Whether `final` still names the page at `origin`: scheme, `www.`, default port, fragment
    and a trailing slash aside; a path that only grew (a slug after the post's id) and a query
    that only gained parameters are the same page too."""
    from urllib.parse import parse_qsl

    def key(url: str) -> tuple[str, str, set[tuple[str, str]]]:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower().removeprefix("www.")
        port = parts.port if parts.port not in (None, 80, 443) else None
        return (f"{host}:{port}" if port else host, parts.path.rstrip("/"), set(parse_qsl(parts.query)))

    (host_a, path_a, query_a), (host_b, path_b, query_b) = key(origin), key(final)
    grown = path_b == path_a or path_b.startswith(path_a + "/")
    return host_a == host_b and grown and query_a <= query_b


def _origin(request: Request) -> str:
    """The URL a request set out to fetch, before any redirect."""
    chain = request.meta.get("redirect_urls")
    return str(chain[0]) if chain else request.url


__all__ = ["FetchPolicyMiddleware", "Counts", "Fetch", "FollowRules", "KnownPage", "PageSink", "SiteSpider"]
