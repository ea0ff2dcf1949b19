"""Printing an evidence report to PDF with Chromium, offline: `report.pdf` of `vaern export`.

Printed in a session of the one browser path (crawler/browser.py). Only local files load (the
report and the screenshots beside it): every other request is refused before it leaves the page,
and whatever might still try goes through the session's guard proxy, which refuses every private
address. Controlled by `browser` in the config (which Chromium, its flags).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from playwright.async_api import Route

from vaern.config import Config
from vaern.crawler.browser import BrowserSession
from vaern.crawler.netguard import NetGuard


def print_pdf(config: Config, html: Path, pdf: Path) -> None:
    """Print the report with Chromium, offline: every request that is not a local file is refused."""
    async def run() -> None:
        async with BrowserSession(config.browser, guard=NetGuard()) as session, session.page(ahead=False) as page:

            async def only_files(route: Route) -> None:
                if route.request.url.startswith("file://"):
                    await route.continue_()
                else:
                    await route.abort()

            await page.route("**/*", only_files)
            await page.goto(html.as_uri(), wait_until="load")
            await page.pdf(path=str(pdf), format="A4", print_background=True,
                           margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"})

    asyncio.run(run())
