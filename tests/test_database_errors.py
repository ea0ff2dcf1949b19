"""A database that cannot be read, or refuses writes: one clear line and exit 1 in the CLI, a plain
page with status 503 in the review app; never a SQLAlchemy traceback or an HTTP 500."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from tests.review.conftest import LiveServer, csrf_of
from vaern.app import open_services
from vaern.cli import main
from vaern.config import Config
from vaern.review.auth import add_account
from vaern.review.webapp import create_app
from vaern.testing.postgres import create_database


def _vaern(config: Config, *args: str) -> subprocess.CompletedProcess[str]:
    """`vaern crawl` in a process of its own (it starts crawl processes); the rest in this one."""
    assert config.source is not None
    if args[0] != "crawl":
        result = CliRunner(env={"VAERN_TEST_PASSWORD": "correct horse battery"}).invoke(
            main, ["-c", str(config.source), *args]
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)
    return subprocess.run(
        [sys.executable, "-m", "vaern", "-c", str(config.source), *args], capture_output=True, text=True, timeout=120,
        env={**os.environ, "VAERN_TEST_PASSWORD": "correct horse battery"},
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "sqlalchemy" not in result.stderr.lower()
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_file_that_is_not_a_database(make_config: Callable[..., Config], tmp_path: Path) -> None:
    (tmp_path / "vaern.db").write_bytes(b"this is not an SQLite database, but a text file " * 100)
    config = make_config(sites=[{"id": "blog", "start_urls": ["https://blog.example/"]}])
    for command in (["status"], ["hits"], ["verify"], ["crawl", "--no-alerts"], ["send"]):
        line = _one_line(_vaern(config, *command))
        assert line == (
            f"error: cannot open the database sqlite:///{tmp_path / 'vaern.db'} (`database` in the config): "
            "file is not a database"
        ), command


_numbers = itertools.count(1)


@pytest.fixture
def read_only_postgres(request: pytest.FixtureRequest, make_config: Callable[..., Config]) -> Config:
    """A migrated PostgreSQL database with an account, then switched to read-only."""
    name = f"read_only_{next(_numbers)}"
    url = create_database(request.getfixturevalue("pg_server"), name)
    config = make_config(database=url, sites=[{"id": "blog", "start_urls": ["https://blog.example/"]}])
    open_services(config).engine.dispose()
    add_account(config, "analytiker", "analyst", [], "correct horse battery")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
    engine.dispose()
    return config


def test_a_read_only_database_in_the_cli(read_only_postgres: Config) -> None:
    config = read_only_postgres
    # Reading works: nothing to write.
    assert _vaern(config, "hits").returncode == 0
    assert _vaern(config, "status").returncode == 0
    add_user = ["user", "add", "lene", "--role", "analyst", "--password-env", "VAERN_TEST_PASSWORD"]
    for command in (["crawl", "--no-alerts"], add_user):
        line = _one_line(_vaern(config, *command))
        assert re.fullmatch(
            r"error: cannot use the database postgresql\+psycopg://vaern@127\.0\.0\.1:\d+/read_only_\d+ "
            r"\(`database` in the config\): cannot execute INSERT in a read-only transaction",
            line,
        ), (command, line)


def test_a_read_only_database_in_the_app_is_a_503_page(read_only_postgres: Config) -> None:
    with LiveServer(create_app(read_only_postgres)) as live, httpx.Client(base_url=live.url) as client:
        form = client.get("/login")
        assert form.status_code == 200
        response = client.post("/login", data={"username": "analytiker", "password": "correct horse battery",
                                               "csrf": csrf_of(form.text), "next": "/hits"})
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("text/html")
        assert "Databasen kan ikke nås lige nu" in response.text
        assert "read-only" not in response.text and "127.0.0.1" not in response.text
