"""Finding, launching and always cleaning up Chromium, for rendering and evidence capture.

Controlled by the `browser:` section of the config (`executable`, `timeout`, `load_timeout`,
`page_timeout`, `width`, `height`, `locale`) and the `VAERN_CHROMIUM` environment variable.
Search order (CONTRACT.md): VAERN_CHROMIUM, then `browser.executable`, then Playwright's own
Chromium if installed, then a system Chromium.

One `BrowserSession` per crawl process: one Chromium, a fresh context per page (service workers
blocked, so every request stays visible), a timeout on every step. Every connection the browser
makes goes through the session's guard proxy (crawler/guardproxy.py), each context through a
port of its own.

No Chromium outlives its crawl. Three layers, because no single one covers every exit path:

1. Normal end or failure: `BrowserSession.close()` closes the browser, then kills whatever still
   carries the session's marker; an `atexit` hook does the same if the event loop never got there.
2. The crawl process is killed (SIGKILL included): Playwright's driver sees its stdin close and
   closes the browser; if the driver is killed too, Chromium sees its DevTools pipe close and exits.
3. Anything that still survives (a hung Chromium, a killed process group): every Chromium we start
   carries a marker naming the crawl process (pid and start time) in its command line (the
   profile directory lives in a per-session folder named after the marker) and in its
   environment (for the crash handler, which has no profile argument). `reap_orphaned_browsers()`
   kills the marked processes whose crawl process is gone and removes their folders; the service
   calls it after every crawl child exits and when it starts. It keeps to its own process tree
   (`TREE_ENV`): where several test runs share a machine, none reaps the browsers another one
   left behind on purpose to look at.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import re
import secrets
import shutil
import signal
import tempfile
import weakref
from collections.abc import AsyncIterator, Awaitable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import psutil

from vaern.config import Browser
from vaern.crawler.guardproxy import GuardProxy, Listener
from vaern.crawler.netguard import NetGuard
from vaern.crawler.sitelogin import SiteLogin
from vaern.errors import BrowserNotFound

if TYPE_CHECKING:
    from playwright.async_api import Browser as PlaywrightBrowser
    from playwright.async_api import BrowserContext, Page, Playwright

# What a context is opened with: (user agent, extra headers, viewport, HTTPS errors ignored,
# response limit in bytes or None for the session's).
_ContextKey = tuple[str | None, tuple[tuple[str, str], ...], tuple[int, int] | None, bool, int | None]


def _key(
    user_agent: str | None, headers: Mapping[str, str] | None, viewport: tuple[int, int] | None = None,
    ignore_https_errors: bool = False, limit: int | None = None,
) -> _ContextKey:
    return (user_agent, tuple(sorted(headers.items())) if headers else (), viewport, ignore_https_errors, limit)

log = logging.getLogger(__name__)
T = TypeVar("T")

# Flags for locked-down hosts (DESIGN.md): no sandbox as root in containers, no GPU, and nothing
# that phones home — on a closed network those connections fail and slow every start.
LAUNCH_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)

# The browser's network goes through the guard proxy only (DESIGN.md). Chromium sends loopback
# addresses straight out unless told `<-loopback>`; QUIC (UDP) and WebRTC's UDP would bypass an
# HTTP proxy; a prefetching resolver would look names up behind the guard's back. (With a fixed
# proxy Chromium resolves no page's host itself, so DNS-over-HTTPS has nothing to do. No
# --disable-features here: Chromium keeps only the last one, and Playwright passes its own.)
NETWORK_ARGS = (
    "--proxy-bypass-list=<-loopback>",
    "--disable-quic",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--dns-prefetch-disable",
)
NO_BYPASS = "<-loopback>"
MEMORY_POLL_S = 0.5
NO_NETWORK = "http://127.0.0.1:9"  # the discard port: nothing listens, every connection fails

SYSTEM_CHROMIUMS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

MARKER_PREFIX = "vaern-browser-"
MARKER_ENV = "VAERN_BROWSER_MARKER"
_MARKER = re.compile(re.escape(MARKER_PREFIX) + r"(\d+)-(\d+)-([0-9a-f]+)")
# Which process tree a process belongs to: inherited by everything it starts, Chromium included,
# and kept when a crawl dies and its browser is re-parented. Unset for the service and the
# commands (one tree: this machine's Værn); each test run sets its own (vaern.testing.processes).
TREE_ENV = "VAERN_TREE"


def _playwright_chromium() -> str | None:
    """Playwright's downloaded Chromium, if `playwright install chromium` was ever run."""
    root = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache" / "ms-playwright")
    if not root.is_dir():
        return None
    patterns = ("chromium-*/chrome-linux*/chrome", "chromium_headless_shell-*/chrome-*/chrome-headless-shell")
    for pattern in patterns:
        found = sorted(root.glob(pattern), reverse=True)
        if found:
            return str(found[0])
    return None


