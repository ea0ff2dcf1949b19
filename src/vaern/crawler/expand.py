"""Bounded expansion of a rendered page: make it show what a person sees after scrolling and
clicking "show more", within limits, recording every action.

Controlled per site by `sites[].expand` (config `Expand`): `show_more` labels and `selectors` of
controls to click, `max_steps`, `max_seconds`, `max_height` and `settle_ms`.

What one round does, until nothing changes or a limit is reached:

1. scroll the window, and every inner scrolling container, to its bottom (unless the page is
   taller than `max_height`);
2. click every visible "show more" control (a label match or a configured selector, never a link
   that would leave the page, never a form's submit button) and every closed `<details>`;
3. wait until the page settles: no request under way (a request pending for longer than
   `PENDING_HOLD_S` no longer holds us: streams and long polls never end), then no DOM change
   for a while. Between rounds that while is short (`QUICK_SETTLE_MS`): a round that finds more
   to do goes on at once. Whatever is concluded from a quiet page (nothing more to show, a click
   did nothing, a toggle closed, the page is read now) waits the full `settle_ms` first,
   counted from the start of the short wait, so no conclusion rests on less quiet than before.

Steps 1 and 2 are one call into the page, and clicks are DOM clicks (the control's click
handlers run, as for a person's click): a round costs two round trips to the browser, not one per
control. A control whose DOM click changed nothing gets one real mouse click (some controls
only answer trusted events); if that changes nothing either, it is left alone. A control whose
click made the page smaller (a toggle) is clicked once more to leave it open, then left alone.
A round that scrolls nothing and clicks nothing ends the expansion.

The page's DOM is never written to: state lives in Python and in a JS object the page cannot
reach (a MutationObserver in it only notes when the DOM last changed): evidence must show the
page as it was, apart from the documented actions. Every action is returned as an `Action`
(UTC time, kind, target, detail) for the evidence record (Berkeley Protocol ¶153–154:
alterations made by the collection must be documented).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from vaern import clock
from vaern.config import SHOW_MORE_LABELS
from vaern.config import Expand as ExpandSettings

if TYPE_CHECKING:
    from playwright.async_api import ElementHandle, JSHandle, Page, Request

# A request pending this long no longer counts as "more is coming" (event streams, long polls,
# a resource that never finishes).
PENDING_HOLD_S = 5.0
# Request kinds that never "finish" in the page's lifetime; they never hold settling.
_ENDLESS = frozenset({"eventsource", "websocket", "media", "manifest", "other"})
# The longest one wait for the page to settle may take: a page that never stops changing still
# gets scrolled and clicked. Longer than PENDING_HOLD_S, so a slow answer is waited for.
SETTLE_CAP_S = PENDING_HOLD_S + 1.0
# A round that did something is followed by a wait this short (or settle_ms, if shorter) before
# the next round; anything concluded from a quiet page waits the full settle_ms (_Expansion).
QUICK_SETTLE_MS = 30
# Clicks on one control at most (a "load more" button that keeps working is clicked again).
MAX_CLICKS_PER_CONTROL = 25
# The least time a readiness wait during expansion gets, even with the expansion's time spent.
READY_FLOOR_S = 3.0


@dataclass(frozen=True)
class ExpandLimits:
    """Limits and controls for one page's expansion (built from a site's `expand:` config)."""

    max_steps: int = 200
    max_seconds: float = 60.0
    max_height: int = 50_000
    settle_ms: int = 150
    show_more: tuple[str, ...] = SHOW_MORE_LABELS
    selectors: tuple[str, ...] = ()
    step_timeout: float = 10.0  # seconds for one browser call; a page busy in a loop must not hang us

    @classmethod
    def from_settings(cls, settings: ExpandSettings, step_timeout: float = 10.0) -> ExpandLimits:
        return cls(
            max_steps=settings.max_steps,
            max_seconds=settings.max_seconds,
            max_height=settings.max_height,
            settle_ms=settings.settle_ms,
            show_more=tuple(settings.show_more),
            selectors=tuple(settings.selectors),
            step_timeout=step_timeout,
        )


@dataclass(frozen=True)
class Action:
    """One thing done to (or observed on) the page during expansion."""

    at: datetime
    kind: str  # "wait" | "scroll" | "click" | "stop"; render.py adds "blocked" (a refused request)
    target: str = ""  # "window", a container's description, a control's label
    detail: str = ""

    def __str__(self) -> str:
        when = self.at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        target = f" {self.target}" if self.target else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{when} {self.kind}{target}{detail}"


class ReadyHook(Protocol):
    """Readiness (crawler/readiness.py) as expansion uses it: the first wait after load, and the
    wait before any conclusion that nothing more is coming."""

    async def wait(self, budget: float, min_quiet_ms: int = 0) -> tuple[bool, float, str]:
        """Wait until the page is ready, at most `budget` s, its DOM quiet for at least
        `min_quiet_ms`: (ready, seconds waited, why)."""
        ...

    async def started(self) -> None:
        """Expansion begins: from now on, what leaves the DOM is harvested."""
        ...


def _without_fragment(url: str) -> str:
    return url.split("#", 1)[0]


def _now() -> datetime:
    return clock.now()


@dataclass
class NetworkWatch:
    """Requests under way on a page, seen from outside the page (nothing is injected)."""

    page: Page
    pending: dict[Request, float] = field(default_factory=dict)
    _ended_one: asyncio.Event = field(default_factory=asyncio.Event)
    _starting: list[asyncio.Future[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("request", self._started)
        self.page.on("requestfinished", self._ended)
        self.page.on("requestfailed", self._ended)

    def _started(self, request: Request) -> None:
        if request.resource_type not in _ENDLESS:
            self.pending[request] = time.monotonic()
            for waiter in self._starting:
                if not waiter.done():
                    waiter.set_result(None)
            self._starting.clear()

    def next_request(self) -> asyncio.Future[None]:
        """Done when the next request that holds us starts (cancel it if no longer wanted)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._starting = [w for w in self._starting if not w.done()]
        self._starting.append(waiter)
        return waiter

    def _ended(self, request: Request) -> None:
        self.pending.pop(request, None)
        self._ended_one.set()

    def _holding(self, now: float, hold: float | None = None) -> list[float]:
        """When each request that still holds us stops counting (pending less than `hold`,
        PENDING_HOLD_S unless given)."""
        hold = PENDING_HOLD_S if hold is None else hold
        return [started + hold for started in self.pending.values() if now - started < hold]

    def busy(self, hold: float | None = None) -> bool:
        return bool(self._holding(time.monotonic(), hold))

    async def idle(self, timeout: float, hold: float | None = None) -> bool:
        """Wait (at most `timeout` s) until no request holds us; whether that happened. `hold`:
        how long a pending request holds us (default PENDING_HOLD_S)."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            holding = self._holding(now, hold)
            if not holding:
                return True
            if now >= deadline:
                return False
            # Woken when a request ends, or when the oldest one stops counting.
            self._ended_one.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ended_one.wait(), min(deadline, *holding) - now)

    def stop(self) -> None:
        self.page.remove_listener("request", self._started)
        self.page.remove_listener("requestfinished", self._ended)
        self.page.remove_listener("requestfailed", self._ended)


# The page's size: scroll height of the document, the sum of every inner scroller's, and the
# element count. A round that changes none of these changed nothing.
_SIZE_FN = """
const size = () => {
  const se = document.scrollingElement || document.documentElement;
  let inner = 0;
  for (const el of document.querySelectorAll('body *')) {
    if (el.scrollHeight > el.clientHeight + 2 && el.clientHeight > 0) inner += el.scrollHeight;
  }
  return [se ? se.scrollHeight : 0, inner, document.getElementsByTagName('*').length];
};
"""

# The expansion's helper, created once per page and held only by us (nothing is attached to the
# page's window or DOM). `scan` measures the page, scrolls the window and every inner scrolling
# container to its bottom (unless there already or past maxHeight), and lists the controls to
# click: configured selectors, closed <details>, and buttons/links whose own text holds a label
# as a whole phrase. Never a link to another address or a form's submit button (that would leave
# the page), never a hidden or disabled control, never one that proved useless (`mark`).
_AGENT_JS = (
    """
