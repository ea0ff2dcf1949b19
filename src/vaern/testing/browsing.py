"""Driving a real Chromium from synchronous tests and benchmarks.

`BrowserThread` runs an asyncio loop in a thread with one `BrowserSession` (one browser for a
whole test module, as in a crawl process); `run(fn)` runs `fn(session)` on it and waits.

`python -m vaern.testing.browsing hold URL` is a stand-in crawl process for the kill tests: it
starts a browser, begins rendering URL, prints `{"marker": …, "pid": …}` on one line once
Chromium is up, and then waits to be killed. `hold-bare` does the same with Playwright launched
from `launch_options()` alone, as a script outside the browser path would.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import TypeVar

from vaern.config import Browser
from vaern.crawler.browser import BrowserSession
from vaern.crawler.netguard import NetGuard

T = TypeVar("T")

LOOPBACK_SITES = ("127.0.0.1",)


class BrowserThread:
    """An event loop in a background thread holding one BrowserSession."""

    def __init__(self, settings: Browser | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="browser-loop", daemon=True)
        self._thread.start()
        # The fixture sites listen on 127.0.0.1; 127.0.0.2 stays the "internal" address.
        self.session = BrowserSession(settings, guard=NetGuard(LOOPBACK_SITES))

    def run(self, fn: Callable[[BrowserSession], Awaitable[T]], timeout: float = 120.0) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(_call(fn, self.session), self.loop)
        return future.result(timeout)

    def close(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.session.close(), self.loop).result(60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()


async def _call(fn: Callable[[BrowserSession], Awaitable[T]], session: BrowserSession) -> T:
    return await fn(session)


async def _hold(url: str) -> None:
    from vaern.crawler.render import render

    session = BrowserSession(Browser(load_timeout=600, page_timeout=3600), guard=NetGuard(LOOPBACK_SITES))
    await session.browser()
    task = asyncio.create_task(render(session, url))
    await asyncio.sleep(1.0)  # let the page start loading: the kill comes mid-page
    print(json.dumps({"marker": session.marker, "pid": os.getpid()}), flush=True)
    await task


async def _hold_bare(url: str) -> None:
    """Playwright launched from launch_options() alone, no session (the marker must still reap it)."""
    from playwright.async_api import async_playwright

    from vaern.crawler.browser import MARKER_ENV, launch_options
    from vaern.crawler.guardproxy import GuardProxy

    proxy = GuardProxy(NetGuard(LOOPBACK_SITES), default_limit=5 << 20).start()
    options = launch_options(proxy=proxy.url)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(**options)
        page = await browser.new_page()
        task = asyncio.create_task(page.goto(url, timeout=0))
        await asyncio.sleep(1.0)
        print(json.dumps({"marker": options["env"][MARKER_ENV], "pid": os.getpid()}), flush=True)
        await task


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] in ("hold", "hold-bare"):
        asyncio.run(_hold(argv[1]) if argv[0] == "hold" else _hold_bare(argv[1]))
        return 0
    print("usage: python -m vaern.testing.browsing hold|hold-bare URL", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
