"""The audit log: every view and export of evidence and every change, with who and when.

Entries are added to the request's own transaction, so an action and its entry are stored together
or not at all. Admins read the log at /admin/audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vaern.clock import utcnow
from vaern.review.access import Viewer
from vaern.storage.tables import AuditRow

AUDIT_PAGE = 100


def record(
    db: Session,
    viewer: Viewer | None,
    action: str,
    *,
    hit_id: int | None = None,
    address: str | None = None,
    username: str | None = None,
    **detail: Any,
) -> None:
    db.add(
        AuditRow(
            at=utcnow(),
            user_id=viewer.id if viewer else None,
            username=viewer.username if viewer else (username or "")[:100],
            action=action,
            hit_id=hit_id,
            detail=detail,
            address=(address or "")[:100] or None,
        )
    )


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    page: int
    pages: int


def read(db: Session, page: int = 1, username: str = "", hit_id: int | None = None) -> AuditPage:
    where = []
    if username:
        where.append(AuditRow.username == username)
    if hit_id is not None:
        where.append(AuditRow.hit_id == hit_id)
    total = db.scalar(select(func.count()).select_from(AuditRow).where(*where)) or 0
    pages = max(1, -(-total // AUDIT_PAGE))
    page = max(1, min(page, pages))
    rows = db.scalars(
        select(AuditRow).where(*where).order_by(AuditRow.id.desc()).limit(AUDIT_PAGE).offset((page - 1) * AUDIT_PAGE)
    ).all()
    return AuditPage(list(rows), page, pages)
