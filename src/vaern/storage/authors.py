"""Authors: who wrote the posts that name the staff, known per site, linked across sites only by
an analyst.

A hit's author is what the page marks up (crawler/posts.py, `hits.author`). An author is the
pair (site, author as written): the same name on two sites is two authors until an analyst
confirms they are one person (`link_authors`, from the review app, with an audit entry); linked
pairs share a `group_key` in `author_links`.

Used by the alerts (has this author named the staff before, and how often) and the review app's
author page. Scoping (which units a reader may see) is the caller's: these functions return
unit ids with every hit so the caller can filter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from vaern.storage.tables import AuthorLinkRow, HitRow

Author = tuple[str, str]  # (site id, author as the page writes it)


@dataclass(frozen=True)
class AuthoredHit:
    """One hit of an author: enough to say which staff member, where, when and how bad."""

    id: int
    site_id: str
    author: str
    person_id: str
    unit_id: str | None
    url: str
    first_seen: datetime
    severity: str | None
    status: str


def linked(session: Session, author: Author) -> list[Author]:
    """The author and every author an analyst linked to it (the author alone when none)."""
    site_id, name = author
    group = session.scalar(
        select(AuthorLinkRow.group_key).where(AuthorLinkRow.site_id == site_id, AuthorLinkRow.author == name)
    )
    if group is None:
        return [author]
    members = session.execute(
        select(AuthorLinkRow.site_id, AuthorLinkRow.author).where(AuthorLinkRow.group_key == group)
        .order_by(AuthorLinkRow.id)
    ).all()
    return [(s, a) for s, a in members]


def hits_by(session: Session, authors: Sequence[Author]) -> list[AuthoredHit]:
    """Every hit written by one of `authors`, oldest first (dismissed hits are not theirs: a
    dismissal says the page did not name the person)."""
    if not authors:
        return []
    rows = session.scalars(
        select(HitRow).where(
            or_(*(and_(HitRow.site_id == s, HitRow.author == a) for s, a in authors)),
            HitRow.status != "dismissed",
        ).order_by(HitRow.first_seen, HitRow.id)
    ).all()
    return [
        AuthoredHit(h.id, h.site_id, h.author or "", h.person_id, h.unit_id, h.url, h.first_seen, h.severity, h.status)
        for h in rows
    ]


def earlier_hits(session: Session, hits: Iterable[HitRow]) -> dict[int, list[AuthoredHit]]:
    """For each hit with an author: that author's (and linked authors') hits before it."""
    out: dict[int, list[AuthoredHit]] = {}
    for hit in hits:
        if not hit.author or hit.id in out:
            continue
        every = hits_by(session, linked(session, (hit.site_id, hit.author)))
        out[hit.id] = [h for h in every if h.id != hit.id and (h.first_seen, h.id) < (hit.first_seen, hit.id)]
    return out


def link_authors(session: Session, one: Author, other: Author, by: str, at: datetime) -> str:
    """Record that an analyst confirmed `one` and `other` are one person; their groups merge.
    Returns the group's key. The caller writes the audit entry in the same transaction."""
    rows = {
        (r.site_id, r.author): r
        for r in session.scalars(select(AuthorLinkRow).where(
            or_(*(and_(AuthorLinkRow.site_id == s, AuthorLinkRow.author == a) for s, a in (one, other)))
        ))
    }
    groups = sorted({r.group_key for r in rows.values()})
    key = groups[0] if groups else hashlib.sha256(f"{one[0]}\n{one[1]}".encode()).hexdigest()[:40]
    if len(groups) > 1:
        for row in session.scalars(select(AuthorLinkRow).where(AuthorLinkRow.group_key.in_(groups[1:]))):
            row.group_key = key
    for site_id, name in (one, other):
        if (site_id, name) not in rows:
            session.add(AuthorLinkRow(group_key=key, site_id=site_id, author=name, linked_by=by, linked_at=at))
    session.flush()
    return key
