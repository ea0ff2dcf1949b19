"""Pages for reaching beyond the watched sites: "Sikr denne side" (`/capture`) and the
"Fundet andre steder" inbox (`/discovered`), for analysts and admins (a 404 for leaders).

- `/capture`: a URL (and optionally the watched person it is about) secured now through the
  evidence path (oneoff.py); the analyst is taken to the hit, or shown the case record.
- `/discovered`: what discovery found on sites nobody watches (discovery/inbox.py), with three
  decisions per page: watch its site (a site entry in `sites_file`, config/addedsites.py: crawled
  from the next start of `vaern run`), secure it once (the one-off capture), or ignore it (and its
  host, from now on). Nothing is crawled without one of these.

Every decision and capture is in the audit log; every form carries the CSRF token (framework.py).
"""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from vaern.config.addedsites import add_site, new_site_entry
from vaern.discovery.inbox import decide, recent_errors, waiting
from vaern.errors import ConfigError
from vaern.oneoff import CaptureRefused, OneOff, capture_once
from vaern.review import audit
from vaern.review.access import CASEWORK_ROLES
from vaern.review.framework import Ctx, Pages
from vaern.storage.tables import DiscoveredRow


def capture_page(ctx: Ctx, error: str | None = None, url: str = "", status: int = 200,
                 secured: OneOff | None = None) -> Response:
    return ctx.render("capture.html", status=status, error=error, url=url, people=ctx.config.people,
                      secured=secured)


def capture_post(ctx: Ctx) -> Response:
    url = ctx.form.get("url", "").strip()
    person = ctx.form.get("person", "").strip() or None
    try:
        secured = _secure(ctx, url, person, via="review")
    except CaptureRefused as exc:
        return capture_page(ctx, error=str(exc), url=url, status=400)
    if secured.hits:
        return RedirectResponse(f"/hits/{secured.hits[0]}", status_code=303)
    return capture_page(ctx, secured=secured)


def _secure(ctx: Ctx, url: str, person: str | None, via: str) -> OneOff:
    # The capture writes in transactions of its own; this request's holds nothing yet.
    return capture_once(ctx.config, url, person=person, requested_by=ctx.user.username, via=via, user_id=ctx.user.id)


def inbox_page(ctx: Ctx, error: str | None = None, status: int = 200) -> Response:
    names = {p.id: p.name for p in ctx.config.people}
    return ctx.render("discovered.html", status=status, rows=waiting(ctx.db, ctx.config), names=names,
                      errors=recent_errors(ctx.db), error=error, done=ctx.request.query_params.get("done", ""),
                      providers=ctx.config.discovery.providers, budget=ctx.config.discovery.budget_per_day)


def _row(ctx: Ctx) -> DiscoveredRow | None:
    try:
        number = int(ctx.request.path_params["id"])
    except ValueError:
        return None
    row = ctx.db.get(DiscoveredRow, number)
    return row if row is not None and row.state == "new" else None


def inbox_decide(ctx: Ctx) -> Response:
    row = _row(ctx)
    if row is None:
        return ctx.not_found()
    action = ctx.request.path_params["action"]
    by = ctx.user.username
    if action == "ignore":
        decide(ctx.db, row, "ignored", by)
        audit.record(ctx.db, ctx.viewer, "discovery_ignore", address=ctx.address, url=row.url, host=row.host)
    elif action == "watch":
        try:
            site = add_site(ctx.config, new_site_entry(ctx.config, row.url))
        except ConfigError as exc:
            return inbox_page(ctx, error=str(exc), status=400)
        decide(ctx.db, row, "watched", by)
        audit.record(ctx.db, ctx.viewer, "discovery_watch", address=ctx.address, url=row.url, site=site.id,
                     file=str(ctx.config.sites_file))
    elif action == "secure":
        try:
            secured = _secure(ctx, row.url, row.person_id, via="discovery")
        except CaptureRefused as exc:
            return inbox_page(ctx, error=str(exc), status=400)
        decide(ctx.db, row, "secured", by)
        audit.record(ctx.db, ctx.viewer, "discovery_secure", address=ctx.address, url=row.url,
                     snapshot=secured.snapshot, hits=secured.hits)
    else:
        return ctx.not_found()
    return RedirectResponse(f"/discovered?done={action}", status_code=303)


def routes(pages: Pages) -> list[Route]:
    return [
        Route("/capture", pages.route(capture_page, roles=CASEWORK_ROLES)),
        Route("/capture", pages.route(capture_post, roles=CASEWORK_ROLES), methods=["POST"]),
        Route("/discovered", pages.route(inbox_page, roles=CASEWORK_ROLES)),
        Route("/discovered/{id}/{action}", pages.route(inbox_decide, roles=CASEWORK_ROLES), methods=["POST"]),
    ]