def find_chromium(settings: Browser | None = None) -> str:
    """The Chromium executable to drive, or BrowserNotFound saying how to get one."""
    for named, origin in (
        (os.environ.get("VAERN_CHROMIUM"), "VAERN_CHROMIUM"),
        (settings.executable if settings else None, "browser.executable"),
    ):
        if named:
            path: str = shutil.which(named) or named
            if not Path(path).is_file() or not os.access(path, os.X_OK):
                raise BrowserNotFound(f"{origin} names {named!r}, which is not an executable file")
            return path
    own = _playwright_chromium()
    if own:
        return own
    for name in SYSTEM_CHROMIUMS:
        system = shutil.which(name)
        if system:
            return system
    raise BrowserNotFound(
        "no Chromium found. Install one: on Debian/Ubuntu `apt-get install chromium`; "
        "or `playwright install chromium`; or point VAERN_CHROMIUM (or browser.executable in "
        "vaern.yaml) at a Chromium or Chrome executable."
    )


def launch_options(
    settings: Browser | None = None, marker: str | None = None, folder: Path | None = None, *,
    proxy: str | None = None,
) -> dict[str, Any]:
    """Keyword arguments for Playwright's `chromium.launch()`.

    Every connection Chromium makes goes to `proxy` (crawler/guardproxy.py: the SSRF guard),
    loopback included and with no path around it: no QUIC, no UDP for WebRTC. Without a proxy,
    Chromium has no network at all (its proxy is an address nothing listens on): it can still
    open file: and data: URLs, which is all the report printer needs.

    Chromium's environment always carries a marker naming this process (a new one unless
    given), so a browser left behind by a killed crawl can be reaped whoever launched it (see
    the module docstring). With `folder`, Chromium keeps its temporary files there.
    """
    timeout_s = settings.timeout if settings else 30.0
    env = {**os.environ, MARKER_ENV: marker or new_marker()}
    if folder is not None:
        env["TMPDIR"] = str(folder)
    return {
        "executable_path": find_chromium(settings),
        "headless": True,
        "args": [*LAUNCH_ARGS, *NETWORK_ARGS],
        "proxy": {"server": proxy or NO_NETWORK, "bypass": NO_BYPASS},
        "timeout": timeout_s * 1000,
        "env": env,
    }


# ---------------------------------------------------------------------------------------------
# Markers and the processes that carry them.


def _start_ticks(pid: int) -> int:
    """A process's start time in 1/100 s: with the pid it names one process, even after pid reuse."""
    return int(psutil.Process(pid).create_time() * 100)


def new_marker() -> str:
    """A marker naming this process as the owner of the browser about to be started."""
    pid = os.getpid()
    return f"{MARKER_PREFIX}{pid}-{_start_ticks(pid)}-{secrets.token_hex(4)}"


def marker_dir(marker: str) -> Path:
    """The per-session folder Playwright and Chromium keep their temporary files in."""
    return Path(tempfile.gettempdir()) / marker


def owner_alive(marker: str) -> bool:
    """Whether the process that started this marker's browser still runs."""
    m = _MARKER.fullmatch(marker)
    if not m:
        return False
    pid, ticks = int(m.group(1)), int(m.group(2))
    try:
        proc = psutil.Process(pid)
        # create_time is rounded differently across reads; a tick either way is the same process.
        return abs(int(proc.create_time() * 100) - ticks) <= 1 and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _marker_of(proc: psutil.Process) -> str | None:
    try:
        cmdline = proc.cmdline()
    except psutil.Error:
        return None
    for arg in cmdline:
        m = _MARKER.search(arg)
        if m:
            return m.group(0)
    # The crash handler has no profile argument; it inherits the environment. Reading every
    # process's environment is slow and mostly refused, so only look at browser-like ones.
    exe = os.path.basename(cmdline[0]) if cmdline else ""
    if "chrom" in exe or "crashpad" in exe or "headless" in exe:
        try:
            found = proc.environ().get(MARKER_ENV, "")
        except psutil.Error:
            return None
        m = _MARKER.fullmatch(found)
        return m.group(0) if m else None
    return None


