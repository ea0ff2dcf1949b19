"""When is a page read? When its content is stable, not after a fixed pause.

Controlled per site by `sites[].ready` (config `Ready`): `max_seconds` (the most one page waits,
default 10), `quiet_ms` (the first, shortest quiet window) and extra `placeholders` (texts that
mean "still loading"); used by crawl rendering and evidence capture alike (crawler/render.py).

A page is ready when, all at once:

1. no request of the page is under way (`NetworkWatch`; a request pending longer than
   `PENDING_HOLD_S` stops holding us, unless a loading placeholder is on screen);
2. no work the page scheduled for the next few seconds is still to run. A probe the browser
   context installs before any script of the page runs counts what is pending: one-shot
   `setTimeout`s up to `TIMER_HORIZON_MS`, animation frames and idle callbacks (a callback that
   keeps re-arming itself is a clock or an animation, not content, and is ignored after its third
   round, counted afresh after each scroll or click), and messages posted to a `MessageChannel`
   (the way frameworks' schedulers slice rendering work without timers; a chain of them counts
   until it has run for `TIMER_HORIZON_MS`);
3. the DOM has not changed for the quiet window;
4. the visible text (shadow roots included) reads the same twice: half-way through the quiet
   window and at its end;
5. no loading placeholder is on screen: `aria-busy="true"`, a progress bar or `role=progressbar`,
   a spinner/skeleton/shimmer/loader element, or a short text that says so ("Indlæser …",
   "Henter …", "Loading …", and the site's own `placeholders`).

Whenever a check fails the quiet window doubles (from `quiet_ms` up to `MAX_QUIET_MS`), so a page
that is ready at once costs one short window and a slow one is given more time, up to
`max_seconds`. A page that is not ready by then is read as it stands and says why
(`Readiness.ready` is False): such a read never removes a hit (pipeline.py). A loading shell is
the case in point: a placeholder still on screen at the limit means the page was not read,
however quiet it was. Later waits on the same page (during expansion) do not wait for that
placeholder again.

Nothing here writes to the page's DOM. The probe wraps `setTimeout`/`clearTimeout`,
`requestAnimationFrame`/`cancelAnimationFrame`, `requestIdleCallback`/`cancelIdleCallback` and
`MessagePort.postMessage` in the page's own world (it must, to see them) and keeps its count in
a closure reachable through one non-enumerable property with a per-session random name; that it
was installed is part of every capture's provenance.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vaern.crawler.expand import Action, NetworkWatch, _now

if TYPE_CHECKING:
    from playwright.async_api import JSHandle, Page

DEFAULT_PLACEHOLDERS = ("Indlæser", "Indlæses", "Henter", "Hentes", "Loading", "Vent venligst", "Please wait")
MAX_QUIET_MS = 2400
TIMER_HORIZON_MS = 5000  # timers due later than this are the page's clocks and polls, not its content
TIMER_REARMS = 3  # a callback set more often than this is a loop; ignored from then on


def timer_probe_script(name: str) -> str:
    """The init script that counts the page's pending one-shot timers under `window[name]`."""
    return (
        _PROBE_JS.replace("%(name)s", name)
        .replace("%(horizon)d", str(TIMER_HORIZON_MS))
        .replace("%(rearms)d", str(TIMER_REARMS))
    )


