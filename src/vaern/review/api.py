"""JSON for scripts: /api/hits (the list, same filters as /hits) and /api/hits/{id}.

The objects have the shape of `vaern hits --json` (CONTRACT.md). Sign-in is by the same session
cookie as the pages; the viewer's scope applies exactly as on the pages (a hit outside it is a 404).
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vaern import ids
from vaern.review import audit
from vaern.review.access import visible_hit
from vaern.review.framework import Ctx, Pages
from vaern.review.hitlist import Filters, list_hits
from vaern.storage.queries import hit_json
from vaern.storage.tables import HitRow


def api_hits(ctx: Ctx) -> Response:
    filters = Filters.from_query(ctx.request.query_params)
    result = list_hits(ctx.db, ctx.config, ctx.user, ctx.shared.people, filters)
    hits = {h.id: h for h in ctx.db.scalars(select(HitRow).where(HitRow.id.in_([r.id for r in result.rows])))}
    audit.record(ctx.db, ctx.viewer, "api_list", address=ctx.address, filters=filters.query())
    body = [hit_json(ctx.db, hits[r.id], ctx.shared.people.names) for r in result.rows]
    return JSONResponse(body, headers={"x-total-count": str(result.total), "x-page-count": str(result.pages)})


def api_hit(ctx: Ctx) -> Response:
    hit_id = ids.parse_hit(ctx.request.path_params["ref"])
    hit = visible_hit(ctx.db, ctx.user, hit_id) if hit_id is not None else None
    if hit is None:
        return JSONResponse({"error": "not found"}, status_code=404)
    audit.record(ctx.db, ctx.viewer, "api_hit", hit_id=hit.id, address=ctx.address)
    return JSONResponse(hit_json(ctx.db, hit, ctx.shared.people.names))


def routes(pages: Pages) -> list[Route]:
    return [Route("/api/hits", pages.route(api_hits)), Route("/api/hits/{ref}", pages.route(api_hit))]
