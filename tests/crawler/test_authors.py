"""Each post's author, from each markup a page may use (crawler/posts.py): JSON-LD, microdata,
microformats h-entry, rel=author, the site's `author_selector`; a nested comment's author is its
own; the page's own author covers the page; no markup, no author."""

from __future__ import annotations

from vaern.crawler.extract import extract_html
from vaern.crawler.posts import bylines, find_posts
from vaern.domain import byline_for

URL = "https://blog.example/post/7"


def _read(html: str, author_selector: str | None = None) -> tuple[str, list[tuple[str | None, str | None]], list]:
    text = extract_html(html, URL).text
    posts, lines = bylines(html, URL, text, lambda f: extract_html(f, URL).text, author_selector=author_selector)
    return text, [(p.author, p.author_source) for p in posts], list(lines)


def test_json_ld_names_the_author_of_the_item_with_the_posts_address() -> None:
    html = """<html><head><script type="application/ld+json">
    {"@context": "https://schema.org", "@graph": [
      {"@type": "BlogPosting", "url": "https://blog.example/post/7",
       "author": {"@type": "Person", "name": "Bo Blogger"}},
      {"@type": "Comment", "url": "https://blog.example/post/7#c1", "author": {"name": "Vred Borger"}}]}
    </script></head><body>
    <article id="c1"><p>René Rosenkilde burde skamme sig over sagen.</p><a href="#c1" rel="bookmark">link</a></article>
    </body></html>"""
    text, authors, lines = _read(html)
    assert authors == [("Vred Borger", "json-ld")]
    # The page's main item is the page's author: it covers the text outside the comment.
    assert lines[-1].author == "Bo Blogger" and (lines[-1].start, lines[-1].end) == (0, len(text))
    at = text.index("René")
    assert byline_for(lines, at).author == "Vred Borger"  # the innermost byline wins


def test_microdata_author_name() -> None:
    html = """<html><body>
    <div itemscope itemtype="https://schema.org/Comment" class="comment">
      <span itemprop="author" itemscope itemtype="https://schema.org/Person">
        <span itemprop="name">Hans Hader</span></span>
      <p itemprop="text">Karin Juhl lyver om alt.</p></div></body></html>"""
    assert _read(html)[1] == [("Hans Hader", "microdata")]


def test_h_entry_p_author_h_card() -> None:
    html = """<html><body>
    <div class="h-entry comment"><a class="p-author h-card" href="/u/ole"><span class="p-name">Ole Ond</span>
      <img src="/a.png" alt=""></a><div class="e-content">Karin Juhl er en skam.</div></div></body></html>"""
    assert _read(html)[1] == [("Ole Ond", "h-entry")]


def test_rel_author_link() -> None:
    html = """<html><body><article><header>Af <a rel="author" href="/members/sur.17">SurBorger17</a></header>
    <p>René Rosenkilde burde fyres.</p></article></body></html>"""
    assert _read(html)[1] == [("SurBorger17", "rel-author")]


def test_the_sites_selector_where_there_is_no_markup() -> None:
    html = """<html><body><div class="post"><div class="byline"><b>kritisk_karl</b> skrev:</div>
    <p>René Rosenkilde svarer aldrig.</p></div></body></html>"""
    assert _read(html)[1] == [(None, None)]  # no author markup: not guessed
    assert _read(html, author_selector=".byline b")[1] == [("kritisk_karl", "selector")]


def test_a_nested_comments_author_is_its_own_and_the_post_keeps_its_own() -> None:
    html = """<html><body><article class="h-entry"><span class="p-author">Bo Blogger</span>
    <p>Indlæg om kommunen og dens sagsbehandling i almindelighed.</p>
    <div class="comment h-entry"><span class="p-author">Vred Borger</span><p>René Rosenkilde er en skam.</p></div>
    <div class="comment h-entry"><p>Helt enig, det er en skandale uden lige.</p></div>
    </article></body></html>"""
    text, authors, lines = _read(html)
    assert authors == [("Bo Blogger", "h-entry"), ("Vred Borger", "h-entry"), (None, None)]
    assert byline_for(lines, text.index("René")).author == "Vred Borger"
    assert byline_for(lines, text.index("Helt enig")).author == "Bo Blogger"  # the anonymous reply is in the post


def test_meta_author_and_no_author() -> None:
    meta = '<html><head><meta name="author" content="Redaktionen"></head><body><p>René Rosenkilde.</p></body></html>'
    text, authors, lines = _read(meta)
    assert authors == [] and [(b.author, b.source) for b in lines] == [("Redaktionen", "meta")]
    assert _read("<html><body><article><p>René Rosenkilde.</p></article></body></html>")[2] == []
    # find_posts is unchanged for its callers: posts, now with their authors.
    html = '<html><body><article><a rel="author" href="/u/1">Ib</a><p>René Rosenkilde.</p></article></body></html>'
    text = extract_html(html, URL).text
    (post,) = find_posts(html, URL, text, lambda f: extract_html(f, URL).text)
    assert post.author == "Ib"