_PROBE_JS = """
(() => {
  if (Object.prototype.hasOwnProperty.call(window, '%(name)s')) return;
  const set = window.setTimeout, clear = window.clearTimeout, now = () => performance.now();
  const pending = new Map(), rounds = new Map();
  const keyOf = (fn, ms) => {
    let src = '';
    try { src = fn.name || Function.prototype.toString.call(fn).slice(0, 120); } catch (e) { src = '?'; }
    return ms + ':' + src;
  };
  const wrapped = function setTimeout(fn, ms, ...rest) {
    if (typeof fn !== 'function') return set.call(this, fn, ms, ...rest);
    const delay = Math.max(0, Number(ms) || 0);
    const key = keyOf(fn, delay);
    const n = (rounds.get(key) || 0) + 1;
    rounds.set(key, n);
    let id;
    const run = function (...args) { pending.delete(id); return fn.apply(this, args); };
    id = set.call(this, run, ms, ...rest);
    if (delay <= %(horizon)d && n <= %(rearms)d) pending.set(id, now() + delay);
    return id;
  };
  const unwrapped = function clearTimeout(id) { pending.delete(id); return clear.call(this, id); };
  window.setTimeout = wrapped;
  window.clearTimeout = unwrapped;
  // Animation frames and idle callbacks: one-shot ones are work to wait for; a loop (an
  // animation) is ignored after its third round, as a re-arming timer is.
  const callbacks = (request, cancel, kind, due) => {
    if (typeof window[request] !== 'function') return;
    const req = window[request], can = window[cancel], ids = new Map();
    window[request] = function (fn, ...rest) {
      if (typeof fn !== 'function') return req.call(this, fn, ...rest);
      const key = kind + ':' + keyOf(fn, 0);
      const n = (rounds.get(key) || 0) + 1;
      rounds.set(key, n);
      const token = {};
      const run = function (...args) { pending.delete(token); ids.delete(id); return fn.apply(this, args); };
      const id = req.call(this, run, ...rest);
      if (n <= %(rearms)d) { pending.set(token, now() + due); ids.set(id, token); }
      return id;
    };
    if (typeof can === 'function') {
      window[cancel] = function (id) { pending.delete(ids.get(id)); ids.delete(id); return can.call(this, id); };
    }
  };
  callbacks('requestAnimationFrame', 'cancelAnimationFrame', 'raf', 17);
  callbacks('requestIdleCallback', 'cancelIdleCallback', 'idle', 50);
  // Messages to a MessageChannel: how schedulers slice work without timers (each slice posts
  // the next). A chain counts while it lasts, up to the horizon: then it is a loop.
  const Channel = window.MessageChannel, post = window.MessagePort && MessagePort.prototype.postMessage;
  if (typeof Channel === 'function' && post) {
    const peer = new WeakMap(), queued = new WeakMap(), chains = new WeakMap();
    window.MessageChannel = function MessageChannel() {
      const channel = new Channel();
      peer.set(channel.port1, channel.port2);
      peer.set(channel.port2, channel.port1);
      for (const port of [channel.port1, channel.port2]) {
        queued.set(port, []);
        port.addEventListener('message', () => {
          const q = queued.get(port);
          if (q.length) pending.delete(q.shift());
        });
      }
      return channel;
    };
    window.MessageChannel.prototype = Channel.prototype;
    MessagePort.prototype.postMessage = function (...args) {
      const to = peer.get(this);
      if (to) {
        const q = queued.get(to), t = now();
        if (!q.length || !chains.has(to)) chains.set(to, t);
        if (t - chains.get(to) <= %(horizon)d) { const token = {}; q.push(token); pending.set(token, t); }
      }
      return post.apply(this, args);
    };
  }
  // A callback set again after the page was scrolled or clicked is answering that, not looping:
  // a feed's "draw the next batch" timer is the same function every time.
  const anew = () => rounds.clear();
  for (const type of ['scroll', 'click', 'wheel', 'keydown']) {
    window.addEventListener(type, anew, { capture: true, passive: true });
  }
  Object.defineProperty(window, '%(name)s', {
    enumerable: false, configurable: false,
    value: Object.freeze({
      timeout: (fn, ms) => set.call(window, fn, ms),  // for our own waits, never counted
      // [number of timers still to fire, ms until the last of them is due]
      pending() {
        const t = now();
        let last = 0;
        for (const [id, due] of pending) {
          if (due < t - 1000) { pending.delete(id); continue; }  // throttled or lost: not waited for
          last = Math.max(last, due - t);
        }
        return [pending.size, Math.max(0, last)];
      },
    }),
  });
})();
"""


