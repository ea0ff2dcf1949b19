"""Reading hits for the review app: the filtered, searched, paged list, its counts, and ids.

Everything here takes a `Viewer` and applies `access.visible_hits`; the list page, the overview
and the JSON endpoints use these functions, never their own queries. Page size: `review.page_size`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from vaern.config import Config
from vaern.review.access import Viewer, visible_hits
from vaern.storage.queries import parse_public_id, public_id
from vaern.storage.tables import HitRow, PageRow, SnapshotRow

STATUSES = ("new", "confirmed", "dismissed", "removed")
CONFIDENCES = ("high", "possible")
CATEGORIES = ("threat", "private_info", "insult", "accusation", "criticism")


def hit_ref(hit_id: int) -> str:
    """The public id of a hit, as in `vaern hits --json` and alert links."""
    return public_id("h", hit_id)


def snapshot_ref(snapshot_id: int) -> str:
    return public_id("s", snapshot_id)


def parse_hit_ref(text: str) -> int | None:
    """'h-000123' (or '123') -> 123; anything else -> None."""
    return parse_public_id("h", text[:20])


def parse_snapshot_ref(text: str) -> int | None:
    return parse_public_id("s", text[:20])


def fold(text: str) -> str:
    """Case- and accent-insensitive form for search (Ø/ø and é/e compare equal; æ stays æ)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("ø", "o")


@dataclass(frozen=True)
class Directory:
    """The watched people as the app shows and searches them; built once from the config."""

    names: dict[str, str]  # id -> name
    units: dict[str, str | None]  # id -> unit id
    by_name: list[tuple[str, str, str | None]]  # (id, name, unit), sorted by name
    keys: list[tuple[str, str]]  # (id, folded "name id") for search

    @classmethod
    def of(cls, config: Config) -> Directory:
        people = config.people
        return cls(
            names={p.id: p.name for p in people},
            units={p.id: p.unit for p in people},
            by_name=sorted(((p.id, p.name, p.unit) for p in people), key=lambda p: (p[1], p[0])),
            keys=[(p.id, f"{fold(p.name)} {p.id.lower()}") for p in people],
        )

    def matching(self, q: str) -> list[str]:
        """Ids of the people whose name (or id) holds `q`, ignoring case and accents."""
        folded = fold(q)
        return [pid for pid, key in self.keys if folded in key]


@dataclass(frozen=True)
class Filters:
    """The list's filters as given in the query string; empty means 'any'."""

    q: str = ""
    person: str = ""
    unit: str = ""
    site: str = ""
    status: str = ""
    confidence: str = ""
    category: str = ""
    since: date | None = None
    until: date | None = None
    page: int = 1

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> Filters:
        def text(name: str, allowed: Sequence[str] | None = None) -> str:
            value = (params.get(name) or "").strip()[:200]
            return value if allowed is None or value in allowed else ""

        def day(name: str) -> date | None:
            try:
                return date.fromisoformat((params.get(name) or "").strip())
            except ValueError:
                return None

        try:
            page = max(1, min(100_000, int(params.get("page") or 1)))
        except ValueError:
            page = 1
        return cls(
            q=text("q"),
            person=text("person"),
            unit=text("unit"),
            site=text("site"),
            status=text("status", STATUSES),
            confidence=text("confidence", CONFIDENCES),
            category=text("category", CATEGORIES),
            since=day("since"),
            until=day("until"),
            page=page,
        )

    def query(self, **changes: Any) -> str:
        """The query string for these filters with `changes` applied (for links and paging)."""
        values = replace(self, **changes) if changes else self
        pairs = {
            k: (v.isoformat() if isinstance(v, date) else str(v))
            for k, v in values.__dict__.items()
            if v not in ("", None) and not (k == "page" and v == 1)
        }
        return urlencode(pairs)

    @property
    def active(self) -> bool:
        return self.query(page=1) != ""


@dataclass(frozen=True)
class ListRow:
    id: int
    ref: str
    person_id: str
    person_name: str
    unit_id: str | None
    site_id: str
    site_name: str
    url: str
    title: str
    status: str
    confidence: str
    categories: tuple[str, ...]
    first_seen: datetime
    thumbnail: bool


