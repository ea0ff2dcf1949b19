"""The local runner: each crawl `(site, run id)` runs in a child process of its own.

Twisted's reactor cannot restart and a browser crash must not take the service down, so every
crawl gets a fresh process (`vaern crawl-site SITE --run-id N`). The parent creates the run row,
starts the child and reads progress back from that row: nothing here assumes the crawl ran on
this machine beyond the process handle, which is the seam a job queue would replace.
Controlled by `crawl.max_parallel_sites` and `crawl.timeout`.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vaern.app import Services, new_run
from vaern.config import Config, parse_interval
from vaern.storage.db import transaction
from vaern.storage.queries import latest_runs, utcnow
from vaern.storage.tables import CrawlRunRow

POLL_SECONDS = 0.2
REAP_SECONDS = 3.0  # how long kill_crawl keeps reaping browsers that outlive their crawl


@dataclass
class RunningCrawl:
    site_id: str
    run_id: int
    process: subprocess.Popen[bytes]
    started: float


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
    return {s: start_crawl_process(config, s, None) for s in site_ids[: config.crawl.max_parallel_sites]}


def hand_over(process: subprocess.Popen[bytes], run_id: int) -> None:
    """Give a prestarted crawl process its run. If it died meanwhile, its exit code tells the runner."""
    assert process.stdin is not None
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
        from vaern.crawler.browser import browser_processes, owner_alive, reap_orphaned_browsers

        reap_orphaned_browsers()
        # A Chromium still starting up when its crawl died can show up just after the reap.
        deadline = time.monotonic() + REAP_SECONDS
        while time.monotonic() < deadline and any(not owner_alive(m) for _p, m in browser_processes()):
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


def finish_abandoned(services: Services, run_id: int, status: str, error: str, *, overrule: bool = False) -> None:
    """A child that died or was killed cannot mark its own run; the parent does.

    With `overrule`, the parent's word stands even where the child managed to mark its run in
    its grace period: a crawl stopped for running too long did not finish, whatever it wrote.
    """
    with transaction(services.sessions) as session:
        run = session.get(CrawlRunRow, run_id)
        if run is None:
            return
        if run.finished_at is None:
            run.status, run.error, run.finished_at = status, error, utcnow()
        elif overrule:
            run.status, run.error = status, error


def _wait_for_any_exit(running: list[RunningCrawl], seconds: float) -> None:
    """Sleep up to `seconds`, less once a crawl process has exited: a short crawl (a second crawl
    of an unchanged site takes well under a second) should not wait out a whole poll interval."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and all(c.process.poll() is None for c in running):
        time.sleep(0.02)


def run_crawls(
    services: Services,
    site_ids: Sequence[str],
    on_progress: Callable[[list[CrawlRunRow]], None] | None = None,
    prestarted: dict[str, subprocess.Popen[bytes]] | None = None,
) -> list[CrawlRunRow]:
    """Crawl the sites, at most `crawl.max_parallel_sites` at a time; return their finished runs.

    `prestarted` holds processes from `prestart_crawls`, used for their sites."""
    prestarted = dict(prestarted or {})
    config = services.config
    limit = config.crawl.max_parallel_sites
    timeout = parse_interval(config.crawl.timeout).total_seconds()
    try:
        waiting = list(site_ids)
        runs = {site_id: new_run(services, site_id) for site_id in waiting}
        running: list[RunningCrawl] = []
        while waiting or running:
            while waiting and len(running) < limit:
                site_id = waiting.pop(0)
                process = prestarted.pop(site_id, None) or start_crawl_process(config, site_id, runs[site_id])
                if process.stdin is not None:
                    hand_over(process, runs[site_id])
                running.append(RunningCrawl(site_id, runs[site_id], process, time.monotonic()))
            _wait_for_any_exit(running, POLL_SECONDS)
            for crawl in list(running):
                code = crawl.process.poll()
                if code is None and time.monotonic() - crawl.started > timeout:
                    kill_crawl(crawl.process)
                    error = f"exceeded crawl.timeout ({config.crawl.timeout})"
                    finish_abandoned(services, crawl.run_id, "killed", error, overrule=True)
                    running.remove(crawl)
                elif code is not None:
                    # Reap any browser the child left in its group, whatever its exit.
                    kill_crawl(crawl.process, grace=0)
                    if code != 0:
                        finish_abandoned(services, crawl.run_id, "failed", f"crawl process exited with code {code}")
                    running.remove(crawl)
            if on_progress is not None:
                with services.sessions() as session:
                    on_progress(latest_runs(session, list(runs.values())))
    finally:
        for process in prestarted.values():  # not handed a run (an error above): nothing to crawl
            kill_crawl(process, grace=0)
    with services.sessions() as session:
        return latest_runs(session, list(runs.values()))
