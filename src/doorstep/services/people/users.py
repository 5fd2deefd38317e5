"""Users, passwords (argon2), API tokens, and login throttling.

The password hasher is passed in by the entry point (`standard_hasher()` in production;
tests pass a cheap one): hashing at full cost takes about 0.4 s."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Role
from doorstep.domain.errors import (
    InvalidValue,
    LoginRefused,
    LoginThrottled,
    NotFound,
)
from doorstep.services.conduct import audit
from doorstep.store.models import ApiToken, LoginFailure, User
from doorstep.store.repositories import people as repo

WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20


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


def add_user(session: Session, by: Actor, new: NewUser, *, hasher: PasswordHasher) -> User:
    if len(new.password) < 10:
        raise InvalidValue(
            "a password needs at least 10 characters", message_zh="密码至少 10 个字符"
        )
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


def set_active(session: Session, by: Actor, username: str, active: bool, *, now: datetime) -> User:
    """Enable or disable a user; disabling revokes their API tokens at `now`."""
    user = repo.user_named(session, username)
    if user is None:
        raise NotFound(f"no user {username!r}", message_zh=f"没有用户 {username!r}")
    user.active = active
    if not active:
        repo.revoke_tokens(session, user.id, now)
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


def authenticate(
    session: Session,
    username: str,
    password: str,
    address: str,
    *,
    hasher: PasswordHasher,
    now: datetime,
) -> User:
    """The active user with this password; refuses when the account or the address has
    failed too often lately (the failure is recorded either way, in its own row)."""
    by_account, by_address = repo.failures_since(session, now - WINDOW, username, address)
    if by_account >= MAX_FAILURES_PER_ACCOUNT or by_address >= MAX_FAILURES_PER_ADDRESS:
        raise LoginThrottled(
            "too many failed logins: try again in 15 minutes",
            message_zh="登录失败次数过多，请 15 分钟后再试",
        )
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
        session.add(LoginFailure(username=username, address=address, at=now))
        session.flush()
        raise LoginRefused("wrong username or password", message_zh="用户名或密码错误")
    repo.forget_failures(session, username)
    return user


def session_stamp(user: User) -> str:
    """Changes whenever the user's password or record changes (disable, enable, role...),
    so every session signed in before that change stops working."""
    material = f"{user.password_hash}|{user.role}|{user.active}|{user.updated_at.isoformat()}"
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, by: Actor, user: User, label: str) -> str:
    """A new bearer token (shown once; only its hash is stored)."""
    token = "dst_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_token_hash(token), label=label))
    audit.record(session, by, "token.issue", "user", user.id, {"label": label})
    return token


def user_for_token(session: Session, token: str) -> User | None:
    return repo.active_user_for_token(session, _token_hash(token))
