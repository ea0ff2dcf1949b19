"""Alerts: who is told about a hit, once, and the e-mail that tells them.

    routing.py    who hears about a hit: the person's unit (leader, notify list), the fallback,
                  the analysts' digest — the only place that decides recipients
    dispatch.py   grouping and dedup: alert rows (the outbox) written with the hits, one per
                  recipient, run and kind; silences; reminders and the digest
    delivery.py   sending the outbox: claim, lease, send, retry with backoff, mark sent
    smtp.py       the SMTP connection, and which failures are worth retrying
    compose.py    the e-mail of one alert (text and HTML), with postdate.py (when a post was
                  written: the police deadline) and mime.py (the message's bytes)
    report.py     the outbox as `vaern alerts` and `vaern status` show it
    tsanotice.py  the admins' e-mail when no timestamp authority has answered for too long
    loginnotice.py  the admins' e-mail when a logged-in site's session stopped working

Outside this package, import from here (`from vaern.alerts import deliver`), not from the modules:
the names below are the package's interface. Each module is loaded when one of its names is
first used, so a crawl process that only queues alerts does not load the e-mail composer.
Controlled by `units`, `alerts.*`, `smtp.*`, `language`, `timezone` and `review_url`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vaern.alerts.compose import deadline_of, mark_names, police_fits_hit
    from vaern.alerts.delivery import DeliveryReport, deliver
    from vaern.alerts.dispatch import enqueue, queue_digest, queue_reminders, silence
    from vaern.alerts.loginnotice import notify_needs_login
    from vaern.alerts.postdate import POLICE_DEADLINE
    from vaern.alerts.report import alerts_json, alerts_table, outbox_counts
    from vaern.alerts.tsanotice import notify_tsa_silence

_HOMES = {
    "compose": ("deadline_of", "mark_names", "police_fits_hit"),
    "delivery": ("DeliveryReport", "deliver"),
    "dispatch": ("enqueue", "queue_digest", "queue_reminders", "silence"),
    "postdate": ("POLICE_DEADLINE",),
    "report": ("alerts_json", "alerts_table", "outbox_counts"),
    "tsanotice": ("notify_tsa_silence",),
    "loginnotice": ("notify_needs_login",),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "POLICE_DEADLINE",
    "DeliveryReport",
    "alerts_json",
    "alerts_table",
    "deadline_of",
    "deliver",
    "enqueue",
    "mark_names",
    "notify_needs_login",
    "notify_tsa_silence",
    "outbox_counts",
    "police_fits_hit",
    "queue_digest",
    "queue_reminders",
    "silence",
]
