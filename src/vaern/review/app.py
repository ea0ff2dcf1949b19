"""The review web app's factory: `create_app(config)` builds the ASGI app (`serve.py` runs it).

Controlled by `database`, `archive`, `language`, `timezone`, `review_url` (https there makes the
cookies Secure) and `review.*` in the config. Nothing happens at import time: the engine, the
migrations and the templates are made when `create_app` is called.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from html import escape

from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from vaern.app import database_problem, open_services
from vaern.config import Config
from vaern.errors import DatabaseUnavailable
from vaern.review import admin, api, routes
from vaern.review.evidence import Thumbnails
from vaern.review.hits import Directory
from vaern.review.i18n import translator
from vaern.review.web import STATIC, Pages, SecurityHeaders, Shared, make_templates

log = logging.getLogger("vaern.review")


def _database_down(config: Config) -> Callable[[Request, Exception], Awaitable[Response]]:
    """A plain page and 503 when the database is unreachable or refuses writes (read-only): the
    reader learns it is the service, not them, and that trying later may work. The operator gets
    the reason in the log; the page names no server, path or password."""
    t = translator(config.language)

    async def handler(request: Request, exc: Exception) -> Response:
        log.error("database unavailable for %s %s: %s", request.method, request.url.path,
                  database_problem(config.database, exc))
        title, message = t("Service unavailable"), t("The database cannot be reached just now. Try again in a "
                                                     "little while; if it goes on, tell the administrator.")
        body = (f'<!doctype html><html lang="{config.language}"><head><meta charset="utf-8">'
                f"<title>{escape(title)} – Værn</title></head><body><h1>{escape(title)}</h1>"
                f"<p>{escape(message)}</p></body></html>")
        return HTMLResponse(body, status_code=503, headers={"Retry-After": "60"})

    return handler


def create_app(config: Config) -> Starlette:
    services = open_services(config)
    https = config.review_url.startswith("https://")
    shared = Shared(
        config=config,
        factory=services.sessions,
        templates=make_templates(config),
        people=Directory.of(config),
        units={u.id: u.name for u in config.units},
        sites={s.id: s.label for s in config.sites},
        thumbnails=Thumbnails(),
        https=https,
    )
    pages = Pages(shared)
    app = Starlette(
        routes=[
            *routes.routes(pages),
            *api.routes(pages),
            *admin.routes(pages),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[Middleware(SecurityHeaders, https=https)],
        exception_handlers={DBAPIError: _database_down(config), DatabaseUnavailable: _database_down(config)},
    )
    app.state.shared = shared
    app.state.engine = services.engine
    return app
