"""The admins' e-mail when a logged-in site's session stopped working (`needs_login`).

A crawl that meets a login wall marks the site (storage/queries.py `record_login`); this tells
`alerts.admins` (default: `alerts.fallback`) once per lapse: the site's `needs_login_told_at` is
set when the e-mail went, and cleared only when a crawl gets in again, so a site that stays logged
out is not reported every run. A failed send is tried again next time. Run by `vaern crawl` after
its delivery and by `vaern run` in its delivery loop. In the config's language (words/).
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import select
from sqlalchemy.orm import Session

from vaern import clock
from vaern.alerts.smtp import SendFailure, SmtpTransport
from vaern.config import Config
from vaern.storage.tables import AuditRow, SiteRow
from vaern.words import Words

log = logging.getLogger(__name__)
ACTION = "needs_login_notice"


def admins(config: Config) -> list[str]:
    return list(config.alerts.admins) or ([config.alerts.fallback] if config.alerts.fallback else [])


def notify_needs_login(config: Config, session: Session) -> list[str]:
    """E-mail the admins about each site whose session lapsed and who were not told yet; the
    ids of the sites told."""
    sites = session.scalars(
        select(SiteRow).where(SiteRow.needs_login.is_not(None), SiteRow.needs_login_told_at.is_(None))
        .order_by(SiteRow.id)
    ).all()
    if not sites:
        return []
    to = admins(config)
    if not to:
        log.warning("sites need a new login session (%s) and nobody is set to be told (alerts.admins)",
                    ", ".join(s.id for s in sites))
        return []
    words = Words(config.language).section("mail.needs_login")
    told: list[str] = []
    try:
        with SmtpTransport(config.smtp) as smtp:
            for site in sites:
                msg = EmailMessage()
                msg["From"] = config.smtp.sender
                msg["To"] = ", ".join(to)
                msg["Date"] = formatdate(clock.now().timestamp(), localtime=False)
                msg["Message-ID"] = make_msgid(domain="vaern")
                msg["Subject"] = words("subject", site=site.name)
                since = clock.iso(site.needs_login_since) if site.needs_login_since else ""
                msg.set_content(words("body", organisation=config.organisation, site=site.name, id=site.id,
                                      reason=site.needs_login or "", since=since, review=config.review_url))
                for address in to:
                    smtp.send(address, msg.as_bytes())
                site.needs_login_told_at = clock.utcnow()
                session.add(AuditRow(at=clock.utcnow(), user_id=None, username="vaern", action=ACTION, hit_id=None,
                                     detail={"site": site.id, "to": to, "reason": site.needs_login}))
                session.commit()
                told.append(site.id)
    except SendFailure as exc:
        log.warning("could not e-mail the needs-login notice: %s", exc)
    return told
