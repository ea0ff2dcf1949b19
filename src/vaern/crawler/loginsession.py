"""`vaern login-session SITE`: export a logged-in site's session file without programming.

Opens Chromium (the one Værn uses, found as for crawls; its connections through the same SSRF
guard) in a window at the site's first start URL. The person with the dedicated account logs in
there as usual, then presses Enter in the terminal; the browser's cookies for the site's hosts
are written as a Playwright storage-state file (`sites[].session`), readable by its owner only.
Cookies of other hosts are not saved. If no cookie of the site's hosts exists, nothing is written
and the person is told to log in first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vaern.config import Config, Site
from vaern.crawler.browser import launch_options
from vaern.crawler.guardproxy import GuardProxy
from vaern.crawler.netguard import NetGuard
from vaern.crawler.sitelogin import site_hosts


class NoSessionCookies(Exception):
    """The browser holds no cookie of the site's hosts: the login did not happen (or failed)."""


def site_state(state: dict[str, Any], hosts: tuple[str, ...]) -> dict[str, Any]:
    """A storage state with only the cookies (and origins) of the site's hosts."""
    def ours(domain: str) -> bool:
        domain = domain.lstrip(".").lower()
        return any(h == domain or h.endswith("." + domain) for h in hosts)

    cookies = [c for c in state.get("cookies", []) if isinstance(c, dict) and ours(str(c.get("domain", "")))]
    origins = [o for o in state.get("origins", [])
               if isinstance(o, dict) and any(f"//{h}" in str(o.get("origin", "")) for h in hosts)]
    return {"cookies": cookies, "origins": origins}


def export_session(
    config: Config, site: Site, path: Path, wait: Callable[[Any], None], *, headless: bool = False
) -> list[str]:
    """Open the site, let `wait(page)` return once the account is logged in, write the session
    file; returns the cookie names saved. Raises NoSessionCookies when there are none."""
    from playwright.sync_api import sync_playwright

    hosts = site_hosts(site.start_urls)
    guard = NetGuard(config.network.allow_private_hosts)
    with GuardProxy(guard, default_limit=int(site.max_response_mb * 1024 * 1024)) as proxy, \
            sync_playwright() as playwright:
        options = {**launch_options(config.browser, proxy=proxy.url), "headless": headless}
        browser = playwright.chromium.launch(**options)
        try:
            context = browser.new_context(locale=config.browser.locale)
            page = context.new_page()
            page.goto(site.start_urls[0])
            wait(page)
            state = site_state(dict(context.storage_state()), hosts)
        finally:
            browser.close()
    if not state["cookies"]:
        raise NoSessionCookies(f"the browser holds no cookie of {', '.join(hosts)}: log in to the site in the "
                               "window before pressing Enter; nothing was written")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(state, out, indent=2)
    os.chmod(path, 0o600)
    return sorted({str(c["name"]) for c in state["cookies"]})
