"""The crawl supervisor: starting, watching and stopping crawl processes, and closing their runs.

Twisted's reactor cannot restart and a browser crash must not take the service down, so every
crawl `(site, run id)` runs in a fresh child process (`vaern crawl-site SITE --run-id N`) in a
process group of its own, so that a kill takes its browser too. The run row is the parent's: the
child fills it in; the supervisor closes it when the child cannot (it died, was killed, or said
nothing). Nothing here assumes the crawl ran on this machine beyond the process handle: progress
is read back from the run row.

One interface for every caller:
- `vaern crawl` (app.crawl_pass): `Supervisor.crawl_all`, with processes started ahead
  (`prestart_crawls`) and an interruption (Ctrl-C, or SIGTERM raised as `KeyboardInterrupt`)
  passed on to the crawls, then `CrawlInterrupted` with the runs as they stand;
- `vaern run` (scheduler.py) and `vaern worker` (worker.py): `Supervisor.crawl`, one crawl in the
  calling thread, and `Supervisor.stop` when the service stops.

Controlled by `crawl.max_parallel_sites` (crawl_all) and `crawl.timeout` (every crawl).

The module imports no database code at import time, so that `vaern crawl` can start its crawl
processes first thing, before it loads SQLAlchemy and opens the database.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psutil

from vaern.config import Config

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from vaern.storage.tables import CrawlRunRow

log = logging.getLogger("vaern.supervisor")

POLL_SECONDS = 0.2  # how often crawl_all reports progress
STOP_GRACE = 10.0  # seconds a stopped crawl gets to save the page in hand and end its run
KILL_GRACE = 5.0  # seconds between SIGTERM and SIGKILL when a crawl overran its timeout
REAP_SECONDS = 3.0  # how long kill_crawl keeps reaping browsers that outlive their crawl

# Starts one crawl run `(site, run id)` as a child process in a session (process group) of its own.
StartCrawl = Callable[[Config, str, int], subprocess.Popen[bytes]]


# ---------------------------------------------------------------------------------------------
# One crawl process


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
    """Give a prestarted crawl process its run. If it died meanwhile, its exit code tells the supervisor."""
    assert process.stdin is not None
    log.debug("crawl process %d gets run %d", process.pid, run_id)
    try:
        process.stdin.write(f"{run_id}\n".encode())
        process.stdin.close()
    except OSError:  # BrokenPipeError: it exited before reading
        pass


def kill_crawl(process: subprocess.Popen[bytes], grace: float = KILL_GRACE) -> None:
    """Stop a crawl and everything it started: SIGTERM to its process group, up to `grace` seconds,
    then SIGKILL to the group and every descendant.

    Playwright starts Chromium in a process group of its own, so the group kill does not reach
    it; it is a descendant (killed here) or, if its driver died first, found by its marker
    (crawler/browser.py) and reaped.
    """
    try:
        descendants = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    try:
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        _signal_group(process, signal.SIGKILL)
        for child in descendants:
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            log.error("event=crawl.unkillable pid=%d", process.pid)
        psutil.wait_procs(descendants, timeout=5)
    finally:
        from vaern.crawler.browser import orphaned_browsers, reap_orphaned_browsers

        reap_orphaned_browsers()
        # A Chromium still starting up when its crawl died can show up just after the reap.
        deadline = time.monotonic() + REAP_SECONDS
        while time.monotonic() < deadline and orphaned_browsers():
            time.sleep(0.1)
            reap_orphaned_browsers()


def exit_with_supervisor(every: float = 1.0) -> None:
    """In a crawl process: end it, with its process group (its browser), when the process that
    supervises it is gone. A supervisor that is SIGKILLed (a `vaern worker` on a machine that
    is shut down hard) cannot stop its crawls; without this they would go on crawling beside the
    retry of their job, writing to a run already closed as abandoned."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        log.warning("event=crawl.orphaned reason=supervisor_gone parent=%d", parent)
        os.killpg(os.getpgid(0), signal.SIGKILL)

    threading.Thread(target=watch, name="vaern-supervisor-watch", daemon=True).start()


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    """Signal the child's process group (it was started in a session of its own)."""
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


# ---------------------------------------------------------------------------------------------
# Runs