# The page's state as readiness sees it, from one helper per document (held only by us).
_AGENT_JS = """
(args) => {
  const [probeName, extra] = args;
  const probe = window[probeName];
  const later = probe ? probe.timeout : setTimeout;
  let lastChange = performance.now(), harvesting = false, calls = 0;
  const dropped = new Map();  // text -> [links, scroll position when added]
  const added = new WeakMap();
  // Where the page is scrolled: [window y, the inner scroller's CSS path or null, its scrollTop];
  // `back`: a view further up (a node dropped as the page scrolled down was shown there).
  const position = (el, back) => {
    let box = el && el.parentElement;
    while (box && box !== document.body && box !== document.documentElement) {
      const oy = getComputedStyle(box).overflowY;
      if ((oy === 'auto' || oy === 'scroll' || oy === 'overlay') && box.scrollHeight > box.clientHeight + 2) break;
      box = box.parentElement;
    }
    const inner = box && box !== document.body && box !== document.documentElement ? box : null;
    const y = window.scrollY - (back && !inner ? window.innerHeight : 0);
    const top = inner ? inner.scrollTop - (back ? inner.clientHeight : 0) : 0;
    return [Math.max(0, Math.round(y)), inner ? path(inner) : null, Math.max(0, Math.round(top))];
  };
  const path = (el) => {
    const parts = [];
    for (let n = el; n && n.nodeType === 1 && n !== document.documentElement; n = n.parentElement) {
      let part = n.tagName.toLowerCase();
      if (n.id) { parts.unshift(part + '#' + CSS.escape(n.id)); break; }
      const siblings = n.parentElement
        ? Array.from(n.parentElement.children).filter((c) => c.tagName === n.tagName) : [];
      if (siblings.length > 1) part += ':nth-of-type(' + (siblings.indexOf(n) + 1) + ')';
      parts.unshift(part);
    }
    return parts.join(' > ');
  };
  const watcher = new MutationObserver((records) => {
    lastChange = performance.now();
    if (!harvesting) return;
    for (const r of records) {
      for (const n of r.addedNodes) if (n.nodeType === 1) added.set(n, position(n));
      for (const n of r.removedNodes) {
        if (n.nodeType !== 1) continue;
        const text = (n.textContent || '').replace(/\\s+/g, ' ').trim();
        if (text.length < 12 || dropped.has(text)) continue;
        const links = Array.from(n.querySelectorAll('a[href]'), (a) => a.href).slice(0, 50);
        if (n.tagName === 'A' && n.href) links.push(n.href);
        dropped.set(text, [links, added.get(n) || position(r.target, true)]);
        if (dropped.size > 5000) harvesting = false;
      }
    }
  });
  watcher.observe(document, {subtree: true, childList: true, characterData: true,
                             attributes: true, attributeFilter: ['aria-busy', 'hidden']});
  const words = ['indlæser', 'indlæses', 'henter', 'hentes', 'loading', 'vent venligst', 'please wait',
                 ...extra.map((w) => w.toLowerCase())];
  const busyClass = /(^|[-_\\s])(spinner|skeleton|shimmer|loader|loading|is-loading|placeholder-glow)([-_\\s]|$)/i;
  const onScreen = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0) return false;
    if (r.bottom <= 0 || r.top >= window.innerHeight || r.right <= 0 || r.left >= window.innerWidth) return false;
    const cs = getComputedStyle(el);
    return cs.visibility !== 'hidden' && cs.display !== 'none' && Number(cs.opacity) > 0.05;
  };
  const describe = (el, why) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    else if (typeof el.className === 'string' && el.className.trim()) {
      s += '.' + el.className.trim().split(/\\s+/).slice(0, 2).join('.');
    }
    return s + ' (' + why + ')';
  };
  // The first loading placeholder on screen, by its description; those in `stale` (judged
  // stale earlier on this page) do not count.
  const placeholder = (stale) => {
    const fresh = (d) => (stale.includes(d) ? null : d);
    for (const el of document.querySelectorAll('[aria-busy="true"], [role=progressbar], progress')) {
      if (!onScreen(el)) continue;
      const d = fresh(describe(el, el.getAttribute('aria-busy') === 'true' ? 'aria-busy' : 'progress'));
      if (d) return d;
    }
    for (const el of document.querySelectorAll('[class]')) {
      const cls = typeof el.className === 'string' ? el.className : '';
      if (!cls || !busyClass.test(cls) || !onScreen(el)) continue;
      const d = fresh(describe(el, 'class'));
      if (d) return d;
    }
    const walker = document.createTreeWalker(document.body || document.documentElement, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(), seen = 0; node && seen < 20000; node = walker.nextNode(), seen++) {
      const own = node.data.replace(/\\s+/g, ' ').trim().toLowerCase();
      if (!own || own.length > 60) continue;
      const says = (w) => own === w || own.startsWith(w + ' ') || own.startsWith(w + '…') || own.startsWith(w + '.');
      if (!words.some(says)) continue;
      const el = node.parentElement;
      if (!el || el.closest('script, style, noscript, template')) continue;
      const whole = (el.innerText || '').replace(/\\s+/g, ' ').trim();
      if (whole.length <= 60 && onScreen(el)) {
        const d = fresh(describe(el, '"' + whole + '"'));
        if (d) return d;
      }
    }
    return null;
  };
  // The visible text, shadow roots included (innerText leaves them out).
  const deepText = () => {
    let text = document.body ? document.body.innerText : '';
    const walk = (root, depth) => {
      if (depth > 20) return;
      for (const el of root.querySelectorAll('*')) {
        if (!el.shadowRoot) continue;
        for (const child of el.shadowRoot.children) if (child.innerText) text += '\\n' + child.innerText;
        walk(el.shadowRoot, depth + 1);
      }
    };
    if (document.body) walk(document.body, 0);
    return text;
  };
  const hash = (s) => {
    let h = 2166136261;
    for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 16777619); }
    return (h >>> 0).toString(16) + ':' + s.length;
  };
  return {
    // Wait (at most limitMs) until the DOM has been quiet for quietMs and no short timer is left
    // to fire, reading the text twice on the way: once the DOM has been quiet for half the
    // window, and at its end. Returns [quiet, timers left, text hash (null if the two reads
    // differed), text length, placeholder, timers probed]. A newer call ends an older one.
    wait(quietMs, limitMs, stale) {
      const t0 = performance.now(), call = ++calls;
      let first = null, firstAt = -1;
      return new Promise((resolve) => {
        const tick = () => {
          const now = performance.now(), calm = now - lastChange;
          const [timers, due] = probe ? probe.pending() : [0, 0];
          if (call !== calls) { resolve(null); return; }
          if (lastChange > firstAt) first = null;  // the DOM changed since the first read
          if (first === null && calm >= quietMs / 2 && timers === 0) {
            first = hash(deepText());
            firstAt = performance.now();
          }
          // The second read comes at least half a window after the first, never in the same
          // turn: a quiet DOM is no proof while a response is being parsed or a frame drawn.
          const done = calm >= quietMs && timers === 0 && first !== null && now - firstAt >= quietMs / 2;
          if (done || now - t0 >= limitMs) {
            const text = deepText(), second = hash(text);
            resolve([done, timers, second === first ? second : null, text.replace(/\\s+/g, '').length,
                     placeholder(stale), !!probe]);
            return;
          }
          const wait = calm < quietMs ? (first === null ? quietMs / 2 : quietMs) - calm
            : timers ? Math.min(due + 5, 250) : firstAt + quietMs / 2 - now;
          later(tick, Math.max(10, Math.min(250, wait)));
        };
        tick();
      });
    },
    harvest(on) { harvesting = !!on; },
    dropped() { return Array.from(dropped, ([text, [links, pos]]) => [text, links, pos]); },
    stop() { watcher.disconnect(); },
  };
}
"""


