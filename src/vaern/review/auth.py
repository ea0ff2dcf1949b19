"""Accounts, passwords, sign-in sessions, CSRF tokens and sign-in throttling for the review app.

`add_account` is `vaern user add`; `ensure_user` makes the demo's login. Controlled by
`review.session_hours`, `review.login_max_failures` and `review.login_window` in the config.
Passwords are hashed with argon2id; the session cookie holds a random token of which only the
SHA-256 is stored, so a copy of the database signs nobody in. Each session has its own CSRF token
that every form posts back. Throttling state is in the database, so it holds across restarts and
several server processes.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from vaern.app import open_services
from vaern.clock import utcnow
from vaern.config import Config
from vaern.errors import VaernError
from vaern.storage.db import transaction
from vaern.storage.tables import LoginFailureRow, LoginSessionRow, UserRow

ROLES = ("admin", "analyst", "leader")
MIN_PASSWORD = 8
# An address may fail this many times more than one name before it is throttled too: an office
# behind one NAT address holds many people, a password-guessing script holds one.
ADDRESS_FACTOR = 4

_hasher = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(VaernError):
    """An account cannot be created as asked (bad role, unknown unit, short password, taken name)."""


def add_user(
    session: Session, config: Config, username: str, role: str, units: list[str], password: str
) -> UserRow:
    """Create an account; raise AccountError naming what is wrong."""
    username = username.strip()
    if not username or len(username) > 100 or any(c.isspace() for c in username):
        raise AccountError(f"{username!r} is not a usable user name (no spaces, at most 100 characters)")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    known = {u.id for u in config.units}
    unknown = [u for u in units if u not in known]
    if unknown:
        raise AccountError(
            f"unknown unit(s) {', '.join(unknown)} (units: {', '.join(sorted(known)) or 'none defined'})"
        )
    if role == "leader" and not units:
        raise AccountError("a leader needs at least one --unit: leaders see only their units' people")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    if session.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
        raise AccountError(f"a user named {username!r} already exists")
    user = UserRow(
        username=username,
        password_hash=_hasher.hash(password),
        role=role,
        units=sorted(set(units)) if role == "leader" else [],
        active=True,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    return user


def add_account(config: Config, username: str, role: str, units: list[str], password: str) -> None:
    """`vaern user add`: create an account in the database named by `database`; raises
    AccountError saying what is wrong."""
    services = open_services(config)
    try:
        with transaction(services.sessions) as session:
            add_user(session, config, username, role, units, password)
    finally:
        services.engine.dispose()


def ensure_user(
    config: Config, username: str, password: str, role: str = "analyst", units: list[str] | None = None
) -> None:
    """Create the account unless one of that name exists (the demo login)."""
    services = open_services(config)
    try:
        with transaction(services.sessions) as session:
            if session.scalar(select(UserRow.id).where(UserRow.username == username)) is None:
                add_user(session, config, username, role, units or [], password)
    finally:
        services.engine.dispose()


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt: a user, or why not."""

    user: UserRow | None
    throttled: bool = False


def throttled(session: Session, config: Config, username: str, address: str) -> bool:
    """Too many recent failures for this name, or (a few times more) from this address."""
    since = utcnow() - config.review.login_window
    limit = config.review.login_max_failures
    by_name = session.scalar(
        select(func.count()).where(LoginFailureRow.username == username, LoginFailureRow.at >= since)
    )
    by_address = session.scalar(
        select(func.count()).where(LoginFailureRow.address == address, LoginFailureRow.at >= since)
    )
    return (by_name or 0) >= limit or (by_address or 0) >= limit * ADDRESS_FACTOR


def sign_in(session: Session, config: Config, username: str, password: str, address: str) -> SignIn:
    """Check a name and password, honouring the throttle; record the failure if it fails."""
    username = username.strip()[:100]
    if throttled(session, config, username, address):
        return SignIn(None, throttled=True)
    user = session.scalar(select(UserRow).where(UserRow.username == username, UserRow.active.is_(True)))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        ok = user is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None:
        _forget_old_failures(session, config)
        session.add(LoginFailureRow(username=username, address=address[:100], at=utcnow()))
        return SignIn(None)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = utcnow()
    session.execute(delete(LoginFailureRow).where(LoginFailureRow.username == username))
    return SignIn(user)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, config: Config, user: UserRow) -> str:
    """Start a sign-in session; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    # Expired sessions are cleared here, where they are cheap to find, rather than by a job.
    session.execute(delete(LoginSessionRow).where(LoginSessionRow.expires_at < now))
    session.add(
        LoginSessionRow(
            token_sha256=_digest(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + timedelta(hours=config.review.session_hours),
        )
    )
    return token


def find_session(session: Session, token: str | None) -> tuple[LoginSessionRow, UserRow] | None:
    """The live session and its (active) user for a cookie token, or None."""
    if not token or len(token) > 100:
        return None
    row = session.execute(
        select(LoginSessionRow, UserRow)
        .join(UserRow, UserRow.id == LoginSessionRow.user_id)
        .where(
            LoginSessionRow.token_sha256 == _digest(token),
            LoginSessionRow.expires_at > utcnow(),
            UserRow.active.is_(True),
        )
    ).first()
    return (row[0], row[1]) if row else None


def close_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(LoginSessionRow).where(LoginSessionRow.token_sha256 == _digest(token)))


def same_token(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of CSRF tokens; an absent token never matches."""
    return bool(expected) and bool(given) and secrets.compare_digest(str(expected), str(given))


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _forget_old_failures(session: Session, config: Config) -> None:
    """Old failures no longer count; dropping them keeps the table small."""
    cutoff = utcnow() - config.review.login_window * 4
    session.execute(delete(LoginFailureRow).where(LoginFailureRow.at < cutoff))
