"""The review app's pages: sign-in, the hit list, a hit's detail, decisions, the case, files, export.

Each handler takes a `web.Ctx` (one request, one transaction) and returns a response. Access is
decided by `hits.get_hit` / `hits.list_hits`, which apply the viewer's scope: a hit the viewer may
not see gives exactly the same 404 as one that does not exist. Views and exports of evidence are
written to the audit log.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from vaern.alerts.compose import load_evidence, posted_time
from vaern.alerts.postdate import police_deadline
from vaern.clock import utcnow
from vaern.errors import VaernError
from vaern.review import audit, auth, case, evidence
from vaern.review.access import Viewer
from vaern.review.hits import (
    CATEGORIES,
    CONFIDENCES,
    STATUSES,
    Filters,
    get_hit,
    hit_ref,
    list_hits,
    parse_hit_ref,
    parse_snapshot_ref,
)
from vaern.review.web import ARCHIVED_CSP, LOGIN_COOKIE, SESSION_COOKIE, Ctx, Pages, local_path
from vaern.storage.export import export_bundle
from vaern.storage.tables import AlertHitRow, AlertRow, HitRow, PageRow

MAX_PERSON_CHOICES = 300


# -- sign-in ------------------------------------------------------------------------------------


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
            error, status = ctx.t("Too many failed sign-ins. Wait a while and try again."), 429
        else:
            error, status = ctx.t("Wrong user name or password."), 401
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


# -- the list -----------------------------------------------------------------------------------


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
    }


def hit_list(ctx: Ctx) -> Response:
    filters = Filters.from_query(ctx.request.query_params)
    result = list_hits(ctx.db, ctx.config, ctx.user, ctx.shared.people, filters)
    audit.record(ctx.db, ctx.viewer, "view_list", address=ctx.address, filters=filters.query())
    return ctx.render("hits.html", result=result, f=result.filters, choices=_filter_choices(ctx))


# -- one hit ------------------------------------------------------------------------------------


def _hit(ctx: Ctx) -> HitRow | None:
    hit_id = parse_hit_ref(ctx.request.path_params["ref"])
    return get_hit(ctx.db, ctx.user, hit_id) if hit_id is not None else None


def _alerts(ctx: Ctx, hit: HitRow) -> list[AlertRow]:
    return list(
        ctx.db.scalars(
            select(AlertRow)
            .join(AlertHitRow, AlertHitRow.alert_id == AlertRow.id)
            .where(AlertHitRow.hit_id == hit.id)
            .order_by(AlertRow.created_at)
        )
    )


def hit_detail(ctx: Ctx) -> Response:
    hit = _hit(ctx)
    if hit is None:
        return ctx.not_found()
    page = ctx.db.get(PageRow, hit.page_id)
    snapshots = evidence.snapshots_of(ctx.db, ctx.config.archive, hit.page_id)
    shown = next((s for s in reversed(snapshots) if s.has("screenshot")), None)
    wanted = ctx.request.query_params.get("snapshot")
    if wanted:
        shown = next((s for s in snapshots if s.ref == wanted and s.has("screenshot")), shown)
    text_of = next((s for s in reversed(snapshots) if s.text is not None), None)
    # Counted as the alert e-mails count it: from the date the page gives the post, else first seen.
    evidence_of_page = load_evidence(ctx.db, ctx.config, [hit]).get(hit.page_id)
    deadline = police_deadline(hit.first_seen, posted_time(ctx.config, hit, evidence_of_page))
    steps = case.steps(ctx.db, hit.id)
    audit.record(ctx.db, ctx.viewer, "view_hit", hit_id=hit.id, address=ctx.address,
                 verified=all(s.verified for s in snapshots) if snapshots else None)
    return ctx.render(
        "hit.html",
        hit=hit,
        ref=hit_ref(hit.id),
        page=page,
        person=ctx.shared.people.names.get(hit.person_id, hit.person_id),
        unit=ctx.shared.units.get(hit.unit_id or "", hit.unit_id or ""),
        site=ctx.shared.sites.get(hit.site_id, hit.site_id),
        snapshots=snapshots,
        shown=shown,
        page_text=text_of,
        alerts=_alerts(ctx, hit),
        deadline=deadline,
        deadline_passed=deadline.due <= utcnow(),
        hours_left=max(0, int((deadline.due - utcnow()).total_seconds() // 3600)),
        decisions=case.decisions(ctx.db, hit.id),
        steps=steps,
        step_names=case.STEPS,
        reasons=case.DISMISS_REASONS,
        notes=case.notes(ctx.db, hit.id),
        today=utcnow().date(),
        error=None,
        message=ctx.request.query_params.get("done", ""),
    )


def _back(hit: HitRow, done: str, anchor: str) -> Response:
    return RedirectResponse(f"/hits/{hit_ref(hit.id)}?done={done}#{anchor}", status_code=303)


def _case_error(ctx: Ctx, exc: case.CaseError) -> Response:
    ctx.db.rollback()
    return ctx.render("error.html", status=400, title=ctx.t("Not saved"), message=ctx.t(str(exc)),
                      back=ctx.request.url.path.rsplit("/", 1)[0])


def decision(ctx: Ctx) -> Response:
    hit = _hit(ctx)
    if hit is None:
        return ctx.not_found()
    try:
        row = case.decide(
            ctx.db, hit, ctx.form.get("status", ""), ctx.user.username,
            reason=ctx.form.get("reason", ""), comment=ctx.form.get("comment", ""),
            silence=ctx.form.get("silence", ""),
        )
    except case.CaseError as exc:
        return _case_error(ctx, exc)
    action = {"confirmed": "confirm", "dismissed": "dismiss", "new": "reopen"}[row.status]
    audit.record(ctx.db, ctx.viewer, action, hit_id=hit.id, address=ctx.address, reason=row.reason,
                 comment=row.comment, silence=row.silence)
    return _back(hit, action, "decision")


def save_steps(ctx: Ctx) -> Response:
    hit = _hit(ctx)
    if hit is None:
        return ctx.not_found()
    wanted: dict[str, date | None] = {}
    for step in case.STEPS:
        if ctx.form.get(f"{step}_done"):
            try:
                wanted[step] = date.fromisoformat(ctx.form.get(f"{step}_on", "").strip())
            except ValueError:
                wanted[step] = utcnow().date()
        else:
            wanted[step] = None
    try:
        changes = case.update_steps(ctx.db, hit, wanted, ctx.user.username)
    except case.CaseError as exc:
        return _case_error(ctx, exc)
    if changes:
        audit.record(ctx.db, ctx.viewer, "case_steps", hit_id=hit.id, address=ctx.address,
                     changes=[[s, what, d.isoformat() if d else None] for s, what, d in changes])
    return _back(hit, "steps", "case")


def add_note(ctx: Ctx) -> Response:
    hit = _hit(ctx)
    if hit is None:
        return ctx.not_found()
    try:
        note = case.add_note(ctx.db, hit, ctx.form.get("text", ""), ctx.user.username)
    except case.CaseError as exc:
        return _case_error(ctx, exc)
    audit.record(ctx.db, ctx.viewer, "note", hit_id=hit.id, address=ctx.address, length=len(note.text))
    return _back(hit, "note", "notes")


# -- files --------------------------------------------------------------------------------------


def _snapshot_file(ctx: Ctx, kind: str) -> tuple[HitRow, Path] | None:
    hit = _hit(ctx)
    sid = parse_snapshot_ref(ctx.request.path_params["sid"])
    if hit is None or sid is None:
        return None
    found = evidence.snapshot_file(ctx.db, ctx.config.archive, hit.page_id, sid, kind)
    return (hit, found[0]) if found else None


def screenshot(ctx: Ctx) -> Response:
    found = _snapshot_file(ctx, "screenshot")
    if found is None:
        return ctx.not_found()
    hit, path = found
    audit.record(ctx.db, ctx.viewer, "view_screenshot", hit_id=hit.id, address=ctx.address,
                 snapshot=ctx.request.path_params["sid"])
    return FileResponse(path, media_type="image/png", headers={"cache-control": "private, no-store"})


def archived_html(ctx: Ctx) -> Response:
    """The archived HTML, inert: sandboxed by CSP (opaque origin, no scripts, no requests)."""
    found = _snapshot_file(ctx, "html")
    if found is None:
        return ctx.not_found()
    hit, path = found
    audit.record(ctx.db, ctx.viewer, "view_archived_html", hit_id=hit.id, address=ctx.address,
                 snapshot=ctx.request.path_params["sid"])
    return Response(
        path.read_bytes(),
        media_type="text/html",
        headers={
            "content-security-policy": ARCHIVED_CSP,
            "x-frame-options": "SAMEORIGIN",
            "cache-control": "private, no-store",
        },
    )


def thumbnail(ctx: Ctx) -> Response:
    hit = _hit(ctx)
    if hit is None:
        return ctx.not_found()
    sid = evidence.latest_with(ctx.db, hit.page_id, "screenshot")
    found = evidence.snapshot_file(ctx.db, ctx.config.archive, hit.page_id, sid, "screenshot") if sid else None
    if found is None:
        return ctx.not_found()
    data = ctx.shared.thumbnails.get(*found)
    if data is None:  # a screenshot that cannot be read shows no thumbnail; the detail says why
        return ctx.not_found()
    return Response(data, media_type="image/jpeg", headers={"cache-control": "private, max-age=3600"})


def export(ctx: Ctx) -> Response:
    hit = _hit(ctx)
    if hit is None:
        return ctx.not_found()
    # The same bundle as `vaern export`: made into a private temporary folder, removed once sent.
    folder = Path(tempfile.mkdtemp(prefix="vaern-export-"))
    name = f"vaern-{hit_ref(hit.id)}.zip"
    out = folder / name
    try:
        export_bundle(ctx.config, ctx.db, hit.id, out, via="review app",
                      exported_by=ctx.viewer.username if ctx.viewer else None,
                      record_audit=False)
    except VaernError as exc:
        # The archive does not match the database (a changed or missing file): say so, export nothing.
        shutil.rmtree(folder, ignore_errors=True)
        audit.record(ctx.db, ctx.viewer, "export_failed", hit_id=hit.id, address=ctx.address, error=str(exc))
        return ctx.render("error.html", status=409, title=ctx.t("The evidence bundle could not be made"),
                          message=str(exc), back=f"/hits/{hit_ref(hit.id)}")
    audit.record(ctx.db, ctx.viewer, "export", hit_id=hit.id, address=ctx.address, bytes=out.stat().st_size)
    return FileResponse(
        out, media_type="application/zip", filename=name,
        headers={"cache-control": "private, no-store"},
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


# -- misc ---------------------------------------------------------------------------------------


def healthz(ctx: Ctx) -> Response:
    return PlainTextResponse("ok")


def home(ctx: Ctx) -> Response:
    return RedirectResponse("/hits", status_code=303)


def routes(pages: Pages) -> list[Route]:
    r = pages.route
    return [
        Route("/healthz", r(healthz, signed_in=False)),
        Route("/", r(home)),
        Route("/login", r(login_form, signed_in=False), methods=["GET"]),
        Route("/login", r(login, signed_in=False), methods=["POST"]),
        Route("/logout", r(logout), methods=["POST"]),
        Route("/hits", r(hit_list)),
        Route("/hits/{ref}", r(hit_detail)),
        Route("/hits/{ref}/decision", r(decision), methods=["POST"]),
        Route("/hits/{ref}/steps", r(save_steps), methods=["POST"]),
        Route("/hits/{ref}/notes", r(add_note), methods=["POST"]),
        Route("/hits/{ref}/thumbnail.jpg", r(thumbnail)),
        Route("/hits/{ref}/snapshots/{sid}/screenshot.png", r(screenshot)),
        Route("/hits/{ref}/snapshots/{sid}/archived.html", r(archived_html)),
        Route("/hits/{ref}/export", r(export)),
    ]
