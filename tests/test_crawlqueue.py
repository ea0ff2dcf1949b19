"""The crawl queue against a real PostgreSQL: its tables made once, a site queued at most once
while it waits, its lock, and the requeueing of stalled jobs. (Workers at work:
tests/test_cluster.py.)"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable

import pytest
from sqlalchemy import text

from vaern.config import Config
from vaern.crawlqueue import QueueClient, conninfo, ensure_schema, setup_lock
from vaern.storage.db import make_engine
from vaern.testing.postgres import create_database

pytestmark = pytest.mark.postgres
_numbers = itertools.count(1)


def test_a_site_waits_in_the_queue_once_with_its_lock(make_config: Callable[..., Config], pg_server: str) -> None:
    config = make_config(database=create_database(pg_server, f"queue_{os.getpid()}_{next(_numbers)}"),
                         queue="postgres")
    with setup_lock(config):
        assert ensure_schema(config) is True
    assert ensure_schema(config) is False  # already there
    client = QueueClient(config)
    try:
        first = client.defer_crawl("a")
        assert first is not None
        assert client.defer_crawl("a") is None  # one waiting job per site
        assert client.defer_crawl("b") is not None
        assert client.retry_stalled() == []  # no worker has died
    finally:
        client.close()
    rows = _jobs(config, "args->>'site_id', lock, queueing_lock, queue_name, status::text")
    assert rows == [
        ("a", "site:a", "site:a", "crawls", "todo"),
        ("b", "site:b", "site:b", "crawls", "todo"),
    ]


def test_the_connection_string_keeps_the_password_for_libpq() -> None:
    assert conninfo("postgresql+psycopg://vaern:hemmeligt@db.example:5433/vaern") == (
        "postgresql://vaern:hemmeligt@db.example:5433/vaern"
    )


def test_a_feed_run_waits_beside_the_sites_crawl_on_the_same_lock(
    make_config: Callable[..., Config], pg_server: str
) -> None:
    """A site's feed run is a job of its own kind: one may wait beside its full crawl (their
    queueing locks differ), and both hold the site's lock, so they never run at once."""
    config = make_config(database=create_database(pg_server, f"queue_{os.getpid()}_{next(_numbers)}"),
                         queue="postgres")
    with setup_lock(config):
        ensure_schema(config)
    client = QueueClient(config)
    try:
        assert client.defer_crawl("a") is not None
        assert client.defer_crawl("a", kind="feed") is not None
        assert client.defer_crawl("a", kind="feed") is None  # one waiting feed run per site
    finally:
        client.close()
    rows = _jobs(config, "args->>'site_id', coalesce(args->>'kind', 'full'), lock, queueing_lock")
    assert rows == [("a", "full", "site:a", "site:a"), ("a", "feed", "site:a", "site:a:feed")]


def _jobs(config: Config, columns: str) -> list[tuple[object, ...]]:
    """The queue's jobs, oldest first: `columns` of procrastinate_jobs."""
    engine = make_engine(config.database)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(f"SELECT {columns} FROM procrastinate_jobs ORDER BY id"))]
    finally:
        engine.dispose()
