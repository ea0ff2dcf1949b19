"""Sites that behave like the real software Værn meets: a WordPress-like blog and a Spirit-like forum.

Both are routes on a `SiteServer` (`mount_blog(server, posts)`, `mount_forum(server, topics)`),
built from the same content so tests and benchmarks can plant names and count what came back.
They reproduce what a real WordPress 6 and a real django-spirit did to a crawl:

Blog (`mount_blog`):
- listing pages that show an excerpt of every post: the front page and `/page/N/`, category,
  tag and month archives; a sidebar of recent posts and recent comments on every page;
- a post at `/YYYY/MM/slug/` with `<link rel="canonical">`, nested comments paged three top-level
  threads a page, newest page shown on the post itself, so `comment-page-N/` for the newest N is
  the post again; older pages at `comment-page-1/` …;
- `?replytocom=ID` reply links on every comment (the post again, with "Svar til NAME" above the
  form), share (`?share=facebook`) and print (`?print=1`) links, feeds (`/feed/`,
  `/comments/feed/`, `…/slug/feed/`), `wp-login.php` (also `?action=register`, `?action=lostpassword`);
- per-request noise: a fresh nonce in a hidden input, a script and the logout link, a random
  `0/1/2.gravatar.com` host for each avatar, a view counter, and "opdateret for N minutter siden".

Forum (`mount_forum`):
- a front page and category pages listing topic titles (`?page=1` links on their paginators);
- a topic at `/topic/ID/slug/` with five comments a page, `?page=1` (the bare topic again),
  `?page=2` …, and each comment's permalink `/comment/ID/find/` redirecting to its page;
- a `/user/login/?next=PATH` link on every page; the login page's own link nests the `next=`
  once more (`/user/login/?next=/user/login/%3Fnext%3D…`), without end;
- register, reply (`/comment/TOPIC/publish/`, a redirect to log in) and user pages;
- a search URL (`/search/?q=`) that redirects anonymous users to the login page, a small page of
  a form and scripts;
- per-request noise: a fresh CSRF token (hidden inputs and a meta tag) and "for N minutter siden".

`Planted` says which page each watched name belongs to; `bench/realsites.py` and
tests/test_realsites.py count hits and snapshots against it.
"""

# ruff: noqa: E501  (HTML templates read best one element a line)
from __future__ import annotations

import html
import itertools
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from vaern.testing.siteserver import Exchange, SiteServer

COMMENTS_PER_PAGE = 3  # top-level threads per comment page (blog)
POSTS_PER_PAGE = 3  # posts per listing page (blog)
FORUM_PAGE = 5  # comments per topic page (forum)


@dataclass(frozen=True)
class Comment:
    id: int
    author: str
    text: str
    replies: tuple[Comment, ...] = ()


@dataclass(frozen=True)
class BlogPost:
    slug: str
    title: str
    paragraphs: tuple[str, ...]
    category: str = "kommunen"
    tags: tuple[str, ...] = ()
    comments: tuple[Comment, ...] = ()  # top-level threads, oldest first


@dataclass(frozen=True)
class Topic:
    id: int
    slug: str
    title: str
    category: str
    comments: tuple[tuple[str, str], ...]  # (author, text), oldest first; the first is the opening post


@dataclass(frozen=True)
class Planted:
    """A watched name planted on a site: `path` is the page a hit for it belongs on."""

    person: str
    path: str


@dataclass
class _Noise:
    requests: itertools.count[int] = field(default_factory=itertools.count)
    rng: random.Random = field(default_factory=random.Random)

    def minutes(self) -> int:
        return next(self.requests) % 57 + 1


# -- the blog ------------------------------------------------------------------------------


def post_path(post: BlogPost) -> str:
    return f"/2026/11/{post.slug}/"


