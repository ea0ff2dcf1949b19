"""The sites added from the review app: `sites_file` (default `added-sites.yaml` beside vaern.yaml).

A program never edits vaern.yaml (its comments and layout are the operator's). An analyst's "watch
this site" in "Fundet andre steder" appends an entry to this file of its own, which load_config
merges into `sites`. `add_site` never half-applies: the new file is written beside the old one,
the whole config is loaded with it (every rule, ids unique across both files), and only then does
it replace the old file in one rename. A config that would not load is refused with its errors,
and the file stays as it was. The running service crawls an added site from its next start.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from typing import Any
from urllib.parse import urlsplit

import yaml

from vaern.config.loading import load_config
from vaern.config.schema import Config, Site

HEADER = (
    "# Sites added in Værn's review app (\"Fundet andre steder\" -> watch the site).\n"
    "# Merged into `sites` of vaern.yaml when the config is read; same entries, same rules.\n"
    "# You may edit or remove entries by hand; `vaern check` checks this file too.\n"
)
_lock = threading.Lock()


def new_site_entry(config: Config, url: str, name: str | None = None) -> dict[str, Any]:
    """A site entry for the host of `url`: an id made from the host (unique), the page and the
    host's front page as start URLs, every other option at its default."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    base = re.sub(r"[^a-z0-9]+", "-", host).strip("-") or "site"
    taken = {s.id for s in config.sites}
    ident, n = base, 2
    while ident in taken:
        ident, n = f"{base}-{n}", n + 1
    front = f"{parts.scheme}://{parts.netloc}/"
    return {"id": ident, "name": name or host, "start_urls": list(dict.fromkeys([front, url]))}


def add_site(config: Config, entry: dict[str, Any]) -> Site:
    """Append `entry` to the config's sites file, checked with the whole config first; the Site."""
    assert config.source is not None, "a config read from a file"
    path = config.sites_file
    with _lock:
        current: dict[str, Any] = {"sites": []}
        if path.exists():
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if isinstance(loaded, dict) and isinstance(loaded.get("sites"), list):
                current = loaded
        current["sites"] = [*current["sites"], entry]
        candidate = path.with_name(f".{path.name}.{os.getpid()}.new")
        candidate.write_text(HEADER + yaml.safe_dump(current, allow_unicode=True, sort_keys=False), encoding="utf-8")
        try:
            checked = load_config(config.source, sites_file=candidate)  # raises ConfigError: nothing changes
            os.replace(candidate, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()
    return checked.site(entry["id"])


__all__ = ["add_site", "new_site_entry"]