(probeName) => {
  // Our own waits use the page's original timer, so the readiness probe does not count them.
  const probe = probeName ? window[probeName] : null;
  const later = probe && probe.timeout ? probe.timeout : setTimeout;
  const frame = () => new Promise((r) => requestAnimationFrame(() => later(r, 0)));
"""
    + _SIZE_FN
    + """
  const clicked = new WeakMap();
  let found = [];
  // When the DOM last changed. The observer only watches; it lives until stop().
  let lastChange = performance.now(), calls = 0;
  const watcher = new MutationObserver(() => { lastChange = performance.now(); });
  watcher.observe(document, {subtree: true, childList: true, characterData: true});
  const norm = (s) => (s || '').replace(/\\s+/g, ' ').trim().toLowerCase();
  const esc = (s) => s.replace(/[.*+?^${}()|[\\]\\\\]/g, '\\\\$&');
  const edge = '[^\\\\p{L}\\\\p{N}]';
  const describe = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    else if (el.classList.length) s += '.' + Array.from(el.classList).slice(0, 2).join('.');
    return s;
  };
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0) return false;
    const cs = getComputedStyle(el);
    return cs.visibility !== 'hidden' && cs.display !== 'none';
  };
  const leaves = (el) => {
    if (el.tagName === 'A') {
      const href = (el.getAttribute('href') || '').trim();
      if (href && !href.startsWith('#') && !href.toLowerCase().startsWith('javascript:')) return true;
    }
    return (el.tagName === 'BUTTON' || el.tagName === 'INPUT') && el.type === 'submit' && !!el.form;
  };
  const usable = (el, maxClicks) => {
    const state = clicked.get(el);
    if (state && (state.dead || state.n >= maxClicks)) return false;
    if (el.disabled || el.getAttribute('aria-disabled') === 'true') return false;
    return shown(el) && !leaves(el);
  };
  // Scroll the window, and each inner scroller, down to its bottom a view at a time, a frame
  // apart, as a reader would: lazy images and observers along the way see every part.
  const scroll = async (maxHeight) => {
    const done = [];
    const se = document.scrollingElement || document.documentElement;
    if (se) {
      const h = se.scrollHeight, top = se.scrollTop;
      if (h <= maxHeight && top + window.innerHeight < h - 2) {
        for (let n = 0; n < 200 && se.scrollTop + window.innerHeight < se.scrollHeight - 2; n++) {
          const was = se.scrollTop;
          window.scrollBy(0, Math.max(100, window.innerHeight - 50));
          await frame();
          if (se.scrollTop <= was) break;
        }
        done.push(['window', Math.round(top), Math.round(se.scrollTop), h]);
      }
    }
    for (const el of document.querySelectorAll('body *')) {
      if (el.scrollHeight <= el.clientHeight + 2 || el.clientHeight === 0) continue;
      const oy = getComputedStyle(el).overflowY;
      if (oy !== 'auto' && oy !== 'scroll' && oy !== 'overlay') continue;
      const h = el.scrollHeight, top = el.scrollTop;
      if (h > maxHeight || top + el.clientHeight >= h - 2) continue;
      for (let n = 0; n < 200 && el.scrollTop + el.clientHeight < el.scrollHeight - 2; n++) {
        const was = el.scrollTop;
        el.scrollTop = was + Math.max(50, el.clientHeight - 30);
        await frame();
        if (el.scrollTop <= was) break;
      }
      done.push([describe(el), Math.round(top), Math.round(el.scrollTop), h]);
    }
    return done;
  };
  const controls = (labels, selectors, maxClicks) => {
    const patterns = labels.map((l) => new RegExp('(^|' + edge + ')' + esc(norm(l)) + '($|' + edge + ')', 'u'));
    const els = [], names = [], seen = new Set();
    const add = (el, name) => { seen.add(el); els.push(el); names.push(name); };
    for (const sel of selectors) {
      for (const el of document.querySelectorAll(sel)) if (!seen.has(el) && usable(el, maxClicks)) add(el, sel);
    }
    for (const d of document.querySelectorAll('details:not([open]) > summary')) {
      if (!seen.has(d) && usable(d, maxClicks)) add(d, 'details: ' + norm(d.innerText).slice(0, 60));
    }
    const candidates = document.querySelectorAll('button, a, summary, [role=button], [onclick], input[type=button]');
    for (const el of candidates) {
      if (seen.has(el)) continue;
      const text = norm(el.innerText || el.value || el.getAttribute('aria-label'));
      if (!text || text.length > 80 || !patterns.some((p) => p.test(text))) continue;
      if (usable(el, maxClicks)) add(el, text);
    }
    return [els, names];
  };
  return {
    // Wait until the DOM has not changed for `quietMs`, counted from `since` (a time on this
    // page's clock from an earlier call) or else from now; at most `limitMs`. Returns [quiet or
    // not, the time quiet was counted from, the page's size].
    // A newer call ends an older one (whose caller stopped waiting for it).
    quiet(quietMs, limitMs, since) {
      const t0 = performance.now(), call = ++calls;
      const from = since === null ? t0 : since;
      return new Promise((resolve) => {
        const tick = () => {
          const now = performance.now(), calm = now - Math.max(lastChange, from);
          if (call !== calls) resolve(null);
          else if (calm >= quietMs || now - t0 >= limitMs) resolve([calm >= quietMs, from, size()]);
          else later(tick, Math.max(10, Math.min(50, quietMs - calm)));
        };
        tick();
      });
    },
    stop() { watcher.disconnect(); },
    size() { return size(); },
    // One round: measure, scroll, then click up to `clicks` controls with a DOM click (the
    // element's click handlers run, as for a person's click). Returns [size before, scrolls,
    // labels clicked, the wait below or null]; the clicked elements are kept for `last()`.
    //
    // With `wait` ([quietMs, limitMs, since], as for quiet()): if there is nothing to do yet,
    // wait for that quiet first and look again; the wait is returned as [quiet or not, ms].
    async round(labels, selectors, maxClicks, maxHeight, mayScroll, clicks, wait) {
      let before = size();
      let scrolled = mayScroll ? await scroll(maxHeight) : [];
      let [els, names] = controls(labels, selectors, maxClicks);
      let waited = null;
      if (wait && !scrolled.length && !els.length) {
        const t0 = performance.now();
        const result = await this.quiet(...wait);
        waited = [!!(result && result[0]), performance.now() - t0];
        before = size();
        scrolled = mayScroll ? await scroll(maxHeight) : [];
        [els, names] = controls(labels, selectors, maxClicks);
      }
      found = [];
      const done = [];
      for (let i = 0; i < els.length && found.length < clicks; i++) {
        const state = clicked.get(els[i]) || {n: 0, dead: false, trusted: false};
        state.n += 1;
        clicked.set(els[i], state);
        try { els[i].click(); } catch (e) { state.dead = true; continue; }
        found.push(els[i]);
        done.push(names[i]);
      }
      return [before, scrolled, done, waited];
    },
    last() { return found; },
    // Of the last round's clicks, those not yet tried with a real mouse click: the caller tries
    // them that way once before giving up on them.
    untried() {
      const out = found.filter((el) => !clicked.get(el).trusted && el.isConnected);
      for (const el of out) clicked.get(el).trusted = true;
      return out;
    },
    give_up(els) { for (const el of els) { const s = clicked.get(el); if (s) s.dead = true; } },
    reopen() {
      for (const el of found) { try { el.click(); } catch (e) { /* gone: nothing to reopen */ } }
      this.give_up(found);
      return found.length;
    },
  };
}
"""
)


class _Budget:
    def __init__(self, limits: ExpandLimits) -> None:
        self.limits = limits
        self.started = time.monotonic()
        self.steps = 0

    def seconds_left(self) -> float:
        return self.limits.max_seconds - (time.monotonic() - self.started)

    def exhausted(self) -> str | None:
        if self.steps >= self.limits.max_steps:
            return f"step limit ({self.limits.max_steps}) reached"
        if self.seconds_left() <= 0:
            return f"time limit ({self.limits.max_seconds:g} s) reached"
        return None


async def _call(limits: ExpandLimits, coro: Any) -> Any:
    """One browser call, bounded: a page stuck in a script loop must not hang the crawl."""
    return await asyncio.wait_for(coro, limits.step_timeout)


async def settle(
    agent: JSHandle,
    limits: ExpandLimits,
    network: NetworkWatch | None,
    budget_s: float,
    quiet_ms: int,
    since: float | None = None,
) -> tuple[bool, float, list[int], float | None]:
    """Wait until no DOM change for `quiet_ms` and no request under way, within budget_s.

    Quiet is counted from `since` (page time, from an earlier settle) or from now. Returns
    (settled, seconds waited, the page's size then: [height, inner heights, elements], the page
    time quiet was counted from, or None if it did not settle).
    """
    t0 = time.monotonic()
    size: list[int] = []
    while True:
        left = budget_s - (time.monotonic() - t0)
        if left <= 0:
            return False, time.monotonic() - t0, size, None
        if network is not None and network.busy():
            # Requests first: quiet is counted from when they are done.
            await network.idle(left)
            since = None
            continue
        quiet_call = asyncio.ensure_future(
            _call(limits, agent.evaluate("(a, args) => a.quiet(...args)", [quiet_ms, int(left * 1000), since]))
        )
        if network is not None:
            # A request that starts meanwhile makes this wait moot: stop it, wait for the request.
            started = network.next_request()
            try:
                await asyncio.wait({quiet_call, started}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                started.cancel()
                moot = not quiet_call.done()
                if moot:
                    quiet_call.cancel()
                    quiet_call.add_done_callback(lambda f: f.cancelled() or f.exception())
            if moot:
                since = None
                continue
        quiet, start, size = await quiet_call
        if not quiet:
            return False, time.monotonic() - t0, size, None
        if network is None or not network.busy():
            return True, time.monotonic() - t0, size, start
        since = None


class _Expansion:
    """One page's expansion under way: the page, its helper, limits, budget and the record.

    Waits come in two lengths. After a round that did something, a short one (QUICK_SETTLE_MS
    without DOM change, no request under way) is enough to go on with the next round: if more
    was still coming, the next round sees it. Every conclusion drawn from a quiet page — nothing
    more to show, a click changed nothing, a click made the page smaller, the page is read now —
    is drawn only after the full `settle_ms`, counted from the start of the short wait (`confirm`),
    as if every wait had been the full one.
    """

    def __init__(
        self, page: Page, agent: JSHandle, limits: ExpandLimits, network: NetworkWatch, actions: list[Action],
        ready: ReadyHook | None = None,
    ) -> None:
        self.page, self.agent, self.limits, self.network, self.actions = page, agent, limits, network, actions
        self.ready = ready
        self.acted = False  # scrolled or clicked since the last readiness wait
        self.budget = _Budget(limits)
        self._quick_since: float | None = None  # the last wait was short; quiet counted from here
        self._wait: tuple[int, float, list[int] | None] = (-1, 0.0, None)  # its action, seconds, size before

    def _left(self) -> float:
        return min(SETTLE_CAP_S, max(0.0, self.budget.seconds_left()))

    def _record(self, settled: bool, waited: float, before: list[int] | None, size: list[int]) -> Action:
        detail = f"{'settled' if settled else 'still changing'} after {waited:.2f} s"
        if before and size:
            detail += f"; height {before[0]} -> {size[0]}, elements {before[2]} -> {size[2]}"
        return Action(_now(), "wait", "", detail)

    async def settle(self, before: list[int] | None = None) -> list[int]:
        """The short wait after a round (or after load); recorded; returns the page's size."""
        quiet_ms = min(QUICK_SETTLE_MS, self.limits.settle_ms)
        settled, waited, size, since = await settle(self.agent, self.limits, self.network, self._left(), quiet_ms)
        self._quick_since = since if settled and quiet_ms < self.limits.settle_ms else None
        self.actions.append(self._record(settled, waited, before, size))
        self._wait = (len(self.actions) - 1, waited, before)
        return size

    async def confirm(self) -> list[int] | None:
        """Make the last wait a full `settle_ms` one; the page's size then, or None if it was."""
        since = self._take_quick_since()
        if since is None:
            return None
        settled, waited, size, _ = await settle(
            self.agent, self.limits, self.network, self._left(), self.limits.settle_ms, since
        )
        self.record_full_wait(settled, waited, size)
        return size

    def take_full_wait(self) -> list[Any] | None:
        """The rest of the full wait, as [quiet ms, limit ms, since] for the round to do in the
        page if it finds nothing to do yet; None if the last wait was a full one already."""
        if self.ready is not None:
            # Readiness makes that wait, and more, before anything is concluded (_round).
            self._quick_since = None
            return None
        since = self._take_quick_since()
        if since is None:
            return None
        return [self.limits.settle_ms, int(self._left() * 1000), since]

    def _take_quick_since(self) -> float | None:
        """Where the last short wait's quiet began, handed out once; None after a full wait (or
        with no time left)."""
        if self._quick_since is None or self.budget.seconds_left() <= 0:
            return None
        since, self._quick_since = self._quick_since, None
        return since

    def record_full_wait(self, settled: bool, waited: float, size: list[int]) -> None:
        """Record a full wait (made here or by the round in the page) as part of the wait before it."""
        index, earlier, before = self._wait
        action = self._record(settled, earlier + waited, before, size)
        if index == len(self.actions) - 1:
            self.actions[index] = action  # nothing happened in between: one wait, only longer
        else:
            self.actions.append(action)
        self._wait = (len(self.actions) - 1, earlier + waited, before)

    async def settled_size(self, before: list[int]) -> list[int]:
        """Wait after clicks; a page that looks unchanged or smaller is given the full wait first."""
        after = await self.settle(before)
        if after and (after == before or after[0] < before[0] or after[2] < before[2]):
            if self.ready is not None:
                after = await self.wait_ready(before) or after
            else:
                after = await self.confirm() or after
        return after

    async def first_wait(self) -> list[int]:
        """The wait after load: readiness when given (then harvesting starts), else a settle."""
        if self.ready is None:
            return await self.settle()
        size = await self.wait_ready(None, budget=None)
        await self.ready.started()
        self.budget = _Budget(self.limits)  # expansion's own time starts now
        return size or []

    async def wait_ready(self, before: list[int] | None, budget: float | None = -1.0) -> list[int] | None:
        """A readiness wait (the page's content stable), recorded; the page's size after it.

        `budget` None: readiness's own limit; else the expansion's time left (at least
        READY_FLOOR_S, so a conclusion never rests on a cut-short wait)."""
        assert self.ready is not None
        if budget is not None:
            budget = max(READY_FLOOR_S, self.budget.seconds_left())
        ready, waited, why = await self.ready.wait(budget if budget is not None else float("inf"),
                                                   self.limits.settle_ms)
        self._quick_since = None
        self.acted = False
        size: list[int] = await _call(self.limits, self.agent.evaluate("a => a.size()"))
        action = self._record(ready, waited, before, size)
        self.actions.append(Action(action.at, action.kind, action.target, f"{action.detail}; {why}"))
        self._wait = (len(self.actions) - 1, waited, before)
        return size


