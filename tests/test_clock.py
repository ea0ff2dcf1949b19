"""The clock: real time unless set; a set clock starts at its instant and runs on, in this process
and in the processes it starts (VAERN_CLOCK)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from vaern import clock

START = datetime(2026, 11, 21, 14, 5, tzinfo=UTC)
# A child process's view of the clock: its time, and the VAERN_CLOCK it would hand on.
CHILD = "import os; from vaern import clock; print(clock.now().isoformat()); print(os.environ.get('VAERN_CLOCK'))"


def _child() -> tuple[datetime, str]:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True).stdout
    shown, handed_on = out.splitlines()
    return datetime.fromisoformat(shown), handed_on


@pytest.fixture(autouse=True)
def real_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(clock.ENV, raising=False)


def test_unset_it_is_real_time() -> None:
    before = datetime.now(UTC)
    shown = clock.now()
    assert before <= shown <= datetime.now(UTC)
    assert shown.tzinfo is UTC
    naive = clock.utcnow()
    assert naive.tzinfo is None and abs(naive - datetime.now(UTC).replace(tzinfo=None)) < timedelta(seconds=1)


def test_a_set_clock_starts_at_its_instant_and_runs_on() -> None:
    with clock.clock_at(START):
        first = clock.now()
        time.sleep(0.2)
        second = clock.utcnow()
    assert START <= first < START + timedelta(seconds=1)
    assert second - first.replace(tzinfo=None) >= timedelta(seconds=0.2)
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=1)  # real time again after the block
    assert clock.ENV not in os.environ


def test_a_naive_start_is_utc_and_an_aware_one_is_converted() -> None:
    with clock.clock_at(datetime(2026, 11, 21, 14, 5)):
        assert clock.now() - START < timedelta(seconds=1)
    copenhagen = START.astimezone(ZoneInfo("Europe/Copenhagen"))
    with clock.clock_at(copenhagen):
        assert clock.utcnow() - START.replace(tzinfo=None) < timedelta(seconds=1)


def test_a_process_started_under_a_set_clock_goes_on_from_it_not_over_again() -> None:
    with clock.clock_at(START):
        time.sleep(0.5)
        shown, _ = _child()
        assert START + timedelta(seconds=0.5) <= shown < clock.now()


def test_a_bare_instant_in_the_environment_starts_at_first_read_and_is_handed_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(clock.ENV, "2026-11-21T14:05:00Z")
    first = clock.now()
    assert START <= first < START + timedelta(seconds=1)
    # Pinned: the processes this one starts continue its clock rather than starting it over.
    assert os.environ[clock.ENV].startswith("2026-11-21T14:05:00Z@")
    time.sleep(0.5)
    shown, handed_on = _child()
    assert first + timedelta(seconds=0.5) <= shown < clock.now()
    assert handed_on == os.environ[clock.ENV]


def test_a_bad_value_is_refused_with_the_variable_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(clock.ENV, "last tuesday")
    with pytest.raises(ValueError, match=r"VAERN_CLOCK='last tuesday' is not an instant like 2026-11-21T14:05:00Z"):
        clock.now()
