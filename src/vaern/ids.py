"""The public ids of hits, snapshots and alerts: `h-000123`, `s-000456`, `a-000042`.

A public id is the database row id with a letter for its kind, zero-padded to six digits (more
when the number needs them). It is what `vaern hits --json`, `vaern alerts --json`, `vaern export`,
the review app's addresses, the e-mails and the archive's snapshot folders show; every place that
writes or reads one goes through this module.
"""

from __future__ import annotations

import re

HIT = "h"
SNAPSHOT = "s"
ALERT = "a"

# At most this many characters are read as an id: a longer one is none (and no huge number is parsed).
MAX_LENGTH = 20
_NUMBER = re.compile(r"\d+")


def hit(number: int) -> str:
    """The public id of hit `number`: 123 -> 'h-000123'."""
    return _format(HIT, number)


def snapshot(number: int) -> str:
    """The public id of snapshot `number`: 456 -> 's-000456'."""
    return _format(SNAPSHOT, number)


def alert(number: int) -> str:
    """The public id of alert `number`: 42 -> 'a-000042'."""
    return _format(ALERT, number)


def parse_hit(text: str) -> int | None:
    """'h-000123' (or '123') -> 123; anything else -> None."""
    return _parse(HIT, text)


def parse_snapshot(text: str) -> int | None:
    """'s-000456' (or '456') -> 456; anything else -> None."""
    return _parse(SNAPSHOT, text)


def is_snapshot(text: str) -> bool:
    """Whether `text` is a snapshot id exactly as written (`s-` and at least six digits)."""
    return text.startswith(SNAPSHOT + "-") and bool(re.fullmatch(r"\d{6,}", text[2:]))


def _format(kind: str, number: int) -> str:
    return f"{kind}-{number:06d}"


def _parse(kind: str, text: str) -> int | None:
    text = text.strip()
    if len(text) > MAX_LENGTH:
        return None
    text = text.removeprefix(kind + "-")
    return int(text) if _NUMBER.fullmatch(text) else None


__all__ = ["alert", "hit", "is_snapshot", "parse_hit", "parse_snapshot", "snapshot"]
