"""Feeds and sitemaps: what they list, and where a site keeps them. No network here
(crawler/feedpoll.py fetches; this module reads what was fetched).

- `parse_feed(body, url)`: the entries of an RSS 2.0/0.9x, RSS 1.0 (RDF) or Atom feed, or of a
  sitemap (`<urlset>`); a sitemap index (`<sitemapindex>`) gives the sitemaps it lists instead.
  An entry's key is its id (RSS `guid`, Atom `id`) or its link, with its date where the feed
  gives one, so a comment (a new guid) or a sitemap entry with a new `lastmod` is new, and an
  entry seen before is not. WordPress post feeds name each post's comment feed
  (`wfw:commentRss`): those are returned as more feeds.
- `feeds_in_html(html, url)`: `<link rel="alternate" type="application/rss+xml|atom+xml">`.
- `sitemaps_in_robots(text, url)`: robots.txt `Sitemap:` lines.
- `usual_places(start_url)`: where WordPress and most sites keep them (`/feed/`,
  `/comments/feed/`, `/sitemap.xml`), tried when detection finds nothing in the pages.

Hostile input: XML is parsed with defusedxml (no entity expansion, no external entities or DTD
fetching: a billion-laughs feed is refused), a feed larger than `MAX_FEED_BYTES` is refused by
the fetch, and at most `MAX_ENTRIES` entries and `MAX_CHILDREN` child sitemaps/comment feeds are
read. Anything unreadable raises `FeedError` saying what is wrong: a failure of that feed, never
of the crawl. Controlled by `sites[].feeds` (config/schema.py `Feeds`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

MAX_FEED_BYTES = 8 << 20  # a feed or sitemap larger than this is refused (sitemaps may be 50 MB: split them)
MAX_ENTRIES = 5000  # entries read from one feed
MAX_CHILDREN = 50  # child sitemaps of an index, comment feeds of a post feed

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+xml")


class FeedError(Exception):
    """A feed that cannot be read: the message says what is wrong with it."""


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed or URL of a sitemap: `url` is the page to crawl; `key` tells it apart
    from every other entry the site's feeds ever listed (id or link, and its date)."""

    key: str
    url: str


@dataclass(frozen=True)
class ParsedFeed:
    kind: str  # rss | atom | rdf | sitemap | sitemapindex
    entries: tuple[FeedEntry, ...]
    feeds: tuple[str, ...] = ()  # more feeds it names: child sitemaps, per-post comment feeds


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _children(element: Any, name: str) -> Iterator[Any]:
    return (c for c in element if _local(c.tag) == name)


def _text(element: Any, name: str) -> str:
    found = next(_children(element, name), None)
    return (found.text or "").strip() if found is not None else ""


def _absolute(link: str, base: str) -> str | None:
    link = link.strip()
    if not link:
        return None
    url = urljoin(base, link)
    return url if urlsplit(url).scheme in ("http", "https") else None


def parse_feed(body: bytes, url: str) -> ParsedFeed:
    """What the feed or sitemap at `url` lists; FeedError when it is not one, or is malformed."""
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    if len(body) > MAX_FEED_BYTES:
        raise FeedError(f"{url}: larger than {MAX_FEED_BYTES >> 20} MB")
    if not body.strip():
        raise FeedError(f"{url}: empty")
    try:
        root = fromstring(body)
    except DefusedXmlException as exc:
        raise FeedError(f"{url}: refused XML ({type(exc).__name__}: entities and DTDs are not expanded)") from None
    except ParseError as exc:
        raise FeedError(f"{url}: not well-formed XML ({exc})") from None
    kind = _local(root.tag)
    if kind == "rss":
        channel = next(_children(root, "channel"), None)
        if channel is None:
            raise FeedError(f"{url}: an RSS feed without a <channel>")
        return _rss(channel, url, "rss")
    if kind == "rdf":
        return _rss(root, url, "rdf")
    if kind == "feed":
        return _atom(root, url)
    if kind == "urlset":
        entries = []
        for item in _capped(_children(root, "url")):
            loc = _absolute(_text(item, "loc"), url)
            if loc:
                entries.append(FeedEntry(f"{loc} {_text(item, 'lastmod')}".strip(), loc))
        return ParsedFeed("sitemap", tuple(entries))
    if kind == "sitemapindex":
        children = [_absolute(_text(item, "loc"), url) for item in _children(root, "sitemap")]
        return ParsedFeed("sitemapindex", (), tuple(dict.fromkeys(c for c in children if c))[:MAX_CHILDREN])
    raise FeedError(f"{url}: not a feed or sitemap (the document is <{kind or '?'}>)")


