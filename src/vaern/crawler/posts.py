"""Posts and comments on a page, with their own permalinks, located in the page's text.

A group page or a thread holds many posts; a hit should point at the post that names the
person, not only at the page. `find_posts(html, url, text, to_text)` finds the posts in the
(rendered) HTML, works out each one's permalink, and locates its text in `Page.text` as
offsets, so the pipeline can map a mention's offset to its post (`domain.post_for`).

Controlled by `sites[].post_selector` (a CSS selector for one post on that site); without it,
posts are found by structure: `<article>`, `role="article"`, schema.org Comment/…Posting
items, or elements whose class is one of `POST_CLASSES`.

A post's permalink, in order of preference: its `data-permalink`; a link inside it (not inside
a nested post) marked as one: `rel="bookmark"`, class `permalink`, `itemprop="url"`, a link
around a `<time>` (how forums and social sites link a post's timestamp), or a link to the
post's own anchor; else the page's URL with the post's `id` as fragment; else none (the hit
then records the post's position).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urldefrag, urljoin

from vaern.domain import Post

POST_CLASSES = ("post", "comment", "entry", "hentry", "reply", "tweet", "forum-post", "status-update")

_STRUCTURE = (
    "//article | //*[@role='article'] | //*[contains(@itemtype, 'Comment')]"
    " | //*[contains(@itemtype, 'Posting')]"
    " | //*[" + " or ".join(
        f"contains(concat(' ', normalize-space(@class), ' '), ' {c} ')" for c in POST_CLASSES
    ) + "]"
)
_SPACE = re.compile(r"\s+")
_KEY = 60  # characters used to find a post whose full text the extractor changed


def find_posts(
    html: str | bytes,
    url: str,
    text: str,
    to_text: Callable[[str], str],
    selector: str | None = None,
) -> tuple[Post, ...]:
    """The posts in `html` (the page at `url`), located in `text`, the page's extracted text.

    `to_text(fragment_html)` must be the extractor that made `text`, so a post's text can be
    found in the page's. Posts whose text cannot be found are left out.
    """
    import lxml.etree
    import lxml.html

    from vaern.crawler.htmltree import parse_html

    if isinstance(html, bytes):
        html = html.decode("utf-8", "replace")
    if not html.strip() or not text:
        return ()
    try:
        doc = parse_html(html)  # at any nesting depth, as the page's text was extracted
    except (ValueError, lxml.etree.ParserError):
        return ()
    base = doc.xpath("string(//base/@href)") or url
    base = urljoin(url, base)
    page_url = urldefrag(url).url

    if selector:
        from lxml.cssselect import CSSSelector

        candidates = CSSSelector(selector)(doc)
    else:
        candidates = doc.xpath(_STRUCTURE)
    candidates = [c for c in candidates if isinstance(c.tag, str)]
    chosen = {id(c) for c in candidates}

    norm, where = normalised(text)
    found: list[tuple[Any, int, int]] = []  # (element, start, end) in norm
    posts: list[Post] = []
    for element in candidates:
        fragment = lxml.html.tostring(element, encoding="unicode", with_tail=False)
        wanted = _SPACE.sub(" ", to_text(fragment)).strip()
        if not wanted:
            continue
        ancestors = {id(a) for a in element.iterancestors()}
        lo = max((s if id(e) in ancestors else end for e, s, end in found), default=0)
        span = locate(norm, wanted, lo)
        if span is None:
            continue
        found.append((element, *span))
        start, end = where[span[0]], where[span[1] - 1] + 1
        link = _permalink(element, chosen, base, page_url)
        posts.append(Post(start=start, end=end, permalink=link, index=len(posts)))
    return tuple(posts)


def normalised(text: str) -> tuple[str, list[int]]:
    """`text` with every whitespace run made one space, and each character's original offset."""
    out: list[str] = []
    where: list[int] = []
    in_space = False
    for i, ch in enumerate(text):
        if ch.isspace():
            if not in_space and out:
                out.append(" ")
                where.append(i)
            in_space = True
        else:
            out.append(ch)
            where.append(i)
            in_space = False
    return "".join(out), where


def locate(norm: str, wanted: str, lo: int) -> tuple[int, int] | None:
    at = norm.find(wanted, lo)
    if at >= 0:
        return at, at + len(wanted)
    # The extractor may have dropped or reworded part of the post (hidden bits, separators):
    # anchor on its first and last words.
    if len(wanted) < 2 * _KEY:
        return None
    head, tail = wanted[:_KEY], wanted[-_KEY:]
    at = norm.find(head, lo)
    if at < 0:
        return None
    end = norm.find(tail, at + len(head))
    if end < 0 or end - at > 2 * len(wanted):
        return None
    return at, end + len(tail)


def _permalink(element: Any, chosen: set[int], base: str, page_url: str) -> str | None:
    own = element.get("data-permalink")
    if own:
        return _absolute(own, base)
    element_id = element.get("id")
    for a in element.iterdescendants("a"):
        if _inside_nested(a, element, chosen):
            continue
        href = a.get("href")
        if not href or href.strip().lower().startswith(("javascript:", "mailto:")):
            continue
        classes = (a.get("class") or "").split()
        marked = (
            "bookmark" in (a.get("rel") or "").split()
            or "permalink" in classes
            or a.get("itemprop") == "url"
            or bool(a.xpath(".//time"))
            or (element_id is not None and urldefrag(href).fragment == element_id)
        )
        if marked:
            link = _absolute(href, base)
            if link:
                return link
    if element_id:
        return f"{page_url}#{element_id}"
    return None


def _inside_nested(node: Any, post: Any, chosen: set[int]) -> bool:
    for ancestor in node.iterancestors():
        if ancestor is post:
            return False
        if id(ancestor) in chosen:
            return True
    return False


def _absolute(href: str, base: str) -> str | None:
    link = urljoin(base, href.strip())
    return link if link.startswith(("http://", "https://")) else None