@dataclass(frozen=True)
class HitList:
    rows: list[ListRow]
    total: int
    counts: dict[str, int]  # per status, with every filter but status applied
    page: int
    pages: int
    filters: Filters
    people: list[tuple[str, str]] = field(default_factory=list)  # (id, name) choices for the filter


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search(people: Directory, q: str, fold_case: bool) -> ColumnElement[bool]:
    """Search in the person's name (accent- and case-insensitive), the URL, excerpt, title and match."""
    person_ids = people.matching(q)
    # PostgreSQL's LIKE is case-sensitive: there ILIKE (`fold_case`). SQLite's LIKE already folds
    # ASCII, though not Ø/ø or Æ/æ: the common casings of a Danish word cover those.
    ascii_folds = fold_case or q.isascii()
    forms = [q] if ascii_folds else sorted({q, q.lower(), q.upper(), q[:1].upper() + q[1:].lower()})
    columns = (HitRow.excerpt, HitRow.url, PageRow.title, cast(HitRow.matched_text, String))
    text_match = or_(
        *(
            (column.ilike if fold_case else column.like)(_like(form), escape="\\")
            for column in columns
            for form in forms
        )
    )
    if person_ids:
        return or_(HitRow.person_id.in_(person_ids), text_match)
    return text_match


def _where(viewer: Viewer, people: Directory, f: Filters, dialect: str) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [visible_hits(viewer)]
    if f.q:
        clauses.append(_search(people, f.q, fold_case=dialect != "sqlite"))
    if f.person:
        clauses.append(HitRow.person_id == f.person)
    if f.unit:
        clauses.append(HitRow.unit_id == f.unit)
    if f.site:
        clauses.append(HitRow.site_id == f.site)
    if f.confidence:
        clauses.append(HitRow.confidence == f.confidence)
    if f.category:
        # Categories are a JSON list of plain words; as text they appear quoted.
        clauses.append(cast(HitRow.categories, String).like(_like(f'"{f.category}"'), escape="\\"))
    if f.since:
        clauses.append(HitRow.first_seen >= datetime.combine(f.since, time.min))
    if f.until:
        clauses.append(HitRow.first_seen < datetime.combine(f.until + timedelta(days=1), time.min))
    return clauses


def list_hits(
    db: Session, config: Config, viewer: Viewer, people: Directory, f: Filters
) -> HitList:
    """One page of the hits `viewer` may see that match `f`, newest first, with counts per status."""
    base = _where(viewer, people, f, db.get_bind().dialect.name)
    counts = {s: 0 for s in STATUSES}
    count = select(HitRow.status, func.count()).select_from(HitRow)
    if f.q:  # only search looks at the page's title; without it the count needs no join
        count = count.join(PageRow, PageRow.id == HitRow.page_id)
    for status, n in db.execute(count.where(and_(*base)).group_by(HitRow.status)):
        counts[status] = n
    where = [*base, HitRow.status == f.status] if f.status else base
    total = counts.get(f.status, 0) if f.status else sum(counts.values())
    size = config.review.page_size
    pages = max(1, -(-total // size))
    page = min(f.page, pages)
    rows = db.execute(
        select(HitRow, PageRow.title)
        .join(PageRow, PageRow.id == HitRow.page_id)
        .where(and_(*where))
        .order_by(HitRow.first_seen.desc(), HitRow.id.desc())
        .limit(size)
        .offset((page - 1) * size)
    ).all()
    page_ids = {hit.page_id for hit, _ in rows}
    with_screens = (
        {
            pid
            for pid, files in db.execute(
                select(SnapshotRow.page_id, SnapshotRow.files).where(SnapshotRow.page_id.in_(page_ids))
            )
            if isinstance(files, dict) and "screenshot" in files
        }
        if page_ids
        else set()
    )
    sites = {s.id: s.label for s in config.sites}
    out = [
        ListRow(
            id=hit.id,
            ref=hit_ref(hit.id),
            person_id=hit.person_id,
            person_name=people.names.get(hit.person_id, hit.person_id),
            unit_id=hit.unit_id,
            site_id=hit.site_id,
            site_name=sites.get(hit.site_id, hit.site_id),
            url=hit.url,
            title=title or "",
            status=hit.status,
            confidence=hit.confidence,
            categories=tuple(hit.categories or ()),
            first_seen=hit.first_seen,
            thumbnail=hit.page_id in with_screens,
        )
        for hit, title in rows
    ]
    return HitList(out, total, counts, page, pages, replace(f, page=page))


def get_hit(db: Session, viewer: Viewer, hit_id: int) -> HitRow | None:
    """The hit if it exists and `viewer` may see it; None in both other cases alike."""
    return db.scalar(select(HitRow).where(HitRow.id == hit_id, visible_hits(viewer)))
