"""Users, passwords (argon2) and signing in, slowed down per account and per address.

The password hasher is passed in by the entry point (`standard_hasher()` in production;
tests pass a cheap one): hashing at full cost takes about 0.4 s.

Signing in is two steps with a commit between them, so that no lock is held while the
password is hashed: `claim_attempt` counts the attempt on the account and on the client
address (one statement each, `store.repositories.throttles.claim`) or refuses it, then
`authenticate` checks the password. N attempts sent at once are checked at most as often
as the back-off allows (`domain.credentials.ACCOUNT_BACKOFF`, `ADDRESS_BACKOFF`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Role
from doorstep.domain.credentials import ACCOUNT_BACKOFF, ADDRESS_BACKOFF, minutes_until
from doorstep.domain.errors import InvalidValue, LoginRefused, LoginThrottled, NotFound
from doorstep.services.conduct import audit
from doorstep.services.people import sessions
from doorstep.store.models import User
from doorstep.store.repositories import people as repo
from doorstep.store.repositories import throttles

MIN_PASSWORD = 10
STALE_COUNTERS = timedelta(days=2)


@dataclass(frozen=True)
class NewUser:
    username: str
    display_name: str
    role: Role
    password: str
    regions: list[str] | None = None
    badge_number: str | None = None


def standard_hasher() -> PasswordHasher:
    """argon2id at argon2-cffi's defaults (RFC 9106's low-memory profile): production's."""
    return PasswordHasher()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidValue(
            f"a password needs at least {MIN_PASSWORD} characters",
            message_zh=f"密码至少 {MIN_PASSWORD} 个字符",
        )


def add_user(session: Session, by: Actor, new: NewUser, *, hasher: PasswordHasher) -> User:
    _check_password(new.password)
    if repo.username_taken(session, new.username):
        raise InvalidValue(
            f"user {new.username!r} exists", message_zh=f"用户 {new.username!r} 已存在"
        )
    user = User(
        username=new.username,
        display_name=new.display_name,
        role=new.role.value,
        password_hash=hasher.hash(new.password),
        regions=new.regions,
        badge_number=new.badge_number,
        active=True,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        by,
        "user.add",
        "user",
        user.id,
        {"username": user.username, "role": user.role, "regions": user.regions},
    )
    return user


def _user(session: Session, username: str) -> User:
    user = repo.user_named(session, username)
    if user is None:
        raise NotFound(f"no user {username!r}", message_zh=f"没有用户 {username!r}")
    return user


def set_active(session: Session, by: Actor, username: str, active: bool, *, now: datetime) -> User:
    """Enable or disable a user; disabling ends their web sessions and revokes their API
    tokens at `now`."""
    user = _user(session, username)
    user.active = active
    if not active:
        repo.revoke_tokens(session, user.id, now)
        sessions.end_all(session, user.id, now=now, reason="disabled")
    audit.record(
        session,
        by,
        "user.enable" if active else "user.disable",
        "user",
        user.id,
        {"username": username},
    )
    return user


def list_users(session: Session) -> list[User]:
    return repo.users_by_name(session)


def actor_for(session: Session, user: User) -> Actor:
    teams = repo.team_ids_of(session, user.id)
    regions = frozenset(user.regions) if user.role == Role.MANAGER.value and user.regions else None
    return Actor(user.username, Role(user.role), user.id, regions, teams)


def change_password(
    session: Session,
    by: Actor,
    username: str,
    password: str,
    *,
    hasher: PasswordHasher,
    now: datetime,
) -> User:
    """A new password; every web session of the user ends (API tokens stay: they are
    listed and revoked on their own)."""
    _check_password(password)
    user = _user(session, username)
    user.password_hash = hasher.hash(password)
    ended = sessions.end_all(session, user.id, now=now, reason="password")
    audit.record(session, by, "user.password", "user", user.id, {"sessions_ended": ended})
    return user


def _account(username: str) -> str:
    return f"login:account:{username}"


def _address(address: str) -> str:
    return f"login:address:{address}"


def claim_attempt(session: Session, username: str, address: str, *, now: datetime) -> None:
    """Count a sign-in attempt on the account and on the address, or refuse it
    (`LoginThrottled`, saying for how long) when either is locked. Commit before
    `authenticate`, so the count is there for attempts running at the same time."""
    until = throttles.claim(session, _account(username), ACCOUNT_BACKOFF, now)
    if until is None:
        until = throttles.claim(session, _address(address), ADDRESS_BACKOFF, now)
        if until is not None:  # not checked after all: the account keeps its count
            throttles.refund(session, _account(username))
    if until is not None:
        raise LoginThrottled(minutes_until(until, now))


def authenticate(
    session: Session,
    username: str,
    password: str,
    address: str,
    *,
    hasher: PasswordHasher,
    now: datetime,
) -> User:
    """The active user with this password, after `claim_attempt` counted the attempt. A
    failure stays counted; a success clears the account's count and takes the attempt
    back from the address's."""
    user = repo.user_named(session, username)
    ok = False
    if user is not None and user.active:
        try:
            ok = hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        hasher.hash(password)  # same cost whether or not the account exists
    if not ok or user is None:
        raise LoginRefused("wrong username or password", message_zh="用户名或密码错误")
    throttles.clear(session, _account(username))
    throttles.refund(session, _address(address))
    throttles.forget_stale(session, now - STALE_COUNTERS, now)
    return user


def unlock(
    session: Session, by: Actor, username: str, *, now: datetime, address: str | None = None
) -> bool:
    """An administrator lifts the sign-in lock of an account (and of an address, when
    given): whether there was anything to lift."""
    user = _user(session, username)
    lifted = throttles.clear(session, _account(username))
    if address:
        lifted = throttles.clear(session, _address(address)) or lifted
    audit.record(
        session, by, "user.unlock", "user", user.id, {"address": address, "at": now.isoformat()}
    )
    return lifted