async def expand(
    page: Page, limits: ExpandLimits, network: NetworkWatch | None = None, *,
    probe: str | None = None, ready: ReadyHook | None = None,
) -> list[Action]:
    """Expand a loaded page within `limits`; return every action taken, in order.

    Pass a `NetworkWatch` attached before navigation so requests started during load count;
    without one, one is attached now (requests already under way are then not seen). `probe`
    is the session's timer probe name (so our own waits are not counted as the page's); with
    `ready`, the first wait and every "nothing more is coming" wait for the page to be ready.
    """
    own_watch = network is None
    watch = network or NetworkWatch(page)
    try:
        return await _expand(page, limits, watch, probe, ready)
    finally:
        if own_watch:
            watch.stop()


async def _expand(
    page: Page, limits: ExpandLimits, network: NetworkWatch, probe: str | None, ready: ReadyHook | None
) -> list[Action]:
    from playwright.async_api import Error as PlaywrightError

    actions: list[Action] = []
    start_url = page.url
    agent: JSHandle = await _call(limits, page.evaluate_handle(_AGENT_JS, probe))
    state = _Expansion(page, agent, limits, network, actions, ready)
    try:
        await state.first_wait()
        while True:
            reason = state.budget.exhausted()
            if reason:
                # The page is read after a full wait, as always (a readiness wait just made counts).
                if state.ready is None:
                    await state.confirm()
                elif state.acted:
                    await state.wait_ready(None)
                actions.append(Action(_now(), "stop", "", reason))
                break
            try:
                stop = await _round(state)
            except PlaywrightError as exc:
                # A click that navigated destroys the page's scripts, the helper with them.
                where = _without_fragment(page.url)
                if where != _without_fragment(start_url):
                    stop = f"a click navigated to {page.url}"
                else:
                    stop = f"the page failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            if stop:
                actions.append(Action(_now(), "stop", "", stop))
                break
    finally:
        # Both at once, one round trip. Should the release overtake the stop, the observer (which
        # only watches) goes when the page does.
        await asyncio.gather(
            _call(limits, agent.evaluate("a => a.stop()")), _call(limits, agent.dispose()), return_exceptions=True
        )
    return actions


