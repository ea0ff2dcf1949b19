"""Accounts, passwords, sign-in sessions, CSRF tokens and sign-in throttling for the review app.

`add_account` is `vaern user add`; `ensure_user` makes the demo's login. Controlled by
`review.session_hours`, `review.login_max_failures`, `review.login_max_failures_per_address` and
`review.login_window` in the config. Passwords are hashed with argon2id; the session cookie holds a
random token of which only the SHA-256 is stored, so a copy of the database signs nobody in. Each
session has its own CSRF token that every form posts back. Throttling state is in the database, so
it holds across restarts and several server processes.

Throttling, per window of `login_window`:
- per account: after `login_max_failures` failed attempts at one user name (from anywhere), that
  name is refused until the window has passed; a success clears its count;
- per address, softer: after `login_max_failures_per_address` failures from one address, that
  address is refused only for the names that already failed from it in the window. Colleagues
  behind the same office address who have not failed can still sign in; a script trying names
  from there gets one try per name.
Each attempt is counted (one atomic UPDATE, which takes the row's lock until the request commits)
before its password is checked, so parallel attempts cannot all pass a check made before any of
them was recorded: at most `login_max_failures` passwords are ever checked per name and window.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import case, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vaern.app import open_services
from vaern.clock import utcnow
from vaern.config import Config
from vaern.errors import VaernError
from vaern.review import audit
from vaern.storage.db import transaction
from vaern.storage.tables import LoginCounterRow, LoginFailureRow, LoginSessionRow, UserRow

ROLES = ("admin", "analyst", "leader")
MIN_PASSWORD = 8

_hasher = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(VaernError):
    """An account cannot be created as asked (bad role, unknown unit, short password, taken name)."""


def check_role(config: Config, role: str, units: list[str], *, unit: str = "unit") -> None:
    """A role and its units as an account may have them; raise AccountError naming what is wrong.
    `unit`: what the refusal calls a unit (`--unit` on the command line)."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    known = {u.id for u in config.units}
    unknown = [u for u in units if u not in known]
    if unknown:
        raise AccountError(
            f"unknown unit(s) {', '.join(unknown)} (units: {', '.join(sorted(known)) or 'none defined'})"
        )
    if role == "leader" and not units:
        raise AccountError(f"a leader needs at least one {unit}: leaders see only their units' people")


def add_user(
    session: Session, config: Config, username: str, role: str, units: list[str], password: str
) -> UserRow:
    """Create an account; raise AccountError naming what is wrong."""
    username = username.strip()
    if not username or len(username) > 100 or any(c.isspace() for c in username):
        raise AccountError(f"{username!r} is not a usable user name (no spaces, at most 100 characters)")
    check_role(config, role, units, unit="--unit")
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
            user = add_user(session, config, username, role, units, password)
            audit.record(session, None, "user_add", username=cli_actor(), user=user.username, role=user.role,
                         units=list(user.units))
    finally:
        services.engine.dispose()


def cli_actor() -> str:
    """Who the audit log names for a change made with `vaern user`: the system user running it."""
    import getpass

    try:
        return f"cli ({getpass.getuser()})"[:100]
    except Exception:  # no user name for this uid (a container)
        return "cli"


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


def count_attempt(session: Session, key: str, window: timedelta) -> int:
    """Count one attempt under `key` in the current window, atomically; return the count so far,
    this attempt included. The UPDATE locks the row until the caller's transaction ends, so a
    parallel attempt at the same key waits and then sees this one."""
    now = utcnow()
    fresh = LoginCounterRow.window_start < now - window
    bump = (
        update(LoginCounterRow)
        .where(LoginCounterRow.key == key)
        .values(
            attempts=case((fresh, 1), else_=LoginCounterRow.attempts + 1),
            window_start=case((fresh, now), else_=LoginCounterRow.window_start),
        )
        .returning(LoginCounterRow.attempts)
        .execution_options(synchronize_session=False)
    )
    count = session.execute(bump).scalar()
    if count is not None:
        return int(count)
    try:
        with session.begin_nested():  # a savepoint: a parallel first attempt may insert it first
            session.add(LoginCounterRow(key=key, window_start=now, attempts=1))
        return 1
    except IntegrityError:
        return int(session.execute(bump).scalar_one())


def _forget(session: Session, key: str) -> None:
    session.execute(delete(LoginCounterRow).where(LoginCounterRow.key == key))


def throttled(session: Session, config: Config, username: str, address: str) -> bool:
    """Count this attempt; True if it is over the limit for its name, or over the softer limit for
    its address while this name has already failed from there (see the module docstring)."""
    window = config.review.login_window
    if count_attempt(session, f"name:{username}", window) > config.review.login_max_failures:
        return True
    if count_attempt(session, f"address:{address}", window) <= config.review.login_max_failures_per_address:
        return False
    failed_here = session.scalar(
        select(func.count()).where(
            LoginFailureRow.username == username, LoginFailureRow.address == address[:100],
            LoginFailureRow.at >= utcnow() - window,
        )
    )
    return bool(failed_here)


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
    _forget(session, f"name:{username}")
    # The address limit is about failures: a success gives its attempt back.
    session.execute(
        update(LoginCounterRow)
        .where(LoginCounterRow.key == f"address:{address}", LoginCounterRow.attempts > 0)
        .values(attempts=LoginCounterRow.attempts - 1)
        .execution_options(synchronize_session=False)
    )
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


def close_sessions_of(session: Session, user_id: int) -> None:
    session.execute(delete(LoginSessionRow).where(LoginSessionRow.user_id == user_id))


def same_token(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of CSRF tokens; an absent token never matches."""
    return bool(expected) and bool(given) and secrets.compare_digest(str(expected), str(given))


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _forget_old_failures(session: Session, config: Config) -> None:
    """Old failures no longer count; dropping them keeps the table small."""
    cutoff = utcnow() - config.review.login_window * 4
    session.execute(delete(LoginFailureRow).where(LoginFailureRow.at < cutoff))
