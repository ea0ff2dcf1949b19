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

A post's author or handle (`Post.author`), the first of: JSON-LD (`author.name`, or the author
as text) of the item whose `url`/`@id` is the post's permalink; microdata `itemprop="author"`
(its `itemprop="name"`, else its text); microformats `h-entry` (`p-author`, its `p-name`, else
its text); a `rel="author"` link's text; the site's `author_selector` (`sites[].author_selector`),
read inside the post. Markup inside a nested post is that post's. `bylines(...)` turns the posts
into `Byline`s for the pipeline, with the page's own author (its main JSON-LD item, markup
outside any post, `<meta name="author">`) covering the whole text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urldefrag, urljoin

from vaern.domain import Byline, Post

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
    author_selector: str | None = None,
) -> tuple[Post, ...]:
    """The posts in `html` (the page at `url`), located in `text`, the page's extracted text.

    `to_text(fragment_html)` must be the extractor that made `text`, so a post's text can be
    found in the page's. Posts whose text cannot be found are left out.
    """
    posts, _ = _posts_and_page_author(html, url, text, to_text, selector, author_selector)
    return posts


def bylines(
    html: str | bytes,
    url: str,
    text: str,
    to_text: Callable[[str], str],
    selector: str | None = None,
    author_selector: str | None = None,
) -> tuple[tuple[Post, ...], tuple[Byline, ...]]:
    """The posts (as `find_posts`) and who wrote what: a byline per post with an author, and
    the page's own author over the whole text where it states one."""
    posts, page_author = _posts_and_page_author(html, url, text, to_text, selector, author_selector)
    lines = [Byline(p.start, p.end, p.author, p.author_source or "") for p in posts if p.author]
    if page_author is not None:
        lines.append(Byline(0, len(text), *page_author))
    return posts, tuple(lines)


def _posts_and_page_author(
    html: str | bytes,
    url: str,
    text: str,
    to_text: Callable[[str], str],
    selector: str | None,
    author_selector: str | None,
) -> tuple[tuple[Post, ...], tuple[str, str] | None]:
    import lxml.etree
    import lxml.html

    from vaern.crawler.htmltree import parse_html

    if isinstance(html, bytes):
        html = html.decode("utf-8", "replace")
    if not html.strip() or not text:
        return (), None
    try:
        doc = parse_html(html)  # at any nesting depth, as the page's text was extracted
    except (ValueError, lxml.etree.ParserError):
        return (), None
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

    ld_authors, ld_main = _json_ld_authors(doc, base)
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
        by = ld_authors.get(link or "") or _marked_author(element, chosen, author_selector)
        posts.append(Post(start=start, end=end, permalink=link, index=len(posts),
                          author=by[0] if by else None, author_source=by[1] if by else None))
    page_author = ld_main or _marked_author(doc, chosen, author_selector) or _meta_author(doc)
    return tuple(posts), page_author


# -- authors ------------------------------------------------------------------------------------

_AUTHOR_CHARS = 200  # a name or handle; longer is not a byline
_LD_POSTS = {"article", "newsarticle", "blogposting", "socialmediaposting", "discussionforumposting",
             "comment", "posting", "answer", "question", "review"}


def _clean_author(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = _SPACE.sub(" ", value).strip()
    return value if 0 < len(value) <= _AUTHOR_CHARS else None


def _json_ld_authors(doc: Any, base: str) -> tuple[dict[str, tuple[str, str]], tuple[str, str] | None]:
    """From JSON-LD: each post item's author by the item's URL (`url` or `@id`), and the page's
    main item's author (the first post item)."""
    from vaern.crawler.provenance import json_ld_author, json_ld_posts

    by_url: dict[str, tuple[str, str]] = {}
    main: tuple[str, str] | None = None
    for item in json_ld_posts(doc, _LD_POSTS):
        author = json_ld_author(item)
        name = _clean_author(author.get("name") or author.get("alternateName")
                             if isinstance(author, dict) else author)
        if name is None:
            continue
        found = (name, "json-ld")
        main = main or found
        for key in ("url", "@id"):
            where = item.get(key)
            if isinstance(where, str) and where.strip():
                by_url.setdefault(urljoin(base, where.strip()), found)
    return by_url, main


def _own(nodes: list[Any], element: Any, chosen: set[int]) -> list[Any]:
    """The nodes that belong to `element` itself, not to a post nested in it."""
    return [n for n in nodes if isinstance(n.tag, str) and (n is element or not _inside_nested(n, element, chosen))]


def _marked_author(element: Any, chosen: set[int], author_selector: str | None) -> tuple[str, str] | None:
    """The author the markup inside `element` names: microdata, h-entry, rel=author, the site's selector."""
    for node in _own(element.xpath('descendant-or-self::*[@itemprop="author"]'), element, chosen):
        names = node.xpath('.//*[@itemprop="name"]')
        value = (names[0].get("content") or names[0].text_content()) if names else (
            node.get("content") or node.text_content())
        if (name := _clean_author(value)) is not None:
            return name, "microdata"
    p_author = "descendant-or-self::*[contains(concat(' ', normalize-space(@class), ' '), ' p-author ')]"
    for node in _own(element.xpath(p_author), element, chosen):
        names = node.xpath(".//*[contains(concat(' ', normalize-space(@class), ' '), ' p-name ')]")
        if (name := _clean_author(names[0].text_content() if names else node.text_content())) is not None:
            return name, "h-entry"
    for node in _own(element.xpath(".//a[contains(concat(' ', normalize-space(@rel), ' '), ' author ')]"),
                     element, chosen):
        if (name := _clean_author(node.text_content())) is not None:
            return name, "rel-author"
    if author_selector:
        from lxml.cssselect import CSSSelector

        for node in _own(CSSSelector(author_selector)(element), element, chosen):
            if (name := _clean_author(node.text_content())) is not None:
                return name, "selector"
    return None


def _meta_author(doc: Any) -> tuple[str, str] | None:
    for node in doc.xpath('//meta[@name="author" or @property="article:author"]'):
        if (name := _clean_author(node.get("content"))) is not None:
            return name, "meta"
    return None


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
