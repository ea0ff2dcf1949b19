"""When was a post written? Danish (and English) dates near a mention, for the police deadline.

A report to the police must be made within 72 hours of the incident (a condition for victim
compensation), so an alert counts from the earliest time known for the post: the date the page
shows next to the mention where there is one ("12. november 2026 kl. 14:03", "12.11.2026",
"i går kl. 09:15", "3 timer siden"), else the time Værn first saw it. Relative dates count
from when the page was fetched. Page times are read in the config's `timezone`; results are
naive UTC like every time in the database. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

POLICE_DEADLINE = timedelta(hours=72)

_MONTHS = {
    "januar": 1, "jan": 1, "january": 1,
    "februar": 2, "feb": 2, "february": 2,
    "marts": 3, "mar": 3, "march": 3,
    "april": 4, "apr": 4,
    "maj": 5, "may": 5,
    "juni": 6, "jun": 6, "june": 6,
    "juli": 7, "jul": 7, "july": 7,
    "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9,
    "oktober": 10, "okt": 10, "october": 10, "oct": 10,
    "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}  # fmt: skip
_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
_CLOCK = r"(?:\s*,?\s*(?:kl\.?|klokken|at)?\s*(?P<hh>[01]?\d|2[0-3])[:.](?P<mm>[0-5]\d))?"

_NAMED = re.compile(
    rf"\b(?P<d>[0-3]?\d)\.?\s+(?P<mon>{_MONTH_NAMES})\b\.?(?:\s+(?P<y>(?:19|20)\d\d)(?!\d))?{_CLOCK}",
    re.IGNORECASE,
)
_ISO = re.compile(r"\b(?P<y>(?:19|20)\d\d)-(?P<m>[01]\d)-(?P<d>[0-3]\d)(?:[T ](?P<hh>[01]\d|2[0-3]):(?P<mm>[0-5]\d))?")
_NUMERIC = re.compile(
    rf"\b(?P<d>[0-3]?\d)[./](?P<m>[01]?\d)[./-](?P<y>(?:19|20)?\d\d)\b(?![./]\d){_CLOCK}",
)
_DAY_WORD = re.compile(rf"\b(?P<w>i\s*dag|idag|i\s*går|igår|i\s*forgårs|today|yesterday)\b{_CLOCK}", re.IGNORECASE)
_NUMBER_WORDS = {"en": 1, "et": 1, "én": 1, "ét": 1, "a": 1, "an": 1, "one": 1, "to": 2, "tre": 3, "two": 2}
_AGO = re.compile(
    r"\b(?:for\s+)?(?P<n>\d+|en|et|én|ét|to|tre|an?|one|two)\s+"
    r"(?P<u>sekunder?|sek\.?|minutter|minut|min\.?|timer|time|t\.|dage|dag|uger|uge|måneder|måned|år|"
    r"seconds?|minutes?|hours?|days?|weeks?|months?|years?)\s+(?:siden|ago)\b",
    re.IGNORECASE,
)
# Cheap tests for what each pattern cannot match without (most text holds no date at all):
# a pattern is only run over text its hint finds something in.
_ISO_HINT = re.compile(r"\d-\d")
_NAMED_HINT = re.compile(r"\d\.?\s")
_NUMERIC_HINT = re.compile(r"\d[./]\d")
_DAY_WORD_HINT = re.compile(r"dag|går|today|yesterday", re.IGNORECASE)
_AGO_HINT = re.compile(r"siden|ago", re.IGNORECASE)
_UNIT_SECONDS = {
    "sek": 1, "sekund": 1, "sekunder": 1, "second": 1, "seconds": 1,
    "min": 60, "minut": 60, "minutter": 60, "minute": 60, "minutes": 60,
    "t": 3600, "time": 3600, "timer": 3600, "hour": 3600, "hours": 3600,
    "dag": 86400, "dage": 86400, "day": 86400, "days": 86400,
    "uge": 604800, "uger": 604800, "week": 604800, "weeks": 604800,
    "måned": 2592000, "måneder": 2592000, "month": 2592000, "months": 2592000,
    "år": 31536000, "year": 31536000, "years": 31536000,
}  # fmt: skip


@dataclass(frozen=True)
class PostTime:
    """A time read from the page: `when` (naive UTC), the text it came from, where it was."""

    when: datetime
    text: str
    start: int
    relative: bool


@dataclass(frozen=True)
class Deadline:
    """The police deadline for one hit and what it counts from."""

    due: datetime  # naive UTC
    # "stated" (the page's markup dates the post) | "posted" (a date in the page's text) |
    # "first_seen" (when Værn first saw it)
    basis: str
    since: datetime  # naive UTC: the time the 72 hours count from
    source_text: str | None  # the page's own words for the date, where there was one
    relative: bool = False  # the page said "i går", "3 timer siden": counted from the fetch
    source: str | None = None  # for "stated": json-ld | meta | time


def _to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    return local.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def _local(utc_naive: datetime, tz: ZoneInfo) -> datetime:
    return utc_naive.replace(tzinfo=UTC).astimezone(tz).replace(tzinfo=None)


def _clock(m: re.Match[str]) -> tuple[int, int, bool]:
    if m.group("hh") is None:
        return 0, 0, False
    return int(m.group("hh")), int(m.group("mm")), True


def _safe_date(y: int, mo: int, d: int, hh: int, mm: int) -> datetime | None:
    try:
        return datetime(y, mo, d, hh, mm)
    except ValueError:
        return None


def _candidates(text: str, fetched_at: datetime, tz: ZoneInfo) -> list[PostTime]:
    """Every date-like phrase in `text`, resolved against the fetch time (naive UTC)."""
    fetched_local = _local(fetched_at, tz)
    found: list[PostTime] = []
    taken: list[tuple[int, int]] = []

    def add(m: re.Match[str], local: datetime | None, relative: bool, exact_time: bool) -> None:
        if local is None or any(s <= m.start() < e for s, e in taken):
            return
        when = _to_utc(local, tz)
        # A date later than the fetch cannot be the post's; a date-only match is fine on the day.
        slack = timedelta(days=1) if not exact_time else timedelta(minutes=5)
        if when > fetched_at + slack:
            return
        taken.append((m.start(), m.end()))
        found.append(PostTime(min(when, fetched_at), m.group(0).strip(), m.start(), relative))

    def scan(pattern: re.Pattern[str], hint: re.Pattern[str]) -> Iterator[re.Match[str]]:
        return pattern.finditer(text) if hint.search(text) else iter(())

    for m in scan(_ISO, _ISO_HINT):
        hh, mm, exact = _clock(m)
        add(m, _safe_date(int(m.group("y")), int(m.group("m")), int(m.group("d")), hh, mm), False, exact)
    for m in scan(_NAMED, _NAMED_HINT):
        hh, mm, exact = _clock(m)
        month = _MONTHS[m.group("mon").lower()]
        day = int(m.group("d"))
        if m.group("y"):
            local = _safe_date(int(m.group("y")), month, day, hh, mm)
        else:
            # No year: the most recent such date not after the fetch.
            local = _safe_date(fetched_local.year, month, day, hh, mm)
            if local is not None and local > fetched_local + timedelta(days=1):
                local = _safe_date(fetched_local.year - 1, month, day, hh, mm)
        add(m, local, False, exact)
    for m in _NUMERIC.finditer(text):
        hh, mm, exact = _clock(m)
        year = int(m.group("y"))
        year = year + 2000 if year < 100 else year
        add(m, _safe_date(year, int(m.group("m")), int(m.group("d")), hh, mm), False, exact)
    for m in _DAY_WORD.finditer(text):
        word = "".join(m.group("w").lower().split())
        back = {"idag": 0, "today": 0, "igår": 1, "yesterday": 1, "iforgårs": 2}[word]
        hh, mm, exact = _clock(m)
        on = (fetched_local - timedelta(days=back)).date()
        add(m, datetime(on.year, on.month, on.day, hh, mm), True, exact)
    for m in _AGO.finditer(text):
        n_text = m.group("n").lower()
        n = int(n_text) if n_text.isdigit() else _NUMBER_WORDS[n_text]
        unit = m.group("u").lower().rstrip(".")
        seconds = _UNIT_SECONDS[unit]
        add(m, fetched_local - timedelta(seconds=n * seconds), True, True)
    return found


def parse_post_time(text: str, fetched_at: datetime, timezone: str) -> PostTime | None:
    """The first date phrase in `text` (e.g. '12. november 2026 kl. 14:03', 'i går'), or None."""
    found = _candidates(text, fetched_at, ZoneInfo(timezone))
    return min(found, key=lambda p: p.start) if found else None


def find_posted_at(
    text: str,
    start: int,
    end: int,
    fetched_at: datetime,
    timezone: str,
    *,
    before: int = 600,
    after: int = 200,
) -> PostTime | None:
    """The date the page shows for the post that holds the mention at text[start:end].

    Posts put their date in a header above the text, so the nearest date before the mention
    (within `before` characters) wins; else the nearest after it (within `after`).
    """
    lo = max(0, start - before)
    window = text[lo : min(len(text), end + after)]
    found = _candidates(window, fetched_at, ZoneInfo(timezone))
    mention = start - lo
    # A date the post states outright wins over relative words ("i går") in its body: the body
    # may speak of another day, and relative words count from the fetch, not from the post.
    absolute = [p for p in found if not p.relative]
    if absolute:
        found = absolute
    preceding = [p for p in found if p.start < mention]
    if preceding:
        best = max(preceding, key=lambda p: p.start)
    else:
        following = [p for p in found if p.start >= mention]
        if not following:
            return None
        best = min(following, key=lambda p: p.start)
    return PostTime(best.when, best.text, best.start + lo, best.relative)


def police_deadline(
    first_seen: datetime, posted: PostTime | None, stated: datetime | None = None, stated_source: str | None = None
) -> Deadline:
    """72 hours from the earliest time known for the post. A date the page's markup states for
    the post (`stated`, from JSON-LD, a meta tag or a `<time>` element) wins over its text."""
    if stated is not None and stated <= first_seen + timedelta(minutes=5):
        since = min(stated, first_seen)
        return Deadline(since + POLICE_DEADLINE, "stated", since, None, False, stated_source)
    if posted is not None and posted.when <= first_seen:
        return Deadline(posted.when + POLICE_DEADLINE, "posted", posted.when, posted.text, posted.relative)
    return Deadline(first_seen + POLICE_DEADLINE, "first_seen", first_seen, None)
