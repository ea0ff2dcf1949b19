"""A throwaway PostgreSQL cluster for tests: initdb in a temp dir, a free port, stopped afterwards.

The server binaries (`initdb`, `pg_ctl`) are found on PATH or in /usr/lib/postgresql/*/bin.
PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user (or
`nobody`) and its directory is handed over to that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (Debian: apt-get install postgresql)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> tuple[list[str], int | None, int | None]:
    if os.geteuid() != 0:
        return [], None, None
    for user in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            continue
        return ["runuser", "-u", user, "--"], entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root and no 'postgres' or 'nobody' user to run PostgreSQL as")


@contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Yield a server URL `postgresql+psycopg://vaern@127.0.0.1:PORT/` with a superuser `vaern`."""
    prefix, uid, gid = _run_as()
    root = Path(tempfile.mkdtemp(prefix="vaern-pg-"))
    data = root / "data"
    port = free_port()
    if uid is not None and gid is not None:
        os.chown(root, uid, gid)
        os.chmod(root, 0o700)
    subprocess.run(
        [*prefix, _binary("initdb"), "-D", str(data), "-U", "vaern", "--auth=trust", "-E", "UTF8", "--no-sync"],
        check=True, capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    subprocess.run(
        [*prefix, _binary("pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"],
        check=True, capture_output=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"postgresql+psycopg://vaern@127.0.0.1:{port}/"
    finally:
        subprocess.run([*prefix, _binary("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def create_database(server_url: str, name: str) -> str:
    """Create database `name` on the cluster; return its URL."""
    import psycopg

    dsn = server_url.replace("postgresql+psycopg://", "postgresql://") + "postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url + name
