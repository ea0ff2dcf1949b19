"""The small records that flow between stages. Frozen: a stage returns a new one, never edits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NotRequired, TypedDict


@dataclass(frozen=True)
class WatchedPerson:
    """A person the matcher looks for: the config's person reduced to what matching needs."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    title: str | None = None


@dataclass(frozen=True)
class Mention:
    """One place in a text where a watched person is named.

    `start`/`end` are str offsets into the original text; `compared` holds the exact strings
    the matcher compared (the text's form, the registered form) so an analyst can see why.
    """

    person: str
    start: int
    end: int
    matched: str
    score: float
    confidence: str  # "high" | "possible"
    variant: str
    compared: tuple[str, str] = ("", "")
    categories: tuple[str, ...] = ()
    # Why it matched, in words an analyst can check ("misspelt 'Gusav' for 'Gustav' (1 edit)").
    why: tuple[str, ...] = ()
    # How it was found (CONTRACT.md `mentions[].found`): "text" (the name written out),
    # "context" (a later reference in a post that names the person; matchers/assess/context.py)
    # or "image" (text read from a picture on the page).
    found: str = "text"

    def as_row(self) -> dict[str, object]:
        """The mention as `vaern match` prints it (and as the dev corpus's scorer reads it)."""
        return {"person": self.person, "start": self.start, "end": self.end, "score": self.score,
                "confidence": self.confidence, "variant": self.variant, "categories": list(self.categories)}


@dataclass(frozen=True)
class Post:
    """One post or comment on a page (crawler/posts.py): its span in `Page.text` and its address.

    `permalink` is the post's own address (a distinct URL, or the page's URL with the post's
    anchor), or None when it has none; `index` is its place among the page's posts (document
    order), so a hit without a permalink can still say which post it was. Posts nest (a comment
    inside a post): the innermost one holding a mention is the one it belongs to.
    """

    start: int
    end: int
    permalink: str | None = None
    index: int = 0
    # Who wrote it, as the page marks it up (crawler/posts.py), and where that was read.
    author: str | None = None
    author_source: str | None = None


@dataclass(frozen=True)
class Byline:
    """Who wrote a stretch of `Page.text`: a post's author, or (0, len(text)) for the page's own
    author where the page states one. The innermost byline holding a mention names its author."""

    start: int
    end: int
    author: str
    source: str  # json-ld | microdata | h-entry | rel-author | selector | meta


def byline_for(bylines: Sequence[Byline], offset: int) -> Byline | None:
    """The innermost byline holding the character at `offset`, if any."""
    holding = [b for b in bylines if b.start <= offset < max(b.end, b.start + 1)]
    return min(holding, key=lambda b: b.end - b.start) if holding else None


def post_for(posts: Sequence[Post], offset: int) -> Post | None:
    """The innermost post holding the character at `offset` (a mention's start), if any."""
    holding = [p for p in posts if p.start <= offset < p.end]
    return min(holding, key=lambda p: p.end - p.start) if holding else None


@dataclass(frozen=True)
class ImageText:
    """The text read in one image of a page (crawler/ocr.py): its address, the text, the
    SHA-256 of the image's bytes as fetched, and those bytes (archived with a hit found in the
    image: the evidence must show what was read) with their media type."""

    url: str
    text: str
    sha256: str
    data: bytes = field(default=b"", repr=False)
    media_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Photo:
    """A picture on a page that is content, not decoration (crawler/photos.py): the stretch of
    `Page.text` it stands beside (its figure, post or block), its address, and what its alt
    text, title and caption say."""

    start: int
    end: int
    url: str
    alt: str = ""


