"""Evidence capture speed: full captures vs a bare `goto` + full-page screenshot, same pages, same run.

Serves the evidence fixture site (vaern.testing.evidencesite) on 127.0.0.1, starts one browser session (warm, as a
crawl's evidence desk does) and times, per page: Værn's whole capture of a page loaded anew
(readiness, expansion, screenshot tiles, inner scrollers, DOM, text, WARC, provenance, hashes)
and a bare loop of `page.goto` + `page.screenshot(full_page=True)` in the same Chromium. Prints
medians and captures per minute. (A `render: browser` page with a hit is captured from the
crawl's own load instead: bench/browser.py measures that.)
Targets (issue 4): ≤ 2× the bare loop on normal pages; median ≤ 3 s per capture.

Then the export of a hit with 5 snapshots (`vaern export`: copies and re-hashes, report.html with
embedded screenshots, PDF, WACZ, chain slice, the head and SHA256SUMS stamped by a local TSA).

    .venv/bin/python bench/capture.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from playwright.async_api import Browser

from vaern.config import Config
from vaern.crawler.browser import BrowserSession
from vaern.crawler.capture import CaptureRequest, capture_anew, capture_pages, evidence_session
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


async def full(session: BrowserSession, config: Config, url: str) -> float:
    start = time.perf_counter()
    await capture_anew(session, config, CaptureRequest(url, "bench", datetime.now(UTC), "hit"))
    return time.perf_counter() - start


async def main(rounds: int) -> None:
    config = Config.model_validate({"organisation": "Bench", "network": {"allow_private_hosts": ["127.0.0.1"]}})
    with fixture_site() as site:
        async with evidence_session(config) as session:
            browser = await session.browser()
            await bare(browser, site.url("/post/1"))  # warm up
            for label, paths in (("normal pages", NORMAL), ("40,000 px page", TALL)):
                times: dict[str, list[float]] = {"bare": [], "vaern": []}
                for _ in range(rounds):
                    for path in paths:
                        times["bare"].append(await bare(browser, site.url(path)))
                        times["vaern"].append(await full(session, config, site.url(path)))
                b, v = statistics.median(times["bare"]), statistics.median(times["vaern"])
                print(f"{label} ({len(paths)} pages x {rounds} rounds):")
                per_min = {k: 60 / statistics.mean(t) for k, t in times.items()}
                print(f"  bare goto+screenshot(full_page): median {b:6.2f} s, {per_min['bare']:6.1f}/min")
                print(f"  vaern capture                  : median {v:6.2f} s, {per_min['vaern']:6.1f}/min")
                print(f"  overhead                       : {v / b:6.2f}x (target <= 2x on normal pages; median <= 3 s)")


def export_figure(snapshots: int = 5) -> None:
    """Time `vaern export` (app.evidence_bundle) for one hit with `snapshots` real captures, a TSA configured."""
    import tempfile

    from vaern.app import evidence_bundle, open_services
    from vaern.storage.archive import record_snapshot
    from vaern.storage.db import transaction
    from vaern.storage.stamping import archive_for
    from vaern.storage.tables import HitRow, PageRow
    from vaern.testing.tsa import local_tsa

    with tempfile.TemporaryDirectory(prefix="vaern-bench-export-") as tmp, local_tsa() as tsa, \
            fixture_site() as site:
        config = Config.model_validate({
            "organisation": "Bench", "network": {"allow_private_hosts": ["127.0.0.1"]},
            "database": f"sqlite:///{tmp}/vaern.db", "archive": f"{tmp}/archive",
            "evidence": {"tsa_urls": [tsa.url], "tsa_ca_files": [str(tsa.ca_file)]},
        })
        services = open_services(config)
        url = site.url("/post/1")
        captures = capture_pages(config, [CaptureRequest(url, "bench", datetime.now(UTC), "hit")
                                          for _ in range(snapshots)])
        archive = archive_for(config)
        now = datetime.now(UTC).replace(tzinfo=None)
        with transaction(services.sessions) as session:
            page = PageRow(site_id="bench", url=url, first_fetched_at=now, last_fetched_at=now)
            session.add(page)
            session.flush()
            hit = HitRow(person_id="rr", unit_id=None, page_id=page.id, site_id="bench", url=url, confidence="high",
                         score=97.5, variant="exact", matched_text=["René Rosenkilde"], excerpt="René Rosenkilde",
                         categories=[], first_seen=now, last_seen=now)
            session.add(hit)
            session.flush()
            for capture in captures:
                record_snapshot(session, archive, capture, page.id)  # type: ignore[arg-type]
            hit_id = hit.id
        out = Path(tmp) / "bundle.zip"
        start = time.perf_counter()
        with services.sessions() as session:
            evidence_bundle(config, session, hit_id, out)
            session.commit()
        seconds = time.perf_counter() - start
        print(f"export of a hit with {snapshots} snapshots: {seconds:6.2f} s, bundle {out.stat().st_size / 1e6:.1f} MB "
              "(report.html with embedded screenshots, PDF, WACZ, chain slice, head and SHA256SUMS stamped)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--export-only", action="store_true", help="only the export figure")
    arguments = parser.parse_args()
    if not arguments.export_only:
        asyncio.run(main(arguments.rounds))
    export_figure()
