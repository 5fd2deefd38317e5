"""Users, passwords (argon2), API tokens, and login throttling."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from doorstep.domain.access import Actor, Role
from doorstep.domain.errors import (
    InvalidValue,
    LoginRefused,
    LoginThrottled,
    NotFound,
)
from doorstep.services.conduct import audit
from doorstep.store.models import ApiToken, LoginFailure, TeamMember, User

HASHER = PasswordHasher()
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


def add_user(session: Session, by: Actor, new: NewUser) -> User:
    if len(new.password) < 10:
        raise InvalidValue(
            "a password needs at least 10 characters", message_zh="密码至少 10 个字符"
        )
    if session.scalar(select(User.id).where(User.username == new.username)):
        raise InvalidValue(
            f"user {new.username!r} exists", message_zh=f"用户 {new.username!r} 已存在"
        )
    user = User(
        username=new.username,
        display_name=new.display_name,
        role=new.role.value,
        password_hash=HASHER.hash(new.password),
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


def set_active(session: Session, by: Actor, username: str, active: bool) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}", message_zh=f"没有用户 {username!r}")
    user.active = active
    if not active:
        session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
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
    return list(session.scalars(select(User).order_by(User.username)))


def actor_for(session: Session, user: User) -> Actor:
    teams = frozenset(
        session.scalars(select(TeamMember.team_id).where(TeamMember.user_id == user.id))
    )
    regions = frozenset(user.regions) if user.role == Role.MANAGER.value and user.regions else None
    return Actor(user.username, Role(user.role), user.id, regions, teams)


def authenticate(session: Session, username: str, password: str, address: str) -> User:
    """The active user with this password; refuses when the account or the address has
    failed too often lately (the failure is recorded either way, in its own row)."""
    since = datetime.now(UTC) - WINDOW
    by_account = session.scalar(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.username == username, LoginFailure.at >= since)
    )
    by_address = session.scalar(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.address == address, LoginFailure.at >= since)
    )
    if (by_account or 0) >= MAX_FAILURES_PER_ACCOUNT or (
        by_address or 0
    ) >= MAX_FAILURES_PER_ADDRESS:
        raise LoginThrottled(
            "too many failed logins: try again in 15 minutes",
            message_zh="登录失败次数过多，请 15 分钟后再试",
        )
    user = session.scalar(select(User).where(User.username == username))
    ok = False
    if user is not None and user.active:
        try:
            ok = HASHER.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        HASHER.hash(password)  # same cost whether or not the account exists
    if not ok or user is None:
        session.add(LoginFailure(username=username, address=address))
        session.flush()
        raise LoginRefused("wrong username or password", message_zh="用户名或密码错误")
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))
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
    return session.execute(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == _token_hash(token),
            ApiToken.revoked_at.is_(None),
            User.active.is_(True),
        )
    ).scalar_one_or_none()
