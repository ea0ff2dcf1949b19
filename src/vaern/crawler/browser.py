"""Finding and launching Chromium for rendering and evidence capture.

Controlled by `browser.executable` and `browser.timeout` in the config and the `VAERN_CHROMIUM`
environment variable. Search order (CONTRACT.md): VAERN_CHROMIUM, then `browser.executable`,
then Playwright's own Chromium if installed, then a system Chromium.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from vaern.config import Browser
from vaern.errors import BrowserNotFound

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

SYSTEM_CHROMIUMS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _playwright_chromium() -> str | None:
    """Playwright's downloaded Chromium, if `playwright install chromium` was ever run."""
    root = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache" / "ms-playwright")
    if not root.is_dir():
        return None
    for pattern in ("chromium-*/chrome-linux*/chrome", "chromium_headless_shell-*/chrome-*/chrome-headless-shell"):
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


def launch_options(settings: Browser | None = None) -> dict[str, Any]:
    """Keyword arguments for Playwright's `chromium.launch()` (and scrapy-playwright's launch options)."""
    timeout_s = settings.timeout if settings else 30.0
    return {
        "executable_path": find_chromium(settings),
        "headless": True,
        "args": list(LAUNCH_ARGS),
        "timeout": timeout_s * 1000,
    }
