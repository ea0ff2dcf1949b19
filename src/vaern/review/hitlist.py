"""The hit list page, `/hits`: the hits the viewer may see, filtered, searched and paged, with
counts per status.

`list_hits` takes a `Viewer` and applies `access.visible_hits`; the page and the JSON list
(api.py) use it, never their own queries. Page size: `review.page_size`.

Search looks at a narrow set of fields: the person's name and the site's name (matched in memory
against the config, then an indexed `IN` on the hit), and the hit's URL, excerpt and page title
(`LIKE`, a scan: nothing in them can use an index). The page text is not searched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, String, case, cast, func, literal, literal_column, or_, select, union_all
from sqlalchemy.orm import QueryableAttribute, Session
from starlette.responses import Response
from starlette.routing import Route

from vaern import ids
from vaern.alerts import POLICE_DEADLINE
from vaern.clock import utcnow
from vaern.config import Config
from vaern.review import audit
from vaern.review.access import Viewer, visible_hits
from vaern.review.framework import Ctx, Pages
from vaern.review.people import PeopleIndex
from vaern.storage.tables import HitRow, PageRow, SnapshotRow

STATUSES = ("new", "confirmed", "dismissed", "removed")
CONFIDENCES = ("high", "possible")
CATEGORIES = ("threat", "private_info", "incitement", "insult", "accusation", "criticism")
SEVERITIES = ("critical", "high", "medium", "low", "none")
SORTS = ("newest", "severity")
MAX_PERSON_CHOICES = 300


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
    severity: str = ""
    sort: str = ""  # "" (newest first) | "severity" (gravest first, then newest)
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
            # Control characters (a pasted line break) never match anything worth finding.
            q=" ".join("".join(c if c.isprintable() else " " for c in text("q")).split()),
            person=text("person"),
            unit=text("unit"),
            site=text("site"),
            status=text("status", STATUSES),
            confidence=text("confidence", CONFIDENCES),
            category=text("category", CATEGORIES),
            severity=text("severity", SEVERITIES),
            sort=text("sort", SORTS[1:]),
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
    severity: str | None = None
    excerpt: str = ""
    matched_text: tuple[str, ...] = ()
    deadline: datetime | None = None  # 72 hours from first seen, for hits still open

    def hours_left(self, now: datetime) -> int:
        return max(0, int(((self.deadline or now) - now).total_seconds() // 3600))


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


def _search(people: PeopleIndex, q: str, dialect: str) -> ColumnElement[bool]:
    """Search the person's and site's names (accent- and case-insensitive), the URL, excerpt and title."""
    # The names come from the config: matched here, in Python, they become an indexed IN.
    by_name: list[ColumnElement[bool]] = []
    if person_ids := people.matching(q):
        by_name.append(HitRow.person_id.in_(person_ids))
    if site_ids := people.matching_sites(q):
        by_name.append(HitRow.site_id.in_(site_ids))
    if dialect == "sqlite":
        # SQLite's LIKE folds ASCII case, though not Ø/ø or Æ/æ: the common casings of a Danish
        # word cover those (less the ones that differ only in ASCII letters: each LIKE costs).
        casings = (q, q.lower(), q.upper(), q[:1].upper() + q[1:].lower())
        forms = sorted({"".join(c.lower() if c.isascii() else c for c in form) for form in casings})

        def like(column: QueryableAttribute[Any]) -> ColumnElement[bool]:
            return or_(*(column.like(_like(form), escape="\\") for form in forms))
    else:
        # PostgreSQL's LIKE is case-sensitive. lower() on both sides is what its ILIKE does, and
        # takes about two thirds of the time.
        pattern = func.lower(literal(_like(q), String))

        def like(column: QueryableAttribute[Any]) -> ColumnElement[bool]:
            return func.lower(column).like(pattern, escape="\\")

    # The title is the page's: a subquery over pages, not a join, keeps the scan on hits alone.
    titled = select(PageRow.id).where(like(PageRow.title))
    # Cheapest first: both databases stop at the first term that holds.
    return or_(*by_name, HitRow.page_id.in_(titled), like(HitRow.url), like(HitRow.excerpt))


def _where(viewer: Viewer, people: PeopleIndex, f: Filters, dialect: str) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [visible_hits(viewer)]
    if f.q:
        clauses.append(_search(people, f.q, dialect))
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
    if f.severity:
        clauses.append(HitRow.severity == f.severity)
    if f.since:
        clauses.append(HitRow.first_seen >= datetime.combine(f.since, time.min))
    if f.until:
        clauses.append(HitRow.first_seen < datetime.combine(f.until + timedelta(days=1), time.min))
    return clauses


def list_hits(
    db: Session, config: Config, viewer: Viewer, people: PeopleIndex, f: Filters
) -> HitList:
    """One page of the hits `viewer` may see that match `f`, newest first, with counts per status."""
    base = _where(viewer, people, f, db.get_bind().dialect.name)
    size = config.review.page_size
    counts = {s: 0 for s in STATUSES}
    # A search scans the hits (LIKE '%…%' cannot use an index); without one, the counts and the
    # page are read from indexes.
    page_of = _searched_page if f.q else _filtered_page
    by_severity = f.sort == "severity"
    found, hit_ids = page_of(db, base, f.status, size, f.page, by_severity)
    counts.update(found)
    total = counts.get(f.status, 0) if f.status else sum(counts.values())
    pages = max(1, -(-total // size))
    page = min(f.page, pages)
    if page != f.page:  # asked for a page past the end: the last one
        _, hit_ids = page_of(db, base, f.status, size, page, by_severity)
    return HitList(
        _rows(db, config, people, hit_ids, by_severity), total, counts, page, pages, replace(f, page=page)
    )


NEWEST_FIRST = (HitRow.first_seen.desc(), HitRow.id.desc())


def severity_rank(column: Any) -> ColumnElement[int]:
    """0 for critical … 4 for none; a hit never assessed (null) sorts with `none`, last."""
    return case({s: i for i, s in enumerate(SEVERITIES)}, value=column, else_=len(SEVERITIES) - 1)


def _filtered_page(
    db: Session, base: list[ColumnElement[bool]], status: str, size: int, page: int, by_severity: bool = False
) -> tuple[dict[str, int], list[int]]:
    """Counts per status (every filter but status applied) in one grouped query, then one page of ids."""
    counts = {s: n for s, n in db.execute(select(HitRow.status, func.count()).where(*base).group_by(HitRow.status))}
    where = [*base, HitRow.status == status] if status else base
    order = (severity_rank(HitRow.severity), *NEWEST_FIRST) if by_severity else NEWEST_FIRST
    hit_ids = db.scalars(select(HitRow.id).where(*where).order_by(*order).limit(size).offset((page - 1) * size))
    return counts, list(hit_ids)


def _searched_page(
    db: Session, base: list[ColumnElement[bool]], status: str, size: int, page: int, by_severity: bool = False
) -> tuple[dict[str, int], list[int]]:
    """The same as `_filtered_page` in one statement, so that the table is scanned once, not twice
    (the count, and a LIMITed select that for a rare word also reads to the end): the matches are
    a CTE, which SQLite and PostgreSQL both materialise when it is read twice; the statement returns
    the counts as (status, count, 0) and the page as (status, id, 1)."""
    matches = select(HitRow.id, HitRow.status, HitRow.first_seen, HitRow.severity).where(*base).cte("matches")
    listed = select(matches.c.status, matches.c.id)
    if status:
        listed = listed.where(matches.c.status == status)
    newest = (matches.c.first_seen.desc(), matches.c.id.desc())
    order = (severity_rank(matches.c.severity), *newest) if by_severity else newest
    page_rows = (listed.order_by(*order).limit(size).offset((page - 1) * size)).subquery()
    statement = union_all(
        select(matches.c.status, func.count(), literal_column("0")).group_by(matches.c.status),
        select(page_rows.c.status, page_rows.c.id, literal_column("1")),
    )
    counts: dict[str, int] = {}
    hit_ids: list[int] = []
    for row_status, number, part in db.execute(statement):
        if part == 0:
            counts[row_status] = number
        else:
            hit_ids.append(number)
    return counts, hit_ids


def _rows(
    db: Session, config: Config, people: PeopleIndex, hit_ids: list[int], by_severity: bool = False
) -> list[ListRow]:
    """The list's rows for `hit_ids` (already filtered by scope), newest first: one joined select of
    the columns the list shows, and one for which of their pages have a screenshot."""
    if not hit_ids:
        return []
    found = sorted(
        db.execute(
            select(
                HitRow.id, HitRow.person_id, HitRow.unit_id, HitRow.page_id, HitRow.site_id, HitRow.url,
                HitRow.status, HitRow.confidence, HitRow.categories, HitRow.first_seen, PageRow.title,
                HitRow.excerpt, HitRow.matched_text, HitRow.severity,
            )
            .join(PageRow, PageRow.id == HitRow.page_id)
            .where(HitRow.id.in_(hit_ids))
        ),
        key=lambda row: (row.first_seen, row.id),
        reverse=True,
    )
    if by_severity:
        found.sort(key=lambda row: SEVERITIES.index(row.severity) if row.severity in SEVERITIES else 4)
    page_ids = {row.page_id for row in found}
    with_screens = {
        pid
        for pid, files in db.execute(
            select(SnapshotRow.page_id, SnapshotRow.files).where(SnapshotRow.page_id.in_(page_ids))
        )
        if isinstance(files, dict) and "screenshot" in files
    }
    sites = {s.id: s.label for s in config.sites}
    return [
        ListRow(
            id=row.id,
            ref=ids.hit(row.id),
            person_id=row.person_id,
            person_name=people.names.get(row.person_id, row.person_id),
            unit_id=row.unit_id,
            site_id=row.site_id,
            site_name=sites.get(row.site_id, row.site_id),
            url=row.url,
            title=row.title or "",
            status=row.status,
            confidence=row.confidence,
            categories=tuple(row.categories or ()),
            first_seen=row.first_seen,
            thumbnail=row.page_id in with_screens,
            excerpt=row.excerpt or "",
            matched_text=tuple(row.matched_text or ()),
            severity=row.severity,
            # The list counts from first seen (the detail page also reads the post's own date).
            deadline=row.first_seen + POLICE_DEADLINE if row.status in ("new", "confirmed") else None,
        )
        for row in found
    ]


# -- the page -----------------------------------------------------------------------------------


def _filter_choices(ctx: Ctx) -> dict[str, Any]:
    viewer = ctx.user
    everyone = ctx.shared.people.by_name
    visible = everyone if viewer.sees_everything else [p for p in everyone if viewer.may_see_unit(p[2])]
    return {
        # A long watch list is no drop-down: then the person filter is a field for the id (and
        # search finds names).
        "people": [(pid, name) for pid, name, _ in visible] if len(visible) <= MAX_PERSON_CHOICES else None,
        "units": [(uid, name) for uid, name in ctx.shared.units.items() if viewer.may_see_unit(uid)],
        "sites": list(ctx.shared.sites.items()),
        "statuses": STATUSES,
        "confidences": CONFIDENCES,
        "categories": CATEGORIES,
        "severities": [(s, ctx.t(f"severity.{s}")) for s in SEVERITIES],
    }


def hit_list(ctx: Ctx) -> Response:
    filters = Filters.from_query(ctx.request.query_params)
    result = list_hits(ctx.db, ctx.config, ctx.user, ctx.shared.people, filters)
    audit.record(ctx.db, ctx.viewer, "view_list", address=ctx.address, filters=filters.query())
    return ctx.render("hits.html", result=result, f=result.filters, choices=_filter_choices(ctx), now=utcnow())


def routes(pages: Pages) -> list[Route]:
    return [Route("/hits", pages.route(hit_list))]