@dataclass(frozen=True)
class ReadyLimits:
    """How long readiness may wait (from a site's `ready:` config)."""

    max_seconds: float = 10.0
    quiet_ms: int = 150
    placeholders: tuple[str, ...] = ()
    step_timeout: float = 30.0

    def longer(self, factor: float = 2.0) -> ReadyLimits:
        """Longer waits, for a second capture of a page whose first did not show every mention."""
        return ReadyLimits(self.max_seconds * factor, int(self.quiet_ms * factor), self.placeholders, self.step_timeout)


@dataclass
class Readiness:
    """How the wait for a page ended: ready or not, why, after how long, over how many reads."""

    ready: bool
    seconds: float
    reads: int
    reason: str  # what made it ready, or what still held it when the limit came
    placeholder: str | None = None  # a placeholder still on screen (stale, or at the limit)
    timers_probed: bool = True
    history: list[str] = field(default_factory=list)


class PageAgent:
    """The readiness helper of one document: created after load, again after a navigation."""

    def __init__(self, page: Page, handle: JSHandle, step_timeout: float) -> None:
        self.page, self.handle, self.step_timeout = page, handle, step_timeout
        self.probed = True  # whether the page's timers were seen (known after the first wait)

    @classmethod
    async def attach(cls, page: Page, probe: str, limits: ReadyLimits) -> PageAgent:
        extra = [p for p in limits.placeholders if p.lower() not in (w.lower() for w in DEFAULT_PLACEHOLDERS)]
        handle = await asyncio.wait_for(page.evaluate_handle(_AGENT_JS, [probe, extra]), limits.step_timeout)
        return cls(page, handle, limits.step_timeout)

    async def call(self, expression: str, arg: Any = None) -> Any:
        return await asyncio.wait_for(self.handle.evaluate(expression, arg), self.step_timeout)

    async def harvest(self, on: bool) -> None:
        await self.call("(a, on) => a.harvest(on)", on)

    async def dropped(self) -> list[tuple[str, list[str], list[Any]]]:
        return [(t, list(links), list(pos)) for t, links, pos in await self.call("a => a.dropped()")]

    async def release(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.handle.evaluate("a => a.stop()"), 5)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.handle.dispose(), 5)


