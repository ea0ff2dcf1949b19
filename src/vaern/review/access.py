"""Who may see what: the one place that turns a signed-in user into a filter on hits.

Admins and analysts see every hit; a leader sees only hits whose unit is one of theirs. A hit's
unit is its person's current unit, as alerts are routed: when a person moves to another unit, their
hits move with them, and from then on everything about them (the hit, its evidence, updates,
actions) is the new unit's. The old unit keeps what it was told before the move and nothing more:
`former_hit` gives a leader of the old unit the hit as it stood at the move (status, excerpt,
categories), read-only, so the links in the e-mails they were sent still lead somewhere.
Every query of hits in the app — the list, the counts, search, the overview, detail, files,
export and JSON — goes through `visible_hits`
(one hit: `visible_hit`), so a hit outside a leader's units is
indistinguishable from one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.orm import Session

from vaern.storage.tables import HitMoveRow, HitRow, UserRow

# The roles that see every unit's hits and do the casework on them (capture, discovery, author links).
CASEWORK_ROLES = ("admin", "analyst")


@dataclass(frozen=True)
class Viewer:
    """The signed-in user, detached from the database session."""

    id: int
    username: str
    role: str  # admin | analyst | leader
    units: tuple[str, ...] = ()

    @classmethod
    def of(cls, user: UserRow) -> Viewer:
        return cls(user.id, user.username, user.role, tuple(user.units or ()))

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def sees_everything(self) -> bool:
        return self.role in CASEWORK_ROLES

    def may_see_unit(self, unit_id: str | None) -> bool:
        return self.sees_everything or (unit_id is not None and unit_id in self.units)


def visible_hits(viewer: Viewer) -> ColumnElement[bool]:
    """A WHERE clause on HitRow that keeps only what `viewer` may see."""
    if viewer.sees_everything:
        return true()
    if viewer.role == "leader" and viewer.units:
        return HitRow.unit_id.in_(viewer.units)
    return false()


def visible_hit(db: Session, viewer: Viewer, hit_id: int) -> HitRow | None:
    """The hit if it exists and `viewer` may see it; None in both other cases alike."""
    return db.scalar(select(HitRow).where(HitRow.id == hit_id, visible_hits(viewer)))


def former_hit(db: Session, viewer: Viewer, hit_id: int) -> HitMoveRow | None:
    """What a leader's unit was told about a hit before its person moved away (the latest move
    out of one of their units), or None."""
    if viewer.role != "leader" or not viewer.units:
        return None
    return db.scalar(
        select(HitMoveRow)
        .where(HitMoveRow.hit_id == hit_id, HitMoveRow.from_unit.in_(viewer.units))
        .order_by(HitMoveRow.moved_at.desc(), HitMoveRow.id.desc())
        .limit(1)
    )
