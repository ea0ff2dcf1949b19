"""A WordPress-like fixture blog with comment feeds, for the feed tests and bench/feeds.py.

Served by a `SiteServer` (set_page: every page and feed has an ETag and a Last-Modified and
answers a matching conditional GET with 304). What it publishes, as WordPress does:

    /                     front page: post titles; <link rel=alternate> to /feed/ and /comments/feed/
    /{slug}/              a post (h-entry, author as p-author h-card) and its comments
                          (div.comment.h-entry, id comment-N, author as p-author, a permalink on the time)
    /feed/                RSS 2.0 of the posts, each with wfw:commentRss (its comment feed)
    /comments/feed/       RSS 2.0 of the newest comments (guid: the comment's permalink)
    /{slug}/feed/         RSS 2.0 of one post's comments
    /robots.txt           Sitemap: /sitemap.xml
    /sitemap.xml          a sitemap index -> /sitemap-posts.xml (each post with its lastmod)

`add_comment(slug, author, text)` publishes a comment at once: the post page and every feed
change together. Dates run on from a fixed instant, one minute per change, so nothing depends
on today's date.
"""

from __future__ import annotations

import html
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from vaern.testing.siteserver import SiteServer

EPOCH = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
COMMENTS_IN_FEED = 10  # as WordPress's default "posts per feed"


@dataclass
class Comment:
    id: int
    author: str
    text: str
    at: datetime


@dataclass
class Post:
    slug: str
    title: str
    author: str
    text: str
    at: datetime
    comments: list[Comment] = field(default_factory=list)