def comment_pages(post: BlogPost) -> int:
    return max(1, -(-len(post.comments) // COMMENTS_PER_PAGE))


def mount_blog(server: SiteServer, posts: Sequence[BlogPost]) -> None:
    """Serve the WordPress-like blog of the module docstring on `server` (newest post first)."""
    noise = _Noise()
    by_path = {post_path(p): p for p in posts}

    def avatar() -> str:
        host = noise.rng.choice("012")
        return f'<img class="avatar" alt="" src="https://{host}.gravatar.com/avatar/{secrets.token_hex(8)}?s=48">'

    def layout(ex: Exchange, title: str, main: str, canonical: str | None = None) -> None:
        nonce = secrets.token_hex(5)
        head = f"<meta charset=utf-8><title>{html.escape(title)} – Borgerbloggen</title>"
        head += f'<link rel="dns-prefetch" href="//{noise.rng.choice("012")}.gravatar.com">'
        head += '<link rel="alternate" type="application/rss+xml" href="/feed/">'
        if canonical:
            head += f'<link rel="canonical" href="{server.url(canonical)}">'
        head += f'<script>var wpApiSettings={{"nonce":"{nonce}"}};</script>'
        recent = "".join(f'<li><a href="{post_path(p)}">{html.escape(p.title)}</a></li>' for p in posts[:5])
        latest = [(p, c) for p in posts for c in p.comments][-5:]
        comments = "".join(
            f'<li class="recentcomments">{html.escape(c.author)} til <a href="{post_path(p)}#comment-{c.id}">'
            f"{html.escape(p.title)}</a></li>"
            for p, c in latest
        )
        sidebar = (
            f'<aside id="secondary"><h2>Seneste indlæg</h2><ul>{recent}</ul>'
            f"<h2>Seneste kommentarer</h2><ul>{comments}</ul>"
            f"<p>Opdateret for {noise.minutes()} minutter siden · {1000 + next(noise.requests)} visninger</p>"
            '<ul><li><a href="/wp-login.php">Log ind</a></li><li><a href="/feed/">Indlæg-feed</a></li>'
            '<li><a href="/comments/feed/">Kommentar-feed</a></li>'
            f'<li><a href="/wp-login.php?action=logout&amp;_wpnonce={nonce}">Log ud</a></li></ul></aside>'
        )
        nav = '<nav><a href="/">Forside</a> <a href="/category/kommunen/">Kommunen</a> <a href="/2026/11/">November 2026</a></nav>'
        body = f'<header><h1 class="site-title"><a href="/">Borgerbloggen</a></h1>{nav}</header><main>{main}</main>{sidebar}'
        ex.send(200, f"<!doctype html><html lang=da><head>{head}</head><body>{body}</body></html>")

    def teaser(post: BlogPost) -> str:
        words = " ".join(post.paragraphs).split()
        summary = " ".join(words[:40]) + (" […]" if len(words) > 40 else "")
        return (
            f'<article class="post type-post hentry"><h2 class="entry-title"><a href="{post_path(post)}" rel="bookmark">'
            f"{html.escape(post.title)}</a></h2><div class=\"entry-summary\"><p>{html.escape(summary)}</p></div>"
            f'<a class="more-link" href="{post_path(post)}#more">Læs mere</a>'
            f'<footer><a href="{post_path(post)}#comments">{len(post.comments)} kommentarer</a></footer></article>'
        )

    def listing(ex: Exchange, title: str, chosen: Sequence[BlogPost], base: str) -> None:
        page_no = 1
        parts = [p for p in urlsplit(ex.path).path.split("/") if p]
        if len(parts) >= 2 and parts[-2] == "page":
            page_no = int(parts[-1])
        shown = chosen[(page_no - 1) * POSTS_PER_PAGE : page_no * POSTS_PER_PAGE]
        if not shown:
            ex.send(404, "<html><body><p>Siden findes ikke.</p></body></html>")
            return
        pager = ""
        if page_no * POSTS_PER_PAGE < len(chosen):
            pager += f'<a class="next" href="{base}page/{page_no + 1}/">Ældre indlæg</a>'
        if page_no > 1:
            pager += f'<a class="prev" href="{base}page/{page_no - 1}/">Nyere indlæg</a>' if page_no > 2 else f'<a class="prev" href="{base}">Nyere indlæg</a>'
        layout(ex, title, "".join(teaser(p) for p in shown) + f"<nav class=pagination>{pager}</nav>")

    def thread(post: BlogPost, c: Comment, depth: int, link: str) -> str:
        replies = "".join(thread(post, r, depth + 1, link) for r in c.replies)
        return (
            f'<li id="comment-{c.id}" class="comment depth-{depth}"><article class="comment-body">'
            f'<footer class="comment-meta">{avatar()}<b class="fn">{html.escape(c.author)}</b> '
            f'<a href="{link}#comment-{c.id}"><time>27. november 2026 kl. 10:{c.id % 60:02d}</time></a></footer>'
            f'<div class="comment-content"><p>{html.escape(c.text)}</p></div>'
            f'<div class="reply"><a rel="nofollow" class="comment-reply-link" href="?replytocom={c.id}#respond">Svar</a></div>'
            f"</article>{f'<ol class=children>{replies}</ol>' if replies else ''}</li>"
        )

    def show_post(ex: Exchange, post: BlogPost, cpage: int | None) -> None:
        pages = comment_pages(post)
        shown_page = pages if cpage is None else cpage
        if not 1 <= shown_page <= pages:
            ex.send(404, "<html><body><p>Siden findes ikke.</p></body></html>")
            return
        threads = post.comments[(shown_page - 1) * COMMENTS_PER_PAGE : shown_page * COMMENTS_PER_PAGE]
        base = post_path(post)
        nav = ""
        if shown_page > 1:
            nav += f'<a class="prev" href="{base}comment-page-{shown_page - 1}/#comments">Ældre kommentarer</a>'
        if shown_page < pages:
            nav += f'<a class="next" href="{base}comment-page-{shown_page + 1}/#comments">Nyere kommentarer</a>'
        replying = ex.query.get("replytocom")
        to = next((c.author for t in post.comments for c in _walk(t) if str(c.id) == replying), None)
        form_title = f"Svar til {html.escape(to)}" if to else "Skriv en kommentar"
        printing = ex.query.get("print") == "1"
        tags = "".join(f'<a href="/tag/{t}/" rel="tag">{t}</a> ' for t in post.tags)
        article = (
            f'<article class="post type-post hentry"><h1 class="entry-title"><a href="{base}" rel="bookmark">'
            f"{html.escape(post.title)}</a></h1><div class=entry-content>"
            + "".join(f"<p>{html.escape(p)}</p>" for p in post.paragraphs)
            + f'</div><footer>Kategori: <a href="/category/{post.category}/">{post.category}</a> Tags: {tags}'
            f'<a href="{base}?share=facebook">Del på Facebook</a> <a href="{base}?print=1">Udskriv</a></footer></article>'
        )
        comments = (
            f'<section id="comments"><h2>{len(post.comments)} kommentarer</h2><ol class="comment-list">'
            + "".join(thread(post, c, 1, base if shown_page == pages else f"{base}comment-page-{shown_page}/") for c in threads)
            + f'</ol><nav class="comment-navigation">{nav}</nav><div id="respond"><h3>{form_title}</h3>'
            f'<form action="/wp-comments-post.php" method="post"><textarea name="comment"></textarea>'
            f'<input type="hidden" name="_wpnonce" value="{secrets.token_hex(5)}"></form></div>'
            f'<a href="{base}feed/">Kommentarer til dette indlæg (RSS)</a></section>'
        )
        canonical = base if cpage is None else f"{base}comment-page-{cpage}/"
        if printing:
            ex.send(200, f"<html><head><title>{html.escape(post.title)}</title></head><body>{article}</body></html>")
            return
        layout(ex, post.title, article + comments, canonical=canonical)

    def login(ex: Exchange) -> None:
        action = ex.query.get("action", "login")
        if action == "logout":
            ex.redirect("/wp-login.php?loggedout=true")
            return
        form = '<form method="post"><input name="log"><input type="password" name="pwd"></form>'
        links = '<a href="/wp-login.php?action=register">Registrér</a> <a href="/wp-login.php?action=lostpassword">Glemt adgangskode?</a> <a href="/">← Tilbage til Borgerbloggen</a>'
        ex.send(200, f"<html><head><title>Log ind</title><script>var x=1;</script></head><body>{form}{links}</body></html>")

    def feed(ex: Exchange) -> None:
        items = "".join(f"<item><title>{html.escape(p.title)}</title><link>{server.url(post_path(p))}</link></item>" for p in posts)
        ex.send(200, f"<?xml version='1.0'?><rss><channel>{items}</channel></rss>", "application/rss+xml; charset=utf-8")

    def route(ex: Exchange) -> None:
        path = ex.route
        if path == "/wp-login.php":
            login(ex)
        elif path.endswith("/feed/"):
            feed(ex)
        elif path == "/" or path.startswith("/page/"):
            if ex.query.get("s"):
                layout(ex, "Søgning", "<p>Ingen resultater.</p>")
            else:
                listing(ex, "Borgerbloggen", posts, "/")
        elif path.startswith("/category/"):
            name = path.split("/")[2]
            listing(ex, f"Kategori: {name}", [p for p in posts if p.category == name], f"/category/{name}/")
        elif path.startswith("/tag/"):
            name = path.split("/")[2]
            listing(ex, f"Tag: {name}", [p for p in posts if name in p.tags], f"/tag/{name}/")
        elif path == "/2026/11/" or path.startswith("/2026/11/page/"):
            listing(ex, "Måned: november 2026", posts, "/2026/11/")
        else:
            cpage = None
            if "/comment-page-" in path:
                path, _, rest = path.partition("comment-page-")
                cpage = int(rest.strip("/") or 0)
            post = by_path.get(path)
            if post is None:
                ex.send(404, "<html><body><p>Siden findes ikke.</p></body></html>")
            else:
                show_post(ex, post, cpage)

    server.route("/", route, prefix=True)


def _walk(c: Comment) -> list[Comment]:
    return [c, *(x for r in c.replies for x in _walk(r))]


# -- the forum -----------------------------------------------------------------------------


def topic_path(topic: Topic) -> str:
    return f"/topic/{topic.id}/{topic.slug}/"


def topic_pages(topic: Topic) -> int:
    return max(1, -(-len(topic.comments) // FORUM_PAGE))


def mount_forum(server: SiteServer, topics: Sequence[Topic]) -> None:
    """Serve the Spirit-like forum of the module docstring on `server`."""
    noise = _Noise()
    categories = sorted({t.category for t in topics})
    comment_ids = {}
    ids = itertools.count(100)
    for t in topics:
        for i, _ in enumerate(t.comments):
            comment_ids[next(ids)] = (t, i)

    def layout(ex: Exchange, title: str, main: str) -> None:
        token = secrets.token_urlsafe(48)
        here = ex.path
        head = (
            f"<meta charset=utf-8><title>{html.escape(title)} – Borgerforum</title>"
            f'<meta name="csrf-token" content="{token}"><script src="/static/spirit.js"></script>'
            f"<script>window.csrf='{token}';</script>"
        )
        header = (
            '<header><a href="/">Borgerforum</a> '
            f'<form action="/search/" method="get"><input name="q"><input type="hidden" name="csrfmiddlewaretoken" value="{token}"></form>'
            f'<a href="/user/login/?next={quote(here, safe="/")}">Log ind</a> <a href="/user/register/">Opret bruger</a></header>'
        )
        footer = (
            "<footer><p>Borgerforum er et åbent debatforum for borgere i kommunen. Hold en god tone, og husk "
            "at indlæg er offentlige. Moderatorerne fjerner indlæg, der bryder retningslinjerne.</p>"
            '<a href="/">Forside</a> <a href="/category/1/generelt/">Kategorier</a></footer>'
        )
        ex.send(200, f"<!doctype html><html><head>{head}</head><body>{header}<main>{main}</main>{footer}</body></html>")

    def topic_row(t: Topic) -> str:
        return (
            f'<li class="topic-row"><a class="topic-title" href="{topic_path(t)}">{html.escape(t.title)}</a> '
            f'<a href="/category/{categories.index(t.category) + 1}/{t.category}/">{t.category}</a> '
            f"<span>{len(t.comments)} svar</span> <span>for {noise.minutes()} minutter siden</span></li>"
        )

    def pager(base: str, page: int, pages: int) -> str:
        links = "".join(f'<a href="{base}?page={n}">{n}</a> ' for n in range(1, pages + 1) if n != page)
        return f'<nav class="pagination">{links}</nav>'

    def topic_list(ex: Exchange, title: str, chosen: Sequence[Topic], base: str) -> None:
        page = int(ex.query.get("page", "1") or 1)
        pages = max(1, -(-len(chosen) // 10))
        shown = chosen[(page - 1) * 10 : page * 10]
        layout(ex, title, f"<h1>{html.escape(title)}</h1><ul>{''.join(topic_row(t) for t in shown)}</ul>" + pager(base, page, pages))

    def show_topic(ex: Exchange, topic: Topic) -> None:
        page = int(ex.query.get("page", "1") or 1)
        pages = topic_pages(topic)
        if not 1 <= page <= pages:
            ex.send(404, "<html><body><p>Siden findes ikke.</p></body></html>")
            return
        first = (page - 1) * FORUM_PAGE
        rows = []
        for i, (author, text) in enumerate(topic.comments[first : first + FORUM_PAGE], start=first):
            cid = next(k for k, v in comment_ids.items() if v == (topic, i))
            rows.append(
                f'<div class="comment" id="c{cid}"><div class="comment-head"><a href="/user/{cid}/{author.lower()}/">'
                f'{html.escape(author)}</a> <a href="/comment/{cid}/find/">for {noise.minutes()} minutter siden</a></div>'
                f'<div class="comment-body"><p>{html.escape(text)}</p></div>'
                f'<a href="/comment/{topic.id}/publish/{cid}/">Citér</a> '
                f'<form><input type="hidden" name="csrfmiddlewaretoken" value="{secrets.token_urlsafe(48)}"></form></div>'
            )
        main = (
            f'<h1>{html.escape(topic.title)}</h1><a href="/category/{categories.index(topic.category) + 1}/{topic.category}/">'
            f"{topic.category}</a>{''.join(rows)}{pager(topic_path(topic), page, pages)}"
            f'<a href="/comment/{topic.id}/publish/">Svar</a>'
        )
        layout(ex, topic.title, main)

    def login(ex: Exchange) -> None:
        nxt = ex.query.get("next", "/")
        token = secrets.token_urlsafe(48)
        here = f"/user/login/?next={quote(nxt, safe='/')}"
        body = (
            f'<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="{token}">'
            '<input name="username"><input type="password" name="password"></form>'
            f'<a href="/user/login/?next={quote(here, safe="/")}">Log ind</a> <a href="/user/register/">Opret bruger</a>'
        )
        ex.send(
            200,
            f"<html><head><title>Log ind</title><script src='/static/spirit.js'></script><script>var t='{token}';"
            f"</script></head><body>{body}</body></html>",
        )

    def route(ex: Exchange) -> None:
        path = ex.route
        parts = [p for p in path.split("/") if p]
        if path == "/":
            topic_list(ex, "Seneste emner", topics, "/")
        elif path == "/user/login/":
            login(ex)
        elif path == "/user/register/":
            layout(ex, "Opret bruger", '<form><input type="password" name="password1"></form>')
        elif path.startswith("/user/") and len(parts) >= 2:
            layout(ex, "Profil", f"<h1>{html.escape(parts[-1])}</h1><p>Medlem siden 2025.</p>")
        elif path == "/search/":
            ex.redirect(f"/user/login/?next={quote(ex.path, safe='/')}")
        elif path.startswith("/category/") and len(parts) >= 2:
            name = categories[int(parts[1]) - 1] if parts[1].isdigit() and 0 < int(parts[1]) <= len(categories) else None
            if name is None:
                ex.send(404, "<html><body><p>Findes ikke.</p></body></html>")
            else:
                topic_list(ex, name, [t for t in topics if t.category == name], path)
        elif path.startswith("/comment/") and len(parts) >= 3 and parts[2] == "find":
            found = comment_ids.get(int(parts[1])) if parts[1].isdigit() else None
            if found is None:
                ex.send(404, "<html><body><p>Findes ikke.</p></body></html>")
            else:
                t, i = found
                page = i // FORUM_PAGE + 1
                ex.redirect(topic_path(t) + (f"?page={page}" if page > 1 else "") + f"#c{parts[1]}")
        elif path.startswith("/comment/") and "publish" in parts:
            ex.redirect(f"/user/login/?next={quote(path, safe='/')}")
        elif path.startswith("/topic/") and len(parts) >= 2 and parts[1].isdigit():
            topic = next((t for t in topics if t.id == int(parts[1])), None)
            if topic is None:
                ex.send(404, "<html><body><p>Findes ikke.</p></body></html>")
            else:
                show_topic(ex, topic)
        elif path == "/static/spirit.js":
            ex.send(200, "document.documentElement.dataset.ready='1';", "application/javascript")
        else:
            ex.send(404, "<html><body><p>Findes ikke.</p></body></html>")

    server.route("/", route, prefix=True)


# -- planted content -----------------------------------------------------------------------

FILLER = (
    "Vi har skrevet til kommunen flere gange uden at få svar, og nu har vi fået nok af ventetiden.",
    "Mødet på rådhuset sluttede uden nogen afklaring af sagen, og borgerne gik skuffede hjem.",
    "Der står intet om det i referatet, og ingen i forvaltningen vil svare på vores spørgsmål.",
)


def blog_posts(names: Sequence[str], decoys: Sequence[str] = ("Karen Blixen",)) -> tuple[list[BlogPost], list[Planted]]:
    """One post per name, named in its first paragraph (so the listings' excerpts show it); the
    last post also gets a name in a comment on its oldest comment page. A decoy post names nobody watched."""
    posts: list[BlogPost] = []
    planted: list[Planted] = []
    ids = itertools.count(1)
    for n, name in enumerate(names):
        slug = f"indlaeg-{n + 1}"
        comments = tuple(
            Comment(next(ids), f"Læser {k}", FILLER[k % 3], replies=(Comment(next(ids), "Svar", FILLER[(k + 1) % 3]),))
            for k in range(2 + n % 3 * 2)
        )
        post = BlogPost(
            slug=slug,
            title=f"Endnu en sag fra forvaltningen ({n + 1})",
            paragraphs=(f"{name} har igen afvist vores klage, og det er ikke første gang.", *FILLER),
            category="kommunen" if n % 2 == 0 else "borgere",
            tags=("klage", f"sag-{n + 1}"),
            comments=comments,
        )
        posts.append(post)
        planted.append(Planted(name, post_path(post)))
    # A name in a comment on an older comment page of the last post: that page is its own hit.
    if posts and names:
        last = posts[-1]
        named = Comment(next(ids), "Vred borger", f"Spørg bare {names[0]}, hun ved godt hvad der foregår.")
        threads = (named, *(Comment(next(ids), f"Læser {k}", FILLER[k % 3]) for k in range(COMMENTS_PER_PAGE * 2)))
        posts[-1] = BlogPost(last.slug, last.title, last.paragraphs, last.category, last.tags, threads)
        planted.append(Planted(names[0], post_path(last) + "comment-page-1/"))
    for d in decoys:
        posts.append(BlogPost(slug="om-bloggen", title="Om bloggen", paragraphs=(f"Bloggen citerer {d} og andre forfattere.",)))
    posts.reverse()  # newest first, as a blog lists them
    return posts, planted


def forum_topics(names: Sequence[str]) -> tuple[list[Topic], list[Planted]]:
    """One topic per name: even ones name the person in the title and the opening post, odd ones
    on the topic's second page only."""
    topics: list[Topic] = []
    planted: list[Planted] = []
    for n, name in enumerate(names):
        comments = [("opretter", FILLER[0])] + [(f"bruger{k}", FILLER[k % 3]) for k in range(1, 8)]
        if n % 2 == 0:
            title = f"Hvad sker der med {name} og sagen"
            comments[0] = ("opretter", f"{name} har igen afvist vores klage uden begrundelse.")
            path = f"/topic/{n + 1}/emne-{n + 1}/"
        else:
            title = f"Ventetid i forvaltningen, del {n + 1}"
            comments[6] = ("bruger6", f"Jeg talte med {name} i går, og intet skete.")
            path = f"/topic/{n + 1}/emne-{n + 1}/?page=2"
        topics.append(Topic(n + 1, f"emne-{n + 1}", title, "kommunen" if n % 2 else "generelt", tuple(comments)))
        planted.append(Planted(name, path))
    return topics, planted


__all__ = [
    "BlogPost", "Comment", "Planted", "Topic", "blog_posts", "comment_pages", "forum_topics", "mount_blog",
    "mount_forum", "post_path", "topic_path",
]  # fmt: skip
