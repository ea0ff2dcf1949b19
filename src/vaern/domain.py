"""The small records that flow between stages. Frozen: a stage returns a new one, never edits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


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


@dataclass(frozen=True)
class FetchFailure:
    """A URL the crawler could not fetch (error status, timeout, refused); never ends a crawl."""

    site_id: str
    url: str
    reason: str
    status: int | None = None
