"""Rendering speed: a `render: browser` crawl of the fixture group next to a bare Playwright loop,
same pages, same run; the same crawl without the guard proxy (its cost); and one 50 MB page
(the crawl's peak memory with and without the proxy's size limit).

The fixture group (vaern.testing.jssite) has GROUP_POSTS posts that arrive by fetch() in batches
of 3 as the page is scrolled, each with comments behind a "Se flere kommentarer" button, and a
permalink page per post (an app shell that fetches its post). The crawl starts at the group and
follows the post links it finds in the rendered DOM (robots ignored, no politeness delay).

- Værn: `crawl_site` with `render: browser` (Scrapy, the browser download handler, a fresh context
  per page, bounded expansion with its waits for the page to settle, clicks on "show more"
  controls, text extraction, posts and permalinks), at concurrency 1 and at the site default 2.
- Bare loop: Playwright alone, one `browser.new_page()` per URL, the same URLs in the same order,
  `goto` (until load), then as many scrolls as Værn's expansion made on that page — each one
  scrolls to the bottom and waits up to 2 s for the page to grow — and `page.content()`. No
  clicks, no settling, no extraction: the least a script can do and still get infinite scroll.

`names` counts sightings of the group's three planted names (in posts 2 and 8 and in a comment
on post 4, all loaded by script) over all pages read: the group page and those three post pages
can show six. The bare loop reads a post page at its load event, before the post's own fetch()
has answered, so it reads those pages as empty app shells (and never opens comments): its
figure is a floor for opening pages, not for seeing what they show. It is kept as the issue
defines it; the names column says what each side actually read.

Each runs in a process of its own; the time is from before the browser starts to after the last
page; peak memory is the largest summed RSS of that process and all its descendants (Playwright's
driver, Chromium and its helpers), sampled every 50 ms. Target: Værn >= 0.75 of the bare loop's
pages per minute (at concurrency 1, like for like).

`CPU s/page` is the CPU time the whole machine spent (every process, Chromium's included) per
page read, and `CPUs busy` that time over the run's length. A fresh context's renderer goes on
starting up for about a second after its page opens, at most of a CPU: a page read when its
content has arrived pays all of that, a page closed at its load event (the bare loop) only part.
The last line says what the machine's CPUs allow at Værn's CPU cost per page, however little
it waited.

    .venv/bin/python bench/browser.py [--posts N] [--delay SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import threading
import time
from dataclasses import dataclass
from typing import Any

import psutil

from vaern.config import Config, Network, Site
from vaern.testing.jssite import PLANTED, JsSite
from vaern.testing.siteserver import SiteServer

NAMES = PLANTED["/group/"]  # in post 2's and 8's text and in a comment on post 4, all loaded by script


def _names_in(text: str) -> int:
    return sum(name in text for name in NAMES)


@dataclass
class Result:
    label: str
    pages: int
    seconds: float
    peak_mb: float
    scrolls: int
    cpu: float  # machine-wide CPU seconds (all processes) while it ran
    clicks: int = 0
    names: int = 0

    @property
    def per_minute(self) -> float:
        return self.pages / self.seconds * 60


class _Sink:
    def __init__(self) -> None:
        self.pages: list[tuple[str, int, int]] = []  # url, scrolls, clicks
        self.names = 0

    def page(self, page: Any) -> None:
        scrolls = sum(" scroll " in a for a in page.actions)
        clicks = sum(" click " in a for a in page.actions)
        self.pages.append((page.url, scrolls, clicks))
        self.names += _names_in(page.text)

    def unchanged(self, url: str) -> None:
        pass

    def gone(self, url: str, status: int) -> None:
        pass

    def failed(self, failure: Any) -> None:
        print("  failed:", failure.url, failure.reason)


def _without_guard_proxy() -> None:
    """For the comparison only: Chromium and its contexts connect directly, as before the guard
    proxy existed. Everything else in the crawl stays as it is."""
    from playwright.async_api import Browser

    import vaern.crawler.browser as browser

    launch = browser.launch_options

    def direct(*args: Any, **kwargs: Any) -> dict[str, Any]:
        kwargs.pop("proxy", None)
        options = launch(*args, **kwargs)
        options.pop("proxy")
        options["args"] = [a for a in options["args"] if a not in browser.NETWORK_ARGS]
        return options

    new_context = Browser.new_context

    async def direct_context(self: Browser, **kwargs: Any) -> Any:
        kwargs.pop("proxy", None)
        return await new_context(self, **kwargs)

    browser.launch_options = direct  # type: ignore[assignment]
    Browser.new_context = direct_context  # type: ignore[method-assign]


def _crawl_child(out: Any, base: str, concurrency: int, guard: bool = True, start: str = "/group/") -> None:
    from vaern.crawler.run import crawl_site

    if not guard:
        _without_guard_proxy()
    site = Site(
        id="gruppe",
        start_urls=[f"{base}{start}"],
        render="browser",
        follow={"allow": [r"/group/post/\d+$"], "max_depth": 1},
        robots="ignore",
        delay=0,
        autothrottle=False,
        concurrency=concurrency,
    )
    config = Config(organisation="Bench", network=Network(allow_private_hosts=["127.0.0.1"]), sites=[site])
    sink = _Sink()
    started, cpu = time.perf_counter(), _machine_cpu()
    crawl_site(config, site, sink, {})
    out.put((time.perf_counter() - started, _machine_cpu() - cpu, (sink.pages, sink.names)))


def _bare_child(out: Any, plan: list[tuple[str, int]]) -> None:
    async def run() -> tuple[float, float, int]:
        from playwright.async_api import TimeoutError as PlaywrightTimeout
        from playwright.async_api import async_playwright

        _without_guard_proxy()  # Playwright alone: no guard proxy
        from vaern.crawler.browser import launch_options
        started, cpu = time.perf_counter(), _machine_cpu()
        names = 0
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(**launch_options())
            for url, scrolls in plan:
                page = await browser.new_page()
                await page.goto(url, wait_until="load")
                for _ in range(scrolls):
                    height = await page.evaluate(
                        "() => { const h = document.scrollingElement.scrollHeight; window.scrollTo(0, h); return h; }"
                    )
                    try:
                        await page.wait_for_function(
                            "h => document.scrollingElement.scrollHeight > h", arg=height, timeout=2000
                        )
                    except PlaywrightTimeout:
                        pass
                html = await page.content()
                await page.close()
                names += _names_in(html)  # after the timed steps' page is closed; microseconds
            await browser.close()
        return time.perf_counter() - started, _machine_cpu() - cpu, names

    seconds, cpu, names = asyncio.run(run())
    out.put((seconds, cpu, names))


def _machine_cpu() -> float:
    """CPU seconds the whole machine has spent working (every process: Chromium's too)."""
    times = psutil.cpu_times()
    return float(times.user + times.nice + times.system)


def _measure(label: str, target: Any, args: tuple[Any, ...]) -> tuple[float, float, Any, float]:
    """Run `target` in a fresh process; return its (seconds, machine CPU seconds, data) and the
    tree's peak RSS in MB."""
    context = multiprocessing.get_context("spawn")
    out: Any = context.Queue()
    process = context.Process(target=target, args=(out, *args), daemon=True)
    process.start()
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(process.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                total = 0
                for proc in tree:
                    try:
                        total += proc.memory_info().rss
                    except psutil.Error:
                        pass
                peak = max(peak, total)
            except psutil.Error:
                break
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    seconds, cpu, data = out.get(timeout=1800)
    done.set()
    sampler.join()
    process.join(60)
    return seconds, cpu, data, peak / 1024 / 1024


def _crawl(
    base: str, concurrency: int, guard: bool = True, start: str = "/group/"
) -> tuple[Result, list[tuple[str, int, int]]]:
    """Værn's crawl of the group at this concurrency, and the pages it read (url, scrolls, clicks)."""
    seconds, cpu, (pages, names), peak = _measure("crawl", _crawl_child, (base, concurrency, guard, start))
    what = "" if guard else ", no guard proxy"
    result = Result(
        f"Værn render: browser crawl, concurrency {concurrency}{what}",
        len(pages),
        seconds,
        peak,
        cpu=cpu,
        scrolls=sum(p[1] for p in pages),
        clicks=sum(p[2] for p in pages),
        names=names,
    )
    return result, pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--posts", type=int, default=30, help="posts in the fixture group (default 30)")
    parser.add_argument("--delay", type=float, default=0.2, help="the fixture API's answer delay (s)")
    args = parser.parse_args()

    with JsSite(group_posts=args.posts, batch=3, delay=args.delay) as site, SiteServer() as plain:
        base = site.url("").rstrip("/")

        ours, pages = _crawl(base, 1)
        # The bare loop visits the same URLs, in the order the crawl reported them, scrolling as often.
        plan = [(url, scrolls) for url, scrolls, _clicks in pages]
        seconds, cpu, names, peak = _measure("bare", _bare_child, (plan,))
        bare = Result(
            "bare Playwright loop (new_page, goto, scrolls, content)",
            len(plan),
            seconds,
            peak,
            cpu=cpu,
            scrolls=sum(s for _u, s in plan),
            names=names,
        )
        ours2, _ = _crawl(base, 2)
        # The guard proxy's cost: the same crawl without it, taken in turns with a second guarded
        # run, so a change in the machine's load in between falls on both sides alike.
        unguarded, _ = _crawl(base, 1, guard=False)
        again, _ = _crawl(base, 1)
        unguarded2, _ = _crawl(base, 1, guard=False)
        results = [bare, ours, ours2, unguarded, again, unguarded2]
        # One 50 MB page, the crawl's whole process tree: cut at max_response_mb (5 MB) by the guard.
        plain_base = plain.url("").rstrip("/")
        huge_guarded, _ = _crawl(plain_base, 1, start="/_/huge?mb=50")
        huge_direct, _ = _crawl(plain_base, 1, guard=False, start="/_/huge?mb=50")

    print(
        f"fixture group: {args.posts} posts in batches of 3, API delay {args.delay:g} s; "
        f"{psutil.cpu_count()} CPUs, load average {psutil.getloadavg()[0]:.1f}"
    )
    print(
        f"{'':58} {'pages':>5} {'seconds':>8} {'pages/min':>9} {'scrolls':>7} {'clicks':>6} {'peak MB':>8} "
        f"{'names':>5} {'CPU s/page':>10} {'CPUs busy':>9}"
    )
    for r in results:
        print(
            f"{r.label:58} {r.pages:>5} {r.seconds:>8.1f} {r.per_minute:>9.1f} {r.scrolls:>7} "
            f"{r.clicks:>6} {r.peak_mb:>8.0f} {r.names:>5} {r.cpu / r.pages:>10.2f} {r.cpu / r.seconds:>9.2f}"
        )
    print(
        f"Værn / bare loop, pages per minute: {ours.per_minute / bare.per_minute:.2f} at concurrency 1, "
        f"{ours2.per_minute / bare.per_minute:.2f} at concurrency 2 (target >= 0.75)"
    )
    guarded = (ours.per_minute + again.per_minute) / 2
    direct = (unguarded.per_minute + unguarded2.per_minute) / 2
    guarded_cpu = (ours.cpu / ours.pages + again.cpu / again.pages) / 2
    direct_cpu = (unguarded.cpu / unguarded.pages + unguarded2.cpu / unguarded2.pages) / 2
    print(
        f"Guard proxy cost (concurrency 1, two runs each, in turns): {guarded:.1f} pages/min with it, "
        f"{direct:.1f} without: {1 - guarded / direct:+.1%} slower (target <= 10 %); "
        f"{guarded_cpu:.2f} vs {direct_cpu:.2f} machine CPU s per page"
    )
    print(
        f"The 50 MB page: crawl process tree peak {huge_guarded.peak_mb:.0f} MB with the guard proxy "
        f"(target < 1500 MB), {huge_direct.peak_mb:.0f} MB without it"
    )
    # The machine's CPUs bound any crawl: at its CPU seconds per page, even with no waiting at all
    # a crawl reads at most this many pages per minute here.
    cpus = psutil.cpu_count() or 1
    ceiling = min(ours.cpu / ours.pages, ours2.cpu / ours2.pages)
    print(
        f"CPU ceiling: at {ceiling:.2f} CPU s per page, {cpus} CPUs allow Værn at most "
        f"{cpus / ceiling * 60:.0f} pages/min = {cpus / ceiling * 60 / bare.per_minute:.2f} of the bare loop"
    )


if __name__ == "__main__":
    main()