async def wait_ready(
    agent: PageAgent, network: NetworkWatch, limits: ReadyLimits, actions: list[Action] | None = None,
    *, budget: float | None = None, stale: set[str] | None = None, min_quiet_ms: int = 0,
) -> Readiness:
    """Wait until the page is ready (module docstring), at most `limits.max_seconds` (or `budget`).

    `stale`: placeholders already waited for in vain on this page (they do not hold us again);
    one waited for in vain now is added. `min_quiet_ms`: the first quiet window at least this."""
    stale = stale if stale is not None else set()
    t0 = time.monotonic()
    limit = limits.max_seconds if budget is None else min(budget, limits.max_seconds)
    quiet = max(30, limits.quiet_ms, min_quiet_ms)
    reads = 0
    history: list[str] = []
    holding = "nothing read yet"
    placeholder: str | None = None
    while True:
        left = limit - (time.monotonic() - t0)
        if left <= 0:
            result = Readiness(False, time.monotonic() - t0, reads, f"not ready after {limit:g} s: {holding}",
                               placeholder, agent.probed, history)
            if placeholder is not None:
                stale.add(placeholder)  # waited for once: later waits on this page do not wait again
            break
        # Requests first; a placeholder on screen keeps a slow request holding us up to the limit.
        if network.busy() or (placeholder and network.pending):
            await network.idle(left, hold=left if placeholder else None)
            if network.busy() or (placeholder and network.pending):
                holding = f"{len(network.pending)} request(s) under way"
                continue
        state = await agent.call("(a, w) => a.wait(...w)", [quiet, int(left * 1000), sorted(stale)])
        if state is None:
            continue
        done, timers, text, length, placeholder, agent.probed = state
        reads += 2
        if network.busy():
            holding = "a request started"
            continue
        if timers:
            holding = f"{timers} timer(s), frame(s) or scheduled task(s) still to run"
            continue
        if not done:
            holding = "the page kept changing"
            quiet = min(quiet * 2, MAX_QUIET_MS)
            continue
        if placeholder is not None:
            # Whatever is to replace it may come later than anything we can see coming: wait,
            # in ever longer quiet windows, up to the limit; a page still showing it then was
            # not read whole (and its absent names count for nothing).
            holding = f"a loading placeholder is on screen: {placeholder}"
            history.append(f"placeholder {placeholder}; waiting {quiet} ms")
            quiet = min(quiet * 2, MAX_QUIET_MS)
            continue
        if text is None:
            history.append(f"text changed ({length} characters); waiting {quiet} ms")
            holding = "the text changed between two reads"
            quiet = min(quiet * 2, MAX_QUIET_MS)
            continue
        result = Readiness(True, time.monotonic() - t0, reads,
                           f"text unchanged over two reads {quiet // 2} ms apart, DOM quiet {quiet} ms", None,
                           agent.probed, history)
        break
    if actions is not None:
        actions.append(Action(_now(), "wait", "ready" if result.ready else "not ready",
                              f"{result.reason} ({result.seconds:.2f} s, {result.reads} reads)"))
    return result


class ReadyCheck:
    """Readiness as expansion calls it (`expand.ReadyHook`): every wait is kept, the first one
    (after load) says whether the page became ready at all."""

    def __init__(self, agent: PageAgent, network: NetworkWatch, limits: ReadyLimits) -> None:
        self.agent, self.network, self.limits = agent, network, limits
        self.results: list[Readiness] = []
        self.stale: set[str] = set()

    @property
    def first(self) -> Readiness | None:
        return self.results[0] if self.results else None

    @property
    def last(self) -> Readiness | None:
        return self.results[-1] if self.results else None

    async def wait(self, budget: float, min_quiet_ms: int = 0) -> tuple[bool, float, str]:
        result = await wait_ready(self.agent, self.network, self.limits, budget=budget, stale=self.stale,
                                  min_quiet_ms=min_quiet_ms)
        self.results.append(result)
        why = result.reason
        if result.placeholder and result.ready:
            why += f": {result.placeholder}"
        return result.ready, result.seconds, why

    async def started(self) -> None:
        await self.agent.harvest(True)
