"""Feeds and sitemaps (crawler/feeds.py, crawler/feedpoll.py): every format read, hostile XML
refused as a failure of that feed, detection on the fixture blog, conditional polls, and the
SSRF guard on every hop of a feed fetch."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vaern.config import Config, Site
from vaern.crawler.feedpoll import FeedState, detect, fetch, poll
from vaern.crawler.feeds import MAX_FEED_BYTES, FeedError, feeds_in_html, parse_feed, sitemaps_in_robots
from vaern.crawler.netguard import NetGuard
from vaern.testing.blog import FixtureBlog
from vaern.testing.siteserver import SiteServer

BASE = "https://blog.example/feed/"
POSTS = [("skandalen", "Skandalen i kommunen", "Bo Blogger", "Sagsbehandlingen er en skandale."),
         ("ventetid", "Intet svar", "Bo Blogger", "Ingen svarer på mails.")]


def test_rss_with_guids_dates_and_comment_feeds() -> None:
    body = b"""<?xml version="1.0"?><rss version="2.0" xmlns:wfw="http://wellformedweb.org/CommentAPI/">
    <channel><title>t</title>
    <item><link>/a/</link><guid isPermaLink="false">https://blog.example/?p=1</guid>
      <wfw:commentRss>https://blog.example/a/feed/</wfw:commentRss></item>
    <item><link>https://blog.example/b/</link><pubDate>Mon, 02 Nov 2026 09:01:00 GMT</pubDate></item>
    <item><title>no link: skipped</title></item>
    <item><link>javascript:alert(1)</link></item>
    </channel></rss>"""
    parsed = parse_feed(body, BASE)
    assert parsed.kind == "rss"
    assert [(e.key, e.url) for e in parsed.entries] == [
        ("https://blog.example/?p=1", "https://blog.example/a/"),
        ("https://blog.example/b/ Mon, 02 Nov 2026 09:01:00 GMT", "https://blog.example/b/"),
    ]
    assert parsed.feeds == ("https://blog.example/a/feed/",)


def test_atom_rdf_sitemap_and_sitemap_index() -> None:
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>tag:x,1</id>
      <link rel="replies" href="/r"/><link rel="alternate" href="/post/1"/></entry></feed>"""
    assert [(e.key, e.url) for e in parse_feed(atom, BASE).entries] == [("tag:x,1", "https://blog.example/post/1")]
    rdf = b"""<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
      <channel rdf:about="x"/><item rdf:about="https://blog.example/p/9"><link>https://blog.example/p/9</link></item>
      </rdf:RDF>"""
    parsed = parse_feed(rdf, BASE)
    assert parsed.kind == "rdf" and [e.url for e in parsed.entries] == ["https://blog.example/p/9"]
    urlset = b"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <url><loc>https://blog.example/a/</loc><lastmod>2026-11-02</lastmod></url><url><loc>/b/</loc></url></urlset>"""
    assert [(e.key, e.url) for e in parse_feed(urlset, BASE).entries] == [
        ("https://blog.example/a/ 2026-11-02", "https://blog.example/a/"),
        ("https://blog.example/b/", "https://blog.example/b/"),
    ]
    index = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>https://blog.example/s1.xml</loc></sitemap><sitemap><loc>/s2.xml</loc></sitemap></sitemapindex>"""
    parsed = parse_feed(index, BASE)
    assert parsed.kind == "sitemapindex" and parsed.feeds == ("https://blog.example/s1.xml", "https://blog.example/s2.xml")


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<rss version="2.0"><channel><item><link>&lol3;</link></item></channel></rss>"""
EXTERNAL = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><item><link>&x;</link></item></channel></rss>"""


@pytest.mark.parametrize(("body", "says"), [
    (BOMB, "refused XML (EntitiesForbidden"),
    (EXTERNAL, "refused XML (EntitiesForbidden"),
    (b"<rss><channel><item><link>x</link></item>", "not well-formed XML"),
    (b"<html><body>not a feed</body></html>", "not a feed or sitemap (the document is <html>)"),
    (b"<rss version='2.0'></rss>", "an RSS feed without a <channel>"),
    (b"   ", "empty"),
    (b"<rss>" + b" " * MAX_FEED_BYTES + b"</rss>", "larger than 8 MB"),
])
def test_hostile_or_broken_feeds_are_refused_saying_why(body: bytes, says: str) -> None:
    with pytest.raises(FeedError) as caught:
        parse_feed(body, BASE)
    assert str(caught.value).startswith(f"{BASE}: {says}")


