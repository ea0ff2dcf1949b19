"""HTML to an lxml tree at any nesting depth, keeping all the text a browser would show.

libxml2 (lxml's HTML parser) builds no tree deeper than 256 levels (2048 with `huge_tree`) and
stops reading there: everything after the deep part is lost. A page opening with a few kB of
unclosed `<b>` (or `<div>`, `<font>`, tables in table cells, …) hid the post after it from the
matcher, while a browser shows all of it: Chromium has no such limit, and past 512 levels it
puts new elements and text beside the deepest element instead of inside it.

`parse_html` parses with libxml2 (recovering, `huge_tree`), as Scrapy's selectors do. When
libxml2 gives up before the end of the document (a fatal error: the depth limit, or any other),
the document is parsed again by the same parser with `_CappedTree` as its target: the limit
belongs to libxml2's own tree builder, not to its tokenizer, so the elements, text and implied
end tags are libxml2's, and only the tree is ours — built with Chromium's rule (`MAX_DEPTH`):
an element or text that would go deeper goes beside the deepest element, in document order.
Below that depth the tree is the one libxml2 builds.

No configuration.
"""

from __future__ import annotations

import re
from typing import Any

import lxml.etree
import lxml.html

MAX_DEPTH = 512  # Chromium's kMaximumHTMLParserDOMTreeDepth
# Characters lxml refuses in text and attribute values set through its API (not allowed in
# XML 1.0); libxml2's parser passes them on. A form feed is HTML white space; the others show
# as nothing.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def parse_html(html: str | bytes) -> Any:
    """The root element (`<html>`) of `html`, holding every element and text of the document.

    A str is parsed as it is; bytes in the encoding their `<meta charset>` declares, else as
    libxml2 guesses (as `lxml.html.document_fromstring` reads them).
    """
    if isinstance(html, str):
        # As parsel does (and so Scrapy's selectors): UTF-8 bytes, without NUL characters.
        data = html.strip().replace("\x00", "").encode("utf-8")
        encoding: str | None = "utf-8"
    else:
        data = html.strip()
        encoding = None
    data = data or b"<html/>"
    parser = lxml.html.HTMLParser(recover=True, huge_tree=True, encoding=encoding)
    root = lxml.etree.fromstring(data, parser=parser)
    if root is not None and not any(e.level == lxml.etree.ErrorLevels.FATAL for e in parser.error_log):
        return root
    capped = lxml.html.HTMLParser(recover=True, huge_tree=True, encoding=encoding, target=_CappedTree())
    return lxml.etree.fromstring(data, parser=capped)


class _CappedTree:
    """A parser target building an lxml HTML tree no deeper than MAX_DEPTH (see the module doc)."""

    def __init__(self) -> None:
        self.root: Any = None
        self.stack: list[Any] = []  # the open elements, innermost last

    def _parent(self) -> Any:
        """Where the next element or text goes: the current element, or, past MAX_DEPTH, beside it."""
        if not self.stack:
            return self.root
        current = self.stack[-1]
        if len(self.stack) >= MAX_DEPTH:
            parent = current.getparent()
            if parent is not None:
                return parent
        return current

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if self.root is None:
            self.root = element = lxml.html.Element(tag)
        else:
            try:
                element = lxml.etree.SubElement(self._parent(), tag)
            except ValueError:  # a name lxml will not take ('<a"b>'); the element and its text stay
                element = lxml.etree.SubElement(self._parent(), "span")
        for name, value in attrib.items():
            try:
                element.set(name, _NOT_XML.sub(_xml_char, value))
            except ValueError:
                continue
        self.stack.append(element)

    def end(self, tag: str) -> None:
        if self.stack:
            self.stack.pop()

    def data(self, text: str) -> None:
        if self.root is None:
            return
        text = _NOT_XML.sub(_xml_char, text)
        parent = self._parent()
        try:
            last = parent[-1]  # found from the end: no walk over a long row of siblings
        except IndexError:
            parent.text = (parent.text or "") + text
        else:
            last.tail = (last.tail or "") + text

    def close(self) -> Any:
        return self.root if self.root is not None else lxml.html.Element("html")


def _xml_char(match: re.Match[str]) -> str:
    return " " if match.group() == "\x0c" else ""
