"""Runs one crawl of one site, in the calling process; the entry point the pipeline calls.

`crawl_site` starts Twisted's reactor, crawls and stops it. A reactor cannot be restarted, so a
process can run one crawl: callers run each crawl in a child process (which also keeps a
crashing or leaking crawl away from the service). Everything the crawl finds goes to the
`PageSink` as it happens; `crawl_site` returns the counts.

Controlled by the site's config (see settings.py and spider.py) and `network.allow_private_hosts`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scrapy.crawler import AsyncCrawlerProcess

from vaern.config import Config, Site
from vaern.crawler.search import search_urls
from vaern.crawler.settings import build_settings
from vaern.crawler.spider import KnownPage, PageSink, SiteSpider

if TYPE_CHECKING:
    from vaern.crawler.desk import EvidenceDesk

__all__ = ["CrawlStats", "KnownPage", "PageSink", "crawl_site", "spider_class"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CrawlStats:
    """How one crawl went. Each count is the number of sink calls of that kind, except:
    `failed` excludes refusals by the SSRF guard, which are counted in `blocked` (both are
    reported through `sink.failed`); `skipped` counts 2xx responses that were not pages."""

    fetched: int
    unchanged: int
    failed: int
    gone: int
    blocked: int
    skipped: int = 0
    duplicates: int = 0  # pages whose content was reported under another URL this crawl (not reported again)
    trapped: int = 0  # links refused as traps: built-in deny patterns, nested return chains, family budgets
    traps_suspected: tuple[str, ...] = ()  # URL families that ran out of follow.max_per_family

    def notes(self) -> str | None:
        """The run's note on traps, for `crawl_runs.notes` (None when nothing was refused)."""
        if not self.trapped:
            return None
        note = f"{self.trapped} links refused as traps"
        if self.traps_suspected:
            note += f"; trap suspected: {', '.join(self.traps_suspected)}"
        return note
    finish_reason: str = "finished"  # finished | max_pages | sink_error | shutdown …
    # render: auto — what the site needed this crawl ("http" | "browser"); store it in
    # sites.render_decision and pass it to the next crawl. None for http and browser sites.
    render_decision: str | None = None
    # A logged-in site (sitelogin.py): why its session no longer works, if this crawl found so;
    # the crawl stopped there and reported nothing after it.
    needs_login: str | None = None


def spider_class(site: Site) -> type[SiteSpider]:
    """The spider for the site's `render` mode: HTTP, or the browser (browser and auto)."""
    if site.render == "http":
        return SiteSpider
    from vaern.crawler.browserspider import BrowserSpider

    return BrowserSpider


def _offline_public_suffixes() -> None:
    """Scrapy's cookie middleware asks tldextract where a domain's registrable part ends, and
    tldextract fetches the Public Suffix List from the internet on first use (a long traceback
    on a closed network). The snapshot bundled with tldextract is used instead, with no network
    at run time."""
    from scrapy.downloadermiddlewares import cookies
    from tldextract import TLDExtract

    cookies._split_domain = TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


def crawl_site(
    config: Config,
    site: Site,
    sink: PageSink,
    known: Mapping[str, KnownPage],
    search_queries: Sequence[str] = (),
    render_decision: str | None = None,
    evidence: EvidenceDesk | None = None,
) -> CrawlStats:
    """Runs one Scrapy crawl of one site in THIS process (starts and stops the reactor; callers
    run it in a child process). `search_queries` are this crawl's names to search (see
    `search.plan_searches`); each is URL-encoded into every `{query}` of `site.search_urls`.
    `render_decision` is what the last crawl of a `render: auto` site reported (CrawlStats).
    `evidence` is the crawl's evidence desk (crawler/desk.py): evidence is then captured while the
    crawl goes on, and the crawl ends when what it owes is filed.

    Raises whatever the sink raised if a sink call failed (the crawl stops at that point).
    """
    _offline_public_suffixes()
    settings = build_settings(config, site)
    # Leave logging alone when the caller has configured it; otherwise let Scrapy set it up.
    settings["LOG_INSTALL_ROOT_HANDLER"] = not logging.getLogger().handlers
    extra: dict[str, object] = {}
    if site.render != "http":
        extra["render_decision"] = render_decision
    if evidence is not None:
        extra["evidence"] = evidence
    process = AsyncCrawlerProcess(settings)
    crawler = process.create_crawler(spider_class(site))
    process.crawl(
        crawler,
        config=config,
        site=site,
        sink=sink,
        known=known,
        search_urls=search_urls(site, search_queries),
        **extra,
    )
    process.start(install_signal_handlers=threading.current_thread() is threading.main_thread())

    spider = getattr(crawler, "spider", None)
    if not isinstance(spider, SiteSpider):
        raise RuntimeError(f"the crawl of site {site.id} did not start (see the log above)")
    if spider.sink_error is not None:
        raise spider.sink_error
    counts = spider.counts
    return CrawlStats(
        fetched=counts.fetched,
        unchanged=counts.unchanged,
        failed=counts.failed,
        gone=counts.gone,
        blocked=counts.blocked,
        skipped=counts.skipped,
        duplicates=counts.duplicates,
        trapped=counts.trapped,
        traps_suspected=tuple(spider.traps.suspected),
        finish_reason=spider.finish_reason,
        render_decision=getattr(spider, "render_decision", None),
        needs_login=spider.login_lost,
    )