def browser_processes(marker: str | None = None) -> list[tuple[psutil.Process, str]]:
    """Live Chromium processes Værn started (all, or those of one marker), with their markers."""
    found = []
    for proc in psutil.process_iter():
        if proc.pid == os.getpid():
            continue
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
        except psutil.Error:
            continue
        m = _marker_of(proc)
        if m and (marker is None or m == marker):
            found.append((proc, m))
    return found


def browser_trees(found: list[tuple[psutil.Process, str]]) -> dict[str, str]:
    """marker -> the process tree (TREE_ENV, "" when unset) its browser was started in.

    Read from the processes whose environment is intact, the browser itself and its crash
    handler: Chromium writes its helpers' new command lines over their environment. A browser
    with none of those left belongs to no tree here; `orphaned_browsers` counts it as untagged.
    """
    trees: dict[str, str] = {}
    for proc, m in found:
        if m in trees:
            continue
        try:
            env = proc.environ()
        except psutil.Error:
            continue
        if env.get(MARKER_ENV) == m:
            trees[m] = env.get(TREE_ENV, "")
    return trees


def orphaned_browsers() -> list[tuple[psutil.Process, str]]:
    """Værn's Chromium processes of this process tree whose crawl process is gone."""
    tree = os.environ.get(TREE_ENV, "")
    orphans = [(proc, m) for proc, m in browser_processes() if not owner_alive(m)]
    trees = browser_trees(orphans)
    return [(proc, m) for proc, m in orphans if trees.get(m, "") == tree]


def kill_browsers(marker: str | None = None, *, orphans_only: bool = False, wait: float = 5.0) -> int:
    """Kill Værn's Chromium processes: those of `marker`, or all; with `orphans_only`, only this
    tree's whose crawl process is gone. Removes the markers' folders too. Returns how many were killed."""
    found = orphaned_browsers() if orphans_only else browser_processes(marker)
    victims = [(proc, m) for proc, m in found if marker is None or m == marker]
    own_group = os.getpgrp()
    for proc, _m in victims:
        with contextlib.suppress(psutil.Error, OSError):
            # Playwright starts Chromium as a process-group leader: killing the group takes its
            # zygotes and renderers along even if one of them lost its marker.
            pgid = os.getpgid(proc.pid)
            if pgid == proc.pid and pgid != own_group:
                os.killpg(pgid, signal.SIGKILL)
            proc.kill()
    if victims:
        psutil.wait_procs([p for p, _m in victims], timeout=wait)
    for m in {m for _p, m in victims} | ({marker} if marker else set()):
        shutil.rmtree(marker_dir(m), ignore_errors=True)
    return len(victims)


def reap_orphaned_browsers() -> int:
    """Kill every Værn Chromium of this process tree whose crawl process is gone, and remove
    leftover session folders of browsers no longer running.

    Safe to call at any time from any process: browsers of running crawls are left alone, and so
    are other process trees' (see TREE_ENV).
    """
    killed = kill_browsers(orphans_only=True)
    running = {m for _proc, m in browser_processes()}
    root = Path(tempfile.gettempdir())
    for folder in root.glob(MARKER_PREFIX + "*"):
        if _MARKER.fullmatch(folder.name) and not owner_alive(folder.name) and folder.name not in running:
            shutil.rmtree(folder, ignore_errors=True)
    return killed


# ---------------------------------------------------------------------------------------------
# One browser per crawl process.


