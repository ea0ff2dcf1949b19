"""Rendering speed and fidelity: a `render: browser` crawl of a JavaScript group next to a bare
Playwright loop that reads each page only once its planted content is there; the evidence the
whole pipeline secures (does it show every mention, how long from hit to stored snapshot); and
the guard proxy's cost (the same crawl without it; one 50 MB page's peak memory).

The fixture group (vaern.testing.jssite) has GROUP_POSTS posts that arrive by fetch() in
batches of 3 as the page is scrolled (an IntersectionObserver on a "Indlæser opslag …" sentinel),
each with comments behind a "Se flere kommentarer" button, and a permalink page per post (an app
shell that fetches its post). Every other post names someone (a name of its own: "planted").
The crawl starts at the group and follows the post links (robots ignored, no politeness delay).

- Værn: `crawl_site` with `render: browser` — readiness (content stable, no request, timer or
  placeholder), expansion (scrolling a view at a time, "show more" clicks, waiting for the page
  to be ready before concluding), text extraction, posts — at concurrency 1 and 2.
- Bare loop: Playwright alone, one `new_page()` per URL, the same URLs in the same order, `goto`,
  then scrolling to the bottom until the page shows every post and every planted name it holds
  (an oracle: it knows what it is waiting for), then `page.content()`. No clicks, no settling,
  no extraction: the least a script can do that still reads every page whole. This is the fair
  baseline for pages per minute. Target: Værn >= 0.7 of it at concurrency 1.
- Peer: changedetection.io's Playwright fetcher, measured at about 1.7 s per page on a similar
  group (`PEER_SECONDS_PER_PAGE`; a figure from elsewhere, not run here: this machine has no
  copy of it). Target: Værn >= 2x its pages per minute.
- Planted-post recall: of the planted posts, those whose name the crawl read on the post's own
  page and on the group page (target >= 0.98).
- Evidence: `vaern crawl` of the same group (pipeline, evidence desk, archive): of its hits,
  those whose newest snapshot is complete and whose captured text shows the mention (target
  100 %); and the time from a hit's detection to its stored snapshot (manifest `detected_at` to
  `stored_at`): median and p95.

Each measurement runs in a process of its own; the time is from before the browser starts to
after the last page; peak memory is the largest summed RSS of that process and all its
descendants, sampled every 50 ms. `CPU s/page` is the CPU time the whole machine spent per page.

    .venv/bin/python bench/browser.py [--posts N] [--delay SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import yaml

from vaern.config import Config, Network, Site
from vaern.testing.jssite import JsSite
from vaern.testing.siteserver import SiteServer

PEER_SECONDS_PER_PAGE = 1.7  # changedetection.io's Playwright fetcher on a similar group (measured elsewhere)
GIVEN = ("Astrid", "Bjarne", "Cecilie", "Dorthe", "Esben", "Frida", "Gorm", "Helle", "Ivar", "Jytte",
         "Kasper", "Lisbeth", "Mogens", "Nanna", "Oluf", "Pernille", "Rasmus", "Sanne", "Torben", "Ulla")
SURNAMES = ("Abildgaard", "Bredsdorff", "Christoffersen", "Damsgaard", "Egholm", "Fjeldsø", "Grønbech",
            "Hvidtfeldt", "Iversby", "Juelsgaard")


def planted(posts: int) -> dict[int, str]:
    """Every other post names someone, each a name of its own."""
    names = [f"{g} {s}" for s in SURNAMES for g in GIVEN]
    return {n: names[i] for i, n in enumerate(range(1, posts + 1, 2))}


@dataclass
class Result:
    label: str
    pages: int
    seconds: float
    peak_mb: float
    cpu: float  # machine-wide CPU seconds (all processes) while it ran
    scrolls: int = 0
    clicks: int = 0

    @property
    def per_minute(self) -> float:
        return self.pages / self.seconds * 60


class _Sink:
    def __init__(self) -> None:
        self.pages: list[tuple[str, str, int, int]] = []  # url, text, scrolls, clicks

    def page(self, page: Any) -> None:
        scrolls = sum(" scroll " in a for a in page.actions)
        clicks = sum(" click " in a for a in page.actions)
        self.pages.append((page.url, page.text, scrolls, clicks))

    def unchanged(self, url: str) -> None:
        pass

    def gone(self, url: str, status: int) -> None:
        pass

    def failed(self, failure: Any) -> None:
        print("  failed:", failure.url, failure.reason)


def _site(base: str, concurrency: int, start: str = "/group/") -> Site:
    return Site(id="gruppe", start_urls=[f"{base}{start}"], render="browser",
                follow={"allow": [r"/group/post/\d+$"], "max_depth": 1}, robots="ignore", delay=0,
                autothrottle=False, concurrency=concurrency)


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
    site = _site(base, concurrency, start)
    config = Config(organisation="Bench", network=Network(allow_private_hosts=["127.0.0.1"]), sites=[site])
    sink = _Sink()
    started, cpu = time.perf_counter(), _machine_cpu()
    try:
        crawl_site(config, site, sink, {})
    except BaseException as exc:  # said at once, not waited for
        out.put(exc)
        raise
    out.put((time.perf_counter() - started, _machine_cpu() - cpu, sink.pages))


# Scroll to the bottom until the page shows `posts` posts and every name it should; true then.
_PRESENT_JS = """([names, posts]) => {
  const text = document.body ? document.body.innerText : '';
  if (document.querySelectorAll('article.post').length >= posts && names.every((n) => text.includes(n))) return true;
  window.scrollTo(0, document.scrollingElement.scrollHeight);
  return false;
}"""


def _bare_child(out: Any, plan: list[tuple[str, list[str], int]]) -> None:
    async def run() -> tuple[float, float, int]:
        from playwright.async_api import async_playwright

        import vaern.crawler.browser as browser_module

        _without_guard_proxy()  # Playwright alone: no guard proxy
        launch_options = browser_module.launch_options
        started, cpu = time.perf_counter(), _machine_cpu()
        found = 0
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(**launch_options())
            for url, names, posts in plan:
                page = await browser.new_page()
                await page.goto(url, wait_until="domcontentloaded")
                await page.wait_for_function(_PRESENT_JS, arg=[names, posts], polling="raf", timeout=60_000)
                html = await page.content()
                await page.close()
                found += sum(name in html for name in names)
            await browser.close()
        return time.perf_counter() - started, _machine_cpu() - cpu, found

    try:
        out.put(asyncio.run(run()))
    except BaseException as exc:  # said at once, not waited for
        out.put(exc)
        raise


def _machine_cpu() -> float:
    """CPU seconds the whole machine has spent working (every process: Chromium's too)."""
    times = psutil.cpu_times()
    return float(times.user + times.nice + times.system)


def _measure(target: Any, args: tuple[Any, ...]) -> tuple[float, float, Any, float]:
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
                total = 0
                for proc in [root, *root.children(recursive=True)]:
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
    result = out.get(timeout=3600)
    done.set()
    if isinstance(result, BaseException):
        raise RuntimeError(f"{target.__name__} failed") from result
    seconds, cpu, data = result
    sampler.join()
    process.join(60)
    return seconds, cpu, data, peak / 1024 / 1024


def _crawl(base: str, concurrency: int, guard: bool = True, start: str = "/group/") -> tuple[Result, list[Any]]:
    seconds, cpu, pages, peak = _measure(_crawl_child, (base, concurrency, guard, start))
    what = "" if guard else ", no guard proxy"
    result = Result(f"Værn render: browser crawl, concurrency {concurrency}{what}", len(pages), seconds, peak, cpu,
                    scrolls=sum(p[2] for p in pages), clicks=sum(p[3] for p in pages))
    return result, pages


def _recall(base: str, pages: list[Any], plants: dict[int, str]) -> float:
    """Planted posts whose name the crawl read both on the post's own page and on the group page."""
    texts = {url: text for url, text, _s, _c in pages}
    group = texts.get(f"{base}/group/", "")
    found = sum(name in group and name in texts.get(f"{base}/group/post/{n}", "") for n, name in plants.items())
    return found / len(plants)


def _evidence(base: str, plants: dict[int, str]) -> tuple[float, int, float, list[float]]:
    """`vaern crawl` with evidence: its seconds, its hits, the share whose evidence shows the
    mention, and each snapshot's seconds from detection to storage."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = {
            "organisation": "Bench", "database": f"sqlite:///{root / 'vaern.db'}", "archive": str(root / "archive"),
            "network": {"allow_private_hosts": ["127.0.0.1"]},
            "units": [{"id": "u", "name": "Enhed", "leader": {"name": "Leder", "email": "leder@bench.example"}}],
            "people": [{"id": f"p{n}", "name": name, "unit": "u"} for n, name in plants.items()],
            "sites": [_site(base, 1).model_dump(mode="json", exclude_defaults=True)],
        }
        (root / "vaern.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        vaern = [sys.executable, "-m", "vaern", "-c", str(root / "vaern.yaml")]
        started = time.perf_counter()
        crawl = subprocess.run([*vaern, "crawl", "--no-alerts"], capture_output=True, text=True, timeout=3600)
        seconds = time.perf_counter() - started
        if crawl.returncode != 0:
            print(crawl.stdout, crawl.stderr)
        hits = json.loads(subprocess.run([*vaern, "hits", "--json"], capture_output=True, text=True).stdout)
        shown, latencies, seen = 0, [], set()
        for hit in hits:
            if not hit["snapshots"]:
                continue
            snapshot = hit["snapshots"][-1]
            text = (root / "archive" / snapshot["files"]["text"]["path"]).read_text().casefold()
            shown += snapshot["complete"] and all(m.casefold() in text for m in hit["matched_text"])
            if snapshot["id"] not in seen:
                seen.add(snapshot["id"])
                manifest = json.loads((root / "archive" / snapshot["manifest"]).read_text())
                detected, stored = (datetime.fromisoformat(manifest[k].replace("Z", "+00:00"))
                                    for k in ("detected_at", "stored_at"))
                latencies.append((stored - detected).total_seconds())
        return seconds, len(hits), shown / max(1, len(hits)), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--posts", type=int, default=40, help="posts in the fixture group (default 40)")
    parser.add_argument("--delay", type=float, default=0.2, help="the fixture API's answer delay (s)")
    args = parser.parse_args()
    plants = planted(args.posts)

    with JsSite(group_posts=args.posts, batch=3, delay=args.delay, post_names=plants, comment_names={}) as site, \
            SiteServer() as plain:
        base = site.url("").rstrip("/")
        ours, pages = _crawl(base, 1)
        recall = _recall(base, pages, plants)
        # The bare loop visits the same URLs in the same order, each until its planted content shows.
        plan = []
        for url, _text, _s, _c in pages:
            n = int(url.rsplit("/", 1)[1]) if "/group/post/" in url else None
            if n is None:
                plan.append((url, list(plants.values()), args.posts))
            else:
                plan.append((url, [plants[n]] if n in plants else [], 1))
        seconds, cpu, _found, peak = _measure(_bare_child, (plan,))
        bare = Result("bare Playwright loop (goto, scroll until the planted content shows)", len(plan), seconds,
                      peak, cpu)
        ours2, pages2 = _crawl(base, 2)
        unguarded, _ = _crawl(base, 1, guard=False)
        evidence_seconds, hits, shown, latencies = _evidence(base, plants)
        plain_base = plain.url("").rstrip("/")
        huge_guarded, _ = _crawl(plain_base, 1, start="/_/huge?mb=50")
        huge_direct, _ = _crawl(plain_base, 1, guard=False, start="/_/huge?mb=50")

    print(f"fixture group: {args.posts} posts in batches of 3, {len(plants)} of them naming someone, API delay "
          f"{args.delay:g} s; {psutil.cpu_count()} CPUs, load average {psutil.getloadavg()[0]:.1f}")
    print(f"{'':66} {'pages':>5} {'seconds':>8} {'pages/min':>9} {'scrolls':>7} {'clicks':>6} {'peak MB':>8} "
          f"{'CPU s/page':>10}")
    for r in (bare, ours, ours2, unguarded):
        print(f"{r.label:66} {r.pages:>5} {r.seconds:>8.1f} {r.per_minute:>9.1f} {r.scrolls:>7} {r.clicks:>6} "
              f"{r.peak_mb:>8.0f} {r.cpu / r.pages:>10.2f}")
    print(f"Værn / bare loop, pages per minute: {ours.per_minute / bare.per_minute:.2f} at concurrency 1, "
          f"{ours2.per_minute / bare.per_minute:.2f} at concurrency 2 (target >= 0.70)")
    peer = 60 / PEER_SECONDS_PER_PAGE
    print(f"Værn / peer (changedetection.io's Playwright fetcher, {PEER_SECONDS_PER_PAGE:g} s per page measured "
          f"elsewhere = {peer:.1f} pages/min): {ours.per_minute / peer:.2f}x at concurrency 1, "
          f"{ours2.per_minute / peer:.2f}x at concurrency 2 (target >= 2x)")
    print(f"Planted-post recall: {recall:.3f} at concurrency 1, {_recall(base, pages2, plants):.3f} at concurrency 2 "
          f"(target >= 0.98)")
    ordered = sorted(latencies)
    p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)] if ordered else float("nan")
    print(f"Evidence (vaern crawl, {evidence_seconds:.1f} s for {len(pages)} pages with capture): {hits} hits, "
          f"{shown:.1%} with evidence showing the mention (target 100 %); hit to stored snapshot "
          f"median {statistics.median(latencies) if latencies else float('nan'):.1f} s, p95 {p95:.1f} s "
          f"over {len(latencies)} snapshots")
    print(f"Guard proxy cost: {ours.per_minute:.1f} pages/min with it, {unguarded.per_minute:.1f} without "
          f"(same crawl, concurrency 1): {1 - ours.per_minute / unguarded.per_minute:+.1%} slower (target <= 10 %)")
    print(f"The 50 MB page: crawl process tree peak {huge_guarded.peak_mb:.0f} MB with the guard proxy "
          f"(target < 1500 MB), {huge_direct.peak_mb:.0f} MB without it")


if __name__ == "__main__":
    main()
