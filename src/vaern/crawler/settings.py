"""Scrapy settings for one site's crawl, derived from the config and nothing else.

Site config → Scrapy setting:
  robots: obey|ignore        → ROBOTSTXT_OBEY
  concurrency                → CONCURRENT_REQUESTS(_PER_DOMAIN) (and AutoThrottle's target)
  delay                      → DOWNLOAD_DELAY (and AutoThrottle's start delay)
  autothrottle               → AUTOTHROTTLE_ENABLED
  timeout                    → DOWNLOAD_TIMEOUT
  max_response_mb            → DOWNLOAD_MAXSIZE (bytes; a bigger response is abandoned, not truncated)
  retries                    → RETRY_TIMES (timeouts, dropped connections, 5xx)
  user_agent                 → USER_AGENT (and the robots.txt agent)
network.allow_private_hosts  → NETGUARD_ALLOW_PRIVATE_HOSTS (the SSRF guard)

Fixed choices, and why:
- Breadth-first order (FIFO queues, priority by depth): with max_pages, the pages nearest the
  start URLs are the ones fetched.
- Only http(s) download handlers: file://, ftp://, s3:// and data: could read local files or
  internal stores; the SSRF guard refuses them too.
- Redirects and meta refreshes are followed only to http(s) targets (redirects.py): a refresh
  to `javascript:` or `mailto:` is ignored, as browsers ignore it, and the page is read.
- Every HTTP status reaches the spider (HTTPERROR_ALLOW_ALL) so 304/404/410/5xx are reported,
  not silently dropped; redirects are still followed by Scrapy's redirect middleware.
- No telnet console (it would open a port), no HTTP cache (conditional GET is ours).
"""

from __future__ import annotations

from typing import Any

from vaern import __version__
from vaern.config import Config, Site

_UNUSED_EXTENSIONS = (
    "telnet.TelnetConsole",
    "remote_control.RemoteControl",
    "feedexport.FeedExporter",
    "spiderstate.SpiderState",
    "memdebug.MemoryDebugger",
)
_REDIRECTS = {"MetaRefreshMiddleware": 580, "RedirectMiddleware": 600}  # Scrapy's orders for its own
NETGUARD_ORDER = 50  # before robots.txt (100) and everything else that might touch the network


def user_agent(config: Config, site: Site) -> str:
    """The site's own user_agent, else Værn's, which names the organisation (honest crawling)."""
    return site.user_agent or f"Mozilla/5.0 (compatible; Vaern/{__version__}; {config.organisation})"


def build_settings(config: Config, site: Site) -> dict[str, Any]:
    """The Scrapy settings dict for crawling `site`."""
    maxsize = int(site.max_response_mb * 1024 * 1024)
    return {
        "BOT_NAME": "vaern",
        "USER_AGENT": user_agent(config, site),
        "ROBOTSTXT_OBEY": site.robots == "obey",
        "LOG_LEVEL": "WARNING",
        # Consoles into a running crawl (telnet; Scrapy 2.19's HTTP remote control runs Python sent
        # to it): a crawl process holds personal data and needs neither.
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        # Not even loaded: what a crawl never uses (the consoles above, feed export, job state on
        # disk, the memory debugger) costs every crawl process its imports (aiohttp, conch).
        "EXTENSIONS": {f"scrapy.extensions.{name}": None for name in _UNUSED_EXTENSIONS},
        "HTTPCACHE_ENABLED": False,
        # Politeness.
        # A crawl is one site: the global limit equals the per-site one, so no more requests sit
        # in the downloader's queue than can be in flight (they would run on past max_pages).
        "CONCURRENT_REQUESTS": site.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": site.concurrency,
        "DOWNLOAD_DELAY": site.delay,
        "DOWNLOAD_DELAY_JITTER": 0.5 if site.delay > 0 else 0.0,
        "AUTOTHROTTLE_ENABLED": site.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(site.delay, 0.5),
        "AUTOTHROTTLE_MAX_DELAY": max(60.0, site.delay),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(site.concurrency),
        # Limits and tolerance.
        "DOWNLOAD_TIMEOUT": site.timeout,
        "DOWNLOAD_MAXSIZE": maxsize,
        "DOWNLOAD_WARNSIZE": 0,
        "RETRY_TIMES": site.retries,
        # A page that still fails after retries is reported to the sink; not an error of the crawl.
        "RETRY_GIVE_UP_LOG_LEVEL": "INFO",
        "REDIRECT_MAX_TIMES": 10,
        "HTTPERROR_ALLOW_ALL": True,
        # The spider yields no items, only requests (scheduled synchronously). Scrapy starts
        # CONCURRENT_ITEMS worker tasks for every response's output (scrapy#5182); with the
        # default 100 that was most of the crawl's CPU time.
        "CONCURRENT_ITEMS": 1,
        # Scrapy checks each callback's source for `return value` in a generator; its cache is
        # keyed by the bound method, which is new for every request, so it re-parsed our source
        # again and again. Our callbacks return nothing.
        "WARN_ON_GENERATOR_RETURN_VALUE": False,
        # Order.
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
        "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",
        # Safety.
        "DOWNLOAD_HANDLERS": {"file": None, "ftp": None, "s3": None, "data": None},
        "DOWNLOADER_MIDDLEWARES": {
            "vaern.crawler.netguard.NetGuardMiddleware": NETGUARD_ORDER,
            "vaern.crawler.spider.FetchPolicyMiddleware": NETGUARD_ORDER + 10,
            # A logged-in site's session cookies, to its own hosts only (sitelogin.py); after
            # Scrapy's cookie middleware (700), which keeps what the site sets during the crawl.
            "vaern.crawler.sitelogin.SessionCookieMiddleware": 710,
            # Redirects and meta refreshes to javascript:, mailto: and the like are ignored, as
            # browsers ignore them, instead of failing the page (redirects.py); Scrapy's places.
            **{f"scrapy.downloadermiddlewares.redirect.{name}": None for name in _REDIRECTS},
            **{f"vaern.crawler.redirects.{name}": order for name, order in _REDIRECTS.items()},
        },
        "NETGUARD_ALLOW_PRIVATE_HOSTS": list(config.network.allow_private_hosts),
    }
