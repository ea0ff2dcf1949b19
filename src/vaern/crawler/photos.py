"""Photos on a page and the text they stand beside: "a photo beside the name" as private data.

A hate page that shows an employee's picture next to their name publishes private data, whether
or not the text says "her er et billede af hende". `find_photos(html, url, text, to_text)` finds
the page's pictures that are content, not decoration, and locates in `Page.text` the stretch each
one stands beside: the `<figure>` holding it (its caption), else the post holding it (the same
structure posts.py reads), else the block around it. Its `alt`, `title` and caption are kept: a
figure whose caption or alt names the person shows that person. The assessment
(matchers/assess/photos.py) gives a person named in that stretch, or in that alt text, the
private item `photo`.

Decoration is left out: an image marked as an icon, avatar, logo, emoji, smiley or sprite (in
its address, class or id), an SVG or data: image, `role="presentation"`, and an image whose
declared width or height is under `MIN_SIDE` pixels (an avatar beside every comment is no photo
of the person named in it). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

from vaern.crawler.posts import POST_CLASSES, locate, normalised
from vaern.domain import Photo

MIN_SIDE = 100  # pixels: a smaller declared width or height is an icon, an avatar, a badge
_DECORATION = re.compile(
    r"avatar|icon|logo|emoji|smiley|smilie|sprite|spacer|pixel|badge|gravatar|emoticon", re.IGNORECASE
)
_NOT_A_PHOTO = re.compile(r"\.(?:svg|ico)(?:$|\?)|^data:", re.IGNORECASE)
_PIXELS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:px)?\s*$")
_STYLE_SIDE = re.compile(r"(?:^|;)\s*(?:width|height)\s*:\s*(\d+(?:\.\d+)?)px", re.IGNORECASE)
_BLOCKS = frozenset(("p", "div", "li", "section", "td", "blockquote", "dd", "aside"))


def find_photos(html: str | bytes, url: str, text: str, to_text: Callable[[str], str]) -> tuple[Photo, ...]:
    """The content pictures of `html` (the page at `url`) with the stretch of `text` (the page's
    extracted text, made by `to_text`) each stands beside; see the module doc."""
    import lxml.etree
    import lxml.html

    from vaern.crawler.htmltree import parse_html

    if isinstance(html, bytes):
        html = html.decode("utf-8", "replace")
    if not html.strip() or not text:
        return ()
    try:
        doc = parse_html(html)
    except (ValueError, lxml.etree.ParserError):
        return ()
    norm, where = normalised(text)
    photos: list[Photo] = []
    located: dict[int, tuple[int, int] | None] = {}
    for img in doc.iter("img"):
        src = (img.get("src") or img.get("data-src") or "").strip()
        if not src or _decoration(img, src):
            continue
        holder = _holder(img)
        if holder is None:
            continue
        if id(holder) not in located:
            fragment = lxml.html.tostring(holder, encoding="unicode", with_tail=False)
            wanted = " ".join(to_text(fragment).split())
            located[id(holder)] = locate(norm, wanted, 0) if wanted else None
        span = located[id(holder)]
        if span is None:
            continue
        said = [img.get("alt") or "", img.get("title") or ""]
        if holder.tag == "figure":
            said += [" ".join(c.text_content().split()) for c in holder.iter("figcaption")]
        photos.append(Photo(
            start=where[span[0]], end=where[span[1] - 1] + 1, url=urljoin(url, src),
            alt=" ".join(" ".join(s.split()) for s in said if s.strip()),
        ))
    return tuple(photos)


def _decoration(img: Any, src: str) -> bool:
    if _NOT_A_PHOTO.search(src) or (img.get("role") or "").lower() == "presentation":
        return True
    if _DECORATION.search(" ".join((src, img.get("class") or "", img.get("id") or ""))):
        return True
    sides = [_pixels(img.get("width")), _pixels(img.get("height"))]
    sides += [float(m.group(1)) for m in _STYLE_SIDE.finditer(img.get("style") or "")]
    return any(side is not None and side < MIN_SIDE for side in sides)


def _pixels(value: str | None) -> float | None:
    m = _PIXELS.match(value or "")
    return float(m.group(1)) if m else None


def _holder(img: Any) -> Any:
    """The element a picture stands in: its captioned figure, else its post, else the nearest
    block with text (never the whole page)."""
    block = None
    for ancestor in img.iterancestors():
        tag = ancestor.tag if isinstance(ancestor.tag, str) else ""
        if tag in ("body", "html", "main"):
            break
        if tag == "figure" and ancestor.text_content().strip():
            return ancestor  # a figure without a caption stands beside its post
        if tag == "article" or ancestor.get("role") == "article" or _post_class(ancestor):
            return ancestor
        if block is None and tag in _BLOCKS and ancestor.text_content().strip():
            block = ancestor
    return block


def _post_class(element: Any) -> bool:
    classes = set((element.get("class") or "").split())
    return not classes.isdisjoint(POST_CLASSES) or "Comment" in (element.get("itemtype") or "") or (
        "Posting" in (element.get("itemtype") or "")
    )
