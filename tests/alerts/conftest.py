"""Fixtures for the alert tests: the clock, a migrated database, a config factory, a live SMTP sink."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tests.alerts.alert_factories import CLOCK
from vaern.clock import clock_at
from vaern.config import Config
from vaern.storage.db import make_engine, migrate, session_factory
from vaern.testing.postgres import create_database
from vaern.testing.smtpsink import SmtpSink

BASE_CONFIG: dict[str, Any] = {
    "organisation": "Eksempel Kommune",
    "review_url": "http://127.0.0.1:8000",
    "units": [
        {
            "id": "boern-familie",
            "name": "Børn og Familie",
            "leader": {"name": "Lene Leder", "email": "lene.leder@kommune.example"},
            "notify": [{"name": "Arne Arbejdsmiljø", "email": "amr@kommune.example"}],
        },
        {
            "id": "job",
            "name": "Jobcenter",
            "leader": {"name": "Jens Jobleder", "email": "jens@kommune.example"},
        },
    ],
    "people": [
        {"id": "rr", "name": "René Rosenkilde", "unit": "boern-familie", "title": "fagchef"},
        {"id": "sm", "name": "Sofie Mikkelsen", "unit": "boern-familie"},
        {"id": "kj", "name": "Karsten Juul", "unit": "job"},
        {"id": "nn", "name": "Nora Nielsen"},
    ],
    "sites": [
        {"id": "hadeside", "name": "Hadeside", "start_urls": ["https://hadeside.example/"]},
        {"id": "forum", "name": "Forum", "start_urls": ["https://forum.example/"]},
    ],
    "alerts": {"fallback": "central@kommune.example", "analysts": ["analytiker@kommune.example"]},
}


@pytest.fixture(autouse=True)
def alert_clock() -> Iterator[None]:
    """The rows these tests build are dated 21 November 2026 (alert_factories); the code's clock,
    and that of every process a test starts, shows the same afternoon, whatever today's date."""
    with clock_at(CLOCK):
        yield


def build_config(tmp_path: Path, url: str, **overrides: Any) -> Config:
    data = {**BASE_CONFIG, **overrides}
    data["database"] = url
    config = Config.model_validate(data)
    return config.model_copy(update={"archive": tmp_path / "archive"})


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating takes most of a second)."""
    path = tmp_path_factory.mktemp("template") / "vaern.db"
    eng = make_engine(f"sqlite:///{path}")
    migrate(eng)
    eng.dispose()  # closes the last connection: the WAL is folded into the file
    return path


_pg_numbers = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, migrated_sqlite: Path) -> str:
    """Each outbox and delivery test runs on SQLite and on PostgreSQL (a fresh database each)."""
    if request.param == "postgres":
        return create_database(request.getfixturevalue("pg_server"), f"alerts_{next(_pg_numbers)}")
    target = tmp_path / "vaern.db"
    shutil.copyfile(migrated_sqlite, target)
    return f"sqlite:///{target}"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    if not database_url.startswith("sqlite"):
        migrate(eng)  # the SQLite copy is migrated already
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


@pytest.fixture
def make_config(tmp_path: Path, database_url: str, sink: SmtpSink) -> Callable[..., Config]:
    def factory(**overrides: Any) -> Config:
        smtp = {"host": sink.host, "port": sink.port, "timeout": 3, "sender": "Værn <vaern@kommune.example>"}
        smtp.update(overrides.pop("smtp", {}))
        alerts = {**BASE_CONFIG["alerts"], "retry_initial": "30s", **overrides.pop("alerts", {})}
        return build_config(tmp_path, database_url, smtp=smtp, alerts=alerts, **overrides)

    return factory


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config()
