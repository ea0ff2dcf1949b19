"""The evidence desk of one crawl: captures evidence while the crawl goes on, from the page the
crawl read where there is one.

Controlled by `evidence` (see crawler/capture.py) and the site's `ready:`/`expand:`. Lives in
the crawl process, on the crawl's event loop (Scrapy's asyncio reactor), and owns the crawl's one
browser session, which the browser download handler renders with (browserspider.py).

How a page flows through it:

- the download handler renders a `render: browser` page with `load()` and `hold`s it here,
  still open, while the spider hands the page to the pipeline;
- what earlier crawls still owe (`owe_at_start`: a crawl killed mid-way, a full disk, a capture
  that did not show the mention) is captured first, once the crawl's loop runs (`start`);
- the pipeline commits the page's transaction and, if a hit is new, changed or removed, calls
  `owe(request, token)` at once (app.py wires this): the capture starts now, from the held page
  if the crawl rendered it (no second load), else from a page loaded anew through the same
  browser path (an HTTP site, a removal, a debt from an earlier crawl);
- the spider `release`s the page when the pipeline is done with it: a page nobody owes evidence
  for is closed then;
- each result (a `Capture` or a `CaptureFailure`) goes to `store(token, result)`, which files it
  (archive and database, app.py) in the crawl process's own thread; a store that fails (a full
  disk) is logged, and what was owed stays owed for the next crawl (pipeline.py, app.py);
- `drain()` waits for every capture still under way; the spider calls it as it closes, before
  the browser goes.

Captures run one at a time: they are CPU work on a small machine, and a crawl's pages wait their
turn (`room()`) rather than pile up open pages faster than they can be captured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from vaern.config import Config, Site
from vaern.crawler.browser import BrowserSession
from vaern.crawler.capture import capture_anew, capture_loaded, failure, mark_incomplete, missing_mentions
from vaern.crawler.netguard import NetGuard
from vaern.crawler.render import Loaded
from vaern.crawler.sitelogin import login_of
from vaern.domain import Capture, CaptureFailure, CaptureRequest

log = logging.getLogger(__name__)

# A rendered page still held this long after it was read was never released (its response did
# not reach the spider): it is closed.
HOLD_SECONDS = 120.0
# Rendered pages waiting for their capture, at most; the crawl renders no more until one is done.
MAX_WAITING = 2

Store = Callable[[Any, Capture | CaptureFailure], None]


@dataclass
class DeskStats:
    """What the desk did: captures made, from the crawl's own page or anew, and how long each
    took from detection to its filing (seconds)."""

    same_load: int = 0
    anew: int = 0
    failed: int = 0
    store_failed: int = 0
    latencies: list[float] = field(default_factory=list)


class EvidenceDesk:
    """See the module docstring. `store(token, result)` files a result."""

    def __init__(self, config: Config, site: Site, store: Store) -> None:
        self.config, self.site, self.store = config, site, store
        self._session: BrowserSession | None = None
        self._held: dict[str, Loaded] = {}
        self._queue: asyncio.Queue[tuple[CaptureRequest, Any, Loaded | None]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._room: asyncio.Event | None = None
        self._pending = 0
        self.filed: set[int] = set()  # id() of each token whose result was stored
        self._debts: list[tuple[CaptureRequest, Any]] = []
        self.stats = DeskStats()
        self.closed = False

    # -- the browser -------------------------------------------------------------------------

    def session(self) -> BrowserSession:
        """The crawl's one browser session (started on first use)."""
        if self._session is None:
            self._session = BrowserSession(
                self.config.browser, guard=NetGuard(self.config.network.allow_private_hosts),
                max_response_mb=self.site.max_response_mb, login=login_of(self.site),
            )
        return self._session

    # -- pages the crawl rendered ----------------------------------------------------------------

    async def room(self) -> None:
        """Wait while too many rendered pages wait for their capture."""
        while self._pending >= MAX_WAITING and not self.closed:
            self._room = self._room or asyncio.Event()
            self._room.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._room.wait(), 1.0)

    def hold(self, url: str, loaded: Loaded) -> None:
        """A rendered page, kept open until the pipeline is done with it."""
        earlier = self._held.pop(url, None)
        if earlier is not None and earlier is not loaded:
            asyncio.ensure_future(earlier.close())
        self._held[url] = loaded
        asyncio.get_running_loop().call_later(HOLD_SECONDS, self._expire, url, loaded)

    def release(self, url: str) -> None:
        """The pipeline is done with the page: closed unless evidence is being taken from it."""
        loaded = self._held.pop(url, None)
        if loaded is not None:
            asyncio.ensure_future(loaded.close())

    def _expire(self, url: str, loaded: Loaded) -> None:
        if self._held.get(url) is loaded:
            self.release(url)

    # -- evidence owed ---------------------------------------------------------------------------

    def owe_at_start(self, request: CaptureRequest, token: Any) -> None:
        """Evidence earlier crawls still owe: captured (loaded anew) once the crawl starts."""
        self._debts.append((request, token))

    def start(self) -> None:
        """The crawl's event loop runs: the debts of earlier crawls go first."""
        debts, self._debts = self._debts, []
        for request, token in debts:
            self.owe(request, token)

    def owe(self, request: CaptureRequest, token: Any) -> None:
        """Evidence is owed for `request.url`: capture it as soon as the worker is free."""
        if self.closed:
            raise RuntimeError("the evidence desk is closed")
        if self._queue is None:
            self._queue = asyncio.Queue()
        # The page the crawl read, if it is still held: the evidence is taken from it.
        loaded = self._held.pop(request.url, None)
        self._pending += 1
        self._queue.put_nowait((request, token, loaded))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.ensure_future(self._work())

    @property
    def busy(self) -> bool:
        return self._pending > 0

    async def _work(self) -> None:
        assert self._queue is not None
        while not self._queue.empty():
            request, token, loaded = self._queue.get_nowait()
            try:
                await self._one(request, token, loaded)
            except Exception:  # never lose the worker: the debt stays owed
                log.exception("evidence capture of %s failed", request.url)
            finally:
                self._pending -= 1
                if self._room is not None:
                    self._room.set()

    async def _one(self, request: CaptureRequest, token: Any, loaded: Loaded | None) -> None:
        result = await self._capture(request, loaded)
        if isinstance(result, Capture):
            result = await self._complete(request, result)
        if isinstance(result, CaptureFailure):
            self.stats.failed += 1
            log.warning("evidence capture of %s failed: %s", result.url, result.error)
        try:
            self.store(token, result)
            self.filed.add(id(token))
        except Exception as exc:  # a full disk, a database gone: owed stays owed
            self.stats.store_failed += 1
            log.error("evidence of %s could not be filed: %s: %s", request.url, type(exc).__name__, exc)
            return
        if isinstance(result, Capture):
            self.stats.latencies.append(max(0.0, (result.finished_at - request.detected_at).total_seconds()))

    async def _complete(self, request: CaptureRequest, capture: Capture) -> Capture:
        """Evidence must show the mention: a capture whose text lacks one is taken once more,
        loaded anew with longer waits; if that lacks one too, the one lacking fewer (the second
        on a tie) is kept, marked incomplete, with the reason."""
        missing = missing_mentions(request, capture)
        if not missing:
            return capture
        log.info("evidence of %s lacks %s; capturing again with longer waits", request.url, "; ".join(missing))
        again = await self._capture(replace(request, same_load=False), None, factor=2.0)
        if isinstance(again, Capture):
            still = missing_mentions(request, again)
            if len(still) <= len(missing):
                capture, missing = again, still
        return mark_incomplete(capture, missing, tried=2)

    async def _capture(
        self, request: CaptureRequest, loaded: Loaded | None, factor: float = 1.0
    ) -> Capture | CaptureFailure:
        config = self.config
        try:
            if loaded is not None and not loaded.closed:
                try:
                    budget = config.evidence.page_timeout * 3 + config.evidence.expand_seconds + 30
                    capture = await asyncio.wait_for(
                        self.session().within_memory(capture_loaded(loaded, config, replace(request, same_load=True))),
                        budget,
                    )
                finally:
                    await loaded.close()
                self.stats.same_load += 1
                return capture
            capture = await capture_anew(self.session(), config, request, factor)
            self.stats.anew += 1
            return capture
        except Exception as exc:
            return failure(request, exc)

    async def drain(self) -> None:
        """Wait for every capture under way, then close the held pages and the browser."""
        while self._worker is not None and not self._worker.done():
            await asyncio.wait({self._worker})
        self.closed = True
        for url in list(self._held):
            self.release(url)
        if self._session is not None:
            await self._session.close()
