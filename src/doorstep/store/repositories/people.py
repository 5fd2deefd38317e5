"""Queries about staff: users, their web sessions and API tokens, teams."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from doorstep.store.models import ApiToken, Team, TeamMember, User, UserSession


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


def token_and_user(session: Session, token_hash: str) -> tuple[ApiToken, User] | None:
    """The token with this hash and its user, revoked or not."""
    row = session.execute(
        select(ApiToken, User)
        .join(User, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == token_hash)
    ).first()
    return (row[0], row[1]) if row is not None else None


def token_used(session: Session, token_id: int, now: datetime, every: timedelta) -> None:
    """Record that the token was used at `now`, at most once per `every` (a write per
    request would be a write lock per request on SQLite)."""
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - every),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


def tokens(session: Session, user_id: int | None = None) -> list[tuple[ApiToken, str]]:
    """Tokens with their user's name, newest first; of one user when `user_id` is given."""
    statement = select(ApiToken, User.username).join(User, ApiToken.user_id == User.id)
    if user_id is not None:
        statement = statement.where(ApiToken.user_id == user_id)
    rows = session.execute(statement.order_by(ApiToken.id.desc())).all()
    return [(token, username) for token, username in rows]


def web_session(session: Session, id_hash: str) -> UserSession | None:
    return session.get(UserSession, id_hash)


def session_seen(session: Session, id_hash: str, now: datetime, every: timedelta) -> None:
    """Move the session's last request to `now`, at most once per `every`."""
    session.execute(
        update(UserSession)
        .where(
            UserSession.id_hash == id_hash,
            UserSession.ended_at.is_(None),
            UserSession.last_seen_at <= now - every,
        )
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )


def end_sessions(
    session: Session, user_id: int, now: datetime, reason: str, *, id_hash: str | None = None
) -> int:
    """End the user's live sessions (or only the one with `id_hash`) at `now`."""
    statement = update(UserSession).where(
        UserSession.user_id == user_id, UserSession.ended_at.is_(None)
    )
    if id_hash is not None:
        statement = statement.where(UserSession.id_hash == id_hash)
    result = session.execute(
        statement.values(ended_at=now, end_reason=reason).execution_options(
            synchronize_session=False
        )
    )
    ended: int = result.rowcount  # type: ignore[attr-defined]
    return ended


def drop_old_sessions(session: Session, user_id: int, before: datetime) -> None:
    """Forget the user's sessions that were over before `before`."""
    session.execute(
        delete(UserSession).where(
            UserSession.user_id == user_id,
            or_(UserSession.ended_at < before, UserSession.last_seen_at < before),
        )
    )


def teams_by_name(session: Session) -> list[Team]:
    return list(session.scalars(select(Team).order_by(Team.name)))
