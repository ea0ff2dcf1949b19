"""What a fetched HTML page says: its visible text, its title and the links on it, in one pass.

The text is what the matchers read, so it must keep a name together however it is marked up:
inline elements (`<b>René</b> Rosenkilde`, `<a>`, `<span>`) run together exactly as a browser
shows them, while block elements (paragraphs, list items, table cells, headings, `<br>`) end a
line, so words from different blocks never merge into a false name. Scripts, styles and
templates are dropped, except a `<template shadowrootmode>`: a shadow root as the browser path
serialises it (crawler/render.py), whose content is shown. `alt` text of images stands where the
image stands; `title` attributes (tooltips) are added as their own lines after the block that
holds them. CSS is not evaluated: text hidden by a stylesheet or inline `display:none`
(collapsed "read more" parts, say) is kept, because a possible hit is better than a missed one.

The page `<title>` is `title`, a field of its own, and not part of the text: glued in front of
the body, a title ending in a name part ("Sandheden om René") ran into a body opening with the
name ("René Rosenkilde er …"). The pipeline matches the two fields apart.

Links are the `href`s of `<a>` and `<area>` and the target of a `<meta http-equiv="refresh">`
(a page that refreshes after a delay is read, not redirected: redirects.py), made absolute
against the page URL (or `<base>`), without fragments, http(s) only, and without links to files
that are not pages (images, archives, office documents, media — Scrapy's IGNORED_EXTENSIONS).

`canonical` is the page's `<link rel="canonical">` (absolute), which the spider uses to tell one
page under two URLs.

The HTML is parsed by htmltree.py, so no nesting depth hides the text after it.

No configuration; used by the spider and usable on browser-rendered HTML (`extract_html`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from posixpath import splitext
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from scrapy.linkextractors import IGNORED_EXTENSIONS
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom, resolve_encoding
from w3lib.url import safe_url_string

from vaern.crawler.htmltree import parse_html

_SKIP = frozenset({"script", "style", "template", "iframe", "frame", "noembed"})
_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
        "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
        "frameset", "h1", "h2", "h3", "h4", "h5", "h6", "head", "header", "hgroup", "hr", "html",
        "legend", "li", "main", "menu", "nav", "noscript", "ol", "option", "p", "pre", "section",
        "select", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "title", "tr", "ul",
        "textarea", "button", "label",
    }
)  # fmt: skip
_LINK_TAGS = frozenset({"a", "area"})
_ALT_TAGS = frozenset({"img", "area", "input"})
_IGNORED_EXTENSIONS = frozenset("." + ext for ext in IGNORED_EXTENSIONS)
_SPACE = re.compile(r"[\s\u00a0\u200b]+")
_REFRESH = re.compile(r"\s*[0-9.]+\s*;\s*url=\s*(?P<url>.*)", re.DOTALL | re.IGNORECASE)  # as w3lib reads it


def decide_encoding(content_type: bytes | str | None, body: bytes) -> str:
    """The encoding to read a page in: a byte-order mark, else the HTTP header's charset, else
    `<meta charset>` / `http-equiv` in the body; with none of these, UTF-8 when the body is valid
    UTF-8 and otherwise windows-1252.

    The last rule is deliberate: Danish pages without a declaration are nearly always
    windows-1252 or ISO-8859-1 (which browsers read as windows-1252), and statistical guessing
    gets short Danish texts wrong (it reads "på" as Central European "pĺ").
    """
    bom, _ = read_bom(body)
    if bom:
        return str(resolve_encoding(bom) or bom)
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    for declared in (http_content_type_encoding(content_type or ""), html_body_declared_encoding(body)):
        resolved = resolve_encoding(declared) if declared else None
        if resolved:
            return str(resolved)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


@dataclass(frozen=True)
class Extracted:
    """The text, title and outgoing links of one HTML page."""

    text: str
    title: str
    links: tuple[str, ...]
    canonical: str | None = None  # the page's `<link rel="canonical">`, absolute
    # (absolute URL, visible text) of each link with text, in page order (listings: spider.py)
    anchors: tuple[tuple[str, str], ...] = ()


class _Lines:
    """Collects inline runs into lines; a block boundary ends the current line."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._run: list[str] = []
        # One list of pending tooltip texts per open block; flushed when the block closes.
        self.titles: list[list[str]] = [[]]

    def add(self, text: str | None) -> None:
        if text:
            self._run.append(text)

    def end_line(self) -> None:
        if self._run:
            line = _SPACE.sub(" ", "".join(self._run)).strip()
            self._run.clear()
            if line:
                self.lines.append(line)

    def open_block(self) -> None:
        self.end_line()
        self.titles.append([])

    def close_block(self) -> None:
        self.end_line()
        pending = self.titles.pop() if len(self.titles) > 1 else self.titles[0]
        for title in pending:
            line = _SPACE.sub(" ", title).strip()
            if line:
                self.lines.append(line)
        pending.clear()