def _capped(items: Iterator[Any]) -> Iterator[Any]:
    for n, item in enumerate(items):
        if n >= MAX_ENTRIES:
            return
        yield item


def _rss(channel: Any, url: str, kind: str) -> ParsedFeed:
    entries: list[FeedEntry] = []
    comment_feeds: list[str] = []
    for item in _capped(_children(channel, "item")):
        link = _absolute(_text(item, "link") or item.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about", ""), url)
        guid = _text(item, "guid")
        if link is None and guid.startswith(("http://", "https://")):
            link = _absolute(guid, url)
        if link is None:
            continue
        entries.append(FeedEntry(guid or f"{link} {_text(item, 'pubdate')}".strip(), link))
        comments = _absolute(_text(item, "commentrss"), url)
        if comments and len(comment_feeds) < MAX_CHILDREN:
            comment_feeds.append(comments)
    return ParsedFeed(kind, tuple(entries), tuple(dict.fromkeys(comment_feeds)))


def _atom(root: Any, url: str) -> ParsedFeed:
    entries: list[FeedEntry] = []
    for item in _capped(_children(root, "entry")):
        links = [(ln.get("rel") or "alternate", ln.get("href") or "") for ln in _children(item, "link")]
        href = next((h for rel, h in links if rel == "alternate"), links[0][1] if links else "")
        link = _absolute(href, url)
        if link is None:
            continue
        entries.append(FeedEntry(_text(item, "id") or f"{link} {_text(item, 'updated')}".strip(), link))
    return ParsedFeed("atom", tuple(entries))


# -- where a site keeps them ------------------------------------------------------------------------


def feeds_in_html(html: str | bytes, url: str) -> list[str]:
    """The feeds a page announces with `<link rel="alternate" type="…rss+xml|atom+xml">`."""
    import lxml.etree

    from vaern.crawler.htmltree import parse_html

    if isinstance(html, bytes):
        html = html.decode("utf-8", "replace")
    try:
        doc = parse_html(html)
    except (ValueError, lxml.etree.ParserError):
        return []
    base = urljoin(url, doc.xpath("string(//base/@href)") or url)
    found = []
    for link in doc.xpath("//link[@href]"):
        rels = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        if "alternate" in rels and kind in FEED_TYPES:
            absolute = _absolute(link.get("href"), base)
            if absolute:
                found.append(absolute)
    return list(dict.fromkeys(found))


_SITEMAP_LINE = re.compile(r"^\s*sitemap\s*:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


def sitemaps_in_robots(text: str, url: str) -> list[str]:
    """The `Sitemap:` lines of a robots.txt fetched from `url`."""
    found = [_absolute(m.group(1), url) for m in _SITEMAP_LINE.finditer(text)]
    return list(dict.fromkeys(f for f in found if f))[:MAX_CHILDREN]


def site_root(start_url: str) -> str:
    parts = urlsplit(start_url)
    return urlunsplit((parts.scheme, parts.netloc, "/", "", ""))


def usual_places(start_url: str) -> list[str]:
    """Where WordPress (and many others) keep the post feed, the comment feed and the sitemap."""
    root = site_root(start_url)
    return [urljoin(root, "feed/"), urljoin(root, "comments/feed/"), urljoin(root, "sitemap.xml")]
