"""Posts on a page: found by structure or selector, located in the page text, with permalinks."""

from __future__ import annotations

import lxml.html

from vaern.crawler.posts import find_posts
from vaern.domain import Post, post_for

URL = "https://gruppe.example/g/42"


def to_text(html: str) -> str:
    """A stand-in extractor: block elements end a line, inline ones run together."""
    doc = lxml.html.fragment_fromstring(html, create_parent="div")
    for dead in doc.xpath("//script | //style"):
        dead.drop_tree()
    for block in doc.xpath("//p | //div | //article | //header | //li | //h1 | //h2 | //section"):
        block.tail = "\n" + (block.tail or "")
    return "\n".join(line.strip() for line in doc.text_content().splitlines() if line.strip())


def page_text(html: str) -> str:
    body = lxml.html.document_fromstring(html).find("body")
    assert body is not None
    return to_text(lxml.html.tostring(body, encoding="unicode"))


GROUP = """<html><body>
<header><h1>Gruppen</h1><p>Regler for gruppen.</p></header>
<article id="p1" class="post">
  <header><b>Borger 1</b> <a href="/g/42/posts/1"><time>i går</time></a></header>
  <p>Første opslag om    ingenting.</p>
  <div class="comments">
    <div class="comment" id="c-1-1"><b>A</b> <a class="permalink" href="/g/42/posts/1?c=1">1 t</a>
      <p>Mette Sørensen svarer aldrig.</p></div>
    <div class="comment" id="c-1-2"><b>B</b><p>Enig.</p></div>
  </div>
</article>
<article class="post">
  <p>Andet opslag, uden adresse, nævner Karin Juhl.</p>
</article>
<div class="post" id="p3"><p>Tredje opslag: René Rosenkilde.</p></div>
<footer><p>Mette Sørensen i sidefoden.</p></footer>
</body></html>"""


def test_posts_comments_and_permalinks() -> None:
    text = page_text(GROUP)
    posts = find_posts(GROUP, URL, text, to_text)
    assert [p.permalink for p in posts] == [
        "https://gruppe.example/g/42/posts/1",  # the link around <time>
        "https://gruppe.example/g/42/posts/1?c=1",  # class="permalink"
        "https://gruppe.example/g/42#c-1-2",  # no link: the page with the comment's anchor
        None,  # no link, no id: position only
        "https://gruppe.example/g/42#p3",
    ]
    assert [p.index for p in posts] == [0, 1, 2, 3, 4]
    first, comment, _enig, second, third = posts
    assert text[first.start : first.end].startswith("Borger 1")
    assert first.start <= comment.start < comment.end <= first.end, "a comment lies inside its post"
    assert text[comment.start : comment.end].endswith("Mette Sørensen svarer aldrig.")
    assert text[second.start : second.end] == "Andet opslag, uden adresse, nævner Karin Juhl."


def test_a_mention_belongs_to_the_innermost_post() -> None:
    text = page_text(GROUP)
    posts = find_posts(GROUP, URL, text, to_text)
    in_comment = text.index("Mette Sørensen svarer")
    assert post_for(posts, in_comment) == posts[1]
    assert post_for(posts, text.index("Karin Juhl")) == posts[3]
    assert post_for(posts, text.index("René Rosenkilde")) == posts[4]
    assert post_for(posts, text.index("Mette Sørensen i sidefoden")) is None
    assert post_for(posts, text.index("Første opslag")) == posts[0]


def test_the_sites_selector_decides_what_a_post_is() -> None:
    text = page_text(GROUP)
    posts = find_posts(GROUP, URL, text, to_text, selector="div.comment")
    assert [p.permalink for p in posts] == [
        "https://gruppe.example/g/42/posts/1?c=1",
        "https://gruppe.example/g/42#c-1-2",
    ]


def test_a_link_inside_a_nested_post_is_not_the_outer_posts_permalink() -> None:
    html = """<html><body><article id="outer"><p>Ydre opslag uden eget link.</p>
      <article id="inner"><a rel="bookmark" href="/svar/9">svar</a><p>Indre svar.</p></article>
    </article></body></html>"""
    text = page_text(html)
    outer, inner = find_posts(html, URL, text, to_text)
    assert outer.permalink == "https://gruppe.example/g/42#outer"
    assert inner.permalink == "https://gruppe.example/svar/9"


def test_text_the_extractor_changed_is_still_found_by_its_ends() -> None:
    html = (
        "<html><body><article id='a'><p>" + "Begyndelsen af et langt opslag om kommunen " * 3
        + "<span>skjult del</span> " + "og slutningen af det lange opslag her " * 3 + "</p></article></body></html>"
    )

    def dropping(fragment: str) -> str:
        return to_text(fragment).replace("skjult del", "")

    text = page_text(html)
    posts = find_posts(html, URL, text, dropping)
    assert len(posts) == 1
    assert text[posts[0].start : posts[0].end].startswith("Begyndelsen")
    assert text[posts[0].start : posts[0].end].endswith("opslag her")


def test_base_href_and_data_permalink() -> None:
    html = """<html><head><base href="https://cdn.example/forum/"></head><body>
      <div class="entry" data-permalink="t/7#m3"><p>Indlæg tre.</p></div>
      <div class="entry"><a itemprop="url" href="t/8">link</a><p>Indlæg fire.</p></div></body></html>"""
    posts = find_posts(html, URL, page_text(html), to_text)
    assert [p.permalink for p in posts] == ["https://cdn.example/forum/t/7#m3", "https://cdn.example/forum/t/8"]


def test_nothing_to_find() -> None:
    assert find_posts("", URL, "", to_text) == ()
    assert find_posts("<html><body><p>Ingen opslag.</p></body></html>", URL, "Ingen opslag.", to_text) == ()
    assert post_for([], 3) is None
    assert post_for([Post(0, 10, None, 0)], 10) is None
