"""The spider that crawls one site and hands each outcome to a `PageSink`.

One crawl (controlled by the site's config):
1. Start URLs (depth 0) and this crawl's search URLs (`search_urls` with `{query}` filled in; see
   search.py) are requested first. Search result pages are only used to find links: they echo
   the searched name, so they are never reported as pages (they would always "name" the person).
2. Links on fetched pages are followed breadth-first when they pass `follow` (allow/deny regexes
   on absolute URLs; without allow rules, the hosts of the start and search URLs) and the depth
   stays within `follow.max_depth`.
3. When discovery runs dry, the URLs the database knows from earlier crawls (`known`) that were
   not reached are re-checked at their known depth (or, unknown, with no links followed): those
   with an open hit every crawl (so a deletion, 404/410, is noticed at once), the others once
   their last check is `follow.recheck_after` old. That is how a deleted post or an edited deep
   page is noticed even when nothing links to it any more, without re-requesting a whole
   unchanged site every crawl (a forum's changed threads are reached through its changed lists).
4. The crawl stops after `follow.max_pages` fetches (re-checks included; search pages not).

Each request is conditional when the URL is known (If-None-Match / If-Modified-Since), except
start and search URLs, which are always fetched in full because discovery begins there. A 304, or
a 2xx whose body has the known SHA-256, is reported as `unchanged` and its page is not matched
again (links of a 2xx are still followed; a 304 has none, which is why step 3 exists). Outcomes:
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
from dataclasses import dataclass
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
from vaern.crawler.extract import Extracted, decide_encoding, extract_tree
from vaern.crawler.htmltree import parse_html
from vaern.crawler.netguard import BlockedRequest
from vaern.domain import FetchFailure, ImageText, Page

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.python.failure import Failure

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
        **kwargs: Any,
    ) -> None:
        super().__init__(name=f"vaern-{site.id}", **kwargs)
        self.config = config
        self.site = site
        self.sink = sink
        self.known = known
        self.search_urls = list(search_urls)
        self.rules = FollowRules(site)
        self.counts = Counts()
        self.finish_reason = "not started"
        self.sink_error: BaseException | None = None
        self.seen: set[str] = set()  # every URL requested (redirect targets too): nothing is fetched twice
        self._reported: set[str] = set()  # final URLs already handed to the sink
        self._attempts = 0  # fetches counted against max_pages
        self.stopping = False  # max_pages reached or the sink failed: no more requests
        self._rechecked = False
        self._reading: dict[str, _ImageRound] = {}  # pages whose images are being read, by URL

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SiteSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._on_idle, signal=signals.spider_idle)
        crawler.signals.connect(spider._on_headers, signal=signals.headers_received)
        crawler.signals.connect(spider._on_closed, signal=signals.spider_closed)
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
            content_hash=hashlib.sha256(response.body).hexdigest(),
            depth=fetch.depth,
        )
        return page, extracted

    # -- crawl -------------------------------------------------------------------------------

    async def start(self) -> Any:
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
        if fetch.kind == "start" and response.request is not None:
            if _host(response.url) != _host(_origin(response.request)):
                self.rules.add_host(response.url)
        if fetch.kind == "search":
            yield from self._parse_search(response, fetch)
            return
        self._count_attempt()
        status = response.status
        url = response.url
        if url in self._reported:
            return  # reached again through a redirect; already reported this crawl
        self._reported.add(url)
        if status == 304:
            self._emit(self.sink.unchanged, url)
            self.counts.unchanged += 1
        elif status in (404, 410):
            self._emit(self.sink.gone, url, status)
            self.counts.gone += 1
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
            else:
                page, extracted = made
                known = self.known.get(url)
                if known is not None and known.content_hash == page.content_hash:
                    self._emit(self.sink.unchanged, url)
                    self.counts.unchanged += 1
                else:
                    first_image = self._first_image(page)
                    if first_image is None:
                        self._emit(self.sink.page, page)
                        self.counts.fetched += 1
                    else:
                        yield first_image  # the page goes to the sink once its images are read
                yield from self._follow(extracted.links, fetch.depth + 1)
        else:
            reason = "redirect without a usable Location" if 300 <= status < 400 else f"HTTP {status}"
            self._fail(_origin(response.request) if response.request else url, reason, status)
        self._check_budget()

    # -- text in images (config `ocr`, crawler/ocr.py) -----------------------------------------

    def _first_image(self, page: Page) -> Request | None:
        """The request for the page's first image worth reading, or None (OCR off, no images)."""
        settings = self.config.ocr
        if not settings.enabled or settings.max_images == 0 or ocr.tesseract() is None:
            return None
        urls = ocr.image_urls(page.body, page.url, settings.max_images)
        if not urls:
            return None
        state = _ImageRound(page, urls, [], ocr.PageBudget(self._ocr_settings()))
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
            state.texts.append(ImageText(response.url, text, hashlib.sha256(body).hexdigest()))
        yield from self._next_image(state)

    def _image_failed(self, failure: Failure) -> Iterator[Request]:
        request: Request = failure.request  # type: ignore[attr-defined]
        log.info("OCR: image %s not fetched: %s", request.url, failure.value)
        yield from self._next_image(request.meta[_IMAGES])

    def _next_image(self, state: _ImageRound) -> Iterator[Request]:
        if state.urls and state.budget.left() > 0 and not self.stopping:
            yield self._image_request(state)
        else:
            self._page_with_images(state)

    def _page_with_images(self, state: _ImageRound) -> None:
        if self._reading.pop(state.page.url, None) is None:
            return  # already handed over
        self._emit(self.sink.page, dataclasses.replace(state.page, images=tuple(state.texts)))
        self.counts.fetched += 1

    def _parse_search(self, response: Response, fetch: Fetch) -> Iterator[Request]:
        made = self.page_from_response(response, fetch) if 200 <= response.status < 300 else None
        if made is None:
            log.warning("search %s gave HTTP %s, no results used", response.url, response.status)
            return
        yield from self._follow(made[1].links, fetch.depth + 1)

    def _follow(self, links: Sequence[str], depth: int) -> Iterator[Request]:
        if depth > self.site.follow.max_depth or self.stopping:
            return
        for link in links:
            if link not in self.seen and self.rules.allows(link):
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
        self._check_budget()

    # -- bookkeeping -------------------------------------------------------------------------

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
        if self._rechecked or self.stopping:
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
                self._page_with_images(state)
            except CloseSpider:
                break


