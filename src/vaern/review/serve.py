"""Running the review app (`vaern serve`, `vaern demo`) and managing its accounts (`vaern user add`).

`serve` runs uvicorn in the foreground on the given host and port; `add_account` and `ensure_user`
open the database named by `database` in the config and create an account there.
"""

from __future__ import annotations

import socket
from typing import Any

from sqlalchemy import select

from vaern.app import open_services
from vaern.config import Config
from vaern.errors import VaernError
from vaern.review import audit
from vaern.review.auth import add_user
from vaern.storage.db import transaction
from vaern.storage.tables import UserRow


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
    """Run the app in the foreground until interrupted. Raises PortInUse (exit 1 in the CLI, one
    line naming the port) where uvicorn would log a bind error and exit with its own code 3."""
    import uvicorn

    from vaern.review.app import create_app

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


def add_account(config: Config, username: str, role: str, units: list[str], password: str) -> None:
    """Create an account; raises auth.AccountError saying what is wrong."""
    services = open_services(config)
    try:
        with transaction(services.sessions) as session:
            user = add_user(session, config, username, role, units, password)
            audit.record(session, None, "user_add", username=cli_actor(), user=user.username, role=user.role,
                         units=list(user.units))
    finally:
        services.engine.dispose()


def cli_actor() -> str:
    """Who the audit log names for a change made with `vaern user`: the system user running it."""
    import getpass

    try:
        return f"cli ({getpass.getuser()})"[:100]
    except Exception:  # no user name for this uid (a container)
        return "cli"


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
