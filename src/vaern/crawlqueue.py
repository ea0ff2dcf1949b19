"""The crawl queue (`queue: postgres`): crawls as jobs in PostgreSQL, run by `vaern worker`s.

Procrastinate keeps the jobs in the same PostgreSQL database as everything else, so a set-up with
many machines needs no other server. A job is one site's whole crawl, `crawl_site(site_id)`:

- `vaern run` (the control node) queues a site's job when its schedule says (scheduler.py); the
  job's queueing lock `site:ID` keeps at most one job of a site waiting, so a control node that
  restarts, or a slow site, never piles up jobs;
- its lock `site:ID` lets at most one job of a site run at a time, across all machines;
- a `vaern worker` takes jobs and runs each through the crawl supervisor (supervisor.py), exactly
  as `vaern run` does on one machine: a child process, `crawl.timeout`, its browser reaped;
- workers send heartbeats; the control node puts the job of a worker silent for
  `STALLED_SECONDS` back in the queue (`retry_stalled`). Delivery is therefore at least once: the
  retried job gets a new run, the dead worker's run is closed as abandoned (supervisor.open_run),
  and hits (one per person and page) and alerts (one per hit, recipient, kind and round) have
  unique keys, so a crawl done twice alerts no one twice.

Controlled by `queue`, `database`, `crawl.timeout` and `crawl.max_parallel_sites` (the default
number of crawls a worker runs at once; `vaern worker --concurrency N` overrides it).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy import make_url

from vaern.config import Config

if TYPE_CHECKING:
    from vaern.supervisor import Supervisor

log = logging.getLogger("vaern.queue")

QUEUE = "crawls"
TASK = "vaern.crawl_site"
HEARTBEAT_SECONDS = 5.0  # how often a worker says it is alive
STALLED_SECONDS = 20.0  # a worker silent this long is gone: its jobs are queued again
SETUP_LOCK = 0x7661_6572  # advisory lock key ("vaer"): one node at a time sets the database up

T = TypeVar("T")


def conninfo(database: str) -> str:
    """The libpq connection string of the config's SQLAlchemy URL (password included)."""
    return make_url(database).set(drivername="postgresql").render_as_string(hide_password=False)


def site_lock(site_id: str) -> str:
    return f"site:{site_id}"


def make_app(config: Config) -> procrastinate.App:
    """The Procrastinate app for the config's database, with the crawl task registered."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(config.database)))

    @app.task(name=TASK, queue=QUEUE, pass_context=True)
    def crawl_site(context: procrastinate.JobContext, site_id: str, kind: str = "full") -> str:
        supervisor: Supervisor = context.additional_context["supervisor"]
        outcome = supervisor.crawl(site_id, job_id=context.job.id, worker=context.worker_name, kind=kind)
        return outcome.status

    return app


@contextmanager
def setup_lock(config: Config) -> Iterator[None]:
    """Held while a node migrates the shared database, mirrors the config into it and creates the
    queue's tables: nodes starting together take turns (a PostgreSQL advisory lock)."""
    import psycopg

    with psycopg.connect(conninfo(config.database), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SETUP_LOCK,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK,))


def ensure_schema(config: Config) -> bool:
    """Create the queue's tables if they are missing; True if made. Call it under `setup_lock`."""
    import psycopg
    from procrastinate.schema import SchemaManager

    with psycopg.connect(conninfo(config.database), autocommit=True) as conn:
        row = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
        if row is not None and row[0] is not None:
            return False
        conn.execute(SchemaManager.get_schema())
    log.info("event=queue.schema_created")
    return True


class QueueClient:
    """The control node's side of the queue, for threads: queue crawls, requeue stalled jobs.

    Procrastinate's connector is asyncio; it lives on a loop in a thread of its own, opened once,
    and the blocking methods here hand their work to that loop."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.app = make_app(config)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="vaern-queue", daemon=True)
        self._thread.start()
        try:
            self._call(self._open())
        except BaseException:
            self._stop_loop()
            raise

    async def _open(self) -> None:
        await self.app.open_async()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def defer_crawl(self, site_id: str, kind: str = "full") -> int | None:
        """Queue a crawl of `site_id` (`kind` "feed": a poll of its feeds); the job's id, or None
        when one of that kind is already waiting. Both kinds share the site's lock: they never run
        at the same time."""
        lock = site_lock(site_id)
        waiting = lock if kind == "full" else f"{lock}:{kind}"
        deferrer = self.app.configure_task(TASK, lock=lock, queueing_lock=waiting)
        args: dict[str, Any] = {"site_id": site_id} if kind == "full" else {"site_id": site_id, "kind": kind}
        try:
            job_id = self._call(deferrer.defer_async(**args))
        except AlreadyEnqueued:
            log.info("event=crawl.already_queued site=%s", site_id)
            return None
        log.info("event=crawl.queued site=%s job=%d", site_id, job_id)
        return job_id

    def retry_stalled(self, seconds_since_heartbeat: float = STALLED_SECONDS) -> list[int]:
        """Put the crawls of workers silent for `seconds_since_heartbeat` back in the queue."""

        async def retry() -> list[int]:
            manager = self.app.job_manager
            stalled = list(
                await manager.get_stalled_jobs(queue=QUEUE, seconds_since_heartbeat=seconds_since_heartbeat)
            )
            for job in stalled:
                await manager.retry_job(job)
            return [job.id for job in stalled if job.id is not None]

        retried = self._call(retry())
        for job_id in retried:
            log.warning("event=crawl.requeued job=%d reason=worker_silent", job_id)
        return retried

    def close(self) -> None:
        try:
            self._call(self.app.close_async())
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def run_worker(config: Config, supervisor: Supervisor, *, concurrency: int, name: str) -> None:
    """Take crawl jobs until SIGTERM/SIGINT, at most `concurrency` at once. On a stop signal the
    worker takes no new job and lets its running crawls finish (they end within `crawl.timeout`)."""
    app = make_app(config)
    app.run_worker(
        queues=[QUEUE],
        concurrency=concurrency,
        name=name,
        wait=True,
        additional_context={"supervisor": supervisor},
        update_heartbeat_interval=HEARTBEAT_SECONDS,
        stalled_worker_timeout=STALLED_SECONDS,
        delete_jobs="never",
        install_signal_handlers=True,
    )
