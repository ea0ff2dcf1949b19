"""Evidence capture speed: full captures vs a bare `goto` + full-page screenshot, same pages, same run.

Serves the evidence fixture site (vaern.testing.evidencesite) on 127.0.0.1, launches one Chromium (warm, as the
pipeline does for a batch) and times, per page: Værn's whole capture (expansion, screenshot
tiles, inner scrollers, DOM, text, WARC, provenance, hashes) and a bare loop of
`page.goto` + `page.screenshot(full_page=True)`. Prints medians and captures per minute.
Targets (issue 4): ≤ 2× the bare loop on normal pages; median ≤ 3 s per capture.

    .venv/bin/python bench/capture.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime

from playwright.async_api import Browser, async_playwright

from vaern.config import Config
from vaern.crawler.browser import launch_options
from vaern.crawler.capture import CaptureRequest, _tool_versions, capture_one
from vaern.testing.evidencesite import fixture_site

NORMAL = ["/post/1", "/r1", "/gz", "/lazy", "/inner"]
TALL = ["/tall"]


async def bare(browser: Browser, url: str) -> float:
    start = time.perf_counter()
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(url, wait_until="load")
    await page.screenshot(full_page=True)
    await page.close()
    return time.perf_counter() - start


async def full(browser: Browser, config: Config, url: str, tools: dict[str, object]) -> float:
    start = time.perf_counter()
    await capture_one(browser, config, CaptureRequest(url, "bench", datetime.now(UTC), "hit"), tools)
    return time.perf_counter() - start


async def main(rounds: int) -> None:
    config = Config.model_validate({"organisation": "Bench", "network": {"allow_private_hosts": ["127.0.0.1"]}})
    with fixture_site() as site:
        async with async_playwright() as pw:
            options = launch_options(config.browser)
            browser = await pw.chromium.launch(**options)
            tools = _tool_versions(browser, options)
            await bare(browser, site.url("/post/1"))  # warm up
            for label, paths in (("normal pages", NORMAL), ("40,000 px page", TALL)):
                times: dict[str, list[float]] = {"bare": [], "vaern": []}
                for _ in range(rounds):
                    for path in paths:
                        times["bare"].append(await bare(browser, site.url(path)))
                        times["vaern"].append(await full(browser, config, site.url(path), tools))
                b, v = statistics.median(times["bare"]), statistics.median(times["vaern"])
                print(f"{label} ({len(paths)} pages x {rounds} rounds):")
                per_min = {k: 60 / statistics.mean(t) for k, t in times.items()}
                print(f"  bare goto+screenshot(full_page): median {b:6.2f} s, {per_min['bare']:6.1f}/min")
                print(f"  vaern capture                  : median {v:6.2f} s, {per_min['vaern']:6.1f}/min")
                print(f"  overhead                       : {v / b:6.2f}x (target <= 2x on normal pages; median <= 3 s)")
            await browser.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args().rounds))
