"""A crawl's process: started (`vaern crawl-site`), handed its run, stopped with its browser.

Kept apart from runner.py and free of database imports, so that `vaern crawl` can start its
crawl processes first thing (`prestart_crawls`), before it loads SQLAlchemy and opens the
database. Controlled by `crawl.max_parallel_sites`.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

from vaern.config import Config

log = logging.getLogger("vaern.crawlprocess")

REAP_SECONDS = 3.0  # how long kill_crawl keeps reaping browsers that outlive their crawl


def start_crawl_process(config: Config, site_id: str, run_id: int | None) -> subprocess.Popen[bytes]:
    """Start `vaern crawl-site` for one run in its own process group (so a kill takes its browser too).

    Without a run id the process loads the crawler and builds its name index, then waits for
    `hand_over` to send the run on its stdin (see `prestart_crawls`).
    """
    assert config.source is not None, "a crawl needs a config read from a file"
    return subprocess.Popen(
        [
            sys.executable, "-m", "vaern", "-c", str(config.source),
            *(["-v"] if logging.getLogger().isEnabledFor(logging.DEBUG) else []),  # the parent's -v
            "crawl-site", site_id, *(["--run-id", str(run_id)] if run_id is not None else []),
        ],
        stdin=subprocess.DEVNULL if run_id is not None else subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )


def prestart_crawls(config: Config, site_ids: Sequence[str]) -> dict[str, subprocess.Popen[bytes]]:
    """Start the first crawl processes (up to `crawl.max_parallel_sites`) before the parent opens
    its database: they load Scrapy and build the name index while the parent migrates and
    creates the runs. Starting a Python process with the crawler loaded costs about a second,
    as much as a whole second crawl of an unchanged site; on two cores this hides most of it.
    Each waits for `hand_over`; one whose stdin closes without a run exits quietly.
    """
    started = {s: start_crawl_process(config, s, None) for s in site_ids[: config.crawl.max_parallel_sites]}
    for site_id, process in started.items():
        log.debug("crawl process %d started ahead for site %s", process.pid, site_id)
    return started


def hand_over(process: subprocess.Popen[bytes], run_id: int) -> None:
    """Give a prestarted crawl process its run. If it died meanwhile, its exit code tells the runner."""
    assert process.stdin is not None
    log.debug("crawl process %d gets run %d", process.pid, run_id)
    try:
        process.stdin.write(f"{run_id}\n".encode())
        process.stdin.close()
    except OSError:  # BrokenPipeError: it exited before reading
        pass


def kill_crawl(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Stop a crawl and what it started in its process group: TERM, a grace period, then KILL.

    Playwright starts Chromium in a process group of its own, so the group kill does not reach
    it; it normally exits when its driver dies, and any that does not is reaped here by its
    marker (crawler/browser.py).
    """
    try:
        _kill_group(process, grace)
    finally:
        from vaern.crawler.browser import orphaned_browsers, reap_orphaned_browsers

        reap_orphaned_browsers()
        # A Chromium still starting up when its crawl died can show up just after the reap.
        deadline = time.monotonic() + REAP_SECONDS
        while time.monotonic() < deadline and orphaned_browsers():
            time.sleep(0.1)
            reap_orphaned_browsers()


def _kill_group(process: subprocess.Popen[bytes], grace: float) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