async def _round(state: _Expansion) -> str | None:
    """One round of scrolling and clicking, then waiting; the reason to stop, or None to go on."""
    page, agent, limits, budget, actions = state.page, state.agent, state.limits, state.budget, state.actions
    start_url = page.url
    clicks_left = max(0, limits.max_steps - budget.steps)
    # After a short wait the round itself finishes the full one if it finds nothing to do yet
    # (one round trip, not three); a request starting meanwhile means it did not hold.
    full_wait = state.take_full_wait()
    started = state.network.next_request() if full_wait is not None else None
    try:
        before, scrolled, clicked, waited = await _call(
            limits,
            agent.evaluate(
                "(a, args) => a.round(...args)",
                [list(limits.show_more), list(limits.selectors), MAX_CLICKS_PER_CONTROL, limits.max_height, True,
                 clicks_left, full_wait],
            ),
        )
    finally:
        interrupted = started is not None and started.done()
        if started is not None:
            started.cancel()
    # A round that did nothing after the full wait concludes from it, unless a request started
    # meanwhile (then the wait proved nothing). One that did something goes on anyway.
    moot = False
    if waited is not None:
        quiet, waited_ms = waited
        moot = not (scrolled or clicked) and (interrupted or state.network.busy())
        state.record_full_wait(quiet and not moot, waited_ms / 1000, before)
    state.acted = state.acted or bool(scrolled or clicked)
    for target, top, to, height in scrolled:
        budget.steps += 1
        actions.append(Action(_now(), "scroll", target, f"{top} -> {to} (height {height})"))
    for label in clicked:
        budget.steps += 1
        actions.append(Action(_now(), "click", label, "clicked"))
    if _without_fragment(page.url) != _without_fragment(start_url):
        return f"a click navigated to {page.url}"
    if not clicked and not scrolled:
        if moot:
            # A request started during the full wait: wait for it, then look again.
            await state.settle()
            return None
        if before[0] >= limits.max_height:
            return f"height limit ({limits.max_height} px) reached"
        if state.ready is not None:
            # Content that a timer, a placeholder or a late answer was still bringing: the page
            # must be ready before we conclude. If it grew meanwhile, look again.
            after = await state.wait_ready(before)
            if after is not None and after != before:
                return None
        return "nothing more to show"
    if not clicked:
        await state.settle(before)
        return None
    after = await state.settled_size(before)
    if not after:
        return None
    if after == before:
        # Nothing happened: some controls only answer a real mouse click (trusted events).
        untried = await _call(limits, agent.evaluate_handle("a => a.untried()"))
        props = await _call(limits, untried.get_properties())
        elements = [h.as_element() for h in props.values()]
        await untried.dispose()
        tried = [e for e in elements if e is not None]
        for element in tried:
            if budget.exhausted():
                break
            budget.steps += 1
            actions.append(Action(_now(), "click", "again", f"with the mouse: {await _click(limits, element)}"))
        if tried:
            again = await state.settled_size(before)
            if again != before:
                return None
        await _call(limits, agent.evaluate("a => a.give_up(a.last())"))
        actions.append(Action(_now(), "wait", "", "the click(s) changed nothing; those controls are left alone"))
    elif after[0] < before[0] or after[2] < before[2]:
        # The page shrank: a toggle closed what an earlier click opened. Open it again, once.
        reopened = await _call(limits, agent.evaluate("a => a.reopen()"))
        actions.append(Action(_now(), "click", "again", f"the page shrank: {reopened} toggle(s) reopened"))
        await state.settle()
    return None


async def _click(limits: ExpandLimits, element: ElementHandle) -> str:
    """A real mouse click (scrolled into view, trusted events), for controls a DOM click left cold."""
    from playwright.async_api import Error as PlaywrightError

    try:
        await _call(limits, element.click(timeout=1500))
        return "clicked"
    except (PlaywrightError, TimeoutError) as exc:
        return f"failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
