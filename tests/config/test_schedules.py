"""Intervals and durations, and site schedules: crontab expressions fire on the days crontab means."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from vaern.config import Alerts, Crawl, Site
from vaern.config.schedules import Duration, check_schedule, cron_trigger, parse_interval, schedule_trigger

CPH = ZoneInfo("Europe/Copenhagen")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        (" 45 m ", timedelta(minutes=45)),
    ],
)
def test_parse_interval(text: str, expected: timedelta) -> None:
    assert parse_interval(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0m", "'0m': an interval must be longer than 0"),
        ("1w", "'1w' is not an interval like 30s, 15m, 2h or 1d"),
        ("1h30m", "'1h30m' is not an interval like 30s, 15m, 2h or 1d"),
    ],
)
def test_parse_interval_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_interval(text)
    assert str(caught.value) == message


def test_a_duration_is_read_once_into_a_timedelta_that_reads_as_written() -> None:
    site = Site(id="a", start_urls=["https://a.example/"], follow={"recheck_after": " 90m "})
    wait = site.follow.recheck_after
    assert isinstance(wait, timedelta) and wait == timedelta(minutes=90)
    assert str(wait) == "90m" and f"after {Crawl().timeout}" == "after 1h"
    assert Alerts().retry_initial == timedelta(seconds=30) and Alerts(retry_max="2m").retry_max.total_seconds() == 120
    # Dumped (the site's settings in the database and in evidence) as the config wrote it.
    assert site.model_dump(mode="json")["follow"]["recheck_after"] == "90m"
    assert Duration("60m") == Duration("1h")


def fire_days(expr: str, start: datetime, count: int) -> list[str]:
    trigger = cron_trigger(expr, "Europe/Copenhagen")
    out: list[str] = []
    previous = None
    now = start
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        assert fire is not None
        out.append(fire.strftime("%a %H:%M"))
        previous, now = fire, fire + timedelta(seconds=1)
    return out


@pytest.mark.parametrize(
    ("expr", "days"),
    [
        # Crontab counts 0 (and 7) as Sunday; APScheduler 3 alone would take 1-5 as Tuesday-Saturday.
        ("0 7 * * 1-5", ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon"]),
        ("0 7 * * 0", ["Sun"] * 6),
        ("0 7 * * 7", ["Sun"] * 6),
        ("0 7 * * 5-7", ["Fri", "Sat", "Sun", "Fri", "Sat", "Sun"]),
        ("0 7 * * sat,sun", ["Sat", "Sun", "Sat", "Sun", "Sat", "Sun"]),
        ("0 7 * * */2", ["Tue", "Thu", "Sat", "Sun", "Tue", "Thu"]),
        ("0 7 * * mon-wed/2", ["Mon", "Wed", "Mon", "Wed", "Mon", "Wed"]),
    ],
)
def test_cron_weekdays_mean_what_crontab_means(expr: str, days: list[str]) -> None:
    start = datetime(2026, 1, 5, 0, 0, tzinfo=CPH)  # a Monday
    assert start.strftime("%a") == "Mon"
    assert [d.split()[0] for d in fire_days(expr, start, 6)] == days


def test_cron_runs_in_the_configured_time_zone() -> None:
    trigger = cron_trigger("30 7 * * *", "Europe/Copenhagen")
    fire = trigger.get_next_fire_time(None, datetime(2026, 7, 1, 0, 0, tzinfo=ZoneInfo("UTC")))
    assert fire is not None
    assert fire.astimezone(ZoneInfo("UTC")).strftime("%H:%M") == "05:30"  # CEST is UTC+2


def test_schedule_trigger_kinds() -> None:
    interval = schedule_trigger("15m", "Europe/Copenhagen")
    assert isinstance(interval, IntervalTrigger) and interval.interval == timedelta(minutes=15)
    assert isinstance(schedule_trigger("*/20 7-22 * * *", "Europe/Copenhagen"), CronTrigger)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "*/0 * * * *",
            "'*/0 * * * *' is not a valid cron expression: minute '*/0': increment must be higher than 0",
        ),
        (
            "0 7 * 13 *",
            "'0 7 * 13 *' is not a valid cron expression: month '13': 13 is above the highest value 12",
        ),
        (
            "0 7 32 * *",
            "'0 7 32 * *' is not a valid cron expression: day of month '32': 32 is above the highest "
            "value 31",
        ),
        (
            "0 7 * * 8",
            "'0 7 * * 8' is not a valid cron expression: day of week '8': '8' is not a weekday "
            "(0-7 or sun-sat)",
        ),
        (
            "0 7 * * fri-mon",
            "'0 7 * * fri-mon' is not a valid cron expression: day of week 'fri-mon': "
            "the weekday range 'fri-mon' runs backwards",
        ),
        ("0 7 * *", "'0 7 * *' is neither an interval (30s, 15m, 2h, 1d) nor a 5-field cron expression"),
    ],
)
def test_check_schedule_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_schedule(text)
    assert str(caught.value) == message
