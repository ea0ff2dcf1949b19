"""The admins' e-mail when no timestamp authority has answered for `evidence.tsa_alert_after`.

Run by `vaern run` with the timestamp retries (scheduler.py). Sent to `evidence.tsa_alert_to`
(default: `alerts.fallback`) once per outage: the audit log records each notice, and no second one
goes out while the same tokens are still owed. A failed send is tried again on the next round.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vaern import clock
from vaern.alerts.smtp import SendFailure, SmtpTransport
from vaern.config import Config
from vaern.storage.stamping import timestamp_state, tsa_silent_for
from vaern.storage.tables import AuditRow, TimestampRow

log = logging.getLogger(__name__)
ACTION = "tsa_silence_notice"


def recipients(config: Config) -> list[str]:
    return list(config.evidence.tsa_alert_to) or ([config.alerts.fallback] if config.alerts.fallback else [])


def notify_tsa_silence(config: Config, session: Session) -> bool:
    """E-mail the admins if tokens are owed and no TSA has answered for too long; True if sent."""
    silent = tsa_silent_for(session, config)
    if silent is None or silent < config.evidence.tsa_alert_after:
        return False
    oldest = session.scalar(select(func.min(TimestampRow.created_at)).where(TimestampRow.status == "pending"))
    told = session.scalar(select(func.max(AuditRow.at)).where(AuditRow.action == ACTION))
    if told is not None and oldest is not None and told >= oldest:
        return False  # told already about this outage
    to = recipients(config)
    if not to:
        log.warning("no TSA has answered for %s and nobody is set to be told (evidence.tsa_alert_to)", silent)
        return False
    state = timestamp_state(session, config)
    hours = silent.total_seconds() / 3600
    msg = EmailMessage()
    msg["From"] = config.smtp.sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(clock.now().timestamp(), localtime=False)
    msg["Message-ID"] = make_msgid(domain="vaern")
    msg["Subject"] = f"Værn: no timestamp authority has answered for {hours:.1f} hours"
    msg.set_content(
        f"{config.organisation}: {state['pending']} trusted timestamp(s) are owed, the oldest since "
        f"{state['oldest_pending']}.\n"
        f"Last error: {state['last_error']}\n"
        f"Timestamp authorities: {', '.join(config.evidence.tsa_urls)}\n\n"
        "The evidence is stored and chained; until a TSA answers, nothing independent of this machine's "
        "clock proves when it was captured. `vaern status` shows the queue; `vaern run` keeps asking.\n"
    )
    try:
        with SmtpTransport(config.smtp) as smtp:
            for address in to:
                smtp.send(address, msg.as_bytes())
    except SendFailure as exc:
        log.warning("could not e-mail the TSA notice: %s", exc)
        return False
    session.add(AuditRow(at=clock.now().replace(tzinfo=None), user_id=None, username="vaern", action=ACTION,
                         hit_id=None, detail={"to": to, "pending": state["pending"], "silent_hours": round(hours, 1)}))
    session.commit()
    return True
