"""What time it is: the one clock the code reads, so that tests can set it.

`now()` is aware UTC, `utcnow()` naive UTC (as the database stores times). Both are real time
unless the clock is set. A set clock started at a given instant and runs on from there: it is
real time plus a fixed offset, so leases, retries, sleeps and schedules still advance.

Set it in this process with `set_clock(start)` or `with clock_at(start): ...`, or for a process
and everything it starts with the environment variable `VAERN_CLOCK`:

    VAERN_CLOCK=2026-11-21T14:05:00Z vaern run

An instant alone means "the clock shows this when the process first reads it". The process then
writes the instant back into its environment together with the real time it stood for
(`2026-11-21T14:05:00Z@2026-12-07T09:12:44.301200Z`), so the processes it starts (crawls and
their browsers) go on from the same clock instead of starting it over. `set_clock` writes that
same form, which is how a test's child processes (`vaern run` in a subprocess) share its clock.

Durations measured with `time.monotonic()` are not the clock's business and are unaffected.

`iso(moment)` is how every time is written for people and scripts (`vaern hits --json`, the
outbox, the archive's manifests, logs): ISO 8601 in UTC, to the second, with `Z`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import overload

ENV = "VAERN_CLOCK"

_REAL = timedelta(0)
_lock = threading.Lock()
# The value of VAERN_CLOCK last read and the offset it means; read again only when it changes.
_read: tuple[str, timedelta] = ("", _REAL)


def now() -> datetime:
    """The current time, aware UTC."""
    offset = _offset()  # first: reading a bare VAERN_CLOCK takes the real time it stands for
    return datetime.now(UTC) + offset


def utcnow() -> datetime:
    """The current time, naive UTC, as stored in the database."""
    return now().replace(tzinfo=None)


@overload
def iso(moment: datetime) -> str: ...
@overload
def iso(moment: None) -> None: ...
@overload
def iso(moment: datetime | None) -> str | None: ...
def iso(moment: datetime | None) -> str | None:
    """A time as ISO 8601 in UTC to the second with `Z`, e.g. '2026-11-21T14:03:11Z' (None stays None).

    A naive time is UTC, as the database stores times; an aware one is converted.
    """
    if moment is None:
        return None
    return _utc(moment).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def set_clock(start: datetime | None) -> None:
    """Start the clock of this process, and of every process it starts from now on, at `start`
    (naive means UTC); `None` puts it back on real time."""
    if start is None:
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = _pinned(_utc(start), datetime.now(UTC))


@contextmanager
def clock_at(start: datetime) -> Iterator[None]:
    """The clock started at `start` inside the block; as it was before afterwards."""
    before = os.environ.get(ENV)
    set_clock(start)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before


def _offset() -> timedelta:
    seen, offset = _read
    if os.environ.get(ENV, "").strip() == seen:
        return offset
    return _reread()


def _reread() -> timedelta:
    global _read
    with _lock:
        value = os.environ.get(ENV, "").strip()
        if value and value != _read[0]:
            shown, at, real = value.partition("@")
            start = _parse(shown, value)
            if at:
                anchor = _parse(real, value)
            else:
                # First read of a bare instant: pin it, so child processes continue this clock.
                anchor = datetime.now(UTC)
                value = _pinned(start, anchor)
                os.environ[ENV] = value
            _read = (value, start - anchor)
        elif not value:
            _read = ("", _REAL)
        return _read[1]


def _parse(text: str, whole: str) -> datetime:
    try:
        return _utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        raise ValueError(
            f"{ENV}={whole!r} is not an instant like 2026-11-21T14:05:00Z "
            "(optionally followed by @ and the real instant it stood for)"
        ) from None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _pinned(start: datetime, anchor: datetime) -> str:
    return f"{_iso(start)}@{_iso(anchor)}"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


__all__ = ["ENV", "clock_at", "iso", "now", "set_clock", "utcnow"]