def open_run(
    sessions: sessionmaker[Session], site_id: str, *, job_id: int | None = None, worker: str | None = None,
    kind: str = "full",
) -> int:
    """A new run row for `site_id`: the parent's, filled in by the child. A queued crawl's run
    names its job and worker; an earlier attempt of the same job still open is closed here: the
    job is only run again when the worker of that attempt stopped (queue: postgres)."""
    from vaern.clock import utcnow
    from vaern.storage.db import transaction
    from vaern.storage.queries import new_run
    from vaern.storage.tables import CrawlRunRow

    with transaction(sessions) as session:
        run_id = new_run(session, site_id, kind)
        if job_id is None:
            return run_id
        run = session.get(CrawlRunRow, run_id)
        assert run is not None
        run.job_id, run.worker = job_id, worker
        for earlier in session.query(CrawlRunRow).filter(
            CrawlRunRow.job_id == job_id, CrawlRunRow.id != run_id, CrawlRunRow.finished_at.is_(None)
        ):
            earlier.status, earlier.finished_at = "abandoned", utcnow()
            earlier.error = (
                f"its worker ({earlier.worker}) stopped during the crawl; run {run_id} crawls the site again"
            )
        return run_id


def finish_abandoned(
    sessions: sessionmaker[Session], run_id: int, status: str, error: str, *, overrule: bool = False
) -> CrawlRunRow | None:
    """A child that died or was killed cannot mark its own run; the parent does. Returns the run
    as it stands after (read in the same transaction: a queued job's end waits on this).

    With `overrule`, the parent's word stands even where the child managed to mark its run in
    its grace period: a crawl stopped for running too long did not finish, whatever it wrote.
    """
    from vaern.clock import utcnow
    from vaern.storage.db import transaction
    from vaern.storage.tables import CrawlRunRow

    with transaction(sessions) as session:
        run = session.get(CrawlRunRow, run_id)
        if run is None:
            return None
        if run.finished_at is None:
            run.status, run.error, run.finished_at = status, error, utcnow()
        elif overrule:
            run.status, run.error = status, error
    return run


def read_runs(sessions: sessionmaker[Session], run_ids: Sequence[int]) -> list[CrawlRunRow]:
    from vaern.storage.queries import latest_runs

    with sessions() as session:
        return latest_runs(session, list(run_ids))


class CrawlInterrupted(Exception):
    """The crawls were stopped by a signal; `runs` are their rows after stopping."""

    def __init__(self, runs: list[CrawlRunRow], signal_name: str) -> None:
        self.runs = runs
        self.signal_name = signal_name
        super().__init__(f"interrupted by {signal_name}")


@dataclass(frozen=True)
class CrawlOutcome:
    site_id: str
    run_id: int | None
    status: str  # ok | failed | killed | stopped | skipped; queued (queue: postgres, scheduler.py)
    seconds: float
    exit_code: int | None = None


@dataclass
class _Running:
    site_id: str
    run_id: int
    process: subprocess.Popen[bytes]


# ---------------------------------------------------------------------------------------------
# The supervisor