@dataclass(frozen=True)
class Page:
    """A fetched page, as the crawler hands it to the pipeline."""

    site_id: str
    url: str
    status: int
    fetched_at: datetime
    body: bytes = b""
    text: str = ""
    title: str = ""
    encoding: str = "utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str = ""
    depth: int = 0
    rendered: bool = False
    actions: tuple[str, ...] = ()
    posts: tuple[Post, ...] = ()
    # Read whole (a rendered page: ready and expanded until nothing more came; an HTTP page
    # always): only such a read may count a name's absence. `unready` says why not.
    ready: bool = True
    unready: str | None = None
    excerpts: tuple[Excerpt, ...] = ()  # parts that show another page's post (listing pages)
    images: tuple[ImageText, ...] = ()  # text read in the page's images, where `ocr` is on
    bylines: tuple[Byline, ...] = ()  # who wrote which post (crawler/posts.py `bylines`)
    photos: tuple[Photo, ...] = ()  # pictures on the page that are content (crawler/photos.py)


@dataclass(frozen=True)
class Excerpt:
    """Text on a listing page (a front page, archive, tag or topic list) that shows part of
    another page of the site: `target`, its permalink, or a link's text (a title). `start`/`end`
    are offsets into `Page.text`. A mention there belongs to the target page, where the whole
    post is, when that page names the person too (pipeline.py)."""

    start: int
    end: int
    target: str
    kind: str = "teaser"  # "teaser": a post's excerpt; "link": the text of a link to the page (a title)


@dataclass(frozen=True)
class FetchFailure:
    """A URL the crawler could not fetch (error status, timeout, refused); never ends a crawl."""

    site_id: str
    url: str
    reason: str
    status: int | None = None


class MatchedName(TypedDict):
    """One mention on a page as its evidence records it (`matches` in provenance.json): who, as
    what text, and where: the field, the offsets into it, and the post it is in (if any)."""

    person: str
    name: str
    matched: str
    snippet: str
    field: NotRequired[str]  # "title" | "text" | "image"
    image: NotRequired[str]  # the image's address, for a mention found in an image
    start: NotRequired[int]
    end: NotRequired[int]
    variant: NotRequired[str]
    post: NotRequired[str | None]  # the post's permalink; None when it has none
    post_index: NotRequired[int]


@dataclass(frozen=True)
class CaptureRequest:
    """A page to secure as evidence: what the pipeline owes after a crawl, and what
    `crawler.capture` takes.

    `raw_html`/`raw_status` are what the crawler itself received over HTTP (kept next to what the
    browser received); `matches` say which names matched where; `site_settings` is the site's
    config, recorded for provenance; `page_id` is the page row the snapshot is filed under
    (None for a page captured on its own).
    """

    url: str
    site_id: str
    detected_at: datetime
    reason: str = "hit"  # hit | update | removed
    raw_html: bytes | None = None
    raw_status: int | None = None
    matches: tuple[MatchedName, ...] = ()
    site_settings: dict[str, object] = field(default_factory=dict)
    page_id: int | None = None
    same_load: bool = False  # captured from the page the crawl read (no second load)
    # The images whose text names someone (`matches` with field "image"), bytes as the crawl
    # fetched and read them: archived in the snapshot beside the page.
    images: tuple[ImageText, ...] = ()


@dataclass(frozen=True)
class CapturedFile:
    """One artefact of a capture, hashed at the point of collection (before it is stored)."""

    kind: str  # screenshot | html | dom | text | warc | provenance | pdf | crawler_html | scroller-N
    name: str  # the file's name inside an export, e.g. "screenshot.png"
    media_type: str
    data: bytes
    sha256: str


@dataclass(frozen=True)
class Capture:
    """A finished evidence capture of one page: its files and what is known about how it was made."""

    url: str
    site_id: str
    reason: str
    detected_at: datetime
    started_at: datetime
    finished_at: datetime
    final_url: str
    status: int | None
    files: tuple[CapturedFile, ...]
    text: str = ""
    title: str = ""
    notes: tuple[str, ...] = ()
    # Evidence must show what was found: False when the captured text lacks a reported mention
    # (after a second capture with longer waits), and then why.
    complete: bool = True
    incomplete_reason: str | None = None

    def file(self, kind: str) -> CapturedFile | None:
        return next((f for f in self.files if f.kind == kind), None)


@dataclass(frozen=True)
class CaptureFailure:
    """A page that could not be captured; the rest of the batch goes on."""

    url: str
    site_id: str
    reason: str
    error: str
    at: datetime
