"""The overview page, `/overview`: hits over time per unit and per site, the last crawl of each
site, the outbox.

Counts go through `access.visible_hits`, so a leader's overview counts only their units' hits.
Charts are drawn here as small inline SVGs (no script, no outside library): one bar per week.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import Response
from starlette.routing import Route

from vaern.alerts import outbox_counts
from vaern.clock import utcnow
from vaern.config import Config
from vaern.review import audit
from vaern.review.access import Viewer, visible_hits
from vaern.review.framework import Ctx, Pages
from vaern.storage.failures import SHOWN, outcome, run_failures
from vaern.storage.tables import AlertRow, CrawlRunRow, HitRow

WEEKS = 12


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    weekly: list[int]  # oldest week first
    by_status: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class SiteCrawl:
    site_id: str
    label: str
    started_at: datetime | None
    finished_at: datetime | None
    status: str | None
    pages_fetched: int
    pages_failed: int
    hits_new: int
    error: str | None
    failures: tuple[tuple[str, str], ...] = ()  # (url, reason), the first few kept for the run


@dataclass(frozen=True)
class Overview:
    week_starts: list[datetime]
    units: list[Series]
    sites: list[Series]
    crawls: list[SiteCrawl]
    outbox: dict[str, int] | None  # None: not shown to this viewer
    failed_alerts: list[AlertRow]


def _week_start(now: datetime) -> datetime:
    monday = now - timedelta(days=now.weekday())
    return monday.replace(hour=0, minute=0, second=0, microsecond=0)


def build(db: Session, config: Config, viewer: Viewer) -> Overview:
    first_week = _week_start(utcnow()) - timedelta(weeks=WEEKS - 1)
    weekly: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * WEEKS)
    for unit_id, site_id, seen in db.execute(
        select(HitRow.unit_id, HitRow.site_id, HitRow.first_seen).where(
            visible_hits(viewer), HitRow.first_seen >= first_week
        )
    ):
        week = min(WEEKS - 1, (seen - first_week).days // 7)
        weekly[("unit", unit_id or "")][week] += 1
        weekly[("site", site_id)][week] += 1
    statuses: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for unit_id, site_id, status, n in db.execute(
        select(HitRow.unit_id, HitRow.site_id, HitRow.status, func.count())
        .where(visible_hits(viewer))
        .group_by(HitRow.unit_id, HitRow.site_id, HitRow.status)
    ):
        statuses[("unit", unit_id or "")][status] += n
        statuses[("site", site_id)][status] += n

    units = [u for u in config.units if viewer.may_see_unit(u.id)]
    unit_series = [
        Series(u.id, u.name, weekly.get(("unit", u.id), [0] * WEEKS), dict(statuses.get(("unit", u.id), {})))
        for u in units
    ]
    if viewer.sees_everything and ("unit", "") in statuses:
        unit_series.append(Series("", "", weekly.get(("unit", ""), [0] * WEEKS), dict(statuses[("unit", "")])))
    site_series = [
        Series(s.id, s.label, weekly.get(("site", s.id), [0] * WEEKS), dict(statuses.get(("site", s.id), {})))
        for s in config.sites
    ]

    latest = (
        select(CrawlRunRow.site_id, func.max(CrawlRunRow.id).label("last")).group_by(CrawlRunRow.site_id).subquery()
    )
    runs = {r.site_id: r for r in db.scalars(select(CrawlRunRow).join(latest, CrawlRunRow.id == latest.c.last))}
    # A run's own count covers every unit; a leader is shown only the new hits they may see.
    found_by_run: dict[int, int] = {}
    if not viewer.sees_everything and runs:
        found_by_run = dict(
            db.execute(  # type: ignore[arg-type]
                select(HitRow.first_run_id, func.count())
                .where(visible_hits(viewer), HitRow.first_run_id.in_([r.id for r in runs.values()]))
                .group_by(HitRow.first_run_id)
            ).all()
        )
    crawls = []
    for site in config.sites:
        run = runs.get(site.id)
        failures = tuple((f.url, f.reason) for f in run_failures(db, run.id, limit=SHOWN)) if run else ()
        crawls.append(
            SiteCrawl(
                site.id,
                site.label,
                run.started_at if run else None,
                run.finished_at if run else None,
                outcome(run) if run else None,
                run.pages_fetched if run else 0,
                run.pages_failed if run else 0,
                (run.hits_new if viewer.sees_everything else found_by_run.get(run.id, 0)) if run else 0,
                run.error if run else None,
                failures,
            )
        )

    outbox: dict[str, int] | None = None
    failed: list[AlertRow] = []
    # The outbox names recipients and covers every unit: not for leaders.
    if viewer.sees_everything:
        outbox = outbox_counts(db)
        failed = list(
            db.scalars(select(AlertRow).where(AlertRow.status == "failed").order_by(AlertRow.id.desc()).limit(10))
        )
    weeks = [first_week + timedelta(weeks=i) for i in range(WEEKS)]
    return Overview(weeks, unit_series, site_series, crawls, outbox, failed)


def bar_chart(values: list[int], labels: list[str], title: str, peak_label: str = "max") -> Markup:
    """A small accessible SVG bar chart; each bar's value is in its <title> for screen readers."""
    width, height, gap = 240, 60, 2
    bar = (width - gap * (len(values) - 1)) / max(1, len(values))
    top = max(values) if values and max(values) > 0 else 1
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height + 14}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="0" y1="{height}" x2="{width}" y2="{height}"/>',
    ]
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        h = 0 if value == 0 else max(2.0, height * value / top)
        x = i * (bar + gap)
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{height - h:.1f}" width="{bar:.1f}" height="{h:.1f}">'
            f"<title>{escape(label)}: {value}</title></rect>"
        )
    if labels:
        parts.append(f'<text class="peak" x="0" y="{height + 12}">{escape(labels[0])}</text>')
    parts.append(
        f'<text class="peak" x="{width}" y="{height + 12}" text-anchor="end">'
        f"{escape(peak_label)}: {max(values, default=0)}</text>"
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def overview_page(ctx: Ctx) -> Response:
    data = build(ctx.db, ctx.config, ctx.user)
    labels = [w.strftime("%d.%m." if ctx.config.language == "da" else "%b %d") for w in data.week_starts]

    def chart(series: Series, name: str) -> object:
        return bar_chart(series.weekly, labels, f"{ctx.t('page.weekly_hits')}: {name}",
                                  ctx.t("page.most_in_a_week"))

    audit.record(ctx.db, ctx.viewer, "view_overview", address=ctx.address)
    return ctx.render("overview.html", data=data, chart=chart, labels=labels)


def routes(pages: Pages) -> list[Route]:
    return [Route("/overview", pages.route(overview_page))]
