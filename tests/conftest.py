"""Shared fixtures: a throwaway PostgreSQL cluster, a database per test, a config factory; the
run's own processes tagged, so tests count theirs and not other programs'."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from vaern.config import Config, load_config
from vaern.testing.postgres import create_database, throwaway_cluster
from vaern.testing.processes import tag_tree
from vaern.testing.s3 import S3StandIn, s3_stand_in

_db_numbers = itertools.count(1)
_bucket_numbers = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    tag_tree()  # before any test starts a process: its browsers are told apart from others'


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """One PostgreSQL cluster for the whole run; each test gets its own database on it."""
    with throwaway_cluster() as url:
        yield url


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3StandIn]:
    """One S3 stand-in (moto's server on 127.0.0.1) for the whole run; tests make their own buckets."""
    with s3_stand_in() as server:
        yield server


@pytest.fixture
def s3_bucket(s3_server: S3StandIn) -> S3StandIn:
    """A fresh bucket on the S3 stand-in for one test."""
    return s3_server.new_bucket(f"evidence-{next(_bucket_numbers)}")


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL; tests using it run once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'vaern.db'}"
    server = request.getfixturevalue("pg_server")
    return create_database(server, f"test_{next(_db_numbers)}")


def base_config(tmp_path: Path) -> dict[str, Any]:
    """A small valid config: two units, three people, no sites."""
    return {
        "organisation": "Testby Kommune",
        "database": f"sqlite:///{tmp_path / 'vaern.db'}",
        "archive": str(tmp_path / "archive"),
        "review_url": "http://127.0.0.1:8000",
        "smtp": {"host": "127.0.0.1", "port": 2525, "sender": "Værn <vaern@testby.example>"},
        "network": {"allow_private_hosts": ["127.0.0.1", "localhost"]},
        "units": [
            {"id": "boern", "name": "Børn og Familie",
             "leader": {"name": "Lene Leder", "email": "lene@testby.example"},
             "notify": [{"name": "Arne AMR", "email": "amr@testby.example"}]},
            {"id": "job", "name": "Jobcenter", "leader": {"name": "Jens Chef", "email": "jens@testby.example"}},
        ],
        "people": [
            {"id": "rr", "name": "René Rosenkilde", "aliases": ["R. Rosenkilde"], "unit": "boern"},
            {"id": "ms", "name": "Mette Sørensen", "unit": "boern"},
            {"id": "kj", "name": "Karin Juhl", "unit": "job"},
        ],
        "sites": [],
    }


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    """Write a vaern.yaml from base_config plus overrides and load it the way the CLI does."""

    def make(**overrides: Any) -> Config:
        data = base_config(tmp_path)
        data.update(overrides)
        path = tmp_path / "vaern.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return load_config(path)

    return make
