"""The local runner: each crawl `(site, run id)` runs in a child process of its own.

Twisted's reactor cannot restart and a browser crash must not take the service down, so every
crawl gets a fresh process (`vaern crawl-site SITE --run-id N`). The parent creates the run row,
starts the child (crawlprocess.py) and reads progress back from that row: nothing here assumes
the crawl ran on this machine beyond the process handle, which is the seam a job queue would
replace.
Controlled by `crawl.max_parallel_sites` and `crawl.timeout`.

Interrupted (Ctrl-C, or SIGTERM turned into `KeyboardInterrupt` by `vaern crawl`), the runner
passes the signal on: every running crawl gets SIGTERM and `STOP_GRACE` seconds to save the page
in hand and end its run, then is killed; crawls not yet started are marked stopped. It then
raises `CrawlInterrupted` with the runs as they stand, so the caller can say what was saved.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from vaern.clock import utcnow
from vaern.config import Config
from vaern.crawlprocess import hand_over, kill_crawl, start_crawl_process
from vaern.storage.db import transaction
from vaern.storage.queries import latest_runs, new_run
from vaern.storage.tables import CrawlRunRow

log = logging.getLogger("vaern.runner")

POLL_SECONDS = 0.2
STOP_GRACE = 10.0  # seconds an interrupted crawl gets to end its run before it is killed


class CrawlInterrupted(Exception):
    """The crawls were stopped by a signal; `runs` are their rows after stopping."""

    def __init__(self, runs: list[CrawlRunRow], signal_name: str) -> None:
        self.runs = runs
        self.signal_name = signal_name
        super().__init__(f"interrupted by {signal_name}")


@dataclass
class RunningCrawl:
    site_id: str
    run_id: int
    process: subprocess.Popen[bytes]
    started: float


def finish_abandoned(
    sessions: sessionmaker[Session], run_id: int, status: str, error: str, *, overrule: bool = False
) -> None:
    """A child that died or was killed cannot mark its own run; the parent does.

    With `overrule`, the parent's word stands even where the child managed to mark its run in
    its grace period: a crawl stopped for running too long did not finish, whatever it wrote.
    """
    with transaction(sessions) as session:
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
    config: Config,
    sessions: sessionmaker[Session],
    site_ids: Sequence[str],
    on_progress: Callable[[list[CrawlRunRow]], None] | None = None,
    prestarted: dict[str, subprocess.Popen[bytes]] | None = None,
) -> list[CrawlRunRow]:
    """Crawl the sites, at most `crawl.max_parallel_sites` at a time; return their finished runs.

    `prestarted` holds processes from `prestart_crawls`, used for their sites."""
    prestarted = dict(prestarted or {})
    limit = config.crawl.max_parallel_sites
    timeout = config.crawl.timeout.total_seconds()
    runs: dict[str, int] = {}
    running: list[RunningCrawl] = []
    try:
        waiting = list(site_ids)
        for site_id in site_ids:
            runs[site_id] = _queue_run(sessions, site_id)
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
                    finish_abandoned(sessions, crawl.run_id, "killed", error, overrule=True)
                    running.remove(crawl)
                elif code is not None:
                    log.debug("crawl process %d of site %s exited with code %d", crawl.process.pid, crawl.site_id, code)
                    # Reap any browser the child left in its group, whatever its exit.
                    kill_crawl(crawl.process, grace=0)
                    if code != 0:
                        finish_abandoned(sessions, crawl.run_id, "failed", f"crawl process exited with code {code}")
                    running.remove(crawl)
            if on_progress is not None:
                with sessions() as session:
                    on_progress(latest_runs(session, list(runs.values())))
    except KeyboardInterrupt as exc:
        stop_crawls(sessions, running, runs, prestarted)
        prestarted.clear()
        with sessions() as session:
            stopped = latest_runs(session, list(runs.values()))
        raise CrawlInterrupted(stopped, str(exc) or "SIGINT") from None
    finally:
        for process in prestarted.values():  # not handed a run (an error above): nothing to crawl
            kill_crawl(process, grace=0)
    with sessions() as session:
        return latest_runs(session, list(runs.values()))


def stop_crawls(
    sessions: sessionmaker[Session],
    running: list[RunningCrawl],
    runs: dict[str, int],
    prestarted: dict[str, subprocess.Popen[bytes]],
    grace: float = STOP_GRACE,
) -> None:
    """Pass an interruption on: SIGTERM to every running crawl's process group, up to `grace`
    seconds for them to end their runs, then kill what is left. Every run ends up finished, so
    `vaern status` never shows a crawl that is no longer running as "crawling now"."""
    # A second Ctrl-C while we wait must not leave children behind: ignore it until they are gone.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        for process in prestarted.values():
            kill_crawl(process, grace=0)
        for crawl in running:
            try:
                os.killpg(crawl.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        for crawl in running:
            try:
                crawl.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("crawl of %s did not stop within %.0f s; killing it", crawl.site_id, grace)
            kill_crawl(crawl.process, grace=0)
            finish_abandoned(
                sessions, crawl.run_id, "stopped",
                f"interrupted; killed after {grace:.0f} s; the pages it reached are saved",
            )
        active = {c.run_id for c in running}
        for run_id in runs.values():
            if run_id not in active:
                finish_abandoned(sessions, run_id, "stopped", "interrupted before it started")
    finally:
        signal.signal(signal.SIGINT, previous)


def _queue_run(sessions: sessionmaker[Session], site_id: str) -> int:
    with transaction(sessions) as session:
        return new_run(session, site_id)
