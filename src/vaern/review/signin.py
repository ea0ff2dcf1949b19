"""Signing in and out: `/login` (the form, and its POST) and `/logout`.

A sign-in is throttled per name and per address (`review.login_max_failures` within
`review.login_window`); the session lasts `review.session_hours`. Before sign-in the form's CSRF
token lives in a cookie of its own; afterwards in the session. Every attempt is in the audit log.
"""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from vaern.review import audit, auth
from vaern.review.access import Viewer
from vaern.review.framework import LOGIN_COOKIE, SESSION_COOKIE, Ctx, Pages, local_path


def login_form(ctx: Ctx) -> Response:
    if ctx.viewer is not None:
        return RedirectResponse(local_path(ctx.request.query_params.get("next")), status_code=303)
    token = ctx.csrf or auth.new_token()
    ctx.csrf = token
    ctx.cookies.append((LOGIN_COOKIE, token, 3600))
    return ctx.render("login.html", next=local_path(ctx.request.query_params.get("next")), error=None)


def login(ctx: Ctx) -> Response:
    username = ctx.form.get("username", "")
    target = local_path(ctx.form.get("next"))
    result = auth.sign_in(ctx.db, ctx.config, username, ctx.form.get("password", ""), ctx.address)
    if result.user is None:
        audit.record(ctx.db, None, "login_throttled" if result.throttled else "login_failed",
                     username=username, address=ctx.address)
        if result.throttled:
            error, status = ctx.t("page.sign_in_throttled"), 429
        else:
            error, status = ctx.t("page.sign_in_wrong"), 401
        return ctx.render("login.html", status=status, next=target, error=error, username=username)
    viewer = Viewer.of(result.user)
    token = auth.open_session(ctx.db, ctx.config, result.user)
    audit.record(ctx.db, viewer, "login", address=ctx.address)
    ctx.cookies.append((SESSION_COOKIE, token, int(ctx.config.review.session_hours * 3600)))
    ctx.cookies.append((LOGIN_COOKIE, "", None))
    return RedirectResponse(target, status_code=303)


def logout(ctx: Ctx) -> Response:
    auth.close_session(ctx.db, ctx.request.cookies.get(SESSION_COOKIE))
    audit.record(ctx.db, ctx.viewer, "logout", address=ctx.address)
    ctx.cookies.append((SESSION_COOKIE, "", None))
    return RedirectResponse("/login", status_code=303)


def routes(pages: Pages) -> list[Route]:
    r = pages.route
    return [
        Route("/login", r(login_form, signed_in=False), methods=["GET"]),
        Route("/login", r(login, signed_in=False), methods=["POST"]),
        Route("/logout", r(logout), methods=["POST"]),
    ]
