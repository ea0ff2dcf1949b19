"""The hit page, `/hits/{id}`: a hit's detail, the decision, the case checklist and notes, its
evidence files (screenshot, archived HTML, thumbnail) and the evidence bundle.

Each handler takes a `framework.Ctx` (one request, one transaction) and returns a response. The
hit is found through `access.visible_hit`, which applies the viewer's scope: a hit the viewer may
not see gives exactly the same 404 as one that does not exist. Views and exports of evidence are
written to the audit log.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import date
from pathlib import Path

from sqlalchemy import select
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from vaern import ids
from vaern.alerts import deadline_of, police_fits_hit
from vaern.app import evidence_bundle
from vaern.clock import utcnow
from vaern.errors import VaernError
from vaern.review import audit, case, evidence
from vaern.review.access import former_hit, visible_hit
from vaern.review.framework import ARCHIVED_CSP, Ctx, Pages
from vaern.storage.tables import AlertHitRow, AlertRow, HitRow, PageRow

# -- one hit ------------------------------------------------------------------------------------


def _hit(ctx: Ctx) -> HitRow | None:
    hit_id = ids.parse_hit(ctx.request.path_params["ref"])
    return visible_hit(ctx.db, ctx.user, hit_id) if hit_id is not None else None


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
        return _moved_away(ctx)
    page = ctx.db.get(PageRow, hit.page_id)
    snapshots = evidence.snapshots_of(ctx.db, ctx.shared.archive, hit.page_id)
    shown = next((s for s in reversed(snapshots) if s.has("screenshot")), None)
    wanted = ctx.request.query_params.get("snapshot")
    if wanted:
        shown = next((s for s in snapshots if s.ref == wanted and s.has("screenshot")), shown)
    text_of = next((s for s in reversed(snapshots) if s.text is not None), None)
    deadline = deadline_of(ctx.db, ctx.config, hit)  # as the alert e-mails count it
    steps = case.steps(ctx.db, hit.id)
    audit.record(ctx.db, ctx.viewer, "view_hit", hit_id=hit.id, address=ctx.address,
                 verified=all(s.verified for s in snapshots) if snapshots else None)
    return ctx.render(
        "hit.html",
        hit=hit,
        ref=ids.hit(hit.id),
        page=page,
        person=ctx.shared.people.names.get(hit.person_id, hit.person_id),
        unit=ctx.shared.units.get(hit.unit_id or "", hit.unit_id or ""),
        site=ctx.shared.sites.get(hit.site_id, hit.site_id),
        snapshots=snapshots,
        shown=shown,
        page_text=text_of,
        alerts=_alerts(ctx, hit),
        deadline=deadline,
        police=police_fits_hit(hit),
        passage=hit.passage if isinstance(hit.passage, dict) else None,
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


def _moved_away(ctx: Ctx) -> Response:
    """A leader's view of a hit whose person moved to another unit: what their unit was told up to
    the move, read-only, with no evidence or text from after it (access.py)."""
    hit_id = ids.parse_hit(ctx.request.path_params["ref"])
    former = former_hit(ctx.db, ctx.user, hit_id) if hit_id is not None else None
    if former is None or hit_id is None:
        return ctx.not_found()
    hit = ctx.db.get(HitRow, hit_id)
    assert hit is not None
    audit.record(ctx.db, ctx.viewer, "view_moved_hit", hit_id=hit_id, address=ctx.address)
    return ctx.render(
        "moved.html", former=former, ref=ids.hit(hit_id), url=hit.url,
        person=ctx.shared.people.names.get(hit.person_id, hit.person_id),
        from_unit=ctx.shared.units.get(former.from_unit or "", former.from_unit or ""),
        site=ctx.shared.sites.get(hit.site_id, hit.site_id), first_seen=hit.first_seen,
    )


def _back(hit: HitRow, done: str, anchor: str) -> Response:
    return RedirectResponse(f"/hits/{ids.hit(hit.id)}?done={done}#{anchor}", status_code=303)


def _case_error(ctx: Ctx, exc: case.CaseError) -> Response:
    ctx.db.rollback()
    return ctx.render("error.html", status=400, title=ctx.t("page.not_saved"), message=ctx.t(exc.key, **exc.values),
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


def _viewed_file(ctx: Ctx, kind: str, action: str) -> bytes | None:
    """The file of `kind` of the snapshot in the address, its viewing written to the audit log;
    None when the hit or the file is not there for this viewer."""
    hit = _hit(ctx)
    sid = ids.parse_snapshot(ctx.request.path_params["sid"])
    found = None
    if hit is not None and sid is not None:
        found = evidence.snapshot_file(ctx.db, ctx.shared.archive, hit.page_id, sid, kind)
    if hit is None or found is None:
        return None
    audit.record(ctx.db, ctx.viewer, action, hit_id=hit.id, address=ctx.address,
                 snapshot=ctx.request.path_params["sid"])
    return found[0]


def screenshot(ctx: Ctx) -> Response:
    data = _viewed_file(ctx, "screenshot", "view_screenshot")
    if data is None:
        return ctx.not_found()
    return Response(data, media_type="image/png", headers={"cache-control": "private, no-store"})


def archived_html(ctx: Ctx) -> Response:
    """The archived HTML, inert: sandboxed by CSP (opaque origin, no scripts, no requests)."""
    data = _viewed_file(ctx, "html", "view_archived_html")
    if data is None:
        return ctx.not_found()
    return Response(
        data,
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
    found = evidence.snapshot_file(ctx.db, ctx.shared.archive, hit.page_id, sid, "screenshot") if sid else None
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
    name = f"vaern-{ids.hit(hit.id)}.zip"
    out = folder / name
    try:
        evidence_bundle(ctx.config, ctx.db, hit.id, out, via="review app",
                        exported_by=ctx.viewer.username if ctx.viewer else None, record_audit=False)
    except VaernError as exc:
        # The archive does not match the database (a changed or missing file): say so, export nothing.
        shutil.rmtree(folder, ignore_errors=True)
        audit.record(ctx.db, ctx.viewer, "export_failed", hit_id=hit.id, address=ctx.address, error=str(exc))
        return ctx.render("error.html", status=409, title=ctx.t("page.bundle_failed"),
                          message=str(exc), back=f"/hits/{ids.hit(hit.id)}")
    audit.record(ctx.db, ctx.viewer, "export", hit_id=hit.id, address=ctx.address, bytes=out.stat().st_size)
    return FileResponse(
        out, media_type="application/zip", filename=name,
        headers={"cache-control": "private, no-store"},
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


def routes(pages: Pages) -> list[Route]:
    r = pages.route
    return [
        Route("/hits/{ref}", r(hit_detail)),
        Route("/hits/{ref}/decision", r(decision), methods=["POST"]),
        Route("/hits/{ref}/steps", r(save_steps), methods=["POST"]),
        Route("/hits/{ref}/notes", r(add_note), methods=["POST"]),
        Route("/hits/{ref}/thumbnail.jpg", r(thumbnail)),
        Route("/hits/{ref}/snapshots/{sid}/screenshot.png", r(screenshot)),
        Route("/hits/{ref}/snapshots/{sid}/archived.html", r(archived_html)),
        Route("/hits/{ref}/export", r(export)),
    ]
