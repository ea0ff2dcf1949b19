"""HTML at any nesting depth: no amount of unclosed or nested tags hides the text after them.

libxml2 builds no tree deeper than 256 (or 2048) levels and drops the rest of the document; a
browser shows it all. The shapes below are the ways a page can nest that deep.
"""

from __future__ import annotations

from typing import Any

import lxml.etree
import lxml.html
import pytest

from vaern.crawler.extract import extract_html
from vaern.crawler.htmltree import MAX_DEPTH, parse_html
from vaern.crawler.posts import find_posts

BASE = "http://forum.example/side.html"
POST = "<p>Indlæg: <b>René</b> Rosenkilde er en løgner.</p><p>Karin</p><p>Kjær</p><p>Slut på indlægget.</p>"

SHAPES = {
    "b, unclosed": "<b>" * 2100,
    "b, 6 kB": "<b>" * 2048,
    "div": "<div>" * 10_000,
    "span": "<span>" * 10_000,
    "font": "<font color=red>" * 10_000,
    "mixed inline and block": "<div><span><font><b><i>" * 2000,
    "tables in cells": "<table><tr><td>" * 3000,
    "lists in items": "<ul><li>" * 5000,
    "ordered lists with blocks": "<ol><li><div>" * 3000,
    "definition lists": "<dl><dd>" * 4000,
    "blockquotes": "<blockquote>" * 5000,
    "links": "<a href='/x'>" * 5000,
    "emphasis": "<em><strong><u>" * 4000,
    "sections": "<section><aside>" * 3000,
    "deep, then partly closed": "<div>" * 5000 + "tekst før" + "</div>" * 2000,
    "deep with text on every level": "".join(f"<div>ord{i} " for i in range(3000)),
    "deep with unmatched end tags": "<b>" * 3000 + "</i></span></p>" * 100,
    "nested, closed, far too deep": "<div>" * 3000 + "x" + "</div>" * 3000,
}


def page(before: str) -> str:
    return f"<html><head><title>Tråd</title></head><body>{before}{POST}</body></html>"


def depth(root: Any) -> int:
    deepest = 0
    stack = [(root, 1)]
    while stack:
        element, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in element)
    return deepest


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_text_after_deep_nesting_is_all_kept_in_order(shape: str) -> None:
    lines = extract_html(page(SHAPES[shape]), BASE).text.split("\n")
    # Inline markup still keeps a name together, and blocks still end lines, past any depth.
    assert lines[-4:] == ["Indlæg: René Rosenkilde er en løgner.", "Karin", "Kjær", "Slut på indlægget."]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_bytes_are_read_at_any_depth_too(shape: str) -> None:
    html = f'<meta charset="windows-1252">{page(SHAPES[shape])}'.encode("cp1252")
    assert extract_html(html, BASE).text.endswith("Rosenkilde er en løgner.\nKarin\nKjær\nSlut på indlægget.")


def test_the_tree_is_no_deeper_than_a_browser_builds_it() -> None:
    assert depth(parse_html(page("<div>" * 10_000))) <= MAX_DEPTH


def test_text_on_every_level_past_the_limit_stays_in_document_order() -> None:
    text = extract_html(page("".join(f"<span>ord{i} " for i in range(5000))), BASE).text
    words = text.split()
    numbered = [w for w in words if w.startswith("ord")]
    assert numbered == [f"ord{i}" for i in range(5000)]


def test_a_document_libxml2_reads_to_the_end_is_its_own_tree() -> None:
    html = page("<div>" * 1500 + "<p>dybt</p>")
    own = lxml.etree.fromstring(html.encode(), lxml.html.HTMLParser(huge_tree=True, encoding="utf-8"))
    assert lxml.html.tostring(parse_html(html)) == lxml.html.tostring(own)


def test_control_characters_and_odd_names_past_the_limit_do_not_stop_the_reading() -> None:
    odd = '<p a"b=1 title="x\x01y">a\x0cb\x01c</p><a"b>inde</a"b>'
    text = extract_html(page("<b>" * 3000 + odd), BASE).text
    assert "a bc" in text and "inde" in text and text.endswith("Slut på indlægget.")


def test_posts_after_deep_nesting_are_found() -> None:
    # Past MAX_DEPTH a post has no structure left, in a browser either; up to it, it is found.
    html = page("<b>" * (MAX_DEPTH - 10) + '<article id="p7">' + POST + "</article>")
    text = extract_html(html, BASE).text
    posts = find_posts(html, BASE, text, lambda fragment: extract_html(fragment, BASE).text)
    assert len(posts) == 1 and posts[0].permalink == BASE + "#p7"
    assert "René Rosenkilde er en løgner" in text[posts[0].start : posts[0].end]
