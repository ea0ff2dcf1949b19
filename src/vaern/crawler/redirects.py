"""Following redirects as a browser does: only to http(s) addresses; anything else is ignored.

Scrapy's redirect middlewares build the request for the target before they look at its scheme,
and a request for `javascript:void(0)`, `mailto:…` or `tel:…` cannot even be built ("Missing
scheme"): the page failed and was never read. A browser ignores such a
`<meta http-equiv="refresh">` and shows the page, so these middlewares look at the target first:

- `MetaRefreshMiddleware`: a refresh whose target is not an http(s) URL with a host (another
  scheme, or no URL at all: w3lib cannot even parse "http://[::1/") is ignored and the page is
  read as it is. A refresh after a delay ("10;url=/") shows the page until the delay is up, so
  the page is read as it is too, and its target followed as a link (extract.py takes it as
  one): redirected at once, a post page refreshing to the front page was never read. Only a
  refresh at once (delay 0) is followed as a redirect, as the browser shows only its target;
- `RedirectMiddleware`: a 3xx whose Location is such a target is not followed either; the
  spider reports the response as a redirect without a usable Location, as it does for a 3xx
  without one (a browser shows an error there, not a page).

Every followable target is left to Scrapy's own middlewares, with their settings
(REDIRECT_MAX_TIMES, METAREFRESH_MAXDELAY, METAREFRESH_IGNORE_TAGS). settings.py puts these
classes in Scrapy's places.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from scrapy.downloadermiddlewares import redirect
from scrapy.http import HtmlResponse
from scrapy.utils.response import get_meta_refresh
from w3lib.url import safe_url_string

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.http import Response

_HTTP_STATUSES = frozenset({301, 302, 303, 307, 308})  # the ones Scrapy follows


def followable(url: str) -> bool:
    """Is `url` (absolute) somewhere a browser goes on a redirect: http(s), with a host?"""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a broken IPv6 literal
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


class MetaRefreshMiddleware(redirect.MetaRefreshMiddleware):
    """Scrapy's, but only a refresh at once to an http(s) URL is a redirect; after any other the
    page is read as it is."""

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        if isinstance(response, HtmlResponse):
            try:
                interval, url = get_meta_refresh(response, ignore_tags=self._ignore_tags)
            except ValueError:  # a target that is no URL at all ("http://[::1/")
                return response
            if url is not None and (not followable(url) or interval):
                return response
        return super().process_response(request, response)


class RedirectMiddleware(redirect.RedirectMiddleware):
    """Scrapy's, but a 3xx to anything other than an http(s) URL is not followed."""

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        location = response.headers.get(b"Location")
        if response.status in _HTTP_STATUSES and location is not None:
            try:
                target = urljoin(request.url, safe_url_string(location))
            except ValueError:
                return response
            if not followable(target):
                return response
        return super().process_response(request, response)