class BrowserSession:
    """One Chromium for one crawl process; a fresh context for every page.

    Use as `async with BrowserSession(config.browser) as session:` and
    `async with session.page() as page:`. Chromium is launched on first use and relaunched if
    it crashed. Every step has a timeout (`browser.timeout` seconds).
    """

    def __init__(
        self, settings: Browser | None = None, *, guard: NetGuard | None = None, max_response_mb: float = 5.0,
        login: SiteLogin | None = None,
    ) -> None:
        self.settings = settings or Browser()
        # A logged-in site's session (sitelogin.py): every context gets its cookies, host-only,
        # so Chromium sends them to the site's hosts and nowhere else; records redact them.
        self.login = login
        self.marker = new_marker()
        self._timeout = self.settings.timeout
        # Every connection of this session's Chromium is judged by `guard` (default: no private
        # address at all), in a proxy started with the browser.
        self._proxy = GuardProxy(
            guard or NetGuard(), default_limit=int(max_response_mb * 1024 * 1024), connect_timeout=self._timeout
        )
        self._playwright: Playwright | None = None
        self._browser: PlaywrightBrowser | None = None
        self._dead: PlaywrightBrowser | None = None  # a browser found dead before Playwright noticed
        self._lock = asyncio.Lock()
        self._spare: tuple[_ContextKey, asyncio.Future[tuple[BrowserContext, Page]]] | None = None
        self._closing: set[asyncio.Future[None]] = set()
        # Each context's own port on the proxy: what its page had refused or cut.
        self._listeners: dict[BrowserContext, Listener] = {}
        # The name the readiness timer probe answers to in every page of this session
        # (crawler/readiness.py): random, so a page cannot count on it.
        self.probe = "__" + secrets.token_hex(8)
        self.launched: dict[str, Any] = {}  # the launch options of the running Chromium (provenance)
        self._closed = False
        self._atexit = _kill_at_exit(self.marker)

    @property
    def folder(self) -> Path:
        return marker_dir(self.marker)

    @property
    def guard(self) -> NetGuard:
        """The SSRF guard every connection of this session's Chromium is judged by."""
        return self._proxy.guard

    async def __aenter__(self) -> BrowserSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def browser(self) -> PlaywrightBrowser:
        """The running browser, launched (or relaunched after a crash) if need be."""
        if self._closed:
            raise RuntimeError("the browser session is closed")
        async with self._lock:
            if self._browser is not None and self._browser.is_connected() and self._browser is not self._dead:
                return self._browser
            if self._playwright is None:
                self.folder.mkdir(mode=0o700, exist_ok=True)
                self._playwright = await asyncio.wait_for(_start_playwright(self.folder), self._timeout)
            if self._browser is not None:
                log.warning("Chromium went away; starting a new one")
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._browser.close(), 2.0)  # it is gone; do not wait long
                await asyncio.to_thread(kill_browsers, self.marker)
                self.folder.mkdir(mode=0o700, exist_ok=True)
            await asyncio.to_thread(self._proxy.start)
            options = launch_options(self.settings, self.marker, self.folder, proxy=self._proxy.url)
            self.launched = options
            self._browser = await asyncio.wait_for(
                self._playwright.chromium.launch(**options), self._timeout + 5
            )
            return self._browser

    @contextlib.asynccontextmanager
    async def page(
        self,
        *,
        user_agent: str | None = None,
        headers: Mapping[str, str] | None = None,
        ahead: bool = True,
    ) -> AsyncIterator[Page]:
        """A page in a fresh browser context, closed (with its context) when the block ends.

        Opening a context and its page costs Chromium a new renderer process (0.3–1 s on a
        small host), so the next page's context is opened while this one works: a spare that
        has never been used is as fresh as a new one. With `ahead=False` the caller says when
        (`open_ahead`): opening one competes for the CPU with the page's own navigation, so the
        renderer opens it once its page has loaded and is waiting on the network.

        The context's connections go through a port of the guard proxy of its own:
        `network_record(page)` says what the guard refused or cut for this page.
        """
        page = await self.open_page(user_agent=user_agent, headers=headers, ahead=ahead)
        try:
            yield page
        finally:
            self.close_page(page)

    async def open_page(
        self,
        *,
        user_agent: str | None = None,
        headers: Mapping[str, str] | None = None,
        ahead: bool = True,
        viewport: tuple[int, int] | None = None,
        ignore_https_errors: bool = False,
        max_response_bytes: int | None = None,
    ) -> Page:
        """A page in a fresh context that stays open until `close_page(page)`: for a page that is
        read now and perhaps captured as evidence later, from the same load (crawler/render.py).

        `viewport` (width, height) instead of the session's; `ignore_https_errors` for evidence of
        a page with a bad certificate (the certificate is recorded); `max_response_bytes` instead
        of the session's limit on one response (the guard proxy cuts past it)."""
        key = _key(user_agent, headers, viewport, ignore_https_errors, max_response_bytes)
        _context, page = await self._take_spare(key) or await self._open(key)
        if ahead:
            self.open_ahead(user_agent=user_agent, headers=headers, viewport=viewport,
                            ignore_https_errors=ignore_https_errors, max_response_bytes=max_response_bytes)
        return page

    def close_page(self, page: Page) -> None:
        """Close a page from `open_page` with its context (in the background; `close()` waits)."""
        self._closing.add(asyncio.ensure_future(self._close_context(page.context)))
        self._closing = {t for t in self._closing if not t.done()}

    async def within_memory(self, work: Awaitable[T]) -> T:
        """`work`, unless this session's Chromium outgrows `browser.max_memory_mb` first."""
        return await within_memory(work, self.marker, self.settings.max_memory_mb)

    def network_record(self, page: Page) -> Listener:
        """The guard proxy's record of `page`'s connections: refusals and cut responses."""
        return self._listeners[page.context]

    def open_ahead(
        self, *, user_agent: str | None = None, headers: Mapping[str, str] | None = None,
        viewport: tuple[int, int] | None = None, ignore_https_errors: bool = False,
        max_response_bytes: int | None = None,
    ) -> None:
        """Start opening the next page's context now, unless one is already open or on its way:
        for a page like this one (the same arguments as `open_page`), or it is not used."""
        if not self._closed and self._spare is None:
            key = _key(user_agent, headers, viewport, ignore_https_errors, max_response_bytes)
            self._spare = (key, asyncio.ensure_future(self._open(key)))

    async def _open(self, key: _ContextKey) -> tuple[BrowserContext, Page]:
        from playwright.async_api import Error as PlaywrightError

        from vaern.crawler.readiness import timer_probe_script

        user_agent, headers, viewport, ignore_https_errors, limit = key
        settings = self.settings
        width, height = viewport or (settings.width, settings.height)
        await self.browser()  # starts the guard proxy with it
        listener = await self._proxy.open_listener(limit)
        for attempt in (1, 2):
            browser = await self.browser()
            try:
                context = await asyncio.wait_for(
                    browser.new_context(
                        service_workers="block",
                        viewport={"width": width, "height": height},
                        locale=settings.locale,
                        user_agent=user_agent,
                        extra_http_headers=dict(headers) if headers else None,
                        accept_downloads=False,
                        ignore_https_errors=ignore_https_errors,
                        proxy={"server": listener.url, "bypass": NO_BYPASS},
                    ),
                    self._timeout,
                )
                break
            except PlaywrightError:
                # The browser died and Playwright has not noticed yet: start a new one, once.
                if attempt == 2:
                    self._proxy.close_listener(listener)
                    raise
                self._dead = browser
        self._listeners[context] = listener
        try:
            await asyncio.wait_for(context.add_init_script(timer_probe_script(self.probe)), self._timeout)
            if self.login is not None and self.login.cookies:
                await asyncio.wait_for(context.add_cookies(self.login.browser_cookies()), self._timeout)  # type: ignore[arg-type]
            context.set_default_timeout(self._timeout * 1000)
            context.set_default_navigation_timeout(self._timeout * 1000)
            page = await asyncio.wait_for(context.new_page(), self._timeout)
            # The page's first script call sets up its script context; done here, off the path of
            # the page that will use it (and `_take_spare`'s check is then a quick one).
            await asyncio.wait_for(page.evaluate("1"), self._timeout)
        except BaseException:
            await self._close_context(context)
            raise
        return context, page

    async def _take_spare(self, key: _ContextKey) -> tuple[BrowserContext, Page] | None:
        """The context opened ahead for this kind of page, if it is ready to use."""
        if self._spare is None:
            return None
        spare_key, task = self._spare
        self._spare = None
        try:
            context, page = await asyncio.wait_for(task, self._timeout)
        except Exception:
            return None  # the browser died meanwhile, say: open a new one
        alive = spare_key == key and not page.is_closed() and context.browser is self._browser
        if alive:
            try:
                # Chromium may have died since the spare was opened, before Playwright noticed.
                await asyncio.wait_for(page.evaluate("1"), min(self._timeout, 5.0))
            except Exception:
                alive = False
        if not alive:
            await self._close_context(context)
            return None
        return context, page

    async def _close_context(self, context: BrowserContext) -> None:
        # A context that will not close within the step timeout is abandoned; the browser's
        # own close (or the marker sweep) takes it down.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(context.close(), self._timeout)
        listener = self._listeners.pop(context, None)
        if listener is not None:
            await self._proxy.close_listener_async(listener)

    async def close(self) -> None:
        """Close the browser and Playwright, then kill anything of ours that is still running."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._spare is not None:
                spare = await self._take_spare(self._spare[0])
                if spare is not None:
                    await self._close_context(spare[0])
            if self._closing:
                await asyncio.wait(self._closing, timeout=self._timeout)
            if self._browser is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._browser.close(), self._timeout)
            if self._playwright is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._playwright.stop(), self._timeout)
        finally:
            self._browser = None
            self._playwright = None
            await asyncio.to_thread(kill_browsers, self.marker)
            await asyncio.to_thread(self._proxy.close)
            atexit.unregister(self._atexit)


class BrowserOutgrown(Exception):
    """Chromium grew past `browser.max_memory_mb` while a page was open; the page was closed."""


async def within_memory(work: Awaitable[T], marker: str, limit_mb: float) -> T:
    """Run `work` while watching the memory of the Chromium carrying `marker` (the proportional
    set size of all its processes); past `limit_mb`, `work` is cancelled (its page closes as it
    unwinds) and BrowserOutgrown says so. A hostile page cannot take the machine down this way."""
    task = asyncio.ensure_future(work)
    known: dict[int, bool] = {}
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=MEMORY_POLL_S)
            if done:
                return task.result()
            used = await asyncio.to_thread(_memory_mb, marker, known)
            if used > limit_mb:
                raise BrowserOutgrown(f"the page took Chromium past {limit_mb:g} MB of memory "
                                      f"(browser.max_memory_mb, {used:.0f} MB in use); the page was closed")
    finally:
        if not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=30)


def _memory_mb(marker: str, known: dict[int, bool]) -> float:
    """Memory of the processes of ours carrying `marker` (the main Chromium process; its
    renderers and helpers may not carry it) and all their children, in MB. `known` remembers
    which processes carry the marker between calls."""
    counted: set[int] = set()
    total = 0
    for proc in psutil.Process().children(recursive=True):
        if proc.pid not in known:
            known[proc.pid] = _marker_of(proc) == marker
        if not known[proc.pid]:
            continue
        with contextlib.suppress(psutil.Error):
            for member in (proc, *proc.children(recursive=True)):
                if member.pid not in counted:
                    counted.add(member.pid)
                    with contextlib.suppress(psutil.Error):
                        total += member.memory_full_info().pss
    return total / (1024 * 1024)


def _kill_at_exit(marker: str) -> Any:
    def kill() -> None:
        with contextlib.suppress(Exception):
            kill_browsers(marker)

    atexit.register(kill)
    return kill


# One lock per event loop: two sessions starting at once must not see each other's TMPDIR.
_driver_env_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


async def _start_playwright(folder: Path) -> Playwright:
    """Start Playwright's driver with its temporary folder set to the session's folder.

    Playwright puts Chromium's profile in the driver's temporary folder and refuses a
    `--user-data-dir` argument; pointing TMPDIR at the marker's folder puts the marker into
    every Chromium process's command line. The driver copies the environment when it starts,
    so TMPDIR is changed only for that moment.
    """
    from playwright.async_api import async_playwright

    lock = _driver_env_locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with lock:
        before = os.environ.get("TMPDIR")
        os.environ["TMPDIR"] = str(folder)
        try:
            return await async_playwright().start()
        finally:
            if before is None:
                os.environ.pop("TMPDIR", None)
            else:
                os.environ["TMPDIR"] = before