def extract_tree(root: Any, base_url: str) -> Extracted:
    """Extract from a parsed lxml tree (from `htmltree.parse_html`)."""
    out = _Lines()
    title = ""
    titled = False
    base = base_url
    hrefs: list[str] = []
    canonical: str | None = None
    anchored: list[tuple[str, str]] = []

    def start(el: Any, tag: str) -> None:
        nonlocal base, canonical
        if tag in _BLOCK:
            out.open_block()
        tooltip = el.get("title")
        if tooltip and tag != "title":
            out.titles[-1].append(tooltip)
        if tag in _LINK_TAGS:
            href = el.get("href")
            if href:
                hrefs.append(href)
                if tag == "a":
                    label = _SPACE.sub(" ", "".join(el.itertext())).strip()
                    if label:
                        anchored.append((href, label))
        elif tag == "br":
            out.end_line()
        elif tag == "meta" and "refresh" in (el.get("http-equiv") or "").lower():
            refresh = _REFRESH.match(el.get("content") or "")
            if refresh:
                hrefs.append(refresh.group("url").strip(" \"'"))
        elif tag == "link" and canonical is None and "canonical" in (el.get("rel") or "").lower().split():
            canonical = el.get("href")
        elif tag == "base" and base == base_url and el.get("href"):
            base = urljoin(base_url, el.get("href").strip())
        if tag in _ALT_TAGS:
            alt = el.get("alt")
            if alt and (tag != "input" or (el.get("type") or "").lower() == "image"):
                out.add(f" {alt} ")
        out.add(el.text)

    def end(tag: str) -> None:
        if tag in _BLOCK:
            out.close_block()

    root_tag = root.tag if isinstance(root.tag, str) else ""
    start(root, root_tag)
    stack: list[tuple[Any, str, Iterator[Any]]] = [(root, root_tag, iter(root))]
    while stack:
        element, tag, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            end(tag)
            if stack:
                out.add(element.tail)
            continue
        child_tag = child.tag
        if child_tag == "template" and child.get("shadowrootmode"):
            # A shadow root the browser serialised (declarative shadow DOM): shown, so read.
            child_tag = "div"
        elif not isinstance(child_tag, str) or child_tag in _SKIP:
            # Comments, processing instructions, scripts: their own text is not shown, the text after them is.
            out.add(child.tail)
            continue
        child_tag = child_tag.lower()
        if child_tag == "title" and not titled:
            # The page title: its own field, not a line of the text.
            titled = True
            title = _SPACE.sub(" ", "".join(child.itertext())).strip()
            out.add(child.tail)
            continue
        start(child, child_tag)
        stack.append((child, child_tag, iter(child)))
    out.close_block()
    canonical_url = _absolute_links([canonical], base) if canonical else ()
    anchors = tuple((url[0], label) for href, label in anchored if (url := _absolute_links([href], base)))
    return Extracted(
        text="\n".join(out.lines), title=title, links=_absolute_links(hrefs, base),
        canonical=canonical_url[0] if canonical_url else None, anchors=anchors,
    )


def extract_html(html: str | bytes, base_url: str) -> Extracted:
    """Parse HTML (str, or bytes in a declared/UTF-8 encoding) and extract from it, however
    deeply it nests (htmltree.py)."""
    if not (html.strip() if isinstance(html, str) else html.strip()):
        return Extracted(text="", title="", links=())
    return extract_tree(parse_html(html), base_url)


def _absolute_links(hrefs: list[str], base: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    origin = ""
    for href in hrefs:
        href = href.strip()
        if not href or href[0] == "#":
            continue
        # The same navigation links appear on every page of a site; resolving them is most of
        # the cost of a page, so results are cached on what the result depends on: nothing for
        # an absolute URL, the origin for a root-relative one, the whole base otherwise.
        if href.startswith(("http://", "https://", "HTTP://", "HTTPS://")):
            url = _resolve("", href)
        elif href[0] == "/" and not href.startswith("//"):
            origin = origin or _origin(base)
            url = _resolve(origin, href)
        else:
            url = _resolve(base, href)
        if url is not None:
            seen.setdefault(url, None)
    return tuple(seen)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


@lru_cache(maxsize=65536)
def _resolve(base: str, href: str) -> str | None:
    """`href` made absolute against `base`, without fragment, if it is an http(s) page link."""
    try:
        url = urldefrag(urljoin(base, href) if base else href)[0]
        parts = urlsplit(url)
    except ValueError:
        return None  # malformed (e.g. a bad IPv6 literal); not a link we can follow
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    if splitext(parts.path)[1].lower() in _IGNORED_EXTENSIONS:
        return None
    return str(safe_url_string(url))
