"""The admins' pages: the audit log, accounts, people and sites (`/admin/...`).

On the accounts page an admin adds accounts, gives one another role, sets a new password or
removes one (review/accounts.py; each change is audited).

Admin pages are a 404 for other roles, like any page one may not see.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from vaern import ids
from vaern.review import accounts, audit
from vaern.review.auth import ROLES, AccountError, add_user
from vaern.review.framework import Ctx, Pages
from vaern.storage.tables import HitRow, SiteRow, UserRow


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


def users_page(ctx: Ctx, error: str | None = None, status: int = 200) -> Response:
    users = ctx.db.scalars(select(UserRow).order_by(UserRow.username)).all()
    return ctx.render("users.html", status=status, users=users, error=error, roles=ROLES,
                      units=ctx.shared.units, done=ctx.request.query_params.get("done", ""))


def _account(ctx: Ctx, change: Callable[[], None], done: str) -> Response:
    """Apply an account change made on the accounts page (audited by accounts.py); on a refusal,
    the page again with what is wrong, and nothing changed."""
    try:
        with ctx.db.begin_nested():
            change()
    except AccountError as exc:
        return users_page(ctx, error=str(exc), status=400)
    return RedirectResponse(f"/admin/users?done={done}", status_code=303)


def user_add(ctx: Ctx) -> Response:
    def change() -> None:
        user = add_user(ctx.db, ctx.config, ctx.form.get("username", ""), ctx.form.get("role", ""),
                        ctx.form_lists.get("units", []), ctx.form.get("password", ""))
        audit.record(ctx.db, ctx.viewer, "user_add", address=ctx.address, user=user.username, role=user.role,
                     units=list(user.units))

    return _account(ctx, change, "add")


def user_role(ctx: Ctx) -> Response:
    name = ctx.request.path_params["name"]
    return _account(ctx, lambda: accounts.set_role(ctx.db, ctx.config, name, ctx.form.get("role", ""),
                                                   ctx.form_lists.get("units", []), actor=ctx.viewer), "role")


def user_password(ctx: Ctx) -> Response:
    name = ctx.request.path_params["name"]
    return _account(ctx, lambda: accounts.set_password(ctx.db, name, ctx.form.get("password", ""), actor=ctx.viewer),
                    "password")


def user_remove(ctx: Ctx) -> Response:
    name = ctx.request.path_params["name"]
    return _account(ctx, lambda: accounts.remove_user(ctx.db, name, actor=ctx.viewer), "remove")


def people_page(ctx: Ctx) -> Response:
    counts = dict(ctx.db.execute(select(HitRow.person_id, func.count()).group_by(HitRow.person_id)).all())
    return ctx.render("people.html", people=ctx.config.people, counts=counts)


def sites_page(ctx: Ctx) -> Response:
    counts = dict(ctx.db.execute(select(HitRow.site_id, func.count()).group_by(HitRow.site_id)).all())
    # A logged-in site whose session stopped working says so here (crawler/sitelogin.py).
    rows = {r.id: r for r in ctx.db.scalars(select(SiteRow))}
    return ctx.render("sites.html", sites=ctx.config.sites, counts=counts, rows=rows)


def routes(pages: Pages) -> list[Route]:
    admin = ("admin",)
    return [
        Route("/admin/audit", pages.route(audit_page, roles=admin)),
        Route("/admin/users", pages.route(users_page, roles=admin)),
        Route("/admin/users/add", pages.route(user_add, roles=admin), methods=["POST"]),
        Route("/admin/users/{name}/role", pages.route(user_role, roles=admin), methods=["POST"]),
        Route("/admin/users/{name}/password", pages.route(user_password, roles=admin), methods=["POST"]),
        Route("/admin/users/{name}/remove", pages.route(user_remove, roles=admin), methods=["POST"]),
        Route("/admin/people", pages.route(people_page, roles=admin)),
        Route("/admin/sites", pages.route(sites_page, roles=admin)),
    ]
