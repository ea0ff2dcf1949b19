"""The review web app: `create_app(config)` builds the ASGI app, `serve` runs it (`vaern serve`).

Its pages, each module named for what it serves: signin.py (/login, /logout), hitlist.py (/hits),
hitpage.py (/hits/{id} and its files, decisions and export), overview.py (/overview),
admin.py (/admin/...), api.py (/api/hits, JSON), reach.py (/capture and the /discovered inbox);
/healthz and / are here.

Controlled by `database`, `archive`, `language`, `timezone`, `review_url` (https there makes the
cookies Secure) and `review.*` in the config. Nothing happens at import time: the engine, the
migrations and the templates are made when `create_app` is called.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable
from html import escape
from typing import Any

from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from vaern.app import database_problem, open_services
from vaern.config import Config
from vaern.errors import DatabaseUnavailable, VaernError
from vaern.review import admin, api, authors, hitlist, hitpage, overview, reach, signin
from vaern.review.framework import STATIC, Ctx, Pages, SecurityHeaders, Shared, make_templates
from vaern.review.people import PeopleIndex
from vaern.storage.stamping import archive_for
from vaern.storage.thumbnails import Thumbnails
from vaern.words import Words

log = logging.getLogger("vaern.review")

THUMBNAIL_WIDTH = 240  # px, the hit list's pictures (the e-mails' are larger)


def healthz(ctx: Ctx) -> Response:
    return PlainTextResponse("ok")


def home(ctx: Ctx) -> Response:
    return RedirectResponse("/hits", status_code=303)


def create_app(config: Config) -> Starlette:
    services = open_services(config)
    https = config.review_url.startswith("https://")
    shared = Shared(
        config=config,
        factory=services.sessions,
        templates=make_templates(config),
        people=PeopleIndex.of(config),
        units={u.id: u.name for u in config.units},
        sites={s.id: s.label for s in config.sites},
        thumbnails=Thumbnails(width=THUMBNAIL_WIDTH, readable=True),
        https=https,
        archive=archive_for(config),
    )
    pages = Pages(shared)
    app = Starlette(
        routes=[
            Route("/healthz", pages.route(healthz, signed_in=False)),
            Route("/", pages.route(home)),
            *signin.routes(pages),
            *hitlist.routes(pages),
            *hitpage.routes(pages),
            *api.routes(pages),
            *overview.routes(pages),
            *admin.routes(pages),
            *authors.routes(pages),
            *reach.routes(pages),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[Middleware(SecurityHeaders, https=https)],
        exception_handlers={DBAPIError: _database_down(config), DatabaseUnavailable: _database_down(config)},
    )
    app.state.shared = shared
    app.state.engine = services.engine
    return app


def _database_down(config: Config) -> Callable[[Request, Exception], Awaitable[Response]]:
    """A plain page and 503 when the database is unreachable or refuses writes (read-only): the
    reader learns it is the service, not them, and that trying later may work. The operator gets
    the reason in the log; the page names no server, path or password."""
    t = Words(config.language)

    async def handler(request: Request, exc: Exception) -> Response:
        log.error("database unavailable for %s %s: %s", request.method, request.url.path,
                  database_problem(config.database, exc))
        title, message = t("page.service_unavailable"), t("page.database_unreachable")
        body = (f'<!doctype html><html lang="{config.language}"><head><meta charset="utf-8">'
                f"<title>{escape(title)} – Værn</title></head><body><h1>{escape(title)}</h1>"
                f"<p>{escape(message)}</p></body></html>")
        return HTMLResponse(body, status_code=503, headers={"Retry-After": "60"})

    return handler


class PortInUse(VaernError):
    """The review app's address is taken by another program."""


def _port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As uvicorn binds: a port left in TIME_WAIT by an earlier run is free, a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def serve(config: Config, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the app with uvicorn in the foreground until interrupted (`vaern serve`, `vaern demo`).
    Raises PortInUse (exit 1 in the CLI, one line naming the port) where uvicorn would log a bind
    error and exit with its own code 3."""
    import uvicorn

    taken = f"{host}:{port} is taken by another program; choose another port with --port"
    if _port_taken(host, port):
        raise PortInUse(taken)
    try:
        _run_uvicorn(uvicorn, create_app(config), host, port)
    except SystemExit as exc:
        if exc.code == 3:  # uvicorn's "startup failed": the port was taken after our look
            raise PortInUse(taken) from None
        raise


def _run_uvicorn(uvicorn: Any, app: Any, host: str, port: int) -> None:
    uvicorn.run(
        app,
        host=host,
        port=port,
        # Trust X-Forwarded-Proto (https, hence Secure cookies) only from a reverse proxy on this machine.
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
        ws="none",
        lifespan="off",
    )
