"""Search providers for discovery: one interface, `search(query) -> list[Found]`, two providers.

- `BraveProvider`: the Brave Search API, `GET {base_url}/res/v1/web/search?q=…&count=N` with the
  key in `X-Subscription-Token`; results in `web.results[{url, title, description}]`.
- `SearxngProvider`: a self-hosted SearXNG, `GET {base_url}/search?q=…&format=json`; results in
  `results[{url, title, content}]`. The instance must allow JSON (`search.formats: [html, json]`
  in its settings.yml); otherwise it answers 403.

Every way a provider fails (refused, rate limited, unreachable, not JSON, JSON of another shape)
raises `ProviderError` with a sentence an operator can act on; it is recorded with the query, and
discovery goes on with the next one. `base_url` points a provider at a local fake in tests.
Provider addresses come from the operator's config, not from pages, so they are not put through
the crawler's SSRF guard (a SearXNG instance is usually on the internal network).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

from vaern import __version__
from vaern.config.schema import DiscoveryProvider

BRAVE_URL = "https://api.search.brave.com"
MAX_BYTES = 5 * 1024 * 1024  # an answer larger than this is not a search result page


@dataclass(frozen=True)
class Found:
    """One search result."""

    url: str
    title: str
    snippet: str


class ProviderError(Exception):
    """A query that got no usable answer; the message says why."""


class Provider(Protocol):
    name: str

    def search(self, query: str) -> list[Found]: ...


def _get(url: str, headers: dict[str, str], timeout: float, what: str, refused_hint: str) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                   "User-Agent": f"Vaern/{__version__} discovery", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) checked by config
            body = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        if exc.code == 429:
            wait = exc.headers.get("Retry-After")
            raise ProviderError(f"{what} is rate limiting us (HTTP 429{f', retry after {wait} s' if wait else ''}); "
                                "the query is tried again when it is next due") from None
        if exc.code in (401, 403):
            raise ProviderError(f"{what} refused the query (HTTP {exc.code}): {refused_hint}") from None
        raise ProviderError(f"{what} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ProviderError(f"{what} is unreachable: {reason}") from None
    if len(body) > MAX_BYTES:
        raise ProviderError(f"{what} sent more than {MAX_BYTES // (1024 * 1024)} MB; not a result page")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProviderError(f"{what} did not answer with JSON ({exc.__class__.__name__}: {exc})") from None


def _text(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _results(items: Any, what: str, snippet_key: str) -> list[Found]:
    if not isinstance(items, list):
        raise ProviderError(f"{what} answered JSON without a result list")
    out = []
    for item in items:
        if not isinstance(item, dict):
            continue
        url = item.get("url")
        if isinstance(url, str) and urlsplit(url).scheme in ("http", "https") and urlsplit(url).hostname:
            out.append(Found(url, _text(item.get("title"))[:500], _text(item.get(snippet_key))[:1000]))
    return out


class BraveProvider:
    def __init__(self, settings: DiscoveryProvider, name: str = "brave") -> None:
        assert settings.api_key is not None, "the schema requires a key for brave"
        self.name = name
        self.base = (settings.base_url or BRAVE_URL).rstrip("/")
        self._key = settings.api_key
        self.timeout, self.count = settings.timeout, settings.count

    def search(self, query: str) -> list[Found]:
        url = f"{self.base}/res/v1/web/search?{urlencode({'q': query, 'count': self.count})}"
        data = _get(url, {"X-Subscription-Token": self._key.get_secret_value()}, self.timeout,
                    f"Brave Search ({self.name})", "check discovery.providers[].api_key (the subscription token)")
        if not isinstance(data, dict):
            raise ProviderError(f"Brave Search ({self.name}) answered JSON that is not an object")
        web = data.get("web")
        if web is None:
            return []  # no web results for this query
        if not isinstance(web, dict):
            raise ProviderError(f"Brave Search ({self.name}) answered JSON without web results")
        return _results(web.get("results", []), f"Brave Search ({self.name})", "description")


class SearxngProvider:
    def __init__(self, settings: DiscoveryProvider, name: str = "searxng") -> None:
        assert settings.base_url is not None, "the schema requires base_url for searxng"
        self.name = name
        self.base = settings.base_url.rstrip("/")
        self.timeout = settings.timeout

    def search(self, query: str) -> list[Found]:
        url = f"{self.base}/search?{urlencode({'q': query, 'format': 'json'})}"
        what = f"SearXNG ({self.name})"
        data = _get(url, {}, self.timeout, what,
                    "enable JSON on the instance (search.formats: [html, json] in its settings.yml)")
        if not isinstance(data, dict):
            raise ProviderError(f"{what} answered JSON that is not an object")
        return _results(data.get("results"), what, "content")


def providers_of(settings: list[DiscoveryProvider]) -> list[Provider]:
    """The configured providers, each named by its kind (and its place, when a kind repeats)."""
    out: list[Provider] = []
    for i, entry in enumerate(settings):
        same = [s for s in settings if s.kind == entry.kind]
        name = entry.kind if len(same) == 1 else f"{entry.kind}#{i + 1}"
        out.append(BraveProvider(entry, name) if entry.kind == "brave" else SearxngProvider(entry, name))
    return out
