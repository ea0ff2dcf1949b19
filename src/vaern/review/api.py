"""JSON for scripts: /api/hits (the list, same filters as /hits) and /api/hits/{id}.

The objects have the shape of `vaern hits --json` (CONTRACT.md). Sign-in is by the same session
cookie as the pages; the viewer's scope applies exactly as on the pages (a hit outside it is a 404).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vaern.review import audit
from vaern.review.hits import Filters, get_hit, hit_ref, list_hits, parse_hit_ref, snapshot_ref
from vaern.review.web import Ctx, Pages
from vaern.storage.tables import AlertHitRow, AlertRow, HitRow, SnapshotRow


def _time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def hit_json(db: Session, hit: HitRow, people: dict[str, str]) -> dict[str, Any]:
    snapshots = db.scalars(
        select(SnapshotRow).where(SnapshotRow.page_id == hit.page_id).order_by(SnapshotRow.captured_at, SnapshotRow.id)
    )
    alerts = db.execute(
        select(AlertRow.recipient, AlertRow.kind, AlertRow.status, AlertRow.sent_at)
        .join(AlertHitRow, AlertHitRow.alert_id == AlertRow.id)
        .where(AlertHitRow.hit_id == hit.id)
        .order_by(AlertRow.created_at, AlertRow.id)
    )
    return {
        "id": hit_ref(hit.id),
        "person": hit.person_id,
        "person_name": people.get(hit.person_id, hit.person_id),
        "unit": hit.unit_id,
        "site": hit.site_id,
        "url": hit.url,
        "status": hit.status,
        "confidence": hit.confidence,
        "score": hit.score,
        "matched_text": list(hit.matched_text or []),
        "excerpt": hit.excerpt,
        "categories": list(hit.categories or []),
        "first_seen": _time(hit.first_seen),
        "last_seen": _time(hit.last_seen),
        "removed_at": _time(hit.removed_at),
        "snapshots": [
            {
                "id": snapshot_ref(s.id),
                "captured_at": _time(s.captured_at),
                "manifest": s.manifest_path,
                "manifest_sha256": s.manifest_sha256,
                "files": s.files,
            }
            for s in snapshots
        ],
        "alerts": [
            {"to": to, "kind": kind, "status": status, "sent_at": _time(sent_at)}
            for to, kind, status, sent_at in alerts
        ],
    }


def api_hits(ctx: Ctx) -> Response:
    filters = Filters.from_query(ctx.request.query_params)
    result = list_hits(ctx.db, ctx.config, ctx.user, ctx.shared.people, filters)
    hits = {h.id: h for h in ctx.db.scalars(select(HitRow).where(HitRow.id.in_([r.id for r in result.rows])))}
    audit.record(ctx.db, ctx.viewer, "api_list", address=ctx.address, filters=filters.query())
    body = [hit_json(ctx.db, hits[r.id], ctx.shared.people) for r in result.rows]
    return JSONResponse(body, headers={"x-total-count": str(result.total), "x-page-count": str(result.pages)})


def api_hit(ctx: Ctx) -> Response:
    hit_id = parse_hit_ref(ctx.request.path_params["ref"])
    hit = get_hit(ctx.db, ctx.user, hit_id) if hit_id is not None else None
    if hit is None:
        return JSONResponse({"error": "not found"}, status_code=404)
    audit.record(ctx.db, ctx.viewer, "api_hit", hit_id=hit.id, address=ctx.address)
    return JSONResponse(hit_json(ctx.db, hit, ctx.shared.people))


def routes(pages: Pages) -> list[Route]:
    return [Route("/api/hits", pages.route(api_hits)), Route("/api/hits/{ref}", pages.route(api_hit))]
