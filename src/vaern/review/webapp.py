"""The review web app: `create_app(config)` builds the ASGI app, `serve` runs it (`vaern serve`).

Controlled by `database`, `archive`, `language`, `timezone`, `review_url` (https there makes the
cookies Secure) and `review.*` in the config. Nothing happens at import time: the engine, the
migrations and the templates are made when `create_app` is called.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from vaern.app import open_services
from vaern.config import Config
from vaern.review import admin, api, routes
from vaern.review.framework import STATIC, Pages, SecurityHeaders, Shared, make_templates
from vaern.review.hitlist import Directory
from vaern.storage.thumbnails import Thumbnails

THUMBNAIL_WIDTH = 240  # px, the hit list's pictures (the e-mails' are larger)


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
        thumbnails=Thumbnails(width=THUMBNAIL_WIDTH),
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
