"""Staff for tests: users with a known password (hashed cheaply), teams, actors, tokens."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from doorstep.domain.access import SYSTEM, Actor, Role
from doorstep.domain.credentials import ALL_SCOPES, Scope
from doorstep.services.people import teams, tokens, users
from doorstep.store.db import transaction
from doorstep.store.models import Team, User
from doorstep.store.repositories import people as people_repo

PASSWORD = "correct horse battery"
ROLES = [Role.ADMIN, Role.MANAGER, Role.VERIFIER, Role.ANALYST, Role.AUDITOR]
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
"""Argon2 at its lowest cost: a hash in well under a millisecond instead of ~0.4 s."""


def add_user(
    session: Session,
    username: str,
    role: Role,
    *,
    regions: list[str] | None = None,
    badge: str | None = None,
    display_name: str | None = None,
    password: str = PASSWORD,
    hasher: PasswordHasher = CHEAP_HASHER,
) -> User:
    """A user added by the system, as `doorstep users add` would."""
    new = users.NewUser(username, display_name or username.title(), role, password, regions, badge)
    return users.add_user(session, SYSTEM, new, hasher=hasher)


def add_staff(session: Session, manager_regions: list[str] | None = None) -> dict[Role, User]:
    """One user per role, each named after it (the manager runs `manager_regions`)."""
    return {
        role: add_user(
            session, role.value, role, regions=manager_regions if role is Role.MANAGER else None
        )
        for role in ROLES
    }


def add_team(session: Session, name: str, city: str | None, members: list[User]) -> Team:
    return teams.create_team(session, SYSTEM, name, city, members)


def user_named(session: Session, username: str) -> User:
    user = people_repo.user_named(session, username)
    assert user is not None, username
    return user


def actor_in(session: Session, username: str) -> Actor:
    """The actor a signed-in `username` acts as."""
    return users.actor_for(session, user_named(session, username))


def actor(engine: Engine, username: str) -> Actor:
    with transaction(engine) as session:
        return actor_in(session, username)


TOKEN_EXPIRY = datetime(2100, 1, 1, tzinfo=UTC)
"""Tests' tokens outlive every test clock (some sit years from today)."""


def issue_token(
    session: Session,
    user: User,
    scopes: Iterable[Scope] = ALL_SCOPES,
    *,
    label: str = "tests",
    expires_at: datetime = TOKEN_EXPIRY,
    now: datetime | None = None,
) -> str:
    """A bearer token for `user`, issued by the system (every scope unless told)."""
    return tokens.issue(
        session,
        SYSTEM,
        user,
        label,
        scopes=frozenset(scopes),
        expires_at=expires_at,
        now=now or datetime.now(UTC),
    )


def bearer(
    engine: Engine, username: str, scopes: Iterable[Scope] = ALL_SCOPES, **issue: Any
) -> dict[str, str]:
    """Authorization headers with a fresh API token for `username`."""
    with transaction(engine) as session:
        token = issue_token(session, user_named(session, username), scopes, **issue)
    return {"Authorization": f"Bearer {token}"}
