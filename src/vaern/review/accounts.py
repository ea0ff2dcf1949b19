"""Managing review-app accounts after they were added: list, remove, new password, new role.

The same functions serve `vaern user list | remove | passwd | role` and the admins' accounts page.
Every change is written to the audit log in the same transaction, with who made it (an admin in
the app, or `cli (<system user>)`) and what changed (never a password). A removed account's
sign-ins end at once, and so do those of an account whose password or role changed. The last
active admin can neither be removed nor given another role: someone must be able to manage the rest.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vaern.config import Config
from vaern.review import audit
from vaern.review.access import Viewer
from vaern.review.auth import MIN_PASSWORD, AccountError, _hasher, check_role, close_sessions_of
from vaern.storage.tables import UserRow


def list_users(session: Session) -> list[UserRow]:
    return list(session.scalars(select(UserRow).order_by(UserRow.username)))


def user_json(user: UserRow) -> dict[str, Any]:
    return {
        "name": user.username, "role": user.role, "units": list(user.units or []), "active": user.active,
        "created_at": user.created_at.isoformat() + "Z" if user.created_at else None,
        "last_login_at": user.last_login_at.isoformat() + "Z" if user.last_login_at else None,
    }


def _user(session: Session, username: str) -> UserRow:
    user = session.scalar(select(UserRow).where(UserRow.username == username.strip()))
    if user is None:
        raise AccountError(f"no user named {username!r}")
    return user


def _keep_an_admin(session: Session, user: UserRow) -> None:
    if user.role != "admin" or not user.active:
        return
    admins = session.scalar(
        select(func.count()).select_from(UserRow).where(UserRow.role == "admin", UserRow.active.is_(True))
    )
    if (admins or 0) <= 1:
        raise AccountError(f"{user.username!r} is the last admin; add another admin first")


def _record(session: Session, actor: Viewer | None, actor_name: str, action: str, **detail: Any) -> None:
    audit.record(session, actor, action, username=actor_name, **detail)


def remove_user(session: Session, username: str, *, actor: Viewer | None = None, actor_name: str = "") -> None:
    """Delete the account and end its sign-ins; its past actions stay in the audit log by name."""
    user = _user(session, username)
    _keep_an_admin(session, user)
    close_sessions_of(session, user.id)
    session.delete(user)
    _record(session, actor, actor_name, "user_remove", user=user.username, role=user.role)


def set_password(
    session: Session, username: str, password: str, *, actor: Viewer | None = None, actor_name: str = ""
) -> None:
    """A new password; the account's sign-ins end (a stolen session goes with the old password)."""
    user = _user(session, username)
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    user.password_hash = _hasher.hash(password)
    close_sessions_of(session, user.id)
    _record(session, actor, actor_name, "user_password", user=user.username)


def set_role(
    session: Session, config: Config, username: str, role: str, units: list[str], *,
    actor: Viewer | None = None, actor_name: str = "",
) -> None:
    """A new role (and, for a leader, units); the account's sign-ins end so it signs in anew."""
    user = _user(session, username)
    check_role(config, role, units)
    if role != "admin":
        _keep_an_admin(session, user)
    before = (user.role, list(user.units or []))
    user.role, user.units = role, sorted(set(units)) if role == "leader" else []
    close_sessions_of(session, user.id)
    _record(session, actor, actor_name, "user_role", user=user.username, before={"role": before[0], "units": before[1]},
            after={"role": user.role, "units": list(user.units)})