class Supervisor:
    """Runs crawls as child processes for one config; safe to use from several threads.

    `start` makes the child process for a run (tests give stand-ins); `kill_grace` is how long
    a crawl past `crawl.timeout` gets between SIGTERM and SIGKILL.
    """

    def __init__(
        self,
        config: Config,
        sessions: sessionmaker[Session],
        *,
        start: StartCrawl = start_crawl_process,
        kill_grace: float = KILL_GRACE,
    ) -> None:
        self.config = config
        self.sessions = sessions
        self.start = start
        self.kill_grace = kill_grace
        self.timeout = config.crawl.timeout.total_seconds()
        self._running: dict[int, _Running] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def running_runs(self) -> list[int]:
        with self._lock:
            return list(self._running)

    def crawling(self, site_id: str) -> bool:
        """Is a crawl (full or feed) of `site_id` running in this supervisor?"""
        with self._lock:
            return any(r.site_id == site_id for r in self._running.values())

    def crawl(
        self,
        site_id: str,
        *,
        run_id: int | None = None,
        process: subprocess.Popen[bytes] | None = None,
        job_id: int | None = None,
        worker: str | None = None,
        kind: str = "full",
    ) -> CrawlOutcome:
        """One crawl of `site_id`, in this thread: open its run (unless given; for a queued job,
        naming the job and the worker; `kind` "feed" for a poll of the site's feeds), start its
        process (unless one started ahead is given; it is handed the run), wait for it, enforcing
        `crawl.timeout`, and close the run if the child did not."""
        if self.stopping:
            if process is not None:
                kill_crawl(process, grace=0)
            if run_id is not None:
                finish_abandoned(self.sessions, run_id, "stopped", "interrupted before it started")
            return CrawlOutcome(site_id, run_id, "skipped", 0.0)
        began = time.monotonic()
        if run_id is None:
            run_id = open_run(self.sessions, site_id, job_id=job_id, worker=worker, kind=kind)
        log.info("event=crawl.started site=%s run=%d kind=%s", site_id, run_id, kind)
        try:
            if process is None:
                process = self.start(self.config, site_id, run_id)
            elif process.stdin is not None:
                hand_over(process, run_id)
        except Exception as exc:
            log.exception("event=crawl.failed site=%s run=%d reason=cannot_start", site_id, run_id)
            error = f"the crawl process could not start: {type(exc).__name__}"
            finish_abandoned(self.sessions, run_id, "failed", error)
            return CrawlOutcome(site_id, run_id, "failed", 0.0)
        entry = _Running(site_id, run_id, process)
        with self._lock:
            self._running[run_id] = entry
        try:
            status = self._wait(entry)
        finally:
            with self._lock:
                self._running.pop(run_id, None)
        return self._finish(entry, status, time.monotonic() - began)

    def _wait(self, entry: _Running) -> str:
        """Wait for the crawl to exit (ok, failed, or stopped if `stop` was called) or overrun
        its timeout (killed); whatever the exit, nothing it started outlives it."""
        try:
            code = entry.process.wait(self.timeout)
        except subprocess.TimeoutExpired:
            log.warning(
                "event=crawl.timeout site=%s run=%d pid=%d timeout=%s",
                entry.site_id, entry.run_id, entry.process.pid, self.config.crawl.timeout,
            )
            kill_crawl(entry.process, self.kill_grace)
            return "killed"
        kill_crawl(entry.process, grace=0)  # a browser left in its group
        return "stopped" if self.stopping else "ok" if code == 0 else "failed"

    def _finish(self, entry: _Running, status: str, seconds: float) -> CrawlOutcome:
        code = entry.process.returncode
        # One transaction closes the run if the child did not and reads it for the log: one
        # round of the database per crawl, not two, in what a queued job spends after its crawl.
        if status == "killed":
            error = f"killed after it exceeded crawl.timeout ({self.config.crawl.timeout})"
            run = finish_abandoned(self.sessions, entry.run_id, "killed", error, overrule=True)
        elif status == "stopped":
            run = finish_abandoned(self.sessions, entry.run_id, "stopped",
                                   "interrupted; stopped before it ended its run; the pages it reached are saved")
        elif status == "failed":
            run = finish_abandoned(self.sessions, entry.run_id, "failed", f"the crawl process exited with code {code}")
        else:
            error = "the crawl process ended without recording its result"
            run = finish_abandoned(self.sessions, entry.run_id, "failed", error)
        log.log(
            logging.INFO if status == "ok" else logging.WARNING,
            "event=crawl.finished site=%s run=%d status=%s seconds=%.3f exit=%s pages=%d unchanged=%d "
            "failed_pages=%d hits_new=%d hits_seen=%d",
            entry.site_id, entry.run_id, run.status if run is not None else status, seconds, code,
            run.pages_fetched if run else 0, run.pages_unchanged if run else 0, run.pages_failed if run else 0,
            run.hits_new if run else 0, run.hits_seen if run else 0,
        )
        return CrawlOutcome(entry.site_id, entry.run_id, status, seconds, code)

    def stop(self, grace: float = STOP_GRACE) -> None:
        """Pass a stop on: no new crawls; SIGTERM to every running crawl's process group, up to
        `grace` seconds for them to save the page in hand and end their runs, then kill what is
        left. Every run ends finished, so `vaern status` never shows a crawl that is no longer
        running as "crawling now". The threads waiting in `crawl` then return."""
        self._stopping.set()
        with self._lock:
            running = list(self._running.values())
        for entry in running:
            log.info("event=crawl.stopping site=%s run=%d pid=%d", entry.site_id, entry.run_id, entry.process.pid)
            _signal_group(entry.process, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for entry in running:
            try:
                entry.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("event=crawl.killed site=%s run=%d reason=stop grace=%.0f",
                            entry.site_id, entry.run_id, grace)
                # Closed first, so the waiting thread finds it closed with the reason.
                finish_abandoned(self.sessions, entry.run_id, "stopped",
                                 f"interrupted; killed after {grace:.0f} s; the pages it reached are saved")
                kill_crawl(entry.process, grace=0)

    def crawl_all(
        self,
        site_ids: Sequence[str],
        on_progress: Callable[[list[CrawlRunRow]], None] | None = None,
        prestarted: dict[str, subprocess.Popen[bytes]] | None = None,
        stop_grace: float = STOP_GRACE,
    ) -> list[CrawlRunRow]:
        """Crawl the sites now, at most `crawl.max_parallel_sites` at a time; return their runs.

        Every run is opened (queued) first, so progress shows them all. `prestarted` holds
        processes from `prestart_crawls`, used for their sites. An interruption is passed on
        (`stop`), then raised as `CrawlInterrupted`."""
        prestarted = dict(prestarted or {})
        handed: dict[str, subprocess.Popen[bytes]] = {}
        runs: dict[str, int] = {}
        pool = ThreadPoolExecutor(max_workers=max(1, self.config.crawl.max_parallel_sites), thread_name_prefix="crawl")
        futures: list[Future[CrawlOutcome]] = []
        try:
            for site_id in site_ids:
                runs[site_id] = open_run(self.sessions, site_id)
            handed = {s: prestarted.pop(s) for s in site_ids if s in prestarted}
            futures = [
                pool.submit(self.crawl, site_id, run_id=runs[site_id], process=handed.get(site_id))
                for site_id in site_ids
            ]
            while True:
                done, pending = wait_futures(futures, timeout=POLL_SECONDS)
                if on_progress is not None:
                    on_progress(read_runs(self.sessions, list(runs.values())))
                if not pending:
                    break
            for future in futures:
                future.result()  # an error in a crawl's thread is raised here
        except KeyboardInterrupt as exc:
            self._interrupted(pool, stop_grace)
            raise CrawlInterrupted(read_runs(self.sessions, list(runs.values())), str(exc) or "SIGINT") from None
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            for process in prestarted.values():  # never handed a run (an error above): nothing to crawl
                kill_crawl(process, grace=0)
            for site_id, future in zip(site_ids, futures, strict=False):
                if future.cancelled():
                    if site_id in handed:
                        kill_crawl(handed[site_id], grace=0)
                    finish_abandoned(self.sessions, runs[site_id], "stopped", "interrupted before it started")
        return read_runs(self.sessions, list(runs.values()))

    def _interrupted(self, pool: ThreadPoolExecutor, grace: float) -> None:
        # A second Ctrl-C while we wait must not leave children behind: ignore it until they are gone.
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            self.stop(grace)
            pool.shutdown(wait=True, cancel_futures=True)
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)

    def close_stale_runs(self, older_than: float) -> int:
        """Runs left open longer than `older_than` seconds by a supervisor that died: nothing can
        still be working on them (a crawl is killed after `crawl.timeout`). Returns how many."""
        from datetime import timedelta

        from sqlalchemy import update

        from vaern.clock import utcnow
        from vaern.storage.db import transaction
        from vaern.storage.tables import CrawlRunRow

        cutoff = utcnow() - timedelta(seconds=older_than)
        with transaction(self.sessions) as session:
            result = session.execute(
                update(CrawlRunRow)
                .where(CrawlRunRow.finished_at.is_(None), CrawlRunRow.started_at < cutoff)
                .values(status="failed", finished_at=utcnow(), error="the service stopped during the crawl")
            )
            return int(getattr(result, "rowcount", 0) or 0)
