"""Queries about staff: users, their API tokens, failed sign-ins, teams."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from doorstep.store.models import ApiToken, LoginFailure, Team, TeamMember, User


def user_named(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def username_taken(session: Session, username: str) -> bool:
    return session.scalar(select(User.id).where(User.username == username)) is not None


def users_by_name(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def team_ids_of(session: Session, user_id: int) -> frozenset[int]:
    return frozenset(
        session.scalars(select(TeamMember.team_id).where(TeamMember.user_id == user_id))
    )


def revoke_tokens(session: Session, user_id: int, at: datetime) -> None:
    """Every live token of the user stops working at `at`."""
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=at)
    )


def active_user_for_token(session: Session, token_hash: str) -> User | None:
    return session.execute(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == token_hash,
            ApiToken.revoked_at.is_(None),
            User.active.is_(True),
        )
    ).scalar_one_or_none()


def failures_since(
    session: Session, since: datetime, username: str, address: str
) -> tuple[int, int]:
    """Failed sign-ins since `since`: (for this account, from this address)."""
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
    return by_account or 0, by_address or 0


def forget_failures(session: Session, username: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))


def teams_by_name(session: Session) -> list[Team]:
    return list(session.scalars(select(Team).order_by(Team.name)))
