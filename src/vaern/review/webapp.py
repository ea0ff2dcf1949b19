"""The review web app: `create_app(config)` builds the ASGI app, `serve` runs it (`vaern serve`).

Its pages, each module named for what it serves: signin.py (/login, /logout), hitlist.py (/hits),
hitpage.py (/hits/{id} and its files, decisions and export), overview.py (/overview),
admin.py (/admin/...), api.py (/api/hits, JSON); /healthz and / are here.

Controlled by `database`, `archive`, `language`, `timezone`, `review_url` (https there makes the
cookies Secure) and `review.*` in the config. Nothing happens at import time: the engine, the
migrations and the templates are made when `create_app` is called.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from vaern.app import open_services
from vaern.config import Config
from vaern.review import admin, api, hitlist, hitpage, overview, signin
from vaern.review.framework import STATIC, Ctx, Pages, SecurityHeaders, Shared, make_templates
from vaern.review.people import PeopleIndex
from vaern.storage.thumbnails import Thumbnails

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
        thumbnails=Thumbnails(width=THUMBNAIL_WIDTH),
        https=https,
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
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[Middleware(SecurityHeaders, https=https)],
    )
    app.state.shared = shared
    app.state.engine = services.engine
    return app


def serve(config: Config, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the app with uvicorn in the foreground until interrupted (`vaern serve`, `vaern demo`)."""
    import uvicorn

    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        # Trust X-Forwarded-Proto (https, hence Secure cookies) only from a reverse proxy on this machine.
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
        ws="none",
        lifespan="off",
    )
