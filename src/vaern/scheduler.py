"""`vaern run`: the long-running service. Scheduled crawls, alert delivery, digest, retention.

1. Each site is crawled on its `schedule` (interval like 30m, or 5-field cron, in `timezone`),
   with a little jitter so sites sharing a schedule do not start in the same second.
   Each site's feeds (`sites[].feeds`) are polled every `feeds.every` (2 min by default) in a
   feed run of their own: new entries are crawled at once through the normal pipeline
   (app.py `poll_feeds`), and the dispatcher is woken so their alerts go without delay. A feed
   run is skipped while a crawl of the site is running.
2. At most one crawl per site at a time (`max_instances=1`), at most `crawl.max_parallel_sites`
   at once (the size of the crawl thread pool); each crawl is a child process in its own
   process group, started and watched by the crawl supervisor (supervisor.py), killed with
   everything it started (the browser too) after `crawl.timeout`.
3. The schedule lives in the database (APScheduler's SQLAlchemy job store, table
   `apscheduler_jobs`): after a restart a site that was due while the service was down runs
   once (coalesced), not once per missed slot; unchanged jobs keep their next run time.
4. A dispatcher thread sends the outbox every `alerts.dispatch_every` (and right after a crawl)
   and queues reminders; the digest runs daily at `alerts.digest_at`, retention at `retention.at`.
5. With `queue: postgres` this is the control node: a site's crawl, when due, is queued
   (crawlqueue.py) for the `vaern worker`s instead of run here, and every `STALLED_SECONDS / 2`
   the crawls of workers that stopped sending heartbeats are queued again. The schedule, the
   dispatcher, the digest and retention stay here. A restarted control node queues nothing twice:
   the schedule is coalesced and a site has at most one waiting job (its queueing lock).
6. SIGTERM (or SIGINT) stops gracefully: no new crawls; running crawls get SIGTERM and
   `STOP_GRACE` seconds to finish their current page; the dispatcher finishes the message it is
   sending; nothing is left half-written (hits and alerts are written in transactions).

Logs are one line per event, `key=value` (event, site, run, counts, seconds).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from vaern import clock
from vaern.alerts import deliver, queue_digest, queue_reminders
from vaern.config import Config, Site
from vaern.config.schedules import parse_interval, schedule_trigger
from vaern.storage.feeds import worth_polling
from vaern.storage.tables import SchedulerJobRow
from vaern.supervisor import KILL_GRACE, CrawlOutcome, StartCrawl, Supervisor, start_crawl_process

if TYPE_CHECKING:
    from vaern.crawlqueue import QueueClient

log = logging.getLogger("vaern.service")

JOB_TABLE = SchedulerJobRow.__tablename__  # the job store is a table of ours: migrations own it
STOP_GRACE = 30.0  # seconds a crawl gets to finish after SIGTERM before it is killed


# ---------------------------------------------------------------------------------------------
# Triggers


def jitter_for(site: Site) -> int:
    """Seconds of random delay: a tenth of an interval, at most five minutes; a minute for cron."""
    if len(site.schedule.split()) == 5:
        return 60
    return int(min(300, parse_interval(site.schedule).total_seconds() * 0.1))


def site_trigger(site: Site, timezone: str) -> BaseTrigger:
    """The site's `schedule` as an APScheduler trigger in the config's time zone, with jitter."""
    trigger = schedule_trigger(site.schedule, timezone)
    trigger.jitter = jitter_for(site)
    return trigger


def daily_trigger(at: str, timezone: str) -> CronTrigger:
    hour, minute = at.split(":")
    return CronTrigger(hour=int(hour), minute=int(minute), timezone=ZoneInfo(timezone))


class _ClockTime:
    """What APScheduler 3's scheduler module calls `datetime`. It only asks it `now(tz)`: when
    jobs are due, their first run, and how long to sleep. Answered from our clock, schedules run
    on the same time as the rows they touch (a clock set by a test included). Triggers are given
    that time; executors read the time only for misfire grace, which we do not use."""

    @staticmethod
    def now(tz: tzinfo | None = None) -> datetime:
        return clock.now().astimezone(tz)


class _Scheduler(BackgroundScheduler):  # type: ignore[misc]
    """APScheduler 3's loop can look for due jobs once more after `shutdown()` has begun (it only
    skips while *paused*); a job found then is lost to its shut-down executor, yet its next run
    time moves on. Process jobs only while running. Its time is our clock (`_ClockTime`)."""

    def __init__(self, **options: Any) -> None:
        import apscheduler.schedulers.base

        apscheduler.schedulers.base.datetime = _ClockTime
        super().__init__(**options)

    def _process_jobs(self) -> float | None:
        if self.state != STATE_RUNNING:
            return None
        wait: float | None = super()._process_jobs()
        return wait


# ---------------------------------------------------------------------------------------------
# Job entry points: referenced by name in the persistent job store, so they must be module-level
# functions; they act on the service running in this process.

_ACTIVE: Service | None = None


def crawl_job(site_id: str) -> None:
    if _ACTIVE is not None:
        _ACTIVE.crawl(site_id)


def feeds_job(site_id: str) -> None:
    if _ACTIVE is not None:
        _ACTIVE.poll_feeds(site_id)


def digest_job() -> None:
    if _ACTIVE is not None:
        _ACTIVE.digest()


def retention_job() -> None:
    if _ACTIVE is not None:
        _ACTIVE.retention()


def timestamps_job() -> None:
    if _ACTIVE is not None:
        _ACTIVE.timestamps()


def discovery_job() -> None:
    if _ACTIVE is not None:
        _ACTIVE.discovery()


def stalled_job() -> None:
    if _ACTIVE is not None:
        _ACTIVE.requeue_stalled()


class Service:
    """The scheduler, the dispatcher and the children they start, for one config."""

    def __init__(
        self,
        config: Config,
        engine: Engine,
        sessions: sessionmaker[Session],
        *,
        runner: StartCrawl = start_crawl_process,
        stop_grace: float = STOP_GRACE,
        kill_grace: float = KILL_GRACE,
    ) -> None:
        self.config = config
        self.engine = engine
        self.sessions = sessions
        self.runner = runner
        self.stop_grace = stop_grace
        # `runner` may be replaced after construction (tests do): looked up at each start.
        self.supervisor = Supervisor(
            config, sessions, start=lambda c, site, run: self.runner(c, site, run), kill_grace=kill_grace
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._dispatcher: threading.Thread | None = None
        self.scheduler: BackgroundScheduler | None = None
        self.queue: QueueClient | None = None  # queue: postgres

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        global _ACTIVE
        if _ACTIVE is not None and _ACTIVE is not self:
            raise RuntimeError("one service per process")
        _ACTIVE = self
        self._close_stale_runs()
        if self.config.queue == "postgres":
            from vaern.crawlqueue import QueueClient, ensure_schema, setup_lock

            with setup_lock(self.config):
                ensure_schema(self.config)
            self.queue = QueueClient(self.config)
        tz = ZoneInfo(self.config.timezone)
        scheduler = _Scheduler(
            timezone=tz,
            jobstores={"default": SQLAlchemyJobStore(engine=self.engine, tablename=JOB_TABLE)},
            executors={
                "crawls": ThreadPoolExecutor(max_workers=self.config.crawl.max_parallel_sites),
                # Feed polls have their own pool: a long full crawl never holds up a site's feeds.
                "feeds": ThreadPoolExecutor(max_workers=self.config.crawl.max_parallel_sites),
                "default": ThreadPoolExecutor(max_workers=2),
            },
            # Coalesce: after downtime, run once. No grace limit: a late crawl still runs.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        # Paused until the stored jobs are reconciled with the config, so nothing fires early.
        scheduler.start(paused=True)
        self.scheduler = scheduler
        self._sync_jobs()
        self._dispatcher = threading.Thread(target=self._dispatch_loop, name="vaern-dispatcher", daemon=True)
        self._dispatcher.start()
        scheduler.resume()
        log.info(
            "event=service.started sites=%d max_parallel_sites=%d pid=%d",
            len(self.config.sites),
            self.config.crawl.max_parallel_sites,
            os.getpid(),
        )

    def run(self) -> int:
        """Start, then block until SIGTERM/SIGINT; stop gracefully. Returns the exit code."""

        def on_signal(signum: int, _frame: Any) -> None:
            log.info("event=service.signal signal=%s", signal.Signals(signum).name)
            self._stop.set()
            self._wake.set()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            while not self._stop.wait(1.0):
                pass
        finally:
            self.stop()
            for s, handler in previous.items():
                signal.signal(s, handler)
        return 0

    def stop(self) -> None:
        """Stop scheduling, let running crawls finish (then kill), stop the dispatcher."""
        global _ACTIVE
        self._stop.set()
        self._wake.set()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.pause()
        self.supervisor.stop(self.stop_grace)
        if self._dispatcher is not None:
            self._dispatcher.join()
            self._dispatcher = None
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.scheduler = None
        if self.queue is not None:
            self.queue.close()
            self.queue = None
        if _ACTIVE is self:
            _ACTIVE = None
        log.info("event=service.stopped")

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # --- jobs -----------------------------------------------------------------------------

    def _sync_jobs(self) -> None:
        """Make the stored jobs match the config, keeping the next run time of unchanged ones."""
        assert self.scheduler is not None
        scheduler, config = self.scheduler, self.config
        wanted: dict[str, tuple[str, BaseTrigger, str, tuple[Any, ...], str]] = {}
        for site in config.sites:
            spec = f"crawl {site.id}: {site.schedule} ({config.timezone}, jitter {jitter_for(site)}s)"
            wanted[f"crawl:{site.id}"] = (
                "vaern.scheduler:crawl_job",
                site_trigger(site, config.timezone),
                spec,
                (site.id,),
                "crawls",
            )
            if site.feeds.enabled:
                poll_every = max(1, int(site.feeds.every.total_seconds()))
                wanted[f"feeds:{site.id}"] = (
                    "vaern.scheduler:feeds_job",
                    IntervalTrigger(seconds=poll_every, timezone=UTC),
                    f"feeds of {site.id}: every {site.feeds.every}",
                    (site.id,),
                    "feeds",
                )
        wanted["digest"] = (
            "vaern.scheduler:digest_job",
            daily_trigger(config.alerts.digest_at, config.timezone),
            f"digest daily at {config.alerts.digest_at} ({config.timezone})",
            (),
            "default",
        )
        wanted["retention"] = (
            "vaern.scheduler:retention_job",
            daily_trigger(config.retention.at, config.timezone),
            f"retention daily at {config.retention.at} ({config.timezone})",
            (),
            "default",
        )
        if config.evidence.tsa_urls:
            every = config.evidence.tsa_retry_initial
            wanted["timestamps"] = (
                "vaern.scheduler:timestamps_job",
                IntervalTrigger(seconds=max(1, int(every.total_seconds())), timezone=UTC),
                f"timestamps every {config.evidence.tsa_retry_initial}: owed tokens, the chain head "
                f"(every {config.evidence.anchor_every})",
                (),
                "default",
            )
        if config.discovery.providers:
            every_check = max(1, int(config.discovery.check_every.total_seconds()))
            wanted["discovery"] = (
                "vaern.scheduler:discovery_job",
                IntervalTrigger(seconds=every_check, timezone=UTC),
                f"discovery every {config.discovery.check_every}: each name once per {config.discovery.every} "
                f"per provider, at most {config.discovery.budget_per_day} queries a day",
                (),
                "default",
            )
        if config.queue == "postgres":
            from vaern.crawlqueue import STALLED_SECONDS

            every_stalled = max(1, int(STALLED_SECONDS / 2))
            wanted["stalled"] = (
                "vaern.scheduler:stalled_job",
                IntervalTrigger(seconds=every_stalled, timezone=UTC),
                f"queue again the crawls of workers silent for {STALLED_SECONDS:.0f}s, every {every_stalled}s",
                (),
                "default",
            )
        for job in scheduler.get_jobs():
            if job.id not in wanted:
                log.info("event=schedule.removed job=%s", job.id)
                job.remove()
        now = clock.now().astimezone(ZoneInfo(config.timezone))
        for job_id, (func, trigger, spec, args, executor) in wanted.items():
            existing = scheduler.get_job(job_id)
            if existing is not None and existing.name == spec:
                log.info("event=schedule.kept job=%s next=%s", job_id, clock.iso(existing.next_run_time))
                continue
            if existing is not None:
                existing.remove()
            # A new site is crawled at once; the daily jobs wait for their time of day.
            first = now if job_id.startswith("crawl:") else None
            extra: dict[str, Any] = {"next_run_time": first} if first is not None else {}
            job = scheduler.add_job(
                func,
                trigger,
                args=args,
                id=job_id,
                name=spec,
                executor=executor,
                replace_existing=True,
                **extra,
            )
            log.info("event=schedule.added job=%s next=%s", job_id, clock.iso(job.next_run_time))

    def crawl(self, site_id: str) -> CrawlOutcome:
        """Run one crawl of `site_id` in a child process (the supervisor), then wake the dispatcher;
        with `queue: postgres`, queue it for the workers."""
        if self.stopping:
            return CrawlOutcome(site_id, None, "skipped", 0.0)
        if self.queue is not None:
            job_id = self.queue.defer_crawl(site_id)
            return CrawlOutcome(site_id, None, "queued" if job_id is not None else "skipped", 0.0)
        # A feed run of the site may be under way (a full crawl never is: one job instance):
        # it ends within seconds; the two never read the same pages at once.
        while self.supervisor.crawling(site_id) and not self._stop.wait(0.5):
            pass
        if self.stopping:
            return CrawlOutcome(site_id, None, "skipped", 0.0)
        outcome = self.supervisor.crawl(site_id)
        self._wake.set()  # its alerts can go now
        return outcome

    def poll_feeds(self, site_id: str) -> CrawlOutcome:
        """A feed run of `site_id` (app.py `poll_feeds`): its feeds polled, new entries crawled at
        once, in a child process like any crawl; skipped while a crawl of the site is running.
        With `queue: postgres` it is queued for the workers."""
        if self.stopping or self.supervisor.crawling(site_id):
            return CrawlOutcome(site_id, None, "skipped", 0.0)
        site = self.config.site(site_id)
        with self.sessions() as session:
            if not site.feeds.detect and not site.feeds.urls or not worth_polling(
                    session, site_id, bool(site.feeds.urls)):
                return CrawlOutcome(site_id, None, "skipped", 0.0)  # no feeds: no process started
        if self.queue is not None:
            job_id = self.queue.defer_crawl(site_id, kind="feed")
            return CrawlOutcome(site_id, None, "queued" if job_id is not None else "skipped", 0.0)
        outcome = self.supervisor.crawl(site_id, kind="feed")
        self._wake.set()  # a new entry's alert goes at once
        return outcome

    def _close_stale_runs(self) -> None:
        """Runs left `running` by a service that died: nothing can still be working on them."""
        self.supervisor.close_stale_runs(self.supervisor.timeout + KILL_GRACE + 60)

    def requeue_stalled(self) -> None:
        if self.queue is not None:
            self.queue.retry_stalled()

    def digest(self) -> None:
        with self.sessions() as session, session.begin():
            alerts = queue_digest(session, self.config)
            log.info("event=digest.queued alerts=%d", len(alerts))
        self._wake.set()

    def timestamps(self) -> None:
        """Owed tokens asked again when due, the chain's head stamped when due, the admins told
        when no TSA has answered for `evidence.tsa_alert_after`."""
        from vaern.alerts import notify_tsa_silence
        from vaern.storage.stamping import anchor_head, retry_pending

        with self.sessions() as session:
            result = retry_pending(self.config, session)
            anchored = anchor_head(self.config, session)
            told = notify_tsa_silence(self.config, session)
        if result.obtained or result.still_pending or anchored or told:
            log.info("event=timestamps obtained=%d pending=%d head_stamped=%s admins_told=%s",
                     result.obtained, result.still_pending, anchored, told)

    def discovery(self) -> None:
        """The searches due now, within the day's budget (discovery/searches.py); what they find
        waits in the review app's inbox, never crawled by itself."""
        from vaern.discovery.providers import providers_of
        from vaern.discovery.searches import run_due

        with self.sessions() as session:
            report = run_due(self.config, session, providers_of(self.config.discovery.providers))
        if report.queries:
            log.info("event=discovery queries=%d errors=%d kept=%d budget_left=%d",
                     report.queries, len(report.errors), report.kept, report.budget_left)

    def retention(self) -> None:
        from vaern.retention import apply_retention

        counts = apply_retention(self.config, self.sessions)
        log.info("event=retention.done %s", " ".join(f"{k}={v}" for k, v in counts.items()))

    def _dispatch_loop(self) -> None:
        every = self.config.alerts.dispatch_every.total_seconds()
        while not self._stop.is_set():
            self._wake.clear()
            try:
                with self.sessions() as session, session.begin():
                    queue_reminders(session, self.config)
                report = deliver(self.config, self.sessions, stop=self._stop)
                from vaern.alerts import notify_needs_login

                with self.sessions() as session:
                    notify_needs_login(self.config, session)  # logged-in sites whose session lapsed
                if report.sent or report.retrying or report.failed:
                    log.info(
                        "event=dispatch sent=%d retrying=%d failed=%d",
                        report.sent,
                        report.retrying,
                        report.failed,
                    )
            except Exception:
                # The database or the mail server may be away for a while; the outbox keeps.
                log.exception("event=dispatch.error")
            self._wake.wait(every)


# ---------------------------------------------------------------------------------------------
# Logging and the entry point


class LogfmtFormatter(logging.Formatter):
    """`ts=… level=… logger=… event=… key=value`: one line per event, greppable."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if not message.startswith("event="):
            message = "msg=" + _quote(message)
        line = f"ts={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')} level={record.levelname.lower()} "
        line += f"logger={record.name} {message}"
        if record.exc_info:
            line += " exc=" + _quote(self.formatException(record.exc_info).splitlines()[-1])
        return line


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def run_service(config: Config, *, runner: StartCrawl = start_crawl_process) -> int:
    """`vaern run`: open the database (migrating it, mirroring the config), serve until stopped."""
    from vaern.app import open_services

    setup_logging()
    if config.queue == "postgres":
        from vaern.crawlqueue import setup_lock

        with setup_lock(config):  # workers starting at the same time wait
            services = open_services(config)
    else:
        services = open_services(config)
    service = Service(config, services.engine, services.sessions, runner=runner)
    try:
        return service.run()
    finally:
        services.engine.dispose()