def test_feed_links_in_html_and_sitemaps_in_robots() -> None:
    html = """<html><head><base href="https://blog.example/sub/">
      <link rel="alternate" type="application/rss+xml" href="feed/">
      <link rel="Alternate" type="application/atom+xml; charset=utf-8" href="https://blog.example/atom.xml">
      <link rel="alternate" type="text/html" href="/da/"><link rel="stylesheet" href="x.css"></head></html>"""
    assert feeds_in_html(html, "https://blog.example/") == ["https://blog.example/sub/feed/",
                                                            "https://blog.example/atom.xml"]
    robots = "User-agent: *\nDisallow: /x\nSitemap: https://blog.example/sitemap.xml\nsitemap:/other.xml\n"
    assert sitemaps_in_robots(robots, "https://blog.example/") == ["https://blog.example/sitemap.xml",
                                                                   "https://blog.example/other.xml"]


@pytest.fixture
def blog() -> Iterator[FixtureBlog]:
    with SiteServer() as server:
        yield FixtureBlog(server, POSTS)


def _site(url: str, **extra: object) -> tuple[Config, Site]:
    config = Config.model_validate({
        "organisation": "Testby Kommune", "units": [], "people": [],
        "sites": [{"id": "blog", "start_urls": [url], **extra}],
    })
    return config, config.site("blog")


def test_detection_on_the_blog_finds_its_feeds_and_sitemap(blog: FixtureBlog) -> None:
    config, site = _site(blog.url("/"))
    found = detect(config, site, NetGuard(["127.0.0.1"]))
    assert found == [blog.url("/sitemap.xml"), blog.url("/feed/"), blog.url("/comments/feed/")]


def test_polls_are_conditional_and_a_sitemap_index_leads_to_its_sitemaps(blog: FixtureBlog) -> None:
    config, site = _site(blog.url("/"))
    guard = NetGuard(["127.0.0.1"])
    states = [FeedState(blog.url("/comments/feed/")), FeedState(blog.url("/sitemap.xml"))]
    first = poll(config, site, states, guard)
    by_url = {o.url: o for o in first.outcomes}
    assert set(by_url) == {blog.url("/comments/feed/"), blog.url("/sitemap.xml"), blog.url("/sitemap-posts.xml")}
    assert [e.url for e in by_url[blog.url("/sitemap-posts.xml")].entries] == [blog.url("/skandalen/"),
                                                                                blog.url("/ventetid/")]
    assert by_url[blog.url("/comments/feed/")].entries == ()  # no comments yet
    # Polled again with what the first poll learned: nothing changed, every answer a 304.
    again = [FeedState(o.url, o.origin, o.etag, o.last_modified) for o in first.outcomes]
    blog.server.clear()
    second = poll(config, site, again, guard)
    assert [o.status for o in second.outcomes] == [304, 304, 304]
    assert all("If-None-Match" in r.headers for r in blog.server.requests)
    # A comment: the comments feed has it (its permalink is its post's page with an anchor).
    permalink = blog.add_comment("skandalen", "Vred Borger", "René Rosenkilde burde fyres.")
    third = poll(config, site, again, guard)
    (comments,) = [o for o in third.outcomes if o.url == blog.url("/comments/feed/")]
    assert comments.status == 200 and [e.url for e in comments.entries] == [permalink]


def test_a_broken_feed_is_a_failure_of_that_feed_only(blog: FixtureBlog) -> None:
    blog.server.set_page("/broken.xml", "<rss><channel><item>", content_type="application/rss+xml")
    config, site = _site(blog.url("/"))
    states = [FeedState(blog.url("/broken.xml")), FeedState(blog.url("/missing.xml")), FeedState(blog.url("/feed/"))]
    outcomes = poll(config, site, states, NetGuard(["127.0.0.1"])).outcomes
    assert outcomes[0].error is not None and "not well-formed XML" in outcomes[0].error
    assert outcomes[1].error == f"{blog.url('/missing.xml')}: HTTP 404"
    assert outcomes[2].error is None and len(outcomes[2].entries) == 2


def test_the_guard_judges_every_hop_of_a_feed_fetch() -> None:
    with SiteServer() as public, SiteServer(host="127.0.0.2") as internal:
        internal.set_page("/secret.xml", "<rss version='2.0'><channel></channel></rss>")
        public.set_page("/feed.xml", "", status=200)
        guard = NetGuard(["127.0.0.1"])  # 127.0.0.2 stands for the internal network
        with pytest.raises(FeedError) as direct:
            fetch(internal.url("/secret.xml"), guard, agent="t")
        assert "127.0.0.2 is a loopback address not in network.allow_private_hosts" in str(direct.value)
        with pytest.raises(FeedError) as hop:
            fetch(public.url("/_/redirect?to=" + internal.url("/secret.xml")), guard, agent="t")
        assert "refused http://127.0.0.2" in str(hop.value)
        with pytest.raises(FeedError) as scheme:
            fetch("file:///etc/passwd", guard, agent="t")
        assert "only http and https" in str(scheme.value)
        assert internal.requests == []
