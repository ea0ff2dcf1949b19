"""`vaern worker`: runs queued crawls (`queue: postgres`) on this machine, any number of machines.

1. open the shared PostgreSQL database (migrating it if this worker is the first to start) and
   create the queue's tables if they are missing (crawlqueue.ensure_schema);
2. take crawl jobs, at most `--concurrency` (default `crawl.max_parallel_sites`) at once, each
   run through the crawl supervisor as `vaern run` does on one machine: a child process per
   crawl, `crawl.timeout`, its browser reaped; the run names the job and this worker;
3. on SIGTERM or SIGINT take no new job, let the running crawls finish, then exit.

A worker that dies (power, SIGKILL) stops sending heartbeats; `vaern run` puts its crawls back in
the queue and another worker runs them (crawlqueue.py). Alerts are not sent from here: the crawl
writes them to the outbox, and `vaern run` on the control node delivers them.
"""

from __future__ import annotations

import logging
import os
import socket

from vaern.config import Config

log = logging.getLogger("vaern.worker")


def default_name() -> str:
    """This machine's name and the process id: unique among the workers, readable in the runs."""
    return f"{socket.gethostname()}-{os.getpid()}"


def run_worker(config: Config, *, concurrency: int | None = None, name: str | None = None) -> int:
    """`vaern worker`: work the crawl queue until stopped. Returns the exit code."""
    from vaern import crawlqueue
    from vaern.app import open_services
    from vaern.scheduler import setup_logging
    from vaern.supervisor import Supervisor

    setup_logging()
    # 1.
    with crawlqueue.setup_lock(config):
        services = open_services(config)
        crawlqueue.ensure_schema(config)
    try:
        # 2., 3.
        name = name or default_name()
        concurrency = concurrency or config.crawl.max_parallel_sites
        log.info("event=worker.started name=%s concurrency=%d pid=%d", name, concurrency, os.getpid())
        crawlqueue.run_worker(config, Supervisor(config, services.sessions), concurrency=concurrency, name=name)
        log.info("event=worker.stopped name=%s", name)
        return 0
    finally:
        services.engine.dispose()
