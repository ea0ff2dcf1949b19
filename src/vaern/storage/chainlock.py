"""The chain lock across machines: a PostgreSQL advisory lock.

Controlled by `database`: where it is PostgreSQL (`queue: postgres`, workers on many machines),
every append to the archive's chain (storage/archive.py) first takes a session-level advisory
lock in it, so that two workers on different machines never chain two manifests to the same
head. A file lock cannot do this: it is local to one machine. With SQLite there is one machine,
and the store's own file lock suffices. If a worker dies holding the lock, its connection closes
and PostgreSQL releases the lock with it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool


def chain_lock_key(where: str) -> int:
    """The advisory lock's key: one per archive (its folder or bucket), a signed 64-bit integer."""
    return int.from_bytes(hashlib.sha256(f"vaern chain {where}".encode()).digest()[:8], "big", signed=True)


class PostgresChainLock:
    """`with lock():` holds the archive's advisory lock in PostgreSQL for the duration."""

    def __init__(self, url: str, where: str) -> None:
        self.url = url
        self.key = chain_lock_key(where)
        self._engine: Engine | None = None

    def _connect(self) -> Any:
        if self._engine is None:
            # No pool: a crawl child stores a few snapshots a minute, and a pooled connection that
            # outlived its server would fail the first append after a restart.
            self._engine = create_engine(self.url, poolclass=NullPool)
        return self._engine.connect()

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": self.key})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                conn.commit()


def chain_lock_for(database: str, where: str) -> PostgresChainLock | None:
    """The lock for `database`, or None where the database is not PostgreSQL."""
    return PostgresChainLock(database, where) if database.startswith("postgres") else None