class FixtureBlog:
    """The blog on `server`; `posts` are (slug, title, author, text)."""

    def __init__(self, server: SiteServer, posts: list[tuple[str, str, str, str]]) -> None:
        self.server = server
        self._lock = threading.Lock()
        self._changes = 0
        self._next_comment = 1
        self.posts: dict[str, Post] = {}
        for slug, title, author, text in posts:
            self.posts[slug] = Post(slug, title, author, text, self._tick())
        self._publish()

    def _tick(self) -> datetime:
        self._changes += 1
        return EPOCH + timedelta(minutes=self._changes)

    def url(self, path: str = "/") -> str:
        return self.server.url(path)

    def add_comment(self, slug: str, author: str, text: str) -> str:
        """Publish a comment; returns its permalink."""
        with self._lock:
            post = self.posts[slug]
            comment = Comment(self._next_comment, author, text, self._tick())
            self._next_comment += 1
            post.comments.append(comment)
            self._publish()
            return self.url(f"/{slug}/#comment-{comment.id}")

    # -- pages ---------------------------------------------------------------------------------

    def _publish(self) -> None:
        s = self.server
        s.set_page("/", self._front())
        for post in self.posts.values():
            s.set_page(f"/{post.slug}/", self._post(post))
            mine = {c.id: post for c in post.comments}
            s.set_page(f"/{post.slug}/feed/", self._rss(f"Kommentarer til {post.title}",
                                                        post.comments[-COMMENTS_IN_FEED:], mine), content_type=_RSS)
        s.set_page("/feed/", self._post_feed(), content_type=_RSS)
        every = sorted((c for p in self.posts.values() for c in p.comments), key=lambda c: c.id)
        owners = {c.id: p for p in self.posts.values() for c in p.comments}
        s.set_page("/comments/feed/", self._rss("Kommentarer", every[-COMMENTS_IN_FEED:], owners), content_type=_RSS)
        s.set_page("/robots.txt", f"User-agent: *\nDisallow: /wp-admin/\nSitemap: {self.url('/sitemap.xml')}\n",
                   content_type="text/plain")
        s.set_page("/sitemap.xml", _XML + '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                   f"<sitemap><loc>{self.url('/sitemap-posts.xml')}</loc></sitemap></sitemapindex>",
                   content_type="application/xml")
        urls = "".join(
            f"<url><loc>{self.url(f'/{p.slug}/')}</loc><lastmod>{self._modified(p).isoformat()}</lastmod></url>"
            for p in self.posts.values()
        )
        s.set_page("/sitemap-posts.xml", _XML + f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}'
                   "</urlset>", content_type="application/xml")

    @staticmethod
    def _modified(post: Post) -> datetime:
        return max([post.at, *(c.at for c in post.comments)])

    def _front(self) -> str:
        items = "".join(f'<li><a href="/{p.slug}/">{html.escape(p.title)}</a></li>' for p in self.posts.values())
        return (
            "<!doctype html><html><head><meta charset=utf-8><title>Borgerbloggen</title>"
            f'<link rel="alternate" type="application/rss+xml" title="Indlæg" href="{self.url("/feed/")}">'
            '<link rel="alternate" type="application/rss+xml" title="Kommentarer" '
            f'href="{self.url("/comments/feed/")}">'
            f"</head><body><h1>Borgerbloggen</h1><ul>{items}</ul></body></html>"
        )

    def _post(self, post: Post) -> str:
        comments = "".join(
            f'<div class="comment h-entry" id="comment-{c.id}">'
            f'<span class="p-author h-card"><span class="p-name">{html.escape(c.author)}</span></span> '
            f'<a href="#comment-{c.id}" rel="bookmark">'
            f'<time datetime="{c.at.isoformat()}">{c.at:%d.%m.%Y %H:%M}</time></a>'
            f'<p class="e-content">{html.escape(c.text)}</p></div>'
            for c in post.comments
        )
        return (
            f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(post.title)}</title>"
            f'<link rel="alternate" type="application/rss+xml" href="{self.url(f"/{post.slug}/feed/")}">'
            f'</head><body><article class="h-entry"><h1 class="p-name">{html.escape(post.title)}</h1>'
            f'<p>Af <span class="p-author h-card"><span class="p-name">{html.escape(post.author)}</span></span>, '
            f'<time datetime="{post.at.isoformat()}">{post.at:%d.%m.%Y}</time></p>'
            f'<div class="e-content"><p>{html.escape(post.text)}</p></div>'
            f'<section class="comments"><h2>Kommentarer</h2>{comments}</section></article></body></html>'
        )

    def _post_feed(self) -> str:
        items = "".join(
            f"<item><title>{html.escape(p.title)}</title><link>{self.url(f'/{p.slug}/')}</link>"
            f"<guid isPermaLink=\"false\">{self.url(f'/?p={n}')}</guid><pubDate>{format_datetime(p.at)}</pubDate>"
            f"<wfw:commentRss>{self.url(f'/{p.slug}/feed/')}</wfw:commentRss></item>"
            for n, p in enumerate(self.posts.values(), 1)
        )
        return (_XML + '<rss version="2.0" xmlns:wfw="http://wellformedweb.org/CommentAPI/"><channel>'
                f"<title>Borgerbloggen</title><link>{self.url('/')}</link>{items}</channel></rss>")

    def _rss(self, title: str, comments: list[Comment], owners: dict[int, Post]) -> str:
        items = []
        for c in reversed(comments):
            post = owners[c.id]
            link = self.url(f"/{post.slug}/#comment-{c.id}")
            items.append(
                f"<item><title>{html.escape(c.author)} om {html.escape(post.title)}</title><link>{link}</link>"
                f'<guid isPermaLink="false">{link}</guid><pubDate>{format_datetime(c.at)}</pubDate>'
                f"<description>{html.escape(c.text)}</description></item>"
            )
        return (_XML + f"<rss version=\"2.0\"><channel><title>{html.escape(title)}</title>"
                f"<link>{self.url('/')}</link>{''.join(items)}</channel></rss>")


_XML = '<?xml version="1.0" encoding="UTF-8"?>\n'
_RSS = "application/rss+xml; charset=utf-8"
