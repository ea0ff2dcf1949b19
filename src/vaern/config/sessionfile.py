"""Reading a site's session file: a Playwright storage-state JSON (`sites[].session`).

`load_config` reads it once, so a missing or malformed file is a config error with its line;
the crawler (crawler/sitelogin.py) keeps the cookies to the site's hosts and out of every record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


class SessionFileError(ValueError):
    """The storage-state file cannot be used; the message says what is wrong with it."""


@dataclass(frozen=True)
class SessionCookie:
    name: str
    value: str
    domain: str  # without a leading dot
    path: str = "/"
    secure: bool = False
    http_only: bool = False
    expires: float = -1  # seconds since the epoch; -1: until the browser closes

    def covers(self, host: str) -> bool:
        return host == self.domain or host.endswith("." + self.domain)


def read_cookies(path: Path) -> list[SessionCookie]:
    """The cookies of a Playwright storage-state file (`{"cookies": [...], "origins": [...]}`)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SessionFileError(f"{path}: no such file (export it as the README's 'Logged-in sources' says)") from None
    except OSError as exc:
        raise SessionFileError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SessionFileError(f"{path}: not a JSON storage-state file ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cookies"), list):
        raise SessionFileError(f"{path}: not a Playwright storage-state file (no \"cookies\" list)")
    out = []
    for i, raw in enumerate(data["cookies"]):
        if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) for k in ("name", "value", "domain")):
            raise SessionFileError(f"{path}: cookies[{i}] needs name, value and domain as text")
        path_of = raw.get("path")
        out.append(SessionCookie(
            name=raw["name"], value=raw["value"], domain=raw["domain"].lstrip(".").lower(),
            path=path_of if isinstance(path_of, str) and path_of else "/",
            secure=bool(raw.get("secure", False)), http_only=bool(raw.get("httpOnly", False)),
            expires=float(raw["expires"]) if isinstance(raw.get("expires"), int | float) else -1,
        ))
    return out