class RedirectLoop(IgnoreRequest):
    """A redirect leads back to a URL earlier in the same chain."""


class AlreadyReached(IgnoreRequest):
    """A redirect leads to a URL this crawl has already requested; it is handled there."""


class FetchPolicyMiddleware:
    """Downloader middleware for a SiteSpider's requests, redirect targets included:

    - once the crawl is stopping (max_pages, a failed sink), nothing more is sent;
    - a redirect back into its own chain fails at once as a redirect loop (Scrapy's duplicate
      filter would drop it silently, scrapy#1225, and we switch that filter off per request);
    - a redirect to a URL this crawl already requested is dropped (it is fetched once, there);
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
        if chain and request.meta.get("vaern_admitted") != request.url:
            if request.url in chain:
                raise RedirectLoop("redirect loop")
            if request.url in spider.seen:
                raise AlreadyReached("already requested in this crawl")
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


def _content_type(response: Response) -> str:
    raw = response.headers.get(b"Content-Type") or b""
    return raw.decode("latin-1").split(";", 1)[0].strip().lower()


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _origin(request: Request) -> str:
    """The URL a request set out to fetch, before any redirect."""
    chain = request.meta.get("redirect_urls")
    return str(chain[0]) if chain else request.url


__all__ = ["FetchPolicyMiddleware", "Counts", "Fetch", "FollowRules", "KnownPage", "PageSink", "SiteSpider"]
