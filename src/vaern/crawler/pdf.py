"""Printing an evidence report to PDF with Chromium, offline: `report.pdf` of `vaern export`.

Only local files load (the report and the screenshots beside it); every other request is
refused, so printing a report reaches nothing on the network. Controlled by `browser` in the
config (which Chromium, its flags).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from playwright.async_api import Route, async_playwright

from vaern.config import Config
from vaern.crawler.browser import launch_options


def print_pdf(config: Config, html: Path, pdf: Path) -> None:
    """Print the report with Chromium, offline: every request that is not a local file is refused."""
    async def run() -> None:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(**launch_options(config.browser))
            try:
                page = await browser.new_page()

                async def only_files(route: Route) -> None:
                    if route.request.url.startswith("file://"):
                        await route.continue_()
                    else:
                        await route.abort()

                await page.route("**/*", only_files)
                await page.goto(html.as_uri(), wait_until="load")
                await page.pdf(path=str(pdf), format="A4", print_background=True,
                               margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"})
            finally:
                await browser.close()

    asyncio.run(run())
