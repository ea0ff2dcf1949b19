"""Running the review app (`vaern serve`, `vaern demo`) and managing its accounts (`vaern user add`).

`serve` runs uvicorn in the foreground on the given host and port; `add_account` and `ensure_user`
open the database named by `database` in the config and create an account there.
"""

from __future__ import annotations

from sqlalchemy import select

from vaern.app import open_services
from vaern.config import Config
from vaern.review.auth import add_user
from vaern.storage.db import transaction
from vaern.storage.tables import UserRow


def serve(config: Config, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the app in the foreground until interrupted."""
    import uvicorn

    from vaern.review.webapp import create_app

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


def add_account(config: Config, username: str, role: str, units: list[str], password: str) -> None:
    """Create an account; raises auth.AccountError saying what is wrong."""
    services = open_services(config)
    try:
        with transaction(services.sessions) as session:
            add_user(session, config, username, role, units, password)
    finally:
        services.engine.dispose()


def ensure_user(
    config: Config, username: str, password: str, role: str = "analyst", units: list[str] | None = None
) -> None:
    """Create the account unless one of that name exists (the demo login)."""
    services = open_services(config)
    try:
        with transaction(services.sessions) as session:
            if session.scalar(select(UserRow.id).where(UserRow.username == username)) is None:
                add_user(session, config, username, role, units or [], password)
    finally:
        services.engine.dispose()
