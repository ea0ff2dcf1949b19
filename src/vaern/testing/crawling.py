"""Run `crawl_site` in a child process and get back everything the sink was told.

Twisted's reactor cannot be restarted, so every test crawl (and every benchmark crawl) runs in a
fresh child process started with the "spawn" method. The child's sink forwards each call through
a queue; `run_crawl` returns a `CrawlOutcome` holding the pages, unchanged URLs, gone URLs,
failures, the stats and any warnings raised in the child (a test should treat those like
pytest's `filterwarnings = error`: `CrawlOutcome.unexpected_warnings`).
"""

from __future__ import annotations

import logging
import multiprocessing
import queue as queue_module
import re
import time
import traceback
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vaern.config import Config, Site
from vaern.crawler.run import CrawlStats, KnownPage, crawl_site
from vaern.domain import FetchFailure, Page

# Warnings that pytest's configuration ignores too (see pyproject.toml).
_IGNORED_WARNING = re.compile(r"/(twisted|scrapy)/\S*: DeprecationWarning:|ResourceWarning")


class _QueueSink:
    def __init__(self, out: Any, fail_on_page: int | None, page_bodies: bool) -> None:
        self.out = out
        self.fail_on_page = fail_on_page
        self.page_bodies = page_bodies
        self.pages = 0

    def page(self, page: Page) -> None:
        self.pages += 1
        if self.fail_on_page is not None and self.pages >= self.fail_on_page:
            raise RuntimeError(f"sink refused page {self.pages}")
        if not self.page_bodies:
            page = Page(**{**page.__dict__, "body": b""})
        self.out.put(("page", page))

    def unchanged(self, url: str) -> None:
        self.out.put(("unchanged", url))

    def gone(self, url: str, status: int) -> None:
        self.out.put(("gone", (url, status)))

    def failed(self, failure: FetchFailure) -> None:
        self.out.put(("failed", failure))


class _WarningLog(logging.Handler):
    """Scrapy routes warnings to the `py.warnings` logger; collect them."""

    def __init__(self, out: Any) -> None:
        super().__init__()
        self.out = out

    def emit(self, record: logging.LogRecord) -> None:
        self.out.put(("warning", record.getMessage()))


def _child(
    out: Any,
    config: Config,
    site: Site,
    known: dict[str, KnownPage],
    queries: list[str],
    fail_on_page: int | None,
    page_bodies: bool,
    render_decision: str | None = None,
) -> None:
    logging.getLogger("py.warnings").addHandler(_WarningLog(out))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            started = time.perf_counter()
            sink = _QueueSink(out, fail_on_page, page_bodies)
            stats = crawl_site(config, site, sink, known, queries, render_decision=render_decision)
            out.put(("seconds", time.perf_counter() - started))
            out.put(("stats", stats))
        except BaseException as exc:  # report everything; the parent decides
            out.put(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
        for w in caught:
            out.put(("warning", f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}"))
    out.put(("end", None))


@dataclass
class CrawlOutcome:
    """What one child-process crawl reported, in arrival order per kind."""

    stats: CrawlStats | None = None
    error: str | None = None
    seconds: float = 0.0
    pages: list[Page] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    gone: list[tuple[str, int]] = field(default_factory=list)
    failed: list[FetchFailure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def page(self, url: str) -> Page:
        matches = [p for p in self.pages if p.url == url]
        if len(matches) != 1:
            raise AssertionError(f"expected one page {url}, got {len(matches)}; pages: {[p.url for p in self.pages]}")
        return matches[0]

    def failure(self, url: str) -> FetchFailure:
        matches = [f for f in self.failed if f.url == url]
        if len(matches) != 1:
            raise AssertionError(f"expected one failure {url}, got {len(matches)}; failed: {self.failed}")
        return matches[0]

    @property
    def urls(self) -> set[str]:
        """Every URL the sink heard about, whatever the outcome."""
        return (
            {p.url for p in self.pages}
            | set(self.unchanged)
            | {u for u, _ in self.gone}
            | {f.url for f in self.failed}
        )

    @property
    def unexpected_warnings(self) -> list[str]:
        return [w for w in self.warnings if not _IGNORED_WARNING.search(w)]

    def known(self, previous: Mapping[str, KnownPage] | None = None) -> dict[str, KnownPage]:
        """What a database would know after this crawl (pages kept from `previous` unless gone)."""
        out = dict(previous or {})
        for page in self.pages:
            out[page.url] = KnownPage(page.url, page.etag, page.last_modified, page.content_hash, page.depth)
        for url, _status in self.gone:
            out.pop(url, None)
        return out


def run_crawl(
    config: Config,
    site: Site,
    known: Mapping[str, KnownPage] | None = None,
    search_queries: Sequence[str] = (),
    *,
    timeout: float = 60.0,
    fail_on_page: int | None = None,
    page_bodies: bool = True,
    render_decision: str | None = None,
) -> CrawlOutcome:
    """Run `crawl_site` in a spawned child process and collect what its sink received.

    `fail_on_page=N` makes the sink raise on the N-th page (to test that a failing sink stops the
    crawl). `page_bodies=False` drops page bodies before they cross the process boundary.
    `render_decision` is handed to `crawl_site` (what an earlier crawl of a render: auto site said).
    """
    context = multiprocessing.get_context("spawn")
    out: Any = context.Queue()
    process = context.Process(
        target=_child,
        args=(
            out, config, site, dict(known or {}), list(search_queries), fail_on_page, page_bodies, render_decision
        ),
        daemon=True,
    )
    process.start()
    outcome = CrawlOutcome()
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                kind, value = out.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue_module.Empty:
                raise TimeoutError(f"crawl of {site.id} did not finish within {timeout} s") from None
            if kind == "end":
                break
            if kind == "page":
                outcome.pages.append(value)
            elif kind == "unchanged":
                outcome.unchanged.append(value)
            elif kind == "gone":
                outcome.gone.append(value)
            elif kind == "failed":
                outcome.failed.append(value)
            elif kind == "warning":
                outcome.warnings.append(value)
            elif kind == "stats":
                outcome.stats = value
            elif kind == "seconds":
                outcome.seconds = value
            elif kind == "error":
                outcome.error = value
    finally:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join()
    return outcome
