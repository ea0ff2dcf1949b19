"""The admins' pages: the audit log, accounts, people and sites (`/admin/...`).

They are a 404 for other roles, like any page one may not see.
"""

from __future__ import annotations

from sqlalchemy import func, select
from starlette.responses import Response
from starlette.routing import Route

from vaern import ids
from vaern.review import audit
from vaern.review.framework import Ctx, Pages
from vaern.storage.tables import HitRow, UserRow


def audit_page(ctx: Ctx) -> Response:
    params = ctx.request.query_params
    try:
        page = int(params.get("page") or 1)
    except ValueError:
        page = 1
    hit_id = ids.parse_hit(params.get("hit") or "") if params.get("hit") else None
    username = (params.get("user") or "").strip()[:100]
    entries = audit.read(ctx.db, page=page, username=username, hit_id=hit_id)
    return ctx.render("audit.html", entries=entries, user_filter=username, hit_filter=params.get("hit") or "")


def users_page(ctx: Ctx) -> Response:
    users = ctx.db.scalars(select(UserRow).order_by(UserRow.username)).all()
    return ctx.render("users.html", users=users)


def people_page(ctx: Ctx) -> Response:
    counts = dict(ctx.db.execute(select(HitRow.person_id, func.count()).group_by(HitRow.person_id)).all())
    return ctx.render("people.html", people=ctx.config.people, counts=counts)


def sites_page(ctx: Ctx) -> Response:
    counts = dict(ctx.db.execute(select(HitRow.site_id, func.count()).group_by(HitRow.site_id)).all())
    return ctx.render("sites.html", sites=ctx.config.sites, counts=counts)


def routes(pages: Pages) -> list[Route]:
    admin = ("admin",)
    return [
        Route("/admin/audit", pages.route(audit_page, roles=admin)),
        Route("/admin/users", pages.route(users_page, roles=admin)),
        Route("/admin/people", pages.route(people_page, roles=admin)),
        Route("/admin/sites", pages.route(sites_page, roles=admin)),
    ]
