"""`vaern run` with stand-in crawls, as a child process a test can SIGTERM or SIGKILL.

Usage: service.py CONFIG LOG SECONDS [FLAGS...]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vaern.config import Config, load_config
from vaern.scheduler import Service, setup_logging
from vaern.storage.db import make_engine, migrate, session_factory

FAKE_CRAWL = Path(__file__).with_name("fake_crawl.py")


def fake_runner(db_url: str, log: str, seconds: float, flags: list[str]):  # type: ignore[no-untyped-def]
    def run(config: Config, site_id: str, run_id: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, str(FAKE_CRAWL), db_url, str(run_id), site_id, str(seconds), log, *flags],
            start_new_session=True,
        )

    return run


def main() -> int:
    config_path, log, seconds, *flags = sys.argv[1:]
    config = load_config(config_path)
    setup_logging()
    engine = make_engine(config.database)
    migrate(engine)
    service = Service(
        config, engine, session_factory(engine), runner=fake_runner(config.database, log, float(seconds), flags)
    )
    try:
        return service.run()
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
