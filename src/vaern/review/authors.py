"""The author page, `/authors?site=S&name=N`: which staff one author (as a site writes them) has
named, where, when and at what severity; linked from a hit's page. Analysts (and admins) can
confirm that the author is the same person as an author on another site (`/authors/link`): the
two are then one in the author page and in the alerts' history. Nothing links authors otherwise.

Scoping: the hits listed pass `access.visible_hits`, so a leader sees only their units' people;
an author with no hit the viewer may see is a 404, as a hit they may not see is. Viewing the page
and linking authors are written to the audit log.
"""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy import select
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from vaern import ids
from vaern.clock import utcnow
from vaern.review import audit
from vaern.review.access import CASEWORK_ROLES, visible_hits
from vaern.review.framework import Ctx, Pages
from vaern.storage.authors import Author, hits_by, link_authors, linked
from vaern.storage.tables import HitRow


def author_path(site_id: str, name: str) -> str:
    return "/authors?" + urlencode({"site": site_id, "name": name})


def _author(ctx: Ctx) -> Author | None:
    site_id, name = ctx.request.query_params.get("site", ""), ctx.request.query_params.get("name", "")
    return (site_id, name) if site_id and name else None


def author_page(ctx: Ctx) -> Response:
    author = _author(ctx)
    if author is None:
        return ctx.not_found()
    group = linked(ctx.db, author)
    every = hits_by(ctx.db, group)
    visible = set(ctx.db.scalars(select(HitRow.id).where(HitRow.id.in_([h.id for h in every]), visible_hits(ctx.user))))
    shown = [h for h in every if h.id in visible]
    if not shown:
        return ctx.not_found()
    audit.record(ctx.db, ctx.viewer, "view_author", address=ctx.address, site=author[0], author=author[1])
    return ctx.render(
        "author.html",
        author=author,
        others=[(s, a, ctx.shared.sites.get(s, s), author_path(s, a)) for s, a in group if (s, a) != author],
        site=ctx.shared.sites.get(author[0], author[0]),
        rows=[
            {"ref": ids.hit(h.id), "person": ctx.shared.people.names.get(h.person_id, h.person_id),
             "site": ctx.shared.sites.get(h.site_id, h.site_id), "author": h.author, "url": h.url,
             "first_seen": h.first_seen, "severity": h.severity, "status": h.status}
            for h in reversed(shown)  # newest first
        ],
        people=len({h.person_id for h in shown}),
        sites=sorted(ctx.shared.sites.items()),
        may_link=ctx.user.role in CASEWORK_ROLES,
        error=ctx.request.query_params.get("error", ""),
    )


def link(ctx: Ctx) -> Response:
    """Confirm that the author of the page and another site's author are one person."""
    one = (ctx.form.get("site", ""), ctx.form.get("name", ""))
    other = (ctx.form.get("other_site", "").strip(), ctx.form.get("other_name", "").strip())
    back = author_path(*one)
    if not hits_by(ctx.db, [one]):
        return ctx.not_found()
    if other == one:
        return RedirectResponse(back + "&error=author_link_same", status_code=303)
    if not hits_by(ctx.db, [other]):
        return RedirectResponse(back + "&error=author_link_unknown", status_code=303)
    group = link_authors(ctx.db, one, other, ctx.user.username, utcnow())
    audit.record(ctx.db, ctx.viewer, "link_authors", address=ctx.address, authors=[list(one), list(other)],
                 group=group)
    return RedirectResponse(back, status_code=303)


def routes(pages: Pages) -> list[Route]:
    return [
        Route("/authors", pages.route(author_page)),
        Route("/authors/link", pages.route(link, roles=CASEWORK_ROLES), methods=["POST"]),
    ]
