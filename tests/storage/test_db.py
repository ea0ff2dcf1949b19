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
