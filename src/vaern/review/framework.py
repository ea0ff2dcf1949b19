"""The review app's small framework: sessions, CSRF, roles, templates and security headers.

Each page handler is a plain function `handler(ctx) -> Response` that runs in a worker thread
with one database transaction (committed when it returns, rolled back if it raises). `Pages.route`
wraps it: it reads the session cookie, sends anonymous users to /login, checks the CSRF token of
every POST, and turns a role the handler does not allow into the same 404 as a missing page.
`review.*` and `language` in the config control sessions and the language of the pages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vaern.alerts import mark_names as split_names
from vaern.clock import iso
from vaern.config import Config
from vaern.review import auth
from vaern.review.access import Viewer
from vaern.review.people import PeopleIndex
from vaern.storage.archive import Archive
from vaern.storage.thumbnails import Thumbnails
from vaern.words import Words

SESSION_COOKIE = "vaern_session"
LOGIN_COOKIE = "vaern_login"

# The app's own pages: nothing from other hosts, no inline script or style, not framable.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# Archived pages: a unique opaque origin, no scripts, no requests anywhere, framable by us only.
ARCHIVED_CSP = (
    "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)
SECURITY_HEADERS = {
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"cross-origin-opener-policy": b"same-origin",
    b"cross-origin-resource-policy": b"same-origin",
    b"permissions-policy": b"camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


class SecurityHeaders:
    """ASGI middleware: every response gets the headers above and, unless it set its own, the CSP."""

    def __init__(self, app: ASGIApp, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for key, value in SECURITY_HEADERS.items():
                    if key not in present:
                        headers.append((key, value))
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", CSP.encode()))
                if b"x-frame-options" not in present:
                    headers.append((b"x-frame-options", b"DENY"))
                if self.https or scope.get("scheme") == "https":
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass
class Shared:
    """What every request needs, built once by create_app."""

    config: Config
    factory: sessionmaker[Session]
    templates: Environment
    people: PeopleIndex
    units: dict[str, str]  # unit id -> name
    sites: dict[str, str]  # site id -> label
    thumbnails: Thumbnails
    https: bool
    archive: Archive  # the only way to the evidence files (a folder or a bucket)


@dataclass
class Ctx:
    """One request as a handler sees it."""

    request: Request
    db: Session
    shared: Shared
    viewer: Viewer | None
    csrf: str
    form: Mapping[str, str] = field(default_factory=dict)
    form_lists: Mapping[str, list[str]] = field(default_factory=dict)
    cookies: list[tuple[str, str, int | None]] = field(default_factory=list)  # (name, value, max_age)

    @property
    def config(self) -> Config:
        return self.shared.config

    @property
    def address(self) -> str:
        return self.request.client.host if self.request.client else ""

    @property
    def user(self) -> Viewer:
        assert self.viewer is not None, "route requires sign-in"
        return self.viewer

    def t(self, key: str, **values: object) -> str:
        """The words of `key` in the config's `language` (vaern.words)."""
        return Words(self.config.language)(key, **values)

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        page = self.shared.templates.get_template(template).render(
            ctx=self, viewer=self.viewer, csrf=self.csrf, config=self.config, path=self.request.url.path, **values
        )
        return HTMLResponse(page, status_code=status, headers={"cache-control": "no-store"})

    def not_found(self) -> HTMLResponse:
        return self.render("error.html", status=404, title=self.t("page.not_found"),
                           message=self.t("page.not_found_why"))


Handler = Callable[[Ctx], Response]


def local_path(target: str | None, default: str = "/hits") -> str:
    """Only a path on this site: never '//host' or 'https://…' (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


class Pages:
    """Turns handlers into Starlette endpoints with the plumbing described in the module docstring."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared

    def route(
        self, handler: Handler, *, signed_in: bool = True, roles: tuple[str, ...] = ()
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            form: dict[str, str] = {}
            lists: dict[str, list[str]] = {}
            if request.method == "POST":
                data = await request.form(max_files=0, max_fields=200)
                for key, value in data.multi_items():
                    if isinstance(value, str):
                        form.setdefault(key, value)
                        lists.setdefault(key, []).append(value)
            return await run_in_threadpool(self._run, handler, request, form, lists, signed_in, roles)

        return endpoint

    def _run(
        self,
        handler: Handler,
        request: Request,
        form: dict[str, str],
        lists: dict[str, list[str]],
        signed_in: bool,
        roles: tuple[str, ...],
    ) -> Response:
        with self.shared.factory() as db, db.begin():
            found = auth.find_session(db, request.cookies.get(SESSION_COOKIE))
            viewer = Viewer.of(found[1]) if found else None
            csrf = found[0].csrf_token if found else request.cookies.get(LOGIN_COOKIE, "")
            ctx = Ctx(request, db, self.shared, viewer, csrf, form, lists)
            if signed_in and viewer is None:
                if request.url.path.startswith("/api/"):
                    return JSONResponse({"error": "sign in first"}, status_code=401)
                if request.method == "GET":
                    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
                return PlainTextResponse(ctx.t("page.sign_in_again"), status_code=403)
            if request.method == "POST" and not auth.same_token(csrf, form.get("csrf")):
                return ctx.render("error.html", status=403, title=ctx.t("page.refused"),
                                  message=ctx.t("page.form_refused"))
            if roles and (viewer is None or viewer.role not in roles):
                return ctx.not_found()
            response = handler(ctx)
            for name, value, max_age in ctx.cookies:
                if value:
                    response.set_cookie(
                        name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=self.shared.https or request.url.scheme == "https",
                    )
                else:
                    response.delete_cookie(name, path="/", httponly=True, samesite="lax",
                                           secure=self.shared.https or request.url.scheme == "https")
            return response


def make_templates(config: Config) -> Environment:
    """The Jinja environment: autoescaping everywhere, and the filters the templates use."""
    env = Environment(
        loader=PackageLoader("vaern.review", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    zone = ZoneInfo(config.timezone)
    fmt = "%d.%m.%Y %H:%M" if config.language == "da" else "%Y-%m-%d %H:%M"

    def when(value: datetime | None) -> Markup:
        if value is None:
            return Markup("–")
        utc = value.replace(tzinfo=UTC)
        local = utc.astimezone(zone)
        # Only digits and separators from fixed formats: nothing to escape (Markup.format would
        # cost a fifth of rendering the list).
        return Markup(f'<time datetime="{iso(value)}" title="{utc:%Y-%m-%d %H:%M} UTC">'
                      f"{local.strftime(fmt)}</time>")

    env.filters["when"] = when
    env.filters["mark"] = mark_names
    env.filters["utc"] = lambda v: iso(v) or ""
    env.globals["t"] = Words(config.language)
    env.globals["lang"] = config.language
    return env


def mark_names(text: str | None, names: list[str] | tuple[str, ...] | None) -> Markup:
    """Escape `text` and wrap each matched form of the name in <mark>, as the alert e-mails do."""
    return Markup("").join(
        Markup("<mark>{}</mark>").format(part) if is_name else escape(part)
        for part, is_name in split_names(text or "", list(names or []))
    )


STATIC = Path(__file__).parent / "static"
