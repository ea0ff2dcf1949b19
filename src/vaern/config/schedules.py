"""Intervals and schedules: `30s`, `15m`, `2h`, `1d`, or for a site a 5-field crontab line.

Every length of time in the config (`alerts.retry_initial`, `crawl.timeout`, …) is written as an
interval and read once, by the schema, into a `Duration`: a `timedelta` that is shown as it was
written ("1h", not "1:00:00"), so the code computes with it and messages quote the config.

`sites[].schedule` is an interval or a cron line: the schema validates it with `check_schedule`;
the scheduler builds its APScheduler triggers with `schedule_trigger(site.schedule, config.timezone)`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger
    from apscheduler.triggers.cron import CronTrigger

_INTERVAL = re.compile(r"^(\d+)\s*(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> timedelta:
    """'30s', '15m', '2h', '1d' -> timedelta. Raises ValueError otherwise."""
    m = _INTERVAL.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not an interval like 30s, 15m, 2h or 1d")
    if int(m.group(1)) == 0:
        raise ValueError(f"{text!r}: an interval must be longer than 0")
    return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


class Duration(timedelta):
    """A length of time from the config: a `timedelta` written as the config wrote it (`str()` is "1h").

    Validated by pydantic from the text (`30s`, `15m`, `2h`, `1d`) and dumped back to that text.
    """

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> Duration:
        self = super().__new__(cls, seconds=parse_interval(text).total_seconds())
        self.text = text.strip()
        return self

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Duration({self.text!r})"

    def __reduce__(self) -> tuple[type[Duration], tuple[str]]:
        return (Duration, (self.text,))

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls._validate, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )

    @classmethod
    def _validate(cls, value: Any) -> Duration:
        if isinstance(value, Duration):
            return value
        if not isinstance(value, str):
            raise PydanticCustomError("string_type", "Input should be a valid string")
        return cls(value)


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _weekday(text: str, upper: bool = False) -> int:
    text = text.strip().lower()
    if text.isdigit() and int(text) <= 7:
        return int(text)
    if text[:3] in _WEEKDAYS and len(text) == 3:
        day = _WEEKDAYS.index(text)
        return 7 if upper and day == 0 else day
    raise ValueError(f"{text!r} is not a weekday (0-7 or sun-sat)")


def _cron_weekdays(field: str) -> str:
    """A crontab day-of-week field (0 and 7 = Sunday) as APScheduler day names.

    APScheduler 3 counts 0 as Monday, so `1-5` handed to it straight would crawl Tuesday to
    Saturday; naming the days keeps the crontab meaning.
    """
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        if step_text and not step_text.isdigit():
            raise ValueError(f"{step_text!r} is not a step")
        step = int(step_text) if step_text else 1
        if step == 0:
            raise ValueError("a step must be more than 0")
        if span == "*":
            low, high = 0, 6
        elif "-" in span:
            first, last = span.split("-", 1)
            low, high = _weekday(first), _weekday(last, upper=True)
        else:
            low = _weekday(span)
            high = 6 if step_text else low
        if low > high:
            raise ValueError(f"the weekday range {span!r} runs backwards")
        days.update(d % 7 for d in range(low, high + 1, step))
    return ",".join(_WEEKDAYS[d] for d in sorted(days))


def cron_trigger(expr: str, timezone: str) -> CronTrigger:
    """An APScheduler trigger for a 5-field crontab expression with crontab's weekday numbers.

    Like APScheduler (unlike classic cron) a day-of-month and a day-of-week must both match.
    """
    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"{expr!r} has {len(fields)} fields; a cron expression has 5")
    names = ("minute", "hour", "day", "month")
    dow_error: ValueError | None = None
    try:
        weekdays = _cron_weekdays(fields[4])
        return CronTrigger(**dict(zip(names, fields, strict=False)), day_of_week=weekdays, timezone=timezone)
    except ValueError as exc:
        dow_error = exc
    # APScheduler does not say which field it refused; try them one at a time, in order.
    for name, written in zip(names, fields, strict=False):
        try:
            CronTrigger(**{name: written}, timezone=timezone)
        except ValueError as exc:
            raise ValueError(f"{_FIELD_WORDS[name]} {written!r}: {_cron_reason(exc)}") from None
    raise ValueError(f"day of week {fields[4]!r}: {_cron_reason(dow_error)}")


_FIELD_WORDS = {"minute": "minute", "hour": "hour", "day": "day of month", "month": "month"}
_OUT_OF_RANGE = re.compile(
    r"the (?:last|first) value \((\d+)\) is (higher|lower) than the (?:maximum|minimum) value \((\d+)\)"
)


def _cron_reason(exc: ValueError) -> str:
    text = str(exc)
    m = _OUT_OF_RANGE.search(text)
    if m:
        side = "above the highest" if m.group(2) == "higher" else "below the lowest"
        return f"{m.group(1)} is {side} value {m.group(3)}"
    return text[0].lower() + text[1:] if text else "not valid"


def schedule_trigger(schedule: str, timezone: str) -> BaseTrigger:
    """The APScheduler trigger for a site's `schedule` (an interval or a cron expression)."""
    from apscheduler.triggers.interval import IntervalTrigger

    if _INTERVAL.match(schedule.strip()):
        return IntervalTrigger(seconds=parse_interval(schedule).total_seconds(), timezone=timezone)
    return cron_trigger(schedule, timezone)


def check_schedule(v: str) -> str:
    """Validate a `schedule` value; the ValueError's text says what is wrong."""
    v = v.strip()
    if _INTERVAL.match(v):
        parse_interval(v)
        return v
    if len(v.split()) == 5:
        try:
            cron_trigger(v, "UTC")
        except ValueError as exc:
            raise ValueError(f"{v!r} is not a valid cron expression: {exc}") from None
        return v
    hint = f" (add a unit: {v}m?)" if v.isdigit() else ""
    raise ValueError(f"{v!r} is neither an interval (30s, 15m, 2h, 1d) nor a 5-field cron expression{hint}")
