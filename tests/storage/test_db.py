"""The schema: migrations build exactly the tables the code maps, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from vaern.storage.db import HEAD_REVISION, make_engine, migrate
from vaern.storage.tables import Base


def test_migrations_match_the_mapped_tables(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    migrate(engine)  # applying twice is a no-op
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    migrate(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert "hits" in inspect(engine).get_table_names()
    engine.dispose()


def test_head_revision_is_the_newest_migration() -> None:
    from alembic.script import ScriptDirectory

    from vaern.storage.db import alembic_config

    assert ScriptDirectory.from_config(alembic_config(make_engine("sqlite://"))).get_current_head() == HEAD_REVISION


def test_a_database_at_head_is_opened_without_alembic(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    from vaern.storage.db import HEAD_REVISION, schema_revision

    url = f"sqlite:///{tmp_path / 'x.db'}"
    engine = make_engine(url)
    assert schema_revision(engine) is None
    migrate(engine)
    assert schema_revision(engine) == HEAD_REVISION
    engine.dispose()
    probe = (
        "import sys; from vaern.storage.db import make_engine, migrate; "
        f"migrate(make_engine({url!r})); print(sorted(m for m in sys.modules if m.startswith('alembic')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_reach_migrations_upgrade_a_used_database_and_downgrade_again(db_url: str) -> None:
    """0012 (feeds, authors) and 0013 (logins, one-off captures, discovery) on a database at 0009
    that holds a site and a crawl run: the run becomes a full crawl, the site needs no login; and
    back down to 0009 without losing either."""
    from alembic import command
    from sqlalchemy import text

    from vaern.storage.db import alembic_config

    engine = make_engine(db_url)
    cfg = alembic_config(engine)
    command.upgrade(cfg, "0009")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sites (id, name, settings, active, search_cursor) "
                          "VALUES ('blog', 'Blog', '{}', true, 0)"))
        # Every counter 0009 requires, as they stood then (the mapped table is head's).
        counters = [c["name"] for c in inspect(conn).get_columns("crawl_runs")
                    if not c["nullable"] and c["name"] not in ("id", "site_id", "started_at", "status")]
        conn.execute(text(f"INSERT INTO crawl_runs (site_id, started_at, status, {', '.join(counters)}) "
                          f"VALUES ('blog', '2026-01-05 10:00:00', 'ok', {', '.join('0' for _ in counters)})"))
    command.upgrade(cfg, "0013")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT kind FROM crawl_runs")).scalars().all() == ["full"]
        assert conn.execute(text("SELECT needs_login FROM sites")).scalars().all() == [None]
        tables = set(inspect(conn).get_table_names())
    assert {"feeds", "feed_entries", "author_links", "one_off_captures", "discovered",
            "discovery_searches", "discovery_ignored_hosts"} <= tables
    command.downgrade(cfg, "0009")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM sites")).scalars().all() == ["blog"]
        assert conn.execute(text("SELECT count(*) FROM crawl_runs")).scalar() == 1
        assert not {"feeds", "one_off_captures", "discovered"} & set(inspect(conn).get_table_names())
    command.upgrade(cfg, "head")
    engine.dispose()
