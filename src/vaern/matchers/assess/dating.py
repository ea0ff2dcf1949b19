"""The date a page states for its post, from its markup: what wins over relative words.

Read, in this order of trust: JSON-LD `datePublished` (schema.org), `<meta property=
"article:published_time">`, and `<time datetime="…">` elements. Each found date carries its
source (`json-ld`, `meta`, `time`) and, for a `<time>`, the text it shows, so that a page with
several posts can give each mention the `<time>` shown last before it in the page text. Times
without a zone are read in the config's timezone; results are naive UTC. Pure: regular
expressions over the HTML, no parser, no I/O.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

_JSON_LD = re.compile(
    rb"<script[^>]*type\s*=\s*[\"']application/ld\+json[\"'][^>]*>(.*?)</script>", re.IGNORECASE | re.DOTALL
)
_META = re.compile(
    rb"<meta[^>]*(?:property|name|itemprop)\s*=\s*[\"'](?:article:published_time|datePublished|og:published_time)[\"'][^>]*>",
    re.IGNORECASE,
)
_CONTENT = re.compile(rb"content\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
_TIME = re.compile(rb"<time\b([^>]*)>(.*?)</time>", re.IGNORECASE | re.DOTALL)
_DATETIME_ATTR = re.compile(rb"datetime\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class StatedDate:
    """A date the page's markup states: `when` (naive UTC), its source, the text it shows."""

    when: datetime
    source: str  # json-ld | meta | time
    shown: str = ""


def parse_iso(value: str, timezone: str) -> datetime | None:
    """An ISO 8601 date or date-time as naive UTC; a time without a zone is local to `timezone`."""
    value = value.strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(timezone))
    return parsed.astimezone(UTC).replace(tzinfo=None)


def stated_dates(body: bytes, timezone: str) -> list[StatedDate]:
    """Every publication date the markup states, most trusted source first."""
    if not body:
        return []
    found: list[StatedDate] = []
    for m in _JSON_LD.finditer(body):
        for value in _published(m.group(1)):
            when = parse_iso(value, timezone)
            if when is not None:
                found.append(StatedDate(when, "json-ld"))
    for m in _META.finditer(body):
        content = _CONTENT.search(m.group())
        when = parse_iso(content.group(1).decode("utf-8", "replace"), timezone) if content else None
        if when is not None:
            found.append(StatedDate(when, "meta"))
    for m in _TIME.finditer(body):
        attr = _DATETIME_ATTR.search(m.group(1))
        when = parse_iso(attr.group(1).decode("utf-8", "replace"), timezone) if attr else None
        if when is not None:
            shown = " ".join(html.unescape(_TAGS.sub(" ", m.group(2).decode("utf-8", "replace"))).split())
            found.append(StatedDate(when, "time", shown))
    return found


def _published(raw: bytes) -> list[str]:
    try:
        data = json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        return []
    out: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            value = node.get("datePublished")
            if isinstance(value, str):
                out.append(value)
            for child in node.values():
                if isinstance(child, (dict, list)):
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(data)
    return out


def date_for(dates: list[StatedDate], text: str, offset: int) -> StatedDate | None:
    """The stated date of the post holding text[offset]: with several `<time>`s, the one whose
    shown text is last before the offset; else the page's one JSON-LD or meta date."""
    times = [d for d in dates if d.source == "time"]
    if len(times) > 1:
        best: tuple[int, StatedDate] | None = None
        for d in times:
            if not d.shown:
                continue
            at = text.rfind(d.shown, 0, offset)
            if at >= 0 and (best is None or at > best[0]):
                best = (at, d)
        if best is not None:
            return best[1]
    page_level = [d for d in dates if d.source in ("json-ld", "meta")]
    if len({d.when for d in page_level}) == 1:
        return page_level[0]
    if len(times) == 1:
        return times[0]
    return None
